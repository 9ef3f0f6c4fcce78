#!/usr/bin/env python3
"""pybpf's tools beside the reference tools (bcc 0.26's, Debian's bpfcc-tools) on the same
known workload, and their aggregates compared.

usage: bench/bench_tools_diff.py [--cases a,b,...] [--list] [--keep DIR] [--markdown]
                                 [--raw FILE] [--headers VERSION] [--guest]

Each case names the two command lines, a workload (tests/data/*.c built with cc into a
temp dir, dd, a python snippet) and a parser that turns a tool's output into the
aggregate compared (a histogram, per-key counts, totals, rows).  The workload waits at a
gate (``read`` in a shell, then ``exec``), so ``-p PID`` names it before it runs; it
starts once the tool printed its banner.  Each side runs on its own run of the workload
(bcc 0.26's uprobes cannot share an address with another tracer's), so the workloads
are ones that repeat exactly.  The cases here use uprobes, tracepoints and perf events;
``--guest`` runs the others (their bcc needs kprobes) in the kernel-matrix guest, one
boot (bench_bcc_guest.boot; bcc there needs the guest kernel's linux-headers installed
here).  bcc needs kernel headers: /lib/modules/$(uname -r)/build is linked to the
installed linux-headers for the run (bench_bcc_tools.Headers).  Run it under the bench
lock (``flock /tmp/pybpf-bench.lock``; ``--guest`` under ``/tmp/pybpf-vm.lock``).
"""

from __future__ import annotations

import argparse
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VENV_PY = os.path.join(REPO, ".venv", "bin", "python")
DATA = os.path.join(REPO, "tests", "data")
sys.path.insert(0, HERE)

from bench_bcc_tools import Headers  # noqa: E402  (bcc's kernel headers, linked)

_HIST = re.compile(r"^\s*(\d+)\s*->\s*(\d+)\s*:\s*(\d+)\s*\|", re.M)


# ---- parsers: output text -> the aggregate compared ---------------------------------

def hist(text: str) -> dict:
    """The non-empty buckets of every log2 histogram printed, summed over intervals."""
    out: dict = {}
    for lo, hi, n in _HIST.findall(text):
        if int(n):
            out[f"{lo}-{hi}"] = out.get(f"{lo}-{hi}", 0) + int(n)
    return out


def retransmits(port: str):
    """tcpretrans's rows for ``port`` (the remote end): how many, and their states."""
    def parse(text: str) -> dict:
        rows = [ln.split() for ln in text.splitlines() if port in ln and " R> " in ln]
        return {"rows": len(rows), "states": sorted({r[-1] for r in rows})}
    return parse


# a listener whose accept queue one connection fills: the next SYN is dropped and resent
# (1 s, then 3 s later) until the program ends 4.5 s after it connected
SYN_DROP = ("import socket, time\n"
            "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('127.0.0.1', 47391)); s.listen(0)\n"
            "a = socket.create_connection(('127.0.0.1', 47391))\n"
            "b = socket.socket(); b.setblocking(False); b.connect_ex(('127.0.0.1', 47391))\n"
            "time.sleep(4.5)\n")


def hist_mode(text: str) -> dict:
    """A latency histogram of a known workload: its count and its fullest bucket (the
    edges of the others move with the machine's load)."""
    h = hist(text)
    return {"count": sum(h.values()), "mode": max(h, key=h.get) if h else "-"}


def counts_of(word: str):
    """Per-interval ``<name ...> <count>`` rows whose name contains ``word``, summed."""
    def parse(text: str) -> dict:
        total = 0
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 2 and word in line:
                # "name ... N" (funccount) or "N name = value" (argdist)
                n = parts[-1] if parts[-1].isdigit() and word not in parts[-1] and \
                    not line.rstrip().endswith(word) else parts[0]
                total += int(n) if n.isdigit() else 0
        return {word: total}
    return parse


def rows_with(word: str):
    """How many rows name ``word`` (an event tool's rows)."""
    def parse(text: str) -> dict:
        return {word: sum(word in line for line in text.splitlines())}
    return parse


def folded_with(frame: str):
    """Folded stacks (``a;b;c N``) through ``frame``: their count, and the frames from
    the outermost to ``frame`` of the heaviest one."""
    def parse(text: str) -> dict:
        total, best = 0, (0, "")
        for line in text.splitlines():
            stack, _, n = line.rpartition(" ")
            if frame in stack.split(";") and n.isdigit():
                total += int(n)
                best = max(best, (int(n), stack))
        path = best[1].split(";")
        path = path[:path.index(frame) + 1] if frame in path else []
        # the comm first (bcc and pybpf both start with it), then the user frames
        return {"count": total, "stack": ";".join(path[-3:])}
    return parse


