"""bitesize: summarize block I/O sizes per process name as histograms (bcc's bitesize)."""

from __future__ import annotations

import time

from .. import _args, _block, _common, _hist, _run

EXAMPLES = """examples:
    pybpf bitesize             # block I/O size histograms per process until Ctrl-C
    pybpf bitesize 1 10        # print 1 second summaries, 10 times
    pybpf bitesize -c dd       # only processes named dd
    pybpf bitesize -d vda      # only I/O to vda
    pybpf bitesize -T 1        # 1s summaries with timestamps
    pybpf bitesize --json 1    # one JSON object per interval
"""


def parser():
    p = _args.parser("bitesize", "Summarize block device I/O size as a histogram", EXAMPLES)
    p.add_argument("-c", "--comm", help="trace this process name only")
    p.add_argument("-d", "--disk", help="trace this disk only")
    _args.add_pid(p)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    _args.add_interval(p)
    _args.add_json(p, "interval")
    return p


def run(args, out):
    consts = {}
    if args.comm:
        c = args.comm.encode()[:15]
        consts["targ_comm"] = c + bytes(16 - len(c))
        consts["filter_comm"] = True
    if args.disk:
        dev = _block.Disks().by_name(args.disk)
        if dev is None:
            raise SystemExit(f"error: no disk {args.disk!r} in /sys/block")
        consts["targ_dev"] = dev
    with _args.Filters(args) as f, _run.load("bitesize", f, consts, attach=False) as obj:
        _run.attach_some(obj, optional=("io_start", "io_begin"))     # block_io_start: 6.5+
        def report():
            hists = {_common.cstr(k): v
                     for k, v in _hist.read(obj.maps["hists"]).items()}
            when = time.strftime("%H:%M:%S") if args.timestamp or out.json else None
            if not out.json:
                out.stream.write("\n")
            _hist.print_sections(out, hists, "Kbytes", "Process Name", time_line=when,
                                 json_section="comm")

        _run.intervals("bitesize", obj, args, out, report,
                       banner="Tracing block I/O... Hit Ctrl-C to end.")
    return 0


def main(argv=None) -> int:
    return _run.main("bitesize", parser, run, argv)
