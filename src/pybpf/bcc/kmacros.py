"""Kernel-header constants a program names that BTF cannot carry: macros.

bcc compiles against the running kernel's headers, so a script may use any constant they
define (``FMODE_WRITE``, ``O_DIRECT``, a module's ``NFS_...``).  pybpf compiles against
vmlinux.h, made from BTF, which has the types and enumerators but no macros; the
common ones are in ``include/pybpf_bcc.h``.  For the others, after clang reports an
undeclared name: find the header under ``/lib/modules/<release>/build`` (and its
``source``) that defines it, let clang's preprocessor evaluate that header as the kernel
build would (``__KERNEL__``, the kernel's config), and define the name, with the macros
its body uses, before the program.  Without the headers, or when no header defines the
name, the error says so in one line.  Only the error path pays (~0.5 s for the search).
"""

from __future__ import annotations

import os
import re
import subprocess

_ARCH = {"x86_64": "x86", "aarch64": "arm64", "riscv64": "riscv", "s390x": "s390",
         "ppc64le": "powerpc", "armv7l": "arm"}
_TRIPLET = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu",
            "riscv64": "riscv64-linux-gnu", "s390x": "s390x-linux-gnu",
            "ppc64le": "powerpc64le-linux-gnu", "armv7l": "arm-linux-gnueabihf"}
_IDENT = re.compile(r"[A-Za-z_]\w*")
_DEF = re.compile(r"^#define ([A-Za-z_]\w*)(\([^)]*\))?(?: (.*))?$")


def kernel_dirs(release: str | None = None) -> list[str]:
    """The running kernel's header trees: ``build`` (generated headers) and ``source``
    (Debian splits them), or bcc's ``BCC_KERNEL_SOURCE``; each root-owned and not
    writable by others; [] if absent."""
    release = release or os.uname().release
    out = []
    env = os.environ.get("BCC_KERNEL_SOURCE")
    paths = [env] if env else [f"/lib/modules/{release}/{n}" for n in ("build", "source")]
    for path in paths:
        path = os.path.realpath(path)
        if path not in out and _trusted_dir(path) and \
                os.path.isdir(os.path.join(path, "include")):
            out.append(path)
    return out


def _trusted_dir(path: str) -> bool:
    """A directory root owns and no one else may write (root reads only what root put)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_uid == 0 and not st.st_mode & 0o022


def uapi_dirs(root: str = "/usr/include", machine: str | None = None) -> tuple[list, list]:
    """The distribution's UAPI headers: (directories to search for a definition, the
    include path to preprocess them with); ([], []) if absent or not root's."""
    triplet = _TRIPLET.get(machine or os.uname().machine, "x86_64-linux-gnu")
    arch = os.path.join(root, triplet)
    search = [d for d in (os.path.join(root, "linux"), os.path.join(arch, "asm"),
                          os.path.join(root, "asm-generic")) if _trusted_dir(d)]
    if not search or not _trusted_dir(root):
        return [], []
    return search, [d for d in (arch, root) if os.path.isdir(d)]


def include_dirs(trees: list[str], machine: str | None = None) -> list[str]:
    """The kernel build's include path (its Makefile's order) over ``trees``."""
    arch = _ARCH.get(machine or os.uname().machine, "x86")
    rel = (f"arch/{arch}/include", f"arch/{arch}/include/generated", "include",
           f"arch/{arch}/include/uapi", f"arch/{arch}/include/generated/uapi",
           "include/uapi", "include/generated/uapi")
    return [os.path.join(t, r) for r in rel for t in trees if os.path.isdir(os.path.join(t, r))]


