"""The probe specifiers of trace and argdist, parsed as bcc's tools read them (pure: no
kernel, no files), for tools/_probegen.py to turn into C.

trace:   ``[{p,r}]:[library]:function[(signature)] [(predicate)] ["format", args...]``,
         ``t:category:event ...``, ``u:library:[provider:]probe ...``
argdist: ``{p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...]
         [:filter]][#label]``
"""

from __future__ import annotations

import re

from .. import errors

KINDS = ("p", "r", "t", "u")
# printf conversions trace accepts, and the C type each value is read as
C_TYPES = {"u": "unsigned int", "d": "int", "lu": "unsigned long", "ld": "long",
           "llu": "unsigned long long", "lld": "long long", "hu": "unsigned short",
           "hd": "short", "x": "unsigned int", "lx": "unsigned long",
           "llx": "unsigned long long", "c": "char", "K": "unsigned long long",
           "U": "unsigned long long", "s": "char *"}
_CONV = re.compile(r"%(?:%|(llu|lld|llx|lu|ld|lx|hu|hd|u|d|x|c|s|K|U))")


class SpecError(errors.PybpfError):
    """A probe specifier that cannot be read (one line, naming the specifier)."""


class Probe:
    """One parsed specifier.  ``kind``: p (entry), r (return), t (tracepoint), u (USDT);
    ``library`` empty for the kernel; ``function``: the function, tracepoint event or
    USDT probe (``provider`` its provider, if given); ``params``: (type, name) of the
    signature; ``filter``: a C expression or None; trace's ``fmt``/``convs``/``values``;
    argdist's ``types``/``exprs``/``label``."""

    def __init__(self, raw: str):
        self.raw = raw
        self.kind = "p"
        self.library = ""
        self.function = ""
        self.category = ""
        self.provider = ""
        self.offset = 0
        self.params: list[tuple[str, str]] = []
        self.filter: str | None = None
        self.fmt = ""
        self.convs: list[str] = []
        self.values: list[str] = []
        self.types: list[str] = []
        self.exprs: list[str] = []
        self.label: str | None = None
        self.default_expr = False
        self.helpers: list[str] = []    # C functions its expressions call (STRCMP)
        self.bin_cmp = False            # trace -B: STRCMP's literal is binary

    @property
    def display(self) -> str:
        """What bcc's trace shows in its FUNC column."""
        if self.kind == "u":
            return f"{self.provider}:{self.function}" if self.provider else self.function
        return self.function

    def bail(self, why: str):
        raise SpecError(f"probe {self.raw!r}: {why}")


def _balanced(text: str, start: int) -> int:
    """The index just past the parenthesis closing the one at ``start``."""
    depth, quote = 0, None
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == "\\":
                continue
            if ch == quote and text[i - 1] != "\\":
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def split_top(text: str, sep: str = ",") -> list[str]:
    """``text`` split at ``sep`` outside parentheses, brackets and quotes."""
    out, depth, quote, cur = [], 0, None, []
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return [s.strip() for s in out]


def _params(p: Probe, sig: str) -> None:
    for part in split_top(sig):
        if not part or part == "void":
            continue
        cut = max(part.rfind("*"), part.rfind(" "))
        name, ctype = part[cut + 1:].strip(), part[:cut + 1].strip()
        if not ctype or not name.isidentifier():
            p.bail(f"cannot read parameter {part!r} of the signature")
        p.params.append((ctype, name))
    if len(p.params) > 6:
        p.bail("at most 6 parameters can be read")


def _location(p: Probe, spec: str, trace: bool) -> None:
    parts = spec.split(":")
    if trace and len(parts) == 1:
        parts = ["p", "", parts[0]]
    elif trace and len(parts) == 2:
        parts = ["p", parts[0], parts[1]]
    if len(parts) < 3:
        p.bail("expected type:library:function")
    p.kind = parts[0] or "p"
    if p.kind not in KINDS:
        p.bail(f"probe type must be '', 'p', 'r', 't' or 'u', not {parts[0]!r}")
    if p.kind == "t":
        if len(parts) != 3 or not parts[1] or not parts[2]:
            p.bail("a tracepoint is t:category:event")
        p.category, p.function = parts[1], parts[2]
    elif p.kind == "u":
        if not parts[1] or len(parts) > 4 or not parts[-1]:
            p.bail("a USDT probe is u:library:[provider:]probe")
        p.library = parts[1]
        p.provider = parts[2] if len(parts) == 4 else ""
        p.function = parts[-1]
    else:
        p.library, func = ":".join(parts[1:-1]), parts[-1]
        if "+" in func:
            func, off = func.split("+", 1)
            try:
                p.offset = int(off, 0)
            except ValueError:
                p.bail(f"invalid offset {off!r}: decimal or 0x hexadecimal")
        if not func:
            p.bail("no function named")
        p.function = func
    if not all(c.isalnum() or c in "_.@-$/" for c in p.function):
        p.bail(f"invalid name {p.function!r}")


