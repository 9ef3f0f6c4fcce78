"""perf events: sampling programs (BPF_PROG_TYPE_PERF_EVENT) on software/hardware events,
and the dynamic-PMU plumbing (kprobe/uprobe PMUs, tracefs probe events) other links use."""

from __future__ import annotations

import ctypes
import errno as _errno
import os

from .. import errors, tracefs
from .._sys import perf, syscall
from ..fd import FD
from .base import Link, perf_event_link

__all__ = ["attach", "online_cpus", "pmu_type", "pmu_config_bit", "open_probe_pmu",
           "TracefsProbe"]

PMU_ROOT = "/sys/bus/event_source/devices"
FLAG_FD_CLOEXEC = 1 << 3            # PERF_FLAG_FD_CLOEXEC (not O_CLOEXEC)


def online_cpus(path: str = "/sys/devices/system/cpu/online") -> list[int]:
    """The online CPUs, from a list like ``0-3,5``."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return list(range(os.cpu_count() or 1))
    cpus: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def attach(prog, *, type: int = perf.TYPE_SOFTWARE, config: int = perf.COUNT_SW_CPU_CLOCK,
           sample_period: int = 0, sample_freq: int = 0, cpu: int | None = None,
           pid: int = -1, cookie: int = 0) -> Link:
    """Run ``prog`` on every sample of a perf event: one event per CPU (``cpu=None``: all
    online CPUs) or on ``cpu``; ``pid`` -1 samples every task.  Give ``sample_period`` or
    ``sample_freq`` (Hz).  The returned Link owns all the events and their links."""
    if bool(sample_period) == bool(sample_freq):
        raise ValueError("give exactly one of sample_period and sample_freq")
    cpus = [cpu] if cpu is not None else (online_cpus() if pid < 0 else [-1])
    target = f"perf_event type {type} config {config}" + (f" pid {pid}" if pid >= 0 else "")
    links: list[Link] = []
    try:
        for c in cpus:
            pa = perf.PerfEventAttr(type=type, config=config,
                                    sample_period=sample_freq or sample_period,
                                    flags=perf.FLAG_FREQ if sample_freq else 0)
            pfd = FD(syscall.perf_event_open(pa, pid, c, -1, FLAG_FD_CLOEXEC,
                                             detail=f"{target} cpu {c}"))
            links.append(perf_event_link(prog, pfd, kind="perf_event",
                                         target=f"{target} cpu {c}", cookie=cookie))
    except BaseException:
        for ln in links:
            ln.close()
        raise
    if len(links) == 1:
        return links[0]
    return _merge(links, kind="perf_event", target=target)


def _merge(links: list[Link], *, kind: str, target: str) -> Link:
    """One Link that owns several (closing it closes them all); its fd is the first's."""
    def close_all() -> None:
        for ln in links:
            ln.close()
    return Link(links[0].fd, kind=kind, target=target, detach=close_all)


# ---- dynamic PMUs (kprobe, uprobe) ---------------------------------------------------

# sysfs answers per process, keyed by file: a PMU's type and format bits are fixed once
# it is registered, and a tool attaching six uprobes asked for them 15 times (~0.3 ms)
_PMU_MEMO: dict = {}


def pmu_type(name: str) -> int | None:
    """The perf type number of dynamic PMU ``name`` ("kprobe", "uprobe"), None if absent."""
    key = ("type", name)
    if key in _PMU_MEMO:
        return _PMU_MEMO[key]
    try:
        with open(os.path.join(PMU_ROOT, name, "type")) as f:
            found = int(f.read().strip())
    except (OSError, ValueError):
        return None             # absent: asked again (a module may register it)
    _PMU_MEMO[key] = found
    return found


def pmu_config_bit(pmu: str, fmt: str) -> tuple[str, int] | None:
    """(config field, first bit) of a PMU format, e.g. uprobe ``retprobe`` -> ("config", 0)."""
    key = ("format", pmu, fmt)
    if key not in _PMU_MEMO:
        found = _pmu_config_bit(pmu, fmt)
        if found is None:
            return None
        _PMU_MEMO[key] = found
    return _PMU_MEMO[key]


