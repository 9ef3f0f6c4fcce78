"""A small lexical scanner for bcc C text: top-level function definitions and macro calls.

bcc parses programs with clang's AST; pybpf only needs to find functions and rewrite a few
forms, which a comment- and string-aware brace scanner does without a C parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENT_BEFORE = re.compile(r"([A-Za-z_]\w*)\s*$")


@dataclass
class Function:
    """A top-level function definition ``<decl> name(params) { body }``."""

    name: str
    decl_start: int        # where its declaration (return type, attributes) starts
    params_start: int      # index of "("
    params_end: int        # index of the matching ")"
    body_start: int        # index of "{"
    body_end: int          # index just past the matching "}"
    params: str
    decl: str              # the text before the name (return type, qualifiers)

    @property
    def is_static(self) -> bool:
        return re.search(r"\bstatic\b", self.decl) is not None


def blank_comments(text: str, directives: bool = True) -> str:
    """``text`` with comments and string/char literal contents replaced by spaces (same
    length and newlines), so structural regexes cannot match inside them; with
    ``directives``, also the braces, parentheses and semicolons of preprocessor lines."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
        elif c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            for k in range(i + 1, min(j, n)):
                out[k] = " "
            i = j + 1
        elif directives and c == "#" and not text[text.rfind("\n", 0, i) + 1:i].strip():
            # preprocessor line (with continuations): keep, but braces in it are not code
            j = i
            while True:
                j = text.find("\n", j)
                if j < 0:
                    j = n
                    break
                if text[j - 1] != "\\":
                    break
                j += 1
            for k in range(i, j):
                if out[k] in "{}();":
                    out[k] = " "
            i = j
        else:
            i += 1
    return "".join(out)


def matching(clean: str, i: int, open_: str = "(", close: str = ")") -> int:
    """Index of the bracket closing the one at ``i`` in blanked text, or -1."""
    depth = 0
    for j in range(i, len(clean)):
        ch = clean[j]
        if ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return j
    return -1


def functions(text: str, clean: str | None = None) -> list[Function]:
    """Top-level function definitions, in order."""
    clean = blank_comments(text) if clean is None else clean
    found: list[Function] = []
    depth = 0
    stmt_start = 0
    i, n = 0, len(clean)
    while i < n:
        ch = clean[i]
        if ch == "{":
            if depth == 0:
                head = clean[stmt_start:i].rstrip()
                fn = _function_head(text, clean, stmt_start, head, i)
                end = matching(clean, i, "{", "}")
                if end < 0:
                    return found
                if fn is not None:
                    fn.body_end = end + 1
                    found.append(fn)
                    i = end + 1
                    stmt_start = i
                    continue
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                stmt_start = i + 1
        elif ch == ";" and depth == 0:
            stmt_start = i + 1
        elif ch == "\n" and depth == 0 and clean[stmt_start:i].lstrip().startswith("#") \
                and clean[i - 1] != "\\":
            stmt_start = i + 1        # a directive ends at a newline not continued
        i += 1
    return found


def _function_head(text: str, clean: str, start: int, head: str, brace: int) -> Function | None:
    if not head.endswith(")"):
        return None
    close = start + len(head) - 1
    depth = 0
    j = close
    while j >= start:
        if clean[j] == ")":
            depth += 1
        elif clean[j] == "(":
            depth -= 1
            if depth == 0:
                break
        j -= 1
    if j < start:
        return None
    m = _IDENT_BEFORE.search(clean, start, j)
    if m is None or "=" in clean[start:j]:
        return None
    # skip leading blank lines/preprocessor leftovers in the declaration
    decl_start = start + (len(clean[start:m.start()]) - len(clean[start:m.start()].lstrip()))
    return Function(name=m.group(1), decl_start=decl_start, params_start=j, params_end=close,
                    body_start=brace, body_end=-1, params=text[j + 1:close],
                    decl=text[decl_start:m.start()])


def split_args(s: str) -> list[str]:
    """Split a comma-separated argument list at depth 0."""
    out, depth, cur = [], 0, []
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    last = "".join(cur).strip()
    if last or out:
        out.append(last)
    return out


_PARAM_NAME = re.compile(r"([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)$")


def param(decl: str) -> tuple[str, str]:
    """``"const char __user *filename"`` -> ``("const char __user *", "filename")``."""
    decl = decl.strip()
    m = _PARAM_NAME.search(decl)
    if m is None or m.start() == 0:
        return decl, ""
    return decl[:m.start()].strip(), m.group(1)
