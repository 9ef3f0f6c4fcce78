"""Kernel addresses -> function names: kallsyms indexed once per boot, BPF programs live.

Reading /proc/kallsyms costs ~50 ms of kernel time alone and parsing it ~0.3 s in Python,
so the sorted index of text symbols is kept in the private cache, keyed by this boot and
the loaded modules (/proc/modules lists their load addresses): a later process loads it in
a few milliseconds.  BPF programs come and go without a module change, so their JIT images
are not taken from the cached table but asked of the kernel (BPF_OBJ_GET_INFO_BY_FD gives
each program's JIT addresses and lengths) when an address falls outside the kernel's text.
"""

from __future__ import annotations

import bisect
import re
import time

from .. import errors

KALLSYMS = "/proc/kallsyms"
INDEX_VERSION = 1
_LINE = re.compile(rb"^([0-9a-f]+) [tTwW] ([^\t\n]+)(?:\t\[([^\]\n]+)\])?$", re.M)
# kallsyms entries that change without a module load: not cached (BPF JIT images, BPF
# trampolines and dispatchers, ftrace/kprobe trampolines).
_DYNAMIC_MODULES = {b"bpf", b"__builtin__ftrace", b"__builtin__kprobes"}
# address(): lookups by a search of the names before a dict of them all is built (one
# search ~0.5 ms, the dict ~60 ms on this host's 120k symbols)
_FINDS = 64


class KernelSymbols:
    """Kernel text symbols, sorted; ``resolve(addr)`` is a binary search."""

    def __init__(self, path: str = KALLSYMS, cache: bool = True):
        self.path = path
        self.use_cache = cache and path == KALLSYMS
        self._starts = None                 # array('Q') once loaded
        self._by_name: dict[bytes, int] | None = None
        self._finds = 0                     # lookups answered by a search of the blob
        self._bpf: list[tuple[int, int, str]] | None = None     # (start, end, name), sorted
        self._bpf_read = 0.0

    # -- loading ------------------------------------------------------------------------
    # The index is four flat buffers: symbol starts (u64), offsets of each name in one
    # blob of names (u32), and per symbol an index into the list of module names (u16).
    # Loading it is a few memcpy's; a name is decoded only when a lookup returns it.
    def _load(self) -> None:
        from array import array
        key = self._cache_key() if self.use_cache else None
        rec = None
        if key is not None:
            from ..cache import get_record
            rec = get_record(key)
            if not _valid(rec):
                rec = None
        if rec is None:
            rec = self._parse()
            if key is not None and len(rec[1]) > 8:
                from ..cache import put_record
                put_record(key, rec)
        _, starts, name_offs, blob, mod_ids, mods = rec
        self._starts = array("Q")
        self._starts.frombytes(starts)
        self._name_offs = array("I")
        self._name_offs.frombytes(name_offs)
        self._blob = blob
        self._mod_ids = array("H")
        self._mod_ids.frombytes(mod_ids)
        self._mod_names = mods

    def _parse(self) -> tuple:
        from array import array
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise errors.NotSupportedError(
                "kallsyms", f"cannot read {self.path}: {e.strerror}") from None
        rows = [(int(a, 16), n, m) for a, n, m in _LINE.findall(data)
                if m not in _DYNAMIC_MODULES]
        rows.sort()
        if rows and rows[-1][0] == 0:
            raise errors.MissingPrivilegeError(
                "kallsyms", f"{self.path} shows no addresses (kernel.kptr_restrict; run as "
                            f"root)")
        mods: dict[bytes, int] = {b"": 0}
        offs, pos = array("I"), 0
        for _, n, _ in rows:
            offs.append(pos)
            pos += len(n) + 1
        offs.append(pos)
        mod_ids = array("H", [mods.setdefault(m, len(mods)) for _, _, m in rows])
        blob = b"\n".join(r[1] for r in rows) + b"\n"
        return (INDEX_VERSION, array("Q", [r[0] for r in rows]).tobytes(), offs.tobytes(),
                blob, mod_ids.tobytes(), [m.decode("utf-8", "replace") for m in mods])

    def _name(self, i: int) -> str:
        return self._blob[self._name_offs[i]:self._name_offs[i + 1] - 1].decode(
            "utf-8", "replace")

    def _cache_key(self) -> str | None:
        try:
            with open("/proc/modules", "rb") as f:
                modules = f.read()
        except OSError:
            modules = b""
        from ..cache import key_of
        from ..kernelid import kernel_key
        return key_of("pybpf-kallsyms-index", str(INDEX_VERSION), kernel_key(), modules)

    # -- lookups ------------------------------------------------------------------------
    def resolve(self, addr: int) -> tuple[str, int, str] | None:
        """(name, offset, module) of the kernel function containing ``addr``; module is
        "" for the core kernel and "bpf" for a BPF program."""
        if self._starts is None:
            self._load()
        starts = self._starts
        i = bisect.bisect_right(starts, addr) - 1
        off = addr - starts[i] if i >= 0 else -1
        # BPF JIT images live in the module/execmem area, above the kernel's text: an
        # address that lands in a module, or far past a core symbol, may be one of them
        if i < 0 or self._mod_ids[i] or off > 1 << 16:
            hit = self._resolve_bpf(addr)
            if hit is not None:
                return hit
        if i < 0:
            return None
        # far past the last symbol of the table: another mapping (a BPF image that has
        # gone, vmalloc), not a function
        if i + 1 == len(starts) and off > 1 << 20:
            return None
        return self._name(i), off, self._mod_names[self._mod_ids[i]]

    def address(self, name: str) -> int | None:
        """The address of the kernel function ``name`` (bcc's ``ksymname``), or None; of
        several symbols so named, the lowest."""
        if self._starts is None:
            self._load()
        key = name.encode()
        if self._by_name is None and self._finds < _FINDS:
            # a few lookups (a bcc script's attach) search the blob, in address order,
            # instead of a dict of every name: building that cost more than the index's
            # load (~5 s per process in the emulated test guest)
            self._finds += 1
            if not key or b"\n" in key:
                return None
            blob = self._blob
            if blob.startswith(key + b"\n"):
                pos = 0
            else:
                pos = blob.find(b"\n" + key + b"\n")
                if pos < 0:
                    return None
                pos += 1
            i = bisect.bisect_left(self._name_offs, pos)
            return self._starts[i]
        if self._by_name is None:
            # one pass over the blob: names are unique enough that the first wins
            names = self._blob.split(b"\n")
            by: dict[bytes, int] = {}
            for a, n in zip(self._starts, names):
                by.setdefault(n, a)
            self._by_name = by
        return self._by_name.get(key)

    def __len__(self) -> int:
        if self._starts is None:
            self._load()
        return len(self._starts)

    def _resolve_bpf(self, addr: int) -> tuple[str, int, str] | None:
        # programs come and go: re-read the list on a miss, at most once a second
        if self._bpf is None or (self._find_bpf(addr) is None
                                 and time.monotonic() - self._bpf_read > 1.0):
            self._bpf = _bpf_images()
            self._bpf_read = time.monotonic()
        return self._find_bpf(addr)

    def _find_bpf(self, addr: int) -> tuple[str, int, str] | None:
        images = self._bpf
        if not images:
            return None
        i = bisect.bisect_right(images, (addr, 1 << 64)) - 1
        if i >= 0 and images[i][0] <= addr < images[i][1]:
            return images[i][2], addr - images[i][0], "bpf"
        return None


