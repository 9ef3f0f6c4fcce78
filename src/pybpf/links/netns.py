"""Network-namespace hooks (``SEC("sk_lookup")``, ``SEC("flow_dissector")``): a bpf link on
a network namespace, so the program runs for every socket lookup (or packet dissection)
in it, as libbpf's ``bpf_program__attach_netns()`` makes."""

from __future__ import annotations

import os

from .. import errors
from .base import Link, link_create


def attach(prog, netns=None, attach_type: int | None = None) -> Link:
    """Attach ``prog`` to network namespace ``netns``: None (this process's), a path
    (``/run/netns/NAME``, ``/proc/PID/ns/net``) or an open fd; the hook is the one the
    program was loaded for (``attach_type``)."""
    if attach_type is None:
        attach_type = getattr(getattr(prog, "spec", None), "expected_attach_type", 0)
    if not attach_type:
        raise ValueError(f"program {prog.name!r}: give attach_type (its section names no "
                         "network-namespace hook)")
    path = "/proc/self/ns/net" if netns is None else netns
    if isinstance(path, int):
        fd, target, own = path, f"netns fd {path}", False
    else:
        path = os.fspath(path)
        try:
            fd, target, own = os.open(path, os.O_RDONLY | os.O_CLOEXEC), path, True
        except FileNotFoundError:
            raise errors.NotFoundError(2, "netns attach", f"no network namespace at {path!r}"
                                       ) from None
    try:
        link = link_create(prog.fileno(), fd, attach_type, what=f"netns {target}")
    except errors.KernelError as e:
        if e.errno != 22:                       # EINVAL: not a netns (or a wrong type)
            raise
        raise errors.AttachError(22, "netns attach", f"{target} is not a network namespace "
                                 "(or the program is not sk_lookup/flow_dissector)") from None
    finally:
        if own:
            os.close(fd)
    return Link(link, kind="netns", target=target)