def find_headers(names, dirs: list[str]) -> dict[str, str]:
    """{name: the first header under ``dirs`` with a ``#define name``}."""
    want = set(names)
    if not want:
        return {}
    pat = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+(" +
                     b"|".join(re.escape(n.encode()) for n in sorted(want)) + rb")\b", re.M)
    found: dict[str, str] = {}
    needles = [n.encode() for n in want]
    for d in dirs:
        for root, subdirs, files in os.walk(d):
            subdirs.sort()
            for f in sorted(files):
                if not f.endswith(".h"):
                    continue
                path = os.path.join(root, f)
                try:
                    with open(path, "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue
                if not any(n in data for n in needles):
                    continue            # (a substring test is ~10x faster than the regex)
                for m in pat.finditer(data):
                    found.setdefault(m.group(1).decode(), path)
                if len(found) == len(want):
                    return found
    return found


def _dump(headers: list[str], dirs: list[str], trees: list[str], kernel: bool = True) -> str:
    """clang's ``-dM`` of the headers, preprocessed as the kernel build does (``kernel``)
    or as a user-space program includes UAPI headers."""
    from ..toolchain import find_clang
    clang = find_clang()
    args = [clang, "-E", "-dM", "-nostdinc", "-x", "c", "-"]
    if kernel:
        args.insert(4, "-D__KERNEL__")
    res = subprocess.run([clang, "-print-resource-dir"], capture_output=True, text=True,
                         timeout=30)
    if res.returncode == 0 and res.stdout.strip():
        args[4:4] = ["-isystem", os.path.join(res.stdout.strip(), "include")]
    for t in trees:
        kconfig = os.path.join(t, "include", "linux", "kconfig.h")
        if os.path.exists(kconfig):
            args[4:4] = ["-include", kconfig]
            break
    args[4:4] = [f"-I{d}" for d in dirs]
    text = "".join(f'#include "{h}"\n' for h in headers)
    res = subprocess.run(args, input=text, capture_output=True, text=True, timeout=60)
    return res.stdout


def _closure(names, table: dict[str, tuple]) -> list[str]:
    """The definitions of ``names`` and of the macros their bodies use, each after the
    ones it uses."""
    out: list[str] = []
    seen: set[str] = set()

    def visit(n: str) -> None:
        if n in seen or n not in table:
            return
        seen.add(n)
        params, body = table[n]
        args = set(_IDENT.findall(params or ""))
        for tok in _IDENT.findall(body or ""):
            if tok != n and tok not in args:
                visit(tok)
        out.append(f"#ifndef {n}\n#define {n}{params or ''} {body or ''}\n#endif\n")
    for n in names:
        visit(n)
    return out


class Lookup:
    """What the kernel's headers say about names (``defines``: C to put before the
    program; ``missing``: names no header defines; ``where``: name -> header)."""

    def __init__(self, names, release: str | None = None, uapi_root: str = "/usr/include"):
        self.release = release or os.uname().release
        self.trees = kernel_dirs(self.release)
        self.defines, self.where, self.missing = "", {}, list(names)
        if self.trees and self.missing:
            dirs = include_dirs(self.trees)
            self._define(dirs, dirs, self.trees, kernel=True)
        if self.missing:
            search, incs = uapi_dirs(uapi_root)
            if search:
                self._define(search, incs, [], kernel=False)

    def _define(self, search: list, incs: list, trees: list, kernel: bool) -> None:
        """Define what the headers under ``search`` give of the missing names."""
        where = find_headers(self.missing, search)
        if not where:
            return
        for n, path in where.items():
            self.where.setdefault(n, path)
        table = {}
        for line in _dump(sorted(set(where.values())), incs, trees, kernel).splitlines():
            m = _DEF.match(line)
            if m:
                table[m.group(1)] = (m.group(2), m.group(3))
        known = [n for n in self.missing if n in table]
        self.defines += "".join(_closure(known, table))
        self.missing = [n for n in self.missing if n not in table]

    def error(self, name: str) -> str:
        """One line on why ``name`` stays undeclared."""
        if not self.trees and name not in self.where:
            return (f"'{name}' is not declared: kernel macros are not in BTF, the UAPI "
                    "headers do not define it, and this kernel's headers are not installed "
                    f"(/lib/modules/{self.release}/build, or BCC_KERNEL_SOURCE); define it "
                    "in the program")
        if name in self.where:
            return (f"'{name}' ({self.where[name]}) is not defined when that header is "
                    "preprocessed for this kernel's configuration; define it in the "
                    "program")
        return (f"'{name}' is not declared: not in the kernel's BTF, nor defined by its "
                f"headers ({self.trees[0]})")


def with_defines(source: str, defines: str, mark: str = '#line 1 "bpf_text"\n') -> str:
    """``source`` with ``defines`` before the program's own text (after the headers)."""
    head, found, body = source.rpartition(mark)
    if not found:
        return defines + "#line 1\n" + source
    return head + defines + mark + body
