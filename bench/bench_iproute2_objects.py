"""iproute2's own tc examples, from a checkout of iproute2, run by pybpf (each checked on
real frames) and, for the BTF ones, timed against Debian's ``tc``.

The examples are not in this repository: DIR is a copy of iproute2's ``examples/bpf`` and
``include`` directories, e.g. from the mirror:

    mkdir /tmp/ip2 && git -C /work/.mirror/iproute2+iproute2/repo archive HEAD \\
        examples/bpf include | tar -x -C /tmp/ip2
    flock /tmp/pybpf-bench.lock .venv/bin/python bench/bench_iproute2_objects.py /tmp/ip2

First, all eight examples (five legacy, three BTF) are compiled as iproute2's README says
and loaded by pybpf as tc would load them, in a veth pair in a netns; frames go through
and the examples' counters and printt lines are checked (tc loads the BTF ones next to
pybpf, sharing the pinned maps).  One line per example: ok, or what failed.

Then the timing: each a fresh process, interleaved, ``tc filter add ... bpf da obj O sec
S`` against a pybpf process that loads the same object (plans warm) and attaches the same
section as a cls_bpf filter; wall and on-CPU time, medians, one Markdown row per BTF
example.  Run as root from the repository root.  If any check fails, nothing is timed
and the exit status is 1.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.getcwd())

import pybpf  # noqa: E402
from pybpf import errors  # noqa: E402
from pybpf.object.iproute2 import tc_sections  # noqa: E402
from tests import tclab  # noqa: E402
from tests.tclab import N, shape, u32, values  # noqa: E402

CASES = [("bpf_shared.c", "egress", "emain"), ("bpf_map_in_map.c", "egress", "emain"),
         ("bpf_graft.c", "classifier", "cls_entry")]
PYBPF = """import sys, pybpf
path, prog, root = sys.argv[1:4]
obj = pybpf.load(path, programs=[prog], sections={prog: "tc"}, pin_root=root)
obj.programs[prog].attach_tc("va", "egress", mode="netlink")
"""
COUNTS = list(range(1, N + 1))


# ---- the checks: what each example does, on real frames ---------------------------------

def _check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(what)


def legacy_shared(lab, data, path):
    load = dict(pin_root=lab.root, name="bpf_shared")
    with pybpf.load(data, programs=["emain"], sections={"emain": "tc"}, **load) as eg, \
            pybpf.load(data, programs=["imain"], sections={"imain": "tc"}, **load) as ig:
        d = os.path.join(lab.root, hashlib.sha1(data).hexdigest())
        _check(os.listdir(d) == ["map_sh"], "map_sh not pinned in the object's directory")
        _check(eg.maps["map_sh"].id == ig.maps["map_sh"].id, "two loads, two maps")
        eg.programs["emain"].attach_tc("va", "egress")
        ig.programs["imain"].attach_tc("vb", "ingress")
        lab.send()
        _check(u32(ig.maps["map_sh"], 0) == N, "map_sh did not count the frames")
        _check(values(lab.printed(N, "map val: "), "map val: ") == COUNTS, "map val lines")


def legacy_tailcall(lab, data, path):
    with pybpf.load(data, pin_root=lab.root, name="bpf_tailcall") as obj:
        ids = {n: p.info().id for n, p in obj.programs.items()}
        tc_, ex = obj.maps["jmp_tc"], obj.maps["jmp_ex"]
        _check((u32(tc_, 0), u32(tc_, 1), u32(ex, 0)) ==
               (ids["cls_case1"], ids["cls_case2"], ids["cls_exit"]), "tail-call slots")
        obj.programs["cls_entry"].attach_tc("va", "egress")
        lab.send()
        lines = lab.printed(N, "case1: map-val: ") + lab.printed(N, "exit: map-val: ")
        _check(values(lines, "case1: map-val: ") == COUNTS, "case1 not reached per frame")
        _check(values(lines, "exit: map-val: ") == COUNTS, "exit not reached per frame")
        _check(all(ln.endswith("from:0") for ln in lines if ln.startswith("exit")),
               "exit not reached from case1")
        _check(not lab.printed(0, "fallthrough"), "a tail call fell through")


def legacy_cyclic(lab, data, path):
    with pybpf.load(data, pin_root=lab.root) as obj:
        obj.programs["cls_entry"].attach_tc("va", "egress")
        before = lab.rx()
        lab.send(1)
        _check(values(lab.printed(33, "cb: "), "cb: ") == list(range(33)),
               "cls_loop did not run 33 times")
        _check(lab.wait_rx(before) == 1, "the frame was dropped")


def legacy_map_in_map(lab, data, path):
    spec = pybpf.ObjectSpec.from_bytes(data, name="bpf_map_in_map")
    with pybpf.load(spec, pin_root=lab.root, sections=tc_sections(spec)) as obj:
        outer, inner = obj.maps["map_outer"], obj.maps["map_inner"]
        _check(u32(outer, 0) == inner.id, "map_inner not in map_outer's slot 0")
        obj.programs["emain"].attach_tc("va", "egress")
        obj.programs["imain"].attach_tc("vb", "ingress")
        lab.send()
        _check(u32(inner, 0) == N, "map_inner did not count the frames")
        _check(values(lab.printed(N, "map val: "), "map val: ") == COUNTS, "map val lines")


def graft(lab, data, path, by_tc: bool):
    load = dict(pin_root=lab.tc_globals, name="bpf_graft")
    entry = None
    if by_tc:
        lab.tc("qdisc", "add", "dev", "va", "clsact")
        lab.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj", path,
               "sec", "classifier")
    else:
        os.makedirs(lab.tc_globals)
        entry = pybpf.load(data, programs=["cls_entry"], **load)
        entry.programs["cls_entry"].attach_tc("va", "egress")
    try:
        with pybpf.load(data, programs=["cls_aaa", "cls_bbb"],
                        sections={"cls_aaa": "tc", "cls_bbb": "tc"}, **load) as g:
            jmp = g.maps["jmp_tc"]
            lab.send()
            _check(len(lab.printed(N, "fallthrough")) == N, "no fallthrough while empty")
            for sec in ("aaa", "bbb"):
                jmp.update(0, struct.pack("<I", g.programs[f"cls_{sec}"].fileno()))
                lab.send()
                _check([ln for ln in lab.printed(N, sec) if ln == sec] == [sec] * N,
                       f"{sec} not grafted")
    finally:
        if entry is not None:
            entry.close()


def _same_pins(lab, data, path, sec, prog):
    """tc and pybpf each load the object: the same maps pinned, of the same shape."""
    lab.tc("qdisc", "add", "dev", "va", "clsact")
    lab.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj", path, "sec", sec)
    theirs = {n: pybpf.Map.from_pin(os.path.join(lab.tc_globals, n))
              for n in os.listdir(lab.tc_globals)}
    try:
        with pybpf.load(data, programs=[prog], sections={prog: "tc"},
                        pin_root=lab.root) as obj:
            _check(sorted(os.listdir(lab.root)) == sorted(theirs), "other pins than tc's")
            _check(all(shape(obj.maps[n]) == shape(m) for n, m in theirs.items()),
                   "maps of another shape than tc's")
    finally:
        for m in theirs.values():
            m.close()
    lab.reset()


def btf_shared(lab, data, path):
    _same_pins(lab, data, path, "egress", "emain")
    lab.tc("qdisc", "add", "dev", "va", "clsact")
    lab.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj", path, "sec", "egress")
    with pybpf.load(data, programs=["imain"], sections={"imain": "tc"},
                    pin_root=lab.tc_globals) as ig:
        ig.programs["imain"].attach_tc("vb", "ingress")
        lab.send()
        _check(u32(ig.maps["map_sh"], 0) == N, "tc's program did not count into the pin")
        _check(values(lab.printed(N, "map val: "), "map val: ") == COUNTS, "map val lines")


def btf_map_in_map(lab, data, path):
    _same_pins(lab, data, path, "egress", "emain")
    lab.tc("qdisc", "add", "dev", "va", "clsact")
    with pybpf.load(data, programs=["imain"], sections={"imain": "tc"},
                    pin_root=lab.tc_globals) as ig:
        lab.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj", path, "sec",
               "egress")
        ig.programs["imain"].attach_tc("vb", "ingress")
        lab.send()
        _check(u32(ig.maps["map_inner"], 0) == N, "tc's program missed pybpf's inner map")
        _check(values(lab.printed(N, "map val: "), "map val: ") == COUNTS, "map val lines")


def btf_graft(lab, data, path):
    _same_pins(lab, data, path, "classifier", "cls_entry")
    graft(lab, data, path, by_tc=True)


CHECKS = [("legacy/bpf_shared.c", legacy_shared), ("legacy/bpf_tailcall.c", legacy_tailcall),
          ("legacy/bpf_cyclic.c", legacy_cyclic),
          ("legacy/bpf_map_in_map.c", legacy_map_in_map),
          ("legacy/bpf_graft.c", lambda lab, d, p: graft(lab, d, p, by_tc=False)),
          ("bpf_shared.c", btf_shared), ("bpf_map_in_map.c", btf_map_in_map),
          ("bpf_graft.c", btf_graft)]


def _compile(examples: str, src: str, tmp: str) -> tuple[bytes, str]:
    # iproute2's README: clang -O2 -target bpf -c; its bpf_api.h includes <stdint.h>,
    # which a BPF target takes from clang's freestanding headers, not glibc's
    data = pybpf.compile(os.path.join(examples, src), cflags=["-ffreestanding"])
    path = os.path.join(tmp, src.replace("/", "_").replace(".c", ".o"))
    with open(path, "wb") as f:
        f.write(data)
    return data, path


def run_checks(lab, examples: str, tmp: str) -> int:
    failed = 0
    for src, check in CHECKS:
        lab.clear_trace()
        try:
            check(lab, *_compile(examples, src, tmp))
            print(f"{src}: ok")
        except (AssertionError, errors.PybpfError, OSError) as e:
            failed += 1
            print(f"{src}: FAILED: {e}")
        finally:
            lab.reset()
    print(f"\n{len(CHECKS) - failed} of {len(CHECKS)} examples pass.\n")
    return failed


# ---- the timing ---------------------------------------------------------------------------

def _timed(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall, user + system CPU) of one process, in ms."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t0) * 1000
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode()
    p.stderr.close()
    if p.returncode:
        raise SystemExit(f"{argv[0]} failed: {err.strip().splitlines()[-1:]}")
    return wall, (ru.ru_utime + ru.ru_stime) * 1000


def _clean(mnt: str) -> None:
    subprocess.run(["tc", "filter", "del", "dev", "va", "egress"], capture_output=True)
    for name in os.listdir(mnt):
        p = os.path.join(mnt, name)
        if os.path.islink(p):
            os.unlink(p)
        elif os.path.isdir(p):
            shutil.rmtree(p)


def run_timing(lab, examples: str, tmp: str, runs: int) -> None:
    py, mnt = sys.executable, lab.mnt
    env = {**os.environ, "TC_BPF_MNT": mnt}
    env.pop("PYTHONDONTWRITEBYTECODE", None)      # .pyc files as users have them
    subprocess.run(["tc", "qdisc", "add", "dev", "va", "clsact"], check=True)
    bare = statistics.median(_timed([py, "-c", "pass"], env)[0] for _ in range(runs))
    print(f"Interpreter start {bare:.1f} ms, {runs} runs each, interleaved.\n")
    print("| example (section) | tc wall | pybpf wall | ratio | tc CPU | pybpf CPU | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for src, sec, prog in CASES:
        _, obj = _compile(examples, src, tmp)
        tc = ["tc", "filter", "add", "dev", "va", "egress", "bpf", "da", "obj", obj,
              "sec", sec]
        mine = [py, "-c", PYBPF, obj, prog, os.path.join(mnt, "tc", "globals")]
        os.makedirs(os.path.join(mnt, "tc", "globals"), exist_ok=True)
        _timed(mine, env)                           # records the load plan
        _clean(mnt)
        a, b = [], []
        for _ in range(runs):
            a.append(_timed(tc, env))
            _clean(mnt)
            os.makedirs(os.path.join(mnt, "tc", "globals"))
            b.append(_timed(mine, env))
            _clean(mnt)
        tw, tcpu = (statistics.median(x[i] for x in a) for i in (0, 1))
        pw, pcpu = (statistics.median(x[i] for x in b) for i in (0, 1))
        print(f"| {src} ({sec}) | {tw:.1f} ms | {pw:.1f} ms | {pw / tw:.2f} "
              f"| {tcpu:.1f} ms | {pcpu:.1f} ms | {pcpu / tcpu:.2f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", metavar="DIR",
                    help="a copy of iproute2's tree holding examples/bpf and include")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    examples = os.path.join(args.dir, "examples", "bpf")
    if not os.path.isfile(os.path.join(examples, "bpf_shared.c")):
        print(f"bench_iproute2_objects: no iproute2 examples in {examples}", file=sys.stderr)
        return 2
    with tclab.lab("pybpf-ip2bench") as lab, tempfile.TemporaryDirectory() as tmp:
        failed = run_checks(lab, examples, tmp)
        if failed:                  # times of programs that do not work mean nothing
            return 1
        try:
            run_timing(lab, examples, tmp, args.runs)
        finally:
            lab.reset()
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
