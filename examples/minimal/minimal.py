"""minimal: a tracepoint program that sees this process's own write() calls.

Port of libbpf-bootstrap's minimal: load, set a .bss variable, attach, then write a dot
to stderr every interval; the program counts the writes (and bpf_printk()s each one:
``cat /sys/kernel/tracing/trace_pipe`` shows them).
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
    ap.add_argument("-n", "--count", type=int, default=0, help="stop after N dots (default: "
                    "until Ctrl-C)")
    ap.add_argument("-i", "--interval", type=float, default=1.0, help="seconds between dots")
    ap.add_argument("-v", "--verbose", action="store_true", help="print pybpf's debug log")
    args = ap.parse_args(argv)
    # Ctrl-C and kill end the loop below, also when started with SIGINT ignored (a
    # script's background job), also when raised where CPython would drop it
    interrupt_on_signals()
    if args.verbose:
        pybpf.set_log(True)
    try:
        with pybpf.load(os.path.join(HERE, "minimal.bpf.c")) as obj:
            obj.bss.my_pid = os.getpid()
            obj.attach()
            dots, before = 0, obj.bss.hits
            try:
                print("Successfully started! Run `cat /sys/kernel/tracing/trace_pipe` to see "
                      "the output of the BPF program.", flush=True)
                before = obj.bss.hits        # that line was a write(2) too
                while not args.count or dots < args.count:
                    sys.stderr.write(".")
                    sys.stderr.flush()           # one write(2) the program sees
                    dots += 1
                    time.sleep(args.interval)
            except KeyboardInterrupt:
                pass
            print(f"\nthe program saw {obj.bss.hits - before} writes of the dots", flush=True)
    except KeyboardInterrupt:
        return 130      # Ctrl-C or kill before the loop: quietly, as pybpf's tools
    except pybpf.PybpfError as e:
        print(f"minimal: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
