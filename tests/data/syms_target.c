/* A process whose own addresses the symbolizer tests resolve (built with -g -O2): it prints
 * the addresses of a plain function and of a function with an always-inlined callee, and
 * the line of that call, then waits for stdin to close. */
#include <stdio.h>
#include <unistd.h>

volatile int sink;

__attribute__((noinline)) void pybpf_syms_plain(void)
{
	sink++;
}

static inline __attribute__((always_inline)) void pybpf_syms_inner(int x)
{
	sink = sink * 7 + x;
	sink += x * 3;
}

__attribute__((noinline)) void pybpf_syms_outer(int x)
{
	pybpf_syms_inner(x); int call_line = __LINE__;
	sink += call_line;
}

int main(void)
{
	pybpf_syms_outer(3);
	printf("plain %p\nouter %p\ncall_line %d\n", (void *)pybpf_syms_plain,
	       (void *)pybpf_syms_outer, 22);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
