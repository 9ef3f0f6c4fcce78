"""Recording a load plan (:mod:`.plan`) on the full path: each map's and program's
description as plain values, the spots where map fds go, what auto-attach needs; and
storing it.  A warm start replays a plan and never imports this module."""

from __future__ import annotations

import os

from .plan import _LD_IMM64, _PSEUDO_BTF_ID, _PSEUDO_MAP_FD, _PSEUDO_MAP_VALUE


def write(k: str, plan: dict) -> None:
    """Store a plan; a cache that cannot be written just means the next start is slower."""
    if not os.environ.get("PYBPF_NO_PLAN"):
        from ..cache import put_record
        put_record(k, plan)


def map_entry(name: str, m) -> dict:
    """The plan's description of one map (object-level MapSpec ``m``, its initial data as
    it stands: kconfig values filled, user variables not applied)."""
    inner = None
    if m.inner is not None:
        inner = map_entry(m.inner.name, m.inner)
    return {"name": name, "kernel_name": m.kernel_name, "type": int(m.type),
            "key_size": m.key_size, "value_size": m.value_size,
            "max_entries": m.max_entries, "flags": int(m.flags), "numa_node": m.numa_node,
            "map_extra": m.map_extra, "key_type_id": m.key_type_id,
            "value_type_id": m.value_type_id, "pinning": m.pinning, "inner": inner,
            "pin_name": m.pin_name,
            "data": None if m.data is None else bytes(m.data),
            "contents": dict(m.contents) if m.contents else {}}


def fd_relocations(insns: bytes, fd_names: dict[int, str]) -> list[tuple[int, str]] | None:
    """(byte offset of the imm, map name) for every map fd in ``insns``; None when the
    program holds an fd we cannot name again on replay (module BTF)."""
    out = []
    i, n = 0, len(insns)
    while i + 16 <= n:
        if insns[i] != _LD_IMM64:
            i += 8
            continue
        src = insns[i + 1] >> 4
        imm = int.from_bytes(insns[i + 4:i + 8], "little", signed=True)
        if src in (_PSEUDO_MAP_FD, _PSEUDO_MAP_VALUE):
            name = fd_names.get(imm)
            if name is None:
                return None
            out.append((i + 4, name))
        elif src == _PSEUDO_BTF_ID and insns[i + 12:i + 16] != b"\0\0\0\0":
            return None          # a module BTF fd
        i += 16
    return out


def attach_entry(pspec) -> tuple | None:
    """What auto-attach needs of a program's section, as plain values."""
    info = pspec.sec_info
    if info is None:
        return None
    t = info.target
    target = None if t is None else {k: getattr(t, k) for k in (
        "name", "category", "offset", "path", "provider", "module", "retprobe")}
    return (info.auto_attach, target)
