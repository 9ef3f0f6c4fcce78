"""Counters fed by a perf event array (ebpf_exporter's ``perf_event_array: true``): each
event the program sends with ``bpf_perf_event_output()`` is a key, decoded into labels
like a map key, and adds one to its series.

The rings (64 pages a CPU) are drained at each scrape, so nothing runs between scrapes;
what the kernel dropped because a ring was full is counted in
``dropped_perf_event_map_events_<metric>``.  As in ebpf_exporter, the counts start over
every ``flush_interval`` (default one hour), so old label sets do not pile up.
"""

from __future__ import annotations

import re
import time

from .. import errors
from .errors import ConfigError, DecodeError, Skip, Unresolved
from .metrics import escape, help_text

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(v, path: str) -> float:
    """A Go duration (``90s``, ``1h30m``) or a number of seconds, as seconds (> 0)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        secs = float(v)
    elif isinstance(v, str) and v and _PART.sub("", v) == "":
        secs = sum(float(n) * _UNITS[u] for n, u in _PART.findall(v))
    else:
        raise ConfigError(path, f"flush_interval is a duration like 30s, 5m or 1h, not {v!r}")
    if secs <= 0:
        raise ConfigError(path, "flush_interval must be positive")
    return secs


class PerfEventMetric:
    """A counter over a perf event array map; the same interface as MapMetric."""

    def __init__(self, conf, m, program: str):
        from .._sys.uapi import MapType
        if m.type != MapType.PERF_EVENT_ARRAY:
            raise ConfigError(conf.path, f"map {conf.map!r} is not a perf event array; "
                              "perf_event_array: true needs one")
        from ..perfbuf import PerfBuffer
        self.conf, self.map, self.program = conf, m, program
        self.name = conf.name
        self.decode_errors = self.dropped = self.series = self.entries = 0
        self.lost = 0
        self._counts: dict[str, int] = {}
        self._fields = []
        off = 0
        for lb in conf.labels:
            self._fields.append((lb.name, off, off + lb.size, lb.decode))
            off += lb.size + lb.padding
        self._size = off
        self._flush = conf.flush_interval
        self._since = time.monotonic()
        self._buf = PerfBuffer(m, self._on_event, self._on_lost, page_cnt=64)
        self._header = f"# HELP {self.name} {help_text(conf.help)}\n# TYPE {self.name} counter\n"
        lost = f"dropped_perf_event_map_events_{conf.raw_name}"
        self._lost_name = lost
        self._lost_header = (f"# HELP {lost} Dropped perf map events\n"
                             f"# TYPE {lost} counter\n")

    def _on_event(self, cpu: int, data) -> None:
        raw = bytes(data[:self._size])
        self.entries += 1
        parts = []
        try:
            for name, a, b, dec in self._fields:
                try:
                    v = dec(raw[a:b])
                except Unresolved as u:
                    v = u.text
                parts.append(f'{name}="{escape(v)}"')
        except Skip:
            return
        except (DecodeError, errors.PybpfError, ValueError, OSError, UnicodeError):
            self.decode_errors += 1
            return
        lab = ",".join(parts)
        counts = self._counts
        if lab in counts:
            counts[lab] += 1
        elif len(counts) < self.conf.max_series:
            counts[lab] = 1
        else:
            self.dropped += 1

    def _on_lost(self, cpu: int, n: int) -> None:
        self.lost += n

    def render(self, out: list) -> None:
        now = time.monotonic()
        if now - self._since >= self._flush:
            self._counts = {}
            self._since = now
        self.entries = 0
        self._buf.consume()
        name = self.name
        self.series = len(self._counts)
        out.append(self._header)
        out.extend([f"{name}{{{lab}}} {n}\n" if lab else f"{name} {n}\n"
                    for lab, n in self._counts.items()])
        out.append(f"{self._lost_header}{self._lost_name} {self.lost}\n")

    def close(self) -> None:
        self._buf.close()
