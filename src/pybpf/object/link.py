"""Static linking of one entry program: append the subprograms it calls, patch relocations,
and rebase BTF func/line info.  Pure: map fds and kernel BTF ids come in as plain ints.

The layout matches libbpf's, so the kernel sees (and translates) the same program:
subprograms are appended depth-first in the order their first call is met, and a
subprogram's own calls are resolved as soon as it is appended.
"""

from __future__ import annotations

import struct
from bisect import bisect_left

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs milliseconds at start-up; annotations only
    from typing import Callable

from .._record import Record
from ..errors import ELFError
from .spec import ObjectSpec, ProgramSpec, RelocKind

_PSEUDO_MAP_FD = 1
_PSEUDO_MAP_VALUE = 2
_PSEUDO_BTF_ID = 3
_PSEUDO_FUNC = 4
_PSEUDO_CALL = 1
_PSEUDO_KFUNC_CALL = 2
# An unresolved __weak kfunc's call becomes a call of this helper id (plus the extern's
# index), as libbpf does: the verifier rejects it only if the call is reachable.
POISON_KFUNC_BASE = 2002000000


class Resolver(Record):
    """What the linker asks of the loader, as callables returning ints."""
    # map_fd: map name -> fd
    # ksym: extern -> (kind, value, btf_obj_fd)
    # value_base: map name -> where its data starts in the map's value (an arena's
    # globals sit at its end: object/arena.py); None for 0 everywhere
    _fields = ('map_fd', 'ksym', 'value_base')

    def __init__(self, map_fd, ksym, value_base=None):
        self.map_fd = map_fd
        self.ksym = ksym
        self.value_base = value_base
    # kind: 0 = address (typeless ksym), 1 = BTF id (typed ksym / kfunc)


class Linked(Record):
    """One entry program after linking: its bytes, where each function landed, BTF info."""
    # layout: (function, start)
    _fields = ('insns', 'layout', 'func_info', 'func_info_cnt', 'line_info', 'line_info_cnt',
               'fd_array', 'lines')

    def __init__(self, insns, layout=None, func_info=b"", func_info_cnt=0, line_info=b"",
                 line_info_cnt=0, fd_array=None, lines=None):
        self.insns = insns
        self.layout = [] if layout is None else layout
        self.func_info = func_info
        self.func_info_cnt = func_info_cnt
        self.line_info = line_info
        self.line_info_cnt = line_info_cnt
        self.fd_array = [] if fd_array is None else fd_array
        self.lines = {} if lines is None else lines


def link_program(spec: ObjectSpec, main: ProgramSpec, code: dict[str, bytes],
                 res: Resolver, exception_cb: ProgramSpec | None = None) -> Linked:
    """Link ``main``; ``code`` maps every function name to its (CO-RE patched) bytes.
    ``exception_cb`` (object/exccb.py) is appended after what ``main`` calls, unless a
    call already brought it in, as libbpf appends it."""
    funcs = spec.functions()
    out = Linked(bytearray(code[main.name]))
    start: dict[str, int] = {main.name: 0}
    out.layout.append((main, 0))

    def visit(fn: ProgramSpec) -> None:
        base = start[fn.name]
        for r in fn.relocations:
            idx = base + r.offset // 8
            if r.kind in (RelocKind.CALL, RelocKind.FUNC_ADDR):
                callee = funcs.get(r.target)
                if callee is None:
                    raise ELFError(f"{fn.name}: call to unknown function {r.target!r}")
                if callee.name not in start:
                    start[callee.name] = len(out.insns) // 8
                    out.layout.append((callee, start[callee.name]))
                    out.insns += code[callee.name]
                    visit(callee)
                # skip into the callee when the call targets an offset inside it
                target = start[callee.name] + (r.addend - callee.section_offset) // 8
                rel = target - idx - 1
                if r.kind == RelocKind.CALL:
                    _set(out.insns, idx, src=_PSEUDO_CALL, imm=rel)
                else:
                    _set_ld64(out.insns, idx, _PSEUDO_FUNC, rel, 0)
            elif r.kind == RelocKind.MAP:
                _set_ld64(out.insns, idx, _PSEUDO_MAP_FD, res.map_fd(r.target), 0)
            elif r.kind in (RelocKind.DATA, RelocKind.KCONFIG):
                at = res.value_base(r.target) if res.value_base is not None else 0
                _set_ld64(out.insns, idx, _PSEUDO_MAP_VALUE, res.map_fd(r.target),
                          r.addend + at)
            elif r.kind == RelocKind.KSYM:
                kind, value, obj_fd = res.ksym(r.target)
                if kind == 0 or value == 0:
                    # typeless, or an unresolved __weak one: a plain 64-bit constant (0)
                    _set_ld64(out.insns, idx, 0, value & 0xFFFFFFFF, value >> 32)
                else:
                    _set_ld64(out.insns, idx, _PSEUDO_BTF_ID, value, obj_fd)
            elif r.kind == RelocKind.KFUNC:
                _, btf_id, obj_fd = res.ksym(r.target)
                if btf_id == 0:
                    ext_idx = list(spec.externs).index(r.target) if r.target in \
                        spec.externs else 0
                    _set(out.insns, idx, src=0, imm=POISON_KFUNC_BASE + ext_idx, off=0)
                    continue
                off = 0
                if obj_fd:
                    # module kfuncs name their BTF by an index into fd_array (0 = vmlinux)
                    if not out.fd_array:
                        out.fd_array.append(0)
                    if obj_fd not in out.fd_array:
                        out.fd_array.append(obj_fd)
                    off = out.fd_array.index(obj_fd)
                _set(out.insns, idx, src=_PSEUDO_KFUNC_CALL, imm=btf_id, off=off)

    visit(main)
    if exception_cb is not None and exception_cb.name not in start:
        start[exception_cb.name] = len(out.insns) // 8
        out.layout.append((exception_cb, start[exception_cb.name]))
        out.insns += code[exception_cb.name]
        visit(exception_cb)
    _btf_info(spec, out)
    return out


