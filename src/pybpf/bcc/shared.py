"""Tables shared between the BPF objects of one process, as in bcc.

``BPF_TABLE_PUBLIC(kind, key, leaf, name, size)`` (and ``BPF_TABLE_SHARED``) publishes a
table under its name; a later ``BPF(...)`` declaring ``BPF_TABLE("extern", key, leaf,
name, size)`` uses that same map instead of making one.  bcc keeps such tables in a
process-wide registry of libbcc; here it is this module's, filled and emptied by
:class:`pybpf.bcc.bpf.BPF` (publish on load, forget on cleanup).
"""

from __future__ import annotations

import re

from .. import errors
from . import scan

_DECL = re.compile(r"\bBPF_TABLE(_PUBLIC|_SHARED)?\s*\(")
_PUBLIC: dict[str, tuple[int, object]] = {}     # name -> (id of the owning BPF, its Map)


def declared(text: str) -> tuple[list[str], list[str]]:
    """(names of the tables ``text`` publishes, names it declares extern)."""
    if "BPF_TABLE" not in text:
        return [], []
    clean = scan.blank_comments(text)
    public, extern = [], []
    for m in _DECL.finditer(clean):
        close = scan.matching(clean, m.end() - 1)
        if close < 0:
            continue
        args = scan.split_args(text[m.end():close])
        if len(args) < 5 or not re.fullmatch(r"[A-Za-z_]\w*", args[3]):
            continue
        if m.group(1):
            public.append(args[3])
        elif args[0].strip() == '"extern"':
            extern.append(args[3])
    return public, extern


def maps_for(extern: list[str]) -> dict:
    """{name: Map} of the public tables ``extern`` names; one clear error for a name no
    live BPF object of this process published."""
    out = {}
    for name in extern:
        hit = _PUBLIC.get(name)
        if hit is None:
            raise errors.PybpfError(
                f"table {name!r} is declared BPF_TABLE(\"extern\", ...) but no BPF object "
                f"of this process publishes it (BPF_TABLE_PUBLIC)")
        out[name] = hit[1]
    return out


def publish(owner, maps, names) -> None:
    for name in names:
        if name in maps and name not in _PUBLIC:
            _PUBLIC[name] = (id(owner), maps[name])


def forget(owner) -> None:
    for name in [n for n, (o, _) in _PUBLIC.items() if o == id(owner)]:
        del _PUBLIC[name]
