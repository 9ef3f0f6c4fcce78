"""Build the libbpf-style BPF C programs of a tree of checked-out repositories (one folder per
repository under SRC_DIR) with one fixed recipe, then load each object that built with libbpf
(bpftool prog loadall) and with pybpf and compare the translated instructions, as
bench_foreign_objects.py does.  Prints a row per object and a summary row per repository.
Run as root from the repository root (the sources and objects stay outside it):

    .venv/bin/python bench/bench_corpus_objects.py /work/corpus-src [--out DIR] [-k WORD]

The recipe is the one libbpf-bootstrap style Makefiles use: clang -O2 -g -target bpf
-D__TARGET_ARCH_x86, the source's own folder and the folders of the repository holding the
headers it includes (found by name, as the authors' -I flags would), libbpf's installed
headers and a vmlinux.h of the running kernel (bpftool btf dump).  samples/bpf-style sources
(<uapi/linux/bpf.h>) get the kernel's headers instead.  What does not build is counted, not
fixed: nobody's sources are edited.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_foreign_objects import _cell, _libbpf, _pybpf  # noqa: E402

CLANG = "clang-19" if os.path.exists("/usr/bin/clang-19") else "clang"
_SKIP = re.compile(r"/(libbpf/src|tools/lib/bpf|fuzz)/")
_MISSING = re.compile(r"fatal error: '([^']+)' file not found")


def candidates(repo: str) -> list[str]:
    """The C files of ``repo`` that are BPF programs for a libbpf-style loader: they name a
    section and have no main(); bcc-style C (BPF_HASH(...), no SEC) is another corpus."""
    out = []
    for path in sorted(glob.glob(os.path.join(repo, "**", "*.c"), recursive=True)):
        rel = os.path.relpath(path, repo)
        if _SKIP.search("/" + rel):
            continue
        with open(path, errors="replace") as f:
            text = f.read()
        if ("SEC(" in text or "__section(" in text) and "int main(" not in text:
            out.append(path)
    return out


def _kernel_headers() -> tuple[str, str]:
    common = sorted(glob.glob("/usr/src/linux-headers-*-common"))[-1]
    arch = common[:-len("common")] + "amd64"
    return common, arch


def _vmlinux_dir(out: str) -> str:
    d = os.path.join(out, "_vmlinux")
    os.makedirs(d, exist_ok=True)
    # glibc's headers under -target bpf ask for the 32-bit stubs (no __x86_64__): the
    # authors have gcc-multilib's; an empty one does as well
    os.makedirs(os.path.join(d, "gnu"), exist_ok=True)
    open(os.path.join(d, "gnu", "stubs-32.h"), "a").close()
    path = os.path.join(d, "vmlinux.h")
    if not os.path.exists(path):
        with open(path + ".tmp", "w") as f:
            subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux",
                            "format", "c"], stdout=f, check=True)
        os.rename(path + ".tmp", path)
    return d


def _libbpf_headers(scratch: str) -> str:
    """A folder holding only libbpf's installed headers (as <bpf/...>), without the rest
    of /usr/include, which the kernel's headers must not meet."""
    d = os.path.join(scratch, "libbpf-only")
    if not os.path.isdir(d):
        os.makedirs(d)
        os.symlink("/usr/include/bpf", os.path.join(d, "bpf"))
    return d


def _find_in_repo(repo: str, name: str, near: str) -> str | None:
    """The folder to add with -I so that ``#include "name"`` resolves to a file of the repo;
    the match nearest to the source wins (the authors' Makefile points at their own copy)."""
    hits = [p for p in glob.glob(os.path.join(repo, "**", os.path.basename(name)),
                                 recursive=True)
            if p.endswith("/" + name) and not _SKIP.search(p)]
    if not hits:
        return None

    def distance(p: str) -> int:
        common = os.path.commonpath([p, near])
        return len(os.path.relpath(p, common).split("/"))
    best = min(hits, key=distance)
    return best[:-len(name) - 1]


