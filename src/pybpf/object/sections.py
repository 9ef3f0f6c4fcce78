"""libbpf ``SEC()`` names: program type, expected attach type, flags and the attach target.

The table follows libbpf's conventions (same names, same order, same matching rules):
a pattern ending in ``+`` matches the bare name or ``name/anything``; one ending in ``/``
needs the ``/``; any other pattern must match exactly.  The first match wins.
"""

from __future__ import annotations

from collections import namedtuple

from .._record import IntTable, Record

from .._sys.uapi import AttachType as A
from .._sys.uapi import ProgType as P

__all__ = ["SecFlag", "SecDef", "AttachTarget", "SectionInfo", "SECTION_DEFS", "parse_section",
           "find_def", "find_legacy_def"]


class SecFlag(IntTable, flag=True):
    """Properties of a section definition."""

    NONE = 0
    EXP_ATTACH_OPT = 1       # pass expected_attach_type only if the kernel accepts it
    ATTACHABLE = 2           # attached with BPF_PROG_ATTACH / link_create by attach type
    ATTACH_BTF = 4           # needs attach_btf_id (fentry, lsm, iter, tp_btf ...)
    SLEEPABLE = 8            # BPF_F_SLEEPABLE
    XDP_FRAGS = 16           # BPF_F_XDP_HAS_FRAGS
    USDT = 32                # USDT: needs the usdt helper maps


_OPT = SecFlag.ATTACHABLE | SecFlag.EXP_ATTACH_OPT
_ATT = SecFlag.ATTACHABLE
_BTF = SecFlag.ATTACH_BTF
_SLP = SecFlag.SLEEPABLE
_FRG = SecFlag.XDP_FRAGS | SecFlag.ATTACHABLE


class SecDef(namedtuple("SecDef", "pattern prog_type attach_type flags auto_attach",
                        defaults=(None,))):
    """One row of the table: ``pattern`` -> program type, attach type, flags, auto-attach."""

    # auto_attach: attach family that can attach it from the name alone
    __slots__ = ()

    def matches(self, name: str) -> bool:
        """libbpf's matching rule for this pattern."""
        pat = self.pattern
        if pat.endswith("/"):
            return name.startswith(pat)
        if pat.endswith("+"):
            stem = pat[:-1]
            return name == stem or name.startswith(stem + "/")
        return name == pat


def _d(pattern: str, pt: P, at: A | None = None, flags: SecFlag = SecFlag.NONE,
       auto: str | None = None) -> SecDef:
    return SecDef(pattern, pt, at, flags, auto)