def stack_count(frame: str):
    """Multi-line stacks (frames, then the count on its own line): the counts of the
    stacks that hold ``frame``."""
    def parse(text: str) -> dict:
        total, frames = 0, []
        for line in text.splitlines():
            s = line.strip()
            if s.isdigit():
                if frame in frames:
                    total += int(s)
                frames = []
            elif s:
                frames.append(s.split("+")[0].split(" ")[0])
        return {"count": total}
    return parse


def leaks(frame: str):
    """memleak's last report: bytes and allocations outstanding from stacks with
    ``frame``."""
    entry = re.compile(r"(\d+) bytes in (\d+) allocations from stack\n((?:\t\t.*\n?)*)")

    def parse(text: str) -> dict:
        # the fullest report (bcc may be cut short by the SIGINT in the middle of one)
        best = (0, 0)
        for report in text.split("Top ")[1:]:
            b = n = 0
            for nbytes, nallocs, stack in entry.findall(report):
                if frame in stack:
                    b, n = b + int(nbytes), n + int(nallocs)
            best = max(best, (b, n))
        return {"bytes": best[0], "allocations": best[1]}
    return parse


# ---- cases -------------------------------------------------------------------------
# pybpf / bcc argv ("{pid}" is the workload), the workload (argv after the gate), the
# parser, and what the workload is known to do.

CASES = {
    "funclatency": dict(
        pybpf=["funclatency", "-u", "-p", "{pid}", "c:nanosleep"],
        ref=["funclatency", "-u", "-p", "{pid}", "c:nanosleep"],
        work=["{tool_sleep}", "60", "5"], parse=hist_mode,
        known="60 nanosleep() of 5 ms: most in 4096-8191 us"),
    "funclatency-ms": dict(
        pybpf=["funclatency", "-m", "-p", "{pid}", "{tool_sleep}:sleep_marker"],
        ref=["funclatency", "-m", "-p", "{pid}", "{tool_sleep}:sleep_marker"],
        work=["{tool_sleep}", "12", "20"], parse=hist,
        known="12 calls of 20 ms: 12 in 16-31 ms"),
    "funccount": dict(
        pybpf=["funccount", "-p", "{pid}", "c:nanosleep"],
        ref=["funccount", "-p", "{pid}", "c:nanosleep"],
        work=["{tool_sleep}", "40", "1"], parse=counts_of("nanosleep"),
        known="40 calls"),
    "funccount-t": dict(
        pybpf=["funccount", "-p", "{pid}", "t:syscalls:sys_enter_clock_nanosleep"],
        ref=["funccount", "-p", "{pid}", "t:syscalls:sys_enter_clock_nanosleep"],
        work=["{tool_sleep}", "40", "1"], parse=counts_of("nanosleep"),
        known="40 syscalls (glibc's nanosleep() is clock_nanosleep)"),
    "stackcount": dict(
        pybpf=["stackcount", "-U", "-p", "{pid}", "c:nanosleep"],
        ref=["stackcount", "-U", "-p", "{pid}", "c:nanosleep"],
        work=["{tool_sleep}", "30", "1", "4"], parse=stack_count("main"),
        settle=1.5, lingers=True,
        known="30 calls from main (sleep_marker's frame: the probe fires before it is pushed)"),
    "stackcount-f": dict(
        pybpf=["stackcount", "-f", "-U", "-p", "{pid}", "c:nanosleep"],
        ref=["stackcount", "-f", "-U", "-p", "{pid}", "c:nanosleep"],
        work=["{tool_sleep}", "30", "1", "4"], parse=folded_with("main"),
        settle=1.5, lingers=True,
        known="30 calls: tool_sleep;__libc_start_call_main;main"),
    "trace": dict(
        pybpf=["trace", "-p", "{pid}", "c:nanosleep"],
        ref=["trace", "-p", "{pid}", "c:nanosleep"],
        work=["{tool_sleep}", "25", "1"], parse=rows_with("nanosleep"),
        known="25 rows"),
    "argdist": dict(
        pybpf=["argdist", "-i", "1", "-p", "{pid}", "-C",
               "p:c:write(int fd, const void *buf, size_t count):size_t:count"],
        ref=["argdist", "-i", "1", "-p", "{pid}", "-C",
             "p:c:write(int fd, const void *buf, size_t count):size_t:count"],
        work=["dd", "if=/dev/zero", "of=/dev/null", "bs=4096", "count=300"],
        parse=counts_of("count = 4096"), settle=1.5,
        known="300 writes of 4096 (dd's own status lines are other sizes)"),
    "tcpretrans": dict(
        pybpf=["tcpretrans"], ref=["tcpretrans"], work=["python3", "-c", "{syn_drop}"],
        parse=retransmits(":47391"), settle=0.5,
        known="a SYN to a full accept queue (127.0.0.1:47391) for 4.5 s: resent at 1 s and 3 s"),
    "memleak": dict(
        pybpf=["memleak", "-p", "{pid}", "2"], ref=["memleak", "-p", "{pid}", "2"],
        work=["{tool_leak}"], parse=leaks("leak_marker"), settle=5, lingers=True,
        known="7 blocks of 1000 bytes leaked from leak_marker (50 of 3000 freed)"),
}

