"""Kernel modules' types for bcc programs that name them (veth's ``struct veth_priv``).

``vmlinux.h`` holds the types of vmlinux's BTF only.  A type defined in a module (nfs, xfs,
a driver) lives in that module's split BTF, ``/sys/kernel/btf/<module>``, while the module
is loaded.  bcc gets such types from the kernel headers it compiles against.  pybpf has no
headers: when a program names a struct, union or enum that vmlinux lacks and that the
program does not define, the loaded modules' BTF is searched, and the type's C declaration
(with the module-only types it needs) is put before the program's text.  The types it
shares with vmlinux are already in ``vmlinux.h`` and are not repeated.  The declarations
get ``preserve_access_index`` as ``vmlinux.h``'s do, so the loader relocates member offsets
against the module's BTF.

Cost: a listing of ``/sys/kernel/btf`` on a compile (a warm start does not compile).  The
modules' BTF is read only when the program names a tag that vmlinux lacks.
"""

from __future__ import annotations

import os
import re

BTF_DIR = "/sys/kernel/btf"
_USER = '#line 1 "bpf_text"\n'
_TAG = re.compile(r"\b(struct|union|enum)\s+([A-Za-z_]\w*)")
_OWN = re.compile(r"\b(?:struct|union|enum)\s+([A-Za-z_]\w*)\s*\{|"
                  r"\btypedef\b[^;{}]*?([A-Za-z_]\w*)\s*;")
_PUSH = ("#pragma clang attribute push (__attribute__((preserve_access_index)), "
         "apply_to = record)\n")
_POP = "#pragma clang attribute pop\n"


def _defined(text: str) -> set:
    """Tags and typedef names ``text`` defines."""
    return {a or b for a, b in _OWN.findall(text)}


def wanted(text: str, kernel_tags, defined: str = "") -> list[tuple[str, str]]:
    """[(keyword, tag)] the text names that neither it nor ``defined`` (the generated part
    before it: tracepoint structs) defines and vmlinux does not have."""
    own = _defined(text) | _defined(defined)
    out = []
    for kw, name in _TAG.findall(text):
        if name not in own and name not in kernel_tags and (kw, name) not in out:
            out.append((kw, name))
    return out


def module_names(btf_dir: str | None = None) -> list[str]:
    try:
        return sorted(n for n in os.listdir(btf_dir or BTF_DIR) if n != "vmlinux")
    except OSError:
        return []


_UNKNOWN = re.compile(r"error: (?:use of undeclared identifier|unknown type name) '(\w+)'")


def unknown_names(diagnostics: str) -> list[str]:
    """The names clang found undeclared (candidates: a module's typedefs and
    enumerators, which a program uses without a tag)."""
    out = []
    for n in _UNKNOWN.findall(diagnostics or ""):
        if n not in out:
            out.append(n)
    return out


def _find(spec, kind: str, name: str) -> int | None:
    """The id of the module's own type ``kind name`` (kind "enumerator": the enum holding
    that constant), or None."""
    from ..btf.types import Kind
    if kind == "enumerator":
        for tid in range(spec.start_id, len(spec)):
            if spec.raw_kind(tid) in (Kind.ENUM, Kind.ENUM64) and \
                    any(v.name == name for v in spec[tid].values):
                return tid
        return None
    kinds = {"struct": (Kind.STRUCT,), "union": (Kind.UNION,), "typedef": (Kind.TYPEDEF,),
             "enum": (Kind.ENUM, Kind.ENUM64)}[kind]
    ids = [i for k in kinds for i in spec.find(name, k) if i >= spec.start_id]
    if not ids:
        # a name split BTF spells with vmlinux's string table: find() looks in the
        # module's own strings only
        ids = [spec.start_id + i for i, off in enumerate(spec._name_offs)
               if spec.string_at(off) == name]
        ids = [i for i in ids if spec[i].kind in kinds]
    return ids[0] if ids else None


def declarations(specs: list, wants: list[tuple[str, str]], defined=()) -> str:
    """C declarations of ``wants`` ((kind, name): "struct", "union", "enum", "typedef" or
    "enumerator") from the first of the split ``specs`` (modules' BTF on vmlinux) holding
    each, with the module types they need (not those named in ``defined``: declared
    already); "" when none has them."""
    from ..btf import cformat
    from ..btf.types import Kind
    done: set[str] = set(defined)      # and names declared by an earlier module
    tagged = (Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64)
    named = tagged + (Kind.TYPEDEF,)
    parts = []
    left = list(wants)
    for spec in specs:
        roots = []
        for kind, name in list(left):
            tid = _find(spec, kind, name)
            if tid is not None:
                roots.append(tid)
                left.remove((kind, name))
        if not roots:
            continue
        w = cformat._Writer(spec, lazy=True)
        start = spec.start_id
        # vmlinux's types are in vmlinux.h already; so are an earlier module's, and a
        # module's copies of vmlinux's types (pahole leaves some undeduplicated: nfs's
        # struct rcuwait): the name would be defined twice
        w.order_state[1:start] = w.emit_state[1:start] = bytes([cformat._DONE]) * (start - 1)
        base = spec.base
        for tid in range(start, len(spec)):
            if spec.raw_kind(tid) not in named:
                continue
            t = spec[tid]
            if not t.name:
                continue
            kinds = {base[b].kind for b in base.find(t.name)} if base is not None else set()
            if t.name in done or t.kind in kinds:
                w.order_state[tid] = w.emit_state[tid] = cformat._DONE
            elif t.kind != Kind.TYPEDEF and kinds & set(tagged):
                # C has one namespace for struct, union and enum tags: dm-mod's union
                # map_info beside vmlinux's struct map_info is printed map_info___<id>
                # (CO-RE ignores such ___ suffixes when it matches names)
                w.names[tid] = f"{t.name}___{tid}"
        text = w.run(roots, bytearray(b"\1") * len(spec))
        text = text[len(cformat._PROLOGUE):len(text) - len(cformat._EPILOGUE)]
        parts.append(f"/* from the BTF of {getattr(spec, 'module', 'a module')} */\n" + text)
        done.update(n for n in w.names.values() if n)
        if not left:
            break
    return _PUSH + "".join(parts) + _POP if parts else ""


def add(source: str, kernel_tags, btf_dir: str | None = None, names=()) -> str:
    """``source`` (rewritten bcc C) with the declarations of the loaded modules' types its
    program names put before the program's text; ``names`` (from :func:`unknown_names`)
    are also looked up as typedefs and enumerators."""
    btf_dir = btf_dir or BTF_DIR
    mods = module_names(btf_dir)
    cut = source.find(_USER)
    if not mods or cut < 0:
        return source
    wants = wanted(source[cut:], kernel_tags, source[:cut])
    for n in names:
        wants += [("typedef", n), ("enumerator", n)]
    if not wants:
        return source
    from ..btf.kernel import load_file, load_vmlinux
    from ..errors import PybpfError
    vmlinux = load_vmlinux()
    specs = []
    for n in mods:
        try:
            spec = load_file(os.path.join(btf_dir, n), vmlinux)
        except (OSError, ValueError, PybpfError):
            continue
        spec.module = n
        specs.append(spec)
    decls = declarations(specs, wants, _defined(source[:cut]))
    if not decls:
        return source
    return source[:cut] + decls + source[cut:]
