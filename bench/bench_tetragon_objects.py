"""Tetragon's BPF objects (built from its own bpf/Makefile, outside this repository) loaded by
libbpf and by pybpf: outcome, translated instructions program by program, and the time each
takes to open and load the object (libbpf's in its loader process, pybpf's in a fresh
interpreter with pybpf imported, so exec and interpreter start count for neither; loads
interleaved, the fastest of ``--repeat`` per side).  As root, from the repository root:

    .venv/bin/python bench/bench_tetragon_objects.py --loader /path/to/loader OBJ...

``--loader`` is a small libbpf program (``LOADER OBJ DIR``) that pins each loaded program as
DIR/<name>, leaves out the programs named in $TETLOAD_SKIP (comma-separated) and prints
``load_ns N`` on stderr: bench/libbpf_loader.c (``cc -O2 -o loader libbpf_loader.c -lbpf``).
Without it bpftool loads every program and no libbpf time is shown.  ``--lsm-hook`` and
``--tracing-hook`` set the hook of programs whose section names none or a placeholder, on
both sides (Tetragon's loader does; pybpf: ``spec.set_attach_target(prog, None, hook)``).

``--sections prog=sec,...`` and ``--max-entries map=N,...`` load a program as if its SEC()
said ``sec`` and size a map, on both sides (a loader's own choices: Inspektor Gadget's sizes
maps at run time and takes ``socket1`` as a socket filter; bench_gadget_objects.py).

``--skip`` names programs neither side loads: by default the ones Tetragon's own loader
disables unless a policy asks for them (override, sleepable offload/preload), as a
Tetragon agent with a plain policy loads these objects.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("PYBPF_NO_PLAN", "1")         # cold loads: no recorded plan replays

import pybpf  # noqa: E402
from pybpf._sys.uapi import ProgType  # noqa: E402
from bench_foreign_objects import _NOISE, _cell, _pybpf  # noqa: E402
from tests.test_object_load import _normalize  # noqa: E402

ROOT = "/sys/fs/bpf"
ORACLE = os.path.join(ROOT, f"tetragon-oracle-{os.getpid()}")
MINE = os.path.join(ROOT, f"tetragon-mine-{os.getpid()}")
# what Tetragon's loader disables when the policy does not ask for it
# what another project's bench adds (bench_falco_objects.py): fix-ups of the spec before
# load, and the script a cold load runs in (it must apply the same fix-ups)
FIXUPS: list = []
SCRIPT = os.path.abspath(__file__)
TETRAGON_OFF = ("generic_kprobe_override", "generic_fmodret_override",
                "generic_sleepable_offload", "generic_sleepable_preload",
                "generic_sleepable_preload_cleanup")


def _placeholder(prog) -> bool:
    """Tetragon's loader sets the hook (AttachTo) of its BTF-attached programs: sections
    "lsm", "fentry/generic_fentry_tail", ... name none or a placeholder."""
    info = prog.sec_info
    t = info.target if info is not None else None
    return info is not None and info.needs_btf_id and (t is None or not t.name or
                                                       t.name.startswith("generic_"))


def _pairs(text: str) -> dict:
    """"a=1,b=2" -> {"a": "1", "b": "2"}"""
    return dict(p.split("=", 1) for p in text.split(",") if "=" in p)


def _open(path: str, skip: tuple, hooks: dict, over: dict | None = None):
    """The spec as Tetragon's loader prepares it: programs it disables off, hooks set;
    ``over``: {"sections": {prog: sec}, "max_entries": {map: n}} set as a loader would."""
    from pybpf.object.fullload import set_section
    spec = pybpf.ObjectSpec.from_file(path)
    over = over or {}
    for name, sec in over.get("sections", {}).items():
        set_section(spec, name, sec)
    for name, n in over.get("max_entries", {}).items():
        spec.maps[name].max_entries = int(n)
    for name, prog in spec.programs.items():
        if name in skip:
            prog.autoload = False
        hook = hooks.get("lsm" if prog.type == ProgType.LSM else "tracing")
        if hook and _placeholder(prog):
            spec.set_attach_target(name, None, hook)
    for fix in FIXUPS:
        fix(spec)
    return spec


def _over_env(over: dict | None) -> dict:
    over = over or {}
    return {f"TETLOAD_{k.upper()}": ",".join(f"{a}={b}" for a, b in over.get(k, {}).items())
            for k in ("sections", "max_entries")}


def _over_args(over: dict | None) -> list:
    env = _over_env(over)
    return ["--sections", env["TETLOAD_SECTIONS"], "--max-entries", env["TETLOAD_MAX_ENTRIES"]]


def libbpf(path: str, loader: str | None, skip: tuple,
           hooks: dict, over: dict | None = None) -> tuple[dict, float | None]:
    before = set(os.listdir(ROOT))
    cmd = [loader, path, ORACLE] if loader else ["bpftool", "prog", "loadall", path, ORACLE]
    env = dict(os.environ, TETLOAD_SKIP=",".join(skip), TETLOAD_TARGET_LSM=hooks.get("lsm", ""),
               TETLOAD_TARGET_TRACING=hooks.get("tracing", ""), **_over_env(over))
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        ns = [int(ln.split()[1]) for ln in r.stderr.splitlines() if ln.startswith("load_ns ")]
        secs = ns[0] / 1e9 if ns else None
        if r.returncode:
            lines = [ln for ln in r.stderr.splitlines() if ln.strip()
                     and not ln.startswith("load_ns ") and not any(n in ln for n in _NOISE)]
            return {"_error": " / ".join(lines[-1:])}, secs
        out = {}
        for name in os.listdir(ORACLE) if os.path.isdir(ORACLE) else ():
            with pybpf.Program.from_pin(os.path.join(ORACLE, name)) as p:
                out[name] = _normalize(p.xlated())
        return out, secs
    finally:
        shutil.rmtree(ORACLE, ignore_errors=True)
        for n in set(os.listdir(ROOT)) - before:
            if os.path.isfile(os.path.join(ROOT, n)):
                os.unlink(os.path.join(ROOT, n))


def mine(path: str, skip: tuple, hooks: dict, over: dict | None = None) -> dict:
    return _pybpf(_open(path, skip, hooks, over), MINE)


def mine_time(path: str, skip: tuple, hooks: dict, over: dict | None = None) -> float | None:
    """A cold load's time: a fresh interpreter (pybpf imported before the clock starts), as
    the libbpf loader is a fresh process that parses the kernel's BTF again."""
    r = subprocess.run([sys.executable, SCRIPT, "--time-one", path,
                        "--skip", ",".join(skip), "--lsm-hook", hooks.get("lsm", ""),
                        "--tracing-hook", hooks.get("tracing", ""), *_over_args(over)],
                       capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items()   # .pyc files, as installed
                            if k != "PYTHONDONTWRITEBYTECODE"})
    return float(r.stdout) if r.returncode == 0 and r.stdout.strip() else None


