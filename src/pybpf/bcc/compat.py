"""The module a bcc script gets for ``import bcc`` under ``pybpf run``.

It carries bcc's top-level names (``BPF``, ``USDT``, ``PerfType``, ``ArgString``, ...) on
pybpf's implementations; ``bcc.utils``, ``bcc.syscall``, ``bcc.containers``, ``bcc.tcp``,
``bcc.table`` and ``bcc.usdt`` resolve to pybpf.bcc's modules (see :mod:`.run`).
"""

from __future__ import annotations

from .._sys.uapi import AttachType as BPFAttachType, ProgType as BPFProgType
from . import table, usdt, utils
from .attach import open_probes as _get_num_open_probes  # noqa: F401 - bcc's name
from .bpf import (BPF, DEBUG_BPF, DEBUG_BPF_REGISTER_STATE, DEBUG_BTF, DEBUG_LLVM_IR,
                  DEBUG_PREPROCESSOR, DEBUG_SOURCE)
from .perfattr import Perf
from .syms import SymbolCache
from .table import PerfEventArray, RingBuf, Table
from .usdt import USDT
from .utils import ArgString, StrcmpRewrite, get_online_cpus, get_possible_cpus, printb

__version__ = "0.26.0"
__path__: list[str] = []       # a package to the import system: bcc.utils and friends
DEBUGFS = "/sys/kernel/debug"
TRACEFS = "/sys/kernel/tracing"


class USDTException(Exception):
    pass


class PerfType:
    """enum perf_type_id."""
    HARDWARE, SOFTWARE, TRACEPOINT, HW_CACHE, RAW, BREAKPOINT = range(6)


class PerfHWConfig:
    """enum perf_hw_id."""
    (CPU_CYCLES, INSTRUCTIONS, CACHE_REFERENCES, CACHE_MISSES, BRANCH_INSTRUCTIONS,
     BRANCH_MISSES, BUS_CYCLES, STALLED_CYCLES_FRONTEND, STALLED_CYCLES_BACKEND,
     REF_CPU_CYCLES) = range(10)


class PerfSWConfig:
    """enum perf_sw_id."""
    (CPU_CLOCK, TASK_CLOCK, PAGE_FAULTS, CONTEXT_SWITCHES, CPU_MIGRATIONS, PAGE_FAULTS_MIN,
     PAGE_FAULTS_MAJ, ALIGNMENT_FAULTS, EMULATION_FAULTS, DUMMY, BPF_OUTPUT) = range(11)


class PerfEventSampleFormat:
    """enum perf_event_sample_format (bit values)."""
    (IP, TID, TIME, ADDR, READ, CALLCHAIN, ID, CPU, PERIOD, STREAM_ID, RAW, BRANCH_STACK,
     REGS_USER, STACK_USER, WEIGHT, DATA_SRC, IDENTIFIER, TRANSACTION, REGS_INTR, PHYS_ADDR,
     AUX, CGROUP, DATA_PAGE_SIZE, CODE_PAGE_SIZE, WEIGHT_STRUCT) = (1 << i for i in range(25))


class XDPAction:
    """enum xdp_action."""
    XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)


class XDPFlags:
    """XDP_FLAGS_* of linux/if_link.h."""
    UPDATE_IF_NOEXIST, SKB_MODE, DRV_MODE, HW_MODE, REPLACE = (1 << i for i in range(5))


__all__ = ["BPF", "USDT", "USDTException", "PerfType", "PerfHWConfig", "PerfSWConfig",
           "PerfEventSampleFormat", "BPFProgType", "BPFAttachType", "XDPAction", "XDPFlags",
           "ArgString", "StrcmpRewrite", "printb", "get_online_cpus", "get_possible_cpus",
           "Perf", "SymbolCache", "Table", "PerfEventArray", "RingBuf", "table", "usdt", "utils", "DEBUG_LLVM_IR",
           "DEBUG_BPF", "DEBUG_PREPROCESSOR", "DEBUG_SOURCE", "DEBUG_BPF_REGISTER_STATE",
           "DEBUG_BTF", "DEBUGFS", "TRACEFS"]


def __getattr__(name: str):
    # ``from bcc import tcp``: the import system looks the submodule up under this
    # module's own name (pybpf.bcc.compat), so the bcc submodules are offered here too
    if name in ("tcp", "syscall", "containers", "exec", "libbcc", "disassembler"):
        import importlib
        return importlib.import_module(f"pybpf.bcc.{'execcmd' if name == 'exec' else name}")
    if name == "lib":           # libbcc's calls scripts make themselves (libbcc.py)
        from .libbcc import lib
        return lib
    raise AttributeError(f"module 'bcc' has no attribute {name!r}")
