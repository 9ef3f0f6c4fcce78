/* Two functions for funclatency's pattern test: vex_first() starts with a VEX-encoded
 * vmovd from a general register (as libc's AVX2 strchr does), which x86 uprobes refuse
 * (ENOTSUPP, 524, once the file is mapped), plain_work() with an ordinary instruction.
 * main waits for a line on stdin, then calls each 50 times. */
#include <stdio.h>

__attribute__((naked, noinline)) void vex_first(void)
{
	__asm__ volatile("vmovd %esi, %xmm0\n\tret\n");
}

__attribute__((noinline)) int plain_work(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

int main(void)
{
	char line[8];
	int s = 0;

	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (int i = 0; i < 50; i++) {
		vex_first();
		s += plain_work(i);
	}
	printf("%d\n", s);
	return 0;
}
