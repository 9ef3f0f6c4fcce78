"""USDT (SystemTap SDT) probes: read ``.note.stapsdt`` of a binary, attach a program as a
uprobe at each matching probe site (with the semaphore as uprobe reference counter), and
parse the argument specs (``-4@%eax 8@-8(%rbp)``) that a BPF-side bpf_usdt_arg() needs."""

from __future__ import annotations

import os
import struct
from collections import namedtuple
from collections.abc import Sequence

from .. import errors
from .._sys.uapi import AttachType
from .libpath import resolve_path
from . import uprobe as _uprobe
from .base import Link
from .perf_event import _merge

_UPROBE_MULTI = int(AttachType.TRACE_UPROBE_MULTI)

__all__ = ["UsdtArg", "UsdtProbe", "probes", "find", "parse_args", "attach", "encode_spec",
           "X86_64_PT_REGS", "SPEC_SIZE", "MAX_ARGS",
           "SPEC_MAP"]

NOTE_OWNER = "stapsdt"
NOTE_TYPE = 3
# The value of libbpf's usdt.bpf.h spec map (__bpf_usdt_specs): struct __bpf_usdt_spec is
# 12 x struct __bpf_usdt_arg_spec {u64 val_off; u32 arg_type (low byte); s16 reg_off;
# bool arg_signed; s8 arg_bitshift}, then u64 usdt_cookie and s16 arg_cnt (208 bytes).
MAX_ARGS = 12
SPEC_SIZE = 208
SPEC_MAP = "__bpf_usdt_specs"     # the spec map's name in usdt.bpf.h
_ARG_SPEC = struct.Struct("<qIh?b")
_ARG_TYPE = {"const": 0, "reg": 1, "reg_deref": 2}

# Offsets in x86_64 struct pt_regs of each register family (ptrace.h layout).
X86_64_PT_REGS = {
    "r15": 0, "r14": 8, "r13": 16, "r12": 24, "bp": 32, "bx": 40, "r11": 48, "r10": 56,
    "r9": 64, "r8": 72, "ax": 80, "cx": 88, "dx": 96, "si": 104, "di": 112, "ip": 128,
    "sp": 152,
}
_X86_ALIASES = {
    **{f"{p}{r}": r for r in ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "ip")
       for p in ("r", "e", "")},
    "al": "ax", "bl": "bx", "cl": "cx", "dl": "dx", "sil": "si", "dil": "di", "bpl": "bp",
    "spl": "sp", "ah": "ax", "bh": "bx", "ch": "cx", "dh": "dx",
    **{f"r{n}{s}": f"r{n}" for n in range(8, 16) for s in ("", "d", "w", "b")},
}
# aarch64 struct user_pt_regs: x0..x30, sp, pc.
AARCH64_PT_REGS = {**{f"x{n}": 8 * n for n in range(31)}, "sp": 248, "pc": 256}

# argument locations (x86_64 AT&T and aarch64 syntax), compiled on the first parse: re, the
# compiles, platform and dataclasses cost a USDT attach's start ~10 ms at import.  The x86
# ones document _x86_location, which reads them by hand (tests compare the two).
_PATTERNS = {
    "x86_const": r"^\$(-?(?:0x[0-9a-fA-F]+|\d+))$",
    "x86_reg": r"^%(\w+)$",
    "x86_deref": r"^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%(\w+)\)$",
    "a64_reg": r"^(\w+)$",
    "a64_deref": r"^\[(\w+)(?:\s*,\s*#?(-?(?:0x[0-9a-fA-F]+|\d+)))?\]$",
    "a64_const": r"^#?(-?(?:0x[0-9a-fA-F]+|\d+))$",
}
_compiled: dict = {}     # per process: the patterns above, once compiled


def _match(name: str, text: str):
    pat = _compiled.get(name)
    if pat is None:
        import re
        pat = _compiled[name] = re.compile(_PATTERNS[name])
    return pat.match(text)


class UsdtArg(namedtuple("UsdtArg", "spec size signed kind reg offset reg_offset",
                         defaults=(None, 0, None))):
    """One USDT argument: ``size`` bytes (``signed``), read as a constant, a register, or
    memory at register + offset (``kind``: "const", "reg" or "reg_deref"; ``offset`` is the
    constant, or the displacement for reg_deref).  ``reg_offset`` is the register's offset
    in pt_regs."""

    __slots__ = ()


class UsdtProbe(namedtuple("UsdtProbe", "provider name pc base semaphore args_spec path "
                                        "offset semaphore_offset")):
    """One probe site from ``.note.stapsdt``: pc and semaphore as virtual addresses, and
    their file offsets (what uprobes want)."""

    __slots__ = ()

    @property
    def args(self) -> list[UsdtArg]:
        return parse_args(self.args_spec)


