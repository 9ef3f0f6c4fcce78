"""What the network tools share: the addresses layout of tools/_sock.bpf.h, formatted,
and port-list options."""

from __future__ import annotations

import struct

# socket's C half: the socket module wraps it in enums and selectors (~3 ms at a start)
# and inet_ntop is all the tools need
from _socket import inet_ntop

from . import _common

ADDRS = struct.Struct("<HHHH16s16s")     # struct addrs
AF_INET, AF_INET6 = 2, 10
TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
              11: "CLOSING", 12: "NEW_SYN_RECV"}


def addr(family: int, raw: bytes) -> str:
    if family == AF_INET:
        return inet_ntop(AF_INET, raw[:4])
    return inet_ntop(AF_INET6, raw[:16])


def unpack_addrs(data, offset: int = 0) -> tuple[int, int, int, str, str]:
    """(family, lport, dport, saddr, daddr) from a struct addrs at ``offset``."""
    family, lport, dport, _, s, d = ADDRS.unpack_from(data, offset)
    return family, lport, dport, addr(family, s), addr(family, d)


_CONN = struct.Struct("<QII")          # struct conn_event's head; addrs, comm follow
_CONN_COMM = _CONN.size + ADDRS.size


def decode_conn(data) -> tuple[int, int, int, int, int, int, str, str, str]:
    """(ts_ns, pid, uid, family, lport, dport, saddr, daddr, comm) of a struct
    conn_event (tcpconnect, tcpaccept)."""
    ts, pid, uid = _CONN.unpack_from(data)
    family, lport, dport, saddr, daddr = unpack_addrs(data, _CONN.size)
    comm = _common.cstr(bytes(data[_CONN_COMM:_CONN_COMM + 16]))
    return ts, pid, uid, family, lport, dport, saddr, daddr, comm


def ip_version(family: int) -> int:
    return 4 if family == AF_INET else 6


def port_list(text: str) -> list[int]:
    try:
        ports = [int(p) for p in text.split(",") if p]
    except ValueError:
        raise _common._arg_error(f"invalid port list {text!r}") from None
    if not ports or any(not 0 < p < 65536 for p in ports):
        raise _common._arg_error(f"invalid port list {text!r}")
    return ports


def add_family(p) -> None:
    """-4/-6, as bcc's network tools take them (see family_const)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("-4", "--ipv4", action="store_true", help="trace IPv4 family only")
    g.add_argument("-6", "--ipv6", action="store_true", help="trace IPv6 family only")


def family_const(args) -> int:
    """targ_family of _sock.bpf.h for -4/-6 (0: both)."""
    return AF_INET if args.ipv4 else AF_INET6 if args.ipv6 else 0


def add_filters(p, ports_help: str) -> None:
    """-P PORTS and -4/-6, as bcc's TCP tools take them."""
    p.add_argument("-P", "--port", type=port_list, help=ports_help)
    add_family(p)


def filter_consts(args, ports_side: str) -> dict:
    """The BPF constants (_sock.bpf.h) of -P (local ports: side "l", remote: "d") and
    -4/-6."""
    ports, n = ports_bytes(args.port)
    return {f"targ_{ports_side}ports": ports, f"n_{ports_side}ports": n,
            "targ_family": family_const(args)}


def ports_bytes(ports: list[int] | None, n: int = 8) -> tuple[bytes, int]:
    """A const u16 ports[n] array for the BPF side, and how many are set."""
    ports = (ports or [])[:n]
    return struct.pack(f"<{n}H", *(ports + [0] * (n - len(ports)))), len(ports)
