"""The identity of the pybpf code that is running, for cache keys.

What a load plan or a bcc build record holds was derived by pybpf's own code (the loader,
CO-RE, the rewriter), so such records are keyed on that code as well as on the version
number: a fixed loader must not replay a plan an older one wrote.  The identity is a hash
of every module file's name, size, mtime and inode (as ccache and make judge files), which
a few hundred microseconds of stat calls give without reading the files.
"""

from __future__ import annotations

import os

_PKG = os.path.dirname(os.path.abspath(__file__))
_memo: list[str] = []          # one per process: the files cannot change under a run


def code_identity() -> str:
    """A 32-hex-digit identity of this pybpf's sources (every .py and .h file)."""
    if _memo:
        return _memo[0]
    from . import __version__
    from ._hash import sha256
    parts = [f"pybpf|{__version__}"]
    todo = [""]
    while todo:
        rel = todo.pop()
        with os.scandir(_PKG + rel) as it:
            for e in it:
                name = e.name
                if name.endswith((".py", ".h")):
                    try:
                        st = e.stat()
                    except OSError:
                        continue
                    parts.append(f"{rel}/{name}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}")
                elif "." not in name and name not in ("tools", "__pycache__") and \
                        e.is_dir():             # byte code is not source: not listed
                    todo.append(f"{rel}/{name}")
    parts.sort()
    _memo.append(sha256("\n".join(parts).encode()).hexdigest()[:32])
    return _memo[0]
