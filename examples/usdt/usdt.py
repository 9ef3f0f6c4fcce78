"""usdt: CPython garbage collections, from the interpreter's gc__start USDT probe.

Port of libbpf-bootstrap's usdt (which uses libc's setjmp probe; Debian's libc has no
USDT notes, its python3.11 has).  One program auto-attaches from its section; the other
is attached by hand with ``attach_usdt``, with a cookie and optionally one ``--pid``;
pybpf writes each probe's argument spec where usdt.bpf.h reads it, at distinct ids.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _ringbuf_example  # noqa: E402  (examples/_ringbuf_example.py)

COOKIE = 0xCAFE


def show(e, args) -> None:
    how = f"by hand, cookie {e.cookie:#x}" if e.manual else "auto"
    print(f"pid {e.pid}: gc__start generation {e.generation} ({how})")


def add_args(ap) -> None:
    ap.add_argument("-b", "--binary", default="/usr/bin/python3.11",
                    help="interpreter to trace by hand (default %(default)s)")
    ap.add_argument("-p", "--pid", type=int, default=-1, help="only this process (by hand)")


def attach(obj, args) -> None:
    obj.programs["gc_start_manual"].attach_usdt(args.binary, "python", "gc__start",
                                                pid=args.pid, usdt_cookie=COOKIE)


def main(argv=None) -> int:
    return _ringbuf_example.run(
        "usdt", __doc__, "struct gc_event", show, argv=argv, add_args=add_args,
        attach=attach,
        started=lambda args: f"Successfully started! Tracing {args.binary}'s python:gc__start")


if __name__ == "__main__":
    sys.exit(main())
