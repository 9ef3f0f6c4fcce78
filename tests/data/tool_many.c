/* Many functions called a known number of times, for the uprobe_multi tests: after a
 * line on stdin, each of "tool_many ROUNDS [US [LINGER]]" rounds calls many_fK() K+1
 * times (K = 0..15), each call sleeping US microseconds (default 0); vex_many() (a first
 * instruction x86 uprobes refuse) is called once a round.  Then it prints "done"
 * and lingers LINGER seconds (its stacks are named while it lives). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static long us;

#define F(k) __attribute__((noinline)) void many_f##k(void) \
	{ __asm__ volatile("" ::: "memory"); if (us) usleep(us); }
F(00) F(01) F(02) F(03) F(04) F(05) F(06) F(07)
F(08) F(09) F(10) F(11) F(12) F(13) F(14) F(15)

__attribute__((naked, noinline)) void vex_many(void)
{
	__asm__ volatile("vmovd %esi, %xmm0\n\tret\n");
}

static void (*const funcs[])(void) = {
	many_f00, many_f01, many_f02, many_f03, many_f04, many_f05, many_f06, many_f07,
	many_f08, many_f09, many_f10, many_f11, many_f12, many_f13, many_f14, many_f15,
};

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 1;
	char line[8];

	us = argc > 2 ? atol(argv[2]) : 0;
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 16; k++)
			for (int i = 0; i <= k; i++)
				funcs[k]();
		vex_many();
	}
	printf("done\n");
	fflush(stdout);
	if (argc > 3)
		sleep(atoi(argv[3]));
	return 0;
}
