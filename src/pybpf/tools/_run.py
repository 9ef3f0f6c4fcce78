"""How a tool runs: load its object with the shared filters, then either stream events
from its ring buffer or print its in-kernel counts every interval; and ``main``, which
turns every failure into one line and a non-zero exit."""

from __future__ import annotations

import _signal as signal  # signal.py adds enums: ~0.5 ms of a start
import gc
import sys
import time

from .. import errors
from . import _args, _common


class EbpfShown(Exception):
    """--ebpf printed the program (tools/_ebpf.py): the tool ends, exit 0."""


def main(tool: str, build_parser, run, argv) -> int:
    """Parse ``argv`` with ``build_parser()`` and call ``run(args, out)``.  ``pybpf`` runs
    every tool under tools/_common.run_main (signals from the start, quiet broken pipes,
    pybpf errors in one line); this adds the tools' own cases: an ``error: ...`` exit and
    an OSError become one line, exit 1."""
    collector_off()
    try:
        return _main(tool, build_parser, run, argv)
    finally:
        collector_on()


def _main(tool: str, build_parser, run, argv) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    _args.check_interval(p, args)
    out = _common.Output(sys.stdout, json_lines=getattr(args, "json", False))
    try:
        return run(args, out) or 0
    except EbpfShown:
        return 0
    except SystemExit as e:
        if isinstance(e.code, str):
            msg = e.code[len("error: "):] if e.code.startswith("error: ") else e.code
            return _args.die(tool, msg)
        raise
    except BrokenPipeError:
        raise
    except OSError as e:
        if e.errno == 32:   # EPIPE from a write not wrapped as BrokenPipeError
            raise BrokenPipeError(*e.args) from None
        return _args.die(tool, f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""))


def load(tool: str, filters: _args.Filters, consts: dict | None = None,
         programs=None, attach=True, sizes: dict | None = None, on_demand=()):
    """The tool's object, loaded with the filters' constants and maps, attached (all
    programs, or the names in ``attach``).  ``sizes``: map -> max_entries, 1 for a map
    the options leave unused (a hash or stack map is preallocated whole at every start).
    ``on_demand``: hash maps whose entries are allocated as they are used, where the
    kernel does that safely in tracing programs (:func:`on_demand_flags`)."""
    obj = None
    try:
        obj = _load(tool, filters, consts, programs, attach, sizes, on_demand)
        return obj
    finally:
        # loaded: from here on the tool runs.  A load that parsed and linked the object
        # (no plan yet) leaves garbage: one full pass before the rest is frozen
        collector_on(collect=obj is None or getattr(obj, "_spec", None) is not None)


# BPF_F_NO_PREALLOC; 6.1's BPF memory allocator made it safe in tracing programs
NO_PREALLOC, ALLOC_SAFE_SINCE = 1, (6 << 16) + (1 << 8)


def on_demand_flags(names, release: str | None = None) -> dict | None:
    """map_flags making the hash maps ``names`` allocate entries as used, or None where
    that is unsafe.  A preallocated hash map allocates all its entries at creation: a
    10240-entry in-flight table costs ~0.3 ms of every start.  Before 6.1 a tracing
    program's allocation could recurse into the allocator (the verifier warns, a
    PREEMPT_RT kernel refuses), so there the tables stay preallocated."""
    from ..object.kconfig import kernel_version_code
    if not names or kernel_version_code(release) < ALLOC_SAFE_SINCE:
        return None
    return dict.fromkeys(names, NO_PREALLOC)


def _load(tool, filters, consts, programs, attach, sizes, on_demand=()):
    variables = dict(filters.consts)
    variables.update(consts or {})
    if filters.ebpf:
        from ._ebpf import show_tool
        show_tool(tool, variables, programs, filters.pinned)
    import pybpf
    _common.require_privileges()
    read, identity = _common.tool_source(tool)
    obj = pybpf.load(read if identity is not None else read(), name=tool, variables=variables, maps=filters.maps,
                     cache_key=identity, programs=programs, max_entries=sizes,
                     map_flags=on_demand_flags(on_demand))
    try:
        filters.apply(obj)
        if attach:
            obj.attach(None if attach is True else attach)
    except BaseException:
        obj.close()
        raise
    return obj


