#!/usr/bin/env python3
"""bcc's own Python test suite (bcc's repository, tests/python) under bcc 0.26 and under
``pybpf run``, per test case.

usage: bench/bench_bcc_testsuite.py DIR [--only bcc|pybpf] [--raw FILE] [--files a,b]
                                    [--timeout S] [--table] [--guest [--vm-cpus N]]

DIR is bcc's tests/python (with its *.c files, utils.py and include/ beside the tests).
Each test_*.py runs unchanged with ``-v`` (the ones taking a C file get it, as bcc's
CMakeLists passes it), ``python3 test.py`` for bcc and ``pybpf run test.py`` for pybpf,
in DIR; the unittest lines give each case's state.  bcc's ``@mayFail`` reports a failed
case as passed: those count as "mayfail", not as passes.  test_tools_smoke.py and
test_tools_memleak.py start the tools as programs of their own and are left out
(bench_bcc_tools.py runs the tools).  Runs are kept in --raw (JSON); --table prints the
table from it.  A --files entry ``test_x.py::Class.case`` runs only that case of the file
(entries of one file run together).

``--guest`` runs them in the kernel-matrix guest (kprobes, fentry, BPF LSM; one boot,
bench_bcc_guest.py; GUEST_FILES unless --files), bcc and pybpf side by side on its two
vCPUs: ``flock /tmp/pybpf-vm.lock bench/bench_bcc_testsuite.py DIR --guest``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VENV_PY = os.path.join(REPO, ".venv", "bin", "python")
SKIP = {"test_tools_smoke.py", "test_tools_memleak.py"}
# the C file (and an empty second argument) some tests take, as bcc's CMakeLists runs them
C_ARGS = {"test_stat1.py": ["test_stat1.c", ""], "test_xlate1.py": ["test_xlate1.c", ""],
          "test_trace3.py": ["test_trace3.c", ""], "test_call1.py": ["test_call1.c"],
          "test_brb.py": ["test_brb.c"], "test_brb2.py": ["test_brb2.c"]}
# pybpf run with the distribution's modules (netaddr, pyroute2) after the venv's, as a
# bcc user has them
PYBPF = ("import sys; sys.path.append('/usr/lib/python3/dist-packages'); "
         "from pybpf.cli import main; sys.exit(main(sys.argv[1:]))")
STATES = (("ok", "pass"), ("FAIL", "fail"), ("ERROR", "error"), ("skipped", "skip"),
          ("expected failure", "xfail"), ("unexpected success", "xpass"))
# --guest without --files: the files with kprobes, kretprobes or perf events the host
# cannot run (bcc's whole suite would take hours under TCG, ~100 s per bcc compile), and
# test_clang's cases that attach to kernel functions
GUEST_FILES = ["test_trace2.py", "test_trace4.py", "test_histogram.py", "test_stackid.py",
               "test_probe_count.py", "test_lru.py", "test_array.py", "test_percpu.py",
               "test_map_in_map.py", "test_ringbuf.py", "test_trace_maxactive.py",
               "test_license.py", "test_trace3.py", "test_perf_event.py",
               *(f"test_clang.py::TestClang.{c}" for c in (
                   "test_task_switch", "test_probe_struct_assign", "test_unary_operator",
                   "test_map_insert", "test_arbitrary_increment_simple",
                   "test_probe_simple_assign", "test_char_array_probe"))]
_CASE = re.compile(r"^(test\w*) \(([\w.]+)\)")
_MAYFAIL = re.compile(r"WARNING! Test (test\w*) \(([\w.]+)\) failed, but marked as passed")


def _key(name: str, where: str) -> str:
    parts = where.split(".")
    return (parts[-2] if len(parts) >= 3 else parts[-1]) + "." + name


def parse(text: str) -> dict[str, str]:
    """{Class.test: state} from unittest's verbose output."""
    res: dict[str, str] = {}
    cur = None
    for line in text.splitlines():
        m = _CASE.match(line)
        if m:
            cur = _key(m.group(1), m.group(2))
            line = line[m.end():]
        if cur is None:
            continue
        rest = line.split(" ... ")[-1].strip() if " ... " in line else line.strip()
        for tok, st in STATES:
            word = tok in ("ok", "FAIL", "ERROR")
            if rest == tok or (word and rest.endswith(" " + tok)) or \
                    (not word and rest.startswith(tok)):
                res[cur] = st
                cur = None
                break
    for m in _MAYFAIL.finditer(text):
        k = _key(m.group(1), m.group(2))
        if res.get(k) == "pass":
            res[k] = "mayfail"
    return res


