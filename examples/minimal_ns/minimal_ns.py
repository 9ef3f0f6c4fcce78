"""minimal_ns: minimal in a pid namespace: the program matches the pid this process sees.

Port of libbpf-bootstrap's minimal_ns.  Run it inside a container (or
``unshare --pid --fork --mount-proc``): os.getpid() is the namespaced pid, and the
program compares against it with bpf_get_ns_current_pid_tgid().
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
    ap.add_argument("-n", "--count", type=int, default=0, help="stop after N dots")
    ap.add_argument("-i", "--interval", type=float, default=1.0, help="seconds between dots")
    args = ap.parse_args(argv)
    # Ctrl-C and kill end the loop below, also when started with SIGINT ignored (a
    # script's background job), also when raised where CPython would drop it
    interrupt_on_signals()
    try:
        with pybpf.load(os.path.join(HERE, "minimal_ns.bpf.c")) as obj:
            st = os.stat("/proc/self/ns/pid")
            obj.bss.dev, obj.bss.ino = st.st_dev, st.st_ino
            obj.bss.my_pid = os.getpid()
            obj.attach()
            dots, before = 0, obj.bss.hits
            try:
                print(f"Successfully started! pid {os.getpid()} in pid namespace "
                      f"{st.st_ino}", flush=True)
                before = obj.bss.hits        # that line was a write(2) too
                while not args.count or dots < args.count:
                    sys.stderr.write(".")
                    sys.stderr.flush()
                    dots += 1
                    time.sleep(args.interval)
            except KeyboardInterrupt:
                pass
            print(f"\nthe program saw {obj.bss.hits - before} writes of the dots", flush=True)
    except KeyboardInterrupt:
        return 130      # Ctrl-C or kill before the loop: quietly, as pybpf's tools
    except pybpf.PybpfError as e:
        print(f"minimal_ns: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
