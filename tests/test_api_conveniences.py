"""load() of a .bpf.c, the C-source hint for non-objects, pybpf.set_log, pybpf.perf."""

from __future__ import annotations

import logging
import os

import pytest

import pybpf
from pybpf import errors, perf

SRC = """
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
__u64 hits;
SEC("tracepoint/syscalls/sys_enter_getppid") int pt_conv(void *c) { hits++; return 0; }
char LICENSE[] SEC("license") = "GPL";
"""


def test_c_source_where_an_object_is_expected(tmp_path):
    src = tmp_path / "x.bpf.c"
    src.write_text(SRC)
    with pytest.raises(errors.ELFError, match=r"C source: compile it first with pybpf.compile"):
        pybpf.ObjectSpec.from_bytes(src.read_bytes())
    with pytest.raises(errors.ELFError, match="C source"):
        pybpf.ObjectSpec.from_bytes(b"#include <x.h>\n")        # shorter than an ELF header
    with pytest.raises(errors.ELFError, match=r"bad magic"):
        pybpf.ObjectSpec.from_bytes(bytes(range(256)))


@pytest.mark.kernel
def test_load_compiles_a_bpf_c_path(tmp_path):
    src = tmp_path / "conv.bpf.c"
    src.write_text(SRC)
    with pybpf.load(str(src)) as obj:
        assert obj.name == "conv" and list(obj.programs) == ["pt_conv"]
        obj.attach()
        os.getppid()
        assert obj.bss.hits >= 1


@pytest.mark.kernel
def test_load_takes_includes_and_cflags_for_a_c_source(tmp_path):
    """cilium/ebpf's examples include "common.h" from ../headers and are built with -I."""
    (tmp_path / "headers").mkdir()
    (tmp_path / "headers" / "pt_common.h").write_text("#define PT_STEP 3\n")
    src = tmp_path / "prog" / "inc.c"
    src.parent.mkdir()
    src.write_text(SRC.replace("hits++", "hits += PT_STEP * PT_MUL")
                   .replace("#include <bpf", '#include "pt_common.h"\n#include <bpf'))
    with pytest.raises(errors.CompileError, match="pt_common.h' file not found"):
        pybpf.load(str(src))
    for mul in (1, 2, 1):       # each cflags its own object (and record); the last is warm
        with pybpf.load(str(src), includes=[tmp_path / "headers"],
                        cflags=[f"-DPT_MUL={mul}"]) as obj:
            obj.attach()
            os.getppid()
            # (getppid() of other processes would add more steps of the same size)
            assert obj.bss.hits >= 3 * mul and obj.bss.hits % (3 * mul) == 0
    with pytest.raises(ValueError, match="for a C source"):
        pybpf.load(b"\x7fELF", includes=["/tmp"])
    # a missing source is named (compile() alone would take the path for C text)
    with pytest.raises(errors.NotFoundError, match=f"ENOENT\\): {tmp_path}/nope.bpf.c$"):
        pybpf.load(str(tmp_path / "nope.bpf.c"))


@pytest.mark.kernel
def test_unknown_program_and_map_names_are_named_with_the_known_ones(tmp_path):
    src = tmp_path / "names.bpf.c"
    src.write_text(SRC)
    with pytest.raises(KeyError, match=r"programs: no program 'pt_cnov' in object 'names'; "
                                       r"programs: \['pt_conv'\]"):
        pybpf.load(str(src), programs=["pt_cnov"])
    with pybpf.load(str(src), programs=["pt_conv"]) as obj:
        with pytest.raises(KeyError, match=r"no map 'hist'; maps: \['\.bss'\]"):
            obj.typed_map("hist")


@pytest.mark.kernel
def test_set_log_reports_loads_and_attaches(tmp_path):
    src = tmp_path / "logged.bpf.c"
    src.write_text(SRC)
    got = []
    pybpf.set_log(lambda level, msg: got.append((level, msg)))
    try:
        with pybpf.load(str(src)) as obj:
            obj.attach()
    finally:
        pybpf.set_log(None)
    text = "\n".join(m for _, m in got)
    assert "program 'pt_conv': loaded as TRACEPOINT" in text
    assert "map '.bss'" in text
    assert "program 'pt_conv': attached (tracepoint syscalls:sys_enter_getppid)" in text
    assert {lvl for lvl, _ in got} == {"debug"}
    n = len(got)
    with pybpf.load(str(src)) as obj:           # silent again
        pass
    assert len(got) == n


def test_set_log_into_logging(caplog):
    from pybpf import log
    pybpf.set_log(logging.getLogger("pybpf"), level="info")
    try:
        with caplog.at_level(logging.DEBUG, logger="pybpf"):
            log.debug("hidden %d", 1)
            log.info("shown %d", 2)
    finally:
        pybpf.set_log(None)
    assert [r.getMessage() for r in caplog.records] == ["shown 2"]
    with pytest.raises(ValueError):
        pybpf.set_log(True, level="loud")


def test_perf_constants():
    assert (perf.PERF_TYPE_HARDWARE, perf.PERF_TYPE_SOFTWARE) == (0, 1)
    assert perf.PERF_COUNT_HW_CPU_CYCLES == 0 and perf.PERF_COUNT_SW_CPU_CLOCK == 0
    assert perf.PERF_COUNT_SW_BPF_OUTPUT == 10 and "PERF_COUNT_SW_DUMMY" in perf.__all__


SIZED = """
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); } pt_unsized SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } pt_rb SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid") int pt_fix(void *c)
{ __u32 k = 1; __u64 v = 2; bpf_map_update_elem(&pt_unsized, &k, &v, 0);
  bpf_ringbuf_output(&pt_rb, &v, sizeof(v), 0); return 0; }
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.kernel
def test_unsized_maps_are_fixed_up_before_load():
    spec = pybpf.ObjectSpec.from_bytes(pybpf.compile(SIZED), name="pt_fixup")
    assert spec.maps["pt_unsized"].max_entries == 0
    spec.maps["pt_unsized"].max_entries = 64             # libbpf: bpf_map__set_max_entries
    spec.maps["pt_rb"].max_entries = 1 << 16
    with pybpf.load(spec) as obj:
        assert obj.maps["pt_unsized"].max_entries == 64
        assert obj.maps["pt_rb"].max_entries == 1 << 16
