"""Kernel feature probes, checked against ``bpftool feature probe`` where it has an answer."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from pybpf import errors, features, info
from pybpf._sys.uapi import MapType, ProgType
from pybpf.features import Features, type_name

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def bpftool() -> dict:
    """``bpftool -j feature probe kernel``, parsed (skips when bpftool is absent)."""
    exe = shutil.which("bpftool")
    if exe is None:
        pytest.skip("bpftool not installed")
    out = subprocess.run([exe, "-j", "feature", "probe", "kernel"], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    return json.loads(out)


@pytest.fixture(scope="module")
def feats() -> Features:
    return Features()


def test_prog_types_agree_with_bpftool(feats, bpftool):
    theirs = bpftool["program_types"]
    compared = 0
    for t, ours in feats.prog_types().items():
        key = f"have_{type_name(t)}_prog_type"
        if key in theirs:                     # bpftool may predate newer types
            assert ours == theirs[key], type_name(t)
            compared += 1
    assert compared >= 25
    for t in (ProgType.SOCKET_FILTER, ProgType.XDP, ProgType.KPROBE, ProgType.TRACEPOINT):
        assert feats.prog_type(t)


def test_map_types_agree_with_bpftool(feats, bpftool):
    theirs = bpftool["map_types"]
    compared = 0
    for t, ours in feats.map_types().items():
        key = f"have_{type_name(t)}_map_type"
        if key in theirs:
            assert ours == theirs[key], type_name(t)
            compared += 1
    assert compared >= 25
    for t in (MapType.HASH, MapType.ARRAY, MapType.RINGBUF):
        assert feats.map_type(t)


def test_kprobes_follow_the_kernel_config(feats, bpftool):
    cfg = bpftool.get("system_config", {})
    if "CONFIG_KPROBE_EVENTS" not in cfg:
        pytest.skip("bpftool could not read the kernel config")
    assert feats.has_kprobes() == (cfg["CONFIG_KPROBE_EVENTS"] == "y")
    hooks = feats.hooks()
    assert hooks["kprobe"] == feats.has_kprobes()
    if not feats.has_kprobes():
        assert not hooks["kprobe_multi"]


def test_trampolines_and_lsm(feats, bpftool):
    # bpftool's tracing probe fails exactly when the kernel refuses TRACING loads.
    if not bpftool["program_types"].get("have_tracing_prog_type", True):
        assert not feats.has_trampolines()
        assert not feats.has_lsm()
        assert "fentry" in feats.notes
    if not feats.has_trampolines():
        assert not feats.prog_type(ProgType.TRACING)


def test_system_settings(feats, bpftool):
    sysconf = bpftool["system_config"]
    assert feats.unprivileged_bpf_disabled() == sysconf["unprivileged_bpf_disabled"]
    assert feats.jit_enabled() == bool(sysconf["bpf_jit_enable"])
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("CapEff:"))
    assert features.effective_capabilities() == int(line.split()[1], 16)


def test_helpers(feats):
    top = feats.max_helper_id()
    assert top >= 200                                  # kernels >= 6.6 know ~210 helpers
    sf = feats.helpers(ProgType.SOCKET_FILTER)
    assert set(sf) == set(range(1, top + 1))
    assert sf[1] and feats.helper_names[1] == "bpf_map_lookup_elem"
    assert not feats.helper(ProgType.KPROBE, 9)        # skb_store_bytes: not for kprobes
    assert feats.helper(ProgType.SCHED_CLS, 9)
    assert feats.helper(ProgType.KPROBE, 4)            # probe_read
    assert not feats.helper(ProgType.SOCKET_FILTER, 4)
    assert feats.helpers(ProgType.STRUCT_OPS) == {}    # needs a BTF target to probe


def test_link_hooks(feats):
    hooks = feats.hooks()
    assert hooks["link_create"] and hooks["btf"] == feats.has_btf()
    assert hooks["tcx"]                                # 6.6+; this suite targets 6.18


def test_memoized_on_the_instance():
    f = Features()
    f.prog_types()
    n = len(f._memo)
    before = set(info.ids("prog"))
    f.prog_types()
    assert len(f._memo) == n and set(info.ids("prog")) <= before


def test_probes_leave_nothing_behind():
    import time
    Features().hooks()
    Features().map_types()
    # a probe's inner maps and prog_array entries are released after an RCU grace period
    # or by a queued work item, so a just-closed probe can stay listed for a moment; one
    # the probes leaked stays for good
    deadline = time.monotonic() + 5
    while True:
        names = [i.name for k in ("prog", "map") for i in info.list_objects(k)]
        if "pybpf_probe" not in names or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "pybpf_probe" not in names


def test_main_prints_a_table(capsys):
    assert features.main([]) == 0
    out = capsys.readouterr().out
    assert "program types:" in out and "map types:" in out and "hooks:" in out
    lines = {ln.split()[0]: ln.split()[1] for ln in out.splitlines()
             if ln.startswith("  ") and len(ln.split()) >= 2}
    assert lines["socket_filter"] == "yes" and lines["ringbuf"] == "yes"
    assert lines["kprobe"] in ("yes", "no")


def test_main_json_agrees_with_bpftool(capsys, bpftool):
    assert features.main(["--json", "--helpers"]) == 0
    data = json.loads(capsys.readouterr().out)
    for name, ours in data["program_types"].items():
        theirs = bpftool["program_types"].get(f"have_{name}_prog_type")
        if theirs is not None:
            assert ours == theirs, name
    for name, ours in data["map_types"].items():
        theirs = bpftool["map_types"].get(f"have_{name}_map_type")
        if theirs is not None:
            assert ours == theirs, name
    assert "bpf_map_lookup_elem" in data["helpers"]["socket_filter"]
    assert "bpf_probe_read" not in data["helpers"]["socket_filter"]


def test_not_supported_names_the_program_type():
    from pybpf.programs import Program, ProgramSpec
    f = Features()
    absent = [t for t, ok in f.prog_types().items()
              if not ok and t not in (ProgType.TRACING, ProgType.EXT, ProgType.LSM)]
    if not absent:
        pytest.skip("every plain program type loads here")
    t = absent[0]
    with pytest.raises(errors.NotSupportedError) as ei:
        Program.load(ProgramSpec("pt_absent", t, b"\xb7" + b"\0" * 7 + b"\x95" + b"\0" * 7))
    assert type_name(t) in str(ei.value)
