"""Ready-made tools, each a small folder: ``<tool>.bpf.c``, a shared event header, a front.

A tool is any sub-package here whose name does not start with ``_``; its module docstring's
first line (text before the first colon is the tool's name and is dropped) is its one-line
description, and ``pybpf.tools.<name>.main(argv)`` runs it.  Discovering them from the
folder keeps each tool self-contained: adding one touches no shared file.
"""

from __future__ import annotations

import os

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))


def names() -> list[str]:
    """The tools shipped in this package, sorted (cheap: one directory listing)."""
    out = []
    for name in os.listdir(TOOLS_DIR):
        if name.startswith(("_", ".")):
            continue
        if os.path.isfile(os.path.join(TOOLS_DIR, name, "__init__.py")):
            out.append(name)
    return sorted(out)


def is_tool(name: str) -> bool:
    return (not name.startswith(("_", ".")) and name.isidentifier()
            and os.path.isfile(os.path.join(TOOLS_DIR, name, "__init__.py")))


def description(name: str) -> str:
    """The first docstring line of a tool's front, read as text (nothing is imported)."""
    import ast
    try:
        with open(os.path.join(TOOLS_DIR, name, "__init__.py"), encoding="utf-8") as f:
            doc = ast.get_docstring(ast.parse(f.read())) or ""
    except (OSError, SyntaxError, ValueError):
        return ""
    line = doc.strip().splitlines()[0] if doc.strip() else ""
    head, sep, rest = line.partition(":")
    return rest.strip() if sep and head.strip() == name else line


def tools() -> dict[str, str]:
    """name -> one-line description, for ``pybpf list`` and the usage text."""
    return {n: description(n) for n in names()}