def _pmu_config_bit(pmu: str, fmt: str) -> tuple[str, int] | None:
    try:
        with open(os.path.join(PMU_ROOT, pmu, "format", fmt)) as f:
            text = f.read().strip()
    except OSError:
        return None
    # "config:0" or "config1:0-63" (parsed by hand: re costs a uprobe tool's start ~2 ms)
    field, _, bits = text.partition(":")
    first, dash, last = bits.partition("-")
    digits = lambda t: t.isdigit() and t.isascii()      # noqa: E731
    if not (field.startswith("config") and field[6:] in ("", *"0123456789")
            and digits(first) and (not dash or digits(last))):
        return None
    return field, int(first)


def open_probe_pmu(pmu: str, *, target: bytes, offset: int, retprobe: bool, pid: int,
                   ref_ctr_offset: int = 0, what: str) -> FD:
    """perf_event_open on the kprobe/uprobe PMU: config1 points at the function name or
    binary path, config2 is the address/offset within it."""
    ptype = pmu_type(pmu)
    if ptype is None:
        raise errors.NotSupportedError(f"{pmu}s", f"no {pmu} PMU in {PMU_ROOT}")
    config = 0
    if retprobe:
        bit = pmu_config_bit(pmu, "retprobe")
        if bit is None:
            raise errors.NotSupportedError(f"{pmu} return probes",
                                           f"the {pmu} PMU has no retprobe format")
        config |= 1 << bit[1]
    if ref_ctr_offset:
        bit = pmu_config_bit(pmu, "ref_ctr_offset")
        if bit is None:  # 4.20+; without it a semaphore-guarded USDT never fires
            raise errors.NotSupportedError("uprobe reference counters (USDT semaphores)",
                                           "the uprobe PMU has no ref_ctr_offset format")
        config |= ref_ctr_offset << bit[1]
    name = ctypes.create_string_buffer(target)
    pa = perf.PerfEventAttr(type=ptype, config=config, sample_period=1, wakeup_events=1,
                            config1=ctypes.addressof(name), config2=offset)
    # A probe event is opened either for one task (pid, any CPU) or system-wide on one
    # CPU; the system-wide event on CPU 0 still runs the program for hits on every CPU,
    # because the program hangs off the probe, not off the per-CPU event.
    cpu = -1 if pid >= 0 else 0
    return FD(syscall.perf_event_open(pa, pid, cpu, -1, FLAG_FD_CLOEXEC, detail=what))


class TracefsProbe:
    """A legacy probe made by writing tracefs ``kprobe_events``/``uprobe_events``
    (kernels without the PMU): created in a pybpf group, removed by ``remove()``."""

    def __init__(self, kind: str, spec: str, *, retprobe: bool, hint: str,
                 maxactive: int = 0):
        self.file = os.path.join(tracefs.root(), f"{kind}_events")
        import re
        safe = re.sub(r"[^A-Za-z0-9_]", "_", hint)[:40]
        self.group = "pybpf"
        self.event = f"{safe}_{os.getpid()}_{id(self) & 0xFFFFFF:x}"
        # "r<N>:" keeps N return instances (kretprobe maxactive; tracefs only, no PMU bit)
        how = f"r{maxactive or ''}" if retprobe else "p"
        self._write(f"{how}:{self.group}/{self.event} {spec}")
        self.removed = False

    def _write(self, line: str) -> None:
        try:
            # one raw write: buffered file objects seek, which tracefs probe files refuse
            fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
        except OSError as e:
            err = e.errno or _errno.EINVAL
            if err == _errno.ENOENT:
                raise errors.NotFoundError(err, os.path.basename(self.file), line) from None
            raise errors.from_errno(err, os.path.basename(self.file), line) from None

    def open(self, pid: int) -> FD:
        tp = tracefs.tracepoint_id(self.group, self.event)
        pa = perf.PerfEventAttr(type=perf.TYPE_TRACEPOINT, config=tp, sample_period=1,
                                wakeup_events=1)
        return FD(syscall.perf_event_open(pa, pid, -1 if pid >= 0 else 0, -1, FLAG_FD_CLOEXEC,
                                          detail=f"{self.group}:{self.event}"))

    def remove(self) -> None:
        if not self.removed:
            self.removed = True
            try:
                self._write(f"-:{self.group}/{self.event}")
            except errors.PybpfError:
                pass
