"""Build pybpf's API reference from its docstrings with pdoc (a test extra):
``python -m pybpf.apidocs OUTDIR`` (``scripts/docs``).  The test suite builds it too,
so a broken docstring or a public name without one fails a test."""

from __future__ import annotations

import sys

# The public modules, in reading order (the bcc front end has its own page).
MODULES = ["pybpf", "pybpf.object.loader", "pybpf.object.globalview", "pybpf.object.spec",
           "pybpf.object.structops",
           "pybpf.links.methods", "pybpf.links", "pybpf.links.tracepoint",
           "pybpf.links.raw_tracepoint", "pybpf.links.kprobe", "pybpf.links.uprobe",
           "pybpf.links.usdt", "pybpf.links.perf_event", "pybpf.links.iter",
           "pybpf.links.xdp", "pybpf.links.tc", "pybpf.links.cgroup", "pybpf.links.socket",
           "pybpf.links.netns", "pybpf.links.netfilter", "pybpf.links.sockmap",
           "pybpf.links.tracing", "pybpf.maps", "pybpf.programs", "pybpf.testrun",
           "pybpf.ringbuf", "pybpf.userringbuf",
           "pybpf.perfbuf", "pybpf.records", "pybpf.cdecl", "pybpf.ctypes_btf",
           "pybpf.typedvalue", "pybpf.perf", "pybpf.log", "pybpf.toolchain", "pybpf.errors",
           "pybpf.features", "pybpf.bpffs", "pybpf.options", "pybpf.interrupts",
           "pybpf.bcc.bpf"]


def build(outdir: str) -> list[str]:
    """Write the HTML reference into ``outdir``; returns the modules documented."""
    import pdoc
    import pdoc.render
    from pathlib import Path
    pdoc.render.configure(docformat="restructuredtext", footer_text="pybpf")
    pdoc.pdoc(*MODULES, output_directory=Path(outdir))
    return MODULES


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0] if argv else "docs/api"
    try:
        build(out)
    except ImportError:
        print("apidocs: pdoc is not installed (pip install pdoc, or .[test])", file=sys.stderr)
        return 1
    print(f"API reference written to {out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
