#!/usr/bin/env python3
"""What a sched_switch tool's program costs per run, one tree against another in the same
run: each tree's `pybpf TOOL ARGS` in turn, ROUNDS times, beside two busy loops and a
0.5 ms sleeper, its `switch_` program's run_time_ns / run_cnt over SECONDS (statistics on
through BPF_ENABLE_STATS: only while this script holds the fd, no sysctl left changed),
and the entries of its `start` map at the end.

usage: switch_cost.py SECONDS ROUNDS OLD_SRC NEW_SRC TOOL [ARGS...]  -> prints JSON
(OLD_SRC, NEW_SRC: the `src` directories of the two trees)
"""
import ctypes
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

from pybpf import info
from pybpf._sys import syscall
from pybpf._sys.uapi import Cmd
from pybpf.maps import Map

secs, rounds = float(sys.argv[1]), int(sys.argv[2])
trees = {"old": sys.argv[3], "new": sys.argv[4]}
tool = sys.argv[5:]


def named(kind, id_set, name):
    """The id of the one object of id_set called name."""
    get = info.prog_info if kind == "prog" else info.map_info
    for i in id_set:
        with info.fd_by_id(kind, i) as fd:
            if get(fd.fileno()).name == name:
                return i
    raise SystemExit(f"no {kind} {name!r} in {tool}")


def one(src):
    """ns per run of the tool's switch_ program, and its start map's entries."""
    p = subprocess.Popen([sys.executable, "-m", "pybpf", *tool],
                         env=dict(os.environ, PYTHONPATH=src),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        while not p.stdout.readline().startswith(b"Tracing"):      # its banner
            if p.poll() is not None:
                raise SystemExit(f"{tool} ended: {p.stdout.read().decode()}")
        # its report (-P: a histogram per process) must not fill the pipe
        threading.Thread(target=p.stdout.read, daemon=True).start()
        with info.fd_by_id("prog", named("prog", info.held_ids(p.pid, "prog"), "switch_")) as fd:
            a = info.prog_info(fd.fileno())
            time.sleep(secs)
            b = info.prog_info(fd.fileno())
        with Map.from_id(named("map", info.held_ids(p.pid, "map"), "start")) as m:
            entries = sum(1 for _ in m.items_raw())
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return (b.run_time_ns - a.run_time_ns) / (b.run_cnt - a.run_cnt), entries


class StatsAttr(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32)]     # BPF_STATS_RUN_TIME: 0


stats = syscall.bpf(Cmd.ENABLE_STATS, StatsAttr(0))
kids = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
kids.append(subprocess.Popen([sys.executable, "-c",
                              "import time\nwhile True: time.sleep(0.0005)"]))
res = {name: {"ns": [], "entries": []} for name in trees}
try:
    for _ in range(rounds):
        for name, src in trees.items():
            ns, entries = one(src)
            res[name]["ns"].append(round(ns))
            res[name]["entries"].append(entries)
finally:
    os.close(stats)
    for k in kids:
        k.kill()
        k.wait()
for r in res.values():
    r["median_ns"] = statistics.median(r["ns"])
print(json.dumps({"tool": tool, "seconds": secs, **res,
                  "new_minus_old_ns": res["new"]["median_ns"] - res["old"]["median_ns"]}))
