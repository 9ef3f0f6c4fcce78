"""Compile a small C workload from tests/data once per session (frame pointers, symbols).

The kernel-matrix guests take them ready-made: the plugin builds every workload on the
host (:func:`build_all`) into a private directory named by ``PYBPF_TEST_CBUILT``, each
file keyed by its source's hash, so the emulated CPU runs no C compiler (a guest's cc
took ~80 s for tool_many alone).  A workload missing there is built as usual.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
_FLAGS = ["-O0", "-g", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer"]
ENV = "PYBPF_TEST_CBUILT"
_built: dict[str, str] = {}
_tmp = None


def _keyed(name: str) -> str:
    """``name`` and the hash of its source and flags: an edited source misses."""
    import hashlib
    with open(os.path.join(_DATA, name + ".c"), "rb") as f:
        h = hashlib.sha256(f.read() + "\0".join(_FLAGS).encode()).hexdigest()
    return f"{name}-{h[:20]}"


def _ready_made(name: str) -> str | None:
    d = os.environ.get(ENV)
    if not d:
        return None
    path = os.path.join(d, _keyed(name))
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def build(name: str) -> str:
    """The path of tests/data/<name>.c built with the system C compiler."""
    global _tmp
    if name not in _built:
        if _tmp is None:
            _tmp = tempfile.TemporaryDirectory(prefix="pybpf-tools-")
        out = os.path.join(_tmp.name, name)
        ready = _ready_made(name)
        if ready:
            # copied: the same path and file system as one built here (the tests attach
            # uprobes to it and read its name in stacks and maps)
            import shutil
            shutil.copy(ready, out)
        else:
            subprocess.run(["cc", *_FLAGS, "-o", out, os.path.join(_DATA, name + ".c")],
                           check=True)
        _built[name] = out
    return _built[name]


def build_all(out_dir: str) -> int:
    """Build every tests/data/*.c into ``out_dir`` (made by the caller, private) under
    its keyed name; returns how many built (one that fails is left to the guest)."""
    import glob
    from concurrent.futures import ThreadPoolExecutor

    def one(src: str) -> bool:
        name = os.path.basename(src)[:-2]
        r = subprocess.run(["cc", *_FLAGS, "-o", os.path.join(out_dir, _keyed(name)), src],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0
    with ThreadPoolExecutor(2) as pool:
        return sum(pool.map(one, sorted(glob.glob(os.path.join(_DATA, "*.c")))))
