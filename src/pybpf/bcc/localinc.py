"""Kernel headers that a program's own headers include.

bcc compiles against the kernel's headers; pybpf against vmlinux.h, so the rewrite drops a
program's ``#include <linux/...>`` lines (vmlinux.h has the types, :mod:`.kmacros` the
macros).  A header of the program's own (``#include "packet.h"`` beside the script, as in
Liz Rice's examples) is read by clang itself, and its ``#include <linux/ip.h>`` reached the
distribution's UAPI headers, which clash with vmlinux.h ("redefinition of 'iphdr'").  For
the compile, such includes are answered by empty stand-ins in a private directory searched
first: the program's own headers then see the kernel's types as its main text does.
"""

from __future__ import annotations

import os
import re

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]', re.M)
_MAX_HEADERS = 256


def _kernel_header(name: str) -> bool:
    from .rewrite import _KERNEL_INCLUDE
    return bool(_KERNEL_INCLUDE.match(f"#include <{name}>"))


def include_dirs(cflags) -> list[str]:
    """The ``-I`` directories of ``cflags``, in order (``-Idir`` and ``-I dir`` alike)."""
    dirs, it = [], iter(cflags)
    for c in it:
        if c == "-I":
            c += next(it, "")
        if c.startswith("-I") and len(c) > 2:
            dirs.append(c[2:])
    return dirs


def kernel_includes(source: str, cflags) -> list[str]:
    """The kernel headers (``linux/ip.h``) that the program's own headers include, directly
    or through each other; its own headers are found beside the including file, in the
    cflags' ``-I`` directories or in the working directory (clang's "" search for a text
    read from stdin)."""
    if "include" not in source:
        return []
    dirs = include_dirs(cflags) + [os.getcwd()]
    seen: set[str] = set()
    out: set[str] = set()
    todo = [(source, "", True)]
    while todo and len(seen) < _MAX_HEADERS:
        body, here, main = todo.pop()
        for kind, name in _INCLUDE.findall(body):
            if _kernel_header(name):
                if not main:              # the main text's own are dropped by the rewrite
                    out.add(os.path.normpath(name))
                continue
            for d in ([here] if here and kind == '"' else []) + dirs:
                path = os.path.normpath(os.path.join(d, name))
                if path in seen:
                    break
                try:
                    with open(path, errors="replace") as f:
                        sub = f.read()
                except OSError:
                    continue
                seen.add(path)
                todo.append((sub, os.path.dirname(path), False))
                break
    return sorted(n for n in out if not n.startswith(("/", "..")))


class StandIns:
    """A private directory of empty ``names`` (context manager; close() removes it).
    ``flags`` puts it first in the compile's include search."""

    def __init__(self, names):
        import tempfile
        self.path = tempfile.mkdtemp(prefix="pybpf-bcc-inc-")     # mode 0700, ours
        self.flags = ["-I" + self.path]
        for n in names:
            full = os.path.join(self.path, n)
            os.makedirs(os.path.dirname(full), mode=0o700, exist_ok=True)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            os.close(fd)

    def close(self) -> None:
        if self.path:
            import shutil
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
