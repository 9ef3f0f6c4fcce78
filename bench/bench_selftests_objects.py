"""The kernel's own BPF selftests programs (tools/testing/selftests/bpf/progs of a kernel
tree), built with the selftests' recipe and loaded by libbpf and by pybpf, compared object
by object and, where the object as a whole is refused by both, program by program (as the
selftests' test_loader loads each program of a verifier test alone).  Run as root from the
repository root; the sources, libbpf and the objects stay outside it:

    .venv/bin/python bench/bench_selftests_objects.py LINUX/tools/testing/selftests/bpf \
        --include DIR --libbpf 'LOADER' [--out DIR] [-k WORD] [-j 2]

DIR holds libbpf's headers as bpf/*.h (``make -C tools/lib/bpf install_headers`` of the
same tree: bpf_helper_defs.h is generated there); LOADER is bench/libbpf_loader.c linked
with that tree's libbpf.a (``CMD OBJ DIR``; it takes TETLOAD_ONLY=prog and
TETLOAD_BTF=path).  The recipe is the selftests Makefile's BPF_CFLAGS (without -Werror:
clang-19 warns where the selftests' clang did not) with a vmlinux.h of the running kernel;
linked objects are made with ``bpftool gen object`` from the Makefile's LINKED_SKELS
halves; test_core_reloc_*.o are loaded against each btf__core_reloc_<family>*.o as
prog_tests/core_reloc.c does (libbpf's btf_custom_path; pybpf's ``kernel_btf=``).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_corpus_objects import CLANG, out_dir  # noqa: E402
from bench_foreign_objects import _cell  # noqa: E402

import pybpf  # noqa: E402
import pybpf.errors  # noqa: E402

# the Makefile's LINKED_SKELS: linked object -> its halves
LINKED = {
    "test_static_linked": ["test_static_linked1", "test_static_linked2"],
    "linked_funcs": ["linked_funcs1", "linked_funcs2"],
    "linked_vars": ["linked_vars1", "linked_vars2"],
    "linked_maps": ["linked_maps1", "linked_maps2"],
    "test_subskeleton": ["test_subskeleton_lib2", "test_subskeleton_lib", "test_subskeleton"],
    "test_subskeleton_lib": ["test_subskeleton_lib2", "test_subskeleton_lib"],
    "test_usdt": ["test_usdt", "test_usdt_multispec"],
}
NOINLINE = {"test_l4lb_noinline", "test_xdp_noinline"}
# the verifier's closing statistics, not its verdict
_SUMMARY = ("processed ", "verification time", "stack depth", "max_states", "mark_precise")


def cflags(selftests: str, include: str, vmlinux: str) -> list[str]:
    """The selftests Makefile's BPF_CFLAGS + CLANG_SYS_INCLUDES, test_progs' variant."""
    tree = os.path.abspath(os.path.join(selftests, "..", "..", "..", ".."))
    resource = subprocess.run([CLANG, "-print-resource-dir"], capture_output=True,
                              text=True).stdout.strip()
    return ["-g", "-Wall", "-D__TARGET_ARCH_x86", "-mlittle-endian", f"-I{vmlinux}",
            f"-I{include}", f"-I{selftests}", f"-I{tree}/tools/include/uapi",
            "-Wno-compare-distinct-pointer-types", "-idirafter", f"{resource}/include",
            "-idirafter", "/usr/include/x86_64-linux-gnu", "-idirafter", "/usr/include",
            "-DENABLE_ATOMICS_TESTS", "-O2", "--target=bpf", "-mcpu=v3"]


def build_one(src: str, out: str, flags: list[str]) -> tuple[str, str]:
    name = os.path.basename(src)[:-2]
    extra = ["-fno-inline"] if name in NOINLINE else []
    r = subprocess.run([CLANG, *flags, *extra, "-c", src, "-o", out], capture_output=True,
                       text=True)
    if r.returncode:
        lines = [ln for ln in r.stderr.splitlines() if "error" in ln]
        return name, (lines[0] if lines else r.stderr.strip()[-200:])
    return name, ""


def build_all(selftests: str, out: str, flags: list[str], jobs: int, k: str,
              linker: tuple) -> dict:
    """name -> "" (built) or the first error line; linked objects too (``linker OUT IN...``:
    bpftool gen object, or the reference loader's --link with the same libbpf)."""
    srcs = sorted(glob.glob(os.path.join(selftests, "progs", "*.c")))
    res = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        futs = [ex.submit(build_one, s, os.path.join(out, os.path.basename(s)[:-2] + ".bpf.o"),
                          flags) for s in srcs
                if not k or k in s or any(k in x for x in LINKED)]
        for f in futs:
            name, err = f.result()
            res[name] = err
    for linked, halves in LINKED.items():
        objs = [os.path.join(out, h + ".bpf.o") for h in halves]
        if any(res.get(h, "missing") for h in halves):
            res[linked + ".linked"] = "a half did not build"
            continue
        r = subprocess.run([*linker, os.path.join(out, linked + ".linked.bpf.o"), *objs],
                           capture_output=True, text=True)
        res[linked + ".linked"] = (r.stderr.strip().splitlines() or ["bpftool failed"])[-1] \
            if r.returncode else ""
    return res


def _libbpf(obj: str, loader: tuple, env: dict) -> dict:
    """Programs' normalized xlated (pinned by the loader), or _error: the verifier's last
    log line (or libbpf's last line) and _errno."""
    from bench_foreign_objects import ORACLE, ROOT
    from tests.test_object_load import _normalize
    import shutil
    before = set(os.listdir(ROOT))
    try:
        r = subprocess.run([*loader, obj, ORACLE], capture_output=True, text=True,
                           env={**os.environ, **env})
        if r.returncode:
            lines = r.stderr.splitlines()
            log = []
            if "-- END PROG LOAD LOG --" in lines:
                end = lines.index("-- END PROG LOAD LOG --")
                log = [ln for ln in lines[:end] if ln.strip() and "PROG LOAD LOG" not in ln
                       and not ln.startswith(_SUMMARY)]
            err = [ln for ln in lines if ln.startswith("libbpf:") and not any(
                n in ln for n in ("failed to load object", "try raising", "failed to load:"))]
            err = err[:1] or lines[-1:]
            m = re.findall(r"failed to load object: -(\d+)", r.stderr)
            return {"_error": (log[-1] if log else err[-1] if err else "?").strip(),
                    "_errno": int(m[-1]) if m else 0}
        out = {}
        for name in os.listdir(ORACLE) if os.path.isdir(ORACLE) else ():
            with pybpf.Program.from_pin(os.path.join(ORACLE, name)) as p:
                out[name] = _normalize(p.xlated())
        return out
    finally:
        shutil.rmtree(ORACLE, ignore_errors=True)
        for n in set(os.listdir(ROOT)) - before:
            p = os.path.join(ROOT, n)
            if os.path.isfile(p):
                os.unlink(p)


def _mine_err(obj: str, **kw) -> dict:
    """As bench_foreign_objects' load, with the error's errno and verifier log kept."""
    from bench_foreign_objects import _pybpf
    return _pybpf(obj, f"/sys/fs/bpf/selftests-mine-{os.getpid()}", details=True, **kw)


# one cause in libbpf's words and in pybpf's (a missing kfunc, hook, struct_ops type...)
_CAUSES = {
    # bpf_testmod (the selftests' module) is not loaded here: its struct_ops type, kfuncs
    # and hooks are missing, whichever of them a loader happens to check first
    "bpf_testmod missing": (("testmod", "bpf_kfunc_call_test", "bpf_kfunc_common_test"),
                            ("testmod", "bpf_kfunc_call_test", "bpf_kfunc_common_test")),
    "callback of no struct_ops map": (("isn't referenced anywhere",),
                                      ("callback of no created struct_ops",)),
    "struct_ops type missing": (("struct_ops init_kern",), ("struct_ops map",)),
    "kernel symbol missing": (("not found in kernel", "(strong): not resolved"),
                              ("has no BTF in", "not found in /proc/kallsyms")),
    "attach target missing": (("failed to find kernel BTF type ID",),
                              ("the kernel has no",)),
    "attach target not named": (("no BTF-based attach target", "attach program FD is not"),
                                ("names no attach target", "of another loaded BPF program")),
    "unknown section": (("missing BPF prog type",), ("names no program type",)),
    "BTF rejected": (("BTF loading error",), ("rejected the BTF",)),
    # this kernel refuses fentry/fexit/LSM: libbpf passes the kernel's EPERM on
    "trampolines refused": (("load failed: Operation not permitted",), ("trampolines",)),
}


def cause(text: str, side: int) -> str | None:
    for name, words in _CAUSES.items():
        if any(w in text for w in words[side]):
            return name
    return None


def same_cause(ref: dict, mine: dict) -> bool:
    """Both refused for one reason: the verifier's last line is in pybpf's error (or its
    log), both name the same missing thing (_CAUSES), or, with no verifier log, the same
    errno."""
    line = ref["_error"]
    text = mine.get("_full", "") + "\n" + mine.get("_log", "")
    if line and line in text:
        return True
    c = cause(line, 0)
    if c is not None and c == cause(mine.get("_error", ""), 1):
        return True
    return bool(ref.get("_errno")) and ref.get("_errno") == mine.get("_errno") and \
        "-- END" not in line


def program_names(obj: str) -> list[str]:
    """The object's programs; none when pybpf cannot read it (its load said why)."""
    try:
        spec = pybpf.ObjectSpec.from_file(obj)
    except pybpf.errors.PybpfError:
        return []
    return [n for n, p in spec.programs.items() if not p.subprogram]


def compare(obj: str, loader: tuple, env: dict | None = None, **kw) -> dict:
    ref = _libbpf(obj, loader, env or {})
    mine = _mine_err(obj, **kw)
    r = {"ref": ref, "mine": mine, "lib": "_error" not in ref, "me": "_error" not in mine}
    if r["lib"] and r["me"]:
        r["progs"] = len(ref)
        r["same"] = sum(1 for n in ref if n in mine and ref[n] == mine[n])
        r["names"] = set(ref) == set(mine)
    elif not r["lib"] and not r["me"]:
        r["cause"] = same_cause(ref, mine)
    return r


def per_program(obj: str, loader: tuple, tally: collections.Counter, rows: list,
                label: str) -> None:
    """Each program of ``obj`` alone (the others' autoload off), in both loaders."""
    for name in program_names(obj):
        r = compare(obj, loader, {"TETLOAD_ONLY": name}, programs=[name])
        tally["programs"] += 1
        if r["mine"].get("_type") == "traceback":
            tally["tracebacks"] += 1
        if r["lib"] and r["me"]:
            ok = r["same"] == r["progs"] and r["names"]
            tally["prog both load, identical" if ok else "prog both load, DIFFER"] += 1
            if not ok:
                rows.append(f"| {label} | {name} | ok | ok | differ | |")
        elif not r["lib"] and not r["me"]:
            tally["prog both refuse" + ("" if r["cause"] else " (cause differs?)")] += 1
            if not r["cause"]:
                rows.append(f"| {label} | {name} | {_cell(r['ref']['_error'], 80)} | "
                            f"{_cell(r['mine']['_error'], 110)} | | cause? |")
        else:
            key = "prog only pybpf loads" if r["me"] else "prog only libbpf loads"
            tally[key] += 1
            rows.append(f"| {label} | {name} | "
                        f"{'ok' if r['lib'] else _cell(r['ref']['_error'], 80)} | "
                        f"{'ok' if r['me'] else _cell(r['mine']['_error'], 110)} | | ONE |")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("selftests", help="a kernel tree's tools/testing/selftests/bpf")
    ap.add_argument("--include", required=True, help="folder with libbpf's bpf/*.h")
    ap.add_argument("--libbpf", required=True, help="the reference loader: CMD OBJ DIR")
    ap.add_argument("--out", help="objects go here (default: a new temporary folder, kept)")
    ap.add_argument("-k", default="", help="only sources whose name contains this")
    ap.add_argument("-j", type=int, default=2, help="parallel compiles")
    ap.add_argument("--no-build", action="store_true", help="reuse the objects in --out")
    args = ap.parse_args(argv)
    loader = tuple(args.libbpf.split())
    args.out, vmlinux = out_dir(args.out, "pybpf-selftests-")
    flags = cflags(os.path.abspath(args.selftests), args.include, vmlinux)
    if args.no_build:
        built = {os.path.basename(p)[:-6]: "" for p in glob.glob(f"{args.out}/*.bpf.o")}
    else:
        built = build_all(args.selftests, args.out, flags, args.j, args.k,
                          (*loader, "--link"))
    tally: collections.Counter = collections.Counter()
    rows: list[str] = []
    halves = {h for hs in LINKED.values() for h in hs}
    tally["sources"] = sum(1 for n in built if not n.endswith(".linked"))
    tally["built"] = sum(1 for n, e in built.items() if not e and not n.endswith(".linked"))
    print("| object | built | libbpf | pybpf | xlated equal | note |")
    print("|---|---|---|---|---|---|")
    for name in sorted(built):
        if args.k and args.k not in name:
            continue
        if built[name]:
            print(f"| {name} | no | | | | {_cell(built[name], 110)} |", flush=True)
            continue
        if name.startswith("btf__") or (name in halves and name not in LINKED):
            continue          # CO-RE targets (no programs); halves load only linked
        obj = os.path.join(args.out, name + ".bpf.o")
        runs = [(name, {}, {})]
        if name.startswith("test_core_reloc_"):
            fam = name[len("test_core_reloc_"):]
            fam = {"bitfields_direct": "bitfields", "bitfields_probed": "bitfields"}.get(fam,
                                                                                          fam)
            for t in sorted(glob.glob(f"{args.out}/btf__core_reloc_{fam}*.bpf.o")):
                base = os.path.basename(t)[:-6]
                if base != f"btf__core_reloc_{fam}" and not base.startswith(
                        f"btf__core_reloc_{fam}___"):
                    continue
                runs.append((f"{name} @{base[len('btf__core_reloc_'):]}",
                             {"TETLOAD_BTF": t},
                             {"kernel_btf": pybpf.ObjectSpec.from_file(t).btf}))
        for label, env, kw in runs:
            tally["loads"] += 1
            r = compare(obj, loader, env, **kw)
            if r["mine"].get("_type") == "traceback":
                tally["tracebacks"] += 1
            lib = "ok" if r["lib"] else "refused"
            me = "ok" if r["me"] else r["mine"].get("_type", "error")
            note, eq = "", ""
            if r["lib"] and r["me"]:
                tally["both load"] += 1
                tally["progs"] += r["progs"]
                tally["same"] += r["same"]
                eq = f"{r['same']}/{r['progs']}" + ("" if r["names"] else " (names differ)")
            else:
                if not r["lib"]:
                    note = "libbpf: " + _cell(r["ref"]["_error"], 80)
                if not r["me"]:
                    note += (" / " if note else "") + "pybpf: " + _cell(r["mine"]["_error"], 110)
                if r["lib"] or r["me"]:
                    tally["only pybpf" if r["me"] else "only libbpf"] += 1
                else:
                    tally["both refuse"] += 1
                    if not env:
                        per_program(obj, loader, tally, rows, label)
            print(f"| {label} | yes | {lib} | {me} | {eq} | {note} |", flush=True)
    print()
    print("| program (loaded alone) | | libbpf | pybpf | xlated | |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(r)
    print()
    for k, v in tally.items():
        print(f"- {k}: {v}")
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(lambda: main(sys.argv[1:]))
