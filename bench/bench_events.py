#!/usr/bin/env python3
"""Ring buffer and perf buffer: events/s delivered with zero loss, pybpf against a C
consumer on libbpf, same run (issue 4).  Needs root, clang, gcc and libbpf-dev.

A BPF program on tracepoint/syscalls/sys_enter_getppid (bench/events/events.bpf.c) emits
one 64-byte record per getppid() of the storm process (bench/events/storm.c) to a ring
buffer or a perf event array, and counts the records it could not place.  Every consumer
runs in its own process (the C one is bench/events/consumer.c, the Python ones are this
script with --consume), pinned to CPU 0, with the storm pinned to CPU 1.

Two ways to run each consumer:
- live: the storm starts once the consumer waits for data; the clock runs from the first
  wake-up to the last record.  This is the rate delivered while the storm goes on.
- drain: the storm runs to its end first, then the consumer reads the full buffer; this is
  the consumer's own speed, without the producer.
Buffers are sized to hold the whole storm, so no consumer loses anything; drops are
counted in the BPF program (and perf's lost records) and shown.

usage: .venv/bin/python bench/bench_events.py [--count N] [--runs R] [--ring-size BYTES] [--perf-pages P]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EV = os.path.join(HERE, "events")

CONSUMER_CPU, STORM_CPU = 0, 1
REC = 64


# -- the Python consumers (run as a child: this script with --consume) --------------------

def consume(obj_path: str, kind: str, tgid: int, want: int, size: int, mode: str) -> None:
    import select
    import struct

    import pybpf
    from pybpf.perfbuf import PerfBuffer
    from pybpf.ringbuf import RingBuffer

    spec = pybpf.ObjectSpec.from_file(obj_path)
    spec.maps[".rodata"].set_var("pt_cfg", struct.pack("<II", tgid, kind == "perf"))
    if kind != "perf":
        spec.maps["pt_rb"].max_entries = size
    n = 0
    lost = 0

    def on_rec(rec):
        nonlocal n
        n += 1

    def on_sample(cpu, rec):
        nonlocal n
        n += 1

    with pybpf.load(spec) as obj:
        obj.attach()
        if kind == "perf":
            buf = PerfBuffer(obj.maps["pt_pb"], on_sample, page_cnt=size)
        elif kind == "ring-callback":
            buf = RingBuffer(obj.maps["pt_rb"], on_rec)
        else:
            buf = RingBuffer(obj.maps["pt_rb"])
        with buf:
            print("ready", flush=True)
            sys.stdin.readline()
            if mode == "live":          # start the clock at the first wake-up
                ep = select.epoll()
                ep.register(buf.fileno(), select.EPOLLIN)
                while not ep.poll(-1):
                    pass
                ep.close()
            now = time.perf_counter
            t0 = last_progress = t_end = now()
            seen = 0
            if kind == "ring-iter":
                def poll(timeout_ms):
                    nonlocal n
                    for _ in buf.poll(timeout_ms):
                        n += 1
            else:
                poll = buf.poll if kind == "perf" else buf.poll_callbacks
            while n < want:
                poll(100)
                t_end = now()
                if n != seen:
                    seen, last_progress = n, t_end
                elif t_end - last_progress > 2.0:
                    t_end = last_progress     # records were lost: stop waiting
                    break
            if kind == "perf":
                lost = buf.lost
        raw = obj.maps["pt_stats"]
        sums = []
        for k in (0, 1):
            b = raw.lookup_raw(k) or b""
            sums.append(sum(v for (v,) in struct.iter_unpack("<Q", b)))
    print(f"received={n} seconds={t_end - t0:.6f} produced={sums[0]} dropped={sums[1]} "
          f"lost={lost}", flush=True)


# -- the driver ---------------------------------------------------------------------------

def build(tmp: str) -> tuple[str, str, str]:
    from pybpf.toolchain import compile_file
    obj = compile_file(os.path.join(EV, "events.bpf.c"), os.path.join(tmp, "events.bpf.o"))
    consumer = os.path.join(tmp, "consumer")
    storm = os.path.join(tmp, "storm")
    subprocess.run(["gcc", "-O2", "-o", consumer, os.path.join(EV, "consumer.c"),
                    "-lbpf", "-lelf", "-lz"], check=True)
    subprocess.run(["gcc", "-O2", "-o", storm, os.path.join(EV, "storm.c")], check=True)
    return obj, consumer, storm


def pinned(cpu: int):
    return lambda: os.sched_setaffinity(0, {cpu})


def run_one(cmd_for_pid, storm: str, count: int, mode: str) -> dict:
    """Start the storm (it waits), then the consumer for its pid; return the parsed result."""
    st = subprocess.Popen([storm, str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True, preexec_fn=pinned(STORM_CPU))
    c = None
    try:
        assert st.stdout.readline().strip() == "ready"
        c = subprocess.Popen(cmd_for_pid(st.pid), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, preexec_fn=pinned(CONSUMER_CPU))
        line = c.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"consumer did not start: {line!r} {c.communicate()}")
        if mode == "live":
            c.stdin.write("go\n")
            c.stdin.flush()
            time.sleep(0.05)            # let it reach epoll_wait
        st.stdin.write("go\n")
        st.stdin.flush()
        calls, storm_s = st.stdout.readline().split()
        st.wait()
        if mode == "drain":
            c.stdin.write("go\n")
            c.stdin.flush()
        out, _ = c.communicate(timeout=600)
    finally:
        for p in (st, c):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    res = dict(kv.split("=") for kv in out.split())
    res = {k: float(v) for k, v in res.items()}
    res["storm_rate"] = int(calls) / float(storm_s)
    res["rate"] = res["received"] / res["seconds"] if res["seconds"] > 0 else 0.0
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1_000_000, help="records per run")
    ap.add_argument("--runs", type=int, default=3, help="runs per row (median shown)")
    ap.add_argument("--ring-size", type=int, default=0,
                    help="ring buffer bytes (default: holds the whole storm)")
    ap.add_argument("--perf-pages", type=int, default=0,
                    help="perf pages per CPU (default: holds the whole storm)")
    ap.add_argument("--modes", default="live,drain")
    ap.add_argument("--consume", nargs=6, metavar=("OBJ", "KIND", "TGID", "N", "SIZE", "MODE"),
                    help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.consume:
        o, kind, tgid, n, size, mode = a.consume
        consume(o, kind, int(tgid), int(n), int(size), mode)
        return

    def pow2(x: int) -> int:
        return 1 << max(x - 1, 1).bit_length()

    page = os.sysconf("SC_PAGESIZE")
    ring_size = a.ring_size or max(pow2(a.count * (REC + 8)), page)
    perf_pages = a.perf_pages or pow2(-(-a.count * (REC + 16) // page))   # 76 -> 80 B each
    py = sys.executable
    me = os.path.abspath(__file__)
    with tempfile.TemporaryDirectory(prefix="pt-bench-events-") as tmp:
        obj, consumer, storm = build(tmp)
        rows = [  # (label, kind, command for a storm pid)
            ("C libbpf ring_buffer", "ring",
             lambda pid, m: [consumer, obj, "ring", str(pid), str(a.count), str(ring_size), m]),
            ("pybpf RingBuffer, callbacks", "ring",
             lambda pid, m: [py, me, "--consume", obj, "ring-callback", str(pid), str(a.count),
                             str(ring_size), m]),
            ("pybpf RingBuffer, iterator", "ring",
             lambda pid, m: [py, me, "--consume", obj, "ring-iter", str(pid), str(a.count),
                             str(ring_size), m]),
            ("C libbpf perf_buffer", "perf",
             lambda pid, m: [consumer, obj, "perf", str(pid), str(a.count), str(perf_pages), m]),
            ("pybpf PerfBuffer", "perf",
             lambda pid, m: [py, me, "--consume", obj, "perf", str(pid), str(a.count),
                             str(perf_pages), m]),
        ]
        results: dict[tuple[str, str], list[dict]] = {}
        for mode in a.modes.split(","):
            for _ in range(a.runs):     # interleave the consumers so drift hits all alike
                for label, _kind, cmd in rows:
                    r = run_one(lambda pid: cmd(pid, mode), storm, a.count, mode)
                    results.setdefault((mode, label), []).append(r)
                    print(f"# {mode:5} {label:30} {r['rate']:>14,.0f} ev/s  "
                          f"storm {r['storm_rate']:>12,.0f}/s  received {r['received']:.0f} "
                          f"dropped {r['dropped']:.0f} lost {r['lost']:.0f}",
                          file=sys.stderr, flush=True)

    print(f"\n{a.count:,} records of {REC} bytes per run, median of {a.runs} runs; ring buffer "
          f"{ring_size >> 20} MiB, perf buffer {perf_pages} pages per CPU.\n")
    print("| mode | consumer | events/s | vs C | storm calls/s | received | dropped |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for mode in a.modes.split(","):
        base = {}
        for label, kind, _ in rows:
            rs = results[(mode, label)]
            rate = statistics.median(r["rate"] for r in rs)
            storm_rate = statistics.median(r["storm_rate"] for r in rs)
            recv = min(r["received"] for r in rs)
            drop = max(r["dropped"] + r["lost"] for r in rs)
            if label.startswith("C "):
                base[kind] = rate
            ratio = rate / base[kind] if base.get(kind) else 0.0
            print(f"| {mode} | {label} | {rate:,.0f} | {ratio:.2f}x | {storm_rate:,.0f} | "
                  f"{recv:,.0f}/{a.count:,} | {drop:,.0f} |")


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
