"""Compile-time warnings for ``bpf_trace_printk`` formats the kernel cannot print.

The kernel's printk helpers format integers, characters, strings and pointers only: a
``%f`` (or ``%e``, ``%g``, ``%a``, ``%n``, a ``long double``) makes the helper fail at run
time with -EINVAL, and nothing is printed.  bcc warns when it compiles such a text; so do
we, with bcc's wording at the start of the line (scripts and tests look for it), on every
start (a warm start compiles nothing, the warning still shows).
"""

from __future__ import annotations

import re

_CALL = re.compile(r"\bbpf_trace_printk\s*\(\s*((?:\"(?:[^\"\\\n]|\\.)*\"\s*)+)")
_CONV = re.compile(r"%[-+ #0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(hh|h|ll|l|L|z|j|t)?([A-Za-z%])")
_BAD = set("feEgGaAn")
WORDS = ("warning: only %d %u %x %ld %lu %lx %lld %llu %llx %p %s conversion specifiers "
         "allowed")


def warnings(text: str, name: str = "bpf_text") -> list[str]:
    """One line per format conversion the kernel rejects, naming its line."""
    if "bpf_trace_printk" not in text:
        return []
    out = []
    for m in _CALL.finditer(text):
        fmt = "".join(re.findall(r"\"((?:[^\"\\\n]|\\.)*)\"", m.group(1)))
        for c in _CONV.finditer(fmt):
            if c.group(2) in _BAD or c.group(1) == "L":
                line = text.count("\n", 0, m.start()) + 1
                out.append(f"{name}:{line}: {WORDS} (and %c %i %X): the kernel prints "
                           f"nothing for {c.group(0)!r} in \"{fmt}\"")
    return out