def _x86_location(loc: str) -> tuple[str, str | None, int] | None:
    """(kind, register, offset) of an AT&T operand (``$-5``, ``%eax``, ``-8(%rbp)``), or
    None.  By hand, as the x86 patterns above say: this is every USDT attach's path on
    x86_64, where importing re (with enum) would be ~5 ms of the start."""
    if loc[:1] == "$":
        return ("const", None, int(loc[1:], 0)) if _is_number(loc[1:]) else None
    if loc[:1] == "%":
        reg = _X86_ALIASES.get(loc[1:])
        return None if reg is None else ("reg", reg, 0)
    if loc[-1:] == ")" and "(%" in loc:
        off, _, rest = loc.partition("(%")
        reg = _X86_ALIASES.get(rest[:-1])
        if reg is not None and (not off or _is_number(off)):
            return "reg_deref", reg, int(off or "0", 0)
    return None


def _is_number(s: str) -> bool:
    """``-?(?:0x[0-9a-fA-F]+|\\d+)``"""
    body = s[1:] if s[:1] == "-" else s
    if body[:2] == "0x":
        return len(body) > 2 and all(c in "0123456789abcdefABCDEF" for c in body[2:])
    return body.isdecimal()


def _parse_one(spec: str, arch: str) -> UsdtArg:
    size_s, at, loc = spec.partition("@")
    try:
        size = int(size_s)
    except ValueError:
        size = 0
    if not at or abs(size) not in (1, 2, 4, 8):
        raise errors.ELFError(f"USDT argument {spec!r}: expected <size>@<location>")
    signed = size < 0
    if arch in ("x86_64", "i686", "i386"):
        found = _x86_location(loc)
        if found is not None:
            kind, reg, offset = found
            return UsdtArg(spec, abs(size), signed, kind, reg, offset,
                           X86_64_PT_REGS[reg] if reg else None)
    elif arch == "aarch64":
        if m := _match("a64_deref", loc):
            reg = m.group(1)
            if reg in AARCH64_PT_REGS:
                return UsdtArg(spec, abs(size), signed, "reg_deref", reg,
                               int(m.group(2) or "0", 0), AARCH64_PT_REGS[reg])
        if (m := _match("a64_reg", loc)) and m.group(1) in AARCH64_PT_REGS:
            reg = m.group(1)
            return UsdtArg(spec, abs(size), signed, "reg", reg, 0, AARCH64_PT_REGS[reg])
        if m := _match("a64_const", loc):
            return UsdtArg(spec, abs(size), signed, "const", offset=int(m.group(1), 0))
    raise errors.ELFError(f"USDT argument {spec!r}: location {loc!r} is not supported on "
                          f"{arch}")


def parse_args(spec: str, arch: str | None = None) -> list[UsdtArg]:
    """Parse a note's argument string into :class:`UsdtArg` (x86_64 and aarch64 syntax)."""
    arch = arch or os.uname().machine
    # aarch64 memory operands contain ", " inside brackets: split on blanks outside [].
    parts, depth, cur = [], 0, ""
    for ch in spec.strip():
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch.isspace() and depth == 0:
            if cur:
                parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return [_parse_one(p, arch) for p in parts]


def probes(path: str) -> list[UsdtProbe]:
    """Every USDT probe of binary or library ``path`` (a library name works too); read
    from pybpf's cache when the binary is unchanged (no ELF parsing on a warm start)."""
    from .elfcache import usdt_notes
    real = resolve_path(path)
    return [UsdtProbe(*t) for t in usdt_notes(real, _parse_notes)]


def _parse_notes(real: str) -> list[tuple]:
    return [(p.provider, p.name, p.pc, p.base, p.semaphore, p.args_spec, p.path, p.offset,
             p.semaphore_offset) for p in _probes(real)]


def _probes(real: str) -> list[UsdtProbe]:
    from elftools.common.exceptions import ELFError as _PyElfError

    from . import symbols as _symbols      # ELF reading: only on a cache miss
    out: list[UsdtProbe] = []
    try:
        with open(real, "rb") as f:
            elf = _symbols._open_elf(f, real)
            notes = elf.get_section_by_name(".note.stapsdt")
            if notes is None:
                return []
            base_sec = elf.get_section_by_name(".stapsdt.base")
            base_addr = base_sec["sh_addr"] if base_sec is not None else None
            segs = _symbols._load_segments(elf)
            word = 8 if elf.elfclass == 64 else 4
            fmt = ("<" if elf.little_endian else ">") + ("QQQ" if word == 8 else "III")
            for note in notes.iter_notes():
                if note["n_name"] != NOTE_OWNER or note["n_descsz"] < 3 * word:
                    continue
                desc = bytes(note["n_descdata"])
                pc, base, sema = struct.unpack_from(fmt, desc)
                provider, name, args = (desc[3 * word:].split(b"\0") + [b"", b""])[:3]
                # Prelinked or otherwise relocated binaries: the note records where
                # .stapsdt.base was at link time; shift pc (and semaphore) by the move.
                if base_addr is not None and base:
                    pc += base_addr - base
                    if sema:
                        sema += base_addr - base
                off = _symbols.vaddr_to_offset(segs, pc)
                if off is None:
                    continue
                sema_off = _symbols.vaddr_to_offset(segs, sema) if sema else 0
                out.append(UsdtProbe(provider.decode(errors="replace"),
                                     name.decode(errors="replace"), pc, base, sema,
                                     args.decode(errors="replace"), real, off, sema_off or 0))
    except OSError as e:
        raise errors.NotFoundError(e.errno or 2, "usdt", f"cannot read {real}: "
                                   f"{e.strerror}") from None
    except (_PyElfError, struct.error, ValueError, KeyError) as e:
        if isinstance(e, errors.PybpfError):
            raise
        raise _symbols._elf_error(real, e) from None
    return out


