"""usdt: CPython garbage collections, from the interpreter's gc__start USDT probe.

Port of libbpf-bootstrap's usdt (which uses libc's setjmp probe; Debian's libc has no
USDT notes, its python3.11 has).  One program auto-attaches from its section; the other
is attached by hand with ``attach_usdt``, with a cookie and optionally one ``--pid``;
pybpf writes each probe's argument spec where usdt.bpf.h reads it, at distinct ids.
"""

import argparse
import os
import sys
import time

import pybpf
from pybpf.ringbuf import RingBuffer

HERE = os.path.dirname(os.path.abspath(__file__))
COOKIE = 0xCAFE


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-b", "--binary", default="/usr/bin/python3.11",
                    help="interpreter to trace by hand (default %(default)s)")
    ap.add_argument("-p", "--pid", type=int, default=-1, help="only this process (by hand)")
    ap.add_argument("-t", "--timeout", type=float, default=0, help="stop after SECONDS")
    args = ap.parse_args(argv)
    try:
        Event = pybpf.ctype("struct gc_event", header=os.path.join(HERE, "usdt.h"))
        with pybpf.load(os.path.join(HERE, "usdt.bpf.c")) as obj:
            obj.attach()
            obj.programs["gc_start_manual"].attach_usdt(args.binary, "python", "gc__start",
                                                        pid=args.pid, usdt_cookie=COOKIE)
            print(f"Successfully started! Tracing {args.binary}'s python:gc__start",
                  flush=True)
            with RingBuffer(obj.maps["events"]) as rb:
                end = time.monotonic() + args.timeout if args.timeout else None
                try:
                    while end is None or time.monotonic() < end:
                        for e in rb.read(100, decode=Event):
                            how = f"by hand, cookie {e.cookie:#x}" if e.manual else "auto"
                            print(f"pid {e.pid}: gc__start generation {e.generation} ({how})")
                        sys.stdout.flush()
                except KeyboardInterrupt:
                    pass
            if obj.bss.dropped:
                print(f"{obj.bss.dropped} events lost", file=sys.stderr)
    except pybpf.PybpfError as e:
        print(f"usdt: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # `| head`: quietly
    return 0


if __name__ == "__main__":
    sys.exit(main())
