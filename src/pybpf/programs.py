"""Programs: :class:`ProgramSpec` (what to load) and :class:`Program` (a loaded program).

Loading follows libbpf's habit: the first BPF_PROG_LOAD goes without a verifier
log (fast), and only a failed load is retried with a log, which then becomes a
:class:`~pybpf.errors.VerifierError` or a more precise typed error.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os

TYPE_CHECKING = False
if TYPE_CHECKING:          # typing costs milliseconds at start-up; annotations only
    from collections.abc import Iterable, Sequence   # collections: ~1 ms of a start
    from typing import Any

    from . import info

from . import errors     # info on first use, bpffs only where pinning: off a tool's start
from ._record import named_tuple
from ._sys import attr, syscall
from ._sys.uapi import AttachType, Cmd, ProgFlag, ProgType
from .fd import FD
from .links.methods import AttachMethods

__all__ = ["ProgramSpec", "Program", "TestRunResult", "encode_instructions", "sanitize_name"]

ENOTSUPP = 524                  # kernel-internal "not supported", leaks out of bpf(2)
DEFAULT_LOG_SIZE = 1 << 18      # first log buffer after a failed load
MAX_LOG_SIZE = 64 << 20         # stop growing the log buffer here
MAX_INSNS = 1_000_000           # BPF_COMPLEXITY_LIMIT_INSNS
FUNC_INFO_SIZE = 8              # sizeof(struct bpf_func_info)
LINE_INFO_SIZE = 16             # sizeof(struct bpf_line_info)
TRAMPOLINE_FEATURE = "BPF trampolines (fentry/fexit/fmod_ret/LSM)"
_TRAMPOLINE_TYPES = (ProgType.TRACING, ProgType.LSM, ProgType.EXT)
_TRACING_TYPES = (ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.PERF_EVENT,
                  ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE,
                  ProgType.TRACING, ProgType.LSM, ProgType.EXT)
_NAME_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")

# Source location for an instruction index: (file, line, text).
SourceLine = tuple[str, int, str]


def sanitize_name(name: str) -> str:
    """The name as the kernel accepts it: ``[A-Za-z0-9_.]``, at most 15 characters."""
    name = name[:15]        # (no re: it costs every start ~2 ms)
    return name if _NAME_OK.issuperset(name) else \
        "".join(c if c in _NAME_OK else "_" for c in name)


def encode_instructions(insns: Any) -> bytes:
    """Bytes of a program given as bytes or as a sequence of instructions with ``encode()``."""
    if isinstance(insns, (bytes, bytearray, memoryview)):
        data = bytes(insns)
    else:
        parts = []
        for ins in insns:
            parts.append(bytes(ins) if isinstance(ins, (bytes, bytearray)) else ins.encode())
        data = b"".join(parts)
    if len(data) % 8:
        raise ValueError(f"program length {len(data)} is not a multiple of 8 bytes")
    return data


class ProgramSpec:
    """What BPF_PROG_LOAD needs (a plain class: dataclasses cost milliseconds of start-up)."""

    _FIELDS = ("name", "type", "instructions", "license", "expected_attach_type",
               "attach_btf_id", "attach_btf_obj_fd", "attach_prog_fd", "kern_version", "flags",
               "btf_fd", "func_info", "func_info_rec_size", "func_info_cnt", "line_info",
               "line_info_rec_size", "line_info_cnt", "source_lines", "fd_array", "section",
               "attach_to")

    def __init__(self, name: str, type: ProgType | int, instructions: Any = b"",
                 license: str = "GPL", expected_attach_type: AttachType | int = 0,
                 attach_btf_id: int = 0, attach_btf_obj_fd: int = 0, attach_prog_fd: int = 0,
                 kern_version: int = 0, flags: ProgFlag | int = 0, btf_fd: int = 0,
                 func_info: bytes = b"", func_info_rec_size: int = 0, func_info_cnt: int = 0,
                 line_info: bytes = b"", line_info_rec_size: int = 0, line_info_cnt: int = 0,
                 source_lines: dict[int, SourceLine] | Sequence[SourceLine | None] | None = None,
                 fd_array: Sequence[int] = (), section: str = "", attach_to: str = ""):
        self.name = name
        self.type = type
        self.instructions = instructions      # bytes, or a list of asm Instructions
        self.license = license
        self.expected_attach_type = expected_attach_type
        self.attach_btf_id = attach_btf_id
        self.attach_btf_obj_fd = attach_btf_obj_fd
        self.attach_prog_fd = attach_prog_fd
        self.kern_version = kern_version
        self.flags = flags
        self.btf_fd = btf_fd
        self.func_info = func_info
        self.func_info_rec_size = func_info_rec_size    # 0: sizeof(struct bpf_func_info)
        self.func_info_cnt = func_info_cnt
        self.line_info = line_info
        self.line_info_rec_size = line_info_rec_size    # 0: sizeof(struct bpf_line_info)
        self.line_info_cnt = line_info_cnt
        # insn index -> (file, line, text): a dict, or a list indexed by insn (None = no line)
        self.source_lines = {} if source_lines is None else source_lines
        self.fd_array = fd_array
        self.section = section
        self.attach_to = attach_to            # attach target from the section, e.g. "sched_switch"

    def __eq__(self, other) -> bool:
        return type(other) is ProgramSpec and all(getattr(self, f) == getattr(other, f)
                                                  for f in self._FIELDS)

    def __repr__(self) -> str:
        return "ProgramSpec(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self._FIELDS
                                          if f != "source_lines") + ")"

    def insn_bytes(self) -> bytes:
        return encode_instructions(self.instructions)

    @property
    def insn_count(self) -> int:
        return len(self.insn_bytes()) // 8


class TestRunResult(named_tuple("TestRunResult", "retval data_out ctx_out duration_ns")):
    """What BPF_PROG_TEST_RUN returned; ``duration_ns`` is the mean time per run."""
    __slots__ = ()


def _type_name(t: int) -> str:
    try:
        return ProgType(t).name.lower()
    except ValueError:
        return f"type {t}"


class _LoadAttr:
    """A ProgLoad attr plus the buffers it points into (kept alive for the call)."""

    def __init__(self, spec: ProgramSpec, insns: bytes):
        self.keep: list[Any] = []
        a = attr.ProgLoad(prog_type=int(spec.type), insn_cnt=len(insns) // 8,
                          insns=self._buf(insns), license=self._buf(spec.license.encode() + b"\0"),
                          kern_version=spec.kern_version, prog_flags=int(spec.flags),
                          prog_name=sanitize_name(spec.name).encode(),
                          expected_attach_type=int(spec.expected_attach_type),
                          prog_btf_fd=spec.btf_fd,
                          attach_btf_id=spec.attach_btf_id,
                          attach_btf_obj_fd=spec.attach_prog_fd or spec.attach_btf_obj_fd)
        if spec.func_info:
            size = spec.func_info_rec_size or FUNC_INFO_SIZE
            a.func_info = self._buf(spec.func_info)
            a.func_info_rec_size = size
            a.func_info_cnt = spec.func_info_cnt or len(spec.func_info) // size
        if spec.line_info:
            size = spec.line_info_rec_size or LINE_INFO_SIZE
            a.line_info = self._buf(spec.line_info)
            a.line_info_rec_size = size
            a.line_info_cnt = spec.line_info_cnt or len(spec.line_info) // size
        if spec.fd_array:
            arr = (ctypes.c_int32 * len(spec.fd_array))(*spec.fd_array)
            self.keep.append(arr)
            a.fd_array = ctypes.addressof(arr)
        self.attr = a

    def _buf(self, data: bytes) -> int:
        b = ctypes.create_string_buffer(data, len(data))
        self.keep.append(b)
        return ctypes.addressof(b)

    def set_log(self, level: int, size: int) -> ctypes.Array:
        buf = ctypes.create_string_buffer(size)
        self.keep.append(buf)
        self.attr.log_level, self.attr.log_size = level, size
        self.attr.log_buf = ctypes.addressof(buf)
        self.attr.log_true_size = 0
        return buf


def _load_with_log(la: _LoadAttr, level: int, size: int) -> tuple[int, int, str, bool]:
    """Load with a log, growing the buffer on ENOSPC: (fd or -1, errno, log, truncated)."""
    size = max(size, 4096)
    while True:
        buf = la.set_log(level, size)
        try:
            fd = syscall.bpf(Cmd.PROG_LOAD, la.attr)
            return fd, 0, _text(buf), False
        except errors.KernelError as e:
            err = e.errno
        if err != _errno.ENOSPC or size >= MAX_LOG_SIZE:
            return -1, err, _text(buf), err == _errno.ENOSPC
        # Kernels >= 6.4 report the size the whole log needs in log_true_size.
        need = la.attr.log_true_size
        size = min(MAX_LOG_SIZE, need + 1 if need > size else size * 2)


def _text(buf: ctypes.Array) -> str:
    return buf.value.decode(errors="replace")


def _needed_capability(t: int) -> str:
    if t in _TRACING_TYPES:
        return "CAP_BPF and CAP_PERFMON"
    if t in (ProgType.SOCKET_FILTER, ProgType.CGROUP_SKB):
        return "CAP_BPF"
    return "CAP_BPF and CAP_NET_ADMIN"


class Program(AttachMethods):
    """A loaded program: owns its fd; ``close()`` is idempotent; usable in ``with``.
    ``attach_*()`` methods attach it (see :mod:`pybpf.links.methods`)."""

    def __init__(self, fd: FD, name: str, prog_type: int, *, spec: ProgramSpec | None = None,
                 log: str = ""):
        self.fd = fd
        self.name = name
        self.type = _as_prog_type(prog_type)
        self.spec = spec
        self.verifier_log = log     # the log of a successful load when one was asked for
        self._pinned: str | None = None

    # ---- loading ------------------------------------------------------------------

    @classmethod
    def load(cls, spec: ProgramSpec, log_level: int = 0,
             log_size: int = DEFAULT_LOG_SIZE) -> "Program":
        """BPF_PROG_LOAD; raises VerifierError, NotSupportedError or MissingPrivilegeError."""
        insns = spec.insn_bytes()
        if not insns:
            raise ValueError(f"program {spec.name!r} has no instructions")
        la = _LoadAttr(spec, insns)
        if log_level:
            fd, err, log, trunc = _load_with_log(la, log_level, log_size)
            if fd >= 0:
                return cls(FD(fd), spec.name, spec.type, spec=spec, log=log)
        else:
            try:
                fd = syscall.bpf(Cmd.PROG_LOAD, la.attr)
                return cls(FD(fd), spec.name, spec.type, spec=spec)
            except errors.KernelError as e:
                first = e.errno
            fd, err, log, trunc = _load_with_log(la, 1, log_size)
            if fd >= 0:  # loaded on the retry (the first failure was transient)
                return cls(FD(fd), spec.name, spec.type, spec=spec)
            if err == _errno.ENOSPC and first != _errno.ENOSPC:
                err = first  # the log did not fit; report the real failure
        raise _load_error(spec, len(insns) // 8, err, log, trunc)

    @classmethod
    def from_fd(cls, fd: int | FD) -> "Program":
        """Wrap a program fd: an :class:`FD` is adopted, a plain int is duplicated."""
        owned = fd if isinstance(fd, FD) else FD(os.dup(fd))
        if not _is_prog_fd(owned.fileno()):
            owned.close()
            raise errors.PybpfError(f"fd {int(fd)} is not a BPF program")
        try:
            from .info import prog_info
            i = prog_info(owned.fileno())
        except BaseException:
            owned.close()
            raise
        return cls(owned, i.name, i.type)

    @classmethod
    def from_id(cls, prog_id: int) -> "Program":
        """Open the loaded program with this id (NotFoundError if it is gone)."""
        from .info import fd_by_id
        return cls.from_fd(fd_by_id("prog", prog_id))

    @classmethod
    def from_pin(cls, path: str) -> "Program":
        """Open a program pinned on bpffs."""
        from . import bpffs
        return cls.from_fd(bpffs.get(path))

    # ---- the fd and what the kernel knows about it -----------------------------------

    def fileno(self) -> int:
        return self.fd.fileno()

    @property
    def closed(self) -> bool:
        return self.fd.closed

    def info(self) -> info.ProgInfo:
        from .info import prog_info
        return prog_info(self.fileno())

    @property
    def id(self) -> int:
        return self.info().id

    @property
    def tag(self) -> str:
        """The kernel's hash of the program, as hex (what ``bpftool prog`` shows)."""
        return self.info().tag

    def xlated(self) -> bytes:
        """The instructions as the kernel rewrote them."""
        from .info import prog_xlated
        return prog_xlated(self.fileno())

    def pin(self, path: str) -> None:
        from . import bpffs
        bpffs.pin(self.fileno(), path)
        self._pinned = path

    def unpin(self, path: str | None = None) -> None:
        """Remove the pin made by :meth:`pin` (or the one at ``path``)."""
        target = path or self._pinned
        if target is None:
            raise errors.PybpfError(f"program {self.name!r} is not pinned")
        from . import bpffs
        bpffs.unpin(target)
        if target == self._pinned:
            self._pinned = None

    def bind_map(self, map_fd: Any, flags: int = 0) -> None:
        """Keep a map alive as long as this program (BPF_PROG_BIND_MAP)."""
        fd = map_fd if isinstance(map_fd, int) else map_fd.fileno()
        syscall.bpf(Cmd.PROG_BIND_MAP, attr.ProgBindMap(prog_fd=self.fileno(), map_fd=fd,
                                                        flags=flags),
                    detail=f"program {self.name!r}, map fd {fd}", feature="BPF_PROG_BIND_MAP")

    # ---- running -------------------------------------------------------------------

    def test_run(self, data_in: bytes = b"", ctx_in: bytes | None = None, repeat: int = 1,
                 data_size_out: int | None = None, flags: int = 0, cpu: int = 0,
                 batch_size: int = 0) -> TestRunResult:
        """Run the program once (or ``repeat`` times) in the kernel on given input."""
        if data_size_out is None:
            data_size_out = len(data_in) + 256 if data_in else 0
        for _ in range(2):
            a, keep = self._test_run_attr(data_in, ctx_in, repeat, data_size_out, flags, cpu,
                                          batch_size)
            try:
                syscall.bpf(Cmd.PROG_TEST_RUN, a)
            except errors.KernelError as e:
                # ENOSPC: data_out too small; the kernel says how much it needed.
                if e.errno == _errno.ENOSPC and a.data_size_out > data_size_out:
                    data_size_out = a.data_size_out
                    continue
                raise self._test_run_error(e) from None
            out = keep[1].raw[:a.data_size_out] if keep[1] is not None else b""
            ctx = keep[3].raw[:a.ctx_size_out] if keep[3] is not None else b""
            return TestRunResult(a.retval, out, ctx, a.duration)
        raise errors.KernelError(_errno.ENOSPC, "BPF_PROG_TEST_RUN", "data_out kept growing")

    def _test_run_attr(self, data_in, ctx_in, repeat, size_out, flags, cpu, batch):
        din = ctypes.create_string_buffer(data_in, len(data_in)) if data_in else None
        dout = ctypes.create_string_buffer(size_out) if size_out else None
        cin = ctypes.create_string_buffer(ctx_in, len(ctx_in)) if ctx_in else None
        cout = ctypes.create_string_buffer(len(ctx_in)) if ctx_in else None
        a = attr.TestRun(prog_fd=self.fileno(), data_size_in=len(data_in),
                         data_size_out=size_out, data_in=syscall.addr(din),
                         data_out=syscall.addr(dout), repeat=repeat,
                         ctx_size_in=len(ctx_in or b""), ctx_size_out=len(ctx_in or b""),
                         ctx_in=syscall.addr(cin), ctx_out=syscall.addr(cout),
                         flags=flags, cpu=cpu, batch_size=batch)
        return a, (din, dout, cin, cout)

    def _test_run_error(self, e: errors.KernelError) -> errors.KernelError:
        what = f"BPF_PROG_TEST_RUN of {_type_name(self.type)} programs"
        if e.errno in (ENOTSUPP, _errno.EOPNOTSUPP):
            return errors.NotSupportedError(what, "the kernel has no test runner for this "
                                            "program type", e.errno, "BPF_PROG_TEST_RUN")
        if e.errno == _errno.EINVAL:
            return errors.KernelError(e.errno, "BPF_PROG_TEST_RUN",
                                      f"program {self.name!r} ({_type_name(self.type)}): the "
                                      "kernel rejected the input (skb/xdp programs need "
                                      "data_in of at least 14 bytes; some types take no "
                                      "data_in, ctx_in, repeat or flags)")
        return e

    # ---- lifetime ------------------------------------------------------------------

    def close(self) -> None:
        self.fd.close()

    def __enter__(self) -> "Program":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.fd.closed else f"fd {self.fd.fileno()}"
        return f"<Program {self.name!r} {_type_name(self.type)} {state}>"


