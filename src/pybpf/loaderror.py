"""Why a program did not load: the retry of BPF_PROG_LOAD with a verifier log (grown
until it fits) and the typed error it becomes (VerifierError with the C line, EPERM
explained, unsupported types named).  Only a failed load, or one that asks for a log,
imports this module: a tool's start never does.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import re

TYPE_CHECKING = False
if TYPE_CHECKING:          # typing costs milliseconds at start-up; annotations only
    from collections.abc import Sequence

from . import errors
from ._sys import syscall
from ._sys.uapi import Cmd, ProgType
from .programs import (ENOTSUPP, MAX_INSNS, MAX_LOG_SIZE, TRAMPOLINE_FEATURE, ProgramSpec,
                       SourceLine, _type_name)

_TRAMPOLINE_TYPES = (ProgType.TRACING, ProgType.LSM, ProgType.EXT)
_TRACING_TYPES = (ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.PERF_EVENT,
                  ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE,
                  ProgType.TRACING, ProgType.LSM, ProgType.EXT)


def _set_log(la, level: int, size: int) -> ctypes.Array:
    """Point ``la``'s attr at a fresh log buffer of ``size`` bytes (kept alive with it)."""
    buf = ctypes.create_string_buffer(size)
    la.keep.append(buf)
    la.attr.log_level, la.attr.log_size = level, size
    la.attr.log_buf = ctypes.addressof(buf)
    la.attr.log_true_size = 0
    return buf


def load_with_log(la, level: int, size: int) -> tuple[int, int, str, bool]:
    """Load with a log, growing the buffer on ENOSPC: (fd or -1, errno, log, truncated)."""
    size = max(size, 4096)
    while True:
        buf = _set_log(la, level, size)
        try:
            fd = syscall.bpf(Cmd.PROG_LOAD, la.attr)
            return fd, 0, _text(buf), False
        except errors.KernelError as e:
            err = e.errno
        if err != _errno.ENOSPC or size >= MAX_LOG_SIZE:
            return -1, err, _text(buf), err == _errno.ENOSPC
        # Kernels >= 6.4 report the size the whole log needs in log_true_size.
        need = la.attr.log_true_size
        size = min(MAX_LOG_SIZE, need + 1 if need > size else size * 2)


def _text(buf: ctypes.Array) -> str:
    return buf.value.decode(errors="replace")


def _needed_capability(t: int) -> str:
    if t in _TRACING_TYPES:
        return "CAP_BPF and CAP_PERFMON"
    if t in (ProgType.SOCKET_FILTER, ProgType.CGROUP_SKB):
        return "CAP_BPF"
    return "CAP_BPF and CAP_NET_ADMIN"


def load_error(spec: ProgramSpec, n: int, err: int, log: str,
                truncated: bool) -> errors.KernelError:
    """The typed error for a failed load, from its errno and verifier log."""
    tname = _type_name(spec.type)
    what = f"program {spec.name!r} ({tname}, {n} insns)"
    if err == _errno.EPERM:
        return _eperm_error(spec, what)
    if err in (ENOTSUPP, _errno.EOPNOTSUPP):
        return errors.NotSupportedError(f"loading {tname} programs",
                                        f"{what}: {last_message(log)}", err,
                                        "BPF_PROG_LOAD")
    if err == _errno.E2BIG and (n > MAX_INSNS or not _has_verifier_output(log)):
        return errors.KernelError(err, "BPF_PROG_LOAD", f"{what} is too large"
                                  f" (limit {MAX_INSNS} instructions, processed or given)"
                                  + (f": {last_message(log)}" if log.strip() else ""))
    if log.strip() and _has_verifier_output(log):
        ve = errors.VerifierError(err, spec.name, log, truncated)
        _add_source(ve, spec)
        missing = _unknown_helper(log)
        if missing:
            ve.strerror += f" ({missing})"
        if not spec.license and "non-GPL compatible" in log:
            # an object with no SEC("license") (Falco's per-file objects: only the linked
            # one has license.bpf.c): libbpf loads it with no license too
            ve.strerror += (" (the object declares no license: add "
                            "char LICENSE[] SEC(\"license\") = \"GPL\";)")
        return ve
    if err == _errno.EINVAL:
        from .features import Features
        if not Features().prog_type(spec.type):
            return errors.NotSupportedError(f"program type {tname}", "BPF_PROG_LOAD rejects "
                                            "this type with EINVAL even for a trivial program",
                                            err, "BPF_PROG_LOAD")
        owned = _foreign_prog_array(spec)
        if owned:
            return errors.KernelError(err, "BPF_PROG_LOAD", f"{what}: {owned}")
        return errors.KernelError(err, "BPF_PROG_LOAD", f"{what}: the kernel rejected the "
                                  "load attributes before verification (check "
                                  "expected_attach_type, attach_btf_id, flags, BTF func/line "
                                  "info)")
    return errors.from_errno(err, "BPF_PROG_LOAD", what)


