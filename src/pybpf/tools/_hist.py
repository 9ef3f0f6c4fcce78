"""Histograms kept in the kernel (tools/_common.bpf.h's ``struct hist``, per key), read
in batches, cleared per interval, printed in bcc's layout or as one JSON object."""

from __future__ import annotations

import struct

MAX_SLOTS = 27          # _common.bpf.h
_SLOTS = struct.Struct(f"<{MAX_SLOTS}I")


def read(m, clear: bool = True) -> dict[bytes, list[int]]:
    """key bytes -> slot counts of every histogram in hash map ``m`` (batch reads), the
    keys deleted afterwards when ``clear`` (bcc's per-interval ``dist.clear()``)."""
    out = {}
    for k, v in m.items_raw():
        out[k] = list(_SLOTS.unpack_from(v))
    if clear:
        for k in out:
            try:
                del m[k]
            except KeyError:
                pass
    return out


def read_array(m, clear: bool = True) -> list[int]:
    """Counts of a per-CPU (or plain) array map of u64 used as a linear histogram."""
    n = m.max_entries
    counts = [0] * n
    for k, v in m.items_raw():
        i = int.from_bytes(k, "little")
        if m.percpu:
            slot = (m.value_size + 7) & ~7
            counts[i] = sum(int.from_bytes(v[c * slot:c * slot + m.value_size], "little")
                            for c in range(m.ncpus))
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
