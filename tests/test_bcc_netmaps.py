"""bcc's map macros for networking, sockets and maps of maps (include/pybpf_netmaps.h) and
their table classes (pybpf.bcc.nettables), on the real kernel: programs run through
BPF_PROG_TEST_RUN a known number of times, tables filled from Python."""

from __future__ import annotations

import ctypes as ct
import socket

import pytest

from tests.cgroups import remove_cgroup

from pybpf.bcc.bpf import BPF
from pybpf.bcc.libbcc import lib
from pybpf import errors

pytestmark = pytest.mark.kernel

PKT = b"\x02" * 12 + b"\x08\x00" + bytes(50)


def test_map_of_maps_reaches_the_inner_map():
    """BPF_ARRAY_OF_MAPS/BPF_HASH_OF_MAPS with bcc's quoted inner-map names: a socket
    filter run 7 times counts in the inner array found through the outer map."""
    text = """
BPF_ARRAY(ex1, u64, 4);
BPF_HASH(ex2, int, u64, 4);
BPF_ARRAY_OF_MAPS(maps_array, "ex1", 2);
BPF_HASH_OF_MAPS(maps_hash, u32, "ex2", 2);
int count(struct __sk_buff *skb) {
    int k = 0;
    void *inner = maps_array.lookup(&k);
    if (inner) {
        u64 *v = bpf_map_lookup_elem(inner, &k);
        if (v)
            __sync_fetch_and_add(v, 1);
    }
    return 0;
}
"""
    with BPF(text=text) as b:
        assert sorted(b) == ["ex1", "ex2", "maps_array", "maps_hash"]
        b["maps_array"][ct.c_int(0)] = ct.c_int(b["ex1"].map_fd)
        fn = b.load_func("count", BPF.SOCKET_FILTER)
        for _ in range(7):
            fn.prog.test_run(PKT)
        assert b["ex1"][0].value == 7
        assert lib.bpf_table_fd(b.module, b"ex1") == b["ex1"].map_fd
        assert lib.bpf_table_fd(b.module, b"nope") == -1


def test_redirect_and_socket_maps_from_python():
    """DEVMAP/CPUMAP take an ifindex/queue size, SOCKMAP/SOCKHASH a socket; deleting
    removes the entry (no zeroed slot)."""
    text = """
BPF_DEVMAP(tx_port, 2);
BPF_CPUMAP(cpumap, 2);
BPF_SOCKMAP(socks, 2);
struct key { u32 a, b; };
BPF_SOCKHASH(by_key, struct key, 4);
int xdp_fwd(struct xdp_md *ctx) { return tx_port.redirect_map(0, 0); }
int xdp_cpu(struct xdp_md *ctx) { return cpumap.redirect_map(0, 0); }
"""
    with BPF(text=text) as b:
        kinds = {n: type(b[n]).__name__ for n in b}
        assert kinds == {"tx_port": "DevMap", "cpumap": "CpuMap", "socks": "SockMap",
                         "by_key": "SockHash"}
        lo = socket.if_nametoindex("lo")
        b["tx_port"][0] = ct.c_int(lo)
        assert b["tx_port"][0].value == lo and len(b["tx_port"]) == 2
        del b["tx_port"][0]
        with pytest.raises(KeyError):
            b["tx_port"][0]
        b["cpumap"][1] = ct.c_uint32(192)
        assert b["cpumap"][1].value == 192
        b.load_func("xdp_fwd", BPF.XDP)
        b.load_func("xdp_cpu", BPF.XDP)
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        c = socket.create_connection(srv.getsockname())
        a, _ = srv.accept()
        with srv, c, a:
            b["socks"][0] = c                              # a socket object: its fd
            k = b["by_key"].Key(1, 2)
            b["by_key"][k] = ct.c_int(a.fileno())
            assert len(b["by_key"].keys()) == 1
            del b["by_key"][k]
            assert b["by_key"].keys() == []


def test_raw_socket_on_a_missing_device_is_one_line():
    with BPF(text="int keep(struct __sk_buff *skb) {\n    return -1;\n}\n") as b:
        fn = b.load_func("keep", BPF.SOCKET_FILTER)
        with pytest.raises(errors.NotFoundError, match="no network device 'hnetex-nope0'"):
            BPF.attach_raw_socket(fn, "hnetex-nope0")
        assert not hasattr(fn, "sock")


def test_lib_names_what_it_lacks():
    with pytest.raises(errors.PybpfError, match="bpf_attach_kprobe"):
        lib.bpf_attach_kprobe


