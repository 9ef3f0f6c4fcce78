/* bcc's packet helpers, written for pybpf (see pybpf/bcc/packet.py).
 *
 * Socket-filter and tc programs in bcc's style parse packets with a cursor that starts at
 * 0 (`u8 *cursor = 0;`, `cursor_advance(cursor, n)` hands out packet offsets as
 * pointers) and read header fields through pointers to the BPF_PACKET_HEADER structs of
 * <bcc/proto.h>.  Those reads are not memory loads: the front end turns `ip->nextp` into
 * `bpf_dext_pkt(skb, (u64)ip + byte, bit, bits)`, which loads the packet's bytes with
 * the classic LD_ABS/LD_IND instructions (load_byte/half/word: network order, converted
 * to host order by the kernel) and cuts out the field, its bits counted from the most
 * significant one, as headers are drawn in RFCs.  Writes become bpf_dins_pkt. */
#ifndef PYBPF_PACKET_H
#define PYBPF_PACKET_H

/* LLVM's BPF intrinsics for LD_ABS/LD_IND: the skb must be the program's context */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

static __always_inline unsigned long long load_dword(void *skb, unsigned long long off)
{
	return ((unsigned long long)load_word(skb, off) << 32) | load_word(skb, off + 4);
}

#ifndef cursor_advance
#define cursor_advance(_cursor, _len) \
	({ void *__bcc_at = (void *)(_cursor); (_cursor) += (_len); __bcc_at; })
#endif

#ifndef MASK
#define MASK(_n) ((_n) < 64 ? (1ull << (_n)) - 1 : ((unsigned long long)-1LL))
#endif

/* bits [bofs, bofs + bsz) of the big-endian unit at packet offset off, bit 0 the most
 * significant; the unit is the smallest of 1, 2, 4, 8 bytes that holds them */
static __always_inline unsigned long long
bpf_dext_pkt(void *pkt, unsigned long long off, unsigned long long bofs,
	     unsigned long long bsz)
{
	if (bofs + bsz <= 8)
		return bsz == 8 ? load_byte(pkt, off)
				: load_byte(pkt, off) >> (8 - (bofs + bsz)) & MASK(bsz);
	if (bofs + bsz <= 16)
		return bsz == 16 ? load_half(pkt, off)
				 : load_half(pkt, off) >> (16 - (bofs + bsz)) & MASK(bsz);
	if (bofs + bsz <= 32)
		return bsz == 32 ? load_word(pkt, off)
				 : load_word(pkt, off) >> (32 - (bofs + bsz)) & MASK(bsz);
	if (bofs + bsz <= 64)
		return bsz == 64 ? load_dword(pkt, off)
				 : load_dword(pkt, off) >> (64 - (bofs + bsz)) & MASK(bsz);
	return 0;
}

/* the store that matches bpf_dext_pkt: the other bits of the unit are kept, the bytes
 * written back in network order */
static __always_inline void
bpf_dins_pkt(void *pkt, unsigned long long off, unsigned long long bofs,
	     unsigned long long bsz, unsigned long long val)
{
	if (bofs + bsz <= 8) {
		__u8 v = val;
		if (bsz != 8) {
			v = load_byte(pkt, off);
			v &= ~(MASK(bsz) << (8 - (bofs + bsz)));
			v |= (val & MASK(bsz)) << (8 - (bofs + bsz));
		}
		bpf_skb_store_bytes(pkt, off, &v, 1, 0);
	} else if (bofs + bsz <= 16) {
		__u16 v = val;
		if (bsz != 16) {
			v = load_half(pkt, off);
			v &= ~(MASK(bsz) << (16 - (bofs + bsz)));
			v |= (val & MASK(bsz)) << (16 - (bofs + bsz));
		}
		v = __builtin_bswap16(v);
		bpf_skb_store_bytes(pkt, off, &v, 2, 0);
	} else if (bofs + bsz <= 32) {
		__u32 v = val;
		if (bsz != 32) {
			v = load_word(pkt, off);
			v &= ~(MASK(bsz) << (32 - (bofs + bsz)));
			v |= (val & MASK(bsz)) << (32 - (bofs + bsz));
		}
		v = __builtin_bswap32(v);
		bpf_skb_store_bytes(pkt, off, &v, 4, 0);
	} else if (bofs + bsz <= 64) {
		__u64 v = val;
		if (bsz != 64) {
			v = load_dword(pkt, off);
			v &= ~(MASK(bsz) << (64 - (bofs + bsz)));
			v |= (val & MASK(bsz)) << (64 - (bofs + bsz));
		}
		v = __builtin_bswap64(v);
		bpf_skb_store_bytes(pkt, off, &v, 8, 0);
	}
}

/* bcc's checksum pseudo-calls.  The front end (packet.py) rewrites
 *   incr_cksum_l3(&ip->hchecksum, old, new)  into
 *   bpf_l3_csum_replace_(skb, (u64)&ip->hchecksum, old, new, sizeof(new))
 * and incr_cksum_l4(&udp->crc, old, new, pseudo) likewise, its flags
 * ((pseudo & 1) << 4) | sizeof(new): BPF_F_PSEUDO_HDR when the field is also in the
 * pseudo-header (an address for UDP/TCP).  The offset is a packet offset: a member's
 * address through a header pointer is one.  The declarations only let the text parse;
 * no call of them is left after the rewrite. */
int incr_cksum_l3(void *off, unsigned long long oldval, unsigned long long newval);
int incr_cksum_l4(void *off, unsigned long long oldval, unsigned long long newval,
		  unsigned long long pseudo);

/* The old and new values are host-order numbers (packet reads convert them, see
 * bpf_dext_pkt); the kernel's csum helpers want them as the bytes in the packet. The
 * low four bits of flags give the field's size. */
static __always_inline unsigned long long
__pybpf_csum_order(unsigned long long v, unsigned long long flags)
{
	switch (flags & 0xf) {
	case 2:
		return __builtin_bswap16(v);
	case 4:
		return __builtin_bswap32(v);
	case 8:
		return __builtin_bswap64(v);
	}
	return v;
}

static __always_inline int
bpf_l3_csum_replace_(void *skb, unsigned long long off, unsigned long long from,
		     unsigned long long to, unsigned long long flags)
{
	return bpf_l3_csum_replace(skb, off, __pybpf_csum_order(from, flags),
				   __pybpf_csum_order(to, flags), flags);
}

static __always_inline int
bpf_l4_csum_replace_(void *skb, unsigned long long off, unsigned long long from,
		     unsigned long long to, unsigned long long flags)
{
	return bpf_l4_csum_replace(skb, off, __pybpf_csum_order(from, flags),
				   __pybpf_csum_order(to, flags), flags);
}

#endif /* PYBPF_PACKET_H */
