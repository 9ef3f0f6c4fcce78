"""uprobe_multi links (6.6+): many uprobes (or uretprobes) of one binary in one link,
attached and detached in one system call each, instead of a perf event per probe.

A program must be loaded for them (expected_attach_type TRACE_UPROBE_MULTI), so callers
ask :func:`available` before loading and keep the per-probe path where it says no."""

from __future__ import annotations

import ctypes
import errno as _errno

from .. import errors
from .._sys import attr
from .._sys.uapi import AttachType
from .base import Link, link_create
from .libpath import resolve_path

TYPE_CHECKING = False
if TYPE_CHECKING:            # annotations only: typing costs the uprobe tools' start
    from typing import Sequence

__all__ = ["available", "glob_offsets", "attach", "attach_offsets", "MultiAttach"]

F_RETURN = 1                 # BPF_F_UPROBE_MULTI_RETURN
ENOTSUPP = 524
# errors uprobe_register gives for one place: an instruction x86 uprobes cannot step
# over (libc's AVX str* variants: ENOTSUPP), an offset past the file's end or not on
# an instruction (EINVAL, EFAULT); the kernel then drops the whole link
_PER_PLACE = (ENOTSUPP, _errno.EINVAL, _errno.EOPNOTSUPP, _errno.EFAULT)
_NEEDS = "BPF_LINK_CREATE takes no uprobe_multi links here (needs Linux 6.6+)"


def available(features=None) -> bool:
    """This kernel takes uprobe_multi links (probed once per ``features``).
    ``PYBPF_NO_UPROBE_MULTI=1`` says no: the per-probe path, to compare or time it."""
    import os
    if os.environ.get("PYBPF_NO_UPROBE_MULTI", "") not in ("", "0"):
        return False
    if features is None:
        from ..features import Features
        features = Features()
    return features.has_uprobe_multi()


def _kernel_has() -> bool:
    """The kernel's answer alone (not the knob): for an EINVAL to be explained."""
    from ..features import Features
    return Features().has_uprobe_multi()


def glob_offsets(path: str, pattern: str) -> list[tuple[str, int]]:
    """(name, file offset) of the functions of ``path`` matching glob ``pattern`` (``*``
    and ``?``), one per offset (aliases share one), by offset: as libbpf's
    bpf_program__attach_uprobe_multi resolves a pattern.  IFUNC symbols are left out
    (their symbol is the resolver), as libbpf leaves them."""
    from fnmatch import fnmatchcase
    from .elfcache import functions
    # fnmatch's [...] classes are no part of libbpf's glob: match them literally
    pat = pattern.replace("[", "[[]")
    seen: dict[int, str] = {}
    for name, off in sorted(functions(path).items()):
        if off >= 0 and off not in seen and fnmatchcase(name, pat):
            seen[off] = name
    return [(name, off) for off, name in sorted(seen.items())]


def attach(prog, path: str, symbols: str | Sequence[str] | None = None, *,
           offsets: Sequence[int] | None = None, retprobe: bool = False, pid: int = -1,
           cookies: Sequence[int] | None = None,
           ref_ctr_offsets: Sequence[int] | None = None, session: bool = False) -> Link:
    """One uprobe_multi link for ``prog`` on many places of one binary.

    ``symbols`` is a glob (``"pt_*"``, see :func:`glob_offsets`) or a list of names; or
    give file ``offsets``.  ``pid`` >= 0: that process only.  Any place the kernel
    refuses fails the whole link (see :func:`attach_offsets` to attach the others).
    ``session``: a uprobe.session program (6.13+), run on entry and on return.
    """
    real = resolve_path(path)
    if symbols is not None:
        if isinstance(symbols, str):
            offs = [off for _, off in glob_offsets(real, symbols)]
            if not offs:
                raise errors.NotFoundError(_errno.ENOENT, "uprobe_multi",
                                           f"no function matches {symbols!r} in {real}")
        else:
            from .elfcache import functions
            from .symbols import symbol_offset
            table = functions(real)
            offs = []
            for n in symbols:
                off = table.get(n)
                offs.append(off if off is not None and off >= 0 else
                            symbol_offset(real, n))
    elif offsets:
        offs = list(offsets)
    else:
        raise ValueError("give symbols or offsets")
    try:
        return _create(prog, real, offs, cookies, ref_ctr_offsets, retprobe, pid, session)
    except errors.KernelError as e:
        # kernels before 6.6 do not know the attach type and say only EINVAL
        if e.errno == _errno.EINVAL and not _kernel_has():
            raise errors.NotSupportedError("uprobe.multi", _NEEDS, e.errno, e.op) from None
        raise


