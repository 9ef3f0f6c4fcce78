"""ebpf_exporter's ``cgroup_id_map``: a map of the program that the exporter fills with the
cgroups whose path matches one of ``regexps``, so the program can count only those.

``type: hash`` (the default): a hash map keyed by the cgroup id (u64), value 1; cgroups
that are gone are deleted.  ``type: cgrp_storage``: a cgroup local storage map; the
exporter stores 1 for each matching cgroup (the kernel drops it with the cgroup).  The
cgroup v2 tree is walked at load and again before each scrape (at most once a second),
where ebpf_exporter listens to fanotify: new cgroups are seen at the next scrape.
"""

from __future__ import annotations

import os
import re
import time

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
    exprs = d.get("regexps")
    if not isinstance(exprs, list) or not exprs:
        raise ConfigError(f"{path}.regexps", "cgroup_id_map needs a non-empty list 'regexps'")
    compiled = []
    for i, e in enumerate(exprs):
        try:
            compiled.append(re.compile(str(e)))
        except re.error as err:
            raise ConfigError(f"{path}.regexps[{i}]", f"bad regular expression {e!r}: {err}")
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

    def _matches(self, path: str) -> bool:
        return any(r.search(path) for r in self.conf.regexps)

    def sync(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.root is None or not force and now - self._last < 1.0:
            return
        self._last = now
        one = (1).to_bytes(8, "little")
        seen: set[int] = set()
        for dirpath, _dirs, _files in os.walk(self.root):
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
