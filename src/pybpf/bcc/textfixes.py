"""Text fixes the bcc rewrite makes before its main pass (:mod:`.rewrite`): names a
script gives its own struct members that the prelude defines as macros, ``in6_addr``
members spelled out, the real context handed to static helpers that submit events, and
the program's license.
"""

from __future__ import annotations

import re

from . import scan


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    from .rewrite import _apply as apply
    return apply(text, edits)


def _own_tags():
    from .rewrite import _OWN_TAG
    return _OWN_TAG


def license_of(clean: str, cflags) -> str:
    """The program's license: bcc's ``#define BPF_LICENSE Proprietary`` in the text (or
    ``-DBPF_LICENSE=...``), else GPL.  The kernel refuses GPL-only helpers to others."""
    lic = "GPL"
    for c in cflags:
        if c.startswith("-DBPF_LICENSE="):
            lic = c[len("-DBPF_LICENSE="):]
    m = re.search(r"^[ \t]*#[ \t]*define[ \t]+BPF_LICENSE\b[ \t]*(.*?)[ \t]*$", clean, re.M)
    if m:
        lic = m.group(1)
    lic = lic.strip().strip('"')
    return lic.replace("\\", "\\\\").replace('"', '\\"')


# struct members the prelude names through macros, as net/sock.h and net/inet_sock.h do
_MEMBER_MACROS = frozenset((
    "sk_num", "sk_dport", "sk_daddr", "sk_rcv_saddr", "sk_family", "sk_state", "sk_reuse",
    "sk_bound_dev_if", "sk_v6_daddr", "sk_v6_rcv_saddr", "sk_cookie", "sk_hash", "sk_prot",
    "sk_net", "sk_refcnt", "inet_daddr", "inet_rcv_saddr", "inet_dport", "inet_num",
    "s6_addr", "s6_addr16", "s6_addr32"))


def own_member_undefs(clean: str) -> list[str]:
    """``#undef`` for the prelude's member macros (``sk_daddr``, ...) that a struct the
    text defines itself declares as members: bcc defines them only for a text that
    includes net/sock.h, so its tests' own ``struct sock { u32 *sk_daddr; }`` means the
    plain name."""
    out = []
    for m in _own_tags().finditer(clean):
        close = scan.matching(clean, m.end() - 1, "{", "}")
        if close < 0:
            continue
        for name in sorted(set(re.findall(r"\b(sk_\w+|inet_\w+|s6_\w+)\s*[;\[:]",
                                          clean[m.end():close])) & _MEMBER_MACROS):
            line = f"#undef {name}"
            if line not in out:
                out.append(line)
    return out


_IN6 = re.compile(r"(\.|->)(\s*)s6_addr(16|32)?\b")


def spell_in6_members(text: str, clean: str) -> tuple[str, str]:
    """``addr.s6_addr`` spelled as the member it names (``in6_u.u6_addr8``): in6.h's
    macro would hide the member chain from the kernel-read pass (kderef), which then cut
    ``&sk->...skc_v6_daddr.s6_addr`` at the macro and took the address of a copy."""
    if "s6_addr" not in clean or any(ln.startswith("#undef s6_addr")
                                     for ln in own_member_undefs(clean)):
        return text, clean
    edits = [(m.start(), m.end(), f"{m.group(1)}{m.group(2)}in6_u.u6_addr{m.group(3) or 8}")
             for m in _IN6.finditer(clean)]
    text = _apply(text, edits)
    return text, scan.blank_comments(text)


_CTX_USERS = re.compile(r"\.\s*(?:perf_submit|perf_submit_skb|get_stackid|call)\s*\(")


def forward_real_ctx(text: str, clean: str) -> tuple[str, str]:
    """Static helpers that submit events or take stacks with the context they are given
    (upstream mountsnoop's ``__do_ret_sys(struct pt_regs *ctx, int ret)``) get the
    probe's real context as a hidden last parameter, passed on at each call: where a
    probe body runs on a tracepoint in place of a kprobe, its ``ctx`` is a stand-in
    pt_regs that perf_submit and get_stackid cannot take (see __BCC_CTX)."""
    if not _CTX_USERS.search(clean):
        return text, clean
    every = scan.functions(text, clean)
    fns = [f for f in every if f.is_static and "*" in (scan.split_args(f.params) or [""])[0]]
    marked = {f.name for f in fns if _CTX_USERS.search(clean[f.body_start:f.body_end])}
    while True:                      # helpers calling marked helpers pass it on too
        more = {f.name for f in fns if f.name not in marked and any(
            re.search(r"\b%s\s*\(" % re.escape(n), clean[f.body_start:f.body_end])
            for n in marked)}
        if not more:
            break
        marked |= more
    if not marked:
        return text, clean
    heads = {f.name: (f.decl_start, f.body_start, f.params_end) for f in fns
             if f.name in marked}
    code = scan.blank_comments(text, directives=False)     # calls in macro bodies too
    edits = []
    for name in marked:
        start, body, close = heads[name]
        edits.append((close, close, ", void *__bcc_real_ctx"))
        for m in re.finditer(r"\b%s\s*\(" % re.escape(name), code):
            if start <= m.start() < body:
                continue
            end = scan.matching(code, m.end() - 1)
            if end < 0:
                continue
            in_body = any(f.body_start < m.start() < f.body_end for f in every)
            in_macro = clean[m.end() - 1] != code[m.end() - 1]     # "(" of a directive
            if not in_body and not in_macro:
                edits.append((end, end, ", void *__bcc_real_ctx"))       # a prototype
                continue
            args = scan.split_args(text[m.end():end])
            first = args[0].strip() if args else "0"
            edits.append((end, end, f", __BCC_CTX({first})"))
    text = _apply(text, edits)
    return text, scan.blank_comments(text)


def brace_args(code: str, open_end: int) -> list[tuple[int, int, str]]:
    """Edits that parenthesize each argument of the call whose ``(`` ends at
    ``open_end`` when a comma sits inside its braces (``(Key){map, slot}``): the table
    methods become macros, and the preprocessor splits a macro's arguments at every
    comma outside parentheses, braces or not (bcc rewrites on the AST: no macro)."""
    edits: list[tuple[int, int, str]] = []
    depth = brace = 0
    start, has, i, n = open_end, False, open_end, len(code)
    while i < n:
        ch = code[i]
        if ch in "\"'":                 # a string or char literal: skip to its end
            j = i + 1
            while j < n and code[j] != ch:
                j += 2 if code[j] == "\\" else 1
            i = j + 1
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            if depth == 0:
                break
            depth -= 1
        elif ch == "{":
            brace += 1
        elif ch == "}":
            brace -= 1
        elif ch == "," and depth == 0:
            if brace > 0:
                has = True
            else:
                _wrap(code, start, i, has, edits)
                start, has = i + 1, False
        i += 1
    if i < n:
        _wrap(code, start, i, has, edits)
    return edits


def _wrap(code: str, a: int, b: int, has: bool, edits: list) -> None:
    if not has:
        return
    while a < b and code[a].isspace():
        a += 1
    while b > a and code[b - 1].isspace():
        b -= 1
    edits += [(a, a, "("), (b, b, ")")]
