"""Kernel modules' types for bcc programs that name them (nfsslower's ``struct nfs_commit_data``).

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
_OWN = re.compile(r"\b(?:struct|union|enum)\s+([A-Za-z_]\w*)\s*\{")
_PUSH = ("#pragma clang attribute push (__attribute__((preserve_access_index)), "
         "apply_to = record)\n")
_POP = "#pragma clang attribute pop\n"


def wanted(text: str, kernel_tags) -> list[tuple[str, str]]:
    """[(keyword, tag)] the text names, defines not itself, and vmlinux does not have."""
    own = set(_OWN.findall(text))
    out = []
    for kw, name in _TAG.findall(text):
        if name not in own and name not in kernel_tags and (kw, name) not in out:
            out.append((kw, name))
    return out


def module_names(btf_dir: str = BTF_DIR) -> list[str]:
    try:
        return sorted(n for n in os.listdir(btf_dir) if n != "vmlinux")
    except OSError:
        return []


def declarations(specs: list, tags: list[tuple[str, str]]) -> str:
    """C declarations of ``tags`` from the first of the split ``specs`` (modules' BTF on
    vmlinux) holding each, with the module types they need; "" when none has them."""
    from ..btf import cformat
    from ..btf.types import Kind
    kinds = {"struct": (Kind.STRUCT,), "union": (Kind.UNION,),
             "enum": (Kind.ENUM, Kind.ENUM64)}
    done: set[str] = set()             # tags already declared by an earlier module
    parts = []
    left = list(tags)
    for spec in specs:
        roots = []
        for kw, name in list(left):
            ids = [i for k in kinds[kw] for i in spec.find(name, k) if i >= spec.start_id]
            if not ids:
                # a name split BTF spells with vmlinux's string table: find() looks in
                # the module's own strings only
                ids = [spec.start_id + i for i, off in enumerate(spec._name_offs)
                       if spec.string_at(off) == name]
                ids = [i for i in ids if spec[i].kind in kinds[kw]]
            if ids:
                roots.append(ids[0])
                left.remove((kw, name))
        if not roots:
            continue
        w = cformat._Writer(spec, lazy=True)
        start = spec.start_id
        # vmlinux's types are in vmlinux.h already; so are an earlier module's
        w.order_state[1:start] = w.emit_state[1:start] = bytes([cformat._DONE]) * (start - 1)
        for tid in range(start, len(spec) if done else start):
            t = spec[tid]
            if t.name and t.name in done and t.kind in (Kind.STRUCT, Kind.UNION, Kind.ENUM,
                                                        Kind.ENUM64, Kind.TYPEDEF):
                w.order_state[tid] = w.emit_state[tid] = cformat._DONE
        text = w.run(roots, bytearray(b"\1") * len(spec))
        text = text[len(cformat._PROLOGUE):len(text) - len(cformat._EPILOGUE)]
        parts.append(f"/* from the BTF of {getattr(spec, 'module', 'a module')} */\n" + text)
        done.update(n for n in w.names.values() if n)
        if not left:
            break
    return _PUSH + "".join(parts) + _POP if parts else ""


def add(source: str, kernel_tags, btf_dir: str = BTF_DIR) -> str:
    """``source`` (rewritten bcc C) with the declarations of the loaded modules' types its
    program names put before the program's text."""
    names = module_names(btf_dir)
    cut = source.find(_USER)
    if not names or cut < 0:
        return source
    tags = wanted(source[cut:], kernel_tags)
    if not tags:
        return source
    from ..btf.kernel import load_file, load_vmlinux
    from ..errors import PybpfError
    vmlinux = load_vmlinux()
    specs = []
    for n in names:
        try:
            spec = load_file(os.path.join(btf_dir, n), vmlinux)
        except (OSError, ValueError, PybpfError):
            continue
        spec.module = n
        specs.append(spec)
    decls = declarations(specs, tags)
    if not decls:
        return source
    return source[:cut] + decls + source[cut:]
