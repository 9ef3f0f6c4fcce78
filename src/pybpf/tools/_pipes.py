"""How a command ends when its stdout's reader went away (``pybpf <tool> | head -1``):
quietly, with a C tool's status 141 (see :func:`pybpf.tools._common.run_main`)."""

from __future__ import annotations

import os
import sys

from ._common import CLOSED_PIPE


def reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (poll says POLLERR)."""
    import select
    try:
        p = select.poll()
        p.register(1, select.POLLOUT)
        return any(ev & select.POLLERR for _, ev in p.poll(0))
    except (OSError, ValueError):
        return False


def closed_pipe() -> int:
    """How every pybpf command ends when its stdout's reader went away (``| head -1``):
    quietly, status 141 (a C tool's, killed by SIGPIPE).  :func:`run_main` calls it for a
    BrokenPipeError from any command; one that must catch BrokenPipeError itself (``pybpf
    run``, around a script) returns this."""
    silence_stdout()
    return CLOSED_PIPE


def silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null: the reader is gone, and the
    interpreter's flush at exit would otherwise print an 'Exception ignored'
    BrokenPipeError (see :func:`closed_pipe`)."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(fd, sys.stdout.fileno())
        finally:
            os.close(fd)
    except (OSError, ValueError, AttributeError):
        pass
