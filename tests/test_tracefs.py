"""pybpf.tracefs: the mounted tracefs and its tracepoints."""

from __future__ import annotations

import pytest

from pybpf import errors, tracefs

pytestmark = pytest.mark.kernel


def test_tracepoint_exists_and_its_id():
    assert tracefs.tracepoint_exists("sched", "sched_switch")
    assert tracefs.tracepoint_id("sched", "sched_switch") > 0
    # 6.0 folded kmalloc_node into kmalloc (memleak's choice rests on this)
    assert not tracefs.tracepoint_exists("kmem", "kmalloc_node")
    assert not tracefs.tracepoint_exists("pybpf_none", "nothing")
    with pytest.raises(errors.NotFoundError, match="pybpf_none:nothing does not exist"):
        tracefs.tracepoint_id("pybpf_none", "nothing")
