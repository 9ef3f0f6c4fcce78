"""biolatency: summarize block device I/O latency as a histogram, as bcc's biolatency."""

from __future__ import annotations

import time

from .. import _args, _block, _hist, _run

EXAMPLES = """examples:
    pybpf biolatency                    # summarize block I/O latency as a histogram
    pybpf biolatency 1 10               # print 1 second summaries, 10 times
    pybpf biolatency -mT 1              # 1s summaries, milliseconds, and timestamps
    pybpf biolatency -Q                 # include OS queued time in I/O time
    pybpf biolatency -D                 # show each disk device separately
    pybpf biolatency -F                 # show I/O flags separately
    pybpf biolatency -d vda             # trace vda only
    pybpf biolatency -e                 # show extension summary (total, average)
    pybpf biolatency --json 1           # one JSON object per interval
    pybpf biolatency -j 1               # bcc's -j: one record per histogram
"""


def parser():
    p = _args.parser("biolatency", "Summarize block device I/O latency as a histogram",
                     EXAMPLES)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-Q", "--queued", action="store_true", help="include OS queued time in I/O time")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-D", "--disks", action="store_true", help="print a histogram per disk device")
    g.add_argument("-F", "--flags", action="store_true", help="print a histogram per set of I/O flags")
    p.add_argument("-d", "--disk", help="trace this disk only")
    p.add_argument("-e", "--extension", action="store_true",
                   help="summarize average/total value")
    _args.add_interval(p)
    _args.add_json(p, "interval")
    p.add_argument("-j", dest="bcc_json", action="store_true",
                   help="json output as bcc's -j: a record per histogram (ts, val_type, data)")
    return p


def bcc_json_record(slots: list, unit: str, section: str | None, key) -> dict:
    """bcc's -j record (its table.print_json_hist): the log2 buckets 1 up to the last one
    counted, as interval-start/-end/count (bucket 0, the zero values, is left out as bcc
    leaves it), with the section ("disk": name, "flags": text) when keyed.  bcc prints
    the dict's repr; this is printed as JSON, which both json and Python's literal
    parser read."""
    last = max((i for i, n in enumerate(slots) if n), default=0)
    data = [{"interval-start": 0 if i == 1 else 1 << (i - 1), "interval-end": (1 << i) - 1,
             "count": int(slots[i])} for i in range(1, last + 1)]
    rec = {"ts": time.strftime("%Y-%m-%d %H:%M:%S"), "val_type": unit, "data": data}
    if section:
        rec[section] = key
    return rec


def run(args, out):
    if args.bcc_json and out.json:
        raise SystemExit("error: -j (bcc's records) and --json are exclusive")
    disks = _block.Disks()
    consts = {"targ_queued": args.queued, "targ_per_disk": args.disks,
              "targ_per_flag": args.flags, "targ_ms": args.milliseconds,
              "extension": args.extension}
    if args.disk:
        dev = disks.by_name(args.disk)
        if dev is None:
            raise SystemExit(f"error: no disk {args.disk!r} in /sys/block")
        consts["targ_dev"] = dev
    unit = "msecs" if args.milliseconds else "usecs"
    section = "disk" if args.disks else "flags" if args.flags else None
    name = disks.name if args.disks else _block.flags_text if args.flags else None
    with _args.Filters(args) as f, _run.load("biolatency", f, consts) as obj:
        def report():
            raw = _hist.read(obj.maps["hists"])
            ext = _hist.ext_read(obj) if args.extension else None
            hists = {}
            for k, v in raw.items():
                key = int.from_bytes(k, "little")
                hists[name(key) if name else key] = v
            when = time.strftime("%H:%M:%S") if args.timestamp or out.json else None
            if args.bcc_json:
                import json
                w = out.stream.write
                w("\n" + ("%-8s\n" % when if when else ""))
                # one unkeyed histogram is printed even when empty, as bcc's
                for k, slots in sorted(hists.items()) or ([(None, [])] if not section else []):
                    w(json.dumps(bcc_json_record(slots, unit, section, k)) + "\n")
                return
            if not out.json:
                out.stream.write("\n")
            _hist.print_sections(out, hists, unit, section, time_line=when,
                                 extra=_hist.ext_fields(*ext) if ext and out.json else None)
            if ext:
                _hist.ext_line(out, *ext, unit)

        # bcc's -j prints no banner
        _run.intervals("biolatency", obj, args, out, report,
                       banner=None if args.bcc_json
                       else "Tracing block device I/O... Hit Ctrl-C to end.")
    return 0


def main(argv=None) -> int:
    return _run.main("biolatency", parser, run, argv)
