"""Build hook: compile every BPF program shipped in the package (each tool's, the exporter's
examples: any ``src/pybpf/**/<stem>.bpf.c``) into the wheel as ``<stem>.bpf.o`` beside its
source, so installs need no clang (``pybpf.bundled`` picks the object up); and write the
package's code stamp (``pybpf.codeid``).

CO-RE makes the object portable across kernels; without clang on the build host the
wheel simply ships the .bpf.c and the tool compiles (once, cached) on first use.
"""

import os
import pathlib
import sys

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithBpf(build_py):
    def run(self):
        super().run()
        sys.path.insert(0, str(pathlib.Path("src").resolve()))
        if not getattr(self, "editable_mode", False):
            write_code_stamp(pathlib.Path(self.build_lib, "pybpf"))
            write_startup_bundle(pathlib.Path(self.build_lib, "pybpf"))
        try:
            from pybpf.toolchain import compile as compile_c
            from pybpf.errors import PybpfError
        except ImportError as e:
            print(f"warning: not compiling tool objects: {e}", file=sys.stderr)
            return
        root = pathlib.Path("src")

        def build(src):
            # at its real path: a build tree whose sources link to a checkout's compiles
            # what that checkout compiled (the same paths go into the object), so the
            # compile cache serves it
            real = src.resolve()
            try:
                return src, compile_c(real, includes=[str(real.parent)])
            except (PybpfError, OSError) as e:
                return src, e
        srcs = sorted((root / "pybpf").rglob("*.bpf.c"))
        # the first alone (it makes the cache's vmlinux.h), the others side by side: each
        # is a clang run of its own, ~0.4 s of CPU
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
            built = [build(s) for s in srcs[:1]] + list(pool.map(build, srcs[1:]))
        for src, obj in built:
            if not isinstance(obj, bytes):
                print(f"warning: {src.name} not compiled ({obj}); it will compile on first "
                      "use", file=sys.stderr)
                continue
            out = pathlib.Path(self.build_lib, src.parent.relative_to(root),
                               src.name[:-len(".c")] + ".o")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(obj)


def write_code_stamp(pkg: pathlib.Path) -> None:
    """The built package's ``_codestamp``: a digest of its sources that keys pybpf's load
    plans and build records (``pybpf.codeid``), read at start instead of a stat of every
    module.  Only built packages get one: an editable install runs from src/, which stays
    without a stamp and is identified by its files' stats, so edits there count."""
    from pybpf.codeid import STAMP, source_digest
    (pkg / STAMP).write_text(source_digest(str(pkg)) + "\n")


def write_startup_bundle(pkg: pathlib.Path) -> None:
    """The built package's ``_startup.bundle``: the byte code of all its modules in one
    file, which the ``pybpf`` command imports from while its stamp is the package's
    (``pybpf.startbundle``; byte code of this Python, others ignore it)."""
    from pybpf.codeid import STAMP
    from pybpf.startbundle import BUILT_NAME, build
    stamp = (pkg / STAMP).read_text().strip()
    (pkg / BUILT_NAME).write_bytes(build(str(pkg), stamp))


setup(cmdclass={"build_py": BuildPyWithBpf})
