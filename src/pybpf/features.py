"""Probes of the running kernel, in the spirit of ``bpftool feature probe``; ``pybpf features``.

Every probe creates a tiny object named ``pybpf_probe`` and closes it at once.
Results are memoized on the :class:`Features` instance (make a new one to re-probe).
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import re
import struct
import sys
import time
from typing import Any, Callable

from . import errors
from ._sys import attr, syscall
from ._sys.uapi import AttachType, Cmd, MapFlag, MapType, ProgFlag, ProgType
from .fd import FD

__all__ = ["Features", "format_table", "main", "effective_capabilities", "has_capability",
           "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_PERFMON", "CAP_BPF"]

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39
ENOTSUPP = 524
PROBE_NAME = b"pybpf_probe"
TRAMPOLINE_TARGET = "bpf_fentry_test1"   # a kernel function that exists to be traced
_MAX_HELPER_ID = 1024                    # upper bound for the search of the last helper id
_INVALID_FUNC = re.compile(r"(invalid|unknown) func ")
_HELPER_NAME = re.compile(r"call (\w+)#(\d+)")

# r0 = 0; exit
_RET0 = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)

# Program types the kernel only loads with a matching expected_attach_type (or flags).
_LOAD_EXTRA: dict[ProgType, dict[str, int]] = {
    ProgType.CGROUP_SOCK_ADDR: {"expected_attach_type": 10},  # BPF_CGROUP_INET4_CONNECT
    ProgType.SK_LOOKUP: {"expected_attach_type": AttachType.SK_LOOKUP},
    ProgType.NETFILTER: {"expected_attach_type": AttachType.NETFILTER},
    ProgType.CGROUP_SOCKOPT: {"expected_attach_type": AttachType.CGROUP_GETSOCKOPT},
    ProgType.SYSCALL: {"prog_flags": ProgFlag.SLEEPABLE},
    # attach_btf_id 1 is no function: a kernel that knows the type fails on the target.
    ProgType.TRACING: {"expected_attach_type": AttachType.TRACE_FENTRY, "attach_btf_id": 1},
    ProgType.EXT: {"attach_btf_id": 1},
    ProgType.LSM: {"expected_attach_type": AttachType.LSM_MAC, "attach_btf_id": 1},
    ProgType.STRUCT_OPS: {"attach_btf_id": 1},
}
# errno that, for these types, proves the kernel knows the type (it got to the target check).
_KNOWN_ERRNO: dict[ProgType, tuple[int, ...]] = {
    ProgType.STRUCT_OPS: (ENOTSUPP, _errno.EINVAL),
    ProgType.TRACING: (_errno.EINVAL, _errno.ESRCH, _errno.ENOENT),
    ProgType.EXT: (_errno.EINVAL, _errno.ESRCH, _errno.ENOENT),
    ProgType.LSM: (_errno.EINVAL, _errno.EACCES, _errno.ESRCH, _errno.ENOENT),
}


def effective_capabilities() -> int:
    """The CapEff bit mask of this process, from /proc/self/status."""
    from .caps import effective
    return effective()


def has_capability(bit: int) -> bool:
    """Whether capability number ``bit`` (e.g. CAP_BPF = 39) is effective."""
    return bool(effective_capabilities() >> bit & 1)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _try_load(prog_type: int, insns: bytes = _RET0, log_level: int = 0,
              **fields: int) -> tuple[FD | None, int, str]:
    """One BPF_PROG_LOAD: (fd or None, errno, log)."""
    ib = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(1 << 16) if log_level else None
    a = attr.ProgLoad(prog_type=int(prog_type), insn_cnt=len(insns) // 8,
                      insns=ctypes.addressof(ib), license=ctypes.addressof(lic),
                      prog_name=PROBE_NAME, log_level=log_level,
                      log_size=ctypes.sizeof(log) if log else 0, log_buf=syscall.addr(log),
                      **{k: int(v) for k, v in fields.items()})
    try:
        fd = FD(syscall.bpf(Cmd.PROG_LOAD, a))
        return fd, 0, log.value.decode(errors="replace") if log else ""
    except errors.KernelError as e:
        return None, e.errno or 0, log.value.decode(errors="replace") if log else ""


def _try_map(**fields: Any) -> int:
    """One BPF_MAP_CREATE, closed at once: 0 on success, else the errno."""
    try:
        os.close(syscall.bpf(Cmd.MAP_CREATE, attr.MapCreate(map_name=PROBE_NAME, **fields)))
        return 0
    except errors.KernelError as e:
        return e.errno or _errno.EINVAL


def _probe_btf() -> bytes:
    """A BTF blob with one type, ``int`` (id 1), for maps that insist on BTF."""
    strings = b"\0int\0"
    types = struct.pack("<III", 1, 1 << 24, 4) + struct.pack("<I", (1 << 24) | 32)
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return hdr + types + strings


def _load_btf(blob: bytes) -> FD:
    b = ctypes.create_string_buffer(blob, len(blob))
    return FD(syscall.bpf(Cmd.BTF_LOAD, attr.BtfLoad(btf=ctypes.addressof(b),
                                                     btf_size=len(blob))))


# Extra bytes after the 12-byte header of each BTF kind: (fixed, per vlen entry).
_BTF_KIND_EXTRA = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8),
                   14: (4, 0), 15: (0, 12), 17: (4, 0), 19: (0, 12)}


def _scan_btf_func(path: str, name: str) -> int | None:
    """The type id of FUNC ``name`` in a BTF file: a minimal scan, used without pybpf.btf."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        magic, _, _, hlen, toff, tlen, soff, slen = struct.unpack_from("<HBBIIIII", data)
    except (OSError, struct.error):
        return None
    if magic != 0xEB9F:
        return None
    strs = data[hlen + soff: hlen + soff + slen]
    at = strs.find(b"\0" + name.encode() + b"\0")
    if at < 0:
        return None
    want, pos, end, tid = at + 1, hlen + toff, hlen + toff + tlen, 1
    while pos + 12 <= end:
        name_off, info = struct.unpack_from("<II", data, pos)
        kind, vlen = info >> 24 & 0x1F, info & 0xFFFF
        if kind == 12 and name_off == want:
            return tid
        fixed, per = _BTF_KIND_EXTRA.get(kind, (0, 0))
        pos += 12 + fixed + per * vlen
        tid += 1
    return None


