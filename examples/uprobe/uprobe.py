"""uprobe: trace calls of libc's abs() and labs() made by this process.

Port of libbpf-bootstrap's uprobe: two programs auto-attach from their section
(``uprobe/libc.so.6:labs``), two attach by hand with ``attach_uprobe`` to one process
(``pid=``); the links belong to the object either way.  The calls go through ctypes, so
they are real calls into libc.
"""

import ctypes
import os
import sys
import time

import pybpf
from pybpf.interrupts import interrupt_on_signals
from pybpf.options import ArgumentParser  # argparse's, imported only if needed

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--count", type=int, default=0, help="stop after N rounds")
    ap.add_argument("-i", "--interval", type=float, default=1.0, help="seconds between rounds")
    args = ap.parse_args(argv)
    # Ctrl-C and kill end the loop below, also when started with SIGINT ignored (a
    # script's background job), also when raised where CPython would drop it
    interrupt_on_signals()
    libc = ctypes.CDLL("libc.so.6")
    libc.labs.argtypes, libc.labs.restype = [ctypes.c_long], ctypes.c_long
    try:
        with pybpf.load(os.path.join(HERE, "uprobe.bpf.c")) as obj:
            obj.bss.my_pid = os.getpid()
            obj.attach()                                   # the labs() pair
            p = obj.programs
            p["uprobe_abs"].attach_uprobe("libc.so.6", "abs", pid=os.getpid())
            p["uretprobe_abs"].attach_uprobe("libc.so.6", "abs", pid=os.getpid(),
                                             retprobe=True)
            i = 0
            try:
                print(f"Successfully started! {len(obj.links)} links", flush=True)
                while not args.count or i < args.count:
                    libc.abs(-i)
                    libc.labs(-1000 * i)
                    b = obj.bss
                    print(f"round {i}: abs({b.abs_arg}) = {b.abs_ret}, "
                          f"labs({b.labs_arg}) = {b.labs_ret}", flush=True)
                    i += 1
                    time.sleep(args.interval)
            except KeyboardInterrupt:
                pass
            print(f"calls seen: abs {obj.bss.abs_calls}, labs {obj.bss.labs_calls}")
    except KeyboardInterrupt:
        return 130      # Ctrl-C or kill before the loop: quietly, as pybpf's tools
    except pybpf.PybpfError as e:
        print(f"uprobe: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
