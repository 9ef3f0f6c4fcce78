"""lsm: refuse the bpf() system call to one process, with a BPF LSM program.

Port of libbpf-bootstrap's lsm (which refuses bpf() to everyone; this one takes a
``--pid``).  Needs a kernel with BPF LSM enabled (``lsm=...,bpf``) and BPF trampolines;
elsewhere it says which is missing.  Detaching (Ctrl-C) lifts the refusal.
"""

import _signal as signal  # the signal module without its enum wrappers (~4 ms)
import os
import sys
import time

import pybpf
from pybpf.options import ArgumentParser  # argparse's, imported only if needed

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-p", "--pid", type=int, required=True, help="process to refuse bpf() to")
    ap.add_argument("-t", "--timeout", type=float, default=0, help="stop after SECONDS")
    args = ap.parse_args(argv)
    # Ctrl-C and kill end the loop below, also when started with SIGINT ignored (a
    # script's background job): Python leaves an inherited SIG_IGN alone, C's signal() not
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
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
    except pybpf.PybpfError as e:
        print(f"lsm: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
