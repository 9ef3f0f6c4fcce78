"""C types as ctypes types: ``pybpf.ctype("struct event", header="bootstrap.h")``.

The layout comes from BTF, so it is the compiler's (padding, anonymous unions, bool,
char arrays, nested structs and bitfields included): no hand-written ctypes copy of a
``.h``.  Where the BTF comes from:

- ``header=`` / ``source=``: the file (a header after ``vmlinux.h``, as a ``.bpf.c``
  includes it; alone when it redefines vmlinux.h's types) is compiled with clang ``-g``
  through pybpf's compile cache, with one variable of the type added, so the type is in
  the BTF even when the program only uses it behind a pointer (clang leaves such types
  out).
- ``obj=``: a loaded :class:`~pybpf.object.loader.Object`, an
  :class:`~pybpf.object.spec.ObjectSpec`, object bytes or a path to a ``.bpf.o``.
- ``btf=``: a parsed BTF spec.

The result works wherever pybpf decodes records: ``RingBuffer.read(decode=T)``,
``PerfBuffer.read(decode=T)``, ``Map(key_type=T, value_type=T)``,
``pybpf.links.iter.records(link, T)``.  A warm start reads the layout from a source
record (:mod:`pybpf.srcrecord`: valid while the header and everything it includes are
unchanged) and builds the types with ctypes alone: no compiler, no BTF code.
"""

from __future__ import annotations

import os

from . import errors

__all__ = ["ctype", "ctypes_of"]

_ANCHOR = "__pybpf_ctype_"
_TABLE_VERSION = "pybpf-ctype-3"


def _parse_name(name: str) -> tuple[str, str]:
    # by hand: `re` (with enum) would be ~7 ms of an example's start
    words = name.split()
    kw = words[0] if len(words) == 2 and words[0] in ("struct", "union", "enum") else ""
    ident = words[-1] if len(words) == (2 if kw else 1) else ""
    if not (ident.isidentifier() and ident.isascii()):
        raise ValueError(f"{name!r} is not a C type name (like 'struct event' or 'event_t')")
    return kw, ident


def ctype(name: str, *, header=None, source=None, obj=None, btf=None, includes=(),
          cflags=()) -> type:
    """The ctypes type of C type ``name`` (``"struct event"``, ``"union u"``, a typedef).

    Give exactly one of ``header`` (a ``.h``), ``source`` (a ``.bpf.c``), ``obj`` (a
    loaded Object, an ObjectSpec, object bytes or a ``.bpf.o`` path) or ``btf``.
    ``includes``/``cflags`` are passed to clang for ``header``/``source``.
    """
    return ctypes_of(name, header=header, source=source, obj=obj, btf=btf,
                     includes=includes, cflags=cflags)[0]


def ctypes_of(*names: str, header=None, source=None, obj=None, btf=None, includes=(),
              cflags=()) -> list[type]:
    """Several types at once (one compile for a header or source)."""
    given = [x is not None for x in (header, source, obj, btf)]
    if sum(given) != 1:
        raise ValueError("give exactly one of header=, source=, obj= or btf=")
    parsed = [_parse_name(n) for n in names]
    if header is not None or source is not None:
        return _from_c(names, parsed, header if header is not None else source, includes,
                       cflags, prelude=header is not None)
    if obj is not None:
        btf = _btf_of(obj)
    from .ctypes_btf import Converter
    conv = Converter(btf)
    out = []
    for (kw, n), full in zip(parsed, names):
        tid = _find(btf, kw, n, full)
        out.append(_with_enumerators(conv(tid), _enumerators(btf, tid), n))
    return out


def _enumerators(btf, tid: int):
    """((name, value), ...) of ``tid`` if it is (a typedef of) an enum, else None."""
    t = btf[btf.resolve(tid)]
    vals = getattr(t, "values", None)
    return None if vals is None else [(v.name, v.value) for v in vals]


def _with_enumerators(t: type, pairs, name: str) -> type:
    if pairs is None:
        return t
    from .ctypes_record import enum_type
    return enum_type(t, name, pairs)


def _btf_of(obj):
    spec = getattr(obj, "spec", None)          # a loaded Object parses its ELF on demand
    if spec is not None and hasattr(spec, "btf"):
        obj = spec
    if hasattr(obj, "btf") and hasattr(obj, "maps"):
        if obj.btf is None:
            raise errors.BTFError("the object has no BTF: compile it with clang -g")
        return obj.btf
    from .object.spec import ObjectSpec
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return _btf_of(ObjectSpec.from_bytes(bytes(obj)))
    return _btf_of(ObjectSpec.from_file(obj))


