"""cgroup hooks beyond cgroup_skb fire on a cgroup the test creates: sock_create,
connect4 (sock_addr), sysctl and device programs deny an operation for a child process in
that cgroup, and the same operation works again once the link is closed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pybpf
from pybpf._sys.uapi import AttachType
from pybpf.links import cgroup

pytestmark = pytest.mark.kernel

SRC = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

SEC("cgroup/sock_create")
int pt_cg_sock(struct bpf_sock *sk) { return 0; }          /* 0: deny */

SEC("cgroup/connect4")
int pt_cg_conn4(struct bpf_sock_addr *ctx) { return 0; }

SEC("cgroup/sysctl")
int pt_cg_sysctl(struct bpf_sysctl *ctx) { return 0; }

SEC("cgroup/dev")
int pt_cg_dev(struct bpf_cgroup_dev_ctx *ctx)
{
    return !(ctx->major == 1 && ctx->minor == 3);          /* deny /dev/null only */
}
char LICENSE[] SEC("license") = "GPL";
"""

# each child prints "ok" or the errno name of its failure
CHILD = {
    "sock": "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()",
    "conn4": "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
             "s.connect(('127.0.0.1', 9)); s.close()",
    "sysctl": "open('/proc/sys/kernel/ostype').read()",
    "dev": "open('/dev/null').close()",
}
CASES = [("sock", "pt_cg_sock", AttachType.CGROUP_INET_SOCK_CREATE),
         ("conn4", "pt_cg_conn4", AttachType.CGROUP_INET4_CONNECT),
         ("sysctl", "pt_cg_sysctl", AttachType.CGROUP_SYSCTL),
         ("dev", "pt_cg_dev", AttachType.CGROUP_DEVICE)]


@pytest.fixture(scope="module")
def obj():
    with pybpf.load(pybpf.compile(SRC)) as o:
        yield o


@pytest.fixture
def cg():
    path = os.path.join(cgroup.cgroup2_root(), f"pybpf-cg-{os.getpid()}")
    os.mkdir(path)
    yield path
    os.rmdir(path)


def _run_in(cg: str, what: str) -> str:
    def enter():
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    code = ("import errno, sys\ntry:\n    " + CHILD[what] + "\n    print('ok')\n"
            "except OSError as e:\n    print(errno.errorcode.get(e.errno, e.errno))\n")
    # the child joins the cgroup before exec, so only it is subject to the program
    r = subprocess.run([sys.executable, "-c", code], preexec_fn=enter, capture_output=True,
                       text=True, timeout=60)
    return r.stdout.strip() or r.stderr


@pytest.mark.parametrize("what,prog,attach_type", CASES, ids=[c[0] for c in CASES])
def test_cgroup_hook_denies_then_allows(obj, cg, what, prog, attach_type):
    assert _run_in(cg, what) == "ok"
    with cgroup.attach(obj.programs[prog], cg, attach_type) as link:
        assert link.kind == "cgroup"
        assert _run_in(cg, what) == "EPERM"
        # the test process itself is not in the cgroup: unaffected
        exec(CHILD[what])
    assert _run_in(cg, what) == "ok"


def test_a_directory_outside_cgroup_v2_is_named(obj, tmp_path):
    """The kernel's EBADF for a plain (or cgroup v1) directory becomes one line that says
    where cgroup v2 is."""
    with pytest.raises(pybpf.errors.AttachError) as e:
        obj.programs["pt_cg_sock"].attach_cgroup(str(tmp_path))
    assert str(e.value) == (f"cgroup attach: Bad file descriptor (errno EBADF): {tmp_path} "
                            f"is not a cgroup v2 directory (cgroup2 is mounted at "
                            f"{cgroup.cgroup2_root()})")
    assert obj.links == []
