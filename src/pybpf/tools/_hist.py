"""Histograms kept in the kernel (tools/_common.bpf.h's ``struct hist``, per key), read
in batches, cleared per interval, printed in bcc's layout or as one JSON object."""

from __future__ import annotations

import struct

from . import _common

MAX_SLOTS = 27          # _common.bpf.h
_SLOTS = struct.Struct(f"<{MAX_SLOTS}I")


def read(m, clear: bool = True) -> dict[bytes, list[int]]:
    """key bytes -> slot counts of every histogram in hash map ``m`` (batch reads), the
    keys taken out as read when ``clear`` (bcc's per-interval ``dist.clear()``)."""
    # cleared: each entry taken out as it is read, so no count the BPF side adds while
    # this reads is lost (bcc reads all, then clears: what comes in between is lost)
    return {k: list(_SLOTS.unpack_from(v))
            for k, v in (m.drain_raw() if clear else m.items_raw())}


def read_array(m, clear: bool = True, cpu: int | None = None) -> list[int]:
    """Counts of a per-CPU (or plain) array map of u64 used as a linear histogram;
    ``cpu``: that CPU's counts only (funccount -c)."""
    n = m.max_entries
    counts = [0] * n
    for k, v in m.items_raw():
        i = int.from_bytes(k, "little")
        if m.percpu:
            slot = (m.value_size + 7) & ~7
            counts[i] = sum(int.from_bytes(v[c * slot:c * slot + m.value_size], "little")
                            for c in (range(m.ncpus) if cpu is None else (cpu,)))
        else:
            counts[i] = int.from_bytes(v[:m.value_size], "little")
    if clear and any(counts):
        zero = [bytes(m.value_size)] * m.ncpus if m.percpu else bytes(m.value_size)
        for i, c in enumerate(counts):
            if c:
                m.update(i, zero)
    return counts


def buckets(slots: list[int], linear: bool = False) -> list[dict]:
    """The non-empty buckets' bounds and counts, for JSON."""
    out = []
    for i, c in enumerate(slots):
        if not c:
            continue
        if linear:
            out.append({"low": i, "high": i, "count": c})
        else:
            low, high = (1 << i) >> 1, (1 << i) - 1
            if low == high:
                low -= 1
            out.append({"low": low, "high": high, "count": c})
    return out


def print_sections(out, hists: dict, unit: str, section: str | None = None,
                   label=None, linear: bool = False, time_line: str | None = None,
                   extra: dict | None = None, json_fields=None,
                   json_section: str | None = None) -> None:
    """Print every histogram as bcc does (``section = label(key)`` line before each when
    keyed), or one JSON object for the interval:
    ``{"time":..., "unit":..., "hists": [{section: key, **json_fields(key), "total": n,
    "buckets": [{"low", "high", "count"}...]}]}``."""
    items = sorted(hists.items())
    if out.json:
        rec = {"time": time_line, "unit": unit} if time_line else {"unit": unit}
        if extra:
            rec.update(extra)
        rec["hists"] = []
        for k, slots in items:
            h = {json_section or section: k} if section else {}
            if json_fields and section:
                h.update(json_fields(k))
            h["total"] = sum(slots)
            h["buckets"] = buckets(slots, linear)
            rec["hists"].append(h)
        out.row("", rec)
        return
    w = out.stream.write
    if time_line:
        w(time_line + "\n")
    for k, slots in items:
        if section:
            w(f"\n{section} = {label(k) if label else k}\n")
        # bcc's layout, from pybpf.bcc.hist (imported here: the bcc package costs a tool's
        # start ~20 ms, and nothing is printed until the first interval ends)
        from ..bcc import hist as bcc_hist
        lines = (bcc_hist.linear_lines if linear else bcc_hist.log2_lines)(slots, unit)
        w("\n".join(lines) + ("\n" if lines else ""))


def ext_read(obj) -> tuple[int, int]:
    """-e/--extension (biolatency, cpudist): the interval's (total, count) of the values
    histogrammed (tools/_extsum.bpf.h), reset for the next interval."""
    m = obj.maps["ext"]
    raw = bytes(m[0])
    m.update(0, bytes(16))
    return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:16], "little")


def ext_fields(total: int, count: int) -> dict:
    """The extension's JSON fields of an interval (avg as bcc prints it: whole units)."""
    return {"avg": total // count if count else 0, "total": total, "count": count}


def ext_line(out, total: int, count: int, unit: str) -> None:
    """bcc's line under the histograms (none for an interval without values)."""
    if count and not out.json:
        out.stream.write("\navg = %d %s, total: %d %s, count: %d\n\n" % (
            total // count, unit, total, unit, count))


def comm(pid: int) -> str:
    return _common.proc_comm(pid)


def comm_label(pid: int) -> str:
    """bcc's section label for a pid: the pid and, while it lives, its name."""
    c = comm(pid)
    return f"{pid} {c}" if c else str(pid)


def hist_report(obj, args, out, unit: str, section: str | None, label=None,
                json_fields=None, linear: bool = False):
    """The report of a tool with one histogram map ``hists`` keyed by a u32 (and with
    ``args.extension``, -e, the totals' line or JSON fields)."""
    import time
    extension = getattr(args, "extension", False)

    def report():
        hists = read(obj.maps["hists"])
        ext = ext_read(obj) if extension else None
        when = time.strftime("%H:%M:%S") if args.timestamp or out.json else None
        if not out.json:
            out.stream.write("\n")
        print_sections(out, {int.from_bytes(k, "little"): v for k, v in hists.items()},
                       unit, section, label, time_line=when, linear=linear,
                       json_fields=json_fields,
                       extra=ext_fields(*ext) if ext and out.json else None)
        if ext:
            ext_line(out, *ext, unit)
    return report


def add_task_options(p) -> None:
    """The options of the per-task histogram tools (runqlat, cpudist), in bcc's order."""
    from . import _args
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-P", "--pids", action="store_true", help="print a histogram per process ID")
    p.add_argument("-L", "--tids", action="store_true", help="print a histogram per thread ID")
    _args.add_pid(p)
    _args.add_cgroup(p)
    _args.add_interval(p)
    _args.add_json(p, "interval")


def run_task_hists(tool: str, args, out, consts: dict, banner: str,
                   stretches: str = "off-CPU stretches") -> int:
    """Run a per-task histogram tool: its object's by_pid/by_tid/millis constants from
    -P/-L/-m (and ``consts``), one histogram (or one per pid/tid) per interval;
    ``stretches`` names its intervals in the unseen-switch lines."""
    from . import _args, _run
    if args.pids and args.tids:
        raise SystemExit("error: -P and -L are exclusive")
    consts = {"by_pid": args.pids, "by_tid": args.tids, "millis": args.milliseconds,
              **consts}
    section = "pid" if args.pids else "tid" if args.tids else None
    label, fields = (comm_label, lambda k: {"comm": comm(k)}) if section else (None, None)
    if consts.get("by_pidns"):      # runqlat --pidnss: keyed by the namespace's inode
        section, label, fields = "pidns", None, None
    unit = "msecs" if args.milliseconds else "usecs"
    # one histogram (key 0) without -P/-L/--pidnss: its table needs one entry, not 10240
    # preallocated at every start
    sizes = None if section else {"hists": 1}
    with _args.Filters(args) as f, _run.load(tool, f, consts, sizes=sizes) as obj:
        _run.intervals(tool, obj, args, out,
                       hist_report(obj, args, out, unit, section, label, fields),
                       banner=banner, stretches=stretches)
    return 0