def _as_prog_type(t: int) -> ProgType | int:
    try:
        return ProgType(t)
    except ValueError:
        return t


def _is_prog_fd(fd: int) -> bool:
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as f:
            return b"prog_type:" in f.read()
    except OSError:
        return False


def _load_error(spec: ProgramSpec, n: int, err: int, log: str,
                truncated: bool) -> errors.KernelError:
    """The typed error for a failed load, from its errno and verifier log."""
    tname = _type_name(spec.type)
    what = f"program {spec.name!r} ({tname}, {n} insns)"
    if err == _errno.EPERM:
        return _eperm_error(spec, what)
    if err in (ENOTSUPP, _errno.EOPNOTSUPP):
        return errors.NotSupportedError(f"loading {tname} programs",
                                        f"{what}: {errors._last_message(log)}", err,
                                        "BPF_PROG_LOAD")
    if err == _errno.E2BIG and (n > MAX_INSNS or not _has_verifier_output(log)):
        return errors.KernelError(err, "BPF_PROG_LOAD", f"{what} is too large"
                                  f" (limit {MAX_INSNS} instructions, processed or given)"
                                  + (f": {errors._last_message(log)}" if log.strip() else ""))
    if log.strip() and _has_verifier_output(log):
        ve = errors.VerifierError(err, spec.name, log, truncated)
        _add_source(ve, spec)
        return ve
    if err == _errno.EINVAL:
        from .features import Features
        if not Features().prog_type(spec.type):
            return errors.NotSupportedError(f"program type {tname}", "BPF_PROG_LOAD rejects "
                                            "this type with EINVAL even for a trivial program",
                                            err, "BPF_PROG_LOAD")
        return errors.KernelError(err, "BPF_PROG_LOAD", f"{what}: the kernel rejected the "
                                  "load attributes before verification (check "
                                  "expected_attach_type, attach_btf_id, flags, BTF func/line "
                                  "info)")
    return errors.from_errno(err, "BPF_PROG_LOAD", what)


