"""sockfilter: report IPv4 packets on an interface through a socket filter.

Port of libbpf-bootstrap's sockfilter: a raw AF_PACKET socket bound to the interface,
the program attached to it with ``attach_socket(sock)``; packets come back as
``struct so_event`` (sockfilter.h, read with pybpf.ctype) through a ring buffer.
"""

import os
import socket
import sys
import time

import pybpf
from pybpf.interrupts import StopFlag, interrupt_on_signals
from pybpf.options import ArgumentParser  # argparse's, imported only if needed
from pybpf.ringbuf import RingBuffer

HERE = os.path.dirname(os.path.abspath(__file__))
ETH_P_ALL = 0x0003
PROTOS = {1: "ICMP", 6: "TCP", 17: "UDP"}


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-i", "--iface", default="lo", help="interface (default %(default)s)")
    ap.add_argument("-t", "--timeout", type=float, default=0, help="stop after SECONDS")
    args = ap.parse_args(argv)
    # Ctrl-C and kill end the loop below, also when started with SIGINT ignored (a
    # script's background job), also when raised where CPython would drop it
    interrupt_on_signals()
    try:
        Event = pybpf.ctype("struct so_event", header=os.path.join(HERE, "sockfilter.h"))
        with pybpf.load(os.path.join(HERE, "sockfilter.bpf.c")) as obj, \
                socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                              socket.htons(ETH_P_ALL)) as sock:
            sock.bind((args.iface, ETH_P_ALL))
            obj.programs["socket_handler"].attach_socket(sock)
            with RingBuffer(obj.maps["rb"]) as rb, StopFlag() as stop:
                # Ctrl-C ends the loop, never inside a batch being read
                end = time.monotonic() + args.timeout if args.timeout else None
                print(f"Successfully started! Packets on {args.iface}:", flush=True)
                while not stop and (end is None or time.monotonic() < end):
                    for e in rb.read(100, decode=Event):
                        _print(e)
                    sys.stdout.flush()
                for e in rb.read(0, decode=Event):       # what came during the last poll
                    _print(e)
            if obj.bss.dropped:
                print(f"{obj.bss.dropped} packets not reported (ring buffer full)",
                      file=sys.stderr)
    except KeyboardInterrupt:
        return 130      # Ctrl-C or kill before the loop: quietly, as pybpf's tools
    except pybpf.PybpfError as e:
        print(f"sockfilter: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # `| head`: quietly
    except OSError as e:
        print(f"sockfilter: {args.iface}: {e.strerror}", file=sys.stderr)
        return 1
    return 0


def _print(e) -> None:
    src = socket.inet_ntoa(e.src_addr.to_bytes(4, "little"))
    dst = socket.inet_ntoa(e.dst_addr.to_bytes(4, "little"))
    proto = PROTOS.get(e.ip_proto, str(e.ip_proto))
    try:
        iface = socket.if_indextoname(e.ifindex)
    except OSError:
        iface = str(e.ifindex)
    sport, dport = socket.ntohs(e.port16[0]), socket.ntohs(e.port16[1])
    print(f"interface: {iface}\tprotocol: {proto}\t{src}:{sport}(src) -> {dst}:{dport}(dst)")


if __name__ == "__main__":
    sys.exit(main())
