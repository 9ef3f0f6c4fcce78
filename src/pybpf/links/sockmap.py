"""sockmap/sockhash programs (``SEC("sk_msg")``, ``SEC("sk_skb/stream_verdict")``...): the
program runs for the sockets in the map.  A bpf link (kernel 6.10+, libbpf's
``bpf_program__attach_sockmap()``), else the older BPF_PROG_ATTACH, detached on close."""

from __future__ import annotations

from .. import errors
from .base import Link, link_create


def attach(prog, map, attach_type: int | None = None) -> Link:
    """Attach ``prog`` to sockmap or sockhash ``map`` (a Map or its fd) at the hook the
    program was loaded for (``attach_type``: sk_msg verdict, stream parser/verdict...)."""
    if attach_type is None:
        attach_type = getattr(getattr(prog, "spec", None), "expected_attach_type", 0)
    if not attach_type:
        raise ValueError(f"program {prog.name!r}: give attach_type (its section names no "
                         "sockmap hook: sk_msg, sk_skb/stream_parser, sk_skb/stream_verdict, "
                         "sk_skb/verdict)")
    map_fd = map if isinstance(map, int) else map.fileno()
    name = getattr(map, "name", f"fd {map_fd}")
    try:
        fd = link_create(prog.fileno(), map_fd, attach_type, what=f"sockmap {name}")
        return Link(fd, kind="sockmap", target=name)
    except errors.KernelError as e:
        if e.errno not in (22, 95):             # EINVAL/EOPNOTSUPP: no sockmap links
            raise
    import os
    from .._sys import syscall
    from .._sys.attr_more import ProgAttach
    from .._sys.uapi import Cmd
    target = os.dup(map_fd)             # the map may be closed before the attachment
    prog_fd = os.dup(prog.fileno())
    try:
        syscall.bpf(Cmd.PROG_ATTACH, ProgAttach(target_fd=target, attach_bpf_fd=prog_fd,
                                                 attach_type=attach_type),
                    detail=f"sockmap {name}")
    except BaseException:
        os.close(target)
        os.close(prog_fd)
        raise

    def detach() -> None:
        try:
            syscall.bpf(Cmd.PROG_DETACH, ProgAttach(target_fd=target, attach_bpf_fd=prog_fd,
                                                     attach_type=attach_type))
        except errors.KernelError:
            pass                                # the map was emptied or detached already
        finally:
            os.close(target)
            os.close(prog_fd)
    return Link(None, kind="sockmap", target=name, detach=detach)
