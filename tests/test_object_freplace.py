"""freplace: a program that replaces a global function of another loaded BPF program,
loaded against it (``ObjectSpec.set_attach_target``) and attached by ``obj.attach()``.
It needs BPF trampolines: it runs in the kernel-matrix guest; here the refusal is one
line naming the hook."""

from __future__ import annotations

import pytest

import pybpf
from pybpf import errors
from pybpf.features import Features
from tests.vm import hook_absent

SRC = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
__noinline int pt_pick(int x) { volatile int r = x; return r + 1; }
SEC("socket")
int pt_target(struct __sk_buff *skb) { return pt_pick(6); }
SEC("freplace/pt_pick")
int pt_new_pick(int x) { return x * 100; }
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="module")
def obj_bytes() -> bytes:
    return pybpf.compile(SRC)


def test_freplace_target_must_be_named(obj_bytes):
    spec = pybpf.ObjectSpec.from_bytes(obj_bytes, name="pt_fr")
    with pytest.raises(KeyError, match="no program 'pt_nope'"):
        spec.set_attach_target("pt_nope", 3)
    spec.set_attach_target("pt_new_pick", 3, "pt_other")
    p = spec.programs["pt_new_pick"]
    assert (p.attach_prog, p.attach_func) == (3, "pt_other")


@pytest.mark.kernel
def test_freplace_of_an_absent_function_names_the_target_functions(obj_bytes):
    with pybpf.load(obj_bytes, name="pt_fr", programs=["pt_target"]) as target:
        spec = pybpf.ObjectSpec.from_bytes(obj_bytes, name="pt_fr")
        spec.programs["pt_target"].autoload = False
        spec.set_attach_target("pt_new_pick", target.programs["pt_target"], "pt_absent")
        with pytest.raises(errors.NotFoundError) as ei:
            pybpf.load(spec)
        msg = str(ei.value)
        assert "\n" not in msg and "has no function 'pt_absent'" in msg
        assert "pt_pick" in msg and "pt_target" in msg


@pytest.mark.kernel
@pytest.mark.needs_hook("fentry")
def test_freplace_replaces_a_function_of_a_loaded_program(obj_bytes):
    with pybpf.load(obj_bytes, name="pt_fr", programs=["pt_target"]) as target:
        prog = target.programs["pt_target"]
        assert prog.test_run(bytes(64)).retval == 7
        spec = pybpf.ObjectSpec.from_bytes(obj_bytes, name="pt_fr")
        spec.programs["pt_target"].autoload = False
        spec.set_attach_target("pt_new_pick", prog)
        if not Features().has_trampolines():
            with pytest.raises(errors.NotSupportedError) as ei:
                pybpf.load(spec).close()
            assert "\n" not in str(ei.value) and "trampoline" in str(ei.value)
            hook_absent()
            return
        with pybpf.load(spec) as repl:
            (link,) = repl.attach()
            assert prog.test_run(bytes(64)).retval == 600      # pt_pick(6) is now 6 * 100
            link.close()
            assert prog.test_run(bytes(64)).retval == 7
