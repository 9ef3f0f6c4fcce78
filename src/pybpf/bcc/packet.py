"""Packet-header members in bcc C become packet loads and stores, decided on clang's AST.

bcc's socket-filter and tc programs parse packets with the structs of ``<bcc/proto.h>``
(marked ``BPF_PACKET_HEADER``) through pointers that hold packet offsets, not addresses:

    u8 *cursor = 0;
    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
    if (ip->nextp != IP_TCP) ...

Its front end turns each read ``ip->nextp`` of a local variable pointing to such a struct
into ``bpf_dext_pkt(skb, (u64)ip + byte, bit, bits)`` and each assignment ``ip->ttl = v``
into ``bpf_dins_pkt(skb, (u64)ip + byte, bit, bits, v)``, ``skb`` being the enclosing
function's first parameter; byte and bit are the member's place in the packed struct
(its bit offset split in bytes and the bits left over), bits its width.  The helpers
(include/pybpf_packet.h) load network-order units with LD_ABS/LD_IND and count bits
from the most significant one.  This pass does the same on the AST that libclang gives
(:mod:`.kderef` explains that choice): the struct is recognised by its annotation
``bcc_packet``, which pybpf's ``BPF_PACKET_HEADER`` carries.

bcc's checksum pseudo-calls get the same function's skb: ``incr_cksum_l3(&ip->hchecksum,
old, new)`` and ``incr_cksum_l4(&udp->crc, old, new, pseudo)`` become calls of
``bpf_l3_csum_replace_``/``bpf_l4_csum_replace_`` (pybpf_packet.h) with the size of
``new`` (and BPF_F_PSEUDO_HDR from ``pseudo``) as the flags.  A member's address given
to the helpers themselves (``bpf_l3_csum_replace(skb, &ip->hchecksum, ...)``) is cast to
the integer offset they take.

Beyond bcc: a compound assignment (``ip->ttl -= 1``) stores the combined value (bcc
stored the right-hand side alone).  As in bcc: members of a pointer that is not a local
variable (a parameter, ``(ptr)->f``), taken by address or incremented are left as
written (the verifier then names them), and an access written inside a macro (its body
or an argument) is refused with one line naming it.
"""

from __future__ import annotations

import re

from .kderef import MAIN, cindex

ANNOTATION = "bcc_packet"
_USES = re.compile(r"\bBPF_PACKET_HEADER\b|\bincr_cksum_l[34]\b|<bcc/proto\.h>|"
                   r"\bstruct\s+(?:ethernet|dot1q|arp|ip|icmp|ip6|ip6_opt|icmp6|udp|tcp|"
                   r"vxlan|vxlan_gbp)_t\b")
# bcc's checksum pseudo-calls and their argument counts
_CKSUM = {"incr_cksum_l3": 3, "incr_cksum_l4": 4}
_CSUM_HELPERS = ("bpf_l3_csum_replace", "bpf_l4_csum_replace")
_ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}


def needed(source: str) -> bool:
    """Whether ``source`` may use packet headers (cheap text check)."""
    return _USES.search(source) is not None


class Field:
    """Where a packet member lives: byte offset, first bit (from the most significant),
    width in bits."""
    __slots__ = ("byte", "bit", "bits")

    def __init__(self, byte: int, bit: int, bits: int):
        self.byte, self.bit, self.bits = byte, bit, bits

    def __repr__(self) -> str:
        return f"Field(byte={self.byte}, bit={self.bit}, bits={self.bits})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Field) and \
            (self.byte, self.bit, self.bits) == (other.byte, other.bit, other.bits)


def field_of(member) -> Field:
    """The place of FIELD_DECL ``member`` (libclang cursor) in its packed struct."""
    off = member.get_field_offsetof()
    bits = member.get_bitfield_width() if member.is_bitfield() else \
        member.type.get_size() * 8
    return Field(off >> 3, off & 7, bits)


def apply(source: str, args: list[str]) -> str:
    """``source`` with its packet-member accesses rewritten; unchanged when libclang is
    missing or the text does not parse (clang's compile then reports the error)."""
    ci = cindex()
    if ci is None:
        return source
    # bpf_trace_printk's arguments are written in the text, but the rewrite made the call
    # a macro (__bcc_trace_printk), whose arguments libclang places at the macro's use:
    # parse them as a call of the helper itself (same length, so offsets hold)
    parsed = source.replace("__bcc_trace_printk(", "  bpf_trace_printk(")
    try:
        tu = ci.Index.create().parse(MAIN, args=[*args, "-x", "c"],
                                     unsaved_files=[(MAIN, parsed)])
    except ci.TranslationUnitLoadError:
        return source
    if any(d.severity >= 4 for d in tu.diagnostics):
        return source
    p = _Pass(ci, tu, parsed.encode())
    edits = p.run()
    if p.in_macros:
        from ..errors import CompileError
        fn, what = p.in_macros[0]
        raise CompileError(f"in {fn}(): {what}")
    if not edits:
        return source
    out = source.encode()
    # from the end: earlier offsets stay valid; an insertion at a load's end goes first
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out = out[:start] + text.encode() + out[end:]
    return out.decode()


