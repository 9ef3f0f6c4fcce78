"""The kernel-matrix guests' scratch disk (tests/vm/disk.py): the image made here, how the
guest mounts it, and which guests get one."""

from __future__ import annotations

import os
import stat
import struct
import subprocess

import pytest

from tests.vm import disk
from tests.vm.plugin import vng_argv, wants_disk


def _ext4_super(path: str) -> dict[str, int]:
    """The fields of an ext4 superblock (at 1024 bytes) these tests check."""
    with open(path, "rb") as f:
        f.seek(1024)
        sb = f.read(1024)
    return {"magic": struct.unpack_from("<H", sb, 0x38)[0],
            "log_block_size": struct.unpack_from("<I", sb, 0x18)[0],
            "blocks": struct.unpack_from("<I", sb, 0x04)[0],
            "compat": struct.unpack_from("<I", sb, 0x5C)[0]}


def test_image_is_a_private_sparse_ext4_file(tmp_path):
    path = disk.make_image(str(tmp_path))
    st = os.stat(path)
    assert os.path.dirname(path) == str(tmp_path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_size == disk.SIZE
    # sparse: what mke2fs wrote (its tables) and not the whole size
    assert st.st_blocks * 512 < disk.SIZE // 8, st.st_blocks
    sb = _ext4_super(path)
    assert sb["magic"] == 0xEF53
    assert 1024 << sb["log_block_size"] == 4096
    assert sb["blocks"] == disk.SIZE // 4096
    assert not sb["compat"] & 0x4                   # no journal (COMPAT_HAS_JOURNAL)
    # no "," or "=": virtme-ng refuses those in a disk's path (the path is its serial)
    assert "," not in path and "=" not in path
    assert disk.vng_args(path) == ["--disk", path]


def test_each_image_is_new_and_a_failed_mkfs_leaves_none(tmp_path, monkeypatch):
    a, b = disk.make_image(str(tmp_path)), disk.make_image(str(tmp_path))
    assert a != b
    before = set(os.listdir(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(disk.NoDisk, match="mke2fs"):
        disk.make_image(str(tmp_path))
    assert set(os.listdir(tmp_path)) == before


def test_the_guests_mount_text_exports_the_mount_or_says_why_not(tmp_path):
    """The guest's shell text, valid sh, with mount stubbed: a failed mount is one line on
    stderr and nothing exported; a mount that works exports where."""
    text = disk.guest_mount().replace(disk.DEVICE, str(tmp_path / "vdz")) \
        .replace("-lt 100", "-lt 2").replace(disk.MOUNT, str(tmp_path / "m"))
    r = subprocess.run(["sh", "-c", "modprobe() { :; }; mount() { return 32; }; "
                        + text + f"echo ${{{disk.ENV}:-unset}}"],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout == "unset\n"
    assert r.stderr.count("\n") == 1 and "did not mount" in r.stderr
    r = subprocess.run(["sh", "-c", "modprobe() { :; }; mount() { return 0; }; "
                        + text + f"echo ${{{disk.ENV}}}"],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout == f"{tmp_path}/m\n" and r.stderr == ""


def test_a_guest_without_the_disk_says_so(monkeypatch):
    monkeypatch.delenv(disk.ENV, raising=False)
    with pytest.raises(disk.NoDisk, match=disk.ENV):
        disk.guest_disk_dir()


def test_only_guests_running_a_disk_test_get_one():
    class Item:
        def __init__(self, *fixtures):
            self.fixturenames = list(fixtures)
    assert wants_disk([Item("tmp_path"), Item("disk_tmp", "tmp_path")])
    assert not wants_disk([Item("tmp_path"), Item()])
    assert not wants_disk([])
    # and the options go after virtme-ng's own (its --exec last is not required)
    argv = vng_argv("vng", "k", "/s", "true") + disk.vng_args("/s/disk-x.img")
    assert argv[-2:] == ["--disk", "/s/disk-x.img"]


def test_disk_tmp_is_tmp_path_outside_a_guest(disk_tmp, tmp_path):
    if os.environ.get("PYBPF_IN_VM") == "1":
        assert str(disk_tmp).startswith(os.environ[disk.ENV] + "/")
    else:
        assert disk_tmp == tmp_path


def test_old_kernels_tests_run_in_the_old_guests_only():
    """The kernel matrix's collection (nothing boots with --collect-only): a test marked
    old_kernels runs in the 6.1 and 5.10 guests, not the 6.12 one; every_kernel in all."""
    import sys
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--collect-only", "--kernel-matrix", "tests/test_tool_block.py",
                        "tests/test_tool_umulti.py"],
                       capture_output=True, text=True, timeout=120,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       env={k: v for k, v in os.environ.items()
                            if k not in ("PYBPF_VM_KERNEL", "PYBPF_VM_OLD_KERNELS")})
    ids = r.stdout.split()
    vm = [i for i in ids if "[vm-" in i]

    def guests(name):
        """The kernel series (6.1, ...) of the guests running test ``name``."""
        labels = [i.split("[vm-")[1].rstrip("]") for i in vm if f"::{name}[vm-" in i]
        return sorted(".".join(x.split("-")[0].split(".")[:2]) for x in labels)
    assert guests("test_funccount_counts_each_function[per-probe]") == ["5.10", "6.1"], vm
    # biosnoop's per-read test: the pre-6.5 attribution (hblock)
    assert guests("test_biosnoop_shows_each_read") == ["5.10", "6.1"], vm
    assert guests("test_biosnoop_pattern_programs_load") == ["5.10", "6.1", "6.12"], vm
    assert guests("test_biotop_row_for_dd") == [], vm
