"""bcc-compatible front end: ``from pybpf import BPF, USDT`` runs bcc-style scripts without
kernel headers or LLVM libraries (clang alone, with pybpf's generated vmlinux.h)."""

__all__ = ["BPF", "Function", "USDT"]

# Loaded on first use: the tools import pybpf.bcc.hist (bcc's histogram layout) and must
# not pay for the whole front end (bpf, attach, statics, usdt: ~15 ms) to print one.
_LAZY = {"BPF": ".bpf", "Function": ".bpf", "USDT": ".usdt"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
