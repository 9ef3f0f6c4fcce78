"""bootstrap: trace process starts and exits, with how long each process lived.

Port of libbpf-bootstrap's bootstrap: two tracepoints fill a ring buffer with
``struct event`` (bootstrap.h, read with pybpf.ctype); ``-d`` sets the ``const volatile``
minimum duration before load, as a skeleton's ``skel->rodata->min_duration_ns`` does.
"""

import os
import sys
import time

import pybpf
from pybpf.interrupts import StopFlag, interrupt_on_signals
from pybpf.options import ArgumentParser  # argparse's, imported only if needed
from pybpf.ringbuf import RingBuffer

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", "--duration", type=int, default=0, metavar="MS",
                    help="report only processes that lived at least MS milliseconds")
    ap.add_argument("-v", "--verbose", action="store_true", help="print pybpf's debug log")
    ap.add_argument("-t", "--timeout", type=float, default=0, help="stop after SECONDS")
    args = ap.parse_args(argv)
    # Ctrl-C and kill end the loop below, also when started with SIGINT ignored (a
    # script's background job), also when raised where CPython would drop it
    interrupt_on_signals()
    if args.verbose:
        pybpf.set_log(True)
    try:
        Event = pybpf.ctype("struct event", header=os.path.join(HERE, "bootstrap.h"))
        with pybpf.load(os.path.join(HERE, "bootstrap.bpf.c"),
                        variables={"min_duration_ns": args.duration * 1_000_000}) as obj:
            obj.attach()
            with RingBuffer(obj.maps["rb"]) as rb, StopFlag() as stop:
                # Ctrl-C ends the loop, never inside a batch being read
                end = time.monotonic() + args.timeout if args.timeout else None
                print(f"{'TIME':<8} {'EVENT':<5} {'COMM':<16} {'PID':<7} {'PPID':<7} "
                      "FILENAME/EXIT CODE", flush=True)
                while not stop and (end is None or time.monotonic() < end):
                    for e in rb.read(100, decode=Event):
                        _print(e)
                    sys.stdout.flush()
                for e in rb.read(0, decode=Event):       # what came during the last poll
                    _print(e)
            if obj.bss.dropped:
                print(f"{obj.bss.dropped} events lost (ring buffer full)", file=sys.stderr)
    except KeyboardInterrupt:
        return 130      # Ctrl-C or kill before the loop: quietly, as pybpf's tools
    except pybpf.PybpfError as e:
        print(f"bootstrap: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # `| head`: quietly
    return 0


def _print(e) -> None:
    ts = time.strftime("%H:%M:%S")
    comm = e.comm.decode(errors="replace")
    if e.exit_event:
        line = f"{ts:<8} {'EXIT':<5} {comm:<16} {e.pid:<7} {e.ppid:<7} [{e.exit_code}]"
        if e.duration_ns:
            line += f" ({e.duration_ns // 1_000_000}ms)"
    else:
        line = f"{ts:<8} {'EXEC':<5} {comm:<16} {e.pid:<7} {e.ppid:<7} " \
               f"{e.filename.decode(errors='replace')}"
    print(line)


if __name__ == "__main__":
    sys.exit(main())
