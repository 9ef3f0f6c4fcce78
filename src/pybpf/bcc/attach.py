"""bcc's attach_*/detach_* methods, on pybpf's links.

On a kernel without kprobes, ``attach_kprobe``/``attach_kretprobe`` move the function to
fentry/fexit (when the kernel has BPF trampolines) or, for a system call, to its enter/exit
tracepoint: the function is recompiled with its arguments read from there (see
:mod:`.rewrite`), saying so once on stderr.
"""

from __future__ import annotations

import re
import sys

from .. import errors
from .statics import tracepoints
from .utils import as_str


_LIVE = None        # weakref.WeakSet of the process's BPF objects (made on first use)


def track(bpf) -> None:
    """Count ``bpf``'s probes in :func:`open_probes` while it lives."""
    global _LIVE
    if _LIVE is None:
        import weakref
        _LIVE = weakref.WeakSet()
    _LIVE.add(bpf)


def open_probes() -> int:
    """kprobes and uprobes open in this process, over every BPF object (bcc's
    ``_get_num_open_probes``; its probe quota counts these)."""
    return sum(b.num_open_kprobes() + b.num_open_uprobes() for b in list(_LIVE or ()))


def check_probe_quota(n: int) -> None:
    """bcc refuses an attach that would take the process past ``BPF.get_probe_limit()``
    open probes (``attach_kprobe(event_re=".*")`` would open thousands)."""
    from .statics import StaticsMixin
    limit = StaticsMixin.get_probe_limit()
    if open_probes() + n > limit:
        raise errors.PybpfError(f"attaching {n} probes would take this process past the "
                                f"probe limit of {limit} (BCC_PROBE_LIMIT)")


class _class_or_instance:                   # noqa: N801 - used as a decorator
    """A method bcc declares static (``BPF.attach_xdp(dev, fn, 0)``, as Liz Rice's
    chapter 8 calls it) and pybpf keeps on a BPF object, which owns what it attaches:
    called on the class, ``self`` is None and the method finds the object itself."""

    def __init__(self, func):
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, obj, cls=None):
        import functools
        return functools.partial(self.func, obj)


def _owner(fn, what: str):
    owner = getattr(fn, "bpf", None)
    if owner is None:
        raise errors.PybpfError(f"BPF.{what}: fn must be a function BPF.load_func returned")
    return owner


