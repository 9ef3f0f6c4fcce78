"""Inspektor Gadget's gadgets (exported outside this repository) built with their builder's
recipe, then loaded by libbpf and by pybpf as bench_tetragon_objects.py compares them
(outcome, translated instructions program by program, cold load time).  As root, from the
repository root:

    .venv/bin/python bench/bench_gadget_objects.py SRC_DIR --loader LOADER [--out DIR]

SRC_DIR holds their ``gadgets/``, ``include/`` and ``pkg/`` (``git archive HEAD gadgets
include pkg``); LOADER is bench/libbpf_loader.c built against a libbpf (see
bench_tetragon_objects.py).  The recipe is ``ig image build``'s: clang -target bpf -Wall -g
-O2 -D__TARGET_ARCH_x86 with their include/ and their shipped amd64 vmlinux.h, libbpf's
headers at the version their builder installs (``--libbpf-headers``, a folder holding
``bpf/``: libbpf v1.3.0's ``src/*.h``; Debian's 1.1 headers lack
``PT_REGS_PARM6_CORE_SYSCALL`` and 19 objects do not build), then ``llvm-strip -g`` (BTF
stays, DWARF goes).

Both sides then do what Inspektor Gadget's loader does before loading: a map with a
``<map>_max_entries`` constant gets that size (``ig_build_id`` is declared with 0), and
``socket1``, ``classifier/...`` and ``perf_event/...`` sections, which its Go loader reads by
prefix, load as ``socket``, ``classifier`` and ``perf_event`` (libbpf 1.x and pybpf refuse
them as they stand).

A second table loads, with pybpf alone, the objects whose ``struct gadget_socket_value`` is
relocated against the socket enricher's BTF (their agent's cilium/ebpf
``ExtraRelocationTargets``; pybpf: ``load(..., core_targets=[btf])``; libbpf has no
equivalent, and both refuse them against the kernel's BTF alone).
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pybpf  # noqa: E402
from bench_foreign_objects import _cell, _pybpf  # noqa: E402
from bench_tetragon_objects import row  # noqa: E402
from pybpf.object.fullload import set_section  # noqa: E402
from pybpf.object.sections import parse_section  # noqa: E402

CLANG = "clang-19" if os.path.exists("/usr/bin/clang-19") else "clang"
STRIP = "llvm-strip-19" if os.path.exists("/usr/bin/llvm-strip-19") else "llvm-strip"


def sources(src: str) -> list[str]:
    """Every gadget program and the pkg/ programs their agent loads next to them."""
    pats = ("gadgets/*/program.bpf.c", "gadgets/*/*/program.bpf.c", "pkg/*/bpf/*.bpf.c",
            "pkg/*/*/bpf/*.bpf.c")
    return sorted(p for pat in pats for p in glob.glob(os.path.join(src, pat)))


def object_name(src: str, path: str) -> str:
    rel = os.path.relpath(path, src)[:-len(".bpf.c")]
    rel = rel.removeprefix("gadgets/").removesuffix("/program")
    return rel.replace("/", "_") + ".o"


def build(src: str, path: str, out: str, libbpf_headers: str,
          strip: bool = True) -> tuple[bool, str]:
    """(built, clang's first error line)."""
    inc = os.path.join(src, "include")
    cmd = [CLANG, "-target", "bpf", "-Wall", "-g", "-O2", "-I/usr/include/x86_64-linux-gnu",
           "-D", "__TARGET_ARCH_x86", "-c", path, "-I", os.path.join(inc, "gadget", "amd64"),
           "-I", libbpf_headers, "-I", inc, "-o", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode == 0 and strip:
        r = subprocess.run([STRIP, "-g", out], capture_output=True, text=True)
    if r.returncode:
        lines = [ln for ln in r.stderr.splitlines() if "error" in ln]
        return False, (lines[0] if lines else r.stderr.strip()[-200:]).replace(src + "/", "")
    return True, ""


def gadget_loader_choices(obj: str) -> dict:
    """What Inspektor Gadget's loader sets before load (see the module docstring)."""
    spec = pybpf.ObjectSpec.from_file(obj)
    sizes = {}
    for name in spec.maps:
        var = spec.globals.get(f"{name}_max_entries")
        if var is not None:
            sizes[name] = int.from_bytes(var.get(), "little")
    sections = {}
    for name, p in spec.programs.items():
        if p.sec_info is None:
            # cilium/ebpf reads "socket1", "classifier/x", "perf_event/x" by prefix
            head = p.section.split("/")[0].rstrip("0123456789")
            if parse_section(head) is not None:
                sections[name] = head
    return {"sections": sections, "max_entries": sizes}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="Inspektor Gadget's gadgets/, include/ and pkg/, exported")
    ap.add_argument("--loader", required=True, help="bench/libbpf_loader.c, built")
    ap.add_argument("--libbpf-headers", default="/usr/include",
                    help="a folder holding bpf/bpf_helpers.h etc. (their builder: libbpf 1.3)")
    ap.add_argument("--out", default="/tmp/pybpf-gadgets", help="objects go here")
    ap.add_argument("--repeat", type=int, default=3, help="loads per side (the fastest)")
    ap.add_argument("-k", default="", help="only sources whose path contains this")
    ap.add_argument("--first-load", action="store_true",
                    help="time pybpf's first load on this kernel: CO-RE resolved, not read "
                         "from its cache (PYBPF_NO_CORE_CACHE=1)")
    ap.add_argument("--keep-dwarf", action="store_true",
                    help="skip their llvm-strip -g (objects with DWARF, as other builds ship)")
    a = ap.parse_args(argv)
    if a.first_load:
        os.environ["PYBPF_NO_CORE_CACHE"] = "1"     # the timing subprocesses inherit it
    os.makedirs(a.out, exist_ok=True)
    print("| object | libbpf | pybpf | xlated equal | libbpf ms | pybpf ms | ratio "
          "| pybpf's error line |")
    print("|---|---|---|---|---|---|---|---|")
    for path in sources(a.src):
        if a.k not in path:
            continue
        obj = os.path.join(a.out, object_name(a.src, path))
        ok, err = build(a.src, path, obj, a.libbpf_headers, strip=not a.keep_dwarf)
        if not ok:
            print(f"| {os.path.basename(obj)} | not built | | | | | | {_cell(err, 120)} |")
            continue
        print(row(obj, a.loader, (), {}, max(1, a.repeat), gadget_loader_choices(obj)),
              flush=True)
    enricher_table(a.out)
    return 0


def enricher_table(out: str) -> None:
    """pybpf's loads of the socket enricher's users with its BTF as a CO-RE target."""
    enricher = os.path.join(out, "pkg_socketenricher_bpf_socket-enricher.o")
    if not os.path.exists(enricher):
        return
    btf = pybpf.ObjectSpec.from_file(enricher).btf
    print("\n| object (core_targets: the enricher's BTF) | pybpf | error |\n|---|---|---|")
    for obj in sorted(glob.glob(os.path.join(out, "*.o"))):
        spec = pybpf.ObjectSpec.from_file(obj)
        if "gadget_socket_value" not in {t.name for t in spec.btf.types() if t.name}:
            continue
        choices = gadget_loader_choices(obj)
        for name, sec in choices["sections"].items():
            set_section(spec, name, sec)
        for name, n in choices["max_entries"].items():
            spec.maps[name].max_entries = n
        got = _pybpf(spec, core_targets=[btf])
        me = f"ok ({len(got)})" if "_error" not in got else got["_type"]
        print(f"| {os.path.basename(obj)} | {me} | {_cell(got.get('_error', ''), 120)} |",
              flush=True)


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(lambda: main(sys.argv[1:]))
