"""Files made whole or not at all, safely as root: a temp file created exclusively (a
link planted at any name is never followed) beside the target, then renamed over it.
(Also importable from :mod:`pybpf.safepath`.)"""

from __future__ import annotations

import os


def replace_atomically(path: str, fill, mode: int = 0o600, prefix: str = ".tmp-",
                       suffix: str = "") -> bool:
    """Make ``path`` whole or not at all: ``fill(file, tmp)`` writes a temp file whose
    unpredictable name is created exclusively (``O_EXCL``, mode 0600, so a link planted
    at any name is never followed) in ``path``'s own directory; the file then gets
    ``mode`` and is renamed over ``path``.  ``fill`` returning False, or raising, removes
    the temp file; returns whether ``path`` was replaced."""
    import tempfile
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=prefix,
                               suffix=suffix)
    done = False
    try:
        with os.fdopen(fd, "wb") as f:
            if fill(f, tmp) is False:
                return False
            os.fchmod(f.fileno(), mode)
        os.replace(tmp, path)
        done = True
        return True
    finally:
        if not done:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def write_atomically(path: str, data: bytes, mode: int = 0o600, prefix: str = ".tmp-",
                     suffix: str = "") -> None:
    """Write ``data`` to ``path`` through :func:`replace_atomically`: a reader sees the
    old file or the whole new one, never a part."""
    replace_atomically(path, lambda f, tmp: f.write(data), mode, prefix, suffix)
