"""Build hook: compile every BPF program of the package (tools, security) into the wheel,
so installs need no clang.

CO-RE makes the object portable across kernels; without clang on the build host the
wheel simply ships the .bpf.c and the tool compiles (once, cached) on first use.
"""

import pathlib
import sys

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithBpf(build_py):
    def run(self):
        super().run()
        sys.path.insert(0, str(pathlib.Path("src").resolve()))
        try:
            from pybpf.toolchain import compile as compile_c
            from pybpf.errors import PybpfError
        except ImportError as e:
            print(f"warning: not compiling tool objects: {e}", file=sys.stderr)
            return
        # every BPF program of the package: the tools' folders, security/, ...
        for src in sorted(pathlib.Path("src/pybpf").rglob("*.bpf.c")):
            try:
                obj = compile_c(src, includes=[str(src.parent)])
            except (PybpfError, OSError) as e:
                print(f"warning: {src.name} not compiled ({e}); it will compile on first use",
                      file=sys.stderr)
                continue
            out = pathlib.Path(self.build_lib, *src.relative_to("src").parts[:-1],
                               src.name[:-len(".c")] + ".o")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(obj)


setup(cmdclass={"build_py": BuildPyWithBpf})