def filetop_rows(name: str):
    """filetop's rows for file ``name`` over every interval: reads, writes, KB."""
    def parse(text: str) -> dict:
        r = w = rkb = wkb = 0
        for line in text.splitlines():
            f = line.split()
            if len(f) >= 8 and f[-1] == name and f[2].isdigit():
                r, w, rkb, wkb = r + int(f[2]), w + int(f[3]), rkb + int(f[4]), wkb + int(f[5])
        return {"reads": r, "writes": w, "r_kb": rkb, "w_kb": wkb}
    return parse


def vfsstat_sums(text: str) -> dict:
    """vfsstat's per-second rows (TIME READ/s WRITE/s FSYNC/s OPEN/s CREATE/s) summed,
    but the first: it holds the tool's own start (bcc 0.26: 1206 reads of its own)."""
    cols = ["read", "write", "fsync", "open", "create"]
    out = dict.fromkeys(cols, 0)
    rows = [f for f in map(str.split, text.splitlines())
            if len(f) == 6 and re.match(r"\d\d:\d\d:\d\d:?$", f[0]) and f[1].isdigit()]
    for f in rows[1:]:
        for c, v in zip(cols, f[1:]):
            out[c] += int(v)
    return out


def within(pct: float, slack: int):
    """Equal enough: each value within ``pct`` % (and ``slack``) of the other side's."""
    def same(a: dict, b: dict) -> bool:
        return a.keys() == b.keys() and all(
            abs(a[k] - b[k]) <= slack + pct / 100 * max(a[k], b[k]) for k in a)
    return same


def oom_kills(text: str) -> dict:
    """oomkill's rows: the triggering comm, the victim's, and whether the victim killed
    itself (the pids differ from run to run: each side has its own)."""
    kills = re.findall(r'Triggered by PID (\d+) \("([^"]*)"\), OOM kill of PID (\d+) '
                       r'\("([^"]*)"\)', text)
    return {"kills": len(kills),
            "who": sorted({f"{tc} -> {vc}" + (" (itself)" if tp == vp else "")
                           for tp, tc, vp, vc in kills})}


# a memory cgroup of 32 MB in the guest (cgroup v2 mounted if it is not), and a python
# that asks for 256 MB in it: killed by the memcg OOM killer
_OOM = ("mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup; "
        "echo +memory > /sys/fs/cgroup/cgroup.subtree_control; "
        "mkdir -p /sys/fs/cgroup/pt-diff-oom; echo 32M > /sys/fs/cgroup/pt-diff-oom/memory.max; "
        "echo 0 > /sys/fs/cgroup/pt-diff-oom/memory.swap.max 2>/dev/null; "
        "echo $$ > /sys/fs/cgroup/pt-diff-oom/cgroup.procs; "
        "exec python3 -c 'b = bytearray(256 << 20)'")


# references that need kprobes or fentry: run in the kernel-matrix guest (--guest)
GUEST_CASES = {
    "filetop": dict(
        pybpf=["filetop", "-C", "-p", "{pid}", "1"], ref=["filetop", "-C", "-p", "{pid}", "1"],
        work=["dd", "if=/dev/zero", "of={tmp}/pybpf-diff-f", "bs=4096", "count=300"],
        parse=filetop_rows("pybpf-diff-f"), settle=2.5,
        known="dd: 300 writes of 4 KiB to one file (1200 KB)"),
    "vfsstat": dict(
        pybpf=["vfsstat"], ref=["vfsstat"],
        work=["dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=5000"],
        parse=vfsstat_sums, settle=2.5, same=within(10, 60),
        known="dd: 5000 reads + 5000 writes (system-wide: the guest's own calls too; "
              "the first second, the tool's own start, left out)"),
    "offcputime": dict(
        pybpf=["offcputime", "-U", "-p", "{pid}"],
        ref=["offcputime", "-U", "-p", "{pid}"],
        work=["{tool_sleep}", "20", "10", "4"], parse=stack_count("main"),
        settle=2.0, lingers=True, same=within(10, 0),
        known="20 sleeps of 10 ms: about 200000 us off the CPU under main"),
    "oomkill": dict(
        pybpf=["oomkill"], ref=["oomkill"], work=["sh", "-c", _OOM], parse=oom_kills,
        settle=2.0, known="one memcg OOM kill of the python that asked for 256 MB"),
}