class _Pass:
    def __init__(self, ci, tu, src: bytes):
        self.ci, self.K = ci, ci.CursorKind
        self.tu, self.src = tu, src
        self.edits: list[tuple[int, int, str]] = []
        self.in_macros: list[tuple[str, str]] = []     # (function, what is refused)
        self._fn = ""
        self._packet_types: dict[str, bool] = {}

    def run(self) -> list[tuple[int, int, str]]:
        for fn in self.tu.cursor.get_children():
            if fn.kind != self.K.FUNCTION_DECL or not fn.is_definition():
                continue
            if not self._mine(fn):
                continue
            params = [c for c in fn.get_children() if c.kind == self.K.PARM_DECL]
            if not params or not params[0].spelling:
                continue
            self._fn = fn.spelling
            self._walk(fn, None, params[0].spelling)
        return self.edits

    def _mine(self, c) -> bool:
        f = c.location.file
        return f is not None and f.name == MAIN

    def _is_packet_pointer(self, t) -> bool:
        t = t.get_canonical()
        if t.kind != self.ci.TypeKind.POINTER:
            return False
        rec = t.get_pointee().get_canonical()
        decl = rec.get_declaration()
        if decl.kind not in (self.K.STRUCT_DECL, self.K.UNION_DECL):
            return False
        key = decl.get_usr() or rec.spelling
        hit = self._packet_types.get(key)
        if hit is None:
            d = decl.get_definition() or decl
            hit = any(a.kind == self.K.ANNOTATE_ATTR and a.spelling == ANNOTATION
                      for a in d.get_children())
            self._packet_types[key] = hit
        return hit

    def _packet_member(self, m):
        """(variable name, Field) when MEMBER_REF_EXPR ``m`` is ``var->field`` with var a
        local pointer to a packet header, else None."""
        kids = list(m.get_children())
        if len(kids) != 1:
            return None
        base = self._unwrap(kids[0], (self.K.UNEXPOSED_EXPR,))   # implicit casts
        if base is None or base.kind != self.K.DECL_REF_EXPR:
            return None
        var = base.referenced
        if var is None or var.kind != self.K.VAR_DECL or not self._is_packet_pointer(var.type):
            return None
        f = m.referenced
        if f is None or f.kind != self.K.FIELD_DECL:
            return None
        # `var->f`, not `(*var).f`: the text from the base to the member has an arrow
        if self._in_text(m) and \
                b"->" not in self.src[base.extent.end.offset:m.extent.end.offset]:
            return None
        return var.spelling, field_of(f)

    def _in_text(self, c) -> bool:
        """Whether ``c`` is written in the main file as itself (not inside a macro's
        expansion, whose extent is the macro use)."""
        s, e = c.extent.start, c.extent.end
        if s.file is None or e.file is None or s.file.name != MAIN or e.file.name != MAIN:
            return False
        return c.location.offset >= s.offset and c.location.offset <= e.offset and \
            e.offset > s.offset

    def _walk(self, c, parent, skb: str) -> None:
        K = self.K
        if c.kind == K.CALL_EXPR and c.spelling in _CKSUM:
            args = list(c.get_arguments())
            if len(args) == _CKSUM[c.spelling]:
                if not self._call_in_text(c, args):
                    self.in_macros.append((self._fn, (
                        f"{c.spelling}() is called inside a macro (or given one as an "
                        "argument), which cannot be rewritten into the checksum helper: "
                        "write the call and its arguments outside the macro")))
                    return
                for k in c.get_children():
                    self._walk(k, c, skb)
                self._cksum(c, args, skb)
                return
        if c.kind == K.CALL_EXPR and c.spelling in _CSUM_HELPERS and self._in_text(c):
            args = list(c.get_arguments())
            if len(args) == 5 and self._member_address(args[1]):
                # `&ip->hchecksum` is the packet offset the helper wants: as an integer
                # (clang refuses a pointer for it where bcc's older clang warned)
                at = args[1].extent.start.offset
                self.edits.append((at, at, "(u64)"))
        if c.kind == K.MEMBER_REF_EXPR:
            hit = self._packet_member(c)
            if hit is not None and not self._in_text(c):
                self.in_macros.append((self._fn, (
                    f"{hit[0]}->{c.spelling} is a packet header member used inside a "
                    "macro, which cannot be rewritten into a packet load (bcc refuses it "
                    "too): write the access outside the macro")))
                return
            if hit is not None and self._rewrite(c, parent, skb, *hit):
                return
        # parentheses are looked through: `sizeof(ip->src)`, `&(ip->src)` keep their kind
        up = parent if c.kind == K.PAREN_EXPR else c
        for k in c.get_children():
            self._walk(k, up, skb)

    def _call_in_text(self, call, args) -> bool:
        """Whether ``name(args...)`` is written out in the text: the call and each
        argument as themselves, the name and ``(`` right before the first argument."""
        if not self._in_text(call) or not all(self._in_text(a) for a in args):
            return False
        head = self.src[call.extent.start.offset:args[0].extent.start.offset]
        return re.fullmatch(rb"\s*" + call.spelling.encode() + rb"\s*\(\s*", head) is not None

    @staticmethod
    def _unwrap(c, kinds):
        """``c`` without the one-child wrappers of ``kinds`` around it (None when one
        has other children)."""
        while c.kind in kinds:
            kids = list(c.get_children())
            if len(kids) != 1:
                return None
            c = kids[0]
        return c

    def _member_address(self, c) -> bool:
        """Whether expression ``c`` is ``&var->member`` of a packet-header pointer."""
        c = self._unwrap(c, (self.K.UNEXPOSED_EXPR, self.K.PAREN_EXPR))
        if c is None or c.kind != self.K.UNARY_OPERATOR:
            return False
        kids = list(c.get_children())
        return len(kids) == 1 and kids[0].kind == self.K.MEMBER_REF_EXPR and \
            self.src[c.extent.start.offset:kids[0].extent.start.offset].strip() == b"&" \
            and self._packet_member(kids[0]) is not None

    def _rewritten(self, c) -> str:
        """The text of ``c`` with the edits made inside it so far (bcc's sizeof of an
        argument is of its rewritten text: a packet member read is a u64 there)."""
        s, e = c.extent.start.offset, c.extent.end.offset
        out = self.src[s:e]
        inner = [x for x in self.edits if s <= x[0] and x[1] <= e]
        for a, b, text in sorted(inner, key=lambda x: (x[0], x[1]), reverse=True):
            out = out[:a - s] + text.encode() + out[b - s:]
        return out.decode("latin-1")

    def _cksum(self, call, args, skb: str) -> None:
        """``incr_cksum_l3(off, old, new)`` -> ``bpf_l3_csum_replace_(skb, (u64)off, old,
        new, sizeof(new))``; ``incr_cksum_l4(off, old, new, pseudo)`` passes
        ``((pseudo & 1) << 4) | sizeof(new)`` (BPF_F_PSEUDO_HDR) as the flags.  ``off`` is
        a packet offset: ``&udp->crc`` of a packet-header pointer is one."""
        start, end = call.extent.start.offset, call.extent.end.offset
        size = f"sizeof({self._rewritten(args[2])})"
        helper = "bpf_l3_csum_replace_" if call.spelling == "incr_cksum_l3" else \
            "bpf_l4_csum_replace_"
        self.edits.append((start, args[0].extent.start.offset, f"{helper}({skb}, (u64)"))
        if len(args) == 3:
            self.edits.append((args[2].extent.end.offset, end, f", {size})"))
            return
        self.edits.append((args[3].extent.start.offset, args[3].extent.start.offset, "(("))
        self.edits.append((args[3].extent.end.offset, end, f" & 0x1) << 4) | {size})"))

    def _op(self, lhs, rhs) -> str:
        return self.src[lhs.extent.end.offset:rhs.extent.start.offset].decode(
            "latin-1").strip()

    def _rewrite(self, m, parent, skb: str, var: str, f: Field) -> bool:
        K = self.K
        at = f"(u64){var}+{f.byte}, {f.bit}, {f.bits}"
        load = f"bpf_dext_pkt({skb}, {at})"
        s, e = m.extent.start.offset, m.extent.end.offset
        if parent is not None and parent.kind in (K.BINARY_OPERATOR,
                                                  K.COMPOUND_ASSIGNMENT_OPERATOR):
            kids = list(parent.get_children())
            if len(kids) == 2 and kids[0].hash == m.hash:
                op = self._op(kids[0], kids[1])
                if op in _ASSIGN:
                    if not self._in_text(parent):
                        return False
                    rs = kids[1].extent.start.offset
                    head = f"bpf_dins_pkt({skb}, {at}, "
                    if op != "=":
                        head += f"{load} {op[:-1]} ("
                        self.edits.append((parent.extent.end.offset,
                                           parent.extent.end.offset, ")"))
                    self.edits.append((s, rs, head))
                    self.edits.append((parent.extent.end.offset, parent.extent.end.offset,
                                       ")"))
                    return True
        if parent is not None and parent.kind == K.UNARY_OPERATOR:
            toks = self.src[parent.extent.start.offset:s].strip()
            if toks.endswith(b"&") or toks in (b"++", b"--") or \
                    self.src[e:parent.extent.end.offset].strip() in (b"++", b"--"):
                return False       # an address, or an increment: left as bcc leaves it
        if parent is not None and parent.kind == K.CXX_UNARY_EXPR:
            return False           # sizeof / _Alignof
        self.edits.append((s, e, load))
        return True
