"""Compile a small C workload from tests/data once per session (frame pointers, symbols)."""

from __future__ import annotations

import os
import subprocess
import tempfile

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
_built: dict[str, str] = {}
_tmp = None


def build(name: str) -> str:
    """The path of tests/data/<name>.c built with the system C compiler."""
    global _tmp
    if name not in _built:
        if _tmp is None:
            _tmp = tempfile.TemporaryDirectory(prefix="pybpf-tools-")
        out = os.path.join(_tmp.name, name)
        subprocess.run(["cc", "-O0", "-g", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer", "-o", out,
                        os.path.join(_DATA, name + ".c")], check=True)
        _built[name] = out
    return _built[name]
