"""bcc's packet-header rewrite (pybpf.bcc.packet), root-free: where each member of
<bcc/proto.h> lives (bcc's semantics: the member's bit offset in the packed struct, split in
a byte and the bits left over, read from the most significant bit of network-order
bytes), the values those places give on real header bytes, and the C the pass writes."""

from __future__ import annotations

import os
import struct

import pytest

from pybpf.bcc import kderef, packet

INC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src",
                   "pybpf", "bcc", "include")
ARGS = ["-I" + INC, "-target", "bpf"]
HEAD = """typedef unsigned long long u64; typedef unsigned char u8;
#include <bcc/proto.h>
#define cursor_advance(_cursor, _len) ({ void *_tmp = _cursor; _cursor += _len; _tmp; })
"""



def test_libclang_is_there():
    assert kderef.available(), "libclang missing: scripts/setup installs libclang1-19"


def _fields(struct_name: str) -> dict[str, packet.Field]:
    ci = kderef.cindex()
    tu = ci.Index.create().parse(kderef.MAIN, args=[*ARGS, "-x", "c"],
                                 unsaved_files=[(kderef.MAIN, HEAD)])
    for c in tu.cursor.walk_preorder():
        if c.kind == ci.CursorKind.STRUCT_DECL and c.spelling == struct_name and \
                c.is_definition():
            return {f.spelling: packet.field_of(f) for f in c.get_children()
                    if f.kind == ci.CursorKind.FIELD_DECL}
    raise AssertionError(f"no struct {struct_name}")


