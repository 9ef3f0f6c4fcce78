"""capable: trace security capability checks (cap_capable), as bcc's capable."""

from __future__ import annotations

import os
import struct

from .. import _args, _common, _run, _stacks

_EV = struct.Struct("<QIIIiiiiiiI16s")

CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]

EXAMPLES = """examples:
    pybpf capable             # trace capability checks
    pybpf capable -v          # verbose: include non-audit checks (kprobe hook)
    pybpf capable -p 181      # only trace PID 181
    pybpf capable -K          # add kernel stacks to trace
    pybpf capable -U          # add user-space stacks to trace
    pybpf capable -x          # extra fields: show TID and INSETID columns
    pybpf capable --unique    # don't repeat stacks for the same pid or cgroup
    pybpf capable --hook kprobe   # use the kprobe even where the tracepoint exists
    pybpf capable --json      # one JSON object per check
"""

TRACEPOINT = "capability/cap_capable"


def parser():
    p = _args.parser("capable", "Trace security capability checks", EXAMPLES)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="include non-audit checks (the tracepoint shows every check)")
    _args.add_pid(p)
    p.add_argument("-K", "--kernel-stack", action="store_true", help="output kernel stack trace")
    p.add_argument("-U", "--user-stack", action="store_true", help="output user stack trace")
    p.add_argument("-x", "--extra", action="store_true", help="show extra fields in TID and INSETID columns")
    p.add_argument("--unique", action="store_true",
                   help="don't repeat stacks for the same pid or cgroup")
    p.add_argument("--hook", choices=("auto", "tracepoint", "kprobe"), default="auto",
                   help="capability:cap_capable tracepoint (6.14+) or kprobe on cap_capable")
    _args.add_cgroup(p)
    _args.add_maps(p)
    _args.add_json(p, "check")
    return p


def have_tracepoint() -> bool:
    from ... import tracefs
    try:
        return tracefs.tracepoint_exists(*TRACEPOINT.split("/"))
    except Exception:       # no tracefs: the kprobe path says what is missing
        return False


def run(args, out):
    from ... import errors
    hook = args.hook
    if hook == "auto":
        hook = "tracepoint" if have_tracepoint() else "kprobe"
    if hook == "kprobe":
        from ...links import kprobe
        if not kprobe.available():
            raise errors.NotSupportedError(
                "kprobe on cap_capable", "this kernel has no kprobes (CONFIG_KPROBES) "
                "and no capability:cap_capable tracepoint (Linux 6.14+)")
        programs = ["kp_capable", "kret_capable"]
    else:
        if args.hook == "tracepoint" and not have_tracepoint():
            raise errors.NotSupportedError(
                "tracepoint " + TRACEPOINT, "this kernel has no capability:cap_capable "
                "tracepoint (Linux 6.14+): use --hook kprobe")
        programs = ["tp_capable"]
    consts = {"verbose": args.verbose, "want_kstack": args.kernel_stack,
              "want_ustack": args.user_stack,
              "self_tgid": os.getpid() if args.kernel_stack or args.user_stack else 0}
    clock = _common.Clock()
    seen: set = set()

    def header():
        out.header("%-9s %-6s %-7s " % ("TIME", "UID", "PID")
                   + ("%-7s " % "TID" if args.extra else "")
                   + "%-16s %-4s %-20s %-6s %-7s" % ("COMM", "CAP", "NAME", "AUDIT", "VERDICT")
                   + (" %s" % "INSETID" if args.extra else ""))

    # maps these options leave unused are created with one entry: the kprobe pair's calls
    # in flight (10240) and the stacks (4096 of 127 frames): MAP_CREATE 1.50 -> 0.27 ms
    # (bench/RESULTS.md, hkill)
    sizes = {}
    if hook != "kprobe":
        sizes["start"] = 1
    if not (args.kernel_stack or args.user_stack):
        sizes["stacks"] = 1
    with _args.Filters(args) as f, _run.load("capable", f, consts, programs=programs,
                                             sizes=sizes) as obj:
        stacks = _stacks.Stacks(obj.maps["stacks"]) if args.kernel_stack or args.user_stack \
            else None

        def handle(data):
            (ts, pid, tid, uid, cap, ret, audit, insetid, kst, ust, _,
             comm) = _EV.unpack_from(data)
            comm = _common.cstr(comm)
            name = CAPS[cap] if 0 <= cap < len(CAPS) else "?"
            verdict = "allow" if ret == 0 else "deny"
            kernel = stacks.kernel(kst) if stacks and kst >= 0 else []
            user = stacks.user(ust, pid) if stacks and ust >= 0 else []
            if args.unique:
                key = (pid, kst, ust)
                if key in seen:
                    kernel = user = []
                seen.add(key)
            if out.json:
                rec = {"time": clock.hms(ts), "uid": uid, "pid": pid, "tid": tid,
                       "comm": comm, "cap": cap, "name": name,
                       "audit": None if audit < 0 else audit, "verdict": verdict,
                       "insetid": None if insetid < 0 else insetid}
                if stacks:
                    rec["kernel_stack"], rec["user_stack"] = kernel, user
                out.row("", rec)
                return
            out.row("%-9s %-6d %-7d " % (clock.hms(ts), uid, pid)
                    + ("%-7d " % tid if args.extra else "")
                    + "%-16s %-4d %-20s %-6s %-7s" % (comm, cap, name,
                                                     "-" if audit < 0 else audit, verdict)
                    + (" %s" % ("-" if insetid < 0 else insetid) if args.extra else ""), {})
            for fr in kernel + user:
                out.row(f"        {fr}", {})

        _run.stream("capable", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("capable", parser, run, argv)
