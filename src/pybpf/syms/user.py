"""User addresses -> (function, offset, binary): a process's mappings and its binaries.

A process's mappings are read from /proc/PID/maps once and again only when an address
falls outside them (a library loaded since).  Binaries are opened through
/proc/PID/map_files/ when possible, so a file deleted after mapping, a memfd, or a binary
inside a container (another mount namespace) resolves like any other; else through
/proc/PID/root.  Each binary's symbol table is read once per (device, inode, size, mtime),
so the same library in many processes, or in many containers, is parsed once.  JIT runtimes
that write /tmp/perf-PID.map (the perf convention) are resolved from that file.
"""

from __future__ import annotations

import bisect
import os

from .. import errors
from .elfsyms import ElfSymbols, debug_file


class Mapping:
    """One executable mapping of a process: [start, end) from ``offset`` of ``path``."""

    __slots__ = ("start", "end", "offset", "path", "open_paths", "ident", "root")

    def __init__(self, start: int, end: int, offset: int, path: str, open_paths: list[str],
                 root: str = ""):
        self.start, self.end, self.offset = start, end, offset
        self.path, self.open_paths, self.root = path, open_paths, root
        # the file's identity now, so it is found again (by another path) after the
        # process exits and its /proc entries are gone
        self.ident = None
        for p in open_paths:
            try:
                st = os.stat(p)
            except OSError:
                continue
            self.ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            break

    @property
    def open_path(self) -> str | None:
        """A path that opens this mapping's file now (checked against its identity)."""
        for p in self.open_paths:
            try:
                st = os.stat(p)
            except OSError:
                continue
            if self.ident is None or (st.st_dev, st.st_ino, st.st_size,
                                      st.st_mtime_ns) == self.ident:
                return p
        return None


def read_maps(pid: int) -> list[Mapping]:
    """The executable file mappings of ``pid`` (empty when it has gone)."""
    try:
        with open(f"/proc/{pid}/maps", "rb") as f:
            data = f.read()
    except OSError:
        return []
    out = []
    for line in data.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6 or b"x" not in parts[1]:
            continue
        rng = parts[0].decode()
        lo, _, hi = rng.partition("-")
        path = os.fsdecode(parts[5])    # any bytes: opened and printed as they are
        if path.startswith("["):
            continue
        deleted = path.endswith(" (deleted)")
        clean = path[:-len(" (deleted)")] if deleted else path
        # map_files/ reaches the mapped file itself: deleted, memfd, other namespaces;
        # then the process's root; then our own view (after the process has gone)
        paths = [f"/proc/{pid}/map_files/{rng}"]
        if clean.startswith("/"):
            paths += [f"/proc/{pid}/root{clean}", clean]
        out.append(Mapping(int(lo, 16), int(hi, 16), int(parts[2], 16), clean, paths,
                           f"/proc/{pid}/root"))
    out.sort(key=lambda m: m.start)
    return out


class PerfMap:
    """/tmp/perf-PID.map: "START SIZE name" lines written by JIT runtimes."""

    def __init__(self, path: str):
        rows = []
        try:
            with open(path, "rb") as f:
                for line in f:
                    parts = line.rstrip(b"\n").split(b" ", 2)
                    if len(parts) == 3:
                        try:
                            rows.append((int(parts[0], 16), int(parts[1], 16),
                                         parts[2].decode("utf-8", "surrogateescape")))
                        except ValueError:
                            continue
        except OSError:
            pass
        rows.sort()
        self.starts = [r[0] for r in rows]
        self.rows = rows

    def lookup(self, addr: int) -> tuple[str, int] | None:
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.rows[i][0] + self.rows[i][1]:
            return self.rows[i][2], addr - self.rows[i][0]
        return None


class Binaries:
    """ELF symbol tables by file identity, shared by every process that maps the file."""

    def __init__(self):
        self._by_ident: dict[tuple, ElfSymbols | None] = {}

    def get(self, mapping: Mapping) -> ElfSymbols | None:
        ident = mapping.ident
        if ident is not None and ident in self._by_ident:
            return self._by_ident[ident]
        open_path = mapping.open_path
        if open_path is None:
            return None
        if ident is None:
            st = os.stat(open_path)
            ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if ident not in self._by_ident:
            try:
                b = ElfSymbols(open_path)
                if not b.has_symtab:
                    # stripped: the distribution's debug file may have the full table
                    dbg = debug_file(b, mapping.root, mapping.path)
                    if dbg:
                        try:
                            full = ElfSymbols(dbg)
                            if len(full) > len(b):
                                full.segments = b.segments
                                full.path, full.debug_path = b.path, dbg
                                # exported names win where both name a function: users
                                # know clock_nanosleep, not the internal __clock_nanosleep
                                exported = dict(zip(b.starts, b.names))
                                full.names = [exported.get(a, n)
                                              for a, n in zip(full.starts, full.names)]
                                b = full
                        except errors.ELFError:
                            pass
            except errors.ELFError:
                b = None
            self._by_ident[ident] = b
        return self._by_ident[ident]


class Process:
    """One process's view: mappings, refreshed on a miss; a perf map if it has one."""

    def __init__(self, pid: int, binaries: Binaries):
        self.pid = pid
        self.binaries = binaries
        self.maps = read_maps(pid)
        self.starts = [m.start for m in self.maps]
        self._perf: PerfMap | None = None
        self._perf_checked = False

    def refresh(self) -> bool:
        """Re-read the mappings; False when the process has gone."""
        maps = read_maps(self.pid)
        if maps:
            self.maps, self.starts = maps, [m.start for m in maps]
        return bool(maps)

    def mapping(self, addr: int) -> Mapping | None:
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.maps[i].end:
            return self.maps[i]
        return None

    def resolve(self, addr: int) -> tuple[str, int, str, Mapping | None, int] | None:
        """(name, offset, binary path, mapping, virtual address in the binary)."""
        m = self.mapping(addr)
        if m is None and self.refresh():
            m = self.mapping(addr)
        if m is None:
            return self._perf_lookup(addr)
        b = self.binaries.get(m)
        if b is None:
            return None
        vaddr = b.offset_to_vaddr(addr - m.start + m.offset)
        if vaddr is None:
            return None
        hit = b.lookup(vaddr)
        if hit is None:
            return None
        return hit[0], hit[1], m.path, m, vaddr

    def _perf_lookup(self, addr: int):
        if not self._perf_checked:
            self._perf_checked = True
            path = f"/tmp/perf-{self.pid}.map"
            # /tmp is everyone's: believe the file only if root or the process's owner
            # wrote it (another user could otherwise name our frames)
            try:
                owner = os.stat(path).st_uid
                proc_uid = os.stat(f"/proc/{self.pid}").st_uid
            except OSError:
                return None
            if owner in (0, proc_uid) and not os.path.islink(path):
                self._perf = PerfMap(path)
        if self._perf is None:
            return None
        hit = self._perf.lookup(addr)
        return (hit[0], hit[1], "[perf-map]", None, addr) if hit else None