def run_file(d: str, f: str, how: str, timeout: float, cases=()) -> dict:
    args = [f, *C_ARGS.get(f, []), "-v", *cases]
    if how == "bcc":
        cmd = ["/usr/bin/python3", *args]
        env = dict(os.environ)
    else:
        cmd = [VENV_PY, "-c", PYBPF, "run", *args]
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "src"))
    try:
        p = subprocess.run(cmd, cwd=d, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, errors="replace",
                           timeout=timeout, start_new_session=True)
        err, rc = p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        err = (e.stderr or b"").decode("utf-8", "replace") if isinstance(e.stderr, bytes) \
            else (e.stderr or "")
        rc = "timeout"
    cases = parse(err)
    if not cases:
        # test_bpf_log.py sends stderr (unittest's report with it) to a file of its own:
        # only its exit code tells
        cases = {"<file>": "exit 0" if rc == 0 else "crash"}
    # the failures' reports (the tail of stderr) say why, kept for the table's reasons
    return {"rc": rc, "cases": cases,
            "tail": "\n".join(err.strip().splitlines()[-3:]), "err": err[-6000:]}


def compare(before: dict, after: dict) -> str:
    """bcc, pybpf before and pybpf after (a run of the same cases, or some of them, at a
    later commit; a case it did not run keeps its state before) per file: the cases
    each passes, and the cases bcc passes that pybpf fails."""
    lines = ["| test file | cases | bcc passes | pybpf before | pybpf after | "
             "bcc only (after) |", "|---|---|---|---|---|---|"]
    tot = [0, 0, 0, 0, 0]
    for f in sorted(set(before) | set(after)):
        was = before.get(f, {}).get("pybpf")
        now = after.get(f, {}).get("pybpf")
        if was and now:
            now = dict(now, cases={**was["cases"], **now["cases"]})
        runs = [before.get(f, {}).get("bcc") or after.get(f, {}).get("bcc"), was,
                now or was]
        cases = sorted({c for r in runs if r for c in r["cases"] if c != "<file>"})
        ok = [{c for c in cases if r and r["cases"].get(c) == "pass"} for r in runs]
        only = sorted(ok[0] - ok[2])
        row = [len(cases), *map(len, ok), len(only)]
        tot = [a + b for a, b in zip(tot, row)]
        lines.append(f"| {f} | " + " | ".join(map(str, row[:4])) + " | "
                     + (", ".join(c.split(".")[-1] for c in only) or "-") + " |")
    lines.append("| **total** | " + " | ".join(f"**{n}**" for n in tot) + " |")
    return "\n".join(lines)


def table(results: dict) -> str:
    sides = [s for s in ("bcc", "pybpf") if any(s in v for v in results.values())]
    lines = ["| test file | cases | " + " | ".join(f"{s} passes" for s in sides) + " |",
             "|---" * (2 + len(sides)) + "|"]
    tot = dict.fromkeys(sides, 0)
    n = 0
    for f, v in sorted(results.items()):
        cases = sorted({c for s in v.values() for c in s["cases"] if c != "<file>"})
        n += len(cases)
        row = []
        for s in sides:
            p = sum(1 for c in cases if v.get(s, {}).get("cases", {}).get(c) == "pass")
            tot[s] += p
            row.append(str(p))
        lines.append(f"| {f} | {len(cases)} | " + " | ".join(row) + " |")
    lines.append(f"| **total** | **{n}** | " +
                 " | ".join(f"**{tot[s]}**" for s in sides) + " |")
    return "\n".join(lines)


def selection(files: list[str]) -> dict[str, list[str]]:
    """{file: [cases]} from --files entries (``file`` or ``file::Class.case``)."""
    out: dict[str, list[str]] = {}
    for e in files:
        f, _, case = e.partition("::")
        out.setdefault(f, [])
        if case:
            out[f].append(case)
    return out


def _save(a, results: dict, lock) -> None:
    with lock:
        with open(a.raw, "w") as out:
            json.dump(results, out, indent=1)


