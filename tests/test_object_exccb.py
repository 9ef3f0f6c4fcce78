"""Exception callbacks (object/exccb.py): ``__exception_cb(cb)`` names a global function
nothing calls; it is appended to the program as libbpf appends it, so ``bpf_throw``
returns through it.  A tc program throws its cookie when the packet is long; the
callback adds 100 to it."""

from __future__ import annotations

import pytest

import pybpf
from pybpf import errors

PROG = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
extern void bpf_throw(u64 cookie) __ksym;
#define __exception_cb(name) __attribute__((btf_decl_tag("exception_callback:" #name)))
%(static)s__noinline int on_throw(u64 cookie)
{
    return cookie + 100;
}
SEC("tc") %(tag)s
int thrower(struct __sk_buff *skb)
{
    if (skb->len > 100)
        bpf_throw(7);
    return 1;
}
char LICENSE[] SEC("license") = "GPL";
"""


def _prog(static: str = "", tag: str = "__exception_cb(on_throw)") -> bytes:
    return pybpf.compile(PROG % {"static": static, "tag": tag})


@pytest.mark.kernel
def test_the_callback_is_appended_and_runs_on_throw():
    with pybpf.load(_prog(), name="exccb") as obj:
        p = obj.programs["thrower"]
        assert p.test_run(b"\0" * 64).retval == 1
        assert p.test_run(b"\0" * 128).retval == 107


def test_callbacks_are_found_by_their_tag():
    from pybpf.object.exccb import exception_callbacks
    spec = pybpf.ObjectSpec.from_bytes(_prog())
    assert exception_callbacks(spec)["thrower"].name == "on_throw"
    assert exception_callbacks(pybpf.ObjectSpec.from_bytes(_prog(tag=""))) == {}


def test_a_static_callback_is_refused_in_one_line():
    with pytest.raises(errors.ELFError, match="exception callback 'on_throw' must be a "
                       "global, non-hidden function"):
        pybpf.load(_prog(static="static __attribute__((used)) "), name="exccb_static")


def test_a_callback_defined_nowhere_is_refused_in_one_line():
    src = PROG % {"static": "", "tag": "__exception_cb(nowhere)"}
    with pytest.raises(errors.ELFError, match="exception callback 'nowhere' is defined "
                       "nowhere"):
        pybpf.load(pybpf.compile(src), name="exccb_none")
