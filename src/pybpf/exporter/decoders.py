"""Label decoders: turn the bytes of one field of a map key into a Prometheus label value.

A label names a chain of decoders; each takes the previous one's output (the raw field
bytes for the first) and returns bytes or text.  Numeric decoders (``ksym``, ``syscall``,
``cgroup``, ``majorminor``) take either the raw little-endian bytes or the text of a
number (after ``uint``), so ``[uint, static_map]`` and ``[ksym]`` both work, as in
Cloudflare's ebpf_exporter, whose decoder names and meanings these follow.

``make_chain(confs, path, size)`` checks a label's decoder configs (errors name the path
into the config) and returns one callable; kernel-side tables (kallsyms, cgroup paths,
syscall names, block devices) are read on first use and shared through a
:class:`Context`.
"""

from __future__ import annotations

import os
import re

from .errors import ConfigError, DecodeError, Skip, Unresolved


# -- helpers -------------------------------------------------------------------------------

def _as_int(v) -> int:
    if isinstance(v, (bytes, bytearray)):
        return int.from_bytes(v, "little")
    try:
        return int(v, 0) if isinstance(v, str) else int(v)
    except ValueError:
        raise DecodeError(f"not a number: {v!r}") from None


def _as_text(v) -> str:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).split(b"\0", 1)[0].decode("utf-8", "replace")
    return v


# -- kernel-side tables, read once per exporter ----------------------------------------------

class Context:
    """Tables the decoders share: kernel symbols, syscall names, cgroup paths, disks."""

    def __init__(self, kallsyms: str = "/proc/kallsyms", cgroup_root: str | None = None,
                 cgroup_full_paths: bool = False):
        self._kallsyms_path = kallsyms
        self.cgroup_full_paths = cgroup_full_paths   # ebpf_exporter: /sys/fs/cgroup/a/b
        self._ksyms = None
        self._syscalls: dict[int, str] | None = None
        self._cgroup_root = cgroup_root
        self._cgroups: dict[int, str] = {}
        self._cgroup_scanned = 0.0
        self._disks: dict[tuple[int, int], str] = {}
        self._pci = None

    def ksym(self, addr: int) -> str:
        if self._ksyms is None:
            from ..bcc.syms import KernelSymbols
            self._ksyms = KernelSymbols(self._kallsyms_path)
        r = self._ksyms.resolve(addr)
        return r[0] if r else f"unknown_addr:0x{addr:x}"

    def kstack(self, addrs) -> str:
        """A kernel stack's frames as function names, one a line (``??`` if unknown)."""
        if self._ksyms is None:
            self.ksym(0)
        resolve = self._ksyms.resolve
        return "\n".join((resolve(a) or ("??",))[0] for a in addrs)

    def pci(self):
        """The PCI ID database (pci.ids), read on first use."""
        if self._pci is None:
            from .pciids import PciIds
            self._pci = PciIds.load()
        return self._pci

    def syscall(self, nr: int) -> str:
        if self._syscalls is None:
            self._syscalls = syscall_table()
        return self._syscalls.get(nr, f"unknown_syscall:{nr}")

    def cgroup(self, cgid: int) -> str:
        """The path of a cgroup v2 id (its directory inode) under the unified mount."""
        path = self._cgroups.get(cgid)
        if path is None:
            import time
            now = time.monotonic()
            if now - self._cgroup_scanned > 1.0:   # a new cgroup: walk again, not too often
                self._cgroup_scanned = now
                self._scan_cgroups()
                path = self._cgroups.get(cgid)
        if path is None:
            raise Unresolved(f"unknown_cgroup_id:{cgid}")
        return path

    def cgroup_root(self) -> str | None:
        return self._cgroup_root or cgroup2_mount()

    def _scan_cgroups(self) -> None:
        root = self.cgroup_root()
        if root is None:
            return
        found: dict[int, str] = {}
        for dirpath, dirnames, _ in os.walk(root):
            try:
                ino = os.stat(dirpath).st_ino
            except OSError:
                continue
            rel = os.path.relpath(dirpath, root)
            if self.cgroup_full_paths:
                found[ino] = dirpath
            else:
                found[ino] = "/" if rel == "." else "/" + rel
            if len(found) > 100000:
                break
        self._cgroups = found

    def disk(self, dev: int) -> str:
        """The name of a block device from a dev_t as user space encodes it (glibc's
        makedev(), ebpf_exporter's MKDEV(): minor's low byte, major << 8, minor's upper
        bits << 12); ``unknown:major:minor`` while no such device exists."""
        key = (((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff),
               (dev & 0xff) | ((dev >> 12) & ~0xff))
        name = self._disks.get(key)
        if name is None:
            name = f"unknown:{key[0]}:{key[1]}"
            try:
                with open(f"/sys/dev/block/{key[0]}:{key[1]}/uevent") as f:
                    for line in f:
                        if line.startswith("DEVNAME="):
                            name = line.strip()[8:]
            except OSError:
                raise Unresolved(name) from None   # the device may appear later
            self._disks[key] = name
        return name


def cgroup2_mount() -> str | None:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup`` or, on hybrid
    systems, ``/sys/fs/cgroup/unified``)."""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                parts = line.split(" - ")
                if len(parts) == 2 and parts[1].split()[0] == "cgroup2":
                    return parts[0].split()[4]
    except OSError:
        pass
    return None


_NR_RE = re.compile(r"^#define\s+__NR_(\w+)\s+(\d+)\s*$", re.M)
_UNISTD = ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h",
           "/usr/include/aarch64-linux-gnu/asm/unistd.h", "/usr/include/asm-generic/unistd.h")


def syscall_table(paths=_UNISTD) -> dict[int, str]:
    """System call number -> name for this machine, from the kernel's UAPI header."""
    arch = os.uname().machine
    for p in paths:
        if arch == "x86_64" and "aarch64" in p or arch == "aarch64" and "x86_64" in p:
            continue
        try:
            with open(p) as f:
                text = f.read()
        except OSError:
            continue
        table = {int(nr): name for name, nr in _NR_RE.findall(text)}
        if table:
            return table
    return {}


