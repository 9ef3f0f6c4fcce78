"""Which capabilities this process has: so errors say "needs root" only when that is the
cause, and tools refuse early (before compiling anything) when it is."""

from __future__ import annotations

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39


def effective() -> int:
    """The effective capability mask (CapEff in /proc/self/status), 0 when unreadable."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def has(cap: int, mask: int | None = None) -> bool:
    return bool((effective() if mask is None else mask) >> cap & 1)


def can_trace(mask: int | None = None) -> bool:
    """CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON: what loading tracing programs needs."""
    mask = effective() if mask is None else mask
    return has(CAP_SYS_ADMIN, mask) or (has(CAP_BPF, mask) and has(CAP_PERFMON, mask))


def can_bpf(mask: int | None = None) -> bool:
    """CAP_SYS_ADMIN or CAP_BPF: what any privileged bpf(2) command needs."""
    mask = effective() if mask is None else mask
    return has(CAP_SYS_ADMIN, mask) or has(CAP_BPF, mask)


def require_bpf(what: str = "loading BPF programs", tracing: bool = True) -> None:
    """Raise MissingPrivilegeError unless this process may load (tracing) programs: checked
    before anything is compiled or cached, so an unprivileged run fails at once."""
    if not (can_trace() if tracing else can_bpf()):
        from .errors import MissingPrivilegeError
        raise MissingPrivilegeError(1, what, "CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN"
                                    if tracing else "CAP_BPF or CAP_SYS_ADMIN")
