/* Types for tests/test_cdecl.py: a member named by a Python keyword, __int128 members
 * and a flexible array member, as event headers have them. */
#ifndef PT_CTYPE_WIDE_H
#define PT_CTYPE_WIDE_H

struct pt_wide {
	unsigned int from;          /* a Python keyword: e.from_ */
	__int128 s128;              /* 12 bytes of padding before (16-byte alignment) */
	unsigned __int128 u128;
	unsigned short n;
	unsigned char data[];       /* at 50; sizeof is 64, so data[0..13] are in it */
};

enum pt_color { PT_RED = 1, PT_GREEN = 2, PT_BLUE = -1 };
typedef enum pt_color pt_color_t;

#endif