def _time_one(path: str, skip: tuple, hooks: dict, over: dict | None = None) -> int:
    os.makedirs(MINE, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()          # the ELF read and parsed, then loaded
            with pybpf.load(_open(path, skip, hooks, over), pin_root=MINE):
                secs = time.perf_counter() - t0
        print(secs)
        return 0
    finally:
        for n in os.listdir(MINE):
            os.unlink(os.path.join(MINE, n))
        os.rmdir(MINE)


def _ms(s: float | None) -> str:
    return "" if s is None else f"{s * 1000:.0f}"


def _best(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def row(path: str, loader: str | None, skip: tuple, hooks: dict, repeat: int = 1,
        over: dict | None = None) -> str:
    ref, ref_s = libbpf(path, loader, skip, hooks, over)
    got = mine(path, skip, hooks, over)
    got_s = mine_time(path, skip, hooks, over) if "_error" not in got else None
    for _ in range(repeat - 1 if "_error" not in got else 0):
        # interleaved; the fastest of each: the least noise
        ref_s = _best(ref_s, libbpf(path, loader, skip, hooks, over)[1])
        got_s = _best(got_s, mine_time(path, skip, hooks, over))
    lib = f"error: {_cell(ref['_error'], 80)}" if "_error" in ref else f"ok ({len(ref)})"
    me = got["_type"] if "_error" in got else f"ok ({len(got)})"
    equal = ""
    if "_error" not in ref and "_error" not in got:
        same = [n for n in ref if n in got and ref[n] == got[n]]
        equal = f"{len(same)}/{len(ref)}" + ("" if set(ref) == set(got) else " (names differ)")
    ratio = f"{got_s / ref_s:.2f}" if got_s and ref_s and "_error" not in ref else ""
    err = _cell(got["_error"], 120) if "_error" in got else ""
    return (f"| {os.path.basename(path)} | {lib} | {me} | {equal} | {_ms(ref_s)} | "
            f"{_ms(got_s)} | {ratio} | {err} |")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("objects", nargs="+")
    ap.add_argument("--loader", help="a libbpf loader: LOADER OBJ DIR (see the docstring)")
    ap.add_argument("--skip", default=",".join(TETRAGON_OFF),
                    help="programs neither side loads (comma-separated; '' for none)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="loads per side, interleaved; the fastest counts (default 3)")
    ap.add_argument("--lsm-hook", default="", help="the LSM hook of SEC(\"lsm\") programs "
                    "(Tetragon's loader sets one per policy), e.g. file_open")
    ap.add_argument("--tracing-hook", default="", help="the function of fentry/fexit "
                    "programs with a placeholder section (fentry/generic_...)")
    ap.add_argument("--sections", default="", help="prog=sec,...: load prog as if its "
                    "SEC() said sec, on both sides")
    ap.add_argument("--max-entries", default="", help="map=N,...: max_entries set before "
                    "load, on both sides")
    ap.add_argument("--time-one", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    skip = tuple(s for s in a.skip.split(",") if s)
    hooks = {"lsm": a.lsm_hook, "tracing": a.tracing_hook}
    over = {"sections": _pairs(a.sections), "max_entries": _pairs(a.max_entries)}
    if a.time_one:
        return _time_one(a.objects[0], skip, hooks, over)
    print("| object | libbpf | pybpf | xlated equal | libbpf ms | pybpf ms | ratio "
          "| pybpf's error line |")
    print("|---|---|---|---|---|---|---|---|")
    for path in a.objects:
        print(row(path, a.loader, skip, hooks, max(1, a.repeat), over), flush=True)
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(lambda: main(sys.argv[1:]))
