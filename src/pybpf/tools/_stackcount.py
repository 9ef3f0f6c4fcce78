"""What profile and offcputime share: reading (task, user stack, kernel stack) -> value
counts and printing them as bcc does: multi-line stacks, or folded lines for flame
graphs, or JSON (one object per stack)."""

from __future__ import annotations

import struct

from . import _common, _stacks

_KEY = struct.Struct("<IIii16s")


def report(out, counts_map, stack_map, args, value_fmt=lambda v: str(v),
           json_value: str = "count") -> None:
    """Print every entry of ``counts_map`` (profile.h's struct stack_key -> u64), smallest
    count first as bcc does; stack ids < 0 are missing stacks."""
    # profile -A: raw addresses before the frames of the multi-line output, bcc's formats
    address = ("0x%-16x ", "0x%016x ") if getattr(args, "address", False) and \
        not args.folded and not out.json else None
    with _stacks.Stacks(stack_map, lines=getattr(args, "lines", False), address=address,
                        show_offset=getattr(args, "offset", False)) as stacks:
        _report(out, counts_map, stacks, args, value_fmt, json_value)


def _report(out, counts_map, stacks, args, value_fmt, json_value) -> None:
    rows = []
    for k, v in counts_map.items_raw():
        pid, tid, ustack, kstack, comm = _KEY.unpack_from(k)
        rows.append((int.from_bytes(v[:8], "little"), pid, tid, ustack, kstack,
                     _common.cstr(comm)))
    rows.sort()
    w = out.stream.write
    annotate = getattr(args, "annotations", False)
    for value, pid, tid, ustack, kstack, comm in rows:
        user = _frames(ustack, lambda i: stacks.user(i, pid), "[Missed User Stack]")
        kernel = _frames(kstack, stacks.kernel, "[Missed Kernel Stack]")
        if out.json:
            rec = {"pid": pid, "tid": tid, "comm": comm, json_value: value,
                   "user_stack": user, "kernel_stack": kernel}
            if getattr(args, "address", False):
                rec["user_addrs"] = stacks.addresses(ustack) if ustack >= 0 else []
                rec["kernel_addrs"] = stacks.kernel_addresses(kstack) if kstack >= 0 else []
            out.row("", rec)
            continue
        if args.folded:
            w(f"{_stacks.folded(comm, user, kernel, args.delimited, annotate)} {value}\n")
        else:
            _stacks.print_stack(w, user, kernel, comm, pid, value_fmt(value), args.delimited)


def _frames(stack_id: int, resolve, missed: str) -> list[str]:
    """The named frames of a stack; -1 means not collected (-U/-K), -EFAULT (-14) a
    kernel thread's absent user stack; other errors are stacks the map could not keep."""
    if stack_id >= 0:
        return resolve(stack_id)
    return [] if stack_id in (-1, -14) else [missed]


def add_stack_kinds(p) -> None:
    """-U/-K: user or kernel stacks only (the const user_only/kernel_only of
    _stacks.bpf.h)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("-U", "--user-stacks-only", action="store_true",
                   help="show stacks from user space only (no kernel space stacks)")
    g.add_argument("-K", "--kernel-stacks-only", action="store_true",
                   help="show stacks from kernel space only (no user space stacks)")


def add_stack_output(p, folded_help: str = "output folded format") -> None:
    """--lines, -f and --stack-storage-size, as profile and offcputime take them."""
    from . import _args
    _args.add_lines(p)
    p.add_argument("-f", "--folded", action="store_true", help=folded_help)
    p.add_argument("--stack-storage-size", type=_args.positive_int, default=16384,
                   help="the number of unique stack traces that can be stored")


def add_duration(p) -> None:
    """The positional duration, JSON (one object per stack) last, as bcc orders them."""
    from . import _args
    p.add_argument("duration", nargs="?", type=_args.positive_int, default=99999999,
                   help="duration of trace, in seconds")
    _args.add_json(p, "stack")


def sized_maps(filters, args) -> None:
    """--hash-storage-size and --stack-storage-size other than the object's sizes (40960
    keys, 16384 stacks): the counts and stack maps made here at that size and handed to
    the load in their place (its maps= reuse), so the common run loads as built."""
    from ..maps import Map
    from .._sys.uapi import MapType
    size = getattr(args, "hash_storage_size", 40960)
    if size != 40960:
        filters.maps["counts"] = Map.create(MapType.HASH, _KEY.size, 8, size, name="counts")
    size = getattr(args, "stack_storage_size", 16384)
    if size != 16384:
        filters.maps["stacks"] = Map.create(MapType.STACK_TRACE, 4, 8 * _stacks.MAX_DEPTH,
                                            size, name="stacks")


def span(args) -> str:
    """The banner's end, bcc's words: " for 5 secs." or "... Hit Ctrl-C to end."."""
    return "... Hit Ctrl-C to end." if args.duration == 99999999 \
        else f" for {args.duration} secs."


def stack_words(args) -> str:
    """The stacks a banner names, bcc's words (-U, -K, or both)."""
    return "user" if args.user_stacks_only else "kernel" if args.kernel_stacks_only \
        else "user + kernel"


def collect(tool: str, obj, args, out, banner: str, json_value: str = "count",
            stop_first: bool = False) -> None:
    """Count for the duration (or until Ctrl-C) after the banner (on stderr when the
    output is folded or JSON, for programs), then report every stack and the drops;
    ``stop_first``: detach before reading (the counts stop moving)."""
    import sys
    from . import _common, _run
    try:
        if args.folded or out.json:
            print(banner, file=sys.stderr, flush=True)
        else:
            out.header(banner)
        # not time.sleep: a SIGINT whose Stop was swallowed (raised where CPython drops
        # it) left profile/offcputime asleep for good, 1 start in 4 stopped at once
        _common.sleep_until_stopped(args.duration)
    except _common.Stop:
        pass
    _run.ignore_signals_now()
    if stop_first:
        for link in obj.links:
            link.close()
    report(out, obj.maps["counts"], obj.maps["stacks"], args, json_value=json_value)
    out.flush()
    _common.DropReporter(tool, obj.maps["drops"], programs=obj.programs.values(),
                         unseen=obj.maps.get("unseen")).check(force=True)

