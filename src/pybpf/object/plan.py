"""Load plans: what a finished load sent to the kernel, cached so the next start replays it.

A plan holds the sanitised object BTF, every map's creation parameters and initial data,
and every program's final instructions (CO-RE applied, subprograms linked) with the spots
where map fds go.  It is keyed by the object's bytes and the running kernel (build, BTF
size, boot id), so everything kernel-specific in it (CO-RE offsets, kconfig values,
kallsyms addresses, BTF ids) stays true.  A warm start then needs no ELF or BTF parsing,
no CO-RE and no linking; it imports none of those modules either.

Objects a plan cannot describe (module BTF fds, kfuncs via fd_array) are simply not
planned.  Replaying never changes what is loaded: any failure falls back to the full
path, which also gives the best errors (verifier logs with C source lines).
"""

from __future__ import annotations

import os
import sys

# 3: LINUX_HAS_SYSCALL_WRAPPER follows kprobes; iproute2 PIN_GLOBAL_NS maps are pinned
PLAN_VERSION = 3
_LD_IMM64 = 0x18
_PSEUDO_MAP_FD, _PSEUDO_MAP_VALUE = 1, 2
_PSEUDO_BTF_ID = 3


def key(data: bytes, name: str = "", identity: str | None = None) -> str:
    """The plan's cache key: the object (its bytes, or an ``identity`` the caller vouches
    for) and name, the running kernel, this plan format."""
    from .._hash import sha256
    from ..kernelid import kernel_key, module_btf_names
    h = sha256(data) if identity is None else sha256(f"identity|{identity}".encode())
    # loaded modules matter too: CO-RE and attach targets may resolve against their BTF
    h.update(f"|pybpf-plan|{PLAN_VERSION}|{name}|{kernel_key()}|{sys.version_info[:2]}|"
             f"{','.join(module_btf_names())}".encode())
    return h.hexdigest()


def read(k: str) -> dict | None:
    """The cached plan for key ``k``, or None (absent, unreadable, other version)."""
    if os.environ.get("PYBPF_NO_PLAN"):
        return None
    from ..cache import get_record
    plan = get_record(k)
    return plan if isinstance(plan, dict) and plan.get("v") == PLAN_VERSION else None


# -- replaying --------------------------------------------------------------------------------

class Recipe:
    """A plain attribute bag standing in for an object-level spec on replay."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def map_recipe(e: dict) -> Recipe:
    return Recipe(name=e["name"], kernel_name=e["kernel_name"], type=e["type"],
                  key_size=e["key_size"], value_size=e["value_size"],
                  max_entries=e["max_entries"], flags=e["flags"], numa_node=e["numa_node"],
                  map_extra=e["map_extra"], key_type_id=e["key_type_id"],
                  value_type_id=e["value_type_id"], pinning=e["pinning"],
                  inner=map_recipe(e["inner"]) if e["inner"] else None,
                  data=bytearray(e["data"]) if e["data"] is not None else None,
                  contents=e["contents"], autocreate=True,
                  struct_ops=Recipe(**e["st"]) if e.get("st") else None,
                  pin_name=e.get("pin_name", ""), arena_off=e.get("arena_off"))


def program_section(entry: dict) -> Recipe:
    """A stand-in for a ProgramSpec with what :func:`~.attach.auto_attach` reads."""
    att = entry["attach"]
    info = None
    if att is not None:
        fam, t = att
        info = Recipe(auto_attach=fam, target=Recipe(**t) if t is not None else None)
    return Recipe(name=entry["name"], section=entry["section"], sec_info=info)


def patch_fds(insns: bytes, relos, fd_of) -> bytes:
    """``insns`` with each recorded spot holding the fd of its map now."""
    if not relos:
        return insns
    buf = bytearray(insns)
    for off, name in relos:
        buf[off:off + 4] = fd_of(name).to_bytes(4, "little", signed=True)
    return bytes(buf)


def __getattr__(name: str):
    # recording a plan is the full path's business (planrecord); still importable here
    if name in ("write", "map_entry", "fd_relocations", "attach_entry"):
        from . import planrecord
        return getattr(planrecord, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
