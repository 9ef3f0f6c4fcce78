"""The program's own macros, expanded at one use, so :mod:`.kderef` can rewrite their reads.

bcc scripts hide kernel reads in macros (``#define PID(t) t->real_parent->tgid``,
``#define GET_DADDR(sk) sk->__sk_common.skc_daddr``).  bcc rewrites the expanded AST, so the
reads become probe reads wherever such a macro is used.  pybpf rewrites the text, and a read
written in a macro's body has no place of its own there.  So when the AST pass finds a kernel
read that comes from a macro, this module replaces that one use (``PID(task)``) by its
expansion, and the pass runs again on the new text.

Only that use changes.  The same macro elsewhere (on a map value or the context, in a map
declaration) stays a macro.  Rewriting the macro's body instead would be wrong as soon as
one macro serves both kernel and safe pointers.

Expansion follows C's preprocessor (arguments expanded first unless next to ``#`` or
``##``, ``#`` and ``##``, ``__VA_ARGS__`` and GNU's ``, ## __VA_ARGS__``, rescanning, no
macro expanded inside itself).  Only macros the program defines are expanded.  Those of
headers and ``-D`` flags are kept as written, and clang expands them later, as before.
The expansion is written on one line, followed by the newlines it replaced, so later lines
keep their numbers.  Definitions inside the branches the preprocessor skipped (clang's
skipped ranges, given by :mod:`.kderef`: the defines it passes, ``CONFIG_`` values
included) do not count, so a macro defined once per branch of ``#if``/``#else`` expands
to the branch clang takes.  A use is left alone (and its reads are left to the verifier,
as before) when the result would depend on something this module cannot see: a macro
defined more than once in a text with conditional directives and no skipped ranges
known, or the program's own macro name left in the result (a self-reference, or a
function-like name without arguments).
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"""
    (?P<ws>(?:[ \t\r\f\v]|\\\r?\n|/\*.*?\*/|//[^\n]*)+)
  | (?P<nl>\n)
  | (?P<str>(?:u8|[LuU])?"(?:\\.|[^"\\\n])*")
  | (?P<chr>(?:u8|[LuU])?'(?:\\.|[^'\\\n])*')
  | (?P<id>[A-Za-z_]\w*)
  | (?P<num>\.?\d(?:[eEpP][+-]|[\w.])*)
  | (?P<punct>%:%:|\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[*/%+\-&^|<>=!]=
              |\#\#|%:|\S)
""", re.S | re.X)

_REST = re.compile(r"[^\n]+")
_CONDITIONAL = {"if", "ifdef", "ifndef", "elif", "else", "elifdef", "elifndef"}


class Tok(tuple):
    """(text, kind, space before, hide set, start offset)."""
    __slots__ = ()

    text = property(lambda s: s[0])
    kind = property(lambda s: s[1])
    space = property(lambda s: s[2])
    hide = property(lambda s: s[3])
    start = property(lambda s: s[4])


def itokens(text: str, pos: int = 0, end: int | None = None):
    """C preprocessing tokens of ``text[pos:end]``, newlines kept as ``nl`` tokens."""
    end = len(text) if end is None else end
    space = False
    while pos < end:
        m = _TOKEN.match(text, pos, end)
        if m is None:        # an unterminated literal: the rest of the line is one token
            m = _REST.match(text, pos, end)
        kind = m.lastgroup or "punct"
        if kind == "ws":
            space = True
        else:
            yield Tok((m.group(), kind, space, frozenset(), m.start()))
            space = kind == "nl"
        pos = m.end()


def tokens(text: str, pos: int = 0, end: int | None = None) -> list[Tok]:
    return list(itokens(text, pos, end))


class Macro:
    __slots__ = ("name", "params", "variadic", "body", "at")

    def __init__(self, name, params, variadic, body, at):
        self.name, self.params, self.variadic, self.body, self.at = \
            name, params, variadic, body, at


class Unsure(Exception):
    """The expansion depends on what the text alone does not say."""


class Macros:
    """The ``#define``/``#undef`` directives of ``text`` from offset ``start`` on (the
    program's own part), looked up as they stand at a place in the text; ``skipped``:
    the [start, end) offsets the preprocessor skipped (its branches not taken), when
    known: their directives do not count."""

    def __init__(self, text: str, start: int = 0, skipped=None):
        self.text = text
        self.defs: dict[str, list] = {}      # name -> [(offset, Macro or None for #undef)]
        self.conditional = False
        self.exact = skipped is not None      # which branches hold is known
        skipped = sorted(skipped or ())
        toks = tokens(text, start)
        line_start = True
        for i, t in enumerate(toks):
            if t.kind == "nl":
                line_start = True
                continue
            if line_start and t.text in ("#", "%:") and not any(
                    a <= t.start < b for a, b in skipped):
                j = i + 1
                line = []
                while j < len(toks) and toks[j].kind != "nl":
                    line.append(toks[j])
                    j += 1
                self._directive(t.start, line)
            line_start = False

    def _directive(self, at: int, line: list[Tok]) -> None:
        if not line or line[0].kind != "id":
            return
        word = line[0].text
        if word in _CONDITIONAL:
            self.conditional = True
        if word not in ("define", "undef") or len(line) < 2 or line[1].kind != "id":
            return
        name = line[1].text
        if word == "undef":
            self.defs.setdefault(name, []).append((at, None))
            return
        rest, params, variadic = line[2:], None, False
        if rest and rest[0].text == "(" and not rest[0].space:
            params = []
            k = 1
            while k < len(rest) and rest[k].text != ")":
                if rest[k].text == "...":
                    variadic = True
                    params.append("__VA_ARGS__")
                elif rest[k].kind == "id":
                    if k + 1 < len(rest) and rest[k + 1].text == "...":   # GNU `args...`
                        variadic = True
                    params.append(rest[k].text)
                k += 1
            rest = rest[k + 1:]
        body = [Tok((t.text, t.kind, t.space and n > 0, frozenset(), -1))
                for n, t in enumerate(rest)]
        self.defs.setdefault(name, []).append((at, Macro(name, params, variadic, body, at)))

    def at(self, name: str, pos: int):
        """The definition of ``name`` in force at offset ``pos``, or None."""
        entries = self.defs.get(name)
        if not entries:
            return None
        if self.conditional and not self.exact and \
                sum(1 for _, m in entries if m is not None) > 1:
            raise Unsure(name)
        got = None
        for off, m in entries:
            if off < pos:
                got = m
        return got

    # -- uses ------------------------------------------------------------------------------
    def use(self, pos: int):
        """(end, macro) of a use of the program's macro starting at ``pos``, or None."""
        toks = tokens(self.text, pos, min(len(self.text), pos + 256))
        if not toks or toks[0].kind != "id":
            return None
        m = self.at(toks[0].text, pos)
        if m is None:
            return None
        if m.params is None:
            return pos + len(toks[0].text), m
        end = _call_end(self.text, pos + len(toks[0].text))
        return None if end < 0 else (end, m)

    def uses_in(self, a: int, b: int) -> list[tuple[int, int]]:
        """[(start, end)] of the outermost uses of the program's macros that begin in
        ``text[a:b+1]``."""
        out = []
        pos = a
        last = [t for t in self._upto(a, b) if t.kind == "id"]
        if last and last[-1].start + len(last[-1].text) >= b:
            # a header's macro call (ntohs(GET_DPORT(sk))) is one place: take its arguments
            end = _call_end(self.text, last[-1].start + len(last[-1].text))
            b = max(b, end)
        while pos <= b:
            toks = self._upto(pos, b)
            nxt = None
            for t in toks:
                if t.kind == "id":
                    u = self.use(t.start)
                    if u is not None:
                        out.append((t.start, u[0]))
                        nxt = u[0]
                        break
            if nxt is None:
                break
            pos = nxt
        return out

    def _upto(self, a: int, b: int) -> list[Tok]:
        """The tokens that start in ``text[a:b+1]`` (whole, though they may end later)."""
        out = []
        for t in itokens(self.text, a):
            if t.start > b:
                break
            out.append(t)
        return out

    def expand(self, a: int, b: int) -> str:
        """The text that the use ``text[a:b]`` expands to (Unsure if it cannot say)."""
        toks = [t for t in tokens(self.text, a, b) if t.kind != "nl"]
        out = self._expand(toks, a)
        for t in out:
            if t.kind == "id" and self.at(t.text, a) is not None:
                raise Unsure(t.text)      # would expand again in clang: not the same text
        return " ".join(t.text for t in out if t.kind != "pm")

    # -- C's expansion -------------------------------------------------------------------
    def _expand(self, ts: list[Tok], at: int) -> list[Tok]:
        out: list[Tok] = []
        i = 0
        while i < len(ts):
            t = ts[i]
            m = self.at(t.text, at) if t.kind == "id" and t.text not in t.hide else None
            if m is not None and m.params is None:
                body = self._subst(m, None, t.hide | {m.name}, at, t.space)
                ts = ts[:i] + body + ts[i + 1:]
                continue
            if m is not None and i + 1 < len(ts) and ts[i + 1].text == "(":
                got = _args(ts, i + 1)
                if got is not None:
                    args, close = got
                    args, elided = self._bind(m, args)
                    hs = (t.hide & ts[close].hide) | {m.name}
                    ts = ts[:i] + self._subst(m, args, hs, at, t.space, elided) + ts[close + 1:]
                    continue
            out.append(t)
            i += 1
        return out

    def _bind(self, m: Macro, args: list[list[Tok]]) -> tuple[dict[str, list[Tok]], bool]:
        """The parameters' arguments, and whether the variable arguments were left out
        (``R(x)`` for ``R(a, ...)``, or ``F()`` for ``F(...)``): only then does GNU's
        ``, ## __VA_ARGS__`` drop its comma (``R(x,)`` keeps it, as clang and gcc do)."""
        n = len(m.params)
        if n == 0 and args == [[]]:
            args = []
        elided = m.variadic and (len(args) == n - 1 or (n == 1 and args == [[]]))
        if m.variadic and len(args) > n:
            rest = args[n - 1:]
            joined = rest[0]
            for a in rest[1:]:
                joined = joined + [Tok((",", "punct", False, frozenset(), -1))] + a
            args = args[:n - 1] + [joined]
        if m.variadic and len(args) == n - 1:
            args = args + [[]]
        if len(args) != n:
            raise Unsure(m.name)          # clang reports the wrong count itself
        return dict(zip(m.params, args)), elided

    def _subst(self, m: Macro, args, hs, at: int, space: bool,
               elided: bool = False) -> list[Tok]:
        body, out = m.body, []
        args = args or {}
        i = 0
        while i < len(body):
            t = body[i]
            nxt = body[i + 1] if i + 1 < len(body) else None
            if t.text in ("#", "%:") and args and nxt is not None and nxt.text in args:
                out.append(Tok((_stringify(args[nxt.text]), "str", t.space, frozenset(), -1)))
                i += 2
                continue
            if t.text in ("##", "%:%:") and nxt is not None and out:
                right = args.get(nxt.text, [nxt]) if nxt.kind == "id" else [nxt]
                if m.variadic and nxt.text == m.params[-1] and out[-1].text == ",":
                    if right:             # GNU `, ## __VA_ARGS__`: no paste, the comma
                        out += right      # goes when the arguments were left out
                    elif elided:
                        out.pop()
                elif right:
                    out[-1:] = _paste(out[-1], right[0]) + list(right[1:])
                i += 2
                continue
            if t.kind == "id" and t.text in args:
                raw = args[t.text]
                if nxt is not None and nxt.text in ("##", "%:%:"):
                    got = list(raw) or [Tok(("", "pm", False, frozenset(), -1))]
                else:
                    got = self._expand(list(raw), at)
                if got:
                    got[0] = Tok((got[0].text, got[0].kind, t.space) + got[0][3:])
                out += got
                i += 1
                continue
            out.append(t)
            i += 1
        res = [Tok((t.text, t.kind, t.space, t.hide | hs, -1)) for t in out if t.kind != "pm"]
        if res:
            res[0] = Tok((res[0].text, res[0].kind, space) + res[0][3:])
        return res


def _paste(left: Tok, right: Tok) -> list[Tok]:
    if left.kind == "pm":
        return [right]
    if right.kind == "pm":
        return [left]
    text = left.text + right.text
    got = tokens(text)
    kind = got[0].kind if len(got) == 1 else "punct"
    return [Tok((text, kind, left.space, left.hide & right.hide, -1))]


def _stringify(arg: list[Tok]) -> str:
    parts = []
    for n, t in enumerate(arg):
        s = t.text
        if t.kind in ("str", "chr"):
            s = s.replace("\\", "\\\\").replace('"', '\\"')
        parts.append((" " if t.space and n else "") + s)
    return '"' + "".join(parts) + '"'


def _args(ts: list[Tok], i: int):
    """([arg tokens], index of ")") of the call whose "(" is ``ts[i]``, or None."""
    depth, args, cur = 0, [], []
    for j in range(i, len(ts)):
        t = ts[j]
        if t.text == "(":
            depth += 1
            if depth == 1:
                continue
        elif t.text == ")":
            depth -= 1
            if depth == 0:
                args.append(cur)
                return args, j
        elif t.text == "," and depth == 1:
            args.append(cur)
            cur = []
            continue
        cur.append(t)
    return None


def _call_end(text: str, pos: int) -> int:
    """The offset past the ``)`` of a function-like macro's arguments, which start at the
    first token at or after ``pos``; -1 when no "(" follows."""
    depth = 0
    started = False
    for t in itokens(text, pos):
        if t.kind == "nl":
            continue
        if not started:
            if t.text != "(":
                return -1
            started = True
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
            if depth == 0:
                return t.start + 1
    return -1


def expand_uses(text: str, ranges: list[tuple[int, int]], start: int = 0,
                skipped=None) -> str | None:
    """``text`` with the outermost uses of its own macros that begin inside the given
    ranges (offsets of clang's expansion locations) replaced by their expansions, or None
    when there is none to expand; ``skipped`` as for :class:`Macros`."""
    macros = Macros(text, start, skipped)
    if not macros.defs:
        return None
    uses: set[tuple[int, int]] = set()
    for a, b in ranges:
        try:
            uses.update(macros.uses_in(a, b))
        except Unsure:
            continue
    edits = []
    last = -1
    for a, b in sorted(uses):
        if a < last:
            continue               # inside a use already expanded
        try:
            new = macros.expand(a, b)
        except Unsure:
            continue
        edits.append((a, b, new + "\n" * text.count("\n", a, b)))
        last = b
    if not edits:
        return None
    out, pos = [], 0
    for a, b, new in edits:
        out += [text[pos:a], new]
        pos = b
    out.append(text[pos:])
    return "".join(out)
