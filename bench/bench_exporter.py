#!/usr/bin/env python3
"""Scrape cost of ``pybpf exporter`` at 10,000 series: a full HTTP GET /metrics of a hash
map of counters, a per-CPU hash map, and a histogram map, against prometheus-client's own
collector path rendering the same series in the same run.  Needs root (real BPF maps).

Usage: flock /tmp/pybpf-bench.lock env PYTHONPATH=src .venv/bin/python bench/bench_exporter.py
"""

from __future__ import annotations

import os
import statistics
import struct
import sys
import tempfile
import threading
import time

import yaml

N = 10_000
RUNS = 15

SOURCE = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct bkey { char comm[16]; __u32 op; };
struct hkey { __u32 dev; __u32 op; __u64 bucket; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 20000);
         __type(key, struct bkey); __type(value, __u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 20000);
         __type(key, struct bkey); __type(value, __u64); } pcounts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 20000);
         __type(key, struct hkey); __type(value, __u64); } lat SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid") int bench_nop(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
"""

OPS = {0: "read", 1: "write", 2: "flush", 3: "discard"}
COUNTER_LABELS = [{"name": "comm", "size": 16, "decoders": ["string"]},
                  {"name": "op", "size": 4, "decoders": [
                      "uint", {"name": "static_map", "static_map": OPS}]}]
SCENARIOS = {
    "counter": {"counters": [{"name": "bench_total", "map": "counts",
                              "labels": COUNTER_LABELS}]},
    "percpu counter": {"counters": [{"name": "bench_percpu_total", "map": "pcounts",
                                     "labels": COUNTER_LABELS}]},
    "histogram": {"histograms": [{
        "name": "bench_seconds", "map": "lat", "bucket_type": "exp2", "bucket_min": 0,
        "bucket_max": 26, "bucket_multiplier": 1e-6,
        "labels": [{"name": "dev", "size": 4, "decoders": ["uint"]},
                   {"name": "op", "size": 4, "decoders": [
                       "uint", {"name": "static_map", "static_map": OPS}]},
                   {"name": "bucket", "size": 8}]}]},
}


def fill(kind: str, m) -> int:
    """Fill the scenario's map; returns how many series the scrape will show."""
    if kind == "histogram":
        groups = N // 30                             # 27 buckets + +Inf + _sum + _count
        keys = b"".join(struct.pack("<IIQ", g // 4, g % 4, b) for g in range(groups)
                        for b in range(28))
        m.update_batch(keys, struct.pack(f"<{groups * 28}Q", *range(1, groups * 28 + 1)))
        return groups * 30
    keys = b"".join(f"cmd{i // 4}".encode().ljust(16, b"\0") + struct.pack("<I", i % 4)
                    for i in range(N))
    slots = m.ncpus if m.percpu else 1
    m.update_batch(keys, struct.pack(f"<{N * slots}Q", *([7] * (N * slots))))
    return N


def reference(metric) -> float:
    """prometheus-client's collector path for the same map: read it (batch), decode labels
    (cached, as ours), add each series to a metric family, generate_latest()."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
    conf = metric.conf
    fields = metric._fields
    cache: dict = {}

    class Collector:
        def collect(self):
            if conf.kind == "counter":
                fam = CounterMetricFamily(conf.name, conf.help, labels=[f[0] for f in fields])
                totals: dict = {}
                for k, v in metric.map.items_raw():
                    lab = cache.get(k)
                    if lab is None:
                        lab = cache[k] = tuple(dec(k[a:b]) for _, a, b, dec in fields)
                    totals[lab] = totals.get(lab, 0) + metric._value(v)
                for lab, val in totals.items():
                    fam.add_metric(list(lab), val)
                yield fam
                return
            fam = HistogramMetricFamily(conf.name, conf.help, labels=[f[0] for f in fields])
            groups: dict = {}
            cut = metric._group_end
            for k, v in metric.map.items_raw():
                g = k[:cut]
                lab = cache.get(g)
                if lab is None:
                    lab = cache[g] = tuple(dec(g[a:b]) for _, a, b, dec in fields)
                groups.setdefault(lab, {})[int.from_bytes(k[cut:], "little")] = \
                    metric._value(v)
            for lab, counts in groups.items():
                cum, count, total = conf.buckets.fold(counts)
                fam.add_metric(list(lab), list(zip(conf.buckets.le, cum)), total)
            yield fam

    reg = CollectorRegistry(auto_describe=False)
    reg.register(Collector())
    generate_latest(reg)                             # warm the label cache
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        generate_latest(reg)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


CLIENT = """
import sys, time, urllib.request
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    with urllib.request.urlopen(sys.argv[1], timeout=30) as r:
        assert r.read()
    print(time.perf_counter() - t, flush=True)
"""


def scrapes(url: str, n: int) -> list[float]:
    """Seconds per GET /metrics, from a client in its own process (as Prometheus is)."""
    import subprocess
    out = subprocess.run([sys.executable, "-c", CLIENT, url, str(n)], check=True,
                         capture_output=True, text=True).stdout
    return [float(x) for x in out.split()]


def main() -> int:
    from pybpf.exporter.core import Exporter
    from pybpf.exporter.server import Server
    rows = []
    with tempfile.TemporaryDirectory(prefix="pybpf-bench-exp-") as d:
        with open(os.path.join(d, "bench.bpf.c"), "w") as f:
            f.write(SOURCE)
        for kind, metrics in SCENARIOS.items():
            cfg = os.path.join(d, "bench.yaml")
            with open(cfg, "w") as f:
                yaml.safe_dump({"metrics": metrics}, f)
            with Exporter([cfg]) as ex:
                (metric,) = ex.metrics
                series = fill(kind, metric.map)
                with Server(ex, "127.0.0.1", 0) as srv:
                    th = threading.Thread(target=srv.serve_forever, kwargs={
                        "poll_interval": 0.05}, daemon=True)
                    th.start()
                    cold = scrapes(srv.url, 1)[0]        # decodes every label once
                    http = statistics.median(scrapes(srv.url, RUNS))
                    render = []
                    for _ in range(RUNS):
                        ex.render_maps()
                        render.append(ex.maps_seconds)
                    srv.shutdown()
                    th.join()
                assert metric.series == series // (30 if kind == "histogram" else 1), \
                    (metric.series, series)
                ref = reference(metric)
                rows.append((kind, series, cold, http, statistics.median(render), ref))
    print(f"| map ({N:,} entries) | series | first scrape (HTTP) | scrape (HTTP, median) "
          "| render only | prometheus-client path | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, series, cold, http, render, ref in rows:
        print(f"| {kind} | {series:,} | {cold * 1e3:.1f} ms | {http * 1e3:.1f} ms | "
              f"{render * 1e3:.1f} ms | {ref * 1e3:.1f} ms | {ref / render:.1f}x |")
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
