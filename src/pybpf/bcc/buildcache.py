"""What ``BPF(text=...)`` derives from a text, cached per (text, flags, kernel).

A warm start then skips the rewrite, the compile cache's checks and the BTF parse: the
entry holds the object bytes, the rewrite's findings (tables, probes and where each runs
on this kernel), the maps' key/value type ids and the BTF types the tables and events use
(as plain tuples for :class:`~.ctypes_btf.TypeTable`).  The object itself then loads
through a load plan (:mod:`pybpf.object.plan`).

Everything in an entry follows from its key: the text, the cflags, the headers the text
includes from the cflags' ``-I`` directories (their inode, size and mtime), pybpf's version
and its bcc header, and the running kernel (features such as kprobes decide the bindings).
"""

from __future__ import annotations

import os
from types import SimpleNamespace

VERSION = 2   # 2: kernel reads on the AST, inlined helpers (issue 13)
_HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(_HERE, "include", "pybpf_bcc.h")
_INPUTS = (HEADER, os.path.join(_HERE, "rewrite.py"), os.path.join(_HERE, "kderef.py"),
           os.path.join(_HERE, "cmacro.py"), os.path.join(_HERE, "modtypes.py"),
           os.path.join(_HERE, "tpformat.py"), os.path.join(_HERE, "kmacros.py"),
           os.path.join(_HERE, "textfixes.py"))


def key(text: str, cflags: list[str]) -> str:
    from .. import __version__
    from .._hash import sha256
    from ..kernelid import kernel_key
    ids = []
    for path in _INPUTS:      # an edited header or C pass misses (a few stat calls)
        st = os.stat(path)
        ids.append(f"{st.st_ino}|{st.st_size}|{st.st_mtime_ns}")
    h = sha256(f"pybpf-bcc-build|{VERSION}|{__version__}|{kernel_key()}|"
               f"{'|'.join(ids)}|".encode())
    for c in cflags:
        h.update(c.encode() + b"\0")
    h.update(b"\1" + text.encode())
    for path, ident in local_headers(text, cflags):
        h.update(f"\2{path}|{ident}".encode())
    return h.hexdigest()


_MAX_HEADERS = 256


def local_headers(text: str, cflags: list[str]) -> list[tuple[str, str]]:
    """The files ``text`` includes, directly or through each other, found in the cflags'
    ``-I`` directories (or beside the including header), with their identity: an edited
    header of a tool's own misses the cache.  System headers are the kernel key's part."""
    import re
    from .localinc import include_dirs
    dirs = include_dirs(cflags)
    if not dirs or "include" not in text:
        return []
    inc = re.compile(r'^[ \t]*#[ \t]*include[ \t]*[<"]([^>"\n]+)[>"]', re.M)
    found: dict[str, str] = {}
    todo = [(text, "")]
    while todo and len(found) < _MAX_HEADERS:
        body, here = todo.pop()
        for name in inc.findall(body):
            for d in ([here] if here else []) + dirs:
                path = os.path.normpath(os.path.join(d, name))
                if path in found:
                    break
                try:
                    st = os.stat(path)
                    with open(path, errors="replace") as f:
                        sub = f.read()
                except OSError:
                    continue
                found[path] = f"{st.st_ino}|{st.st_size}|{st.st_mtime_ns}"
                todo.append((sub, os.path.dirname(path)))
                break
    return sorted(found.items())


def read(k: str) -> tuple[dict, SimpleNamespace] | None:
    """The entry for key ``k`` and the rewrite findings it holds, or None on a miss."""
    if os.environ.get("PYBPF_NO_PLAN"):
        return None
    from ..cache import get_record
    entry = get_record(k)
    if not isinstance(entry, dict) or entry.get("v") != VERSION:
        return None
    try:                      # a damaged entry is a miss, never an error
        found = findings(entry)
        if not isinstance(entry["elf"], bytes) or not isinstance(entry["maps"], dict) or \
                not isinstance(entry["event_ids"], dict) or \
                not isinstance(entry["programs"], list):
            return None
    except (LookupError, TypeError, ValueError):
        return None
    return entry, found


def write(k: str, entry: dict) -> None:
    if not os.environ.get("PYBPF_NO_PLAN"):
        from ..cache import put_record
        put_record(k, entry)


def make_entry(rw, elf: bytes, spec) -> dict:
    """The entry for a text: ``rw`` from the rewrite, ``elf`` its object, ``spec`` parsed."""
    from ..btf.kinds import Kind
    from .ctypes_btf import export_types
    maps = {n: (m.key_type_id, m.key_size, m.value_type_id, m.value_size)
            for n, m in spec.maps.items()}
    events, roots = {}, []
    for n in rw.tables:
        if n in maps:
            roots += [maps[n][0], maps[n][2]]
    if spec.btf is not None:
        for table, tname in rw.events.items():
            kind_name = tname.split()
            ids = spec.btf.find(kind_name[-1], Kind.STRUCT if kind_name[0] == "struct"
                                else None)
            if ids:
                events[table] = ids[0]
                roots.append(ids[0])
    types = export_types(spec.btf, roots) if spec.btf is not None else None
    probes = []
    for p in rw.probes.values():
        b = p.binding
        probes.append((p.name, p.kind, p.target, p.auto, p.section, p.ctx_type,
                       None if b is None else (b.via, b.target, b.syscall, b.retprobe,
                                               b.nargs)))
    return {"v": VERSION, "elf": elf, "tables": list(rw.tables), "probes": probes,
            "tracepoints": [tuple(t) for t in rw.tracepoints], "events": dict(rw.events),
            "programs": [n for n, p in spec.programs.items() if not p.subprogram],
            "maps": maps, "event_ids": events, "types": types}


def findings(entry: dict) -> SimpleNamespace:
    """A stand-in for the rewrite's result (what BPF reads of it after the build)."""
    probes = {}
    for name, kind, target, auto, section, ctx_type, b in entry["probes"]:
        binding = None if b is None else SimpleNamespace(
            via=b[0], target=b[1], syscall=b[2], retprobe=b[3], nargs=b[4])
        probes[name] = SimpleNamespace(name=name, kind=kind, target=target, auto=auto,
                                       binding=binding, section=section, ctx_type=ctx_type)
    return SimpleNamespace(tables=entry["tables"], probes=probes,
                           tracepoints=entry["tracepoints"], events=entry["events"])
