"""bcc's ``Perf`` (``from bcc import Perf``): ``struct perf_event_attr`` with its bit
fields named, for ``BPF.attach_perf_event_raw(attr=...)``.

pybpf's own :class:`pybpf._sys.perf.PerfEventAttr` keeps the flag bits in one integer;
scripts written for bcc set them by name (``attr.exclude_kernel = 1``,
``attr.precise_ip = 2``), so this one spells them out, in the kernel's order
(include/uapi/linux/perf_event.h).
"""

from __future__ import annotations

import ctypes
from ctypes import c_int32, c_uint16, c_uint32, c_uint64

_FLAGS = ("disabled", "inherit", "pinned", "exclusive", "exclude_user", "exclude_kernel",
          "exclude_hv", "exclude_idle", "mmap", "comm", "freq", "inherit_stat",
          "enable_on_exec", "task", "watermark", ("precise_ip", 2), "mmap_data",
          "sample_id_all", "exclude_host", "exclude_guest", "exclude_callchain_kernel",
          "exclude_callchain_user", "mmap2", "comm_exec", "use_clockid", "context_switch",
          "write_backward", "namespaces", "ksymbol", "bpf_event", "aux_output", "cgroup",
          "text_poke", "build_id", "inherit_thread", "remove_on_exec", "sigtrap")


def _bits():
    out, used = [], 0
    for f in _FLAGS:
        name, n = f if isinstance(f, tuple) else (f, 1)
        out.append((name, c_uint64, n))
        used += n
    out.append(("__reserved_1", c_uint64, 64 - used))
    return out


class _Period(ctypes.Union):
    _fields_ = [("sample_period", c_uint64), ("sample_freq", c_uint64)]


class _Wakeup(ctypes.Union):
    _fields_ = [("wakeup_events", c_uint32), ("wakeup_watermark", c_uint32)]


class _Config1(ctypes.Union):
    _fields_ = [("bp_addr", c_uint64), ("config1", c_uint64)]


class _Config2(ctypes.Union):
    _fields_ = [("bp_len", c_uint64), ("config2", c_uint64)]


class perf_event_attr(ctypes.Structure):            # noqa: N801 - the kernel's name
    _anonymous_ = ("_p", "_w", "_c1", "_c2")
    _fields_ = [("type", c_uint32), ("size", c_uint32), ("config", c_uint64),
                ("_p", _Period), ("sample_type", c_uint64), ("read_format", c_uint64)] + \
        _bits() + [
        ("_w", _Wakeup), ("bp_type", c_uint32), ("_c1", _Config1), ("_c2", _Config2),
        ("branch_sample_type", c_uint64), ("sample_regs_user", c_uint64),
        ("sample_stack_user", c_uint32), ("clockid", c_int32), ("sample_regs_intr", c_uint64),
        ("aux_watermark", c_uint32), ("sample_max_stack", c_uint16), ("__reserved_2", c_uint16),
        ("aux_sample_size", c_uint32), ("__reserved_3", c_uint32), ("sig_data", c_uint64),
        ("config3", c_uint64)]

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.size = ctypes.sizeof(self)


class Perf:
    """bcc's namespace of perf_event_open's constants and structure."""
    perf_event_attr = perf_event_attr
    PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT = 0, 1, 2
    PERF_TYPE_HW_CACHE, PERF_TYPE_RAW, PERF_TYPE_BREAKPOINT = 3, 4, 5
    PERF_FLAG_FD_NO_GROUP, PERF_FLAG_FD_OUTPUT, PERF_FLAG_PID_CGROUP = 1, 2, 4
    PERF_FLAG_FD_CLOEXEC = 8
    PERF_SAMPLE_RAW = 1 << 10
    PERF_COUNT_SW_BPF_OUTPUT = 10
    PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_DISABLE = 0x2400, 0x2401
