"""Maps the user pinned for a tool's filters (``--cgroupmap``, ``--mntnsmap``), opened
and checked to be the shape the tool's BPF side looks up."""

from __future__ import annotations

from .. import errors
from ._common import HASH_TYPES


def open_pinned_map(path: str, what: str, key_size: int | None = None,
                    types: tuple[int, ...] = HASH_TYPES):
    """A map pinned by the user (--cgroupmap/--mntnsmap), checked to be the shape the tool
    looks up (map type, key size), with one clear error line for anything else."""
    from .. import bpffs
    from ..maps import Map
    try:
        if bpffs.fs_type(path) != bpffs.BPF_FS_MAGIC:
            raise errors.PybpfError(f"{what} {path}: not a pinned BPF map (not on a bpf "
                                    "filesystem)")
        m = Map.from_pin(path)
    except errors.NotFoundError:
        raise errors.PybpfError(f"{what} {path}: no pinned map there") from None
    except errors.KernelError as e:
        raise errors.PybpfError(f"{what} {path}: cannot open it as a pinned map: "
                                f"{e.strerror}") from None
    from ..maps import _tname
    if m.type not in types or (key_size is not None and m.key_size != key_size):
        m.close()
        names = " or ".join(_tname(t) for t in types)
        keys = f" with {key_size}-byte keys" if key_size is not None else ""
        raise errors.PybpfError(f"{what} {path}: expected a {names} map{keys}, got a "
                                f"{_tname(m.type)} map with {m.key_size}-byte keys")
    return m
