/* Calls args_marker(i, name) for i = 0..n-1 with name = NAMES[i % 3] once a line is read
 * on stdin (a tool attaches first); args_marker returns i * 3 (for trace and argdist). */
#include <stdio.h>
#include <stdlib.h>

static const char *const NAMES[] = {"alpha", "beta", "gamma"};

__attribute__((noinline)) long args_marker(long i, const char *name)
{
	__asm__ volatile("" : : "r"(name) : "memory");
	return i * 3;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	char line[16];
	long sum = 0;

	/* fault the names' page in: a probe reads it without faulting */
	for (int i = 0; i < 3; i++)
		sum += NAMES[i][0];
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (int i = 0; i < n; i++)
		sum += args_marker(i, NAMES[i % 3]);
	printf("%ld\n", sum);   /* the sum includes the names' first letters */
	return 0;
}
