"""pybpf.ctype(): ctypes types from C headers, sources and objects, laid out as clang does."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

import pybpf
from pybpf import errors

HDR = Path(__file__).parent / "data" / "ctype_event.h"

# offsets clang gives on x86-64 (checked against offsetof in the BPF program below)
LAYOUT = {"pid": 0, "exit_event": 4, "ppid": 8, "duration_ns": 16, "code": 16, "comm": 24,
          "inner": 40}


def _check_event(T):
    assert ctypes.sizeof(T) == 64
    for name, off in LAYOUT.items():
        assert getattr(T, name).offset == off, name
    e = T()
    e.pid, e.exit_event, e.duration_ns = -5, True, 1 << 40
    e.comm = b"bash"
    e.kind, e.prio, e.neg, e.tail = 9, 5, -3, -1
    e.inner.b = 7
    raw = bytes(e)
    assert raw[:4] == (-5).to_bytes(4, "little", signed=True)
    assert raw[4] == 1 and raw[16:24] == (1 << 40).to_bytes(8, "little")
    assert raw[24:28] == b"bash" and raw[48:56] == (7).to_bytes(8, "little")
    # bitfields: kind (4 bits) then prio (3) then neg (5 bits) from bit 0 of byte 56
    bits = int.from_bytes(raw[56:58], "little")
    assert bits & 0xF == 9 and (bits >> 4) & 7 == 5 and (bits >> 7) & 0x1F == 0b11101
    f = T.from_buffer_copy(raw)
    assert (f.kind, f.prio, f.neg, f.tail, f.code) == (9, 5, -3, -1, 0)
    assert f.comm == b"bash" and f.exit_event is True and f.inner.b == 7


def test_ctype_from_header():
    _check_event(pybpf.ctype("struct pt_event", header=HDR))
    T2 = pybpf.ctype("pt_event_t", header=str(HDR))           # a typedef works too
    assert ctypes.sizeof(T2) == 64
    a, b = pybpf.ctypes_of("struct pt_inner", "struct pt_event", header=HDR)
    assert ctypes.sizeof(a) == 16 and ctypes.sizeof(b) == 64


def test_ctype_from_object_btf():
    src = f'#include "vmlinux.h"\n#include "{HDR}"\n#include <bpf/bpf_helpers.h>\nstruct pt_event ev;\n' \
          'SEC("tracepoint/syscalls/sys_enter_getppid") int f(void *c) { return 0; }\n' \
          'char LICENSE[] SEC("license") = "GPL";\n'
    data = pybpf.compile(src, includes=[HDR.parent])
    _check_event(pybpf.ctype("struct pt_event", obj=data))
    spec = pybpf.ObjectSpec.from_bytes(data)
    _check_event(pybpf.ctype("struct pt_event", obj=spec))
    with pytest.raises(errors.BTFError, match="header= or source="):
        pybpf.ctype("struct pt_inner_missing", obj=spec)


def test_ctype_bad_arguments():
    with pytest.raises(ValueError, match="exactly one"):
        pybpf.ctype("struct x")
    with pytest.raises(ValueError, match="not a C type name"):
        pybpf.ctype("struct x; int y", header=HDR)
    with pytest.raises(errors.CompileError):
        pybpf.ctype("struct no_such_type", header=HDR)
    with pytest.raises(errors.NotFoundError):
        pybpf.ctype("struct x", header=HDR.parent / "nope.h")


WIDE = Path(__file__).parent / "data" / "ctype_wide.h"


def _wide_record(extra: int) -> bytes:
    raw = bytearray(64 + extra)
    raw[0:4] = (7).to_bytes(4, "little")
    raw[16:32] = (-2).to_bytes(16, "little", signed=True)
    raw[32:48] = ((1 << 127) + 3).to_bytes(16, "little")
    raw[48:50] = (20).to_bytes(2, "little")
    raw[50:] = bytes(range(14 + extra))
    return bytes(raw)


def test_keywords_int128_and_flexible_arrays():
    from pybpf.ctypes_record import build, describe
    from pybpf.records import decoder
    T = pybpf.ctype("struct pt_wide", header=WIDE)
    for t in (T, build(describe([T]))[0]):          # the cold type and the warm record's
        assert ctypes.sizeof(t) == 64 and t.data.offset == 50
        e = decoder(t)(memoryview(_wide_record(6)))
        assert (e.from_, getattr(e, "from"), e.s128, e.u128, e.n) == (7, 7, -2, (1 << 127) + 3,
                                                                       20)
        assert list(e.data) == list(range(20))      # the record's tail, past sizeof
        e.data[1] = 99                              # elements write into the record
        assert e.data[1] == 99 and bytes(e)[51] == 99
        e.from_, e.s128, e.u128 = 8, -(1 << 127), (1 << 128) - 1
        raw = bytes(e)
        assert raw[0] == 8 and raw[16:32] == (1 << 127).to_bytes(16, "little")
        assert raw[32:48] == b"\xff" * 16
        assert list(t().data) == []                 # no record: no elements
        assert list(decoder(t)(memoryview(_wide_record(0)[:40])).data) == []
        with pytest.raises(AttributeError, match="flexible array"):
            e.data = b"x"


def test_flexible_array_record_from_the_kernel():
    """A ring buffer record longer than the struct: its flexible array holds the rest."""
    import os
    from pybpf.ringbuf import RingBuffer
    src = f'#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n#include "{WIDE}"\n' \
          'struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } rb ' \
          'SEC(".maps");\nint my_pid;\n' \
          'SEC("tp/syscalls/sys_enter_getppid") int f(void *c) {\n' \
          '  if ((bpf_get_current_pid_tgid() >> 32) != my_pid) return 0;\n' \
          '  struct pt_wide *w = bpf_ringbuf_reserve(&rb, sizeof(*w) + 6, 0);\n' \
          '  if (!w) return 0;\n  w->from = 7; w->s128 = -2;\n' \
          '  w->u128 = ((unsigned __int128)1 << 127) + 3;\n' \
          '  w->n = 20;\n  for (int i = 0; i < 20; i++) w->data[i] = i;\n' \
          '  bpf_ringbuf_submit(w, 0);\n  return 0;\n}\n' \
          'char LICENSE[] SEC("license") = "GPL";\n'
    T = pybpf.ctype("struct pt_wide", header=WIDE)
    with pybpf.load(pybpf.compile(src, includes=[WIDE.parent])) as obj, \
            RingBuffer(obj.maps["rb"]) as rb:
        obj.bss.my_pid = os.getpid()
        obj.attach()
        os.getppid()
        (e,) = rb.read(1000, decode=T)
    assert (e.from_, e.s128, e.u128, e.n) == (7, -2, (1 << 127) + 3, 20)
    assert list(e.data) == list(range(20))


def test_a_header_that_redefines_vmlinux_types_stands_alone(tmp_path):
    """cilium/ebpf's examples share a small vmlinux.h of their own (common.h): after the
    real one its enums and structs are redefinitions, so it is compiled alone; the next
    call answers from the record, without the compiler."""
    import os
    import subprocess
    import sys
    hdr = tmp_path / "pt_common.h"
    hdr.write_text("typedef unsigned int u32;\ntypedef unsigned char u8;\n"
                   "enum bpf_map_type { BPF_MAP_TYPE_UNSPEC = 0, BPF_MAP_TYPE_HASH = 1 };\n"
                   "struct xdp_md { u32 data; u32 data_end; };\n"
                   "struct pt_alone { u32 pid; u8 comm[16]; struct xdp_md md; };\n")
    T = pybpf.ctype("struct pt_alone", header=hdr)
    assert ctypes.sizeof(T) == 28 and T.md.offset == 20
    code = ("import sys, ctypes, pybpf\n"
            f"T = pybpf.ctype('struct pt_alone', header={str(hdr)!r})\n"
            "print(ctypes.sizeof(T), 'pybpf.toolchain' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.stdout.split() == ["28", "False"], r.stderr
    bad = tmp_path / "pt_bad.h"
    bad.write_text("struct xdp_md { int x; };\nstruct pt_bad { nosuchtype y; };\n")
    with pytest.raises(errors.CompileError, match="redefinition of 'xdp_md'"):
        pybpf.ctype("struct pt_bad", header=bad)       # the first error, with vmlinux.h


def test_records_print_their_members():
    """print(e) shows the members in C's order (an anonymous union's in place, bitfields
    by name, nested records and arrays spelled out), cold and from a source record."""
    from pybpf.ctypes_record import build, describe
    T = pybpf.ctype("struct pt_event", header=HDR)
    for t in (T, build(describe([T]))[0]):
        e = t(pid=-5, exit_event=True, duration_ns=7, comm=b"bash", kind=9, neg=-3)
        assert repr(e) == ("pt_event(pid=-5, exit_event=True, ppid=0, duration_ns=7, code=7, "
                           "comm=b'bash', inner=pt_inner(a=0, b=0), kind=9, prio=0, neg=-3, "
                           "tail=0)")
    W = pybpf.ctype("struct pt_wide", header=WIDE)
    assert repr(W(s128=-1)) == "pt_wide(from=0, s128=-1, u128=0, n=0, data=[])"


def test_enums_carry_their_enumerators():
    from pybpf.ctypes_record import build, describe
    C = pybpf.ctype("enum pt_color", header=WIDE)
    for t in (C, build(describe([C]))[0], pybpf.ctype("pt_color_t", header=WIDE)):
        assert issubclass(t, ctypes.c_int) and ctypes.sizeof(t) == 4
        assert (t.PT_RED, t.PT_GREEN, t.PT_BLUE) == (1, 2, -1)
        assert t._enumerators_ == (("PT_RED", 1), ("PT_GREEN", 2), ("PT_BLUE", -1))
        assert t.from_buffer_copy((-1).to_bytes(4, "little", signed=True)).value == t.PT_BLUE
    src = f'#include "vmlinux.h"\n#include "{WIDE}"\nenum pt_color pt_c = PT_GREEN;\n' \
          'char LICENSE[] __attribute__((section("license"))) = "GPL";\n'
    assert pybpf.ctype("enum pt_color", obj=pybpf.compile(src, includes=[WIDE.parent])
                       ).PT_BLUE == -1
