"""BPF cookies without bpf links (kernels before 5.15): a per-attachment copy of the program
that sees its cookie as a constant.  Exercised here through the ioctl attach (via_ioctl),
the path such kernels take."""

from __future__ import annotations

import os
import struct

import pytest

from pybpf import Map, errors, info
from pybpf.asm import (FP, R0, R1, R2, R7, Instructions, add64, call,
                       exit_, jeq, ld_imm64, ld_map_fd, mov64, reg, store, store_imm)
from pybpf.links import tracepoint
from pybpf.links.cookies import bake_cookie
from pybpf.programs import Program, ProgramSpec
from pybpf._sys.uapi import MapType, ProgType


def _ins(code, regs=0, off=0, imm=0):
    return struct.pack("<BBhi", code, regs, off, imm)


def test_each_cookie_call_becomes_the_constant():
    cookie_call = _ins(0x85, 0, 0, 174)
    prog = cookie_call + _ins(0xbf, 0x06) + cookie_call + _ins(0x95)
    baked = bake_cookie(prog, 42)
    assert baked == _ins(0xb7, 0, 0, 42) + _ins(0xbf, 0x06) + _ins(0xb7, 0, 0, 42) + _ins(0x95)


def test_lookalikes_stay():
    # a bpf-to-bpf call (src 1) and a kfunc call (src 2) with imm 174, a ld_imm64 whose
    # halves hold 174, another helper: none is the cookie helper
    prog = (_ins(0x85, 0x10, 0, 174) + _ins(0x85, 0x20, 0, 174) +
            ld_imm64(R1, 174 | 174 << 32).encode() + _ins(0x85, 0, 0, 5) + _ins(0x95))
    assert bake_cookie(prog, 7) is None


def _cookie_recorder(m: Map) -> ProgramSpec:
    """A tracepoint program storing bpf_get_attach_cookie() into m[0]."""
    code = Instructions([
        call("get_attach_cookie"),                  # r1 is the context
        mov64(R7, reg(R0)),
        store_imm(FP, -4, 0, size=4),
        ld_map_fd(R1, m.fileno()),
        mov64(R2, reg(FP)), add64(R2, -4),
        call("map_lookup_elem"),
        jeq(R0, 0, "out"),
        store(R0, 0, R7),
        mov64(R0, 0, label="out"),
        exit_(),
    ]).assemble()
    return ProgramSpec("cookie_rec", ProgType.TRACEPOINT, code, license="GPL")


pytestmark = pytest.mark.kernel


@pytest.mark.every_kernel
@pytest.mark.parametrize("via_ioctl, cookie", [(True, 42), (False, 43), (True, (1 << 31) - 1)])
def test_the_program_sees_its_cookie_either_way(via_ioctl, cookie):
    """Before 5.15 both ways take the copy (no bpf link for perf events there), and the
    program itself loads with cookie 0 (its kernel has no bpf_get_attach_cookie())."""
    from pybpf.kernelid import release_tuple
    links = release_tuple() >= (5, 15)      # perf-event links came with cookies
    with Map.create(MapType.ARRAY, 4, 8, 1, name="cookie_rec") as m, \
            Program.load(_cookie_recorder(m)) as prog:
        before = {p.id for p in info.list_objects("prog")}
        with tracepoint.attach(prog, "syscalls", "sys_enter_getppid", cookie=cookie,
                               via_ioctl=via_ioctl) as link:
            os.getppid()
            assert struct.unpack("<Q", m.lookup_raw(0))[0] == cookie
            copies = {p.id for p in info.list_objects("prog")} - before
            assert len(copies) == (1 if via_ioctl or not links else 0)
            assert (link.fd is None) == (via_ioctl or not links)
        # the copy goes with its link
        assert not ({p.id for p in info.list_objects("prog")} - before)


def test_a_program_without_cookie_calls_is_attached_itself():
    code = Instructions([mov64(R0, 0), exit_()]).assemble()
    with Program.load(ProgramSpec("no_cookie", ProgType.TRACEPOINT, code)) as prog:
        before = {p.id for p in info.list_objects("prog")}
        with tracepoint.attach(prog, "syscalls", "sys_enter_getppid", cookie=5, via_ioctl=True):
            assert not ({p.id for p in info.list_objects("prog")} - before)


def test_cookies_a_copy_cannot_hold_are_refused_clearly():
    with Map.create(MapType.ARRAY, 4, 8, 1, name="cookie_rec") as m, \
            Program.load(_cookie_recorder(m)) as prog:
        with pytest.raises(errors.NotSupportedError, match="below 2\\^31"):
            tracepoint.attach(prog, "syscalls", "sys_enter_getppid", cookie=1 << 40,
                              via_ioctl=True)
        # a program opened by id has no instructions here to copy
        with Program.from_id(prog.id) as again:
            with pytest.raises(errors.NotSupportedError, match="opened by fd, id or pin"):
                tracepoint.attach(again, "syscalls", "sys_enter_getppid", cookie=1,
                                  via_ioctl=True)
