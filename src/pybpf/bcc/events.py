"""Which C type a bcc program submits to an output table, found in the program text.

bcc learns it from clang's AST; pybpf reads the call (``events.perf_submit(ctx, &data,
...)``, ``events.ringbuf_output(&data, ...)``, ``data = events.ringbuf_reserve(...)``) and
the declaration of that variable, then looks the type up in the object's BTF.
"""

from __future__ import annotations

import re

from .scan import blank_comments, matching, split_args


def _decl_type(clean: str, var: str) -> str | None:
    pat = re.compile(r"((?:struct|union)\s+\w+|\w+)\s*\*?\s*\b%s\b\s*(?:=|;|\[|,)" %
                     re.escape(var))
    for m in pat.finditer(clean):
        t = m.group(1)
        if t in ("return", "sizeof", "typeof", "if", "while"):
            continue
        return " ".join(t.split())
    return None


def event_type_name(text: str, table: str, clean: str | None = None) -> str | None:
    """``"struct data_t"`` (or a typedef name) submitted to ``table``, or None."""
    clean = blank_comments(text) if clean is None else clean
    t = re.escape(table)
    for m in re.finditer(r"\b%s\s*\.\s*(perf_submit_skb|perf_submit|ringbuf_output)\s*\(" % t,
                         clean):
        close = matching(clean, m.end() - 1)
        args = split_args(clean[m.end():close]) if close > 0 else []
        idx = {"perf_submit": 1, "perf_submit_skb": 2, "ringbuf_output": 0}[m.group(1)]
        if len(args) > idx:
            var = re.match(r"&?\s*\(?\s*(\w+)", args[idx])
            found = _decl_type(clean, var.group(1)) if var else None
            if found:
                return found
    m = re.search(r"(\w+)\s*=\s*(?:\([^)]*\)\s*)?%s\s*\.\s*ringbuf_reserve\s*\(" % t, clean)
    if m is not None:
        found = _decl_type(clean, m.group(1))
        if found:
            return found
    m = re.search(r"\b%s\s*\.\s*ringbuf_reserve\s*\(\s*sizeof\s*\(\s*((?:struct\s+)?\w+)" % t,
                  clean)
    return " ".join(m.group(1).split()) if m else None
