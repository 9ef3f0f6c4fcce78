"""bcc-compatible front end: ``from pybpf import BPF`` runs bcc-style scripts without
kernel headers or LLVM libraries (clang alone, with pybpf's generated vmlinux.h)."""

from .bpf import BPF, Function

__all__ = ["BPF", "Function"]