def _has_verifier_output(log: str) -> bool:
    """True when the log holds more than the closing statistics line."""
    return any(line.strip() and not line.startswith(("processed ", "verification time"))
               for line in log.splitlines())


def _eperm_error(spec: ProgramSpec, what: str) -> errors.KernelError:
    from .features import has_capability, CAP_BPF, CAP_SYS_ADMIN
    privileged = has_capability(CAP_SYS_ADMIN) or has_capability(CAP_BPF)
    needs_trampoline = spec.type in _TRAMPOLINE_TYPES or (
        spec.attach_btf_id and spec.type != ProgType.STRUCT_OPS)
    if privileged and needs_trampoline:
        return errors.NotSupportedError(
            TRAMPOLINE_FEATURE,
            f"the kernel refused to load a program that needs a BPF trampoline (EPERM) "
            f"although this process has CAP_BPF/CAP_SYS_ADMIN: {what}. The kernel lacks "
            "trampoline support (e.g. no ftrace direct calls) or a lockdown/LSM policy "
            "forbids it; use a kprobe, tracepoint or raw_tracepoint program instead",
            _errno.EPERM, "BPF_PROG_LOAD")
    if privileged:
        return errors.KernelError(_errno.EPERM, "BPF_PROG_LOAD",
                                  f"{what}: refused (EPERM) despite CAP_BPF/CAP_SYS_ADMIN "
                                  "(kernel lockdown or an LSM policy?)")
    return errors.MissingPrivilegeError(_errno.EPERM, "BPF_PROG_LOAD",
                                        _needed_capability(spec.type), what)