def stream(tool: str, obj, handle, out: _common.Output, header=None,
           duration: float | None = None, ring: str = "events") -> None:
    """Hand every ring buffer record to ``handle(memoryview)`` until a signal (or
    ``duration`` seconds), flushing per batch and reporting drops."""
    from ..ringbuf import RingBuffer
    collector_on(collect=True)      # a tool that loaded its own way (compiled, say)
    drops = _common.DropReporter(tool, obj.maps["drops"], programs=obj.programs.values())
    end = time.monotonic() + duration if duration else None
    hold = _common.hold_stop
    with RingBuffer(obj.maps[ring]) as rb:
        try:
            if header:
                header()
            while end is None or time.monotonic() < end:
                n = 0
                for rec in rb.poll(250):
                    # a record is consumed once yielded: a Stop raised while it was handled
                    # (its user stack being named, on a busy machine) lost it, and the
                    # drain below never saw it (trace: 18 of 20 runs lost their last
                    # event).  Held until the record is shown, then raised.
                    with hold:
                        handle(rec)
                    n += 1
                out.flush()
                drops.check()
                _common.raise_if_stopped()
                if n > 1:
                    time.sleep(0.002)   # a burst: let it gather so one wake-up takes many
        except _common.Stop:
            pass
        # what was written before the stop: a steady producer (a fork loop's capability
        # checks, each user stack slow to name) kept `capable -U` draining for good after
        # a ^C on a busy machine (over 30 s)
        for rec in rb.consume(present=True):
            handle(rec)
        out.flush()
        drops.check(force=True)


def intervals(tool: str, obj, args, out: _common.Output, report, *, banner: str | None = None,
              clear_screen: bool = False, stretches: str = "off-CPU stretches") -> None:
    """Call ``report()`` every ``args.interval`` seconds, ``args.count`` times, and once
    more on Ctrl-C (as bcc's counting tools do).  ``stretches``: what the tool's unseen
    stretches are called (:class:`_common.DropReporter`)."""
    collector_on(collect=True)      # a tool that loaded its own way (compiled, say)
    drops = _common.DropReporter(tool, obj.maps["drops"], programs=obj.programs.values(),
                                 unseen=obj.maps.get("unseen"), stretches=stretches)
    n = 0
    try:
        # inside the try: a caller that waits for the banner and then stops us must
        # still get the report
        if banner:
            # with --json stdout carries JSON only: the banner goes to stderr
            if out.json:
                print(banner, file=sys.stderr, flush=True)
            else:
                out.header(banner)
        while True:
            _common.sleep_until_stopped(args.interval)
            n += 1
            if clear_screen and not out.json and out.interactive:
                out.stream.write("\033[2J\033[H")
            whole(report)
            out.flush()
            drops.check()
            if n >= args.count:
                drops.check(force=True)
                return
    except _common.Stop:
        # ^C: bcc prints what was counted so far
        whole(report)
        out.flush()
        drops.check(force=True)


# The cyclic garbage collector during a tool's start: the start allocates tens of
# thousands of objects that live as long as the tool (modules, classes, functions, the
# load plan), so the collector's passes over them (~1.5 ms of a start, one of them a
# generation-1 pass of ~1 ms) find nothing.  It is off from main() until the object is
# loaded; then everything made so far is frozen (moved out of the collector's sight, so
# the first passes in the event loop do not walk it either) and it is on again.  A start
# that parsed, linked or compiled (a cold one) gets a full pass first, so no garbage of
# it is frozen for the tool's lifetime.
_collector = [False]        # True while this module has it off


def collector_off() -> None:
    """Off for the start of the ``pybpf`` command's tool; a program calling a tool's
    ``main`` itself keeps its collector as it is (a freeze would pin its own objects)."""
    if gc.isenabled() and _the_command():
        gc.disable()
        _collector[0] = True


def _the_command() -> bool:
    """Whether this process is the ``pybpf`` command (``bin/pybpf`` imports
    pybpf.__main__; ``python -m pybpf`` runs it as __main__)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return "pybpf.__main__" in sys.modules or getattr(spec, "name", "") == "pybpf.__main__"


def collector_on(collect: bool = False) -> None:
    """On again (once) if :func:`collector_off` turned it off: ``collect`` first runs a
    full pass (a cold start's garbage), then the start's objects are frozen."""
    if _collector[0]:
        _collector[0] = False
        if collect:
            gc.collect()
        gc.freeze()
        gc.enable()


def ignore_signals_now() -> None:
    """After the final report: a second ^C must not interrupt the clean-up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def stamp() -> str:
    return time.strftime("%H:%M:%S")


def attach_some(obj, optional=(), also=None) -> None:
    """Attach every program; those in ``optional`` hook what older kernels lack (a newer
    tracepoint) and are left out there.  ``also``: program -> more (category, name)
    tracepoints it serves besides its section's (one program for several syscalls that
    end alike: one verification instead of several); a missing one is left out."""
    for name in obj.programs:
        try:
            obj.attach([name])
        except (errors.NotFoundError, errors.NotSupportedError, errors.AttachError):
            if name not in optional:
                raise
    for name, tracepoints in (also or {}).items():
        prog = obj.programs[name]
        for category, tp in tracepoints:
            try:
                prog.attach_tracepoint(category, tp)
            except (errors.NotFoundError, errors.NotSupportedError, errors.AttachError):
                pass


def whole(report) -> None:
    """Print one report whole: a signal arriving meanwhile is held until it is done, as
    tools/_common.Output holds one during a write (a report writes many lines)."""
    with _common.hold_stop:
        report()