def build(src: str, repo: str, out_obj: str, vmlinux: str) -> tuple[bool, str]:
    """Compile ``src`` as its authors would: samples/bpf's recipe first for sources that
    include <uapi/linux/bpf.h>, then libbpf's (or the other way round); (built, error)."""
    with open(src, errors="replace") as f:
        legacy = "<uapi/linux/bpf.h>" in f.read()
    first = None
    for kind in (legacy, not legacy):
        ok, err = _build(src, repo, out_obj, vmlinux, kind)
        if ok:
            return ok, err
        first = first or err
    return False, first


def _build(src: str, repo: str, out_obj: str, vmlinux: str, legacy: bool) -> tuple[bool, str]:
    here = os.path.dirname(src)
    if legacy:
        # samples/bpf: the kernel's own headers, compiled for the host and lowered with
        # llc -march=bpf, as its Makefile does (the x86 headers' inline asm needs the host
        # target; the BPF backend never sees it)
        common, arch = _kernel_headers()
        resource = subprocess.run([CLANG, "-print-resource-dir"], capture_output=True,
                                  text=True).stdout.strip()
        base = [CLANG, "-S", "-emit-llvm", "-O2", "-g", "-nostdinc", "-isystem",
                f"{resource}/include", "-D__KERNEL__", "-D__ASM_SYSREG_H",
                "-D__BPF_TRACING__", "-D__TARGET_ARCH_x86", "-Wno-everything",
                "-fno-stack-protector", "-fno-asynchronous-unwind-tables"]
        own = [d for d in (os.path.join(here, "kernel", "include"),) if os.path.isdir(d)]
        sys_inc = [*[f"-I{p}" for p in (*own, f"{common}/arch/x86/include",
                                        f"{arch}/arch/x86/include/generated/uapi",
                                        f"{arch}/arch/x86/include/generated",
                                        f"{common}/include", f"{arch}/include",
                                        f"{common}/arch/x86/include/uapi",
                                        f"{common}/include/uapi",
                                        f"{arch}/include/generated/uapi")],
                   # kernel samples/bpf since 5.x take libbpf's headers (tools/lib/bpf)
                   "-idirafter", _libbpf_headers(vmlinux),
                   "-include", f"{common}/include/linux/kconfig.h"]
        llc = [CLANG.replace("clang", "llc"), "-march=bpf", "-filetype=obj"]
    else:
        base = [CLANG, "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86",
                "-Wno-everything"]
        sys_inc = [f"-I{vmlinux}", "-idirafter", "/usr/include/x86_64-linux-gnu",
                   "-idirafter", "/usr/include"]
        llc = None
    extra = [here]
    err = ""
    for _ in range(8):
        target = out_obj + ".ll" if llc else out_obj
        cmd = [*base, *[f"-I{d}" for d in extra], *sys_inc, "-c", src, "-o", target]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode == 0 and llc:
            r = subprocess.run([*llc, target, "-o", out_obj], capture_output=True, text=True)
            os.unlink(target)
        if r.returncode == 0:
            return True, ""
        lines = [ln for ln in r.stderr.splitlines() if "error" in ln]
        err = lines[0] if lines else r.stderr.strip()[-200:]
        m = _MISSING.search(r.stderr)
        d = _find_in_repo(repo, m.group(1), here) if m else None
        if d is None or d in extra:
            break
        extra.append(d)
    return False, err.replace(os.path.dirname(repo) + "/", "")


def compare(obj: str, loader: tuple) -> dict:
    ref, mine = _libbpf(obj, loader), _pybpf(obj)
    res = {"libbpf": "_error" not in ref, "pybpf": "_error" not in mine,
           "ref": ref, "mine": mine, "same": 0, "progs": 0}
    if res["libbpf"] and res["pybpf"]:
        res["progs"] = len(ref)
        res["same"] = sum(1 for n in ref if n in mine and ref[n] == mine[n])
        res["names"] = set(ref) == set(mine)
    return res


