"""What the ring-buffer examples (fentry, kprobe, ksyscall, usdt) share: load the
example's object, attach it, print each event of its ``events`` ring buffer (decoded with
the ctype of a struct in its header) until Ctrl-C or --timeout, then the drops; errors
as one line, and quiet on a closed pipe (``| head``)."""

import os
import sys
import time

import pybpf
from pybpf.interrupts import StopFlag, interrupt_on_signals
from pybpf.options import ArgumentParser  # argparse's, imported only if needed
from pybpf.ringbuf import RingBuffer


def run(name: str, doc: str, struct: str, show, *, started: str, argv=None,
        add_args=None, attach=None) -> int:
    """Run example ``name`` (examples/<name>/<name>.bpf.c and .h): ``show(event, args)``
    prints one event; ``add_args(parser)`` adds its options (else -p PID);
    ``attach(obj, args)`` attaches by hand after the sections' own; ``started`` (or
    ``started(args)``) is the first line (the tests wait for it)."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    ap = ArgumentParser(description=doc.splitlines()[0])
    if add_args is not None:
        add_args(ap)
    else:
        ap.add_argument("-p", "--pid", type=int, help="only this process")
    ap.add_argument("-t", "--timeout", type=float, default=0, help="stop after SECONDS")
    args = ap.parse_args(argv)
    # Ctrl-C and kill end the loop below, also when started with SIGINT ignored (a
    # script's background job), also when raised where CPython would drop it
    interrupt_on_signals()
    try:
        Event = pybpf.ctype(struct, header=os.path.join(here, f"{name}.h"))
        with pybpf.load(os.path.join(here, f"{name}.bpf.c")) as obj:
            obj.attach()
            if attach is not None:
                attach(obj, args)
            with RingBuffer(obj.maps["events"]) as rb, StopFlag() as stop:
                # from here Ctrl-C only ends the loop: it never lands inside a batch
                # being read (the records taken would be lost)
                end = time.monotonic() + args.timeout if args.timeout else None
                print(started(args) if callable(started) else started, flush=True)
                while not stop and (end is None or time.monotonic() < end):
                    for e in rb.read(100, decode=Event):
                        show(e, args)
                    sys.stdout.flush()
                for e in rb.read(0, decode=Event):      # what came during the last poll
                    show(e, args)
            if obj.bss.dropped:
                print(f"{obj.bss.dropped} events lost", file=sys.stderr)
    except KeyboardInterrupt:
        return 130      # Ctrl-C or kill before the loop: quietly, as pybpf's tools
    except pybpf.PybpfError as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # `| head`: quietly
    return 0


def show_unlink(e, args) -> None:
    """The fentry and kprobe examples' event: do_unlinkat() on entry or return."""
    if args.pid is not None and e.pid != args.pid:
        return
    name = e.filename.decode(errors="replace")
    if e.exit:
        print(f"EXIT:  pid = {e.pid}, filename = {name}, ret = {e.ret}")
    else:
        print(f"ENTRY: pid = {e.pid}, filename = {name}")
