"""What profile and offcputime share: reading (task, user stack, kernel stack) -> value
counts and printing them as bcc does: multi-line stacks, or folded lines for flame
graphs, or JSON (one object per stack)."""

from __future__ import annotations

import struct

from . import _stacks

_KEY = struct.Struct("<IIii16s")


def report(out, counts_map, stack_map, args, value_fmt=lambda v: str(v),
           json_value: str = "count") -> None:
    """Print every entry of ``counts_map`` (profile.h's struct stack_key -> u64), smallest
    count first as bcc does; stack ids < 0 are missing stacks."""
    with _stacks.Stacks(stack_map, lines=getattr(args, "lines", False)) as stacks:
        _report(out, counts_map, stacks, args, value_fmt, json_value)


def _report(out, counts_map, stacks, args, value_fmt, json_value) -> None:
    rows = []
    for k, v in counts_map.items_raw():
        pid, tid, ustack, kstack, comm = _KEY.unpack_from(k)
        rows.append((int.from_bytes(v[:8], "little"), pid, tid, ustack, kstack,
                     comm.split(b"\0", 1)[0].decode(errors="replace")))
    rows.sort()
    w = out.stream.write
    for value, pid, tid, ustack, kstack, comm in rows:
        user = _frames(ustack, lambda i: stacks.user(i, pid), "[Missed User Stack]")
        kernel = _frames(kstack, stacks.kernel, "[Missed Kernel Stack]")
        if out.json:
            out.row("", {"pid": pid, "tid": tid, "comm": comm, json_value: value,
                         "user_stack": user, "kernel_stack": kernel})
            continue
        if args.folded:
            w(f"{_stacks.folded(comm, user, kernel, args.delimited)} {value}\n")
        else:
            _stacks.print_stack(w, user, kernel, comm, pid, value_fmt(value), args.delimited)


def _frames(stack_id: int, resolve, missed: str) -> list[str]:
    """The named frames of a stack; -1 means not collected (-U/-K), -EFAULT (-14) a
    kernel thread's absent user stack; other errors are stacks the map could not keep."""
    if stack_id >= 0:
        return resolve(stack_id)
    return [] if stack_id in (-1, -14) else [missed]
