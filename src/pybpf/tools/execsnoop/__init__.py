"""execsnoop: trace exec() syscalls, option for option and column for column with bcc's."""

from __future__ import annotations

import struct
import sys

from .. import _args, _common, _run

_HDR = struct.Struct("<QIIIiIIIIII16s16s")  # struct event up to args[] (execsnoop.h)
ARGS_MAX = 60                        # TOTAL_MAX_ARGS in execsnoop.h

EXAMPLES = """examples:
    pybpf execsnoop                  # trace every exec()
    pybpf execsnoop -x               # also show failed exec()s
    pybpf execsnoop -T               # add a HH:MM:SS column
    pybpf execsnoop -t               # add a seconds-since-start column
    pybpf execsnoop -U               # add a UID column
    pybpf execsnoop -u 1000          # only UID 1000
    pybpf execsnoop -u alice         # only the user alice
    pybpf execsnoop -q               # put "quotes" around each argument
    pybpf execsnoop -n main          # only commands whose name matches "main"
    pybpf execsnoop -l tpkg          # only command lines containing "tpkg"
    pybpf execsnoop -P 181           # only children of PID 181
    pybpf execsnoop -C               # add a CPU column
    pybpf execsnoop -M               # add the parent's command (PCOMM)
    pybpf execsnoop --max-args 40    # keep up to 40 arguments
    pybpf execsnoop --cgroupmap /sys/fs/bpf/cgmap   # only cgroups in this pinned map
    pybpf execsnoop --mntnsmap /sys/fs/bpf/mntns    # only mount namespaces in this map
    pybpf execsnoop --json           # one JSON object per exec
"""


def parser():
    p = _common.ArgumentParser(prog="pybpf execsnoop", description="Trace exec() syscalls",
                               epilog=EXAMPLES)
    p.add_argument("-T", "--time", action="store_true",
                   help="include a time column (HH:MM:SS)")
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="include a timestamp column (seconds since start)")
    p.add_argument("-x", "--fails", action="store_true", help="include failed exec()s")
    p.add_argument("--cgroupmap", metavar="CGROUPMAP",
                   help="trace only cgroups whose ids are keys of this pinned BPF map")
    p.add_argument("--mntnsmap", metavar="MNTNSMAP",
                   help="trace only mount namespaces whose ids are keys of this pinned BPF map")
    p.add_argument("-u", "--uid", metavar="USER", type=_common.uid_arg,
                   help="trace this UID (number or user name) only")
    p.add_argument("-q", "--quote", action="store_true",
                   help='put quotemarks (") around arguments')
    p.add_argument("-n", "--name", metavar="NAME", type=_common.regex_arg,
                   help="only print commands whose name matches this regex")
    p.add_argument("-l", "--line", metavar="LINE", type=_common.regex_arg,
                   help="only print commands whose argument line matches this regex")
    p.add_argument("-U", "--print-uid", action="store_true", help="print a UID column")
    p.add_argument("--max-args", metavar="MAX_ARGS", default=20,
                   type=_common.int_range(1, ARGS_MAX, "an argument count"),
                   help="maximum number of arguments captured and shown (default 20)")
    p.add_argument("-P", "--ppid", metavar="PPID", type=_common.pid_arg,
                   help="trace children of this parent PID only")
    p.add_argument("-C", "--print-cpu", action="store_true", help="print CPU column")
    p.add_argument("-M", "--print-pcomm", action="store_true", help="print parent command")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per exec instead of columns")
    _args.add_ebpf(p)
    return p