def _unknown_helper(log: str) -> str | None:
    """Name the helper a kernel older than it calls "unknown#N" (the program needs a newer
    kernel, or a variant without that helper)."""
    m = re.search(r"invalid func unknown#(\d+)", log)
    if not m:
        return None
    from .asm.helpernames import NAMES
    n = int(m.group(1))
    if n >= 1 << 16:
        # not a helper: a call the loader poisoned (an unresolved CO-RE relocation,
        # 0xbad2310, or kfunc, 2002000000+), which the loader names itself
        return None
    name = f"bpf_{NAMES[n]}" if 0 < n < len(NAMES) else f"helper #{n}"
    return f"{name} (#{n}) is newer than this kernel ({os.uname().release})"


def _foreign_prog_array(spec: ProgramSpec) -> str | None:
    """Why a program that uses a program array already holding programs of another type
    failed: the kernel ties a program array to the type of its first user and refuses
    others with a bare EINVAL (tc says "Tail call map owned by prog type"); arrays shared
    through a pin (tc's objects) meet this.  None if no such array."""
    insns = spec.insn_bytes()
    for i in range(0, len(insns) - 15, 8):
        if insns[i] != 0x18 or insns[i + 1] >> 4 != 1:        # ld_imm64 of a map fd
            continue
        fd = int.from_bytes(insns[i + 4:i + 8], "little", signed=True)
        try:
            with open(f"/proc/self/fdinfo/{fd}") as f:
                info = dict(ln.split(":", 1) for ln in f.read().splitlines() if ":" in ln)
            owner = int(info.get("owner_prog_type", "0"))
            if int(info.get("map_type", "0")) != 3 or not owner or owner == int(spec.type):
                continue
            map_id = int(info.get("map_id", "0"))
        except (OSError, ValueError):
            continue
        return (f"it uses program array id {map_id}, which holds {_type_name(owner)} "
                f"programs: a program array takes programs of one type (its first user's; "
                "one shared through a pin keeps it)")
    return None


def _has_verifier_output(log: str) -> bool:
    """True when the log holds more than the closing statistics line."""
    return any(line.strip() and not line.startswith(("processed ", "verification time"))
               for line in log.splitlines())


def _eperm_error(spec: ProgramSpec, what: str) -> errors.KernelError:
    from .features import has_capability, CAP_BPF, CAP_SYS_ADMIN
    privileged = has_capability(CAP_SYS_ADMIN) or has_capability(CAP_BPF)
    needs_trampoline = spec.type in _TRAMPOLINE_TYPES or (
        spec.attach_btf_id and spec.type != ProgType.STRUCT_OPS)
    if privileged and needs_trampoline:
        return errors.NotSupportedError(
            TRAMPOLINE_FEATURE,
            f"the kernel refused to load a program that needs a BPF trampoline (EPERM) "
            f"although this process has CAP_BPF/CAP_SYS_ADMIN: {what}. The kernel lacks "
            "trampoline support (e.g. no ftrace direct calls) or a lockdown/LSM policy "
            "forbids it; use a kprobe, tracepoint or raw_tracepoint program instead",
            _errno.EPERM, "BPF_PROG_LOAD")
    if privileged:
        return errors.KernelError(_errno.EPERM, "BPF_PROG_LOAD",
                                  f"{what}: refused (EPERM) despite CAP_BPF/CAP_SYS_ADMIN "
                                  "(kernel lockdown or an LSM policy?)")
    return errors.MissingPrivilegeError(_errno.EPERM, "BPF_PROG_LOAD",
                                        _needed_capability(spec.type), what)


def _add_source(ve: errors.VerifierError, spec: ProgramSpec) -> None:
    """Name the failing C line from ``spec.source_lines`` when the log did not print it."""
    if ve.insn is None or ve.source_line or not spec.source_lines:
        return
    loc = _nearest_source(spec.source_lines, ve.insn)
    if loc is None:
        return
    file, line, text = loc
    ve.source_line = f"{text.strip()} @ {file}:{line}"
    ve.strerror = ve.strerror.replace(f"at instruction {ve.insn}",
                                      f"at instruction {ve.insn} ({ve.source_line})", 1)


def _nearest_source(lines: dict[int, SourceLine] | Sequence[SourceLine | None],
                    insn: int) -> SourceLine | None:
    """The source line covering ``insn``: the entry at or before it."""
    if not isinstance(lines, dict):
        lines = {i: loc for i, loc in enumerate(lines) if loc is not None}
    best = None
    for idx in sorted(lines):
        if idx > insn:
            break
        best = lines[idx]
    return best


# -- reading the verifier's log ------------------------------------------------------
def failing_location(log: str) -> tuple[int | None, str | None]:
    """Find the last instruction the log reports and the ``; source`` line before it."""
    import re                      # only for a rejection: re costs every start ~2 ms
    insn_re = re.compile(r"^(\d+): \(([0-9a-f]{2})\)")
    insn = None
    src = None
    last_src = None
    for line in log.splitlines():
        if line.startswith("; "):
            last_src = line[2:].strip()
            continue
        m = insn_re.match(line)
        if m:
            insn = int(m.group(1))
            src = last_src
    return insn, src


def last_message(log: str) -> str:
    """The verifier's own complaint: the last non-statistics line of the log."""
    for line in reversed(log.strip().splitlines()):
        line = line.strip()
        if not line or line.startswith(("processed ", "verification time", "stack depth",
                                         "mark_precise", "Validating ", "Func#")):
            continue
        return line
    return "no verifier log"
