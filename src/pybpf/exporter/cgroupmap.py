"""ebpf_exporter's ``cgroup_id_map``: a map of the program that the exporter fills with the
cgroups whose path matches one of ``regexps``, so the program can count only those.

``type: hash`` (the default): a hash map keyed by the cgroup id (u64), value 1; cgroups
that are gone are deleted.  ``type: cgrp_storage``: a cgroup local storage map; the
exporter stores 1 for each matching cgroup (the kernel drops it with the cgroup).  The
cgroup v2 tree is walked at load, again whenever inotify says a cgroup directory was made
or removed (a thread waits for that; ebpf_exporter uses fanotify), and before each scrape
(at most once a second) in case an event was missed.
"""

from __future__ import annotations

import os
import select
import threading
import time

from .decoders import compile_regexps
from .errors import ConfigError


class CgroupIdMapConf:
    __slots__ = ("name", "type", "regexps", "path")

    def __init__(self, name: str, type_: str, regexps: list, path: str):
        self.name, self.type, self.regexps, self.path = name, type_, regexps, path


def parse_conf(d, path: str) -> CgroupIdMapConf:
    if not isinstance(d, dict):
        raise ConfigError(path, "cgroup_id_map is a mapping (name, type, regexps)")
    extra = [k for k in d if k not in ("name", "type", "regexps")]
    if extra:
        raise ConfigError(f"{path}.{extra[0]}", f"unknown key {extra[0]!r} (known: name, "
                          "regexps, type)")
    name = d.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}.name", "cgroup_id_map needs the name of its map")
    typ = d.get("type") or "hash"
    if typ not in ("hash", "cgrp_storage"):
        raise ConfigError(f"{path}.type", f"unknown type {typ!r} (hash or cgrp_storage)")
    compiled = compile_regexps(d.get("regexps"), path, "cgroup_id_map")
    return CgroupIdMapConf(name, typ, compiled, path)


class CgroupIdMap:
    """Keeps one program's cgroup id map in step with the cgroup tree (``sync()``)."""

    def __init__(self, conf: CgroupIdMapConf, m, root: str | None):
        from .._sys.uapi import MapType
        want = (MapType.CGRP_STORAGE, 4) if conf.type == "cgrp_storage" else (None, 8)
        if want[0] is not None and m.type != want[0] or m.key_size != want[1]:
            raise ConfigError(conf.path, f"map {conf.name!r} does not fit type {conf.type} "
                              f"(a {conf.type} map with {want[1]}-byte keys)")
        if m.value_size != 8:
            raise ConfigError(conf.path, f"map {conf.name!r} has {m.value_size}-byte values; "
                              "cgroup_id_map needs u64 values")
        self.conf, self.map, self.root = conf, m, root
        self._ids: set[int] = set()
        self._last = 0.0
        self._lock = threading.Lock()
        self._inotify = -1
        self._wake = None
        self._thread = None

    # -- watching for new cgroups -------------------------------------------------------
    def watch(self) -> None:
        """Start the thread that resyncs when a cgroup directory appears or goes."""
        import ctypes
        if self.root is None or self._thread is not None:
            return
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return                        # no inotify: the scrape-time walk still runs
        self._inotify, self._add = fd, libc.inotify_add_watch
        self._wake = os.pipe2(os.O_CLOEXEC)
        self.sync(force=True)             # now with watches on every directory
        self._thread = threading.Thread(target=self._run, name="cgroup_id_map",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd, stop = self._inotify, self._wake[0]
        while True:
            r, _, _ = select.select([fd, stop], [], [])
            if stop in r:
                return
            try:
                while os.read(fd, 65536):    # drain: one walk covers every event
                    pass
            except BlockingIOError:
                pass
            except OSError:
                return
            try:
                self.sync(force=True)
            except Exception:             # a map update failing must not end the thread
                pass

    def close(self) -> None:
        """Stop the watcher thread (idempotent)."""
        if self._thread is not None:
            os.write(self._wake[1], b"x")
            self._thread.join()
            self._thread = None
        if self._wake is not None:
            for f in self._wake:
                os.close(f)
            self._wake = None
        if self._inotify >= 0:
            os.close(self._inotify)
            self._inotify = -1

    def _matches(self, path: str) -> bool:
        return any(r.search(path) for r in self.conf.regexps)

    def sync(self, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if self.root is None or not force and now - self._last < 1.0:
                return
            self._last = now
            self._sync()

    def _sync(self) -> None:
        one = (1).to_bytes(8, "little")
        seen: set[int] = set()
        watch = self._inotify
        for dirpath, _dirs, _files in os.walk(self.root):
            if watch >= 0:                # IN_CREATE | IN_DELETE | IN_ONLYDIR
                self._add(watch, os.fsencode(dirpath), 0x100 | 0x200 | 0x01000000)
            if not self._matches(dirpath):       # ebpf_exporter matches the full path
                continue
            try:
                if self.conf.type == "hash":
                    cgid = os.stat(dirpath).st_ino
                    seen.add(cgid)
                    if cgid not in self._ids:
                        self.map.update(cgid.to_bytes(8, "little"), one)
                else:
                    fd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY)
                    try:
                        self.map.update(fd.to_bytes(4, "little"), one)
                    finally:
                        os.close(fd)
            except OSError:
                continue                     # removed while walking
        for gone in self._ids - seen:
            try:
                del self.map[gone.to_bytes(8, "little")]
            except KeyError:
                pass
        self._ids = seen