def _valid(rec) -> bool:
    """Whether a cached index is whole and self-consistent (a damaged one is a miss)."""
    if not (isinstance(rec, tuple) and len(rec) == 6 and rec[0] == INDEX_VERSION
            and all(isinstance(x, bytes) for x in rec[1:5]) and isinstance(rec[5], list)):
        return False
    n = len(rec[1]) // 8
    if len(rec[1]) != 8 * n or len(rec[2]) != 4 * (n + 1) or len(rec[4]) != 2 * n:
        return False
    from array import array
    offs, ids = array("I"), array("H")
    offs.frombytes(rec[2])
    ids.frombytes(rec[4])
    return (offs[-1] == len(rec[3]) and (not n or max(ids) < len(rec[5]))
            and all(offs[i] <= offs[i + 1] for i in range(0, n, max(1, n // 64))))


def _bpf_images() -> list[tuple[int, int, str]]:
    """(start, end, name) of every loaded BPF program's JIT images, named as kallsyms names
    them (``bpf_prog_<tag>_<name>``); empty without privileges."""
    import ctypes

    from .. import info
    from .._sys import attr, syscall
    from .._sys.uapi import Cmd
    out = []
    try:
        prog_ids = list(info.ids("prog"))
    except errors.PybpfError:
        return out
    for pid in prog_ids:
        try:
            with info.fd_by_id("prog", pid) as fd:
                first = attr.ProgInfo()
                a = attr.InfoByFd(bpf_fd=fd.fileno(), info_len=ctypes.sizeof(first),
                                  info=ctypes.addressof(first))
                syscall.bpf(Cmd.OBJ_GET_INFO_BY_FD, a)
                n = min(first.nr_jited_ksyms, first.nr_jited_func_lens)
                if not n:
                    continue
                ksyms = (ctypes.c_uint64 * n)()
                lens = (ctypes.c_uint32 * n)()
                again = attr.ProgInfo(nr_jited_ksyms=n, jited_ksyms=ctypes.addressof(ksyms),
                                      nr_jited_func_lens=n,
                                      jited_func_lens=ctypes.addressof(lens))
                a = attr.InfoByFd(bpf_fd=fd.fileno(), info_len=ctypes.sizeof(again),
                                  info=ctypes.addressof(again))
                syscall.bpf(Cmd.OBJ_GET_INFO_BY_FD, a)
        except errors.PybpfError:
            continue
        tag = bytes(first.tag).hex()
        base = f"bpf_prog_{tag}_{first.name.decode(errors='replace')}"
        for k in range(n):
            if ksyms[k]:
                out.append((ksyms[k], ksyms[k] + lens[k], base if k == 0 else f"{base}_F{k}"))
    out.sort()
    return out
