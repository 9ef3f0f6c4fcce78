"""lsm: refuse the bpf() system call to one process, with a BPF LSM program.

Port of libbpf-bootstrap's lsm (which refuses bpf() to everyone; this one takes a
``--pid``).  Needs a kernel with BPF LSM enabled (``lsm=...,bpf``) and BPF trampolines;
elsewhere it says which is missing.  Detaching (Ctrl-C) lifts the refusal.
"""

import os
import sys
import time

import pybpf
from pybpf.interrupts import interrupt_on_signals
from pybpf.options import ArgumentParser  # argparse's, imported only if needed

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-p", "--pid", type=int, required=True, help="process to refuse bpf() to")
    ap.add_argument("-t", "--timeout", type=float, default=0, help="stop after SECONDS")
    args = ap.parse_args(argv)
    # Ctrl-C and kill end the loop below, also when started with SIGINT ignored (a
    # script's background job), also when raised where CPython would drop it
    interrupt_on_signals()
    try:
        with pybpf.load(os.path.join(HERE, "lsm.bpf.c")) as obj:
            obj.bss.target_tgid = args.pid
            obj.attach()
            end = time.monotonic() + args.timeout if args.timeout else None
            try:
                print(f"Successfully started! bpf() is refused to PID {args.pid}", flush=True)
                while end is None or time.monotonic() < end:
                    time.sleep(0.1)
            except KeyboardInterrupt:
                pass
            print(f"refused {obj.bss.denied} bpf() calls", flush=True)
    except KeyboardInterrupt:
        return 130      # Ctrl-C or kill before the loop: quietly, as pybpf's tools
    except pybpf.PybpfError as e:
        print(f"lsm: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