def _vmlinux_func_id(name: str) -> int | None:
    """BTF id of kernel function ``name`` in vmlinux BTF (None when absent)."""
    try:
        from .btf import kernel as btf_kernel  # type: ignore[attr-defined]
        from .btf import Kind  # type: ignore[attr-defined]
        return btf_kernel.load_vmlinux().find_one(name, Kind.FUNC).id
    except ImportError:
        return _scan_btf_func("/sys/kernel/btf/vmlinux", name)
    except errors.PybpfError:
        return None
    except (KeyError, LookupError, AttributeError):
        return _scan_btf_func("/sys/kernel/btf/vmlinux", name)


class Features:
    """What the running kernel supports; each probe runs once per instance."""

    def __init__(self) -> None:
        self._memo: dict[Any, Any] = {}
        self.helper_names: dict[int, str] = {}   # filled by helper probes from verifier logs
        self.notes: dict[str, str] = {}          # why a hook is absent, for the table

    def _once(self, key: Any, fn: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    # ---- program and map types -------------------------------------------------------

    def prog_type(self, t: ProgType | int) -> bool:
        """True when this kernel loads programs of type ``t`` (for us, now)."""
        return self._once(("prog", int(t)), lambda: self._probe_prog_type(int(t)))

    def _probe_prog_type(self, t: int) -> bool:
        extra = _LOAD_EXTRA.get(_maybe(ProgType, t), {})
        fd, err, _ = _try_load(t, **extra)
        if fd is not None:
            fd.close()
            return True
        return err in _KNOWN_ERRNO.get(_maybe(ProgType, t), ())

    def prog_types(self) -> dict[ProgType, bool]:
        return {t: self.prog_type(t) for t in ProgType if t != ProgType.UNSPEC}

    def map_type(self, t: MapType | int) -> bool:
        """True when BPF_MAP_CREATE accepts a small map of type ``t``."""
        return self._once(("map", int(t)), lambda: self._probe_map_type(int(t)))

    def _probe_map_type(self, t: int) -> bool:
        key, value, entries, flags, known = 4, 4, 1, 0, (0,)
        extra: dict[str, int] = {}
        if t == MapType.STACK_TRACE:
            value = 8
        elif t == MapType.LPM_TRIE:
            key, value, flags = 8, 8, MapFlag.NO_PREALLOC
        elif t in (MapType.CGROUP_STORAGE, MapType.PERCPU_CGROUP_STORAGE):
            key, value, entries = 16, 8, 0   # struct bpf_cgroup_storage_key
        elif t in (MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER):
            key = 0
        elif t in (MapType.RINGBUF, MapType.USER_RINGBUF):
            key, value, entries = 0, 0, os.sysconf("SC_PAGE_SIZE")
        elif t == MapType.ARENA:
            key, value, flags = 0, 0, MapFlag.MMAPABLE
        elif t == MapType.STRUCT_OPS:
            # A bogus vmlinux value type: a kernel that knows the map type says ENOTSUPP.
            extra["btf_vmlinux_value_type_id"], known = 1, (0, ENOTSUPP, _errno.EINVAL)
        elif t in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
            return self._probe_map_in_map(t)
        elif t in (MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE,
                   MapType.CGRP_STORAGE):
            return self._probe_storage_map(t)
        err = _try_map(map_type=t, key_size=key, value_size=value, max_entries=entries,
                       map_flags=flags, **extra)
        return err in known

    def _probe_map_in_map(self, t: int) -> bool:
        try:
            inner = FD(syscall.bpf(Cmd.MAP_CREATE, attr.MapCreate(
                map_type=MapType.ARRAY, key_size=4, value_size=4, max_entries=1,
                map_name=PROBE_NAME)))
        except errors.KernelError:
            return False
        with inner:
            return _try_map(map_type=t, key_size=4, value_size=4, max_entries=1,
                            inner_map_fd=inner.fileno()) == 0

    def _probe_storage_map(self, t: int) -> bool:
        if not self.has_btf():
            return False
        try:
            btf = _load_btf(_probe_btf())
        except errors.KernelError:
            return False
        with btf:
            return _try_map(map_type=t, key_size=4, value_size=4, max_entries=0,
                            map_flags=MapFlag.NO_PREALLOC, btf_fd=btf.fileno(),
                            btf_key_type_id=1, btf_value_type_id=1) == 0

    def map_types(self) -> dict[MapType, bool]:
        return {t: self.map_type(t) for t in MapType if t != MapType.UNSPEC}

    # ---- helpers -------------------------------------------------------------------

    def max_helper_id(self) -> int:
        """The highest helper id this kernel knows (it answers "invalid func" above it)."""
        return self._once("max_helper", self._probe_max_helper)

    def _probe_max_helper(self) -> int:
        lo, hi = 0, _MAX_HELPER_ID      # invariant: lo known (or 0), hi unknown
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._helper_verdict(ProgType.SOCKET_FILTER, mid) is None:
                hi = mid
            else:
                lo = mid
        return lo

    def _helper_verdict(self, prog_type: int, helper_id: int) -> bool | None:
        """None: unknown helper; False: not for this type; True: usable."""
        call = struct.pack("<BBhi", 0x85, 0, 0, helper_id) + struct.pack("<BBhi", 0x95, 0, 0, 0)
        extra = _LOAD_EXTRA.get(_maybe(ProgType, prog_type), {})
        # Log level 2 prints the call (with the helper's name) even when the load succeeds.
        fd, err, log = _try_load(prog_type, call, log_level=2, **extra)
        m = _HELPER_NAME.search(log)
        if m and not m.group(1).startswith("unknown"):
            self.helper_names.setdefault(int(m.group(2)), m.group(1))
        if fd is not None:
            fd.close()
            return True
        if _INVALID_FUNC.search(log):
            return None
        if "cannot use helper" in log or not m:
            return False  # no call in the log: the program itself did not get verified
        return True  # the verifier went on to check arguments: the helper is allowed

    def helper(self, prog_type: ProgType | int, helper_id: int) -> bool:
        """Whether programs of ``prog_type`` may call helper ``helper_id``."""
        return self._once(("helper", int(prog_type), helper_id),
                          lambda: bool(self._helper_verdict(int(prog_type), helper_id)))

    def helpers(self, prog_type: ProgType | int) -> dict[int, bool]:
        """Every helper id the kernel knows -> whether ``prog_type`` programs may call it.

        Empty for types that only load against a BTF target (tracing, ext, lsm, struct_ops).
        """
        if _maybe(ProgType, int(prog_type)) in _KNOWN_ERRNO:
            return {}
        if not self.prog_type(prog_type):
            return {i: False for i in range(1, self.max_helper_id() + 1)}
        return {i: self.helper(prog_type, i) for i in range(1, self.max_helper_id() + 1)}

    # ---- hooks and system settings -------------------------------------------------

    def has_btf(self) -> bool:
        """vmlinux BTF is exposed (CONFIG_DEBUG_INFO_BTF)."""
        return os.path.exists("/sys/kernel/btf/vmlinux")

    def has_kprobes(self) -> bool:
        """Kprobes exist (tracefs kprobe_events; CONFIG_KPROBE_EVENTS)."""
        return any(os.path.exists(os.path.join(r, "kprobe_events"))
                   for r in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")) or \
            os.path.exists("/sys/bus/event_source/devices/kprobe")

    def has_uprobes(self) -> bool:
        return any(os.path.exists(os.path.join(r, "uprobe_events"))
                   for r in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")) or \
            os.path.exists("/sys/bus/event_source/devices/uprobe")

    def has_tracepoints(self) -> bool:
        return any(os.path.isdir(os.path.join(r, "events"))
                   for r in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"))

    def has_trampolines(self) -> bool:
        """fentry/fexit work: a TRACING program loads and attaches to a kernel function."""
        return self._once("trampolines", self._probe_trampolines)

    def _probe_trampolines(self) -> bool:
        if not self.has_btf():
            self.notes["fentry"] = "no vmlinux BTF"
            return False
        btf_id = _vmlinux_func_id(TRAMPOLINE_TARGET)
        if btf_id is None:
            self.notes["fentry"] = f"{TRAMPOLINE_TARGET} not in vmlinux BTF"
            return False
        fd, err, _ = _try_load(ProgType.TRACING, expected_attach_type=AttachType.TRACE_FENTRY,
                               attach_btf_id=btf_id)
        if fd is None:
            self.notes["fentry"] = f"load refused ({_errno.errorcode.get(err, err)})"
            return False
        with fd:
            err = self._link_create(fd, 0, AttachType.TRACE_FENTRY)
        if err is not None:
            self.notes["fentry"] = f"attach refused ({_errno.errorcode.get(err, err)})"
        return err is None

    def has_lsm(self) -> bool:
        """BPF LSM programs work: "bpf" is an active LSM and trampolines work."""
        def probe() -> bool:
            try:
                with open("/sys/kernel/security/lsm") as f:
                    active = "bpf" in f.read().split(",")
            except OSError:
                self.notes["lsm"] = "/sys/kernel/security/lsm unreadable (securityfs)"
                return False
            if not active:
                self.notes["lsm"] = "bpf is not in the active LSM list (lsm= boot option)"
                return False
            return self.has_trampolines()
        return self._once("lsm", probe)

    def has_link_create(self) -> bool:
        """BPF_LINK_CREATE exists (an unknown command would be EINVAL, not EBADF)."""
        def probe() -> bool:
            try:
                syscall.bpf(Cmd.LINK_CREATE, attr.LinkCreate(prog_fd=0xFFFFFFFF))
            except errors.KernelError as e:
                return e.errno == _errno.EBADF
            return True
        return self._once("link_create", probe)

    def _link_create(self, prog: FD, target: int, attach_type: int, **tail: Any) -> int | None:
        """BPF_LINK_CREATE, closing any link at once: None on success, else the errno."""
        a = attr.LinkCreate(prog_fd=prog.fileno(), target_fd=target, attach_type=attach_type)
        for name, value in tail.items():
            setattr(a.u, name, value)
        try:
            os.close(syscall.bpf(Cmd.LINK_CREATE, a))
            return None
        except errors.KernelError as e:
            return e.errno

    def _link_probe(self, key: str, prog_type: int, attach_type: int, target: int,
                    ok: tuple[int, ...], **tail: Any) -> bool:
        """Load a trivial program for ``attach_type``; a link error in ``ok`` proves support."""
        def probe() -> bool:
            fd, err, _ = _try_load(prog_type, expected_attach_type=attach_type)
            if fd is None:
                self.notes[key] = f"load refused ({_errno.errorcode.get(err, err)})"
                return False
            with fd:
                err2 = self._link_create(fd, target, attach_type, **tail)
            if err2 is not None and err2 not in ok:
                self.notes[key] = f"link refused ({_errno.errorcode.get(err2, err2)})"
            return err2 is None or err2 in ok
        return self._once(key, probe)

    def has_tcx(self) -> bool:
        # ifindex 0 names no device: a kernel with tcx gets as far as ENODEV.
        return self._link_probe("tcx", ProgType.SCHED_CLS, AttachType.TCX_INGRESS, 0,
                                (_errno.ENODEV,))

    def has_netkit(self) -> bool:
        return self._link_probe("netkit", ProgType.SCHED_CLS, AttachType.NETKIT_PRIMARY, 0,
                                (_errno.ENODEV,))

    def has_kprobe_multi(self) -> bool:
        # One symbol that does not exist: with fprobe support the lookup fails (ENOENT/ESRCH).
        sym = ctypes.create_string_buffer(b"pybpf_no_such_function")
        syms = (ctypes.c_uint64 * 1)(ctypes.addressof(sym))
        from ._sys.attr import _LinkTarget
        km = _LinkTarget._KprobeMulti(cnt=1, syms=ctypes.addressof(syms))
        return self._link_probe("kprobe_multi", ProgType.KPROBE, AttachType.TRACE_KPROBE_MULTI,
                                0, (_errno.ENOENT, _errno.ESRCH), kprobe_multi=km)

    def has_uprobe_multi(self) -> bool:
        # Path "/" is a directory: a kernel with uprobe_multi rejects it with EBADF.
        path = ctypes.create_string_buffer(b"/")
        offs = (ctypes.c_uint64 * 1)(0)
        from ._sys.attr import _LinkTarget
        um = _LinkTarget._UprobeMulti(path=ctypes.addressof(path),
                                      offsets=ctypes.addressof(offs), cnt=1)
        return self._link_probe("uprobe_multi", ProgType.KPROBE, AttachType.TRACE_UPROBE_MULTI,
                                0, (_errno.EBADF,), uprobe_multi=um)

    def hooks(self) -> dict[str, bool]:
        """Attach mechanisms, by name."""
        return {
            "btf": self.has_btf(), "tracepoint": self.has_tracepoints(),
            "raw_tracepoint": self.prog_type(ProgType.RAW_TRACEPOINT),
            "kprobe": self.has_kprobes(), "uprobe": self.has_uprobes(),
            "fentry": self.has_trampolines(), "lsm": self.has_lsm(),
            "link_create": self.has_link_create(), "tcx": self.has_tcx(),
            "netkit": self.has_netkit(), "kprobe_multi": self.has_kprobe_multi(),
            "uprobe_multi": self.has_uprobe_multi(),
        }

    def btf_kinds(self):
        """Which BTF kinds BPF_BTF_LOAD takes (:class:`pybpf.object.btfprobe.BtfKinds`):
        what an object's BTF must be rewritten from for an older kernel."""
        from .object.btfprobe import probe
        return self._once("btf_kinds", probe)

    def unprivileged_bpf_disabled(self) -> int | None:
        """kernel.unprivileged_bpf_disabled: 0 allowed, 1 off for good, 2 off (admin may undo)."""
        return _read_int("/proc/sys/kernel/unprivileged_bpf_disabled")

    def jit_enabled(self) -> bool:
        return bool(_read_int("/proc/sys/net/core/bpf_jit_enable"))

    def system(self) -> dict[str, Any]:
        return {"unprivileged_bpf_disabled": self.unprivileged_bpf_disabled(),
                "jit_enabled": self.jit_enabled(),
                "jit_harden": _read_int("/proc/sys/net/core/bpf_jit_harden"),
                "cap_bpf": has_capability(CAP_BPF), "cap_perfmon": has_capability(CAP_PERFMON),
                "cap_sys_admin": has_capability(CAP_SYS_ADMIN)}


def _maybe(enum: Any, value: int) -> Any:
    try:
        return enum(value)
    except ValueError:
        return value


def type_name(t: Any) -> str:
    """bpftool's name for a program or map type (``cgroup_storage``, not ``..._deprecated``)."""
    return t.name.lower().removesuffix("_deprecated")


def _yn(v: bool) -> str:
    return "yes" if v else "no"


def _helper_label(f: Features, i: int) -> str:
    return f.helper_names.get(i, f"helper#{i}")


def format_table(f: Features, helpers: bool = False) -> str:
    """The probe results as text, one ``name  yes/no`` row per feature."""
    out = [f"kernel {os.uname().release}", "", "system:"]
    for k, v in f.system().items():
        out.append(f"  {k:<32} {_yn(v) if isinstance(v, bool) else v}")
    out += ["", "program types:"]
    out += [f"  {type_name(t):<32} {_yn(v)}" for t, v in f.prog_types().items()]
    out += ["", "map types:"]
    out += [f"  {type_name(t):<32} {_yn(v)}" for t, v in f.map_types().items()]
    out += ["", "hooks:"]
    for k, v in f.hooks().items():
        note = f.notes.get(k)
        out.append(f"  {k:<32} {_yn(v)}" + (f"  ({note})" if note and not v else ""))
    out += ["", "btf kinds:"]
    out += [f"  btf_{k:<28} {_yn(v)}" for k, v in f.btf_kinds()._asdict().items()]
    if helpers:
        out += ["", "helpers (by program type):"]
        for t, ok in f.prog_types().items():
            if not ok:
                continue
            found = f.helpers(t)
            if not found:
                continue  # needs a BTF target to probe
            names = [_helper_label(f, i) for i, v in found.items() if v]
            out.append(f"  {type_name(t)} ({len(names)}): {' '.join(names)}")
    return "\n".join(out)


def as_dict(f: Features, helpers: bool = False) -> dict[str, Any]:
    """The probe results as plain data (what ``--json`` prints)."""
    d: dict[str, Any] = {
        "kernel": os.uname().release, "system": f.system(),
        "program_types": {type_name(t): v for t, v in f.prog_types().items()},
        "map_types": {type_name(t): v for t, v in f.map_types().items()},
        "hooks": f.hooks(), "notes": dict(f.notes), "btf_kinds": f.btf_kinds()._asdict(),
    }
    if helpers:
        d["helpers"] = {type_name(t): [_helper_label(f, i) for i, v in f.helpers(t).items()
                                         if v]
                        for t, ok in f.prog_types().items() if ok}
    return d


def main(argv: list[str] | None = None) -> int:
    """``pybpf features [--helpers] [--json]``."""
    import argparse
    import json
    p = argparse.ArgumentParser(prog="pybpf features",
                                description="what the running kernel supports for BPF")
    p.add_argument("--helpers", action="store_true",
                   help="also probe helpers for every program type (slower)")
    p.add_argument("--json", action="store_true", help="print JSON")
    args = p.parse_args(argv)
    from .caps import require_bpf
    # unprivileged, every probe fails with EPERM: a table of "no" would be a lie
    require_bpf("probing BPF features")
    f = Features()
    t0 = time.monotonic()
    if args.json:
        print(json.dumps(as_dict(f, args.helpers), indent=2))
    else:
        print(format_table(f, args.helpers))
        print(f"\n(probed in {time.monotonic() - t0:.2f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
