"""``bcc.exec`` (newer bcc's tools: ``opensnoop --exec CMD``, ``syscount --exec CMD``):
start a command that waits until the tool's probes are in place, so none of its events
are missed, and tell the tool when it has ended.

``run_cmd(argv)`` forks a child that blocks on a pipe, then execs ``argv``; ``cmd_ready()``
lets it go; ``cmd_exited()`` is true once it has ended (asked without blocking).
"""

from __future__ import annotations

import os
import sys

_child = {"pid": 0, "gate": -1, "exited": False}     # one command per tool process


def run_cmd(argv) -> int:
    """Fork ``argv`` held at a gate; its pid (the tool filters on it)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            os.read(r, 1)               # the gate: the tool is ready, or has gone
            os.close(r)
            os.execvp(argv[0], list(argv))
        except OSError as e:
            print(f"failed to exec command: {' '.join(argv)}: {e.strerror}", file=sys.stderr)
        os._exit(127)
    os.close(r)
    _child.update(pid=pid, gate=w, exited=False)
    return pid


def cmd_ready() -> None:
    """Open the gate: the command starts now."""
    if _child["gate"] >= 0:
        try:
            os.write(_child["gate"], b"x")
        except OSError:
            pass
        os.close(_child["gate"])
        _child["gate"] = -1


def cmd_exited() -> bool:
    """True once the command has ended (it is reaped here)."""
    if _child["pid"] and not _child["exited"]:
        try:
            pid, _ = os.waitpid(_child["pid"], os.WNOHANG)
        except ChildProcessError:
            pid = _child["pid"]
        _child["exited"] = pid == _child["pid"]
    return _child["exited"]
