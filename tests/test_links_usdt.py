"""USDT: note parsing and argument specs (pure), and probes firing in a gcc-built target
(needs <sys/sdt.h>: systemtap-sdt-dev)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from pybpf import errors
from pybpf._sys.uapi import ProgType
from pybpf.links import symbols, usdt
from pybpf.programs import Program, ProgramSpec
from tests.data.linkprogs import no_leaked_fds  # noqa: F401  (autouse)
from tests.data.linkprogs import (RET0, ArrayMap, build_target, call, counter_prog,
                                  have_sdt_header, ins, ld_map_fd, mov_reg, MAP_LOOKUP_ELEM)

N = 25
needs_sdt = pytest.mark.skipif(not have_sdt_header(),
                               reason="<sys/sdt.h> missing (apt-get install systemtap-sdt-dev)")


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> str:
    if not have_sdt_header():
        pytest.skip("<sys/sdt.h> missing (apt-get install systemtap-sdt-dev)")
    return build_target(str(tmp_path_factory.mktemp("usdt")))


# ---- pure --------------------------------------------------------------------------

def test_parse_x86_64_specs():
    a = usdt.parse_args("-4@%eax 8@-8(%rbp) 4@$5 1@%r8b -2@0x10(%rsp) 8@(%rdi) 8@$-3",
                        arch="x86_64")
    assert [(x.size, x.signed, x.kind, x.reg, x.offset) for x in a] == [
        (4, True, "reg", "ax", 0), (8, False, "reg_deref", "bp", -8),
        (4, False, "const", None, 5), (1, False, "reg", "r8", 0),
        (2, True, "reg_deref", "sp", 16), (8, False, "reg_deref", "di", 0),
        (8, False, "const", None, -3)]
    assert a[0].reg_offset == usdt.X86_64_PT_REGS["ax"] == 80
    assert a[1].reg_offset == 32


def test_parse_aarch64_specs():
    a = usdt.parse_args("-4@[sp, 12] 8@x0 -8@[x29, -16] 4@[x1] 4@5", arch="aarch64")
    assert [(x.size, x.signed, x.kind, x.reg, x.offset) for x in a] == [
        (4, True, "reg_deref", "sp", 12), (8, False, "reg", "x0", 0),
        (8, True, "reg_deref", "x29", -16), (4, False, "reg_deref", "x1", 0),
        (4, False, "const", None, 5)]


def test_parse_rejects_garbage():
    for bad in ("4%eax", "3@%eax", "8@%xmm0", "8@(%rax,%rbx,8)"):
        with pytest.raises(errors.ELFError):
            usdt.parse_args(bad, arch="x86_64")


@needs_sdt
def test_notes_of_target(target):
    found = {(p.provider, p.name): p for p in usdt.probes(target)}
    tick, guarded = found[("pybpf_test", "tick")], found[("pybpf_test", "guarded")]
    assert tick.semaphore == 0 and guarded.semaphore != 0
    assert guarded.semaphore_offset > 0
    assert len(tick.args) == 2 and len(guarded.args) == 1
    # the site is inside main(), in the executable segment
    main = symbols.elf_symbols(target)["main"]
    assert main.offset <= tick.offset < main.offset + main.size
    with pytest.raises(errors.NotFoundError, match="pybpf_test:nope"):
        usdt.find(target, "pybpf_test", "nope")


def _distro_binaries() -> list[str]:
    out = []
    for lib in ("c", "stdc++"):
        try:
            out.append(symbols.find_library(lib))
        except errors.NotFoundError:
            pass
    for name in ("python3.11", "python3"):
        path = shutil.which(name, path="/usr/bin")
        if path:
            out.append(os.path.realpath(path))
            break
    return out


def test_distribution_binaries_notes_parse_as_readelf_counts_them():
    """Real-world notes (glibc's, libstdc++'s, the distribution's python): as many probes
    as readelf lists, and every argument spec parses (Debian's glibc has none, its
    libstdc++ and python have some)."""
    total = 0
    for path in _distro_binaries():
        notes = subprocess.run(["readelf", "-n", path], capture_output=True, text=True,
                               check=True).stdout.count("NT_STAPSDT")
        ps = usdt.probes(path)
        assert len(ps) == notes, path
        total += notes
        for p in ps:
            if platform.machine() in ("x86_64", "aarch64"):
                assert len(p.args) <= usdt.MAX_ARGS
                assert all(a.size in (1, 2, 4, 8) for a in p.args)
    if total == 0:
        pytest.skip("no distribution binary here carries SDT notes")


# ---- kernel ------------------------------------------------------------------------

def _run(path: str) -> None:
    subprocess.run([path, str(N)], check=True, capture_output=True)


@pytest.mark.kernel
@needs_sdt
def test_usdt_fires(target):
    with ArrayMap("pt_usdt_cnt") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(),
                                                    "pt_usdt") as prog:
        with usdt.attach(prog, target, "pybpf_test", "tick") as link:
            assert link.kind == "usdt" and "pybpf_test:tick" in link.target
            _run(target)
            assert m.read() == N


@pytest.mark.kernel
@needs_sdt
def test_usdt_semaphore_enables_guarded_probe(target):
    # the guarded probe only runs while its semaphore is raised: the attach must do it
    with ArrayMap("pt_usdt_sem") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(),
                                                    "pt_usdt_sem") as prog:
        with usdt.attach(prog, target, "pybpf_test", "guarded"):
            _run(target)
            assert m.read() == N
        _run(target)
        assert m.read() == N


def _arg_sum_prog(map_fd: int, arg: usdt.UsdtArg) -> Program:
    """counts[0] += (sign-extended) register argument ``arg`` read from pt_regs."""
    assert arg.kind == "reg" and arg.reg_offset is not None
    code = ins(0x79, 6, 1, arg.reg_offset)                 # r6 = *(u64 *)(ctx + off)
    if arg.size < 8:
        shift = 64 - 8 * arg.size
        code += ins(0x67, 6, imm=shift)                    # r6 <<= shift
        code += ins(0xC7 if arg.signed else 0x77, 6, imm=shift)   # r6 s>>= / >>= shift
    code += ins(0x62, 10, off=-4, imm=0) + mov_reg(2, 10) + ins(0x07, 2, imm=-4)
    code += ld_map_fd(1, map_fd) + call(MAP_LOOKUP_ELEM)
    code += ins(0x15, 0, off=1, imm=0) + ins(0xDB, 0, 6, 0, 0) + RET0
    return Program.load(ProgramSpec("pt_usdt_arg", ProgType.KPROBE, code))


@pytest.mark.kernel
@needs_sdt
def test_usdt_argument_spec_reads_the_value(target):
    if platform.machine() != "x86_64":
        pytest.skip("register layout checked on x86_64")
    (site,) = usdt.find(target, "pybpf_test", "tick")
    arg0 = site.args[0]
    if arg0.kind != "reg":
        pytest.skip(f"compiler placed arg0 as {arg0.spec}")
    with ArrayMap("pt_usdt_argsum") as m, _arg_sum_prog(m.fd.fileno(), arg0) as prog:
        with usdt.attach(prog, target, "pybpf_test", "tick"):
            _run(target)
            assert m.read() == N * (N - 1) // 2


def test_encode_spec_layout():
    args = usdt.parse_args("-4@%eax 8@-8(%rbp) 2@$7", arch="x86_64")
    raw = usdt.encode_spec(args, usdt_cookie=0xABC)
    assert len(raw) == usdt.SPEC_SIZE == 208
    import struct as st
    rows = [st.unpack_from("<qIh?b", raw, 16 * i) for i in range(3)]
    assert rows == [(0, 1, 80, True, 32), (-8, 2, 32, False, 0), (7, 0, 0, False, 48)]
    assert st.unpack_from("<Qh", raw, 192) == (0xABC, 3)
    with pytest.raises(ValueError):
        usdt.encode_spec(args * 5)


@pytest.mark.kernel
@needs_sdt
def test_usdt_attach_fills_spec_map(target):
    import ctypes
    from pybpf._sys import attr, syscall
    from pybpf._sys.uapi import Cmd, MapType
    from pybpf.fd import FD
    with FD(syscall.bpf(Cmd.MAP_CREATE, attr.MapCreate(
            map_type=MapType.ARRAY, key_size=4, value_size=usdt.SPEC_SIZE, max_entries=4,
            map_name=b"pt_usdt_specs"))) as specs, \
            ArrayMap("pt_usdt_scnt") as m, \
            counter_prog(ProgType.KPROBE, m.fd.fileno(), "pt_usdt_spec") as prog:
        with usdt.attach(prog, target, "pybpf_test", "tick", spec_map=specs, spec_id=2,
                         usdt_cookie=99):
            _run(target)
            assert m.read() == N
        k = ctypes.c_uint32(2)
        v = ctypes.create_string_buffer(usdt.SPEC_SIZE)
        syscall.bpf(Cmd.MAP_LOOKUP_ELEM, attr.MapElem(map_fd=specs.fileno(),
                                                       key=ctypes.addressof(k),
                                                       value=ctypes.addressof(v)))
        (site,) = usdt.find(target, "pybpf_test", "tick")
        assert v.raw == usdt.encode_spec(site.args, 99)


USDT_OBJ = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, long);
    __type(value, long);
} pt_ticks SEC(".maps");

SEC("usdt/%(path)s:pybpf_test:tick")
int BPF_USDT(pt_on_tick, long i, long sum)
{
    bpf_map_update_elem(&pt_ticks, &i, &sum, BPF_ANY);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def _expected_sums(n: int) -> dict[int, int]:
    """What probe_target's tick(i, sum) reports: sum after pt_target_func (and
    pt_other_func for odd i) of each round."""
    out, s = {}, 0
    for i in range(n):
        s += i * 2 + 1
        if i % 2:
            s += i - 1
        out[i] = s
    return out


@pytest.mark.kernel
@needs_sdt
def test_usdt_object_reads_arguments_with_usdt_bpf_h(target):
    """A libbpf-style object: SEC("usdt/path:provider:name"), BPF_USDT() arguments read by
    bpf_usdt_arg() from the spec map auto-attach fills.  Where the kernel has uprobe_multi
    links the program is loaded for them and attached through one, as libbpf 1.5+ does
    (the kernel then gives it another bpf_get_attach_cookie)."""
    import pybpf
    from pybpf._sys.uapi import AttachType
    from pybpf.features import Features
    obj_bytes = pybpf.compile(USDT_OBJ % {"path": target})
    multi = Features().has_uprobe_multi()
    with pybpf.load(obj_bytes, name="pt_usdt_obj") as obj:
        (prog,) = obj.programs.values()
        assert int(prog.spec.expected_attach_type) == \
            (int(AttachType.TRACE_UPROBE_MULTI) if multi else 0)
        (link,) = obj.attach()
        assert link.kind == "usdt" and obj.usdt_spec_ids >= 1
        _run(target)
        got = {int.from_bytes(k, "little", signed=True): int.from_bytes(v, "little",
                                                                      signed=True)
               for k, v in obj.maps["pt_ticks"].items_raw()}
    assert got == _expected_sums(N)


def _x86_by_regex(loc: str):
    """The x86 patterns (usdt._PATTERNS) applied as the parser once did, for comparison."""
    import re
    P = usdt._PATTERNS
    if m := re.match(P["x86_const"], loc):
        return "const", None, int(m.group(1), 0)
    if (m := re.match(P["x86_reg"], loc)) and m.group(1) in usdt._X86_ALIASES:
        return "reg", usdt._X86_ALIASES[m.group(1)], 0
    if (m := re.match(P["x86_deref"], loc)) and m.group(2) in usdt._X86_ALIASES:
        return "reg_deref", usdt._X86_ALIASES[m.group(2)], int(m.group(1) or "0", 0)
    return None


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["$", "%", "(", ")", "(%", "-", "0x", "0X", "1", "9", "f",
                                 "G", "rax", "eax", "r8b", "bp", "xmm0", ",", "٣"]),
                max_size=6).map("".join))
def test_x86_locations_read_by_hand_as_the_patterns_say(loc):
    # (no blanks: parse_args splits the note's string on them; the patterns' `$` would
    # also match before a final newline)
    def outcome(fn):
        try:
            return fn(loc)
        except ValueError as e:           # int("010", 0): both raise it
            return type(e)
    assert outcome(usdt._x86_location) == outcome(_x86_by_regex)