def find(path: str, provider: str, name: str) -> list[UsdtProbe]:
    """The sites of probe ``provider:name`` in ``path`` (one probe may be inlined often)."""
    found = [p for p in probes(path) if p.provider == provider and p.name == name]
    if not found:
        raise errors.NotFoundError(2, "usdt", f"no USDT probe {provider}:{name} in "
                                   f"{resolve_path(path)}")
    return found


def encode_spec(args: Sequence[UsdtArg], usdt_cookie: int = 0) -> bytes:
    """One value for a BPF-side spec map in libbpf's usdt.bpf.h layout: how
    bpf_usdt_arg() finds each argument (constant, register, or memory at register)."""
    if len(args) > MAX_ARGS:
        raise ValueError(f"{len(args)} USDT arguments; the spec holds {MAX_ARGS}")
    out = bytearray(SPEC_SIZE)
    for i, a in enumerate(args):
        # the BPF side shifts left then right by arg_bitshift to narrow and sign-extend
        _ARG_SPEC.pack_into(out, 16 * i, a.offset, _ARG_TYPE[a.kind], a.reg_offset or 0,
                            a.signed, 64 - 8 * a.size)
    struct.pack_into("<Qh", out, 16 * MAX_ARGS, usdt_cookie & (1 << 64) - 1, len(args))
    return bytes(out)


def _write_spec(spec_map, key: int, value: bytes) -> None:
    """spec_map[key] = value with a raw BPF_MAP_UPDATE_ELEM (any object with fileno())."""
    import ctypes
    from .._sys import attr, syscall
    from .._sys.uapi import Cmd
    k = ctypes.c_uint32(key)
    v = ctypes.create_string_buffer(value, len(value))
    syscall.bpf(Cmd.MAP_UPDATE_ELEM, attr.MapElem(map_fd=spec_map.fileno(),
                                                   key=ctypes.addressof(k),
                                                   value=ctypes.addressof(v)),
                detail=f"USDT spec {key}")


def attach(prog, path: str, provider: str, name: str, *, pid: int = -1,
           cookies: Sequence[int] | None = None, spec_map=None, spec_id: int = 0,
           usdt_cookie: int = 0) -> Link:
    """Attach kprobe-type ``prog`` to every site of USDT probe ``provider:name``.

    Each site is a uprobe; a probe with a semaphore gets it as the uprobe's reference
    counter, so the kernel raises it while attached and the guarded probe fires.
    ``cookies`` (one per site, see :func:`find`) reach the program via
    bpf_get_attach_cookie().  With ``spec_map`` (libbpf's ``__bpf_usdt_specs``), each
    site's argument spec is written at ids ``spec_id``, ``spec_id + 1``, ... and the id
    becomes the site's cookie, which is how usdt.bpf.h's bpf_usdt_arg() reads arguments.
    """
    sites = find(path, provider, name)
    if spec_map is not None:
        if cookies is not None:
            raise ValueError("give cookies or spec_map, not both")
        cookies = [spec_id + i for i in range(len(sites))]
        for i, site in enumerate(sites):
            _write_spec(spec_map, cookies[i], encode_spec(site.args, usdt_cookie))
    if cookies is not None and len(cookies) != len(sites):
        raise ValueError(f"{len(cookies)} cookies for {len(sites)} sites of {provider}:{name}")
    links: list[Link] = []
    spec = getattr(prog, "spec", None)
    multi = int(getattr(spec, "expected_attach_type", 0) or 0) == _UPROBE_MULTI
    try:
        if multi:
            # loaded for uprobe_multi (libbpf 1.5+'s way on kernels that have it): one
            # link per binary, its sites' cookies and semaphores side by side
            by_path: dict[str, list[int]] = {}
            for i, site in enumerate(sites):
                by_path.setdefault(site.path, []).append(i)
            for path, idx in by_path.items():
                links.append(_uprobe.attach_multi(
                    prog, path, offsets=[sites[i].offset for i in idx], pid=pid,
                    cookies=[cookies[i] for i in idx] if cookies else None,
                    ref_ctr_offsets=[sites[i].semaphore_offset for i in idx]))
        for i, site in enumerate(sites if not multi else ()):
            links.append(_uprobe.attach(prog, site.path, offset=site.offset, pid=pid,
                                        cookie=cookies[i] if cookies else 0,
                                        ref_ctr_offset=site.semaphore_offset))
    except BaseException:
        for ln in links:
            ln.close()
        raise
    target = f"{sites[0].path}:{provider}:{name}" + (f" pid {pid}" if pid >= 0 else "")
    if len(links) == 1:
        links[0].kind, links[0].target = "usdt", target
        link = links[0]
    else:
        link = _merge(links, kind="usdt", target=target)
    link.spec_ids = list(cookies) if spec_map is not None else []
    return link
