"""C structs for tracepoint arguments, from tracefs ``events/<cat>/<event>/format``.

bcc gives TRACEPOINT_PROBE bodies ``args->field`` with the fields of the event's format
file.  vmlinux.h has no such per-event struct for most events (syscall tracepoints share
``trace_event_raw_sys_enter``), so pybpf writes ``struct tracepoint__<cat>__<event>`` from
the format file, with explicit padding so every field lands at the offset the kernel states.
"""

from __future__ import annotations

import os
import re

from .. import errors, tracefs

_FIELD = re.compile(r"field:(?P<decl>[^;]*);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);"
                    r"(?:\s*signed:(?P<signed>\d+);)?")
_DECL = re.compile(r"^(?P<type>.*?)(?P<name>[A-Za-z_]\w*)\s*(?P<dims>(?:\[[^\]]*\])*)$")

# Type words that always compile with vmlinux.h.
_BUILTIN = {"char", "short", "int", "long", "signed", "unsigned", "const", "volatile", "struct",
            "union", "enum", "void", "_Bool", "bool", "float", "double",
            "u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64",
            "__u8", "__u16", "__u32", "__u64", "__s8", "__s16", "__s32", "__s64",
            "pid_t", "uid_t", "gid_t", "size_t", "ssize_t", "loff_t", "umode_t", "dev_t",
            "gfp_t", "ino_t", "off_t", "clockid_t", "time64_t", "sector_t", "key_t",
            "mqd_t", "qid_t", "timer_t", "cap_user_header_t", "cap_user_data_t",
            "aio_context_t", "key_serial_t", "rwf_t", "__kernel_old_time_t",
            "__kernel_pid_t", "__kernel_size_t", "__be16", "__be32", "__le16", "__le32",
            "__le64", "__be64", "__sum16", "__wsum", "bool", "pgoff_t", "ktime_t",
            "__kernel_ulong_t", "__kernel_long_t"}
_WORD = re.compile(r"[A-Za-z_]\w*")


def format_path(category: str, event: str) -> str:
    return os.path.join(tracefs.root(), "events", category, event, "format")


def read_format(category: str, event: str) -> str:
    path = format_path(category, event)
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        raise errors.NotFoundError(
            2, "tracepoint", f"{category}:{event} does not exist on this kernel "
            f"(no {path}); see {os.path.dirname(os.path.dirname(path))} for the events "
            "it has") from None
    except OSError as e:
        raise errors.from_errno(e.errno or 0, f"read {path}") from None


def _int_type(size: int, signed: bool) -> str | None:
    bits = {1: 8, 2: 16, 4: 32, 8: 64}.get(size)
    return f"{'s' if signed else 'u'}{bits}" if bits else None


def _field_decl(decl: str, size: int, signed: bool, known=None) -> tuple[str, str]:
    """(C declaration, field name) for one format line."""
    decl = " ".join(decl.split())
    data_loc = decl.startswith("__data_loc ")
    m = _DECL.match(decl.removeprefix("__data_loc ").replace("[]", "").strip()) if data_loc \
        else _DECL.match(decl)
    if m is None:
        raise errors.PybpfError(f"cannot read tracepoint field {decl!r}")
    name = m["name"]
    if data_loc:
        # a u32: offset (low 16 bits) and length (high 16) of data behind the record
        return f"int data_loc_{name};", f"data_loc_{name}"
    ctype, dims = m["type"].strip(), m["dims"]
    words = set(_WORD.findall(ctype))
    pointer = "*" in ctype
    ok = all(w in _BUILTIN or (known is not None and known(w)) for w in words - {"struct",
                                                                                  "union",
                                                                                  "enum"})
    tagged = re.search(r"\b(struct|union)\s+\w+", ctype) is not None
    if pointer and (ok or tagged):
        return f"{ctype} {name}{dims};", name
    if ok and not tagged and not dims:
        return f"{ctype} {name};", name
    if ok and dims and not tagged:
        return f"{ctype} {name}{dims};", name
    if dims:
        return f"u8 {name}[{size}];", name
    t = _int_type(size, signed)
    if pointer:
        return f"void *{name};", name
    if t is None:
        return f"u8 {name}[{size}];", name
    return f"{t} {name};", name


def struct_for(category: str, event: str, fmt: str | None = None, known=None) -> str:
    """C definition of ``struct tracepoint__<category>__<event>``."""
    fmt = read_format(category, event) if fmt is None else fmt
    tag = f"tracepoint__{category}__{event}"
    lines = [f"struct {tag} {{"]
    pos = 0
    checks = []
    for m in _FIELD.finditer(fmt):
        off, size = int(m["off"]), int(m["size"])
        signed = m["signed"] == "1"
        text, name = _field_decl(m["decl"], size, signed, known)
        if off < pos:
            continue  # overlapping fields (unions in the format): keep the first
        if off > pos:
            lines.append(f"\tu8 __pad_{pos}[{off - pos}];")
        lines.append(f"\t{text}")
        checks.append(f"_Static_assert(__builtin_offsetof(struct {tag}, {name}) == {off}, "
                      f"\"pybpf: {category}:{event} field {name} is not at offset {off}\");")
        pos = off + size
    lines.append("};")
    return "\n".join(lines + checks) + "\n"