def run_side(a, sel: dict, how: str, results: dict, lock) -> None:
    for f, cases in sel.items():
        r = run_file(a.dir, f, how, a.timeout, cases)
        with lock:
            results.setdefault(f, {})[how] = r
        n = sum(1 for s in r["cases"].values() if s == "pass")
        print(f"{f:28} {how:6} {n}/{len(r['cases'])} pass  rc={r['rc']}", flush=True)
        _save(a, results, lock)


def run_here(a, sel: dict, results: dict) -> None:
    lock = threading.Lock()
    hows = [a.only] if a.only else ["bcc", "pybpf"]
    if not a.parallel:
        for f, cases in sel.items():
            for how in hows:
                run_side(a, {f: cases}, how, results, lock)
        return
    # each side on a vCPU of its own (the guest's CPU is emulated: the time halves)
    ts = [threading.Thread(target=run_side, args=(a, sel, how, results, lock))
          for how in hows]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def _absorb(results: dict, got: dict) -> None:
    for f, sides in got.items():
        results.setdefault(f, {}).update(sides)


def run_guest(a, files: list[str], results: dict) -> int:
    from bench_bcc_guest import boot

    def argv(scratch: str, raw: str) -> list[str]:
        # the guest's /tmp is its own: the tests go to the shared scratch dir (they
        # write beside themselves), the file list through a file (the command rides on
        # the kernel's command line)
        d = os.path.join(scratch, "tests")
        shutil.copytree(a.dir, d, symlinks=True)
        lst = os.path.join(scratch, "files")
        with open(lst, "w") as f:
            f.write(",".join(files))
        out = ["/usr/bin/python3", os.path.join(HERE, "bench_bcc_testsuite.py"), d,
               "--in-guest", "--raw", raw, "--files", "@" + lst,
               "--timeout", str(a.timeout)]
        if a.vm_cpus > 1 and not a.only:
            out.append("--parallel")
        return out + (["--only", a.only] if a.only else [])
    return boot(a, argv, results, _absorb)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--only", choices=("bcc", "pybpf"))
    ap.add_argument("--raw", default="")
    ap.add_argument("--files", default="",
                    help="test files (file::Class.case for one case), comma-separated")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds a file gets (240; 1500 in the guest)")
    ap.add_argument("--table", action="store_true", help="only print the table of --raw")
    ap.add_argument("--before", default="",
                    help="with --table: a --raw of an earlier pybpf, shown beside --raw's")
    ap.add_argument("--guest", action="store_true",
                    help="run in the kernel-matrix guest (tests/vm), one boot")
    ap.add_argument("--vm-timeout", type=float, default=7200)
    ap.add_argument("--vm-cpus", type=int, default=2,
                    help="the guest's vCPUs; with 2, bcc and pybpf run side by side")
    ap.add_argument("--parallel", action="store_true",
                    help="bcc and pybpf side by side (cases counting other processes' "
                         "calls may see the other side's)")
    ap.add_argument("--in-guest", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    a.dir = os.path.abspath(a.dir)
    slow = a.guest or a.in_guest
    a.raw = a.raw or ("/tmp/pybpf-bench-bcc-testsuite-guest.json" if a.guest else
                      "/tmp/pybpf-bench-bcc-testsuite.json")
    a.timeout = a.timeout if a.timeout is not None else (1500 if slow else 240)
    results: dict = {}
    if os.path.exists(a.raw) and not a.in_guest:
        with open(a.raw) as f:
            results = json.load(f)
    if not a.table:
        if a.files.startswith("@"):
            with open(a.files[1:]) as f:
                a.files = f.read().strip()
        files = [f for f in a.files.split(",") if f] or (GUEST_FILES if a.guest else sorted(
            os.path.basename(p) for p in glob.glob(os.path.join(a.dir, "test_*.py"))
            if os.path.basename(p) not in SKIP))
        if a.guest:
            rc = run_guest(a, files, results)
            if rc:
                return rc
        else:
            debugfs = False
            if a.in_guest and not os.path.ismount("/sys/kernel/debug"):
                # bcc reads its kprobe blacklist there (and finds tracefs inside it)
                debugfs = subprocess.run(["mount", "-t", "debugfs", "none",
                                          "/sys/kernel/debug"]).returncode == 0
            try:
                run_here(a, selection(files), results)
            finally:
                if debugfs:
                    subprocess.run(["umount", "-l", "/sys/kernel/debug"])
    if a.table and a.before:
        with open(a.before) as f:
            print(compare(json.load(f), results))
        return 0
    print(table(results))
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
