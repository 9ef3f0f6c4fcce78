"""BPF_PROG_TEST_RUN: run a loaded program once (or ``repeat`` times) in the kernel on
given packet/context bytes, as :meth:`pybpf.programs.Program.test_run` does."""

from __future__ import annotations

import ctypes
import errno as _errno

from . import errors
from ._record import named_tuple
from ._sys import attr, syscall
from ._sys.uapi import Cmd
from .programs import ENOTSUPP, _type_name


class TestRunResult(named_tuple("TestRunResult", "retval data_out ctx_out duration_ns")):
    """What BPF_PROG_TEST_RUN returned; ``duration_ns`` is the mean time per run."""
    __slots__ = ()


def test_run(prog, data_in: bytes = b"", ctx_in: bytes | None = None, repeat: int = 1,
             data_size_out: int | None = None, flags: int = 0, cpu: int = 0,
             batch_size: int = 0) -> TestRunResult:
    """Run ``prog`` once (or ``repeat`` times) in the kernel on given input."""
    if data_size_out is None:
        data_size_out = len(data_in) + 256 if data_in else 0
    for _ in range(2):
        a, keep = _attr(prog, data_in, ctx_in, repeat, data_size_out, flags, cpu, batch_size)
        try:
            syscall.bpf(Cmd.PROG_TEST_RUN, a)
        except errors.KernelError as e:
            # ENOSPC: data_out too small; the kernel says how much it needed.
            if e.errno == _errno.ENOSPC and a.data_size_out > data_size_out:
                data_size_out = a.data_size_out
                continue
            raise _error(prog, e) from None
        out = keep[1].raw[:a.data_size_out] if keep[1] is not None else b""
        ctx = keep[3].raw[:a.ctx_size_out] if keep[3] is not None else b""
        return TestRunResult(a.retval, out, ctx, a.duration)
    raise errors.KernelError(_errno.ENOSPC, "BPF_PROG_TEST_RUN", "data_out kept growing")


def _attr(prog, data_in, ctx_in, repeat, size_out, flags, cpu, batch):
    din = ctypes.create_string_buffer(data_in, len(data_in)) if data_in else None
    dout = ctypes.create_string_buffer(size_out) if size_out else None
    cin = ctypes.create_string_buffer(ctx_in, len(ctx_in)) if ctx_in else None
    cout = ctypes.create_string_buffer(len(ctx_in)) if ctx_in else None
    a = attr.TestRun(prog_fd=prog.fileno(), data_size_in=len(data_in),
                     data_size_out=size_out, data_in=syscall.addr(din),
                     data_out=syscall.addr(dout),
                     # 0 runs once too; syscall programs refuse any other value
                     repeat=0 if repeat == 1 else repeat,
                     ctx_size_in=len(ctx_in or b""), ctx_size_out=len(ctx_in or b""),
                     ctx_in=syscall.addr(cin), ctx_out=syscall.addr(cout),
                     flags=flags, cpu=cpu, batch_size=batch)
    return a, (din, dout, cin, cout)


def _error(prog, e: errors.KernelError) -> errors.KernelError:
    what = f"BPF_PROG_TEST_RUN of {_type_name(prog.type)} programs"
    if e.errno in (ENOTSUPP, _errno.EOPNOTSUPP):
        return errors.NotSupportedError(what, "the kernel has no test runner for this "
                                        "program type", e.errno, "BPF_PROG_TEST_RUN")
    if e.errno == _errno.EINVAL:
        return errors.KernelError(e.errno, "BPF_PROG_TEST_RUN",
                                  f"program {prog.name!r} ({_type_name(prog.type)}): the "
                                  "kernel rejected the input (skb/xdp programs need "
                                  "data_in of at least 14 bytes; some types take no "
                                  "data_in, ctx_in, repeat or flags)")
    return e