class AttachMixin:
    """Mixed into BPF; uses its load_func, _bind, _links and _feat.

    Probes and tracepoints attach by PERF_EVENT_IOC_SET_BPF, as bcc does, not by a bpf
    link: the attach then makes no bpf() call, which a kretprobe (or sys_exit
    tracepoint) on bpf() itself would count (bcc's test_trace4, test_trace_maxactive)."""

    # -- helpers -----------------------------------------------------------------------
    def _keep(self, key: tuple, link) -> None:
        self._links.setdefault(key, []).append(link)

    def _drop(self, match) -> int:
        n = 0
        for key in [k for k in self._links if match(k)]:
            for link in self._links.pop(key):
                link.close()
                n += 1
        return n

    def _auto_attach(self, probe, fn) -> None:
        from ..links import raw_tracepoint, tracepoint, tracing
        if probe.kind == "tracepoint":
            cat, ev = probe.target.split(":", 1)
            self._keep(("tracepoint", probe.target, probe.name),
                       tracepoint.attach(fn.prog, cat, ev, via_ioctl=True))
        elif probe.kind == "raw_tracepoint":
            self._keep(("raw_tracepoint", probe.target, probe.name),
                       raw_tracepoint.attach(fn.prog, probe.target))
        elif probe.kind in ("kfunc", "kretfunc", "kmod_ret", "lsm"):
            self._keep((probe.kind, probe.target, probe.name), tracing.attach(fn.prog))
        elif probe.binding is not None:
            retprobe = probe.kind == "kretprobe"
            self._attach_bound(fn, probe.binding, probe.target, probe.name, retprobe)

    def _attach_bound(self, fn, b, event: str, fn_name: str, retprobe: bool) -> None:
        from ..links import kprobe, tracepoint, tracing
        key = ("kretprobe" if retprobe else "kprobe", event, fn_name)
        if b.via == "kprobe":
            self._keep(key, kprobe.attach(fn.prog, b.target or event, retprobe=retprobe,
                                             via_ioctl=True))
        elif b.via in ("fentry", "fexit"):
            self._keep(key, tracing.attach(fn.prog))
        elif b.via == "raw_tp":
            from ..links import raw_tracepoint
            self._keep(key, raw_tracepoint.attach(fn.prog, b.target.split(":")[-1]))
        elif b.via == "tracepoint":
            ev = f"sys_{'exit' if retprobe else 'enter'}_{b.syscall}"
            self._keep(key, tracepoint.attach(fn.prog, "syscalls", ev, via_ioctl=True))
        else:
            raise errors.PybpfError(f"{fn_name}: cannot attach ({b.via!r})")

    def _fix_syscall_fnname(self, event: str) -> str:
        """bcc accepts ``sys_clone`` for the arch's ``__x64_sys_clone``."""
        from ..links import symbols
        prefix = symbols.syscall_prefix()
        if event.startswith("sys_") and not event.startswith(prefix):
            return prefix + event[4:]
        return event

    # -- kprobes -------------------------------------------------------------------------
    def attach_kprobe(self, event=b"", event_off: int = 0, fn_name=b"", event_re=b""):
        return self._attach_k(event, event_off, fn_name, event_re, retprobe=False)

    def attach_kretprobe(self, event=b"", fn_name=b"", event_re=b"", maxactive: int = 0):
        return self._attach_k(event, 0, fn_name, event_re, retprobe=True,
                              maxactive=maxactive)

    def _attach_k(self, event, event_off, fn_name, event_re, retprobe: bool,
                  maxactive: int = 0):
        from .rewrite import SYSCALL_FN
        fn_name, event_re = as_str(fn_name), as_str(event_re)
        if event_re:
            events = self.get_kprobe_functions(event_re)
            if not events:
                raise errors.NotFoundError(2, "kprobe", f"no kernel function matches "
                                           f"{event_re!r}")
            check_probe_quota(len(events))
            refused = []
            for ev in events:
                try:
                    self._attach_k(as_str(ev), 0, fn_name, b"", retprobe, maxactive)
                except errors.NotSupportedError as e:
                    # without kprobes, only some of the matches may have a stand-in
                    refused.append(e)
            if len(refused) == len(events):
                raise refused[0]
            return
        event = self._fix_syscall_fnname(as_str(event))
        sm = SYSCALL_FN.match(event)
        sysname = sm.group(1) if sm else ""
        f = self._feat()
        if f.has_kprobes() and (sysname or retprobe or event_off or
                                self._kprobe_target(event)):
            from ..links import kprobe
            fn = self.load_func(fn_name, self.KPROBE)
            self._keep(("kretprobe" if retprobe else "kprobe", event, fn_name),
                       kprobe.attach(fn.prog, event, offset=event_off, retprobe=retprobe,
                                     via_ioctl=True, maxactive=maxactive))
            return
        probe = self._rw.probes.get(fn_name)
        if probe is None:
            raise errors.NotFoundError(2, "attach_kprobe", f"no function {fn_name!r}")
        b = self._bind("kretprobe" if retprobe else "kprobe", event, sysname, retprobe,
                       fn_name)
        if b.via == "idle":
            self._keep(("kretprobe" if retprobe else "kprobe", event, fn_name), _Idle())
            print(f"pybpf: {event} is not in this kernel's system call table (there is no "
                  f"syscalls:sys_enter_{sysname}): {fn_name} has nothing to trace there",
                  file=sys.stderr)
            return
        fn = self._bound_function(fn_name, b)
        self._attach_bound(fn, b, event, fn_name, retprobe)
        said = self.__dict__.setdefault("_said", set())
        if (fn_name, event) not in said:        # once per function and target
            said.add((fn_name, event))
            why = ("this kernel has no kprobes (CONFIG_KPROBES is off)" if not
                   f.has_kprobes() else
                   f"{event} takes no kprobe here (absent, inlined or untraceable)")
            print(f"pybpf: {why}: {fn_name} on {event} runs on {_where(b)}", file=sys.stderr)

    def _bound_function(self, fn_name: str, b):
        """The function compiled to run where binding ``b`` says (recompiled if needed)."""
        probe = self._rw.probes[fn_name]
        same = probe.binding is not None and (probe.binding.via, probe.binding.target,
                                              probe.binding.retprobe) == (b.via, b.target,
                                                                          b.retprobe)
        if same:
            return self.load_func(fn_name, None)
        key = (fn_name, b.via, b.target, b.retprobe)
        fn = self._variants.get(key)
        if fn is None:
            rw = self._rewrite({fn_name: b})
            fn = self._load_variant(fn_name, self._compile(rw.source, rw), None)
            self._variants[key] = fn
        return fn

    def detach_kprobe(self, event=b"", fn_name=None):
        return self._detach_k("kprobe", event, fn_name)

    def detach_kretprobe(self, event=b"", fn_name=None):
        return self._detach_k("kretprobe", event, fn_name)

    def _detach_k(self, kind, event, fn_name):
        event = self._fix_syscall_fnname(as_str(event))
        fn = as_str(fn_name) if fn_name is not None else None
        if not self._drop(lambda k: k[0] == kind and k[1] == event and (fn is None or
                                                                          k[2] == fn)):
            raise errors.NotFoundError(2, f"detach_{kind}", f"{kind} {event} is not attached")

    def attach_fmod_ret(self, fn_name=b""):
        """Attach a KMOD_RET function (BPF trampolines: fmod_ret)."""
        from ..links import tracing
        name = as_str(fn_name)
        fn = self.load_func(name, None)
        self._keep(("kmod_ret", name, name), tracing.attach(fn.prog))

    def attach_kfunc(self, fn_name=b""):
        from ..links import tracing
        name = as_str(fn_name)
        if any(k[2] == name for k in self._links if len(k) == 3):
            return          # KFUNC_PROBE/LSM_PROBE functions attach at BPF() already
        self._keep(("kfunc", name, name), tracing.attach(self.load_func(name, None).prog))

    attach_kretfunc = attach_lsm = attach_kfunc

    def detach_kfunc(self, fn_name=b""):
        name = as_str(fn_name)
        self._drop(lambda k: k[0] in ("kfunc", "kmod_ret") and k[2] == name)

    detach_kretfunc = detach_lsm = detach_fmod_ret = detach_kfunc

    # -- tracepoints ---------------------------------------------------------------------
    def attach_tracepoint(self, tp=b"", tp_re=b"", fn_name=b""):
        from ..links import tracepoint
        fn_name, tp, tp_re = as_str(fn_name), as_str(tp), as_str(tp_re)
        targets = tracepoints(tp_re) if tp_re else [tp]
        fn = self.load_func(fn_name, self.TRACEPOINT)
        for t in targets:
            cat, _, ev = t.partition(":")
            self._keep(("tracepoint", t, fn_name), tracepoint.attach(fn.prog, cat, ev,
                                                                       via_ioctl=True))

    def detach_tracepoint(self, tp=b""):
        tp = as_str(tp)
        if not self._drop(lambda k: k[0] == "tracepoint" and k[1] == tp):
            raise errors.NotFoundError(2, "detach_tracepoint", f"tracepoint {tp} not attached")

    def attach_raw_tracepoint(self, tp=b"", fn_name=b""):
        from ..links import raw_tracepoint
        tp, fn_name = as_str(tp), as_str(fn_name)
        fn = self.load_func(fn_name, self.RAW_TRACEPOINT)
        self._keep(("raw_tracepoint", tp, fn_name), raw_tracepoint.attach(fn.prog, tp))

    def detach_raw_tracepoint(self, tp=b""):
        tp = as_str(tp)
        self._drop(lambda k: k[0] == "raw_tracepoint" and k[1] == tp)

    # -- uprobes -----------------------------------------------------------------------
    def attach_uprobe(self, name=b"", sym=b"", sym_re=b"", addr=None, fn_name=b"",
                      pid: int = -1, sym_off: int = 0):
        return self._attach_u(name, sym, sym_re, addr, fn_name, pid, sym_off, False)

    def attach_uretprobe(self, name=b"", sym=b"", sym_re=b"", addr=None, fn_name=b"",
                         pid: int = -1):
        return self._attach_u(name, sym, sym_re, addr, fn_name, pid, 0, True)

    def _attach_u(self, name, sym, sym_re, addr, fn_name, pid, sym_off, retprobe):
        from ..links import symbols, uprobe
        name, sym, sym_re, fn_name = as_str(name), as_str(sym), as_str(sym_re), as_str(fn_name)
        path = symbols.resolve_path(_in_mount_ns(name, pid)) if name else ""
        if addr is not None and not 0 <= int(addr) < 1 << 64:
            raise errors.NotFoundError(22, "uprobe", f"could not determine address "
                                       f"{int(addr):#x} in {path}: outside the file")
        fn = self.load_func(fn_name, self.KPROBE)
        kind = "uretprobe" if retprobe else "uprobe"
        if sym_re:
            pat = re.compile(sym_re)
            syms = [s for s, e in symbols.elf_symbols(path).items()
                    if e.type == "STT_FUNC" and pat.match(s)]
            if not syms:
                raise errors.NotFoundError(2, kind, f"no symbol matches {sym_re!r} in {path}")
            check_probe_quota(len(syms))
            if len(syms) > 1 and self._attach_u_multi(fn_name, path, syms, sym_off, pid,
                                                      retprobe):
                return
        else:
            syms = [sym or None]
        for s in syms:
            if addr is not None and not s:
                link = uprobe.attach(fn.prog, path, None, offset=addr, retprobe=retprobe,
                                     pid=pid, ref_ctr_offset=self._usdt_semaphore(path, addr))
            elif s and (resolver := _ifunc_resolver(path, s)) is not None:
                # the script looked this IFUNC up itself (bcc.libbcc): its resolver, as bcc
                link = uprobe.attach(fn.prog, path, None, offset=resolver + sym_off,
                                     retprobe=retprobe, pid=pid)
            else:
                link = uprobe.attach(fn.prog, path, s, offset=sym_off, retprobe=retprobe,
                                     pid=pid)
            self._keep((kind, path, s or addr, pid, fn_name), link)

    def _attach_u_multi(self, fn_name: str, path: str, syms: list, sym_off: int, pid: int,
                        retprobe: bool, offs: list | None = None) -> bool:
        """A pattern's symbols in one uprobe_multi link (6.6+): attached and detached at
        once, not a perf event each (hundreds: seconds at cleanup).  False where the
        kernel has none; the first place it refuses fails the attach, as per probe."""
        from .._sys.uapi import AttachType
        from ..links import uprobe, uprobe_multi
        if not uprobe_multi.available(self._feat()):
            return False
        if offs is None:
            offs = []
            for s in syms:
                resolver = _ifunc_resolver(path, s)
                offs.append(resolver + sym_off if resolver is not None else
                            uprobe.resolve(path, s, sym_off)[1])
        variants = self.__dict__.setdefault("_umulti_funcs", {})
        if fn_name not in variants:
            self.load_func(fn_name, self.KPROBE)     # its errors, as per probe
            variants[fn_name] = self._load_variant(fn_name, self._elf, self.KPROBE,
                                                   int(AttachType.TRACE_UPROBE_MULTI))
        done = uprobe_multi.attach_offsets(variants[fn_name].prog, path, offs,
                                           retprobe=retprobe, pid=pid)
        if done.refused:
            done.close()
            raise next(iter(done.refused.values()))
        kind = "uretprobe" if retprobe else "uprobe"
        key = (kind, path, tuple(syms), pid, fn_name)
        self.__dict__.setdefault("_umulti_offs", {})[key] = list(offs)
        for link in done.links:
            self._keep(key, link)
        return True

    def _detach_from_multi(self, kind: str, path: str, what) -> bool:
        """detach_uprobe() of one symbol a pattern attached in a uprobe_multi link: the
        link goes, and the pattern's other symbols are attached again in a new one."""
        offs_of = self.__dict__.get("_umulti_offs", {})
        for key in [k for k in offs_of if k in self._links and k[0] == kind and
                    k[1] == path and what in k[2]]:
            offs = offs_of.pop(key)
            for link in self._links.pop(key, []):
                link.close()
            keep = [i for i, s in enumerate(key[2]) if s != what]
            if keep:
                self._attach_u_multi(key[4], path, [key[2][i] for i in keep], 0, key[3],
                                     kind == "uretprobe", [offs[i] for i in keep])
            return True
        return False

    def _usdt_semaphore(self, path: str, offset: int) -> int:
        """The semaphore's file offset when ``offset`` is a USDT site that has one (a
        tool attaching USDT sites as plain uprobes still turns the probe on)."""
        from ..links import usdt
        sites = self.__dict__.setdefault("_usdt_sites", {})
        if path not in sites:
            try:
                sites[path] = {p.offset: p.semaphore_offset for p in usdt.probes(path)}
            except errors.PybpfError:
                sites[path] = {}
        return sites[path].get(offset, 0)

    def detach_uprobe(self, name=b"", sym=b"", addr=None, pid: int = -1):
        return self._detach_u("uprobe", name, sym, addr, pid)

    def detach_uretprobe(self, name=b"", sym=b"", addr=None, pid: int = -1):
        return self._detach_u("uretprobe", name, sym, addr, pid)

    def _detach_u(self, kind, name, sym, addr, pid):
        from ..links import symbols
        name = as_str(name)
        path = symbols.resolve_path(_in_mount_ns(name, pid)) if name else ""
        what = as_str(sym) or addr
        if not self._drop(lambda k: k[0] == kind and k[1] == path and k[2] == what) and \
                not self._detach_from_multi(kind, path, what) and \
                not (name.startswith("/") and pid > 0 and self._drop(
                    lambda k: k[0] == kind and k[1] == f"/proc/{pid}/root{name}" and
                    k[2] == what)):
            raise errors.NotFoundError(2, f"detach_{kind}", f"{kind} {path}:{what} not "
                                       "attached")

    @staticmethod
    def find_library(libname) -> bytes | None:
        from ..links import symbols
        try:
            return symbols.find_library(as_str(libname)).encode()
        except errors.PybpfError:
            return None

    # -- perf events, XDP --------------------------------------------------------------
    def attach_perf_event(self, ev_type=-1, ev_config=-1, fn_name=b"", sample_period=0,
                          sample_freq=0, pid=-1, cpu=-1, group_fd=-1):
        from ..links import perf_event
        fn_name = as_str(fn_name)
        fn = self.load_func(fn_name, self.PERF_EVENT)
        link = perf_event.attach(fn.prog, type=ev_type, config=ev_config,
                                 sample_period=sample_period, sample_freq=sample_freq,
                                 cpu=None if cpu < 0 else cpu, pid=pid)
        self._keep(("perf_event", ev_type, ev_config, fn_name), link)

    def attach_perf_event_raw(self, attr=None, fn_name=b"", pid: int = -1, cpu: int = -1,
                              group_fd: int = -1, extra_flags: int = 0):
        """Run ``fn_name`` on the samples of a perf event given as a whole
        ``Perf.perf_event_attr`` (bcc's form, for fields attach_perf_event has no
        argument for): one event per online CPU, or on ``cpu``."""
        from .._sys import syscall
        from ..fd import FD
        from ..links.base import perf_event_link
        from ..links.perf_event import FLAG_FD_CLOEXEC, online_cpus
        fn_name = as_str(fn_name)
        fn = self.load_func(fn_name, self.PERF_EVENT)
        target = f"perf_event type {attr.type} config {attr.config}"
        cpus = [cpu] if cpu >= 0 else online_cpus()
        for c in cpus:
            pfd = FD(syscall.perf_event_open(attr, pid, c, group_fd,
                                             FLAG_FD_CLOEXEC | extra_flags,
                                             detail=f"{target} cpu {c}"))
            link = perf_event_link(fn.prog.fileno(), pfd, kind="perf_event",
                                   target=f"{target} cpu {c}")
            self._keep(("perf_event", attr.type, attr.config, fn_name), link)

    def detach_perf_event(self, ev_type=-1, ev_config=-1):
        self._drop(lambda k: k[0] == "perf_event" and k[1] == ev_type and k[2] == ev_config)

    @_class_or_instance
    def attach_xdp(self, dev, fn, flags: int = 0):
        from ..links import xdp
        if self is None:                # BPF.attach_xdp(dev, fn): fn's object keeps it
            self = _owner(fn, "attach_xdp")
        mode = "generic" if flags & self.XDP_FLAGS_SKB_MODE else (
            "native" if flags & self.XDP_FLAGS_DRV_MODE else "auto")
        self._keep(("xdp", as_str(dev)), xdp.attach(fn.prog, as_str(dev), mode))

    @_class_or_instance
    def remove_xdp(self, dev, flags: int = 0):
        owners = [self] if self is not None else list(_LIVE or ())
        for b in owners:
            b._drop(lambda k: k[0] == "xdp" and k[1] == as_str(dev))

    # -- counts ------------------------------------------------------------------------
    def _count(self, *kinds) -> int:
        # a pattern's uprobe_multi link counts as the probes it holds, as bcc counts them
        return sum(len(k[2]) if isinstance(k[2], tuple) else len(v)
                   for k, v in self._links.items() if k[0] in kinds)

    def num_open_kprobes(self) -> int:
        return self._count("kprobe", "kretprobe")

    def num_open_uprobes(self) -> int:
        return self._count("uprobe", "uretprobe")

    def num_open_tracepoints(self) -> int:
        return self._count("tracepoint")


