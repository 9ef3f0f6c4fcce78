#!/usr/bin/env python3
"""bcc's own Python test suite (bcc's repository, tests/python) under bcc 0.26 and under
``pybpf run``, per test case.

usage: bench/bench_bcc_testsuite.py DIR [--only bcc|pybpf] [--raw FILE] [--files a,b]
                                    [--timeout S] [--table]

DIR is bcc's tests/python (with its *.c files, utils.py and include/ beside the tests).
Each test_*.py runs unchanged with ``-v`` (the ones taking a C file get it, as bcc's
CMakeLists passes it), ``python3 test.py`` for bcc and ``pybpf run test.py`` for pybpf,
in DIR; the unittest lines give each case's state.  bcc's ``@mayFail`` reports a failed
case as passed: those count as "mayfail", not as passes.  test_tools_smoke.py and
test_tools_memleak.py start the tools as programs of their own and are left out
(bench_bcc_tools.py runs the tools).  Runs are kept in --raw (JSON); --table prints the
table from it.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys

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


def run_file(d: str, f: str, how: str, timeout: float) -> dict:
    args = [f, *C_ARGS.get(f, []), "-v"]
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
    return {"rc": rc, "cases": cases,
            "tail": "\n".join(err.strip().splitlines()[-3:])}


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--only", choices=("bcc", "pybpf"))
    ap.add_argument("--raw", default="/tmp/pybpf-bench-bcc-testsuite.json")
    ap.add_argument("--files", default="")
    ap.add_argument("--timeout", type=float, default=240)
    ap.add_argument("--table", action="store_true", help="only print the table of --raw")
    a = ap.parse_args(argv)
    results: dict = {}
    if os.path.exists(a.raw):
        with open(a.raw) as f:
            results = json.load(f)
    if not a.table:
        files = [f for f in a.files.split(",") if f] or sorted(
            os.path.basename(p) for p in glob.glob(os.path.join(a.dir, "test_*.py"))
            if os.path.basename(p) not in SKIP)
        for f in files:
            for how in [a.only] if a.only else ["bcc", "pybpf"]:
                r = run_file(a.dir, f, how, a.timeout)
                results.setdefault(f, {})[how] = r
                n = sum(1 for s in r["cases"].values() if s == "pass")
                print(f"{f:28} {how:6} {n}/{len(r['cases'])} pass  rc={r['rc']}", flush=True)
                with open(a.raw, "w") as out:
                    json.dump(results, out, indent=1)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
