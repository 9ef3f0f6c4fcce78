"""perf_event_open(2) ABI: ``struct perf_event_attr`` and the ioctls pybpf uses."""

from __future__ import annotations

import ctypes
from ctypes import c_int32, c_uint16, c_uint32, c_uint64

# perf_type_id
TYPE_HARDWARE = 0
TYPE_SOFTWARE = 1
TYPE_TRACEPOINT = 2
TYPE_HW_CACHE = 3
TYPE_RAW = 4
TYPE_BREAKPOINT = 5

# perf_sw_ids
COUNT_SW_CPU_CLOCK = 0
COUNT_SW_BPF_OUTPUT = 10

# sample_type bits
SAMPLE_RAW = 1 << 10

# attr.flags bits (the bitfield after read_format)
FLAG_DISABLED = 1 << 0
FLAG_INHERIT = 1 << 1
FLAG_FREQ = 1 << 10
FLAG_WATERMARK = 1 << 14

# ioctls: _IO('$', n) / _IOW('$', n, u32)
IOC_ENABLE = 0x2400
IOC_DISABLE = 0x2401
IOC_SET_BPF = 0x40042408


class PerfEventAttr(ctypes.Structure):
    _fields_ = [
        ("type", c_uint32), ("size", c_uint32), ("config", c_uint64),
        ("sample_period", c_uint64),  # or sample_freq with FLAG_FREQ
        ("sample_type", c_uint64), ("read_format", c_uint64), ("flags", c_uint64),
        ("wakeup_events", c_uint32),  # or wakeup_watermark with FLAG_WATERMARK
        ("bp_type", c_uint32),
        ("config1", c_uint64),  # uprobe/kprobe: pointer to the path or function name
        ("config2", c_uint64),  # uprobe/kprobe: offset
        ("branch_sample_type", c_uint64), ("sample_regs_user", c_uint64),
        ("sample_stack_user", c_uint32), ("clockid", c_int32), ("sample_regs_intr", c_uint64),
        ("aux_watermark", c_uint32), ("sample_max_stack", c_uint16), ("_r2", c_uint16),
        ("aux_sample_size", c_uint32), ("_r3", c_uint32), ("sig_data", c_uint64),
        ("config3", c_uint64),
    ]

    def __init__(self, **kw):
        super().__init__(**kw)
        self.size = ctypes.sizeof(self)
