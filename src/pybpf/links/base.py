"""Link: what keeps a program attached; closing it detaches the program."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .. import info

from .. import errors    # info on first use, bpffs only where pinning: off a tool's start
from .._sys import attr, syscall
from .._sys.uapi import Cmd
from ..fd import FD


class Link:
    """An attachment. Owns the link fd and any helper fds (e.g. the perf event it rides on).

    ``close()`` detaches (unless the link is pinned, in which case the pin keeps it).
    """

    def __init__(self, fd: FD | None, *, kind: str, target: str, extra: list[FD] | None = None,
                 detach=None):
        self.fd = fd
        self.kind = kind          # e.g. "tracepoint", "raw_tp", "xdp"
        self.target = target      # human-readable hook, e.g. "syscalls:sys_enter_execve"
        self._extra = extra or []
        self._detach = detach     # for attachments that are not bpf links (legacy APIs)

    @classmethod
    def from_pin(cls, path: str) -> "Link":
        """The link pinned at ``path`` (closing this object leaves the pin, and so the
        attachment, in place; :func:`pybpf.bpffs.unpin` detaches it)."""
        from .. import bpffs
        fd = bpffs.get(path)
        try:
            from ..info import link_info
            li = link_info(fd.fileno())
        except BaseException:
            fd.close()
            raise
        return cls(fd, kind=li.type_name, target=path)

    def fileno(self) -> int:
        if self.fd is None:
            raise errors.PybpfError(f"{self.kind} attachment {self.target} has no link fd")
        return self.fd.fileno()

    @property
    def id(self) -> int:
        from ..info import link_info
        return link_info(self.fileno()).id

    def info(self) -> info.LinkInfo:
        from ..info import link_info
        return link_info(self.fileno())

    def pin(self, path: str) -> None:
        from .. import bpffs
        bpffs.pin(self.fileno(), path)

    def update(self, prog) -> None:
        """Swap the attached program without a gap (BPF_LINK_UPDATE)."""
        syscall.bpf(Cmd.LINK_UPDATE, attr.LinkUpdate(link_fd=self.fileno(),
                                                     new_prog_fd=prog.fileno()))

    def detach(self) -> None:
        """Detach even if pinned or shared (BPF_LINK_DETACH), then close."""
        if self.fd is not None and not self.fd.closed:
            syscall.bpf(Cmd.LINK_DETACH, attr.LinkDetach(link_fd=self.fd.fileno()))
        self.close()

    @property
    def closed(self) -> bool:
        return (self.fd is None or self.fd.closed) and not self._extra and self._detach is None

    def close(self) -> None:
        if self._detach is not None:
            fn, self._detach = self._detach, None
            fn()
        if self.fd is not None:
            self.fd.close()
        for fd in self._extra:
            fd.close()
        self._extra = []

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Link {self.kind} {self.target}{' closed' if self.closed else ''}>"


def link_create(prog_fd: int, target_fd: int, attach_type: int, *, flags: int = 0,
                what: str, feature: str | None = None, **tail) -> FD:
    """BPF_LINK_CREATE with the per-type tail given as ``tail`` (e.g. ``tcx=...``)."""
    a = attr.LinkCreate(prog_fd=prog_fd, target_fd=target_fd, attach_type=attach_type,
                        flags=flags)
    for name, value in tail.items():
        setattr(a.u, name, value)
    return FD(syscall.bpf(Cmd.LINK_CREATE, a, detail=what, feature=feature))


def perf_event_link(prog, perf_fd: FD, *, kind: str, target: str,
                    cookie: int = 0, via_ioctl: bool = False) -> Link:
    """Attach a program (a Program, or a program fd) to an open perf event: a bpf link
    where the kernel has it (5.15+), else (or with ``via_ioctl``) the older
    PERF_EVENT_IOC_SET_BPF ioctl.  The Link owns the perf event fd.  A cookie without a
    bpf link attaches a copy of the Program made to see it (:mod:`.cookies`)."""
    from .._sys import perf
    from .._sys.uapi import AttachType
    prog_fd = prog if isinstance(prog, int) else prog.fileno()
    if not via_ioctl:
        try:
            fd = link_create(prog_fd, perf_fd.fileno(), AttachType.PERF_EVENT, what=target,
                             perf_event=attr._LinkTarget._PerfEvent(bpf_cookie=cookie))
            return Link(fd, kind=kind, target=target, extra=[perf_fd])
        except errors.KernelError as e:
            if e.errno == 13 and kind == "tracepoint":
                perf_fd.close()
                raise _tracepoint_refused(target) from None
            if isinstance(e, errors.MissingPrivilegeError) or e.errno not in (22, 95, 524):
                perf_fd.close()
                raise
    extra: list = [perf_fd]
    try:
        if cookie:
            if isinstance(prog, int):
                raise errors.NotSupportedError(
                    "bpf cookies", "this kernel has none (5.15+): pass the Program, not its "
                    "fd, so that a copy seeing the cookie can be loaded")
            from .cookies import program_with_cookie
            copy = program_with_cookie(prog, cookie)
            if copy is not None:
                extra.append(copy)      # closed after the perf event, which holds it
                prog_fd = copy.fileno()
        syscall.ioctl(perf_fd.fileno(), perf.IOC_SET_BPF, prog_fd, op="PERF_EVENT_IOC_SET_BPF")
        syscall.ioctl(perf_fd.fileno(), perf.IOC_ENABLE, 0, op="PERF_EVENT_IOC_ENABLE")
    except BaseException as e:
        for x in extra:
            x.close()
        if isinstance(e, errors.KernelError) and e.errno == 13 and kind == "tracepoint":
            raise _tracepoint_refused(target) from None
        raise
    return Link(None, kind=kind, target=target, extra=extra)


def _tracepoint_refused(target: str) -> errors.AttachError:
    # perf_event_set_bpf_prog refuses a program whose context reads go past the
    # tracepoint's record: a layout mistake, not a missing privilege
    return errors.AttachError(13, "attach tracepoint", f"{target}: the kernel refused the "
                              "program because it reads past the end of the tracepoint's "
                              "record (check the offsets it reads from its context)")