# -- the decoders: name -> factory(conf, path, ctx) -> callable ------------------------------

def _uint(conf, path, ctx):
    def dec(v):
        if isinstance(v, (bytes, bytearray)):
            if len(v) not in (1, 2, 4, 8):
                raise DecodeError(f"uint needs 1, 2, 4 or 8 bytes, got {len(v)}")
            return str(int.from_bytes(v, "little"))
        return str(_as_int(v))
    return dec


def _string(conf, path, ctx):
    return _as_text


def _hex(conf, path, ctx):
    return lambda v: bytes(v).hex() if isinstance(v, (bytes, bytearray)) else \
        format(_as_int(v), "x")


def _static_map(conf, path, ctx):
    table = conf.get("static_map")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{path}.static_map", "static_map needs a mapping of values to "
                          "labels (e.g. {0: read, 1: write})")
    mapping = {str(k): str(v) for k, v in table.items()}
    allow = _bool(conf, "allow_unknown", path)

    def dec(v):
        key = _as_text(v) if isinstance(v, (bytes, bytearray)) else v
        out = mapping.get(key)
        if out is None:
            return key if allow else f"unknown:{key}"
        return out
    return dec


def compile_regexps(exprs, path: str, owner: str) -> list:
    """A config's ``regexps:`` list (of a regexp decoder or a cgroup_id_map), compiled; a
    missing list or a bad expression is a ConfigError naming its place."""
    if not isinstance(exprs, list) or not exprs:
        raise ConfigError(f"{path}.regexps", f"{owner} needs a non-empty list 'regexps'")
    compiled = []
    for i, e in enumerate(exprs):
        try:
            compiled.append(re.compile(str(e)))
        except re.error as err:
            raise ConfigError(f"{path}.regexps[{i}]", f"bad regular expression {e!r}: {err}")
    return compiled


def _regexp(conf, path, ctx):
    compiled = compile_regexps(conf.get("regexps"), path, "regexp")

    def dec(v):
        # as ebpf_exporter: the first expression that matches gives the label, its one
        # capture group if it has one, else the matched text; no match leaves the series out
        text = _as_text(v)
        for r in compiled:
            m = r.search(text)
            if m is None or r.groups > 1:
                continue
            return m.group(r.groups)
        raise Skip()
    return dec


def _ksym(conf, path, ctx):
    return lambda v: ctx.ksym(_as_int(v))


def _syscall(conf, path, ctx):
    return lambda v: ctx.syscall(_as_int(v))


def _cgroup(conf, path, ctx):
    return lambda v: ctx.cgroup(_as_int(v))


def _majorminor(conf, path, ctx):
    return lambda v: ctx.disk(_as_int(v))


def _inet_ip(conf, path, ctx):
    import ipaddress

    def dec(v):
        if not isinstance(v, (bytes, bytearray)):
            raise DecodeError("inet_ip needs the raw address bytes (4 or 16)")
        if len(v) == 4:
            return str(ipaddress.IPv4Address(bytes(v)))
        if len(v) == 16:
            a = ipaddress.IPv6Address(bytes(v))
            return str(a.ipv4_mapped or a)
        raise DecodeError(f"inet_ip needs 4 or 16 bytes, got {len(v)}")
    return dec


