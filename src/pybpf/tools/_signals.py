"""What the signal tools (killsnoop, sigsnoop) share: signal names and numbers for their
options, and their event (tools/_signals.bpf.h) decoded."""

from __future__ import annotations

import struct

from . import _common

# argparse and signal (three enums) are imported where used: both cost a tool's start

EVENT = struct.Struct("<QIiii16s")   # struct event; tpid signed: kill(-pgid) and kill(-1)
                                     # name groups and "all", printed negative as bcc does


SIGRTMAX = 64               # _NSIG - 1 on Linux


def signal_number(text: str) -> int:
    """A signal given by number or name (9, KILL, SIGKILL), for -s: 0 (kill -0's probe)
    to 64 (SIGRTMAX); a number past it would filter on a signal no one can send."""
    if text.isdigit() and text.isascii():
        if int(text) > SIGRTMAX:
            from ._common import _arg_error
            raise _arg_error(f"signal {text} is out of range (0 to {SIGRTMAX})")
        return int(text)
    import signal
    name = text.upper() if text.upper().startswith("SIG") else "SIG" + text.upper()
    try:
        return int(signal.Signals[name])
    except KeyError:
        from ._common import _arg_error
        raise _arg_error(f"unknown signal {text!r}") from None


def sig_name(sig: int) -> str:
    import signal
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


def decode(data) -> tuple[int, int, int, int, int, str]:
    """(ts_ns, pid, tpid, sig, ret, comm) of one event."""
    ts, pid, tpid, sig, ret, comm = EVENT.unpack_from(data)
    return ts, pid, tpid, sig, ret, _common.cstr(comm)


def json_row(clock, ts: int, pid: int, comm: str, sig: int, tpid: int, ret: int,
             signame: bool = False) -> dict:
    """The JSON object of one signal (docs/tools.md); sigsnoop's names the signal too."""
    row = {"time": clock.hms(ts), "pid": pid, "comm": comm, "sig": sig}
    if signame:
        row["signame"] = sig_name(sig)
    row.update(tpid=tpid, result=ret)
    return row
