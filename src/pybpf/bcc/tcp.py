"""``bcc.tcp``: TCP state names (include/net/tcp_states.h) and header flag bits
(include/net/tcp.h), as bcc's tcp tools print them."""

from __future__ import annotations

_STATES = ("ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
           "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV")
tcpstate = {i + 1: name for i, name in enumerate(_STATES)}

TCPHDR_FIN, TCPHDR_SYN, TCPHDR_RST, TCPHDR_PSH = 0x01, 0x02, 0x04, 0x08
TCPHDR_ACK, TCPHDR_URG, TCPHDR_ECE, TCPHDR_CWR = 0x10, 0x20, 0x40, 0x80
_FLAGS = (("FIN", TCPHDR_FIN), ("SYN", TCPHDR_SYN), ("RST", TCPHDR_RST), ("PSH", TCPHDR_PSH),
          ("ACK", TCPHDR_ACK), ("URG", TCPHDR_URG), ("ECE", TCPHDR_ECE), ("CWR", TCPHDR_CWR))


def flags2str(flags: int) -> str:
    """``0x12`` -> ``"SYN|ACK"``."""
    return "|".join(name for name, bit in _FLAGS if flags & bit)


def state2str(state: int) -> str:
    """``1`` -> ``"ESTABLISHED"``; an unknown state as its number (newer bcc's tools)."""
    return tcpstate.get(state, str(state))
