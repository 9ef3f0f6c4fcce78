"""The tools' shared command line: -p PID, -t TID, -c CGROUP, --cgroupmap/--mntnsmap,
-T/--time, interval and count, --json, with bcc's spellings, and one-line errors."""

from __future__ import annotations

import errno
import os
import sys

from .. import errors
from ..options import SUPPRESS  # noqa: F401  (argparse.SUPPRESS, for hidden options)
from . import _common


def parser(tool: str, description: str, examples: str = ""):
    """The tool's argument parser: the shared one (one-line errors, exit 2) with bcc's
    description and examples."""
    p = _common.ArgumentParser(prog=f"pybpf {tool}", description=description,
                               epilog=examples or None)
    add_ebpf(p)
    return p


def add_ebpf(p):
    """bcc's hidden ``--ebpf``: print the BPF program these options would load, and exit
    (tools/_ebpf.py; nothing is loaded, no root needed)."""
    p.add_argument("--ebpf", action="store_true", help=SUPPRESS)


def positive_int(text: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise _common._arg_error(f"invalid number {text!r}") from None
    if v <= 0:
        raise _common._arg_error(f"{text!r} is not a positive number")
    return v


def positive_seconds(text: str) -> float:
    """Seconds for an interval or a duration: a number above zero (bcc takes -1 and 0
    silently and ends at once, or never)."""
    try:
        v = float(text)
    except ValueError:
        raise _common._arg_error(f"invalid number of seconds {text!r}") from None
    if not 0 < v < float("inf"):
        raise _common._arg_error(f"{text!r} is not a positive number of seconds")
    return v


def add_pid(p, tid: bool = False, pid_flags=("-p", "--pid"), tid_flags=("-L", "--tid")):
    p.add_argument(*pid_flags, dest="pid", metavar="PID", type=_common.pid_arg,
                   help="trace this PID only")
    if tid:
        p.add_argument(*tid_flags, dest="tid", metavar="TID", type=_common.pid_arg,
                       help="trace this thread ID only")


def add_cgroup(p, flags=("-c", "--cgroup")):
    p.add_argument(*flags, dest="cgroup", metavar="CGROUP",
                   help="trace tasks in this cgroup (a cgroup v2 directory) and below only")


def add_maps(p):
    p.add_argument("--cgroupmap", metavar="CGROUPMAP",
                   help="trace only cgroups whose ids are keys of this pinned BPF map")
    p.add_argument("--mntnsmap", metavar="MNTNSMAP",
                   help="trace only mount namespaces whose ids are keys of this pinned map")


def add_exec(p):
    """bcc's ``--exec CMD ARGS...`` (the rest of the line): trace only a command the tool
    starts once tracing is on (tools/_exec.py); ``exec_command(args)`` starts it."""
    p.add_argument("--exec", nargs="...", metavar="CMD",
                   help="execute command (as the last parameter, supports multiple "
                        "parameters, for example: --exec ls -l /tmp)")


def exec_command(args):
    """The --exec command (forked, held until its ``start()``), or None without --exec."""
    if getattr(args, "exec", None) is None:
        return None
    from . import _exec
    return _exec.command(args)


def add_include(p):
    """-I/--include HEADER (repeatable), bcc's argdist/trace option: the generated
    program includes each header (see _probegen.include_lines)."""
    p.add_argument("-I", "--include", action="append", metavar="header",
                   help="additional header files to include in the BPF program as either "
                        "full path, or relative to current working directory, or relative "
                        "to default kernel header search path (kernel types come from "
                        "vmlinux.h; a kernel header's constants from the installed "
                        "headers)")


def add_time(p, timestamp: bool = True, time_flags=("-T", "--time"),
             ts_flags=("-t", "--timestamp")):
    p.add_argument(*time_flags, dest="time", action="store_true",
                   help="include a time column (HH:MM:SS)")
    if timestamp:
        p.add_argument(*ts_flags, dest="timestamp", action="store_true",
                       help="include a timestamp column (seconds since start)")


def add_interval(p, interval_default: float = 99999999.0):
    p.add_argument("interval", nargs="?", type=positive_seconds, default=interval_default,
                   help="output interval, in seconds")
    p.add_argument("count", nargs="?", type=positive_int, default=99999999,
                   help="number of outputs")


def add_top(p):
    """The top-style tools' screen options (biotop, filetop): -C/--noclear, -r/--maxrows."""
    p.add_argument("-C", "--noclear", action="store_true", help="don't clear the screen")
    p.add_argument("-r", "--maxrows", type=positive_int, default=20,
                   help="maximum rows to print, default 20")


def add_summary(p, duration_flags=("-d", "--duration"), timestamp: bool = True):
    """The counting tools' summaries (funccount, funclatency, stackcount, syscount):
    -i/--interval and -d/--duration in whole seconds, and -T/--timestamp."""
    p.add_argument("-i", "--interval", type=positive_int, help="summary interval, in seconds")
    p.add_argument(*duration_flags, dest="duration", type=positive_int,
                   help="total duration of trace, in seconds")
    if timestamp:
        p.add_argument("-T", "--timestamp", action="store_true",
                       help="include timestamp on output")


def add_regexp(p):
    """-r/--regexp of the tools that take a probe pattern (funccount, funclatency,
    stackcount)."""
    p.add_argument("-r", "--regexp", action="store_true",
                   help="use regular expressions; the default is \"*\" wildcards only")


def add_json(p, what: str = "event"):
    p.add_argument("--json", action="store_true",
                   help=f"print one JSON object per {what} (docs/tools.md has the schema)")


def check_interval(p, args) -> None:
    v = getattr(args, "interval", None)
    if v is not None and v <= 0:
        p.error(f"interval must be positive, not {args.interval:g}")


class Filters:
    """The constants and maps behind the shared filter options, for tools/_common.bpf.h;
    a context manager owning the user's pinned maps and the cgroup directory it opened."""

    def __init__(self, args):
        self.consts: dict = {}
        self.maps: dict = {}
        self._cgroup_fd: int | None = None
        # --ebpf: only say what would run; open nothing (the pinned maps' names are kept)
        self.ebpf = getattr(args, "ebpf", False)
        self.pinned: list = []
        pid, tid = getattr(args, "pid", None), getattr(args, "tid", None)
        if pid:
            self.consts["targ_tgid"] = pid
        if tid:
            self.consts["targ_tid"] = tid
        try:
            for flag, mapname, path in (("filter_cgroup", "cgroup_filter",
                                         getattr(args, "cgroupmap", None)),
                                        ("filter_mntns", "mntns_filter",
                                         getattr(args, "mntnsmap", None))):
                if path and self.ebpf:
                    self.pinned.append(mapname)
                    self.consts[flag] = True
                elif path:
                    self.maps[mapname] = _common.open_pinned_map(
                        path, "--" + mapname.split("_")[0] + "map", key_size=8)
                    self.consts[flag] = True
            cg = getattr(args, "cgroup", None)
            if cg and self.ebpf:
                self.consts["filter_cg"] = True
            elif cg:
                try:
                    self._cgroup_fd = os.open(cg, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                    self._cgroup_path = cg
                except OSError as e:
                    raise errors.PybpfError(f"cgroup {cg!r}: {e.strerror}") from None
                self.consts["filter_cg"] = True
        except BaseException:
            self.close()
            raise

    def apply(self, obj) -> None:
        """After load: put the -c cgroup into the object's cgroup array."""
        if self._cgroup_fd is not None:
            try:
                obj.maps["cgroup_target"].update(0, self._cgroup_fd.to_bytes(4, "little"))
            except errors.KernelError as e:
                # the kernel takes only a cgroup v2 directory's fd (EBADF otherwise)
                if e.errno != errno.EBADF:
                    raise
                raise errors.PybpfError(f"cgroup {self._cgroup_path!r}: not a cgroup v2 "
                                        "directory") from None

    def close(self) -> None:
        for m in self.maps.values():
            m.close()
        self.maps = {}
        if self._cgroup_fd is not None:
            os.close(self._cgroup_fd)
            self._cgroup_fd = None

    def __enter__(self) -> "Filters":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def die(tool: str, message: str, code: int = 1) -> int:
    print(f"pybpf {tool}: error: {message}", file=sys.stderr)
    return code


def add_lines(p) -> None:
    """``--lines``: file:line and inlined frames in user stacks where debug info exists
    (bcc's stack tools have no such option; reading DWARF costs time at the report)."""
    p.add_argument("--lines", action="store_true",
                   help="show file:line and inlined functions in user stacks "
                        "(binaries with debug info)")


def interval_count(args) -> None:
    """bcc's -i INTERVAL and -d DURATION onto the shared interval loop's interval and
    count (_run.intervals): -d alone is one interval of that length."""
    if args.duration and not args.interval:
        args.interval = args.duration
    args.count = max(1, args.duration // args.interval) if args.duration else 99999999
    if not args.interval:
        args.interval = 99999999
