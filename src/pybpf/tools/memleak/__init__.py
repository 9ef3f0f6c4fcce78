"""memleak: outstanding allocations and the stacks that made them (bcc's memleak)."""

from __future__ import annotations

import os
import struct
import time

from .. import _args, _common, _run, _stacks

_INFO = struct.Struct("<QQiI")

EXAMPLES = """examples:
    pybpf memleak -p 181             # leaks of process 181 (its C library's malloc family)
    pybpf memleak -p 181 -o 500      # only allocations older than 500 ms
    pybpf memleak -p 181 -a          # also list each outstanding allocation
    pybpf memleak -p 181 -z 1024     # only allocations of 1024 bytes and more
    pybpf memleak                    # kernel allocations (kmem tracepoints)
    pybpf memleak -p 181 5 3         # every 5 seconds, 3 times
    pybpf memleak -p 181 --json 5    # one JSON object per interval
    pybpf memleak -c './a.out arg'   # run a command and trace its allocations
    pybpf memleak -p 181 --combined-only   # per-stack totals kept in the kernel
    pybpf memleak -p 181 --sort count      # stacks sorted by allocation count
    pybpf memleak -p 181 --symbols-prefix je_   # jemalloc's je_malloc and friends
    pybpf memleak --percpu           # kernel per-CPU allocations
"""

USER_PROBES = (("malloc", "malloc_enter", False), ("malloc", "malloc_exit", True),
               ("calloc", "calloc_enter", False), ("calloc", "malloc_exit", True),
               ("realloc", "realloc_enter", False), ("realloc", "malloc_exit", True),
               ("free", "free_enter_u", False))
KERNEL_PROGS = ["tp_kmalloc", "tp_kfree", "tp_cache_alloc", "tp_cache_free"]
# before 6.0 (the _node allocations had tracepoints of their own) the kmem records had
# other types: these programs instead, each also on the other tracepoints of its type
NODE_TRACEPOINTS = ("kmalloc_node", "kmem_cache_alloc_node")
OLD_KERNEL_ALSO = {"tp_alloc_old": (("kmem", "kmem_cache_alloc"),),
                   "tp_alloc_node_old": (("kmem", "kmem_cache_alloc_node"),),
                   "tp_free_old": (("kmem", "kmem_cache_free"),)}
PERCPU_PROGS = ["tp_percpu_alloc", "tp_percpu_free"]
_COMBINED = struct.Struct("<QQ")


def parser():
    p = _args.parser("memleak", "Trace outstanding memory allocations that weren't freed",
                     EXAMPLES)
    _args.add_pid(p)
    p.add_argument("-c", "--command",
                   help="execute and trace the specified command (ended with the trace)")
    p.add_argument("-t", "--trace", action="store_true", help="accepted for bcc compatibility")
    p.add_argument("-a", "--show-allocs", action="store_true",
                   help="show allocation addresses and sizes as well as call stacks")
    p.add_argument("-o", "--older", type=_common.int_range(0, 1 << 53, "milliseconds"),
                   default=500,
                   help="prune allocations younger than this age in milliseconds")
    p.add_argument("-s", "--sample-rate", type=_args.positive_int, default=1,
                   help="sample every N-th allocation to decrease the overhead")
    p.add_argument("-T", "--top", type=_args.positive_int, default=10,
                   help="display only this many top allocating stacks (by size)")
    size = _common.int_range(0, (1 << 64) - 1, "a size in bytes")
    p.add_argument("-z", "--min-size", type=size, default=0,
                   help="capture only allocations larger than this size")
    p.add_argument("-Z", "--max-size", type=size, default=(1 << 64) - 1,
                   help="capture only allocations smaller than this size")
    _args.add_lines(p)
    p.add_argument("-O", "--obj", default="c", help="attach to allocator functions in this object")
    p.add_argument("--combined-only", action="store_true",
                   help="show combined allocation statistics only")
    p.add_argument("--wa-missing-free", action="store_true",
                   help="Workaround to alleviate misjudgments when free is missing")
    p.add_argument("--percpu", action="store_true", help="trace percpu allocations")
    p.add_argument("--sort", choices=("size", "count"), default="size",
                   help="report sorted in given key; available key list: size, count")
    p.add_argument("--symbols-prefix", type=_common.text_arg,
                   help="memory allocator symbols prefix")
    _args.add_interval(p, interval_default=5.0)
    _args.add_json(p, "interval")
    return p


def start_command(command: str):
    """The command, started held: it runs (exec) once ``release()`` is called, so no
    allocation is made before the probes are attached; ``release(False)`` lets the shell
    end without running it.  (process, release)"""
    import shlex
    import subprocess
    argv = shlex.split(command)
    if not argv:
        raise SystemExit("error: -c: empty command")
    r, w = os.pipe()
    try:
        # the shell waits for a line on the pipe (EOF: it gives up), closes it and
        # becomes the command (same pid)
        hold = f'read _ <&{r} || exit 1; exec {r}<&-; exec "$@"'
        proc = subprocess.Popen(["/bin/sh", "-c", hold, "sh", *argv], pass_fds=(r,))
    except OSError as e:
        os.close(w)
        raise SystemExit(f"error: -c: {e.strerror}") from None
    finally:
        os.close(r)

    held = [w]

    def release(go: bool = True):
        if held:
            fd = held.pop()
            try:
                if go:
                    os.write(fd, b"go\n")
            finally:
                os.close(fd)
    return proc, release


