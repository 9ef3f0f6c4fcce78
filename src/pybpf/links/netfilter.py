"""Netfilter hooks (``SEC("netfilter")``, kernel 6.4+): a bpf link at one netfilter hook of
this process's network namespace, at a priority among the other hooks there (iptables'
and nftables' chains), as libbpf's ``bpf_program__attach_netfilter()`` makes.  The
program returns ``NF_ACCEPT`` (1) or ``NF_DROP`` (0)."""

from __future__ import annotations

from .. import errors
from .base import Link, link_create

NFPROTO = {"ipv4": 2, "ipv6": 10}
HOOKS = {"prerouting": 0, "input": 1, "local_in": 1, "forward": 2, "output": 3,
         "local_out": 3, "postrouting": 4}
IP_DEFRAG = 1                  # BPF_F_NETFILTER_IP_DEFRAG: see reassembled packets
_ATTACH_NETFILTER = 45         # BPF_NETFILTER


def attach(prog, family="ipv4", hook="input", priority: int = 1, *,
           defrag: bool = False) -> Link:
    """Attach ``prog`` at netfilter ``hook`` (``"prerouting"``, ``"input"``,
    ``"forward"``, ``"output"``, ``"postrouting"`` or its number) of ``family``
    (``"ipv4"``, ``"ipv6"`` or an NFPROTO_* number), running at ``priority`` (lower runs
    first; the kernel refuses INT_MIN and INT_MAX, and a second program at a priority one
    already holds).  ``defrag`` asks for reassembled IP packets."""
    pf = NFPROTO.get(family, family) if isinstance(family, str) else family
    hooknum = HOOKS.get(hook, hook) if isinstance(hook, str) else hook
    if not isinstance(pf, int):
        raise ValueError(f"family must be 'ipv4', 'ipv6' or an NFPROTO_* number, not "
                         f"{family!r}")
    if not isinstance(hooknum, int):
        raise ValueError(f"hook must be one of {', '.join(HOOKS)} or a number, not {hook!r}")
    where = f"{family}/{hook} priority {priority}"
    try:
        fd = link_create(prog.fileno(), 0, _ATTACH_NETFILTER, what=f"netfilter {where}",
                         feature="netfilter links", netfilter=_opts(pf, hooknum, priority,
                                                                     defrag))
    except errors.KernelError as e:
        if e.errno == 16:                       # EBUSY
            raise errors.AttachError(16, "netfilter attach", f"{where}: another BPF "
                                     "program holds that priority") from None
        raise
    return Link(fd, kind="netfilter", target=where)


def _opts(pf: int, hooknum: int, priority: int, defrag: bool):
    from .._sys.attr import _LinkTarget
    return _LinkTarget._Netfilter(pf=pf, hooknum=hooknum, priority=priority,
                                  flags=IP_DEFRAG if defrag else 0)
