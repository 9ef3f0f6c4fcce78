"""bcc-compatible front end: ``from pybpf import BPF, USDT`` runs bcc-style scripts without
kernel headers or LLVM libraries (clang alone, with pybpf's generated vmlinux.h)."""

from .bpf import BPF, Function
from .usdt import USDT

__all__ = ["BPF", "Function", "USDT"]
