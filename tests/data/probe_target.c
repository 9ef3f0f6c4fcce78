/* Target of the uprobe and USDT tests: calls pt_target_func() and fires USDT probes
 * N times ("probe_target N [wait]"; with "wait" it prints "ready" and waits for a line
 * on stdin first, so a test can attach to its pid before it runs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef PT_HAVE_SDT
#include <sys/sdt.h>
#endif

void pt_guarded(int i);   /* probe_guarded.c: a USDT probe behind a semaphore */

__attribute__((noinline)) int pt_target_func(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 2 + 1;
}

__attribute__((noinline)) int pt_other_func(int x)
{
	__asm__ volatile("" ::: "memory");
	return x - 1;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	long sum = 0;

	if (argc > 2 && strcmp(argv[2], "wait") == 0) {
		char buf[16];
		printf("ready\n");
		fflush(stdout);
		if (!fgets(buf, sizeof(buf), stdin))
			return 1;
	}
	for (int i = 0; i < n; i++) {
		sum += pt_target_func(i);
		if (i % 2)
			sum += pt_other_func(i);
#ifdef PT_HAVE_SDT
		DTRACE_PROBE2(pybpf_test, tick, i, sum);
		pt_guarded(i);
#endif
	}
	printf("%ld\n", sum);
	return 0;
}