class Formatter:
    """Turns raw events into bcc's columns or JSON records."""

    def __init__(self, args, out: _common.Output, clock: _common.Clock):
        self.args = args
        self.out = out
        self.clock = clock
        self.name_re = args.name     # compiled by _common.regex_arg
        self.line_re = args.line

    def header(self) -> None:
        a = self.args
        cols = ("%-9s" % "TIME" if a.time else "") + ("%-8s" % "TIME(s)" if a.timestamp else "") \
            + ("%-6s" % "UID" if a.print_uid else "")
        # bcc 0.26 heads the command "PCOMM"; bcc with -M calls it COMM and adds the
        # parent's as PCOMM after PID
        cols += "%-16s %-7s " % ("COMM" if a.print_pcomm else "PCOMM", "PID")
        if a.print_pcomm:
            cols += "%-16s " % "PCOMM"
        cols += "%-7s " % "PPID"
        if a.print_cpu:
            cols += "%-4s " % "CPU"
        self.out.header(cols + "%3s %s" % ("RET", "ARGS"))

    def event(self, data: memoryview) -> None:
        ts, pid, ppid, uid, ret, count, size, truncated, _, cpu, _, comm, pcomm = \
            _HDR.unpack_from(data)
        comm = comm.split(b"\0", 1)[0]
        argv = bytes(data[_HDR.size:_HDR.size + size]).split(b"\0")[:count]
        if truncated:
            argv.append(b"...")
        if self.name_re and not self.name_re.search(comm):
            return
        quoted = [b'"' + x.replace(b'"', b'\\"') + b'"' for x in argv] if self.args.quote \
            else argv
        line = b" ".join(quoted).replace(b"\n", b"\\n")
        if self.line_re and not self.line_re.search(line):
            return
        a = self.args
        if self.out.json:
            self.out.row("", {
                "time": self.clock.hms(ts), "timestamp": round(self.clock.since_start(ts), 6),
                "uid": uid, "pcomm": _common.raw_text(comm), "pid": pid,
                "ppid": ppid if ppid > 0 else None,
                "parent_comm": _common.cstr(pcomm),
                "cpu": cpu, "ret": ret,
                "args": [_common.raw_text(x) for x in argv],
            })
            return
        prefix = ("%-9s" % self.clock.hms(ts) if a.time else "") \
            + ("%-8.3f" % self.clock.since_start(ts) if a.timestamp else "") \
            + ("%-6d" % uid if a.print_uid else "")
        prefix += "%-16s %-7d " % (_common.raw_text(comm), pid)
        if a.print_pcomm:
            prefix += "%-16s " % _common.cstr(pcomm)
        prefix += "%-7s " % (ppid if ppid > 0 else "?")
        if a.print_cpu:
            prefix += "%-4d " % cpu
        self.out.row(prefix + "%3d %s" % (ret, _common.raw_text(line)), {})


PROGRAMS = ("tp_enter_execve", "tp_enter_execveat", "tp_exit")
# program_suffix() -> the maps only the other program set uses (left uncreated)
UNUSED_MAPS = {"": ("execs_hash", "empty_event"), "_hash": ("execs",)}


def program_suffix(release: str | None = None) -> str:
    """Which program set this kernel runs: task storage from 5.12 (tracing programs may use
    it and bpf_get_current_task_btf() there), else the set keyed by tgid in a hash."""
    from ...kernelid import release_tuple
    return "" if release_tuple(release) >= (5, 12) else "_hash"


def configure(args, open_maps: bool = True) -> tuple[dict, dict]:
    """The object's constants for these options, and the user's pinned maps that replace
    ours (--cgroupmap/--mntnsmap)."""
    consts = {"max_args": args.max_args, "ignore_failed": not args.fails}
    if args.uid is not None:
        consts["targ_uid"] = args.uid
    if args.ppid is not None:
        consts["targ_ppid"] = args.ppid
    opened = {}
    for flag, mapname, path, what in (("filter_cgroup", "cgroup_filter", args.cgroupmap,
                                       "--cgroupmap"),
                                      ("filter_mntns", "mntns_filter", args.mntnsmap,
                                       "--mntnsmap")):
        if path and not open_maps:
            consts[flag] = True
        elif path:
            # the same shapes as bcc's pinned cgroupset/mount_ns_set maps: hash maps
            # keyed by the 8-byte cgroup id / mount namespace inode number
            opened[mapname] = _common.open_pinned_map(path, what, key_size=8)
            consts[flag] = True
    return consts, opened


def run(args, out: _common.Output) -> int:
    import pybpf

    if args.ebpf:
        from .._ebpf import show_tool
        consts, _ = configure(args, open_maps=False)
        show_tool("execsnoop", consts, [p + program_suffix() for p in PROGRAMS],
                  maps=[m for m, v in (("cgroup_filter", args.cgroupmap),
                                       ("mntns_filter", args.mntnsmap)) if v])
    _common.require_privileges()
    consts, user_maps = configure(args)
    clock = _common.Clock()
    fmt = Formatter(args, out, clock)
    try:
        data, identity = _common.tool_object("execsnoop")
        suffix = program_suffix()
        with pybpf.load(data, name="execsnoop", variables=consts, maps=user_maps,
                        cache_key=identity, programs=[p + suffix for p in PROGRAMS],
                        autocreate=dict.fromkeys(UNUSED_MAPS[suffix], False)) as obj:
            _run.attach_some(obj, also={"tp_exit" + suffix:
                                        (("syscalls", "sys_exit_execveat"),)})
            _run.stream("execsnoop", obj, fmt.event, out, header=fmt.header)
    finally:
        for m in user_maps.values():
            m.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args, _common.Output(sys.stdout, json_lines=args.json))
    except _run.EbpfShown:
        return 0
