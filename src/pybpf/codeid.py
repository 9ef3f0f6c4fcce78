"""The identity of the pybpf code that is running, for cache keys.

What a load plan or a bcc build record holds was derived by pybpf's own code (the loader,
CO-RE, the rewriter), so such records are keyed on that code as well as on the version
number: a fixed loader must not replay a plan an older one wrote.

Two ways to know the code, by how pybpf was installed:

- A built install (a wheel, ``pip install .``): the build writes ``_codestamp`` into the
  package, a sha256 of the name and content of every source file it ships
  (:func:`source_digest`).  Any change of any module between two builds changes it, and an
  install replaces the package's files and its stamp together, so one small read names the
  code (0.03 ms, where the scan below costs 0.8-1.2 ms of every start).  An installed
  package is the installer's: a file of it edited by hand in place is not seen (clear the
  cache with ``pybpf cache clear`` after such an edit, or work from a checkout).
- A source checkout or an editable install (no stamp: the build only writes it into the
  build directory): a hash of every module file's name, size, mtime and inode (as ccache
  and make judge files), which ~150 stat calls give without reading the files, so an edit
  re-keys everything at once.
"""

from __future__ import annotations

import os

_PKG = os.path.dirname(os.path.abspath(__file__))
STAMP = "_codestamp"           # the file a build writes beside this module
_memo: list[str] = []          # one per process: the files cannot change under a run


def code_identity() -> str:
    """A 32-hex-digit identity of this pybpf's sources (every .py and .h file)."""
    if _memo:
        return _memo[0]
    from ._hash import sha256
    stamp = _read_stamp()
    if stamp is not None:
        text = f"pybpf|stamp|{stamp}"
    else:
        text = _scan()
    _memo.append(sha256(text.encode()).hexdigest()[:32])
    return _memo[0]


def _read_stamp() -> str | None:
    """The build's digest of the sources, or None (no stamp: a checkout; or not one)."""
    try:
        with open(os.path.join(_PKG, STAMP), "rb") as f:
            raw = f.read(128)
    except OSError:
        return None
    text = raw.strip()
    if len(text) != 64 or text.strip(b"0123456789abcdef"):
        return None                 # damaged or not ours: scan instead
    return text.decode()


def _scan() -> str:
    """Name, size, mtime and inode of every source file (byte code and the tools' folders
    excepted: the tools key their objects on their own sources)."""
    from . import __version__
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
    return "\n".join(parts)


def source_digest(pkg_dir: str) -> str:
    """What a build writes to ``_codestamp``: sha256 hex over the relative path and the
    content of every ``.py`` and ``.h`` file under ``pkg_dir`` (tools included, byte code
    excluded), in a fixed order."""
    import hashlib
    h = hashlib.sha256(b"pybpf-sources|1")
    found = []
    for top, dirs, files in os.walk(pkg_dir):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith((".py", ".h")):
                path = os.path.join(top, name)
                found.append((os.path.relpath(path, pkg_dir).replace(os.sep, "/"), path))
    for rel, path in sorted(found):
        with open(path, "rb") as f:
            data = f.read()
        h.update(f"|{rel}|{len(data)}|".encode())
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()
