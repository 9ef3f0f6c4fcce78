"""pybpf.object.sections: SEC() names -> program type, attach type, flags, attach target."""

from __future__ import annotations

import pytest

from pybpf._sys.uapi import AttachType as A
from pybpf._sys.uapi import ProgType as P
from pybpf.object.sections import SECTION_DEFS, AttachTarget, SecFlag, find_def, parse_section

CASES = [
    # name, prog type, expected attach type, sleepable, auto-attach family
    ("tracepoint/syscalls/sys_enter_execve", P.TRACEPOINT, None, False, "tracepoint"),
    ("tp/sched/sched_switch", P.TRACEPOINT, None, False, "tracepoint"),
    ("raw_tracepoint/sched_switch", P.RAW_TRACEPOINT, None, False, "raw_tp"),
    ("raw_tp/sched_switch", P.RAW_TRACEPOINT, None, False, "raw_tp"),
    ("raw_tp.w/bpf_test_finish", P.RAW_TRACEPOINT_WRITABLE, None, False, "raw_tp"),
    ("raw_tracepoint.w/x", P.RAW_TRACEPOINT_WRITABLE, None, False, "raw_tp"),
    ("tp_btf/sched_wakeup", P.TRACING, A.TRACE_RAW_TP, False, "tracing"),
    ("fentry/do_unlinkat", P.TRACING, A.TRACE_FENTRY, False, "tracing"),
    ("fexit/do_unlinkat", P.TRACING, A.TRACE_FEXIT, False, "tracing"),
    ("fmod_ret/security_file_open", P.TRACING, A.MODIFY_RETURN, False, "tracing"),
    ("fentry.s/f", P.TRACING, A.TRACE_FENTRY, True, "tracing"),
    ("fexit.s/f", P.TRACING, A.TRACE_FEXIT, True, "tracing"),
    ("fmod_ret.s/f", P.TRACING, A.MODIFY_RETURN, True, "tracing"),
    ("freplace/handler", P.EXT, None, False, "tracing"),
    ("kprobe/do_unlinkat", P.KPROBE, None, False, "kprobe"),
    ("kretprobe/do_unlinkat", P.KPROBE, None, False, "kprobe"),
    ("kprobe.multi/vfs_*", P.KPROBE, A.TRACE_KPROBE_MULTI, False, "kprobe_multi"),
    ("kretprobe.multi/vfs_*", P.KPROBE, A.TRACE_KPROBE_MULTI, False, "kprobe_multi"),
    ("ksyscall/openat", P.KPROBE, None, False, "ksyscall"),
    ("uprobe//bin/bash:readline", P.KPROBE, None, False, "uprobe"),
    ("uretprobe//bin/bash:readline", P.KPROBE, None, False, "uprobe"),
    ("uprobe.s//bin/bash:readline", P.KPROBE, None, True, "uprobe"),
    ("uretprobe.s//bin/bash:readline", P.KPROBE, None, True, "uprobe"),
    ("uprobe.multi//bin/bash:read*", P.KPROBE, A.TRACE_UPROBE_MULTI, False, "uprobe_multi"),
    ("uprobe.multi.s//bin/bash:read*", P.KPROBE, A.TRACE_UPROBE_MULTI, True, "uprobe_multi"),
    ("usdt/./app:prov:probe", P.KPROBE, None, False, "usdt"),
    ("usdt.s/./app:prov:probe", P.KPROBE, None, True, "usdt"),
    ("xdp", P.XDP, A.XDP, False, None),
    ("xdp.frags", P.XDP, A.XDP, False, None),
    ("xdp/devmap", P.XDP, A.XDP_DEVMAP, False, None),
    ("xdp/cpumap", P.XDP, A.XDP_CPUMAP, False, None),
    ("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, False, None),
    ("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, False, None),
    ("tc", P.SCHED_CLS, None, False, None),
    ("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS, False, None),
    ("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS, False, None),
    ("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS, False, None),
    ("classifier", P.SCHED_CLS, None, False, None),
    ("action", P.SCHED_ACT, None, False, None),
    ("socket", P.SOCKET_FILTER, None, False, None),
    ("sk_skb", P.SK_SKB, None, False, None),
    ("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, False, None),
    ("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, False, None),
    ("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, False, None),
    ("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, False, None),
    ("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, False, None),
    ("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, False, None),
    ("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, False, None),
    ("cgroup/skb", P.CGROUP_SKB, None, False, None),
    ("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, False, None),
    ("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, False, None),
    ("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, False, None),
    ("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, False, None),
    ("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, False, None),
    ("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, False, None),
    ("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, False, None),
    ("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, False, None),
    ("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, False, None),
    ("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, False, None),
    ("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, False, None),
    ("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, False, None),
    ("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, False, None),
    ("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, False, None),
    ("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, False, None),
    ("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, False, None),
    ("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, False, None),
    ("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, False, None),
    ("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, False, None),
    ("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, False, None),
    ("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, False, None),
    ("lsm/file_open", P.LSM, A.LSM_MAC, False, "lsm"),
    ("lsm.s/bprm_committed_creds", P.LSM, A.LSM_MAC, True, "lsm"),
    ("lsm_cgroup/socket_bind", P.LSM, A.LSM_CGROUP, False, None),
    ("perf_event", P.PERF_EVENT, None, False, None),
    ("iter/task", P.TRACING, A.TRACE_ITER, False, "iter"),
    ("iter.s/task", P.TRACING, A.TRACE_ITER, True, "iter"),
    ("syscall", P.SYSCALL, None, True, None),
    ("struct_ops/test_1", P.STRUCT_OPS, None, False, None),
    ("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, False, None),
    ("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, False, None),
    ("lwt_in", P.LWT_IN, None, False, None),
    ("lwt_out", P.LWT_OUT, None, False, None),
    ("lwt_xmit", P.LWT_XMIT, None, False, None),
    ("lwt_seg6local", P.LWT_SEG6LOCAL, None, False, None),
    ("netfilter", P.NETFILTER, A.NETFILTER, False, None),
    ("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, False, None),
    ("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, False, None),
]


@pytest.mark.parametrize("name,ptype,atype,sleepable,auto", CASES)
def test_table(name, ptype, atype, sleepable, auto):
    info = parse_section(name)
    assert info is not None, name
    assert (info.prog_type, info.expected_attach_type, info.sleepable, info.auto_attach) == (
        ptype, atype, sleepable, auto)


@pytest.mark.parametrize("name", ["", "xdpfoo", "tracepointx/a/b", "socket/x", "kprobes/f",
                                  "cgroup/sockx", "unknown/thing", ".text", "xdp/"])
def test_unknown(name):
    assert parse_section(name) is None


def test_matching_rules():
    # "+" patterns: bare or with "/"; exact ones: only exact
    assert find_def("kprobe").pattern == "kprobe+"
    assert find_def("kprobe/x").pattern == "kprobe+"
    assert find_def("kprobe.multi/x").pattern == "kprobe.multi+"
    assert find_def("cgroup/sock").pattern == "cgroup/sock"
    assert find_def("cgroup/sock_create").pattern == "cgroup/sock_create"
    assert find_def("xdp.frags/devmap").pattern == "xdp.frags/devmap"
    assert len({d.pattern for d in SECTION_DEFS}) == len(SECTION_DEFS)


def test_flags():
    assert parse_section("xdp.frags").xdp_frags
    assert not parse_section("xdp").xdp_frags
    assert parse_section("xdp").flags & SecFlag.EXP_ATTACH_OPT
    assert parse_section("cgroup/connect4").flags & SecFlag.ATTACHABLE
    assert parse_section("fentry/f").needs_btf_id
    assert not parse_section("kprobe/f").needs_btf_id
    assert parse_section("usdt/a:b:c").flags & SecFlag.USDT
    assert parse_section("struct_ops/x").prog_type == P.STRUCT_OPS   # loaded by its maps


@pytest.mark.parametrize("name,target", [
    ("tracepoint/syscalls/sys_enter_execve",
     AttachTarget(name="sys_enter_execve", category="syscalls")),
    ("tp/sched/sched_switch", AttachTarget(name="sched_switch", category="sched")),
    ("tracepoint/nocategory", None),
    ("raw_tp/sched_switch", AttachTarget(name="sched_switch")),
    ("tp_btf/sched_wakeup", AttachTarget(name="sched_wakeup")),
    ("fentry/do_unlinkat", AttachTarget(name="do_unlinkat")),
    ("fentry/bpf_testmod:bpf_testmod_fentry_test1",
     AttachTarget(name="bpf_testmod_fentry_test1", module="bpf_testmod")),
    ("lsm/file_open", AttachTarget(name="file_open")),
    ("iter/task", AttachTarget(name="task")),
    ("kprobe/do_unlinkat", AttachTarget(name="do_unlinkat")),
    ("kprobe/tcp_v4_connect+8", AttachTarget(name="tcp_v4_connect", offset=8)),
    ("kprobe/f.isra.0+0x10", AttachTarget(name="f.isra.0", offset=16)),
    ("kretprobe/do_unlinkat", AttachTarget(name="do_unlinkat", retprobe=True)),
    ("kprobe/bad name", None),
    ("kprobe", None),
    ("kprobe.multi/vfs_*", AttachTarget(name="vfs_*")),
    ("kretprobe.multi/vfs_*", AttachTarget(name="vfs_*", retprobe=True)),
    ("ksyscall/openat", AttachTarget(name="openat")),
    ("kretsyscall/openat", AttachTarget(name="openat", retprobe=True)),
    ("uprobe//bin/bash:readline", AttachTarget(name="readline", path="/bin/bash")),
    ("uretprobe//bin/bash:readline",
     AttachTarget(name="readline", path="/bin/bash", retprobe=True)),
    ("uprobe.s//usr/lib/libc.so.6:malloc+16",
     AttachTarget(name="malloc", path="/usr/lib/libc.so.6", offset=16)),
    ("uprobe//bin/true:0x1234", AttachTarget(path="/bin/true", offset=0x1234)),
    ("uprobe/libc.so.6:malloc@GLIBC_2.2.5",
     AttachTarget(name="malloc@GLIBC_2.2.5", path="libc.so.6")),
    ("uprobe//bin/true", None),
    ("uprobe.multi//bin/bash:read*", AttachTarget(name="read*", path="/bin/bash")),
    ("uretprobe.multi.s/libc.so.6:str*",
     AttachTarget(name="str*", path="libc.so.6", retprobe=True)),
    ("uprobe.multi//opt/a:b:c", AttachTarget(name="b:c", path="/opt/a")),
    ("uprobe.multi//bin/bash", None),
    ("uprobe.multi//bin/bash:", None),
    ("usdt/./app:prov:probe1", AttachTarget(path="./app", provider="prov", name="probe1")),
    ("usdt/lib:x", None),
    ("xdp", None),
])
def test_targets(name, target):
    assert parse_section(name).target == target


@pytest.mark.parametrize("name,btf", [
    ("fentry/do_unlinkat", ("do_unlinkat", "func", "")),
    ("fentry/mod:f", ("f", "func", "mod")),
    ("fexit.s/f", ("f", "func", "")),
    ("lsm/file_open", ("bpf_lsm_file_open", "func", "")),
    ("lsm_cgroup/socket_bind", ("bpf_lsm_socket_bind", "func", "")),
    ("iter/task", ("bpf_iter_task", "func", "")),
    ("tp_btf/sched_wakeup", ("btf_trace_sched_wakeup", "typedef", "")),
    ("kprobe/f", None),
    ("fentry", None),
])
def test_btf_target(name, btf):
    assert parse_section(name).btf_target() == btf


def test_info_is_changeable():
    info = parse_section("kprobe/f")
    info.prog_type = P.TRACING
    assert info.prog_type == P.TRACING


# ---- libbpf 0.x's prefix rules, for objects with legacy SEC("maps") ----------------------

@pytest.mark.parametrize("name,ptype", [
    ("xdp_ttl", P.XDP), ("xdp/icmp", P.XDP), ("xdp_drop_vlan_4011", P.XDP),
    ("socket/sock_filter", P.SOCKET_FILTER), ("socket1", P.SOCKET_FILTER),
    ("classifier_egress", P.SCHED_CLS), ("action/egress", P.SCHED_ACT),
    ("sockops_v4", P.SOCK_OPS), ("cgroup/skb_x", P.CGROUP_SKB),
    ("kprobe/do_unlinkat", P.KPROBE), ("tracepoint/syscalls/sys_enter_openat", P.TRACEPOINT),
])
def test_legacy_objects_read_sections_with_libbpf0_prefixes(name, ptype):
    from pybpf.object.sections import find_legacy_def
    assert find_legacy_def(name).prog_type == ptype
    assert parse_section(name, legacy=True).prog_type == ptype
    if name.startswith(("kprobe/", "tracepoint/")):
        assert find_def(name) is find_legacy_def(name)     # exact rules come first
    else:
        assert parse_section(name) is None, name          # libbpf 1.x: no such type


def test_legacy_prefixes_match_no_free_name():
    from pybpf.object.sections import find_legacy_def
    for name in ("mysection", "ingress_redirect", "kprobe_x", "tracepoint_x", "egress"):
        assert find_legacy_def(name) is None, name


def test_legacy_rules_only_widen_libbpf1s():
    """Any name: libbpf 1.x's answer stands where it has one; otherwise the legacy row is
    a bare-prefix row the name starts with (hypothesis)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from pybpf.object.sections import _SLOPPY_PREFIXES, find_legacy_def
    prefixes = st.sampled_from(sorted(_SLOPPY_PREFIXES) + ["kprobe/", "tp/", "raw_tp", ""])

    @settings(max_examples=300, deadline=None)
    @given(prefixes, st.text(max_size=12))
    def check(prefix, rest):
        name = prefix + rest
        strict, legacy = find_def(name), find_legacy_def(name)
        if strict is not None:
            assert legacy is strict
        elif legacy is not None:
            assert legacy.pattern in _SLOPPY_PREFIXES and name.startswith(legacy.pattern)
    check()
