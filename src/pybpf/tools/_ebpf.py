"""``--ebpf`` (bcc's option on every tool): print the BPF C a command line would load,
with the load-time constants its options set, and exit 0 without loading anything (no
root needed).  Imported only when the option is given."""

from __future__ import annotations

import os
import sys


from ._run import EbpfShown as Shown


def _value(v) -> str:
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v)
        used = v.rstrip(b"\0")
        if used and used.isascii() and used.decode().isprintable():
            return '"' + used.decode() + '"'
        if not used:
            return f"{{0}} ({len(v)} bytes)"
        return f"{{{', '.join(str(b) for b in used[:64])}{', ...' if len(used) > 64 else ''}}}" \
            f" ({len(v)} bytes, the rest zero)"
    return str(v)


def header(tool: str, consts: dict, programs=None, maps=()) -> str:
    """A C comment saying what the command line sets: each ``const volatile`` global
    the load patches (the source's initializers hold for the others), the programs
    selected, the user's pinned maps that replace the object's."""
    lines = [f"/* pybpf {tool}: the BPF program this command line loads.",
             " * Constants set at load (const volatile globals; others keep their"
             " initializers):"]
    shown = {k: v for k, v in consts.items() if v is not None}
    if shown:
        lines += [f" *   {k} = {_value(v)}" for k, v in sorted(shown.items())]
    else:
        lines.append(" *   (none)")
    if programs:
        lines.append(" * Programs loaded: " + ", ".join(programs))
    if maps:
        lines.append(" * Maps replaced by the user's pinned maps: " + ", ".join(sorted(maps)))
    lines.append(" */")
    return "\n".join(lines) + "\n"


def inline_source(path: str, seen=None) -> str:
    """``path``'s text with its local ``#include "..."`` files inlined once each (each
    marked), so the output holds the whole program but vmlinux.h and libbpf's headers."""
    seen = set() if seen is None else seen
    real = os.path.realpath(path)
    if real in seen:
        return ""
    seen.add(real)
    folder = os.path.dirname(path)
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            s = line.strip()
            if s.startswith("#include \"") and s.count("\"") >= 2:
                name = s.split("\"")[1]
                inc = os.path.join(folder, name)
                if name != "vmlinux.h" and os.path.isfile(inc):
                    body = inline_source(inc, seen)
                    if body:
                        out.append(f"/* ---- {name} ---- */\n{body}"
                                   f"/* ---- end of {name} ---- */\n")
                    continue
            out.append(line)
    return "".join(out)


def render_tool(tool: str, consts: dict, programs=None, maps=(),
                folder: str | None = None) -> str:
    """``tools/<tool>/<tool>.bpf.c`` (or ``folder``'s) under the constants' header."""
    from . import _common
    src = os.path.join(folder or os.path.join(_common.TOOLS_DIR, tool), f"{tool}.bpf.c")
    return header(tool, consts, programs, maps) + inline_source(src)


def show_tool(tool: str, consts: dict, programs=None, maps=(), folder: str | None = None):
    """Print :func:`render_tool`'s text and raise :class:`Shown`."""
    write(render_tool(tool, consts, programs, maps, folder))


def show_text(tool: str, text: str, consts: dict, maps=()):
    """Print generated C (trace, argdist) under the constants' header; raise Shown."""
    write(header(tool, consts, None, maps) + text)


def write(text: str):
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    raise Shown()