def _find(btf, kw: str, name: str, full: str) -> int:
    from .btf.kinds import Kind
    kinds = {"struct": (Kind.STRUCT,), "union": (Kind.UNION,),
             "enum": (Kind.ENUM, Kind.ENUM64)}.get(kw, (Kind.TYPEDEF, Kind.STRUCT, Kind.UNION,
                                                        Kind.ENUM, Kind.ENUM64, Kind.INT,
                                                        Kind.FLOAT))
    for k in kinds:
        ids = btf.find(name, k)
        if ids:
            return ids[0]
    raise errors.BTFError(f"no {full!r} in the BTF (a type used only behind a pointer is left "
                          "out by clang: pass header= or source= to have pybpf add it)")


def _from_c(names, parsed, path, includes, cflags, prelude: bool) -> list[type]:
    path = os.path.abspath(os.fspath(path))
    if not os.path.exists(path):
        raise errors.NotFoundError(2, "ctype", f"no such file: {path}")
    text, includes, rkey = _source_record(parsed, path, includes, cflags, prelude)
    # a warm start: the layout recorded last time, while the header and everything the
    # compile read are unchanged (no compiler, no BTF code)
    from . import srcrecord
    desc = srcrecord.get(rkey)
    if desc is not None:
        from .ctypes_record import build
        try:
            return build(desc)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            pass                                # not a description we wrote: rebuild it
    from .toolchain import compile as cc
    deps: list = []
    try:
        data = cc(text.encode(), includes=includes, cflags=cflags, deps=deps)
    except errors.CompileError as e:
        if not prelude or "redefinition of" not in str(e):
            raise
        # a header that stands alone (cilium/ebpf's common.h is a small vmlinux.h of its
        # own): without the prelude; the record keeps the answer under the usual key
        text = _source_record(parsed, path, includes, cflags, False)[0]
        deps = []
        try:
            data = cc(text.encode(), includes=includes, cflags=cflags, deps=deps)
        except errors.CompileError:
            raise e from None
    from ._hash import sha256
    key = sha256(_TABLE_VERSION.encode() + b"|" + text.encode() + b"|" + data).hexdigest()
    from .cache import get_record, put_record
    rec = get_record(key)
    if not (isinstance(rec, dict) and "roots" in rec and "table" in rec):
        rec = _export(data, len(names))
        put_record(key, rec)
    from .ctypes_btf import Converter, TypeTable
    conv = Converter(TypeTable(rec["table"]))
    enums = rec.get("enums") or {}
    types = [_with_enumerators(conv(r), enums.get(i), parsed[i][1])
             for i, r in enumerate(rec["roots"])]
    from .ctypes_record import describe
    try:
        srcrecord.put(rkey, describe(types), deps)
    except ValueError:
        pass                                    # a type the description cannot hold
    return types


def _source_record(parsed, path: str, includes, cflags, prelude: bool) -> tuple:
    """(the C text compiled for ``parsed`` types of header ``path``, the include
    directories, the key of its source record)."""
    lines = [f'#include "{path}"']
    from .kernelid import VMLINUX
    if prelude and os.path.exists(VMLINUX):
        # event headers are written to follow vmlinux.h (bool, __u32, ...), as in the
        # .bpf.c that shares them
        lines.insert(0, '#include "vmlinux.h"')
    for i, (kw, n) in enumerate(parsed):
        lines.append(f"{kw + ' ' if kw else ''}{n} {_ANCHOR}{i};")
    text = "\n".join(lines) + "\n"
    includes = [os.path.dirname(path), *map(os.path.abspath, map(os.fspath, includes))]
    try:
        with open(path, "rb") as f:
            head = f.read()
    except OSError as e:
        raise errors.NotFoundError(e.errno or 2, "ctype", f"cannot read {path}: "
                                   f"{e.strerror}") from None
    from .srcrecord import key
    return text, includes, key("ctype", _TABLE_VERSION, text, head, "\0".join(includes),
                               "\0".join(map(str, cflags)))


def _export(data: bytes, n: int) -> dict:
    """The anchors' types from a compiled object, as plain data for the cache."""
    from .btf.kinds import Kind
    from .btf.spec import Spec
    from .ctypes_btf import export_types
    from .elf import ELFFile
    sec = ELFFile(data).section(".BTF")
    if sec is None:
        raise errors.BTFError("clang produced no BTF (is it older than 10?)")
    btf = Spec.parse(sec.data)
    roots = []
    for i in range(n):
        ids = btf.find(f"{_ANCHOR}{i}", Kind.VAR)
        if not ids:
            raise errors.BTFError(f"no BTF for the type anchor {i}")
        roots.append(btf[ids[0]].type)
    enums = {i: e for i, r in enumerate(roots) if (e := _enumerators(btf, r)) is not None}
    return {"roots": roots, "table": export_types(btf, roots), "enums": enums}
