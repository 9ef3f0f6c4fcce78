/* An allocator of its own under a prefix (tp_malloc, tp_calloc, tp_realloc, tp_free),
 * for memleak --symbols-prefix: leaks 3 blocks of 500 bytes through it and 2 of 700
 * through libc's malloc directly, says "done", then lingers.  Starts on a line. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) void *tp_malloc(size_t n) { return malloc(n); }
__attribute__((noinline)) void *tp_calloc(size_t n, size_t m) { return calloc(n, m); }
__attribute__((noinline)) void *tp_realloc(void *p, size_t n) { return realloc(p, n); }
__attribute__((noinline)) void tp_free(void *p) { free(p); }

void *keep[5];

__attribute__((noinline)) void leak_prefixed(int i)
{
	keep[i] = tp_malloc(500);
}

int main(void)
{
	char line[16];

	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (int i = 0; i < 3; i++)
		leak_prefixed(i);
	keep[3] = malloc(700);
	keep[4] = malloc(700);
	printf("done\n");
	fflush(stdout);
	sleep(30);
	return 0;
}
