"""Objects pybpf did not build, loaded by libbpf (bpftool prog loadall) and by pybpf: one
Markdown table row per object (libbpf / pybpf / translated instructions equal / pybpf's
error line).  Run as root from the repository root:

    .venv/bin/python bench/bench_foreign_objects.py /usr/lib/x86_64-linux-gnu/bpf/*.o \
        /path/to/cilium-ebpf/testdata/*-el.elf

Maps pinned by name go to a bpffs directory of this run (pybpf) and under /sys/fs/bpf
(libbpf); both are removed after each object.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings

sys.path.insert(0, os.getcwd())
os.environ.setdefault("PYBPF_NO_PLAN", "1")

import pybpf  # noqa: E402
from pybpf import errors  # noqa: E402
from tests.test_object_load import _normalize  # noqa: E402

ROOT = "/sys/fs/bpf"
ORACLE = os.path.join(ROOT, f"foreign-oracle-{os.getpid()}")
MINE = os.path.join(ROOT, f"foreign-mine-{os.getpid()}")
_NOISE = ("strict mode", "If it used to work", "libbpf_strict", "supported section(type)",
          "PIN_BY_NAME", "failed to load object", "Error: failed to", "-- BEGIN", "-- END")


def _libbpf(path: str, loader: tuple = ("bpftool", "prog", "loadall")) -> dict:
    """``loader OBJ DIR`` pins each program as DIR/<name> (bpftool's loadall, or a stand-in
    linked with another libbpf)."""
    before = set(os.listdir(ROOT))
    try:
        r = subprocess.run([*loader, path, ORACLE], capture_output=True, text=True)
        if r.returncode:
            lines = [ln for ln in r.stderr.splitlines()
                     if ln.strip() and not any(n in ln for n in _NOISE)]
            return {"_error": " / ".join(lines[-1:])}
        out = {}
        for name in os.listdir(ORACLE) if os.path.isdir(ORACLE) else ():
            with pybpf.Program.from_pin(os.path.join(ORACLE, name)) as p:
                out[name] = _normalize(p.xlated())   # the pin's name: the full one
        return out
    finally:
        shutil.rmtree(ORACLE, ignore_errors=True)
        for n in set(os.listdir(ROOT)) - before:
            if os.path.isfile(os.path.join(ROOT, n)):
                os.unlink(os.path.join(ROOT, n))


def _pybpf(source, mine: str = MINE, details: bool = False, **load_kw) -> dict:
    """pybpf's load of ``source`` (a path or a spec), maps pinned under ``mine``, with
    ``load_kw`` for pybpf.load: each loaded program's normalized translated instructions,
    or the error line (with ``details``, also its errno, verifier log and full text, for
    same-cause checks)."""
    os.makedirs(mine, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pybpf.load(source, pin_root=mine, **load_kw) as obj:
                return {n: _normalize(p.xlated()) for n, p in obj.programs.items()
                        if p.fd is not None}
    except errors.PybpfError as e:
        out = {"_error": str(e).splitlines()[0], "_type": type(e).__name__}
        if details:
            out.update(_errno=getattr(e, "errno", 0) or 0, _log=getattr(e, "log", "") or "",
                       _full=str(e))
        return out
    except Exception as e:          # noqa: BLE001 - a traceback is what this hunts for
        return {"_error": f"TRACEBACK {type(e).__name__}: {e}", "_type": "traceback"}
    finally:
        for n in os.listdir(mine):
            os.unlink(os.path.join(mine, n))
        os.rmdir(mine)


def _cell(text: str, width: int = 150) -> str:
    text = text.replace("|", "/").replace("\n", " ")
    return text if len(text) <= width else text[:width - 1] + "…"


def row(path: str) -> str:
    ref, mine = _libbpf(path), _pybpf(path)
    lib = f"error: {_cell(ref['_error'], 90)}" if "_error" in ref else f"ok ({len(ref)})"
    me = f"{mine['_type']}" if "_error" in mine else f"ok ({len(mine)})"
    equal = ""
    if "_error" not in ref and "_error" not in mine:
        same = [n for n in ref if n in mine and ref[n] == mine[n]]
        equal = f"{len(same)}/{len(ref)}" + ("" if set(ref) == set(mine) else " (names differ)")
    err = _cell(mine["_error"]) if "_error" in mine else ""
    return f"| {os.path.basename(path)} | {lib} | {me} | {equal} | {err} |"


def main(argv: list[str]) -> int:
    print("| object | libbpf 1.1 (bpftool) | pybpf | xlated equal | pybpf's error line |")
    print("|---|---|---|---|---|")
    for path in argv:
        print(row(path), flush=True)
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(lambda: main(sys.argv[1:]))
