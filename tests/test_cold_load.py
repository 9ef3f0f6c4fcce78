"""The cold load path's shortcuts give what the long way gives: kallsyms looked up in one
pass, the kernel's BTF mapped instead of read, BTF identities hashed only when asked."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from pybpf._hash import blake2b
from pybpf.btf import kernel
from pybpf.btf.spec import Spec
from pybpf.btf.types import Int, Kind
from pybpf.object.kconfig import (config_value, kallsyms_addresses, kernel_config,
                                   kernel_config_text, kernel_version_code, parse_kallsyms)

KALLSYMS = (b"ffffffff81000000 T _text\n"
            b"ffffffff81000010 t startup_64\n"
            b"ffffffff81000020 T do_sys_open\n"
            b"ffffffff81000030 t do_sys_open.cold\n"
            b"ffffffff81000040 D jiffies\n"
            b"ffffffffc0000000 t mod_func\t[xfs]\n"
            b"ffffffffc0000010 t mod_func\t[ext4]\n"
            b"ffffffffc0000020 T my_do_sys_open\t[foo]\n")


def _by_lines(data: bytes, name: str) -> int | None:
    """The reference: the first line whose name field is ``name``."""
    for line in data.decode().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == name:
            return int(parts[0], 16)
    return None


def test_kallsyms_names_match_whole_name_fields_first_line_wins():
    got = parse_kallsyms(KALLSYMS, ["do_sys_open", "mod_func", "jiffies", "_text", "open",
                                    "sys_open", "xfs", "T", "", "a b"])
    assert got == {"do_sys_open": 0xffffffff81000020, "mod_func": 0xffffffffc0000000,
                   "jiffies": 0xffffffff81000040, "_text": 0xffffffff81000000}


_NAME = st.text(st.sampled_from("abc_."), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.sampled_from("TtDdbBr"), _NAME,
                          st.one_of(st.none(), _NAME)), max_size=12), _NAME)
def test_kallsyms_lookup_agrees_with_splitting_lines(rows, name):
    data = "".join(f"{a:016x} {t} {n}" + (f"\t[{m}]" if m else "") + "\n"
                   for a, t, n, m in rows).encode()
    assert parse_kallsyms(data, [name]).get(name) == _by_lines(data, name)


@given(st.binary(max_size=200), _NAME)
def test_kallsyms_lookup_never_raises_on_garbage(data, name):
    parse_kallsyms(data, [name])


@pytest.mark.kernel
def test_kallsyms_lookup_on_the_running_kernel():
    with open("/proc/kallsyms", "rb") as f:
        data = f.read()
    names = ["_text", "jiffies", "bpf_prog_put", "no_such_symbol_here"]
    got = kallsyms_addresses(names)
    for n in names:
        assert got.get(n) == _by_lines(data, n)
    assert got["_text"] != 0                     # root sees real addresses


def test_parsed_spec_identity_is_its_blake2b_and_lazy():
    spec = Spec()
    spec.add(Int("int", 4, 1, 32, 0))
    raw = spec.to_bytes()
    parsed = Spec.parse(raw)
    assert parsed._identity is None              # nothing hashed by parsing
    assert parsed.identity == blake2b(raw, digest_size=16).hexdigest()
    assert Spec().identity == ""


@pytest.mark.kernel
def test_mapped_vmlinux_decodes_as_the_bytes_do(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with open(kernel.VMLINUX, "rb") as f:
        raw = f.read()
    mapped = kernel.load_vmlinux()               # builds the index: the slow way once
    again = kernel.load_vmlinux()                # from the cached index
    ref = Spec.parse(raw)
    assert mapped.identity == again.identity == ref.identity
    for name, kind in (("task_struct", Kind.STRUCT), ("bpf_iter_task", Kind.FUNC),
                       ("runqueues", Kind.VAR), ("pid_t", Kind.TYPEDEF)):
        ids = again.find(name, kind)
        assert ids and ids == ref.find(name, kind)
        assert again[ids[0]] == ref[ids[0]]
    assert len(again) == len(ref)


def _version_by_regex(release: str) -> int:
    import re
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", release)
    if not m or not all(x.isascii() for x in m.groups() if x):
        return 0
    a, b, c = (int(x or 0) for x in m.groups())
    return (a << 16) + (b << 8) + min(c, 255)


@given(st.text(st.sampled_from("0123456789.-rcamd"), min_size=1, max_size=14))
def test_kernel_version_code_reads_releases_as_the_regex_did(release):
    assert kernel_version_code(release) == _version_by_regex(release)


def test_kernel_version_code_examples():
    assert kernel_version_code("6.18.44-fc-v657") == (6 << 16) + (18 << 8) + 44
    assert kernel_version_code("5.10.300") == (5 << 16) + (10 << 8) + 255
    assert kernel_version_code("6.1-rc2") == (6 << 16) + (1 << 8)
    assert kernel_version_code("x.1") == kernel_version_code("6") == 0


def test_config_values_are_found_by_name():
    text = "# CONFIG_A is not set\nCONFIG_HZ=250\nCONFIG_BPF=y\nCONFIG_S=\"a=b\"\r\nX=1"
    assert config_value(text, "CONFIG_HZ") == "250"
    assert config_value(text, "CONFIG_BPF") == "y"
    assert config_value(text, "CONFIG_S") == '"a=b"'
    assert config_value(text, "CONFIG_A") is None
    assert config_value(text, "CONFIG_H") is None
    assert config_value(text, "X") is None          # only CONFIG_ options, as before
    assert config_value("CONFIG_FIRST=m", "CONFIG_FIRST") == "m"


def test_config_lookup_agrees_with_the_parsed_config():
    text = kernel_config_text()
    parsed = kernel_config()
    assert text and parsed                           # this machine has /proc/config.gz
    for name in list(parsed)[::97] + ["CONFIG_NO_SUCH_OPTION"]:
        assert config_value(text, name) == parsed.get(name)


_KPROBE_RE = r"^([A-Za-z0-9_.$@]+?)(?:\+(0x[0-9a-fA-F]+|\d+))?$"
_UPROBE_RE = r"^([^:]+):(.+?)(?:\+(0x[0-9a-fA-F]+|\d+))?$"
_PROBE_TEXT = st.text(st.sampled_from("ab_.$@:+/0x19fF\n -٣é"), max_size=12)


@settings(max_examples=400, deadline=None)
@given(_PROBE_TEXT)
def test_probe_targets_split_as_the_patterns_did(extra):
    import re
    from pybpf.object.sections import _is_offset, _split_kprobe, _split_uprobe
    m = re.match(_KPROBE_RE, extra)
    assert _split_kprobe(extra) == (None if m is None else (m.group(1), m.group(2) or ""))
    m = re.match(_UPROBE_RE, extra)
    assert _split_uprobe(extra) == (None if m is None else
                                    (m.group(1), m.group(2), m.group(3) or ""))
    assert _is_offset(extra) == bool(re.fullmatch(r"0x[0-9a-fA-F]+|\d+", extra))


def test_probe_sections_parse_without_re():
    from pybpf.object.sections import parse_section
    t = parse_section("kprobe/do_unlinkat+0x10").target
    assert (t.name, t.offset, t.retprobe) == ("do_unlinkat", 16, False)
    t = parse_section("uretprobe//usr/lib/libc.so.6:malloc+4").target
    assert (t.path, t.name, t.offset, t.retprobe) == ("/usr/lib/libc.so.6", "malloc", 4, True)
    t = parse_section("uprobe//bin/sh:0x1234").target
    assert (t.path, t.name, t.offset) == ("/bin/sh", "", 0x1234)
    assert parse_section("kprobe/bad name").target is None