# not compared, and why
NOT_COMPARED = {
    "capable": "bcc 0.26 fails in the guest too (kprobe cap_capable: compile error)",
    "biotop": "bcc 0.26: kprobe blk_account_io_start, gone from 6.12 and 6.18",
}


# ---- running -----------------------------------------------------------------------

def build(tmp: str) -> dict:
    out = {"syn_drop": SYN_DROP, "tmp": tmp}
    for name in ("tool_sleep", "tool_leak"):
        exe = os.path.join(tmp, name)
        subprocess.run(["cc", "-O0", "-g", "-fno-omit-frame-pointer", "-o", exe,
                        os.path.join(DATA, name + ".c")], check=True)
        out[name] = exe
    return out


class Tool:
    """One tool in its own process group, its output collected; stopped by SIGINT."""

    def __init__(self, argv: list[str], env: dict):
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.buf = {self.p.stdout.fileno(): b"", self.p.stderr.fileno(): b""}

    def pump(self, timeout: float) -> None:
        fds = [fd for fd in self.buf if fd >= 0]
        if not fds:
            time.sleep(timeout)
            return
        r, _, _ = select.select(fds, [], [], timeout)
        for fd in r:
            chunk = os.read(fd, 65536)
            if chunk:
                self.buf[fd] += chunk
            else:
                self.buf[-1 - fd] = self.buf.pop(fd)     # closed: keep, stop polling

    def text(self) -> str:
        return b"".join(self.buf.values()).decode(errors="replace")

    def stop(self, timeout: float = 30) -> None:
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        end = time.monotonic() + timeout
        while time.monotonic() < end and any(fd >= 0 for fd in self.buf):
            self.pump(0.1)
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait()


_READY = re.compile(r"Tracing|Attaching|Sampling|PID|COUNT|FUNC|Hit Ctrl-C|READ/s", re.I)
# bcc under the guest's emulated CPU takes up to minutes to compile (headers parsed)
START_LIMIT = {"in_guest": 600, "here": 90}


def run_case(name: str, case: dict, bins: dict) -> dict:
    """Each tool on its own run of the case's workload (a known, repeatable one): bcc
    0.26 cannot put its uprobe where another tool has one (it asks for a ref_ctr_offset
    of 6, the kernel refuses a second, different one: "ref_ctr_offset mismatch", EINVAL),
    so the two never trace at once.  Their aggregates and outputs."""
    res = {"case": name, "known": case["known"]}
    for side in ("pybpf", "ref"):
        text = run_side(side, case, bins)
        res[side] = case["parse"](text)
        res[side + "_out"] = text
    res["equal"] = case.get("same", dict.__eq__)(res["pybpf"], res["ref"])
    return res


def run_side(side: str, case: dict, bins: dict) -> str:
    """One tool (pybpf's or the reference) over one run of the workload: its output."""
    # the workload waits at its gate (read), then execs: -p names it from the start
    gate = subprocess.Popen(["sh", "-c", 'read _ && exec "$@" >/dev/null 2>&1', "sh",
                             *[a.format(**bins) for a in case["work"]]],
                            stdin=subprocess.PIPE)
    argv = [a.format(pid=gate.pid, **bins) for a in case[side]]
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.path.join(REPO, "src"))
    cmd = [VENV_PY, "-m", "pybpf", *argv] if side == "pybpf" else \
        [shutil.which(argv[0] + "-bpfcc") or argv[0], *argv[1:]]
    t = Tool(cmd, env)
    try:
        end = time.monotonic() + START_LIMIT["in_guest" if os.environ.get("PYBPF_IN_VM")
                                             else "here"]
        while time.monotonic() < end and not _READY.search(t.text()) and t.p.poll() is None:
            t.pump(0.05)
        time.sleep(1.0)         # a banner may come just before the attach's end
        gate.stdin.write(b"go\ngo\n")      # the shell's line, then one for tool_leak
        gate.stdin.close()
        if not case.get("lingers"):
            gate.wait(timeout=120)
        end = time.monotonic() + case.get("settle", 0.5)
        while time.monotonic() < end:
            t.pump(0.05)
    finally:
        t.stop()
        if gate.poll() is None:
            gate.kill()
        gate.wait()
    return t.text()


