"""The exporter's own metrics, through prometheus-client: programs' run counts and run time
(when the kernel keeps BPF stats), map sizes, decode errors, dropped series, scrape cost."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .. import errors, info

STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


def bpf_stats_enabled() -> bool:
    try:
        with open(STATS_SYSCTL) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def enable_bpf_stats():
    """Turn on the kernel's per-program run counts and run time for as long as the returned
    fd stays open (BPF_ENABLE_STATS; the sysctl kernel.bpf_stats_enabled does the same
    system-wide and persistently)."""
    from .._sys import attr, syscall
    from .._sys.uapi import Cmd
    from ..fd import FD
    return FD(syscall.bpf(Cmd.ENABLE_STATS, attr.EnableStats(type=0),   # BPF_STATS_RUN_TIME
                          feature="BPF_ENABLE_STATS"))


class HealthCollector:
    """A prometheus-client collector over a running :class:`~.core.Exporter`."""

    def __init__(self, exporter):
        self.exporter = exporter

    def collect(self):
        ex = self.exporter
        p = "pybpf_exporter_"
        # the sysctl reads back only its own setting, not BPF_ENABLE_STATS holders
        stats = ex.stats_enabled or bpf_stats_enabled()
        yield GaugeMetricFamily(p + "bpf_stats_enabled", "1 when the kernel counts BPF "
                                "program runs and run time (kernel.bpf_stats_enabled or "
                                "--bpf-stats)", value=int(stats))
        runs = CounterMetricFamily(p + "program_runs", "Times each BPF program ran "
                                   "(counted while BPF stats are enabled)",
                                   labels=["program", "function"])
        run_time = CounterMetricFamily(p + "program_run_seconds", "Time spent running each "
                                       "BPF program (counted while BPF stats are enabled)",
                                       labels=["program", "function"])
        entries = GaugeMetricFamily(p + "map_entries", "Entries read from each map in the "
                                    "last scrape", labels=["program", "map"])
        max_entries = GaugeMetricFamily(p + "map_max_entries", "Capacity of each map",
                                        labels=["program", "map"])
        lost = CounterMetricFamily(p + "bpf_lost", "Counts a program could not store "
                                   "because its map was full (pybpf_exporter.h's "
                                   "counter_add)", labels=["program"])
        series = GaugeMetricFamily(p + "series", "Series of each metric in the last scrape",
                                   labels=["metric"])
        decode = CounterMetricFamily(p + "decode_errors", "Map entries whose key a label "
                                     "decoder could not decode (left out)", labels=["metric"])
        dropped = CounterMetricFamily(p + "series_dropped", "Series left out because the "
                                      "metric reached max_series (added at each scrape)",
                                      labels=["metric"])
        compat = ebpf_exporter_families(ex, stats) if ex.ebpf_exporter_names else None
        for lp in ex.programs:
            for fname, prog in lp.obj.programs.items():
                try:
                    pi = info.prog_info(prog.fileno())
                except errors.PybpfError:
                    continue
                runs.add_metric([lp.name, fname], pi.run_cnt)
                run_time.add_metric([lp.name, fname], pi.run_time_ns / 1e9)
                if compat is not None:
                    compat.add(lp.name, fname, pi)
            n = lp.lost()
            if n is not None:
                lost.add_metric([lp.name], n)
            seen = set()
            for m in lp.metrics:
                series.add_metric([m.name], m.series)
                decode.add_metric([m.name], m.decode_errors)
                dropped.add_metric([m.name], m.dropped)
                if m.conf.map not in seen:
                    seen.add(m.conf.map)
                    entries.add_metric([lp.name, m.conf.map], m.entries)
                    max_entries.add_metric([lp.name, m.conf.map], m.map.max_entries)
        yield from (runs, run_time, lost, entries, max_entries, series, decode, dropped)
        if compat is not None:
            yield from compat.families()
        yield GaugeMetricFamily(p + "scrape_maps_seconds", "Time this scrape took to read "
                                "the maps and render their metrics", value=ex.maps_seconds)
        yield GaugeMetricFamily(p + "last_scrape_duration_seconds", "Time the previous "
                                "scrape took in all (maps, health, response)",
                                value=ex.last_scrape_seconds)
        yield CounterMetricFamily(p + "scrapes", "Scrapes served", value=ex.scrapes)



class ebpf_exporter_families:
    """ebpf_exporter's own metrics, for ``--ebpf-exporter-names`` (dashboards built for it
    find them): enabled configs, program info (config, program, tag, id), attached, run
    time and count (while BPF stats are on) and decoder errors by config."""

    def __init__(self, ex, stats: bool):
        p = "ebpf_exporter_"
        self.stats = stats
        self.enabled = GaugeMetricFamily(p + "enabled_configs", "The set of enabled configs",
                                         labels=["name"])
        self.info = GaugeMetricFamily(p + "ebpf_program_info", "Info about ebpf programs",
                                      labels=["config", "program", "tag", "id"])
        self.attached = GaugeMetricFamily(p + "ebpf_program_attached", "Whether a program "
                                          "is attached", labels=["id"])
        self.run_time = CounterMetricFamily(p + "ebpf_program_run_time_seconds", "How long "
                                            "has the program been executing", labels=["id"])
        self.run_count = CounterMetricFamily(p + "ebpf_program_run_count", "How many times "
                                             "has the program been executed", labels=["id"])
        self.decoder = CounterMetricFamily(p + "decoder_errors", "How many times has "
                                           "decoders encountered errors", labels=["config"])
        for lp in ex.programs:
            self.enabled.add_metric([lp.name], 1)
            self.decoder.add_metric([lp.name], sum(m.decode_errors for m in lp.metrics))

    def add(self, config: str, function: str, pi) -> None:
        pid = str(pi.id)
        self.info.add_metric([config, function, pi.tag, pid], 1)
        self.attached.add_metric([pid], 1)      # a program that fails to attach fails its config
        if self.stats:
            self.run_time.add_metric([pid], pi.run_time_ns / 1e9)
            self.run_count.add_metric([pid], pi.run_cnt)

    def families(self):
        out = [self.enabled, self.info, self.attached, self.decoder]
        if self.stats:
            out += [self.run_time, self.run_count]
        return out