def dext(pkt: bytes, base: int, f: packet.Field) -> int:
    """bpf_dext_pkt in Python: the smallest big-endian unit of 1, 2, 4, 8 bytes that holds
    bits [bit, bit + bits), shifted down and masked."""
    for unit in (8, 16, 32, 64):
        if f.bit + f.bits <= unit:
            v = int.from_bytes(pkt[base + f.byte:base + f.byte + unit // 8], "big")
            return (v >> (unit - (f.bit + f.bits))) & ((1 << f.bits) - 1)
    raise AssertionError(f)


def test_ethernet_places():
    F = packet.Field
    assert _fields("ethernet_t") == {"dst": F(0, 0, 48), "src": F(6, 0, 48),
                                     "type": F(12, 0, 16)}


def test_ip_places():
    F = packet.Field
    f = _fields("ip_t")
    assert f["ver"] == F(0, 0, 4) and f["hlen"] == F(0, 4, 4)
    assert f["tos"] == F(1, 0, 8) and f["tlen"] == F(2, 0, 16)
    assert f["identification"] == F(4, 0, 16)
    assert f["ffo_unused"] == F(6, 0, 1) and f["df"] == F(6, 1, 1) and f["mf"] == F(6, 2, 1)
    assert f["foffset"] == F(6, 3, 13)
    assert f["ttl"] == F(8, 0, 8) and f["nextp"] == F(9, 0, 8)
    assert f["hchecksum"] == F(10, 0, 16)
    assert f["src"] == F(12, 0, 32) and f["dst"] == F(16, 0, 32)


def test_tcp_places():
    F = packet.Field
    f = _fields("tcp_t")
    assert f["src_port"] == F(0, 0, 16) and f["dst_port"] == F(2, 0, 16)
    assert f["seq_num"] == F(4, 0, 32) and f["ack_num"] == F(8, 0, 32)
    assert f["offset"] == F(12, 0, 4) and f["reserved"] == F(12, 4, 4)
    flags = ["flag_cwr", "flag_ece", "flag_urg", "flag_ack", "flag_psh", "flag_rst",
             "flag_syn", "flag_fin"]
    assert [f[n] for n in flags] == [F(13, i, 1) for i in range(8)]
    assert f["rcv_wnd"] == F(14, 0, 16) and f["cksum"] == F(16, 0, 16)
    assert f["urg_ptr"] == F(18, 0, 16)


def test_places_read_real_headers():
    """The places give the header's values on bytes built by struct (network order)."""
    eth = bytes.fromhex("0200000000aa") + bytes.fromhex("0400000000bb") + b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 60, 0x1234, 0x4000 | 0x0123, 64, 6,
                     0xBEEF, bytes([10, 97, 0, 2]), bytes([10, 97, 0, 1]))
    tcp = struct.pack("!HHIIBBHHH", 40000, 80, 7, 9, 8 << 4, 0x12, 512, 0xCAFE, 3)
    pkt = eth + ip + tcp
    e, i, t = _fields("ethernet_t"), _fields("ip_t"), _fields("tcp_t")
    assert dext(pkt, 0, e["dst"]) == 0x0200000000AA
    assert dext(pkt, 0, e["src"]) == 0x0400000000BB
    assert dext(pkt, 0, e["type"]) == 0x0800
    got = {n: dext(pkt, 14, i[n]) for n in i}
    assert got == {"ver": 4, "hlen": 5, "tos": 0x10, "tlen": 60, "identification": 0x1234,
                   "ffo_unused": 0, "df": 1, "mf": 0, "foffset": 0x0123, "ttl": 64,
                   "nextp": 6, "hchecksum": 0xBEEF, "src": 0x0A610002, "dst": 0x0A610001}
    got = {n: dext(pkt, 34, t[n]) for n in t}
    assert got["src_port"] == 40000 and got["dst_port"] == 80 and got["offset"] == 8
    assert got["seq_num"] == 7 and got["ack_num"] == 9
    assert (got["flag_syn"], got["flag_ack"], got["flag_fin"], got["flag_rst"]) == (1, 1, 0, 0)
    assert got["rcv_wnd"] == 512 and got["cksum"] == 0xCAFE and got["urg_ptr"] == 3


def _body(src: str) -> str:
    return packet.apply(HEAD + src, ARGS)[len(HEAD):]


def test_reads_become_dext_on_the_first_argument():
    out = _body("""int f(void *skb) {
  u8 *cursor = 0;
  struct ethernet_t *ethernet = cursor_advance(cursor, sizeof(*ethernet));
  if (!(ethernet->type == 0x0800)) return 0;
  struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
  struct tcp_t *tcp = cursor_advance(cursor, sizeof(*tcp));
  return (ip->hlen << 2) + tcp->flag_syn + (ip -> nextp);
}""")
    assert "bpf_dext_pkt(skb, (u64)ethernet+12, 0, 16) == 0x0800" in out
    assert "(bpf_dext_pkt(skb, (u64)ip+0, 4, 4) << 2)" in out
    assert "bpf_dext_pkt(skb, (u64)tcp+13, 6, 1)" in out
    assert "(bpf_dext_pkt(skb, (u64)ip+9, 0, 8))" in out
    assert "sizeof(*ethernet)" in out and "->" not in out.split("cursor_advance(cursor, "
                                                               "sizeof(*tcp));")[1]


def test_stores_become_dins_and_compound_ones_keep_the_old_value():
    out = _body("""int f(struct __sk_buff *ctx) {
  u8 *cursor = 0;
  struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
  ip->ttl = 9;
  ip->ttl -= ip->tos;
  return 0;
}""")
    assert "bpf_dins_pkt(ctx, (u64)ip+8, 0, 8, 9);" in out
    assert ("bpf_dins_pkt(ctx, (u64)ip+8, 0, 8, bpf_dext_pkt(ctx, (u64)ip+8, 0, 8) - "
            "(bpf_dext_pkt(ctx, (u64)ip+1, 0, 8)));") in out


def test_incr_cksum_calls_get_the_skb_the_size_of_the_new_value_and_the_pseudo_flag():
    out = _body("""int incr_cksum_l3(void *off, u64 o, u64 n);
int incr_cksum_l4(void *off, u64 o, u64 n, u64 pseudo);
int f(struct __sk_buff *skb2) {
  u8 *cursor = 0;
  struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
  struct udp_t *udp = cursor_advance(cursor, sizeof(*udp));
  unsigned int new_ip = 7; unsigned short port = 9;
  incr_cksum_l3(&ip->hchecksum, ip->dst, new_ip);
  incr_cksum_l4(&udp->crc, port, udp->sport, 1);
  return 0;
}""")
    assert ("bpf_l3_csum_replace_(skb2, (u64)&ip->hchecksum, bpf_dext_pkt(skb2, (u64)ip+16, "
            "0, 32), new_ip, sizeof(new_ip));") in out
    # bcc's sizeof is of the rewritten argument: a packet read is a u64
    assert ("bpf_l4_csum_replace_(skb2, (u64)&udp->crc, port, bpf_dext_pkt(skb2, (u64)udp+0, "
            "0, 16), ((1 & 0x1) << 4) | sizeof(bpf_dext_pkt(skb2, (u64)udp+0, 0, 16)));") in out
    assert packet.needed("incr_cksum_l3(off + 10, 1, 2);")


def test_a_member_address_given_to_the_csum_helpers_becomes_an_integer_offset():
    src = """static long (*bpf_l3_csum_replace)(void *, u64, u64, u64, u64) = (void *)10;
int f(struct __sk_buff *skb) {
  u8 *cursor = 0;
  struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
  u64 off = 10;
  bpf_l3_csum_replace(skb, &ip->hchecksum, 1, 2, 2);
  bpf_l3_csum_replace(skb, off, 1, 2, 2);
  return 0;
}"""
    out = _body(src)
    assert "bpf_l3_csum_replace(skb, (u64)&ip->hchecksum, 1, 2, 2);" in out
    assert "bpf_l3_csum_replace(skb, off, 1, 2, 2);" in out


def test_addresses_sizeof_and_other_pointers_are_left_alone():
    src = """struct plain { int a; };
int g(struct ip_t *param, struct plain *p) {
  u8 *cursor = 0;
  struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
  unsigned long a = (unsigned long)&ip->src;
  return sizeof(ip->src) + param->ttl + p->a + a;
}"""
    assert _body(src) == src


def test_text_without_packet_headers_is_not_parsed():
    assert not packet.needed("int f(struct xdp_md *ctx) { return XDP_PASS; }")
    assert packet.needed("#include <bcc/proto.h>\n")
    assert packet.needed("struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));")


def test_a_member_inside_a_macro_is_refused_in_one_line():
    from pybpf.errors import CompileError
    src = """#define TTL_IS(x, v) ((x) == (v))
int f(void *skb) {
  u8 *cursor = 0;
  struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
  return TTL_IS(ip->ttl, 3);
}"""
    with pytest.raises(CompileError, match=r"in f\(\): ip->ttl is a packet header member "
                                           r"used inside a macro"):
        _body(src)


def test_an_incr_cksum_call_inside_a_macro_is_refused_and_macro_arguments_are_fine():
    from pybpf.errors import CompileError
    decl = "int incr_cksum_l3(void *off, u64 o, u64 n);\n#define NEW 33\n"
    body = """int f(struct __sk_buff *skb) {
  u8 o = 1;
  %s;
  return 0;
}"""
    out = _body(decl + body % "incr_cksum_l3((void *)24, o, NEW)")
    assert "bpf_l3_csum_replace_(skb, (u64)(void *)24, o, NEW, sizeof(NEW));" in out
    with pytest.raises(CompileError, match=r"in f\(\): incr_cksum_l3\(\) is called inside "
                                           r"a macro"):
        _body(decl + "#define FIX(o) incr_cksum_l3((void *)24, o, 2)\n" + body % "FIX(o)")
