"""tc: a tc ingress program on an interface, counting UDP packets to one port.

Port of libbpf-bootstrap's tc: like its ``bpf_tc_hook_create`` + ``bpf_tc_attach``,
``attach_tc(iface, "ingress", mode="netlink")`` adds a clsact qdisc (unless there is one)
and a direct-action filter; ``--tcx`` makes a tcx link instead (kernel 6.6+; its attach
waits for an RCU grace period in the kernel, ~8 ms).  Either is owned by the object, so
closing it detaches.  The program lets every packet through.
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
    ap.add_argument("-i", "--iface", default="lo", help="interface (default %(default)s)")
    ap.add_argument("-p", "--port", type=int, default=9999, help="UDP port to count")
    ap.add_argument("-t", "--timeout", type=float, default=0, help="stop after SECONDS")
    ap.add_argument("--tcx", action="store_true", help="attach with a tcx link")
    args = ap.parse_args(argv)
    # Ctrl-C and kill end the loop below, also when started with SIGINT ignored (a
    # script's background job), also when raised where CPython would drop it
    interrupt_on_signals()
    try:
        with pybpf.load(os.path.join(HERE, "tc.bpf.c"), variables={"port": args.port}) as obj:
            link = obj.programs["tc_ingress"].attach_tc(
                args.iface, "ingress", mode="tcx" if args.tcx else "netlink")
            end = time.monotonic() + args.timeout if args.timeout else None
            try:
                print(f"Successfully started! Counting UDP packets to port {args.port} "
                      f"entering {args.iface} ({link.kind}); `cat /sys/kernel/tracing/"
                      "trace_pipe` shows every IPv4 packet", flush=True)
                while end is None or time.monotonic() < end:
                    time.sleep(0.1)
            except KeyboardInterrupt:
                pass
            b = obj.bss
            print(f"{b.packets} packets ({b.bytes} bytes) to port {args.port}; last: "
                  f"tot_len {b.last_tot_len}, ttl {b.last_ttl}", flush=True)
    except KeyboardInterrupt:
        return 130      # Ctrl-C or kill before the loop: quietly, as pybpf's tools
    except pybpf.PybpfError as e:
        print(f"tc: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