def out_dir(out: str | None, prefix: str) -> tuple[str, str]:
    """The objects' folder (``out``, else a new temporary one, kept and named on stderr)
    and the vmlinux.h folder made in it."""
    if out is None:
        import tempfile
        out = tempfile.mkdtemp(prefix=prefix)
        print(f"objects in {out}", file=sys.stderr)
    os.makedirs(out, exist_ok=True)
    return out, _vmlinux_dir(out)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="a folder with one checked-out repository per subfolder")
    ap.add_argument("--out", help="objects go here (default: a new temporary folder, kept)")
    ap.add_argument("-k", default="", help="only sources whose path contains this")
    ap.add_argument("--libbpf", default="bpftool prog loadall",
                    help="the reference: a command taking OBJ DIR that loads OBJ and pins each "
                         "program as DIR/<name> (default: bpftool, Debian's libbpf 1.1)")
    args = ap.parse_args(argv)
    loader = tuple(args.libbpf.split())
    args.out, vmlinux = out_dir(args.out, "pybpf-corpus-")
    summary = []
    print(f"| repository | source | built | {os.path.basename(loader[0])} | pybpf |"
          " xlated equal | note |")
    print("|---|---|---|---|---|---|---|")
    for repo in sorted(glob.glob(os.path.join(args.src, "*"))):
        if not os.path.isdir(repo) or repo.endswith("/_inc"):
            continue
        name = os.path.basename(repo)
        tally = dict(sources=0, built=0, both=0, only_pybpf=0, only_libbpf=0,
                     neither=0, progs=0, same=0, tracebacks=0)
        for src in candidates(repo):
            if args.k and args.k not in src:
                continue
            rel = os.path.relpath(src, repo)
            tally["sources"] += 1
            obj = os.path.join(args.out, name, rel[:-2] + ".o")
            os.makedirs(os.path.dirname(obj), exist_ok=True)
            ok, err = build(src, repo, obj, vmlinux)
            if not ok:
                print(f"| {name} | {rel} | no | | | | {_cell(err, 120)} |", flush=True)
                continue
            tally["built"] += 1
            r = compare(obj, loader)
            lib = "ok" if r["libbpf"] else "error"
            me = "ok" if r["pybpf"] else r["mine"].get("_type", "error")
            note = ""
            if r["libbpf"] and r["pybpf"]:
                tally["both"] += 1
                tally["progs"] += r["progs"]
                tally["same"] += r["same"]
                eq = f"{r['same']}/{r['progs']}" + ("" if r["names"] else " (names differ)")
            else:
                eq = ""
                key = ("only_pybpf" if r["pybpf"] else "only_libbpf" if r["libbpf"]
                       else "neither")
                tally[key] += 1
                if not r["libbpf"]:
                    note = "libbpf: " + _cell(r["ref"]["_error"], 90)
                if not r["pybpf"]:
                    note += (" / " if note else "") + "pybpf: " + _cell(r["mine"]["_error"], 110)
            if r["mine"].get("_type") == "traceback":
                tally["tracebacks"] += 1
            print(f"| {name} | {rel} | yes | {lib} | {me} | {eq} | {note} |", flush=True)
        summary.append((name, tally))
    print()
    print("| repository | sources | built | both load | only pybpf | only libbpf | neither |"
          " identical programs | tracebacks |")
    print("|---|---|---|---|---|---|---|---|---|")
    total = dict.fromkeys(summary[0][1] if summary else (), 0)
    for name, t in summary:
        for k in t:
            total[k] += t[k]
        print(f"| {name} | {t['sources']} | {t['built']} | {t['both']} | {t['only_pybpf']} |"
              f" {t['only_libbpf']} | {t['neither']} | {t['same']}/{t['progs']} |"
              f" {t['tracebacks']} |")
    if summary:
        t = total
        print(f"| **all** | {t['sources']} | {t['built']} | {t['both']} | {t['only_pybpf']} |"
              f" {t['only_libbpf']} | {t['neither']} | {t['same']}/{t['progs']} |"
              f" {t['tracebacks']} |")
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(lambda: main(sys.argv[1:]))