def _set(insns: bytearray, idx: int, *, src: int, imm: int, off: int | None = None) -> None:
    o = idx * 8
    insns[o + 1] = (insns[o + 1] & 0x0F) | (src << 4)
    if off is not None:
        struct.pack_into("<h", insns, o + 2, off)
    struct.pack_into("<i", insns, o + 4, _s32(imm))


def _set_ld64(insns: bytearray, idx: int, src: int, imm: int, imm2: int) -> None:
    o = idx * 8
    if insns[o] != 0x18 or o + 16 > len(insns):
        raise ELFError(f"instruction {idx} is not a ld_imm64")
    insns[o + 1] = (insns[o + 1] & 0x0F) | (src << 4)
    struct.pack_into("<i", insns, o + 4, _s32(imm))
    struct.pack_into("<i", insns, o + 12, _s32(imm2))


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _btf_info(spec: ObjectSpec, out: Linked) -> None:
    """Rebase func_info/line_info of every linked function to its place in ``out``."""
    ext = spec.btf_ext
    if ext is None:
        return
    fi, li = bytearray(), bytearray()
    nfi = nli = 0
    for fn, start in out.layout:
        lo, hi = fn.section_offset, fn.section_offset + len(fn.instructions)
        for rec in _span(ext, ext.func_info.get(fn.section, ()), lo, hi):
            fi += struct.pack("<II", start + (rec.insn_off - lo) // 8, rec.type_id)
            nfi += 1
        for rec in _span(ext, ext.line_info.get(fn.section, ()), lo, hi):
            insn = start + (rec.insn_off - lo) // 8
            li += struct.pack("<IIII", insn, rec.file_name_off, rec.line_off,
                              (rec.line << 10) | (rec.col & 0x3FF))
            nli += 1
            out.lines.setdefault(insn, (rec.file_name, rec.line, rec.line_text))
    out.func_info, out.func_info_cnt = bytes(fi), nfi
    out.line_info, out.line_info_cnt = bytes(li), nli


def _span(ext, recs, lo: int, hi: int):
    """The records of ``recs`` with lo <= insn_off < hi, in their order.  clang and the
    linker write them sorted, so a bisection finds them: a linked object's .text holds
    every input's helpers (Falco's probe: 40,000 line records, 199 programs), and a scan
    per linked function made BTF info the largest cost of its load."""
    if not recs:
        return ()
    memo = ext.__dict__.setdefault("_offsets", {})     # per list of records, once
    offs = memo.get(id(recs))
    if offs is None or offs[0] is not recs:
        keys = [r.insn_off for r in recs]
        offs = memo[id(recs)] = (recs, keys if all(
            a <= b for a, b in zip(keys, keys[1:])) else None)
    keys = offs[1]
    if keys is None:                     # unsorted (hand-made): scan, as before
        return [r for r in recs if lo <= r.insn_off < hi]
    return recs[bisect_left(keys, lo):bisect_left(keys, hi)]