def _add_source(ve: errors.VerifierError, spec: ProgramSpec) -> None:
    """Name the failing C line from ``spec.source_lines`` when the log did not print it."""
    if ve.insn is None or ve.source_line or not spec.source_lines:
        return
    loc = _nearest_source(spec.source_lines, ve.insn)
    if loc is None:
        return
    file, line, text = loc
    ve.source_line = f"{text.strip()} @ {file}:{line}"
    ve.strerror = ve.strerror.replace(f"at instruction {ve.insn}",
                                      f"at instruction {ve.insn} ({ve.source_line})", 1)


def _nearest_source(lines: dict[int, SourceLine] | Sequence[SourceLine | None],
                    insn: int) -> SourceLine | None:
    """The source line covering ``insn``: the entry at or before it."""
    if not isinstance(lines, dict):
        lines = {i: loc for i, loc in enumerate(lines) if loc is not None}
    best = None
    for idx in sorted(lines):
        if idx > insn:
            break
        best = lines[idx]
    return best


def load_all(specs: Iterable[ProgramSpec]) -> list[Program]:
    """Load several programs; on failure close the ones already loaded."""
    out: list[Program] = []
    try:
        for s in specs:
            out.append(Program.load(s))
    except BaseException:
        for p in out:
            p.close()
        raise
    return out
