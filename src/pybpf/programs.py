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
    from .testrun import TestRunResult

from . import errors     # info on first use, bpffs only where pinning: off a tool's start
from ._sys import attr, syscall
from ._sys.uapi import AttachType, Cmd, ProgFlag, ProgType
from .fd import FD
from .links.methods import AttachMethods

# TestRunResult is importable from here too (module __getattr__), documented in testrun
__all__ = ["ProgramSpec", "Program", "encode_instructions", "sanitize_name"]

ENOTSUPP = 524                  # kernel-internal "not supported", leaks out of bpf(2)
DEFAULT_LOG_SIZE = 1 << 18      # first log buffer after a failed load
MAX_LOG_SIZE = 64 << 20         # stop growing the log buffer here
MAX_INSNS = 1_000_000           # BPF_COMPLEXITY_LIMIT_INSNS
FUNC_INFO_SIZE = 8              # sizeof(struct bpf_func_info)
LINE_INFO_SIZE = 16             # sizeof(struct bpf_line_info)
TRAMPOLINE_FEATURE = "BPF trampolines (fentry/fexit/fmod_ret/LSM)"
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
            from .loaderror import load_with_log
            fd, err, log, trunc = load_with_log(la, log_level, log_size)
            if fd >= 0:
                return cls(FD(fd), spec.name, spec.type, spec=spec, log=log)
        else:
            try:
                fd = syscall.bpf(Cmd.PROG_LOAD, la.attr)
                return cls(FD(fd), spec.name, spec.type, spec=spec)
            except errors.KernelError as e:
                first = e.errno
            # a failed load is retried with a log, which names the error (loaderror)
            from .loaderror import load_with_log
            fd, err, log, trunc = load_with_log(la, 1, log_size)
            if fd >= 0:  # loaded on the retry (the first failure was transient)
                return cls(FD(fd), spec.name, spec.type, spec=spec)
            if err == _errno.ENOSPC and first != _errno.ENOSPC:
                err = first  # the log did not fit; report the real failure
        if err == _errno.EINVAL and "invalid func unknown#174" in log:
            # bpf_get_attach_cookie() before 5.15: load with cookie 0, which the helper
            # returns for an attachment without one; attaching with a cookie loads a copy
            # seeing that one (links/cookies.py).  ``spec`` keeps the calls to copy from.
            from .links.cookies import load_baked
            prog = load_baked(spec, 0, log_level=log_level, log_size=log_size)
            if prog is not None:
                return prog
        from .loaderror import load_error
        raise load_error(spec, len(insns) // 8, err, log, trunc)

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
        """Run the program once (or ``repeat`` times) in the kernel on given input
        (BPF_PROG_TEST_RUN, :mod:`pybpf.testrun`)."""
        from .testrun import test_run
        return test_run(self, data_in, ctx_in, repeat, data_size_out, flags, cpu, batch_size)

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


def __getattr__(name: str):
    # TestRunResult lives with the test runner: only programs that are test-run need it
    if name == "TestRunResult":
        from .testrun import TestRunResult
        return TestRunResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