def markdown(results: list[dict]) -> str:
    rows = ["| case | workload (known) | pybpf | bcc 0.26 | equal |", "|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {r['case']} | {r['known']} | {fmt(r['pybpf'])} | {fmt(r['ref'])} | "
                    f"{'yes' if r['equal'] else '**no**'} |")
    for name, why in NOT_COMPARED.items():
        rows.append(f"| {name} | - | - | - | not compared: {why} |")
    return "\n".join(rows)


def fmt(agg: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in agg.items()) or "(nothing)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", help="comma-separated case names (default: all of the mode)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--keep", help="write each tool's output under this directory")
    ap.add_argument("--markdown", action="store_true", help="print a table for RESULTS.md")
    ap.add_argument("--guest", action="store_true",
                    help="run the guest cases in the kernel-matrix guest (one boot)")
    ap.add_argument("--raw", default="", help="JSON file of the runs (--guest: merged into)")
    ap.add_argument("--headers", metavar="VERSION",
                    help="bcc's kernel headers: Debian's linux-headers-VERSION-amd64 "
                    "(default: the newest installed; bcc 0.26 compiles tcpretrans with "
                    "6.1's, not 6.12's)")
    ap.add_argument("--in-guest", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--vm-timeout", type=float, default=1800)
    ap.add_argument("--vm-cpus", type=int, default=2)
    a = ap.parse_args()
    if a.list:
        for n, c in CASES.items():
            print(f"{n:16} {c['known']}")
        for n, c in GUEST_CASES.items():
            print(f"{n:16} (--guest) {c['known']}")
        for n, why in NOT_COMPARED.items():
            print(f"{n:16} not compared: {why}")
        return 0
    table = GUEST_CASES if a.guest or a.in_guest else CASES
    names = a.cases.split(",") if a.cases else list(table)
    bad = [n for n in names if n not in table]
    if bad:
        print(f"bench_tools_diff: unknown case(s): {', '.join(bad)}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("bench_tools_diff: needs root (both sides load BPF programs)", file=sys.stderr)
        return 2
    if a.guest:
        return run_guest(a, names)
    results = []
    with tempfile.TemporaryDirectory(prefix="pybpf-diff-") as tmp, Headers(a.headers):
        bins = build(tmp)
        for n in names:
            r = run_case(n, table[n], bins)
            results.append(r)
            print(f"{n:16} {'equal' if r['equal'] else 'DIFFER'}  pybpf: {fmt(r['pybpf'])}"
                  f"  bcc: {fmt(r['ref'])}", flush=True)
            if a.keep:
                os.makedirs(a.keep, exist_ok=True)
                for side in ("pybpf", "ref"):
                    with open(os.path.join(a.keep, f"{n}.{side}.txt"), "w") as f:
                        f.write(r[side + "_out"])
            if a.raw:       # after each case: a guest that times out keeps what it did
                import json
                with open(a.raw, "w") as f:
                    json.dump({x["case"]: x for x in results}, f)
    if a.markdown:
        print(markdown(results))
    return 0 if all(r["equal"] for r in results) else 1


def run_guest(a, names: list[str]) -> int:
    """One boot of the kernel-matrix guest running this bench (--in-guest) over the
    guest cases; its runs come back through the scratch dir (bench_bcc_guest.boot)."""
    import types
    from bench_bcc_guest import boot

    def argv(scratch: str, raw: str) -> list[str]:
        return ["/usr/bin/python3", os.path.abspath(__file__), "--in-guest", "--raw", raw,
                "--cases", ",".join(names)]
    results: dict = {}
    raw = a.raw or os.path.join(tempfile.gettempdir(), "pybpf-tools-diff-guest.json")
    rc = boot(types.SimpleNamespace(raw=raw, vm_timeout=a.vm_timeout, vm_cpus=a.vm_cpus),
              argv, results)
    for n in names:
        r = results.get(n)
        if r is None:
            print(f"{n:16} no run")
            continue
        print(f"{n:16} {'equal' if r['equal'] else 'DIFFER'}  pybpf: {fmt(r['pybpf'])}"
              f"  bcc: {fmt(r['ref'])}", flush=True)
        if a.keep:
            os.makedirs(a.keep, exist_ok=True)
            for side in ("pybpf", "ref"):
                with open(os.path.join(a.keep, f"{n}.{side}.txt"), "w") as f:
                    f.write(r[side + "_out"])
    if a.markdown:
        print(markdown([results[n] for n in names if n in results]))
    return rc or (0 if all(results.get(n, {}).get("equal") for n in names) else 1)


if __name__ == "__main__":
    sys.exit(main())
