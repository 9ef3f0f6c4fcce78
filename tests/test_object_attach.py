"""Object-owned attach: prog.attach_*() links land in obj.links and close with the object;
obj.attach() raises for unknown names, names the calls programs need, auto-attaches
iterators, and is all or nothing (or skips missing hooks on request)."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import pytest

import pybpf
from pybpf import errors
from pybpf.links import iter as it
from tests.data.linkprogs import build_target, have_sdt_header

SRC = Path(__file__).parent / "data" / "owned_attach.bpf.c"
N = 25


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> str:
    assert have_sdt_header(), "<sys/sdt.h> missing (apt-get install systemtap-sdt-dev)"
    return build_target(str(tmp_path_factory.mktemp("owned")))


@pytest.fixture(scope="module")
def obj_bytes(target):
    return pybpf.compile(SRC, cflags=[f'-DTARGET="{target}"'])


def _sums(n: int) -> int:
    s = total = 0
    for i in range(n):
        s += i * 2 + 1 + (i - 1 if i % 2 else 0)
        total += s
    return total


@pytest.mark.kernel
def test_manual_links_are_owned_and_usdt_specs_do_not_collide(obj_bytes, target):
    with pybpf.load(obj_bytes, name="pt_owned") as obj:
        obj.bss.my_pid = os.getpid()
        auto = obj.attach()               # usdt/<target>:tick, iter/task, the tracepoint
        assert sorted(ln.kind for ln in auto) == ["iter", "tracepoint", "usdt"]
        p = obj.programs
        links = [p["on_entry"].attach_uprobe(target, "pt_target_func"),
                 p["on_return"].attach_uprobe(target, "pt_target_func", retprobe=True),
                 p["on_tick"].attach_usdt(target, "pybpf_test", "tick"),
                 p["on_guarded"].attach_usdt(target, "pybpf_test", "guarded", usdt_cookie=3)]
        assert obj.links == auto + links
        assert obj.usdt_spec_ids == 3       # one site each, distinct ids
        out = subprocess.run([target, str(N)], capture_output=True, text=True, check=True)
        assert int(out.stdout) == sum(i * 2 + 1 + (i - 1 if i % 2 else 0) for i in range(N))
        assert obj.bss.entries == N and obj.bss.returns == N
        assert obj.bss.last_ret == (N - 1) * 2 + 1
        # each USDT program reads its own probe's arguments (no spec overwritten)
        assert obj.bss.tick_sum == _sums(N) == obj.bss.auto_tick_sum
        assert obj.bss.guarded_sum == sum(range(N)) + 3000 * N
        # iter/task was auto-attached: its records are this process's pid
        (iter_link,) = [ln for ln in auto if ln.kind == "iter"]
        assert it.records(iter_link, struct.Struct("<I")) == [(os.getpid(),)]
        os.getppid()
        assert obj.bss.tp_hits >= 1
        made = list(obj.links)
    assert all(ln.closed for ln in made)


@pytest.mark.kernel
def test_attach_names_errors(obj_bytes):
    with pybpf.load(obj_bytes, name="pt_owned") as obj:
        with pytest.raises(KeyError, match="no program 'nope'"):
            obj.attach(["nope"])
        with pytest.raises(ValueError,
                           match=r"tc_pass \(tc\): obj.programs\['tc_pass'\]\.attach_tc\(iface"):
            obj.attach(["tc_pass", "on_getppid"])
        with pytest.raises(ValueError,
                           match=r"on_entry \(uprobe\): obj.programs\['on_entry'\]\.attach_uprobe"):
            obj.attach(["on_entry"])
        assert obj.links == []
        (ln,) = obj.attach(["on_getppid"])
        assert obj.programs["on_getppid"].attach_tracepoint(
            "syscalls", "sys_enter_getpid") in obj.links



@pytest.mark.kernel
def test_a_program_of_another_type_is_refused_before_the_kernel(obj_bytes):
    """The kernel says only EINVAL (and tc netlink would first add a clsact qdisc)."""
    from pybpf import perf
    with pybpf.load(obj_bytes, name="pt_owned") as obj:
        tp, tc = obj.programs["on_getppid"], obj.programs["tc_pass"]
        calls = [(tc, "attach_uprobe", lambda: tc.attach_uprobe("/bin/true", "main"),
                  "has type sched_cls; attach_uprobe() takes one from SEC(\"kprobe/...\") or"),
                 (tp, "attach_tc", lambda: tp.attach_tc("lo", mode="netlink"),
                  "has type tracepoint; attach_tc() takes one from SEC(\"tc\")"),
                 (tp, "attach_xdp", lambda: tp.attach_xdp("lo"), "SEC(\"xdp\")"),
                 (tp, "attach_socket", lambda: tp.attach_socket(None), "SEC(\"socket\")"),
                 (tc, "attach_tracepoint",
                  lambda: tc.attach_tracepoint("syscalls", "sys_enter_getpid"),
                  "SEC(\"tracepoint/...\")"),
                 (tp, "attach_perf_event", lambda: tp.attach_perf_event(sample_freq=9),
                  "SEC(\"perf_event\")"),
                 (tc, "attach_cgroup", lambda: tc.attach_cgroup("/"), "cgroup hook")]
        for prog, method, call, msg in calls:
            with pytest.raises(errors.AttachError) as e:
                call()
            assert str(e.value).startswith(f"{method}: Invalid argument (errno EINVAL): "
                                           f"program {prog.name!r} has type "), method
            assert msg in str(e.value) and "\n" not in str(e.value)
        assert obj.links == []
        # a tracepoint program on the tracepoint PMU through attach_perf_event is the kernel's
        # to judge (it takes it): no refusal here
        assert tp.attach_perf_event(type=perf.PERF_TYPE_TRACEPOINT, config=_tp_id(), cpu=0,
                                    sample_period=1) in obj.links
    out = subprocess.run(["tc", "qdisc", "show", "dev", "lo"], capture_output=True, text=True)
    assert "clsact" not in out.stdout


def _tp_id() -> int:
    from pybpf import tracefs
    return tracefs.tracepoint_id("syscalls", "sys_enter_getpid")


ROLLBACK = """
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
SEC("tracepoint/syscalls/sys_enter_getppid") int a_ok(void *c) { return 0; }
SEC("tracepoint/pt_no_such_category/pt_no_such_event") int b_missing(void *c) { return 0; }
SEC("tracepoint/syscalls/sys_enter_getpid") int c_ok(void *c) { return 0; }
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.kernel
def test_attach_is_all_or_nothing_or_skips_missing_hooks():
    with pybpf.load(pybpf.compile(ROLLBACK), name="pt_rollback") as obj:
        with pytest.raises(errors.NotFoundError, match="pt_no_such_event"):
            obj.attach()
        assert obj.links == []            # a_ok's link was rolled back
        made = obj.attach(skip_missing=True)
        assert [ln.target for ln in made] == ["syscalls:sys_enter_getppid",
                                              "syscalls:sys_enter_getpid"]
        assert list(obj.skipped) == ["b_missing"]
        assert "pt_no_such_event" in obj.skipped["b_missing"]


def test_standalone_program_links_are_the_callers():
    from pybpf.programs import Program
    assert Program._owner is None
    assert hasattr(Program, "attach_usdt") and hasattr(Program, "attach_tc")


@pytest.mark.kernel
def test_program_attach_by_its_section(obj_bytes):
    with pybpf.load(obj_bytes, name="pt_owned") as obj:
        obj.bss.my_pid = os.getpid()
        link = obj.programs["on_getppid"].attach()
        assert obj.links == [link] and link.kind == "tracepoint"
        os.getppid()
        assert obj.bss.tp_hits >= 1
        with pytest.raises(ValueError, match="attach_tc"):
            obj.programs["tc_pass"].attach()
