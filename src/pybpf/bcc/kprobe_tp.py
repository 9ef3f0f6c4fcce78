"""Kernel functions whose kprobe has a tracepoint equivalent, for kernels without kprobes.

Each entry names the tracepoint that fires in the same function (so in the same task's
context, with the same objects at hand) and where each kprobe argument comes from among
the tracepoint's arguments (its TP_PROTO, as a raw tracepoint receives them).  Only
function entries are listed: no tracepoint reports a return value in place of a
kretprobe.  Functions absent here fail on such kernels with one line naming them.
"""

from __future__ import annotations

import os

# function -> (category, event, kprobe argument i <- tracepoint argument ARGS[i]);
# -1 gives 0 (the tracepoint does not carry that argument)
EQUIVALENTS: dict[str, tuple[str, str, tuple[int, ...]]] = {
    # sched: ttwu_do_wakeup(rq, p, wake_flags, rf) -> sched_wakeup(p)
    "ttwu_do_wakeup": ("sched", "sched_wakeup", (-1, 0)),
    "ttwu_do_activate": ("sched", "sched_wakeup", (-1, 0)),
    "wake_up_new_task": ("sched", "sched_wakeup_new", (0,)),
    "try_to_wake_up": ("sched", "sched_waking", (0,)),
    # sched_fork(clone_flags, p) -> sched_process_fork(parent, child)
    "sched_fork": ("sched", "sched_process_fork", (-1, 1)),
    # block: the request is the first argument of both
    "blk_account_io_start": ("block", "block_io_start", (0,)),
    "__blk_account_io_start": ("block", "block_io_start", (0,)),
    "blk_account_io_done": ("block", "block_io_done", (0,)),
    "__blk_account_io_done": ("block", "block_io_done", (0,)),
    "blk_mq_start_request": ("block", "block_rq_issue", (0,)),
    "mark_buffer_dirty": ("block", "block_dirty_buffer", (0,)),
    # tcp_set_state(sk, state) -> inet_sock_set_state(sk, oldstate, newstate)
    "tcp_set_state": ("sock", "inet_sock_set_state", (0, 2)),
    "tcp_retransmit_skb": ("tcp", "tcp_retransmit_skb", (0, 1)),
    "tcp_rcv_established": ("tcp", "tcp_probe", (0, 1)),
    # kmem_cache_alloc(cachep, flags) -> kmem_cache_alloc(call_site, ptr, s, gfp, node)
    "kmem_cache_alloc": ("kmem", "kmem_cache_alloc", (2, 3)),
    "kmem_cache_alloc_noprof": ("kmem", "kmem_cache_alloc", (2, 3)),
    # cap_capable(cred, targ_ns, cap, cap_opt) -> cap_capable(cred, target_ns,
    # capable_ns, cap, ret): the options are not traced (they read as 0)
    "cap_capable": ("capability", "cap_capable", (0, 1, 3, -1)),
    "folio_account_dirtied": ("writeback", "writeback_dirty_folio", (0,)),
    "account_page_dirtied": ("writeback", "writeback_dirty_folio", (0,)),
    "add_to_page_cache_lru": ("filemap", "mm_filemap_add_to_page_cache", (0,)),
    "filemap_add_folio": ("filemap", "mm_filemap_add_to_page_cache", (0,)),
}


def equivalent(function: str, events_root: str) -> tuple[str, str, tuple[int, ...]] | None:
    """The tracepoint standing in for a kprobe on ``function``, if this kernel has it."""
    e = EQUIVALENTS.get(function)
    if e is None:
        return None
    if not os.path.isdir(os.path.join(events_root, e[0], e[1])):
        return None
    return e