def run(args, out):
    if args.command and args.pid:
        raise SystemExit("error: -p and -c are exclusive")
    if args.min_size > args.max_size:
        raise SystemExit("error: min_size (-z) can't be greater than max_size (-Z)")
    proc = release = None
    if args.command:
        proc, release = start_command(args.command)
        args.pid = proc.pid
    try:
        return _run_traced(args, out, release)
    finally:
        if proc is not None:
            release(False)
            if proc.poll() is None:
                proc.terminate()
            proc.wait()


def _have_node_tracepoints() -> bool:
    """Whether this kernel has kmem:kmalloc_node and kmem:kmem_cache_alloc_node (before
    6.0): the allocations made through them are traced too."""
    from ... import tracefs
    try:
        return all(tracefs.tracepoint_exists("kmem", n) for n in NODE_TRACEPOINTS)
    except Exception:       # noqa: BLE001 - no tracefs: the load says what is missing
        return False


def _run_traced(args, out, release):
    from ...links import elfcache, libpath, uprobe
    user = bool(args.pid)
    if user and args.percpu:
        raise SystemExit("error: --percpu traces the kernel's per-CPU allocations: "
                         "not with -p or -c")
    consts = {"min_size": args.min_size, "max_size": args.max_size,
              "sample_every": args.sample_rate, "user_stacks": user,
              "combined": args.combined_only,
              "wa_missing_free": args.wa_missing_free and not user}
    programs = sorted({prog for _, prog, _ in USER_PROBES}) if user else \
        PERCPU_PROGS if args.percpu else KERNEL_PROGS
    old = programs is KERNEL_PROGS and _have_node_tracepoints()
    if old:
        programs = list(OLD_KERNEL_ALSO)
    with _args.Filters(args) as f, _run.load("memleak", f, consts, programs=programs,
                                             attach=not (user or old)) as obj:
        if user:
            lib = libpath.resolve_path(args.obj)
            table = elfcache.function_offsets(lib)      # cached by the library's identity
            prefix = args.symbols_prefix or ""
            for func, prog, ret in USER_PROBES:
                obj.links.append(uprobe.attach(obj.programs[prog], lib,
                                               offset=elfcache.symbol_offset(
                                                   lib, prefix + func, table),
                                               retprobe=ret, pid=args.pid))
        if old:
            _run.attach_some(obj, also=OLD_KERNEL_ALSO)
        if release is not None:
            release()
        # text: bcc's frames, "0x<address>\tname+0x1a [module]"; JSON: name+0x1a
        text = not out.json
        stacks = _stacks.Stacks(obj.maps["stacks"], show_offset=True, lines=args.lines,
                                address=("0x%016x\t",) * 2 if text else None, module=text)
        allocs = obj.maps["allocs"]

        def report():
            now = time.monotonic_ns()
            by_stack: dict[int, list] = {}
            listed = []
            if args.combined_only:
                # the kernel's running totals per stack (bcc's combined_allocs: no age
                # filter, no per-allocation list)
                for k, v in obj.maps["combined_allocs"].items_raw():
                    sid = int.from_bytes(k, "little", signed=True)
                    b, n = _COMBINED.unpack(v)
                    by_stack[sid] = [b, n, args.pid]
            for k, v in ([] if args.combined_only else allocs.items_raw()):
                size, ts, sid, pid = _INFO.unpack(v)
                if now - ts < args.older * 1_000_000:
                    continue
                e = by_stack.setdefault(sid, [0, 0, pid])
                e[0] += size
                e[1] += 1
                if args.show_allocs:
                    listed.append((int.from_bytes(k, "little"), size, (now - ts) // 1_000_000))
            col = 1 if args.sort == "count" else 0
            top = sorted(by_stack.items(), key=lambda kv: kv[1][col], reverse=True)[:args.top]
            when = time.strftime("%H:%M:%S")

            def frames(sid, pid):
                if sid < 0:
                    return ["[Missed Stack]"] if sid not in (-1, -14) else []
                return stacks.user(sid, pid) if user else stacks.kernel(sid)
            if out.json:
                rec = {"time": when, "stacks": [
                    {"bytes": b, "allocations": n, "stack": frames(sid, pid)}
                    for sid, (b, n, pid) in reversed(top)]}
                if args.show_allocs:
                    rec["allocations"] = [{"addr": hex(a), "size": s, "age_ms": age}
                                          for a, s, age in listed]
                out.row("", rec)
                return
            w = out.stream.write
            if args.show_allocs:
                for a, s, age in listed:
                    w("\taddr = %x size = %d\n" % (a, s))
            w("[%s] Top %d stacks with outstanding allocations:\n" % (when, args.top))
            for sid, (b, n, pid) in reversed(top):
                w("\t%d bytes in %d allocations from stack\n" % (b, n))
                for fr in frames(sid, pid):
                    w(f"\t\t{fr}\n")

        # bcc's banners
        what = f"pid {args.pid}" if user else "kernel allocators"
        if args.command:
            what = f"command {args.command!r} (pid {args.pid})"
        with stacks:
            _run.intervals("memleak", obj, args, out, report,
                           banner=f"Attaching to {what}, Ctrl+C to quit.")
    return 0


def main(argv=None) -> int:
    return _run.main("memleak", parser, run, argv)
