"""pybpf: eBPF from pure Python (ctypes over bpf(2); no libbpf.so, no libbcc).

``import pybpf`` is cheap: submodules load on first use of the names below.

Objects (libbpf-style ``.bpf.o``, or ``.bpf.c`` compiled through the cache):
    load(path_or_bytes_or_spec, variables=..., programs=..., sections=...,
         includes=..., cflags=...) -> Object
    Object.programs / .maps / .links; .attach(names=None, skip_missing=False)
    Object.bss / .data / .rodata / .datasec(name): global variables typed by BTF
    Object.typed_map(name): a map with BTF-typed keys and values
    Object.attach_struct_ops(map): register a struct_ops map (attach() registers all);
        ObjectSpec.struct_ops: kernel struct and member -> program of each
    Program.attach_uprobe/attach_usdt/attach_tc/attach_xdp/attach_perf_event/attach_iter/
        attach_cgroup/attach_socket/attach_netns/attach_netfilter/attach_sockmap/
        attach_kprobe/attach_tracepoint/...: links the object owns (pybpf.links.methods)
    ObjectSpec.from_file(path): parse only; spec.maps[...].set_var / .max_entries
    compile(source) -> object bytes (clang, vmlinux.h, private cache)
Types and events:
    ctype("struct event", header=..., source=..., obj=...) -> ctypes type
    ctypes_of(*names, ...) -> list of ctypes types
    pybpf.ringbuf.RingBuffer, pybpf.perfbuf.PerfBuffer: read(decode=T)
    pybpf.userringbuf.UserRingBuffer: write(sample), for bpf_user_ringbuf_drain()
    pybpf.links.iter.records(link, T): typed iterator output
Low level: Map, MapSpec, Program, ProgramSpec, Features; pybpf.links.* (one module per
    hook family), pybpf.perf (PERF_TYPE_*/PERF_COUNT_*), pybpf.errors
Debugging: set_log(True | logger | callable, level="debug") like libbpf_set_print;
    Program.verifier_log (load(log_level=1) keeps the verifier's log)
bcc front end: BPF, USDT (``from pybpf import BPF``)
Command lines: pybpf.options.ArgumentParser, argparse's parser built only when a
    command line needs it (an empty or plain one imports no argparse)
"""

from __future__ import annotations

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
    # __import__ with a fromlist returns the submodule itself; importlib.import_module
    # would import importlib and warnings first (~0.4 ms of every start)
    value = getattr(__import__(mod, fromlist=[attr]), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
