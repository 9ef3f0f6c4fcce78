"""oomkill: trace the OOM killer: victim, triggering task, memory, load (bcc's oomkill)."""

from __future__ import annotations

import struct

from .. import _args, _common, _run, _stat

_EV = struct.Struct("<QQQII16s16s")

EXAMPLES = """examples:
    pybpf oomkill            # trace OOM kills
    pybpf oomkill --json     # one JSON object per kill
"""


def parser():
    p = _args.parser("oomkill", "Trace the out-of-memory killer", EXAMPLES)
    _args.add_json(p, "kill")
    return p


def run(args, out):
    clock = _common.Clock()

    def header():
        out.header("Tracing OOM kills... Ctrl-C to stop.")

    def handle(data):
        ts, total_vm, anon_rss, tpid, kpid, tcomm, kcomm = _EV.unpack_from(data)
        tcomm = _common.cstr(tcomm)
        kcomm = _common.cstr(kcomm)
        load = _stat.loadavg()
        if out.json:
            out.row("", {"time": clock.hms(ts), "tpid": tpid, "tcomm": tcomm, "kpid": kpid,
                         "kcomm": kcomm, "total_vm_kb": total_vm, "anon_rss_kb": anon_rss,
                         "loadavg": load})
            return
        out.row('%s Triggered by PID %d ("%s"), OOM kill of PID %d ("%s"), total-vm %dkB, '
                "anon-rss %dkB, loadavg: %s" % (clock.hms(ts), tpid, tcomm, kpid, kcomm,
                                                total_vm, anon_rss, load), {})

    with _args.Filters(args) as f, _run.load("oomkill", f) as obj:
        _run.stream("oomkill", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("oomkill", parser, run, argv)