def _format(p: Probe, action: str) -> None:
    if not action:
        return
    if not action.startswith('"'):
        p.bail('expected a "format string" after the predicate')
    end = 1
    while end < len(action) and not (action[end] == '"' and action[end - 1] != "\\"):
        end += 1
    if end >= len(action):
        p.bail("unterminated format string")
    p.fmt = action[1:end]
    rest = action[end + 1:].strip()
    if rest.startswith(","):
        rest = rest[1:]
    elif rest:
        p.bail(f"expected ',' after the format string, got {rest[:20]!r}")
    p.values = [v for v in split_top(rest) if v] if rest.strip() else []
    p.convs = [m.group(1) for m in _CONV.finditer(p.fmt) if m.group(1)]
    if len(p.convs) != len(p.values):
        p.bail(f"the format has {len(p.convs)} conversions for {len(p.values)} values")
    if len(p.values) > 6:
        p.bail("at most 6 values per message")


def parse_trace(text: str) -> Probe:
    """One of trace's probes (see the module docstring)."""
    p = Probe(text)
    text = text.strip()
    if not text:
        p.bail("empty probe")
    i = 0
    while i < len(text) and not text[i].isspace() and text[i] != "(":
        i += 1
    spec, rest = text[:i], text[i:]
    sig = None
    if rest.startswith("("):
        j = _balanced(rest, 0)
        if j < 0:
            p.bail("unmatched '(' in the signature")
        sig, rest = rest[1:j - 1], rest[j:]
    _location(p, spec, trace=True)
    if sig is not None:
        if p.kind in ("t", "u"):
            p.bail("USDT and tracepoint probes take no signature: use arg1, ... or "
                   "args->field")
        _params(p, sig)
    rest = rest.strip()
    if rest.startswith("("):
        j = _balanced(rest, 0)
        if j < 0:
            p.bail("unmatched '(' in the predicate")
        p.filter, rest = rest[1:j - 1].strip() or None, rest[j:].strip()
    _format(p, rest)
    return p


def parse_argdist(text: str, hist: bool) -> Probe:
    """One of argdist's probes; ``hist``: given with -H (one expression), else -C."""
    p = Probe(text)
    spec, _, label = text.partition("#")
    p.label = label.strip() or None
    parts = spec.strip().split(":")
    if len(parts) < 3:
        p.bail("at least the probe type, library and function(signature) are needed")
    if len(parts) > 6:
        p.bail("extraneous ':'-separated parts")
    m = re.fullmatch(r"\s*([^()\s]+)\s*\((.*)\)\s*", parts[2])
    if m is None:
        p.bail(f"function signature {parts[2]!r} has an invalid format")
    if parts[0] not in KINDS:
        p.bail(f"probe type must be 'p', 'r', 't' or 'u', not {parts[0]!r}")
    if parts[0] == "u" and ":" not in parts[1]:
        loc = f"u:{parts[1]}:{m.group(1)}"
    else:
        loc = f"{parts[0]}:{parts[1]}:{m.group(1)}"
    _location(p, loc, trace=False)
    if m.group(2).strip():
        if p.kind in ("t", "u"):
            p.bail("USDT and tracepoint probes take no signature: use arg1, ... or "
                   "args->field")
        _params(p, m.group(2))
    p.default_expr = len(parts) < 5
    if p.default_expr:
        if hist and p.kind != "r":
            p.bail("histograms need an expression")
        p.types = ["u64" if p.kind != "r" else "int"]
        p.exprs = ["1" if p.kind != "r" else "$retval"]
    else:
        p.types = split_top(parts[3])
        p.exprs = split_top(parts[4])
        if not all(p.types) or not all(p.exprs):
            p.bail("empty type or expression")
        if len(p.types) != len(p.exprs):
            p.bail("mismatched number of types and expressions")
        if hist and len(p.exprs) > 1:
            p.bail("histograms can only have one expression")
        if len(p.exprs) > 6:
            p.bail("at most 6 expressions")
    if len(parts) == 6 and parts[5].strip():
        p.filter = parts[5].strip()
    return p


def python_format(fmt: str) -> str:
    """trace's format as Python's % operator takes it (every integer conversion to
    %d or %x, %K and %U to %s)."""
    def conv(m):
        c = m.group(1)
        if c is None:
            return "%%"
        if c in ("K", "U", "s"):
            return "%s"
        if c == "c":
            return "%c"
        return "%x" if c.endswith("x") else "%d"
    return _CONV.sub(conv, fmt.replace("%%", "\0")).replace("\0", "%%")


def is_string_type(ctype: str) -> bool:
    return " ".join(ctype.split()).replace(" *", "*") in ("char*", "const char*")
