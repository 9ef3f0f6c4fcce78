"""pybpf: eBPF from pure Python.

``import pybpf`` is cheap: submodules load on first use of the names below.
"""

from __future__ import annotations

import importlib

from .errors import (AttachError, BTFError, CompileError, ELFError, KernelError,
                     MissingPrivilegeError, NotFoundError, NotSupportedError, PybpfError,
                     VerifierError)

__version__ = "0.1.0"

# public name -> "module:attribute", imported on first access (PEP 562)
_LAZY = {
    "Map": "pybpf.maps:Map",
    "MapSpec": "pybpf.maps:MapSpec",
    "Program": "pybpf.programs:Program",
    "ProgramSpec": "pybpf.programs:ProgramSpec",
    "ObjectSpec": "pybpf.object:ObjectSpec",
    "Object": "pybpf.object.loader:Object",
    "load": "pybpf.object.loader:load",
    "compile": "pybpf.toolchain:compile",
    "BPF": "pybpf.bcc.bpf:BPF",
    "USDT": "pybpf.bcc.usdt:USDT",
    "Features": "pybpf.features:Features",
    "ctype": "pybpf.cdecl:ctype",
    "set_log": "pybpf.log:set_log",
    "ctypes_of": "pybpf.cdecl:ctypes_of",
}

__all__ = ["AttachError", "BTFError", "CompileError", "ELFError", "KernelError",
           "MissingPrivilegeError", "NotFoundError", "NotSupportedError", "PybpfError",
           "VerifierError", *_LAZY]


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'pybpf' has no attribute {name!r}")
    mod, attr = target.split(":")
    value = getattr(importlib.import_module(mod), attr)
    globals()[name] = value
    return value