def _dname(conf, path, ctx):
    def dec(v):
        raw = bytes(v) if isinstance(v, (bytes, bytearray)) else v.encode()
        labels = []
        i = 0
        while i < len(raw):
            n = raw[i]
            if n == 0:
                break
            if n > 63 or i + 1 + n > len(raw):
                raise DecodeError("malformed DNS name")
            labels.append(raw[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        return ".".join(labels) if labels else "."
    return dec


# Go's names where Linux has two for one number (Python's errno table keeps the alias)
_ERRNO_NAMES = {11: "EAGAIN", 35: "EDEADLK", 95: "EOPNOTSUPP"}


def _errno(conf, path, ctx):
    import errno as _e

    def dec(v):
        nr = _as_int(v)
        return _ERRNO_NAMES.get(nr) or _e.errorcode.get(nr) or f"unknown:{nr}"
    return dec


def _ifname(conf, path, ctx):
    import socket

    def dec(v):
        idx = _as_int(v[:4] if isinstance(v, (bytes, bytearray)) else v)
        try:
            return socket.if_indextoname(idx)
        except (OSError, OverflowError):
            return f"unknown:{idx}"
    return dec


def _kstack(conf, path, ctx):
    def dec(v):
        if not isinstance(v, (bytes, bytearray)) or len(v) % 8:
            raise DecodeError("kstack needs the raw stack: 8-byte kernel addresses")
        addrs = []
        for off in range(0, len(v), 8):
            a = int.from_bytes(v[off:off + 8], "little")
            if not a:                         # the stack ends at the first zero slot
                break
            addrs.append(a)
        return ctx.kstack(addrs)
    return dec


def _pci(kind):
    def factory(conf, path, ctx):
        return lambda v: ctx.pci().name(kind, _as_int(v))
    return factory


DECODERS = {"uint": _uint, "string": _string, "hex": _hex, "static_map": _static_map,
            "regexp": _regexp, "ksym": _ksym, "syscall": _syscall, "cgroup": _cgroup,
            "majorminor": _majorminor, "inet_ip": _inet_ip, "dname": _dname,
            "errno": _errno, "ifname": _ifname, "kstack": _kstack,
            "pci_vendor": _pci("vendor"), "pci_device": _pci("device"),
            "pci_class": _pci("class"), "pci_subclass": _pci("subclass")}
_KEYS = {"name", "static_map", "allow_unknown", "regexps"}


def _bool(conf, key, path) -> bool:
    v = conf.get(key, False)
    if not isinstance(v, bool):
        raise ConfigError(f"{path}.{key}", f"{key} must be true or false, not {v!r}")
    return v


def make_chain(confs, path: str, size: int, ctx: Context):
    """One callable for a label's decoder list (the config checked on the way)."""
    if not isinstance(confs, list) or not confs:
        raise ConfigError(f"{path}", "a label needs a non-empty list of decoders")
    funcs = []
    for i, conf in enumerate(confs):
        p = f"{path}[{i}]"
        if isinstance(conf, str):
            conf = {"name": conf}
        if not isinstance(conf, dict):
            raise ConfigError(p, f"a decoder is a mapping with a name, not {conf!r}")
        name = conf.get("name")
        if isinstance(name, str) and name.startswith("kube_"):
            raise ConfigError(p, f"decoder {name!r} (Kubernetes pod and container names) is "
                              "not supported by pybpf exporter")
        if name not in DECODERS:
            known = ", ".join(sorted(DECODERS))
            raise ConfigError(p, f"unknown decoder {name!r} (known: {known})"
                              if name is not None else f"a decoder needs a name ({known})")
        extra = set(conf) - _KEYS
        if extra:
            raise ConfigError(p, f"unknown key {sorted(extra)[0]!r} in decoder {name!r}")
        if i == 0 and name == "uint" and size not in (1, 2, 4, 8):
            raise ConfigError(p, f"uint decodes 1, 2, 4 or 8 bytes; the label has {size}")
        if i == 0 and name == "kstack" and size % 8:
            raise ConfigError(p, f"kstack decodes 8-byte addresses; the label has {size} "
                              "bytes")
        if i == 0 and name == "inet_ip" and size not in (4, 16):
            raise ConfigError(p, f"inet_ip decodes 4 or 16 bytes; the label has {size}")
        funcs.append(DECODERS[name](conf, p, ctx))
    if len(funcs) == 1:
        f0 = funcs[0]
        return lambda v: _final(f0(v))

    def chain(v):
        unresolved = False
        for f in funcs:
            try:
                v = f(v)
            except Unresolved as u:      # go on with its stand-in, say so at the end
                v, unresolved = u.text, True
        if unresolved:
            raise Unresolved(_final(v))
        return _final(v)
    return chain


def _final(v) -> str:
    return _as_text(v) if isinstance(v, (bytes, bytearray)) else str(v)
