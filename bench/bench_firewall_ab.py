"""Before/after per-packet cost of the firewall program against xdp-filter, in one
process: the firewall of an older pybpf tree (its object and its own rule encoding), this
tree's, and xdp-filter's allow-mode object, runs alternating on the same frames.

    flock /tmp/pybpf-bench.lock .venv/bin/python bench/bench_firewall_ab.py OLD_TREE [ROUNDS]

OLD_TREE: a checkout of an earlier pybpf (e.g. ``git worktree add /tmp/old HEAD~3``);
its rules are encoded by its own Python in a subprocess.
"""

from __future__ import annotations

import os
import statistics
import struct
import subprocess
import sys

import pybpf
from pybpf._sys.uapi import MapType
from pybpf.maps import Map, MapSpec
from pybpf.net import firewall as F
from pybpf.net import rules as R
from pybpf.net.packets import frame
from pybpf.tools._common import tool_object

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_firewall as B  # noqa: E402

BASE = ["deny from 203.0.113.0/24", "deny udp port 9",
        "limit udp from 198.18.0.0/15 rate 1 burst 1"]
_OLD_ENCODE = f"""
from pybpf.net import rules as R
enc = getattr(R, "encode", None)
if enc is None:
    from pybpf.net.trie import encode as enc
k, v, n, m = enc([R.parse_rule(x) for x in {BASE!r}], [1, 2, 3], R.ALLOW)
print(k.hex(), v.hex(), n, m)
"""


def old_firewall(tree: str):
    """The old tree's firewall object, loaded, with BASE in its own encoding."""
    out = subprocess.run([sys.executable, "-c", _OLD_ENCODE], capture_output=True, text=True,
                         check=True, env=dict(os.environ,
                                              PYTHONPATH=os.path.join(tree, "src"))).stdout
    keys, vals, _, mask = out.split()
    raw, _ = tool_object("firewall", os.path.join(tree, "src", "pybpf", "net"))
    obj = pybpf.load(pybpf.ObjectSpec.from_bytes(raw, name="firewall"))
    conf = obj.maps["conf"]
    # the old conf is (mask, hook, capacity, next_id), maybe followed by more words
    conf.update(0, struct.pack("<IIII", int(mask), 0, 131072, 4).ljust(conf._vbuf_size, b"\0"))
    trie = Map.create(MapSpec("fw_rules", MapType.LPM_TRIE, R.KEY.size, R.VALUE.size, 131072, 1))
    trie.update_batch(bytes.fromhex(keys), bytes.fromhex(vals))
    obj.maps["rulesets"].update(0, trie)
    return obj, trie


def main():
    if len(sys.argv) < 2 or not os.path.isdir(os.path.join(sys.argv[1], "src", "pybpf")):
        print("usage: bench_firewall_ab.py OLD_TREE [ROUNDS]", file=sys.stderr)
        return 2
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    old, trie = old_firewall(sys.argv[1])
    new = F.Firewall.unattached(R.RuleSet([R.parse_rule(x) for x in BASE], R.ALLOW))
    xf = B.load_xdp_filter()
    progs = {"old": old.programs["firewall_xdp"], "new": new.obj.programs["firewall_xdp"],
             "xdp-filter": xf.programs["xdpfilt_alw_all"]}
    cases = {"pass (no rule matches)": frame("198.51.100.1", "192.0.2.1", "udp", 53),
             "drop by source": frame("203.0.113.7", "192.0.2.1", "udp", 53),
             "drop by port": frame("198.51.100.1", "192.0.2.1", "udp", 9),
             "pass, IPv6": frame("2001:db8::1", "2001:db8::2", "udp", 53)}
    print(f"kernel {os.uname().release}, load average {os.getloadavg()[0]:.1f}, "
          f"repeat {B.REPEAT:,}, median of {rounds}\n")
    print("| path | before ns | after ns | xdp-filter ns | before / xdp-filter | "
          "after / xdp-filter | verdicts |")
    print("|---|---:|---:|---:|---:|---:|---|")
    try:
        for name, pkt in cases.items():
            t: dict = {k: [] for k in progs}
            rv = {}
            for _ in range(rounds):
                for k, p in progs.items():
                    r = p.test_run(pkt, repeat=B.REPEAT)
                    t[k].append(r.duration_ns)
                    rv[k] = {1: "drop", 2: "pass"}[r.retval]
            m = {k: statistics.median(v) for k, v in t.items()}
            print(f"| {name} | {m['old']} | {m['new']} | {m['xdp-filter']} | "
                  f"{m['old'] / m['xdp-filter']:.2f} | {m['new'] / m['xdp-filter']:.2f} | "
                  f"{' / '.join(rv.values())} |", flush=True)
    finally:
        trie.close()
        old.close()
        new.close()
        xf.close()
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