def _in_mount_ns(name: str, pid: int) -> str:
    """A binary named by absolute path for process ``pid``: the file that process sees
    (through /proc/PID/root) when it is not the one this process sees, as bcc resolves it
    (a library copied into a private /tmp in the process's own mount namespace)."""
    import os
    if pid <= 0 or not name.startswith("/"):
        return name
    alt = f"/proc/{pid}/root{name}"
    try:
        if os.path.exists(name) and os.path.samefile(name, alt):
            return name
    except OSError:
        return name
    return alt if os.path.exists(alt) else name


class _Idle:
    """The attachment of a function to a syscall entry no syscall reaches (it counts as
    an open probe, as bcc's kprobe on it would)."""

    def close(self) -> None:
        pass


def _where(b) -> str:
    if b.via == "raw_tp":
        return f"tracepoint {b.target}"
    if b.via == "tracepoint":
        return f"tracepoint syscalls:sys_{'exit' if b.retprobe else 'enter'}_{b.syscall}"
    return f"{b.via} {b.target}"


def _ifunc_resolver(path: str, sym: str) -> int | None:
    """The resolver's offset when the script asked ``bcc.libbcc`` for IFUNC ``sym`` itself
    (pybpf otherwise probes the implementation an IFUNC picks, see links.symbols)."""
    lb = sys.modules.get("pybpf.bcc.libbcc")
    return lb.lib.ifunc_resolver(path, sym) if lb is not None else None