def _create(prog, real: str, offs: list, cookies, ref_ctr_offsets, retprobe: bool,
            pid: int, session: bool = False) -> Link:
    n = len(offs)
    if n == 0:
        raise ValueError("no places to probe")
    for seq, what in ((cookies, "cookies"), (ref_ctr_offsets, "ref_ctr_offsets")):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{what} has {len(seq)} entries for {n} probes")
    path_buf = ctypes.create_string_buffer(real.encode())
    off_arr = (ctypes.c_uint64 * n)(*offs)
    cookie_arr = (ctypes.c_uint64 * n)(*cookies) if cookies else None
    ref_arr = (ctypes.c_uint64 * n)(*ref_ctr_offsets) if ref_ctr_offsets and \
        any(ref_ctr_offsets) else None
    um = attr._LinkTarget._UprobeMulti(
        path=ctypes.addressof(path_buf), offsets=ctypes.addressof(off_arr),
        ref_ctr_offsets=ctypes.addressof(ref_arr) if ref_arr else 0,
        cookies=ctypes.addressof(cookie_arr) if cookie_arr else 0, cnt=n,
        flags=F_RETURN if retprobe else 0, pid=max(pid, 0))
    target = f"{real}: {n} probes" + (f" pid {pid}" if pid >= 0 else "")
    # the return flag lives in the uprobe_multi tail; link_create.flags must stay 0
    kind = "uprobe_session" if session else "uretprobe_multi" if retprobe else "uprobe_multi"
    fd = link_create(prog.fileno(), 0, AttachType.TRACE_UPROBE_SESSION if session else
                     AttachType.TRACE_UPROBE_MULTI,
                     what=f"uprobe_multi {target}", feature="uprobe.multi", uprobe_multi=um)
    return Link(fd, kind=kind, target=target)


class MultiAttach:
    """What :func:`attach_offsets` made: ``links`` (close them to detach all) and
    ``refused`` (index of a place -> the kernel's error for it)."""

    def __init__(self):
        self.links: list[Link] = []
        self.refused: dict[int, errors.KernelError] = {}

    def close(self) -> None:
        for link in reversed(self.links):
            link.close()
        self.links = []

    def __enter__(self) -> "MultiAttach":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def attach_offsets(prog, path: str, offsets: Sequence[int], *, retprobe: bool = False,
                   pid: int = -1, cookies: Sequence[int] | None = None,
                   ref_ctr_offsets: Sequence[int] | None = None) -> MultiAttach:
    """Attach ``prog`` at every file offset of ``path`` the kernel takes, in as few
    uprobe_multi links as it allows: one, unless some places are refused, which are
    then found by halving (a link per accepted run: O(refused x log n) links).

    ``cookies[i]`` is place i's bpf_get_attach_cookie().  The kernel must have
    uprobe_multi (:func:`available`); errors not about one place are raised."""
    real = resolve_path(path)
    offs = list(offsets)
    out = MultiAttach()

    def part(idx: list[int]) -> None:
        try:
            out.links.append(_create(
                prog, real, [offs[i] for i in idx],
                [cookies[i] for i in idx] if cookies is not None else None,
                [ref_ctr_offsets[i] for i in idx] if ref_ctr_offsets is not None else None,
                retprobe, pid))
        except errors.KernelError as e:
            if isinstance(e, errors.MissingPrivilegeError) or e.errno not in _PER_PLACE:
                raise
            if e.errno == _errno.EINVAL and not out.links and not out.refused and \
                    not _kernel_has():
                # before 6.6 the kernel says only EINVAL, for every place
                raise errors.NotSupportedError("uprobe.multi", _NEEDS, e.errno,
                                               e.op) from None
            if len(idx) == 1:
                out.refused[idx[0]] = _refused(e, real, offs[idx[0]])
                return
            half = len(idx) // 2
            part(idx[:half])
            part(idx[half:])

    try:
        # a refused place costs a failed link (~40 ms: the kernel unregisters what it had
        # registered and waits): places likely refused are tried one by one, the others
        # together, so one refusal does not halve the others' link log2(n) times
        likely = _likely_refused(real, offs)
        for i in likely:
            part([i])
        rest = [i for i in range(len(offs)) if i not in likely]
        if rest:
            part(rest)
    except BaseException:
        out.close()
        raise
    return out


def _refused(e: errors.KernelError, path: str, offset: int) -> errors.AttachError:
    """One place's refusal, said of that place (the link's error names the link)."""
    why = "its first instruction is one uprobes cannot step over" if e.errno == ENOTSUPP \
        else _errno.errorcode.get(e.errno, str(e.errno))
    return errors.AttachError(e.errno, "uprobe_multi", f"{path}:{offset:#x}: the kernel "
                              f"refused a uprobe there ({why})")


# x86 uprobes refuse a first instruction with a VEX/EVEX/XOP prefix (libc's AVX2/EVEX
# str* and mem* variants) or a segment or LOCK prefix (arch_uprobe_analyze_insn):
# a hint only, the kernel has the last word
_X86_LEGACY = frozenset(b"\x66\x67\xf2\xf3\x64\x65")
_X86_REFUSED = frozenset(b"\x26\x2e\x36\x3e\xf0\xc4\xc5\x62\x8f")


def _likely_refused(path: str, offsets: list) -> list[int]:
    """Indexes of ``offsets`` whose first instruction x86-64 uprobes likely refuse
    ([] for other machines or unreadable files)."""
    import os
    if os.uname().machine != "x86_64" or len(offsets) < 2:
        return []
    out = []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        if os.pread(fd, 20, 0)[18:20] != b"\x3e\x00":     # e_machine EM_X86_64
            return []
        for i, off in enumerate(offsets):
            head = os.pread(fd, 8, off)
            j = 0
            while j < len(head) and head[j] in _X86_LEGACY:
                j += 1
            if j < len(head) and head[j] in _X86_REFUSED:
                out.append(i)
    except OSError:
        return []
    finally:
        os.close(fd)
    return out

