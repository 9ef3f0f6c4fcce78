"""pybpf's error hierarchy: a few typed errors whose messages say what to do next.

Every error pybpf raises on purpose derives from :class:`PybpfError`.  Errors
that come from a kernel call also derive from :class:`KernelError` (and so from
``OSError``), carry ``errno`` and name the operation that failed.
"""

from __future__ import annotations

import errno as _errno
import os

__all__ = [
    "PybpfError", "KernelError", "VerifierError", "NotSupportedError",
    "MissingPrivilegeError", "NotFoundError", "BTFError", "ELFError",
    "CompileError", "AttachError", "ReadOnlyError", "PinnedMapError", "from_errno",
    "expect_map_type",
]


class PybpfError(Exception):
    """Base of every error pybpf raises on purpose."""


class KernelError(PybpfError, OSError):
    """A kernel call failed; ``errno`` and ``op`` say which and why."""

    def __init__(self, err: int, op: str, detail: str = ""):
        self.op = op
        self.detail = detail
        msg = f"{op}: {os.strerror(err)} (errno {_errno.errorcode.get(err, err)})"
        if detail:
            msg += f": {detail}"
        OSError.__init__(self, err, msg)

    def __str__(self) -> str:  # OSError's default prefixes "[Errno N]"; ours already says it
        return self.strerror or ""


class MissingPrivilegeError(KernelError, PermissionError):
    """The kernel refused for lack of a privilege; ``capability`` names the one to get."""

    def __init__(self, err: int, op: str, capability: str = "CAP_BPF", detail: str = ""):
        self.capability = capability
        hint = f"needs {capability} (run as root or grant the capability)"
        super().__init__(err, op, f"{detail}; {hint}" if detail else hint)


class NotSupportedError(KernelError):
    """The running kernel lacks a feature; ``feature`` names it, ``reason`` says how we know."""

    def __init__(self, feature: str, reason: str = "", err: int = _errno.EOPNOTSUPP,
                 op: str = ""):
        self.feature = feature
        self.reason = reason
        text = f"{feature} is not supported by this kernel ({os.uname().release})"
        if reason:
            text += f": {reason}"
        super().__init__(err, op or feature, "")
        self.strerror = text
        self.args = (err, text)


class NotFoundError(KernelError, FileNotFoundError):
    """A named target (attach point, pinned object, symbol) does not exist."""


class AttachError(KernelError):
    """Attaching a program to a hook failed for a reason other than a missing feature."""




class VerifierError(KernelError):
    """The verifier rejected a program; ``log`` is its full log.

    ``insn`` is the index of the instruction the verifier last reported on
    (where it stopped) and ``source_line`` the C line it printed for it, when
    the program carried BTF line info.
    """

    def __init__(self, err: int, program: str, log: str, truncated: bool = False):
        self.program = program
        self.log = log
        self.truncated = truncated
        from .loaderror import failing_location, last_message   # only for a rejection
        self.insn, self.source_line = failing_location(log)
        self.reason = last_message(log)
        where = ""
        if self.insn is not None:
            where = f" at instruction {self.insn}"
        if self.source_line:
            where += f" ({self.source_line})"
        detail = f"verifier rejected program {program!r}{where}: {self.reason}"
        if truncated:
            detail += " [log truncated]"
        super().__init__(err, "BPF_PROG_LOAD", detail)

    def __str__(self) -> str:
        tail = "\n".join(self.log.rstrip().splitlines()[-12:])
        return f"{self.strerror}\nverifier log (last lines):\n{tail}" if tail else self.strerror


class BTFError(PybpfError, ValueError):
    """BTF bytes are malformed, or a type is not what the caller needs."""


class ELFError(PybpfError, ValueError):
    """An ELF object is malformed or not a BPF object."""


class PinnedMapError(PybpfError, ValueError):
    """A map pinned where an object wants to reuse one has another shape (type, sizes,
    max_entries or flags) than the object defines."""


class ReadOnlyError(PybpfError, AttributeError):
    """A write to something frozen once loaded (a ``.rodata``/``.kconfig`` global).  An
    AttributeError too, as assigning a read-only Python attribute is, so ``obj.rodata.x = 1``
    and ``obj.set_global("x", 1)`` raise the same thing and the CLI prints one line."""


class CompileError(PybpfError):
    """clang failed; ``diagnostics`` holds what it printed."""

    def __init__(self, message: str, diagnostics: str = "", argv: list[str] | None = None):
        self.diagnostics = diagnostics
        self.argv = argv or []
        super().__init__(f"{message}\n{diagnostics}".rstrip())


def from_errno(err: int, op: str, detail: str = "", feature: str | None = None) -> KernelError:
    """Map an errno from a kernel call to the right typed error.

    ``feature`` names what the call needed, so EINVAL/EOPNOTSUPP/E2BIG, which the
    kernel returns for unknown commands, types and attr fields, say what is missing.
    """
    if err == _errno.EPERM or err == _errno.EACCES:
        from .caps import CAP_SYS_ADMIN, has
        if has(CAP_SYS_ADMIN):
            # all capabilities held: the refusal is about the object or the request (a
            # file that is no BPF object, a frozen map, lockdown), not a missing privilege
            return KernelError(err, op, detail)
        return MissingPrivilegeError(err, op, "CAP_BPF (and CAP_PERFMON/CAP_NET_ADMIN for "
                                     "tracing/network programs)", detail)
    if err == _errno.ENOENT or err == _errno.ESRCH:
        return NotFoundError(err, op, detail)
    if feature and err in (_errno.EOPNOTSUPP, _errno.ENOTSUPP if hasattr(_errno, "ENOTSUPP")
                           else 524, 524, _errno.ENOSYS):
        return NotSupportedError(feature, detail or os.strerror(err), err, op)
    return KernelError(err, op, detail)


def expect_map_type(m, want: int, what: str) -> None:
    """ValueError unless map ``m`` (a Map; anything without ``type`` passes) has type
    ``want``: a reader handed the wrong map says so in one line."""
    t = getattr(m, "type", None)
    if t is None or t == want:
        return
    from ._sys.uapi import MapType
    try:
        tname = MapType(t).name.lower()
    except ValueError:
        tname = str(t)
    raise ValueError(f"map {getattr(m, 'name', '?')!r} has type {tname}: not {what}")
