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