SECTION_DEFS: tuple[SecDef, ...] = (
    _d("socket", P.SOCKET_FILTER),
    _d("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, _ATT),
    _d("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, _ATT),
    _d("kprobe+", P.KPROBE, None, SecFlag.NONE, "kprobe"),
    _d("uprobe+", P.KPROBE, None, SecFlag.NONE, "uprobe"),
    _d("uprobe.s+", P.KPROBE, None, _SLP, "uprobe"),
    _d("kretprobe+", P.KPROBE, None, SecFlag.NONE, "kprobe"),
    _d("uretprobe+", P.KPROBE, None, SecFlag.NONE, "uprobe"),
    _d("uretprobe.s+", P.KPROBE, None, _SLP, "uprobe"),
    _d("kprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, SecFlag.NONE, "kprobe_multi"),
    _d("kretprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, SecFlag.NONE, "kprobe_multi"),
    _d("kprobe.session+", P.KPROBE, A.TRACE_KPROBE_SESSION, SecFlag.NONE, "kprobe_multi"),
    _d("uprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, SecFlag.NONE, "uprobe_multi"),
    _d("uretprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, SecFlag.NONE, "uprobe_multi"),
    _d("uprobe.session+", P.KPROBE, A.TRACE_UPROBE_SESSION, SecFlag.NONE, "uprobe_multi"),
    _d("uprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, _SLP, "uprobe_multi"),
    _d("uretprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, _SLP, "uprobe_multi"),
    _d("ksyscall+", P.KPROBE, None, SecFlag.NONE, "ksyscall"),
    _d("kretsyscall+", P.KPROBE, None, SecFlag.NONE, "ksyscall"),
    _d("usdt+", P.KPROBE, None, SecFlag.USDT, "usdt"),
    _d("usdt.s+", P.KPROBE, None, SecFlag.USDT | _SLP, "usdt"),
    _d("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    _d("tc/egress", P.SCHED_CLS, A.TCX_EGRESS),
    _d("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    _d("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS),
    _d("tc", P.SCHED_CLS),
    _d("classifier", P.SCHED_CLS),
    _d("action", P.SCHED_ACT),
    _d("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY),
    _d("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER),
    _d("tracepoint+", P.TRACEPOINT, None, SecFlag.NONE, "tracepoint"),
    _d("tp+", P.TRACEPOINT, None, SecFlag.NONE, "tracepoint"),
    _d("raw_tracepoint+", P.RAW_TRACEPOINT, None, SecFlag.NONE, "raw_tp"),
    _d("raw_tp+", P.RAW_TRACEPOINT, None, SecFlag.NONE, "raw_tp"),
    _d("raw_tracepoint.w+", P.RAW_TRACEPOINT_WRITABLE, None, SecFlag.NONE, "raw_tp"),
    _d("raw_tp.w+", P.RAW_TRACEPOINT_WRITABLE, None, SecFlag.NONE, "raw_tp"),
    _d("tp_btf+", P.TRACING, A.TRACE_RAW_TP, _BTF, "tracing"),
    _d("fentry+", P.TRACING, A.TRACE_FENTRY, _BTF, "tracing"),
    _d("fmod_ret+", P.TRACING, A.MODIFY_RETURN, _BTF, "tracing"),
    _d("fexit+", P.TRACING, A.TRACE_FEXIT, _BTF, "tracing"),
    _d("fentry.s+", P.TRACING, A.TRACE_FENTRY, _BTF | _SLP, "tracing"),
    _d("fmod_ret.s+", P.TRACING, A.MODIFY_RETURN, _BTF | _SLP, "tracing"),
    _d("fexit.s+", P.TRACING, A.TRACE_FEXIT, _BTF | _SLP, "tracing"),
    _d("freplace+", P.EXT, None, _BTF, "tracing"),
    _d("lsm+", P.LSM, A.LSM_MAC, _BTF, "lsm"),
    _d("lsm.s+", P.LSM, A.LSM_MAC, _BTF | _SLP, "lsm"),
    _d("lsm_cgroup+", P.LSM, A.LSM_CGROUP, _BTF),
    _d("iter+", P.TRACING, A.TRACE_ITER, _BTF, "iter"),
    _d("iter.s+", P.TRACING, A.TRACE_ITER, _BTF | _SLP, "iter"),
    _d("syscall", P.SYSCALL, None, _SLP),
    _d("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, _FRG),
    _d("xdp/devmap", P.XDP, A.XDP_DEVMAP, _ATT),
    _d("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, _FRG),
    _d("xdp/cpumap", P.XDP, A.XDP_CPUMAP, _ATT),
    _d("xdp.frags", P.XDP, A.XDP, _FRG),
    _d("xdp", P.XDP, A.XDP, _OPT),
    _d("perf_event", P.PERF_EVENT),
    _d("lwt_in", P.LWT_IN),
    _d("lwt_out", P.LWT_OUT),
    _d("lwt_xmit", P.LWT_XMIT),
    _d("lwt_seg6local", P.LWT_SEG6LOCAL),
    _d("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, _OPT),
    _d("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, _OPT),
    _d("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, _OPT),
    _d("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, _OPT),
    _d("sk_skb", P.SK_SKB),
    _d("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, _OPT),
    _d("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, _OPT),
    _d("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, _OPT),
    _d("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, _OPT),
    _d("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, _OPT),
    _d("cgroup/skb", P.CGROUP_SKB),
    _d("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, _ATT),
    _d("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, _ATT),
    _d("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, _OPT),
    _d("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, _ATT),
    _d("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, _ATT),
    _d("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, _ATT),
    _d("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, _ATT),
    _d("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, _ATT),
    _d("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, _ATT),
    _d("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, _ATT),
    _d("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, _ATT),
    _d("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, _ATT),
    _d("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, _ATT),
    _d("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, _ATT),
    _d("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, _ATT),
    _d("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, _ATT),
    _d("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, _ATT),
    _d("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, _ATT),
    _d("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, _ATT),
    _d("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, _ATT),
    _d("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, _ATT),
    _d("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, _ATT),
    _d("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, _ATT),
    _d("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, _ATT),
    _d("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, _ATT),
    _d("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, _OPT),
    _d("struct_ops+", P.STRUCT_OPS),
    _d("struct_ops.s+", P.STRUCT_OPS, None, _SLP),
    _d("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, _ATT),
    _d("netfilter", P.NETFILTER, A.NETFILTER),
)


class AttachTarget(namedtuple("AttachTarget", "name category path offset provider module "
                              "retprobe", defaults=("", "", "", 0, "", "", False))):
    """What the part of a section name after the type prefix names (fields per family).

    ``name`` is the function, hook, tracepoint or iterator; ``category`` the tracepoint
    category; ``path``/``offset`` the uprobe binary and offset; ``provider`` the USDT provider;
    ``module`` a kernel module (``fentry/mod:func``); ``retprobe`` for return probes.
    """

    __slots__ = ()


class SectionInfo(Record):
    """The outcome of looking up a section name; plain, changeable attributes."""

    # extra: the raw text after "prefix/" ("" when absent)
    _fields = ('section', 'prog_type', 'expected_attach_type', 'flags', 'auto_attach',
               'target', 'extra', 'sec_def')
    _norepr = ('sec_def',)

    def __init__(self, section, prog_type, expected_attach_type, flags, auto_attach,
                 target=None, extra="", sec_def=None):
        self.section = section
        self.prog_type = prog_type
        self.expected_attach_type = expected_attach_type
        self.flags = flags
        self.auto_attach = auto_attach
        self.target = target
        self.extra = extra
        self.sec_def = sec_def

    @property
    def sleepable(self) -> bool:
        """Loaded with BPF_F_SLEEPABLE."""
        return bool(self.flags & SecFlag.SLEEPABLE)

    @property
    def xdp_frags(self) -> bool:
        """Loaded with BPF_F_XDP_HAS_FRAGS."""
        return bool(self.flags & SecFlag.XDP_FRAGS)

    @property
    def needs_btf_id(self) -> bool:
        """Needs attach_btf_id at load time (see :meth:`btf_target`)."""
        return bool(self.flags & SecFlag.ATTACH_BTF)

    def btf_target(self) -> tuple[str, str, str] | None:
        """(kernel BTF name, BTF kind "func"/"typedef", module) to resolve attach_btf_id."""
        if not self.needs_btf_id or self.target is None or not self.target.name:
            return None
        t = self.target
        if self.prog_type == P.LSM:
            return "bpf_lsm_" + t.name, "func", t.module
        if self.expected_attach_type == A.TRACE_ITER:
            return "bpf_iter_" + t.name, "func", t.module
        if self.expected_attach_type == A.TRACE_RAW_TP:
            return "btf_trace_" + t.name, "typedef", t.module
        return t.name, "func", t.module


def find_def(section: str) -> SecDef | None:
    """The first table row matching ``section``, or None."""
    for d in SECTION_DEFS:
        if d.matches(section):
            return d
    return None


# The rows libbpf before 1.0 matched as bare prefixes (its SEC_SLOPPY_PFX): SEC("xdp_ttl"),
# SEC("xdp/icmp"), SEC("socket1"), SEC("classifier_egress") were XDP, socket, cls programs.
_SLOPPY_PREFIXES = frozenset((
    "socket", "sk_reuseport/migrate", "sk_reuseport", "classifier", "action", "xdp",
    "perf_event", "lwt_in", "lwt_out", "lwt_xmit", "lwt_seg6local", "cgroup_skb/ingress",
    "cgroup_skb/egress", "cgroup/skb", "cgroup/sock_create", "cgroup/sock_release",
    "cgroup/sock", "cgroup/post_bind4", "cgroup/post_bind6", "cgroup/dev", "sockops",
    "sk_skb/stream_parser", "sk_skb/stream_verdict", "sk_skb", "sk_msg", "lirc_mode2",
    "flow_dissector", "cgroup/bind4", "cgroup/bind6", "cgroup/connect4", "cgroup/connect6",
    "cgroup/sendmsg4", "cgroup/sendmsg6", "cgroup/recvmsg4", "cgroup/recvmsg6",
    "cgroup/getpeername4", "cgroup/getpeername6", "cgroup/getsockname4",
    "cgroup/getsockname6", "cgroup/sysctl", "cgroup/getsockopt", "cgroup/setsockopt",
    "sk_lookup"))


def find_legacy_def(section: str) -> SecDef | None:
    """The row libbpf 0.x (its default, non-strict mode) picked for ``section``: the exact
    rules first, then the first row of ``_SLOPPY_PREFIXES`` that is a prefix of the name.
    For objects of that era only (legacy ``SEC("maps")``), which libbpf 1.x refuses whole."""
    d = find_def(section)
    if d is not None:
        return d
    for d in SECTION_DEFS:
        if d.pattern in _SLOPPY_PREFIXES and section.startswith(d.pattern):
            return d
    return None


def parse_section(section: str, legacy: bool = False) -> SectionInfo | None:
    """Program type, attach type, flags and parsed attach target for a SEC() name;
    ``legacy``: with libbpf 0.x's prefix rules (:func:`find_legacy_def`)."""
    d = find_legacy_def(section) if legacy else find_def(section)
    if d is None:
        return None
    stem = d.pattern.rstrip("+")
    extra = section[len(stem) + 1:] if len(section) > len(stem) and d.pattern.endswith("+") \
        else ""
    info = SectionInfo(section, d.prog_type, d.attach_type, d.flags, d.auto_attach,
                       None, extra, d)
    info.target = _parse_target(d, stem, extra)
    return info


_HEXDIGITS = frozenset("0123456789abcdefABCDEF")
_KPROBE_NAME = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.$@")


def _num(text: str) -> int:
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def _is_offset(text: str) -> bool:
    """An offset as probe section names write it: ``0x`` and hex digits, or decimal."""
    if text.startswith("0x") and len(text) > 2:
        return _HEXDIGITS.issuperset(text[2:])
    return text.isdecimal()


# Probe targets are split by hand, the way the patterns
#   kprobe: ^([A-Za-z0-9_.$@]+?)(?:\+(0x[0-9a-fA-F]+|\d+))?$
#   uprobe: ^([^:]+):(.+?)(?:\+(0x[0-9a-fA-F]+|\d+))?$
# match (tests check it): importing re would cost a cold load ~3 ms.

def _split_kprobe(extra: str) -> tuple[str, str] | None:
    """(function, offset text or "") of ``func[+off]``, or None."""
    if extra.endswith("\n"):
        extra = extra[:-1]                  # a pattern's $ also matches there
    name, plus, off = extra.partition("+")
    if not name or not _KPROBE_NAME.issuperset(name) or (plus and not _is_offset(off)):
        return None
    return name, off


def _split_uprobe(extra: str) -> tuple[str, str, str] | None:
    """(path, function, offset text or "") of ``path:func[+off]``, or None."""
    if extra.endswith("\n"):
        extra = extra[:-1]
    path, colon, rest = extra.partition(":")
    if not path or not colon or not rest or "\n" in rest:
        return None
    func, plus, off = rest.rpartition("+")
    if plus and func and _is_offset(off):
        return path, func, off
    return path, rest, ""


def _parse_target(d: SecDef, stem: str, extra: str) -> AttachTarget | None:
    """Split ``extra`` according to the attach family; None when it does not parse."""
    kind = d.auto_attach
    ret = stem.startswith(("kret", "uret"))
    if not extra:
        return None
    if kind == "tracepoint":
        cat, sep, name = extra.partition("/")
        return AttachTarget(name=name, category=cat) if sep and cat and name else None
    if kind in ("raw_tp", "iter", "lsm", "kprobe_multi", "uprobe_multi"):
        if kind == "uprobe_multi":
            # as libbpf's sscanf("%m[^:]:%m[^\n]"): the path ends at the first colon
            path, sep, func = extra.partition(":")
            func = func.partition("\n")[0]
            return AttachTarget(name=func, path=path, retprobe=ret) \
                if path and func else None
        return AttachTarget(name=extra, retprobe=ret)
    if kind == "tracing" or (d.flags & SecFlag.ATTACH_BTF):
        mod, sep, func = extra.partition(":")
        return AttachTarget(name=func, module=mod) if sep else AttachTarget(name=extra)
    if kind == "ksyscall":
        return AttachTarget(name=extra, retprobe=ret)
    if kind == "kprobe":
        parts = _split_kprobe(extra)
        if parts is None:
            return None
        return AttachTarget(name=parts[0], offset=_num(parts[1] or "0"), retprobe=ret)
    if kind == "uprobe":
        parts = _split_uprobe(extra)
        if parts is None:
            return None
        path, func, off = parts
        if _is_offset(func):
            return AttachTarget(path=path, offset=_num(func), retprobe=ret)
        return AttachTarget(name=func, path=path, offset=_num(off or "0"), retprobe=ret)
    if kind == "usdt":
        parts = extra.rsplit(":", 2)
        if len(parts) != 3 or not all(parts):
            return None
        return AttachTarget(path=parts[0], provider=parts[1], name=parts[2])
    return AttachTarget(name=extra)
