"""Helpers bcc scripts import from ``bcc.utils``: printb, ArgString, CPU lists,
StrcmpRewrite (the ``STRCMP("lit", expr)`` form of trace/argdist filters)."""

from __future__ import annotations

import re
import sys
import warnings

FILESYSTEMENCODING = sys.getfilesystemencoding()


def as_str(v) -> str:
    """A name bcc's API took as bytes or str, as str ("" for None)."""
    if v is None:
        return ""
    return v.decode() if isinstance(v, (bytes, bytearray)) else str(v)


def printb(s: bytes, file=None, nl: int = 1) -> None:
    """Write bytes to a text stream's buffer, then flush (bcc's printb)."""
    file = sys.stdout if file is None else file
    buf = getattr(file, "buffer", file)
    buf.write(s + (b"\n" if nl else b""))
    file.flush()


def cpu_range(text: str) -> list[int]:
    """``"0-3,5"`` -> [0, 1, 2, 3, 5] (the kernel's cpulist format)."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _read_cpus(path: str) -> list[int]:
    with open(path) as f:
        return cpu_range(f.read())


def get_online_cpus() -> list[int]:
    return _read_cpus("/sys/devices/system/cpu/online")


def get_possible_cpus() -> list[int]:
    return _read_cpus("/sys/devices/system/cpu/possible")


def detect_language(candidates, pid):
    """The language runtime of process ``pid`` if it is one of ``candidates`` (by the
    libraries it maps and its executable's name), else None."""
    try:
        # a mapped path or a name (prctl) may be any bytes
        with open(f"/proc/{pid}/maps", errors="surrogateescape") as f:
            maps = f.read()
        with open(f"/proc/{pid}/comm", errors="surrogateescape") as f:
            comm = f.read().strip()
    except OSError:
        return None
    hints = {"java": ("libjvm.so",), "node": ("node",), "perl": ("libperl",),
             "php": ("libphp", "php"), "python": ("libpython", "python"),
             "ruby": ("libruby", "ruby"), "tcl": ("libtcl",)}
    # every process maps libc: "c" is the answer only when no runtime is recognised
    for lang in candidates:
        if lang == "c":
            continue
        for h in hints.get(lang, (lang,)):
            if h in maps or comm.startswith(h):
                return lang
    return "c" if "c" in candidates else None


class ArgString:
    """A command-line argument that compares as bytes with kernel data (bcc's
    ``type=ArgString`` for argparse)."""

    def __init__(self, arg: str):
        self.s = arg

    def __bytes__(self) -> bytes:
        return self.s.encode(FILESYSTEMENCODING, "surrogateescape")

    def __str__(self) -> str:
        return self.s


_strict_bytes = False


def _assert_is_bytes(arg):
    if arg is None or type(arg) is bytes:
        return arg
    if _strict_bytes:
        raise TypeError(f"not a bytes object: {arg!r}")
    warnings.warn(f"not a bytes object: {arg!r}", DeprecationWarning, 2)
    return bytes(ArgString(arg))


def warn_with_traceback(message, category, filename, lineno, file=None, line=None):
    import traceback
    log = file if hasattr(file, "write") else sys.stderr
    traceback.print_stack(f=sys._getframe(2), file=log)
    log.write(warnings.formatwarning(message, category, filename, lineno, line))


class StrcmpRewrite:
    """``STRCMP("needle", expr)`` in a filter becomes a call to a generated function that
    reads ``expr``'s string from memory and compares it with the literal."""

    @staticmethod
    def _streq(literal: str, read_fn: str, probeid: int) -> tuple[str, str]:
        name = f"streq_{probeid}"
        c = (f"\nstatic inline bool {name}(char const *unused, uintptr_t str) {{\n"
             f"    char needle[] = {literal};\n"
             f"    char haystack[sizeof(needle)] = {{}};\n"
             f"    {read_fn}(&haystack, sizeof(haystack), (void *)str);\n"
             f"    for (int i = 0; i < sizeof(needle) - 1; ++i)\n"
             f"        if (needle[i] != haystack[i])\n"
             f"            return false;\n"
             f"    return true;\n}}\n")
        return name, c

    @staticmethod
    def rewrite_expr(expr, bin_cmp, is_user, probe_user_list, streq_functions, probeid):
        """Same contract as bcc: returns {"expr", "streq_functions", "probeid"}."""
        pat = r'STRCMP\("([^"]+)",(.+?)\)' if bin_cmp else r'STRCMP\(("[^"]+"),(.+?)\)'
        for m in list(re.finditer(pat, expr)):
            literal = m.group(1)
            user = is_user or m.group(2).strip() in (probe_user_list or ())
            read_fn = "bpf_probe_read_user" if user else "bpf_probe_read"
            name, c = StrcmpRewrite._streq(literal, read_fn, probeid)
            streq_functions += c
            probeid += 1
            expr = expr.replace("STRCMP", name, 1)
        return {"expr": expr, "streq_functions": streq_functions, "probeid": probeid}
