#!/usr/bin/env python3
"""pybpf firewall against xdp-filter (Debian's xdp-tools), in the same run:

1. per-packet cost with BPF_PROG_TEST_RUN (repeat N) on the same frames: pass, drop by
   source (a /24 prefix for pybpf, the address for xdp-filter, which has no prefixes) and
   pybpf's rate-limited path (xdp-filter has no limiter: its drop path is the reference);
2. flood throughput through a veth pair (tests/data/fwflood.c, AF_PACKET, one core) with
   the same 256 source addresses denied by each, native XDP;
3. rule-update latency and the time to load 100,000 rules.

Run as root: flock /tmp/pybpf-bench.lock env PYTHONPATH=src .venv/bin/python bench/bench_firewall.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

import pybpf
from pybpf.net import firewall as F
from pybpf.net import rules as R
from pybpf.net.packets import frame

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
XDPFILT = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o"   # allow mode: hits drop
REPEAT = int(os.environ.get("REPEAT", "1000000"))
ROUNDS = 5


def _u32be(ip: str) -> bytes:
    import socket
    return socket.inet_aton(ip)


def load_xdp_filter():
    spec = pybpf.ObjectSpec.from_file(XDPFILT)
    for m in spec.maps.values():
        m.pinning = 0          # keep it off /sys/fs/bpf (xdp-filter pins by name)
    obj = pybpf.load(spec)
    ncpu = obj.maps["filter_ipv4"].ncpus
    # MAP_FLAG_SRC = 1; MAP_FLAG_DST|MAP_FLAG_UDP = 2|8 (xdp-filter's common_kern_user.h)
    obj.maps["filter_ipv4"].update(_u32be("203.0.113.7"), [1] * ncpu)
    import socket
    obj.maps["filter_ports"].update(socket.htons(9), [2 | 8] * ncpu)
    return obj


def _hosts(n, first=1):
    """n /32 deny rules for 10.x.y.z (the same addresses given to xdp-filter)."""
    return [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(first, first + n)]


def per_packet():
    base = ["deny from 203.0.113.0/24", "deny udp port 9",
            "limit udp from 198.18.0.0/15 rate 1 burst 1"]
    for extra, label in ((0, ""), (256, ", +256 /32 rules"), (9_990, ", +9,990 /32 rules")):
        _per_packet(base, _hosts(extra), label)


def per_packet_ports():
    """Port lists, ranges and source ports (xdp-filter matches single ports only: its
    port-drop path is the reference for each row)."""
    rules = ["deny from 203.0.113.0/24", "deny udp port 9",
             "allow tcp port 80,443,8080", "deny udp port 6000-7000",
             "allow udp port 6500-6600", "deny tcp port 1024-65535", "allow udp sport 53"]
    cases = {
        "pass (no rule matches)": frame("198.51.100.1", "192.0.2.1", "udp", 53),
        "drop by port (single)": frame("198.51.100.1", "192.0.2.1", "udp", 9),
        "pass by a port list": frame("198.51.100.1", "192.0.2.1", "tcp", 443),
        "drop by a port range": frame("198.51.100.1", "192.0.2.1", "udp", 6100),
        "pass by a narrower range": frame("198.51.100.1", "192.0.2.1", "udp", 6550),
        "drop by 1024-65535 (tcp)": frame("198.51.100.1", "192.0.2.1", "tcp", 40000),
        "pass by source port": frame("198.51.100.1", "192.0.2.1", "udp", 6100, sport=53),
        "pass, IPv6, in no range": frame("2001:db8::1", "2001:db8::2", "udp", 53),
    }
    _against_port_drop(rules, cases, "port lists, ranges and source ports")


def per_packet_pairs():
    """Two-address rules (xdp-filter has none: its port-drop path is the reference)."""
    rules = ["deny from 203.0.113.0/24", "deny udp port 9",
             "allow tcp from 10.0.0.0/8 to 192.0.2.10 port 22",
             "deny from 10.0.0.0/8 to 192.0.2.0/24", "deny to 192.0.2.10"]
    cases = {
        "pass (no rule matches)": frame("198.51.100.1", "192.0.2.1", "udp", 53),
        "drop by port (single)": frame("198.51.100.1", "192.0.2.1", "udp", 9),
        "pass by from A to B port 22": frame("10.1.1.1", "192.0.2.10", "tcp", 22),
        "drop by from A to B": frame("10.1.1.1", "192.0.2.11", "udp", 53),
        "pass, IPv6": frame("2001:db8::1", "2001:db8::2", "udp", 53),
    }
    _against_port_drop(rules, cases, "two-address rules")


def _against_port_drop(rules, cases, title):
    fw = F.Firewall.unattached(R.RuleSet([R.parse_rule(x) for x in rules], R.ALLOW))
    xf = load_xdp_filter()
    xpkt = frame("198.51.100.1", "192.0.2.1", "udp", 9)
    ours, theirs = fw.obj.programs["firewall_xdp"], xf.programs["xdpfilt_alw_all"]
    try:
        rows = []
        for name, pkt in cases.items():
            a, _, va, _ = _pair(ours, theirs, pkt)
            _, b, _, vb = _pair(ours, theirs, xpkt)
            rows.append((name, a, b, va, vb))
    finally:
        fw.close()
        xf.close()
    print(f"\n### Per-packet cost with {title} "
          f"(BPF_PROG_TEST_RUN, repeat {REPEAT:,}, median of {ROUNDS})\n")
    print("Rules: " + ", ".join(f"`{x}`" for x in rules) + ", default allow.\n")
    print("| path | pybpf ns/pkt | xdp-filter drop-by-port ns/pkt | ratio | verdicts |")
    print("|---|---:|---:|---:|---|")
    for name, a, b, va, vb in rows:
        print(f"| {name} | {a} | {b} | {a / b:.2f} | {va} / {vb} |")


def _per_packet(base, hosts, label):
    rs = R.RuleSet([R.parse_rule(x) for x in base] +
                   [R.parse_rule(f"deny from {h}") for h in hosts], R.ALLOW)
    fw = F.Firewall.unattached(rs)
    xf = load_xdp_filter()
    ncpu = xf.maps["filter_ipv4"].ncpus
    for h in hosts:       # xdp-filter's map holds 10,000 addresses
        xf.maps["filter_ipv4"].update(_u32be(h), [1] * ncpu)
    cases = {
        "pass (no rule matches)": frame("198.51.100.1", "192.0.2.1", "udp", 53),
        "drop by source": frame("203.0.113.7", "192.0.2.1", "udp", 53),
        "drop by port": frame("198.51.100.1", "192.0.2.1", "udp", 9),
        "rate-limited (pybpf) / none (xdp-filter)": frame("198.18.0.1", "192.0.2.1", "udp", 53),
        "pass, IPv6": frame("2001:db8::1", "2001:db8::2", "udp", 53),
    }
    ours, theirs = fw.obj.programs["firewall_xdp"], xf.programs["xdpfilt_alw_all"]
    try:
        rows = [(name, *_pair(ours, theirs, pkt)) for name, pkt in cases.items()]
        if hosts:
            rows = [r for r in rows if r[0] in ("pass (no rule matches)", "drop by source")]
            rows.append(("drop by source, one of the added", *_pair(
                ours, theirs, frame(hosts[len(hosts) // 2], "192.0.2.1", "udp", 53))))
    finally:
        fw.close()
        xf.close()
    print(f"\n### Per-packet cost{label} (BPF_PROG_TEST_RUN, repeat {REPEAT:,}, "
          f"median of {ROUNDS})\n")
    print("| path | pybpf ns/pkt | xdp-filter ns/pkt | ratio | verdicts |")
    print("|---|---:|---:|---:|---|")
    for name, a, b, va, vb in rows:
        print(f"| {name} | {a} | {b} | {a / b:.2f} | {va} / {vb} |")


def _pair(ours, theirs, pkt):
    """Median ns/packet of each program on one frame, runs alternating so that drift
    hits both alike; and their verdicts."""
    a, b = [], []
    for _ in range(ROUNDS):
        ra = ours.test_run(pkt, repeat=REPEAT)
        rb = theirs.test_run(pkt, repeat=REPEAT)
        a.append(ra.duration_ns)
        b.append(rb.duration_ns)
    return (statistics.median(a), statistics.median(b), {1: "drop", 2: "pass"}[ra.retval],
            {1: "drop", 2: "pass"}[rb.retval])


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


def flood_throughput():
    tag = os.getpid() % 100000
    a, b, ia, ib = f"bfa{tag}", f"bfb{tag}", f"bwa{tag}", f"bwb{tag}"
    tmp = tempfile.mkdtemp(prefix="fwbench-")
    tool = os.path.join(tmp, "fwflood")
    sh("gcc", "-O2", "-o", tool, os.path.join(ROOT, "tests", "data", "fwflood.c"))
    sh("ip", "netns", "add", a)
    sh("ip", "netns", "add", b)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    n = int(os.environ.get("FLOOD", "1000000"))
    results = {}
    try:
        sh("ip", "link", "add", ia, "netns", a, "type", "veth", "peer", ib, "netns", b)
        sh("ip", "-n", a, "addr", "add", "10.79.0.1/24", "dev", ia)
        for ns, dev in ((a, ia), (b, ib)):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        dmac = sh("ip", "netns", "exec", a, "cat", f"/sys/class/net/{ia}/address").strip()
        smac = sh("ip", "netns", "exec", b, "cat", f"/sys/class/net/{ib}/address").strip()
        addrs = [f"198.18.0.{i}" for i in range(1, 256)] + ["198.18.1.0"]

        def run_flood():
            out = sh("ip", "netns", "exec", b, tool, ib, dmac, smac, "4", "198.18.0.1", "256",
                     "10.79.0.1", "udp", "9", str(n)).split()
            return int(out[1]) / float(out[3])

        def nsx(*cmd):
            return subprocess.run(["nsenter", f"--net=/run/netns/{a}", *cmd], env=env,
                                  check=True, capture_output=True, text=True)

        order = ["pybpf", "xdp-filter"] * 3
        for who in order:
            if who == "pybpf":
                with tempfile.NamedTemporaryFile("w", suffix=".rules") as f:
                    f.write("\n".join(f"deny from {x}" for x in addrs) + "\n")
                    f.flush()
                    nsx(sys.executable, "-m", "pybpf", "firewall", "load", ia, "--mode",
                        "native", "--rules", f.name)
                try:
                    results.setdefault(who, []).append(run_flood())
                    import json
                    st = json.loads(nsx(sys.executable, "-m", "pybpf", "firewall", "status",
                                        ia, "--json").stdout)
                    assert st["actions"]["drop"]["packets"] == n, st["actions"]
                finally:
                    nsx(sys.executable, "-m", "pybpf", "firewall", "unload", ia)
            else:
                nsx("xdp-filter", "load", ia, "-m", "native", "-p", "allow", "-f", "ipv4")
                try:
                    for x in addrs:
                        nsx("xdp-filter", "ip", x, "-m", "src")
                    results.setdefault(who, []).append(run_flood())
                finally:
                    nsx("xdp-filter", "unload", ia)
        results["no program"] = [run_flood()]
    finally:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["ip", "netns", "del", a], capture_output=True)
        subprocess.run(["ip", "netns", "del", b], capture_output=True)
    print(f"\n### Flood through a veth pair ({n:,} UDP frames from 256 denied sources, "
          "native XDP, all dropped)\n")
    print("| receiver | Mpps (median of 3) | runs |")
    print("|---|---:|---|")
    for who, v in results.items():
        print(f"| {who} | {statistics.median(v) / 1e6:.3f} | "
              f"{', '.join(f'{x / 1e6:.3f}' for x in v)} |")


def rules_timing():
    def make(n, base=10):
        return [R.Rule(R.DENY, src=R.Prefix(R.V4, bytes([base, i >> 16, (i >> 8) & 255,
                                                         i & 255]) + bytes(12), 32))
                for i in range(n)]
    out = []
    fw = F.Firewall.unattached(capacity=524288)
    try:
        rs = R.RuleSet(make(100_000), R.ALLOW)        # built outside the timing
        t, c = time.perf_counter(), time.process_time()
        res = fw.apply(rs)
        res["cpu"] = time.process_time() - c
        out.append(("apply 100,000 new rules (API)", time.perf_counter() - t, res))
        rs = R.RuleSet(make(100_000, base=11), R.ALLOW)
        t, c = time.perf_counter(), time.process_time()
        res = fw.apply(rs)
        res["cpu"] = time.process_time() - c
        out.append(("replace them by 100,000 other rules (API)", time.perf_counter() - t, res))
        to = R.parse_prefix("192.0.2.0/24")
        for label, ports, dst in (("port ranges", ((6000, 7000),), None),
                                  ("port lists", ((22, 22), (443, 443)), None),
                                  ("a destination too (from A to B)", (), to)):
            rs = R.RuleSet([R.Rule(R.DENY, src=r.src, proto=6 if ports else 0, ports=ports,
                                   dst=dst) for r in make(100_000, base=12)], R.ALLOW)
            t, c = time.perf_counter(), time.process_time()
            res = fw.apply(rs)
            res["cpu"] = time.process_time() - c
            out.append((f"replace them by 100,000 rules with {label} (API)",
                        time.perf_counter() - t, res))
        lat = []
        rules = make(100_000, base=11)
        for i in range(10):
            rules.append(R.parse_rule(f"deny udp port {1000 + i}"))
            t = time.perf_counter()
            fw.apply(R.RuleSet(rules, R.ALLOW))
            lat.append(time.perf_counter() - t)
        out.append(("add one rule to 100,000 by a whole-set swap (API, median of 10)",
                    statistics.median(lat), None))
        lat = []
        for i in range(20):
            t = time.perf_counter()
            fw.add([R.parse_rule(f"deny tcp port {3000 + i}")])
            lat.append(time.perf_counter() - t)
        out.append(("add one rule to 100,000 in place (API, median of 20)",
                    statistics.median(lat), None))
        lat = []
        for i in range(20):
            t = time.perf_counter()
            fw.delete([R.parse_rule(f"deny tcp port {3000 + i}")])
            lat.append(time.perf_counter() - t)
        out.append(("delete one rule of 100,000 in place (API, median of 20)",
                    statistics.median(lat), None))
        fw.apply(R.RuleSet([R.parse_rule("deny udp port 9")], R.ALLOW))
        lat = []
        for i in range(20):
            rs = [R.parse_rule("deny udp port 9"), R.parse_rule(f"deny tcp port {2000 + i}")]
            t = time.perf_counter()
            fw.apply(R.RuleSet(rs, R.ALLOW))
            lat.append(time.perf_counter() - t)
        out.append(("change one rule of 2 (API, median of 20)", statistics.median(lat), None))
    finally:
        fw.close()
    # the CLI end to end: a text file of 100,000 rules, parsed and applied in one process
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "100k.rules")
        with open(path, "w") as f:
            for i in range(100_000):
                f.write(f"deny from 10.{i >> 16}.{(i >> 8) & 255}.{i & 255}\n")
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pybpf", "firewall", "check", path], env=env,
                       check=True, capture_output=True)
        out.append(("CLI: parse a 100,000-line rules file (whole process)",
                    time.perf_counter() - t, None))
        t = time.perf_counter()
        rs = R.parse_file(path)
        out.append(("parse_file of it (in process)", time.perf_counter() - t, None))
    import os as _os
    out.append((f"(load average during this part: {_os.getloadavg()[0]:.1f} on "
                f"{_os.cpu_count()} CPUs)", 0.0, None))
    print("\n### Rule updates\n")
    print("| operation | seconds | detail |")
    print("|---|---:|---|")
    for name, sec, res in out:
        detail = ""
        if res:
            detail = (f"CPU {res['cpu']:.3f} s; encode {res['encode_seconds']:.3f}, fill "
                      f"trie {res['fill_seconds']:.3f}, swap {res['swap_seconds'] * 1000:.2f} ms")
        print(f"| {name} | {sec:.4f} | {detail} |")
    return rs


def cli_latency():
    """One-rule change through each tool's command line (process start included)."""
    tag = os.getpid() % 100000
    a, ia, ib = f"bla{tag}", f"blx{tag}", f"bly{tag}"
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    sh("ip", "netns", "add", a)
    res = {}
    try:
        sh("ip", "-n", a, "link", "add", ia, "type", "veth", "peer", ib)
        sh("ip", "-n", a, "link", "set", ia, "up")
        sh("ip", "-n", a, "link", "set", ib, "up")

        def nsx(*cmd):
            t = time.perf_counter()
            subprocess.run(["nsenter", f"--net=/run/netns/{a}", *cmd], env=env, check=True,
                           capture_output=True)
            return time.perf_counter() - t
        nsx(sys.executable, "-m", "pybpf", "firewall", "load", ia, "--mode", "native")
        try:
            res["pybpf firewall add IFACE 'deny from ADDR'"] = statistics.median(
                nsx(sys.executable, "-m", "pybpf", "firewall", "add", ia,
                    f"deny from 198.18.2.{i}") for i in range(1, 8))
        finally:
            nsx(sys.executable, "-m", "pybpf", "firewall", "unload", ia)
        nsx("xdp-filter", "load", ia, "-m", "native", "-p", "allow", "-f", "ipv4")
        try:
            res["xdp-filter ip ADDR -m src"] = statistics.median(
                nsx("xdp-filter", "ip", f"198.18.2.{i}", "-m", "src") for i in range(1, 8))
        finally:
            nsx("xdp-filter", "unload", ia)
    finally:
        subprocess.run(["ip", "netns", "del", a], capture_output=True)
    print("\n### One rule added from the command line (median of 7, process start included)\n")
    print("| command | ms |")
    print("|---|---:|")
    for k, v in res.items():
        print(f"| {k} | {v * 1000:.1f} |")


def main():
    print(f"kernel {os.uname().release}, {os.cpu_count()} CPUs")
    parts = sys.argv[1:] or ["per_packet", "ports", "pairs", "flood", "rules", "cli"]
    if "per_packet" in parts:
        per_packet()
    if "ports" in parts:
        per_packet_ports()
    if "pairs" in parts:
        per_packet_pairs()
    if "flood" in parts:
        flood_throughput()
    if "rules" in parts:
        rules_timing()
    if "cli" in parts:
        cli_latency()


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
