"""Compile the corpus of libbpf-style programs (tests only): one clang run per file, in parallel."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
CLANG = shutil.which("clang-19") or shutil.which("clang")
CFLAGS = ["-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86",
          "-I/usr/include/x86_64-linux-gnu"]
VMLINUX_BTF = "/sys/kernel/btf/vmlinux"


def sources() -> list[Path]:
    """Every ``*.bpf.c`` of the corpus."""
    return sorted(CORPUS.glob("*.bpf.c"))


def why_not() -> str | None:
    """None when the corpus can be built here, else why not."""
    if not CLANG:
        return "clang not found"
    if not shutil.which("bpftool"):
        return "bpftool not found (needed for vmlinux.h)"
    if not os.path.exists(VMLINUX_BTF):
        return f"{VMLINUX_BTF} missing"
    return None


def build(outdir: Path, header: str | None = None) -> dict[str, Path]:
    """Compile all sources into ``outdir``; map stem (``xdp``) -> object path.  The
    programs include bpftool's vmlinux.h, or ``header`` as vmlinux.h when given (the same
    command line otherwise, so the objects can be compared byte for byte)."""
    outdir.mkdir(parents=True, exist_ok=True)
    with open(outdir / "vmlinux.h", "wb") as h:
        if header is not None:
            h.write(header.encode())
        else:
            subprocess.run(["bpftool", "btf", "dump", "file", VMLINUX_BTF, "format", "c"],
                           stdout=h, check=True)
    jobs = {}
    for src in sources():
        stem = src.name[:-len(".bpf.c")]
        out = outdir / f"{stem}.bpf.o"
        argv = [CLANG, *CFLAGS, f"-I{outdir}", "-c", str(src), "-o", str(out)]
        jobs[stem] = (out, subprocess.Popen(argv, stderr=subprocess.PIPE))
    objs = {}
    for stem, (out, proc) in jobs.items():
        _, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"compiling {stem}.bpf.c failed:\n{err.decode()}")
        objs[stem] = out
    return objs