def test_queue_and_stack_take_bcc_flags_argument():
    """BPF_QUEUE/BPF_STACK with bcc's optional fourth argument (map flags)."""
    text = """
BPF_QUEUE(q, u32, 8, 0);
BPF_STACK(st, u32, 8);
int fill(struct __sk_buff *skb) {
    u32 v = 7;
    q.push(&v, 0);
    st.push(&v, 0);
    return 0;
}
"""
    with BPF(text=text) as b:
        fn = b.load_func("fill", BPF.SOCKET_FILTER)
        for _ in range(3):
            fn.prog.test_run(PKT)
        assert [v.value for v in b["q"].values()] == [7, 7, 7]
        assert b["st"].pop().value == 7


def test_local_storage_maps_and_cgroup_storage_counts_egress_packets():
    """BPF_SK_STORAGE/TASK_STORAGE/INODE_STORAGE/CGROUP_STORAGE are created with their
    methods; a cgroup_skb program attached with attach_func counts the 5 UDP packets a
    process in the cgroup sends, in its cgroup storage."""
    import os
    import subprocess
    import sys
    from pybpf.bcc.compat import BPFAttachType
    from pybpf.links.cgroup import cgroup2_root
    text = """
struct val { u64 n; };
BPF_SK_STORAGE(sk_st, struct val);
BPF_TASK_STORAGE(task_st, struct val);
BPF_INODE_STORAGE(inode_st, struct val);
BPF_CGROUP_STORAGE(cg_st, struct val);
int egress(struct __sk_buff *skb) {
    struct bpf_sock *sk = skb->sk;
    if (sk) {
        sk = bpf_sk_fullsock(sk);
        if (sk) {
            struct val *v = sk_st.sk_storage_get(sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
            if (v)
                v->n++;
        }
    }
    struct val *c = cg_st.get_local_storage(0);
    __sync_fetch_and_add(&c->n, 1);
    return 1;
}
RAW_TRACEPOINT_PROBE(sys_enter) {
    struct val *v = task_st.task_storage_get(bpf_get_current_task_btf(), 0,
                                             BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (v)
        v->n++;
    return 0;
}
"""
    cg = os.path.join(cgroup2_root(), f"hnetex-storage-{os.getpid()}")
    os.mkdir(cg)
    fd = os.open(cg, os.O_RDONLY)
    try:
        with BPF(text=text) as b:
            assert {n: b[n].ttype for n in b} == {"sk_st": 24, "task_st": 29,
                                                  "inode_st": 28, "cg_st": 19}
            fn = b.load_func("egress", BPF.CGROUP_SKB)
            b.attach_func(fn, fd, BPFAttachType.CGROUP_INET_EGRESS)
            code = (f"import os, socket\nopen({os.path.join(cg, 'cgroup.procs')!r}, 'w')"
                    ".write(str(os.getpid()))\n"
                    "r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                    "r.bind(('127.0.0.1', 0))\n"
                    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                    "for i in range(5): s.sendto(b'x', r.getsockname())\n")
            subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
            assert [v.n for v in b["cg_st"].values()] == [5]
            b.detach_func(fn, fd, BPFAttachType.CGROUP_INET_EGRESS)
    finally:
        os.close(fd)
        remove_cgroup(cg)


def test_cgroup_array_filled_by_path_selects_a_cgroups_tasks():
    """BPF_CGROUP_ARRAY with ``t[0] = "/path/to/cgroup"``: check_current_task counts the
    7 getppid calls of a process in that cgroup and no one else's."""
    import os
    import platform
    import subprocess
    import sys
    from pybpf.links.cgroup import cgroup2_root
    nr = {"x86_64": 110, "aarch64": 173}[platform.machine()]
    text = """
BPF_CGROUP_ARRAY(cgs, 1);
BPF_ARRAY(calls, u64, 1);
RAW_TRACEPOINT_PROBE(sys_enter) {
    int k = 0;
    if (ctx->args[1] == NR_GETPPID && cgs.check_current_task(0) == 1)
        calls.increment(k);
    return 0;
}
""".replace("NR_GETPPID", str(nr))
    cg = os.path.join(cgroup2_root(), f"hnetex-cgarray-{os.getpid()}")
    os.mkdir(cg)
    try:
        with BPF(text=text) as b:
            b["cgs"][0] = cg
            code = (f"import os\nopen({os.path.join(cg, 'cgroup.procs')!r}, 'w')"
                    ".write(str(os.getpid()))\n"
                    "for i in range(7): os.getppid()\n")
            os.getppid()                                    # not in the cgroup
            subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
            assert b["calls"][0].value == 7
    finally:
        remove_cgroup(cg)
