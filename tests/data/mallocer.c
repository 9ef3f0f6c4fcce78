/* Waits for a line on stdin, then mallocs and frees N blocks of BASE + i bytes from one
 * call site, says "done" and stays until stdin closes (mallocstacks reads its maps). */
#include <stdio.h>
#include <stdlib.h>

static void __attribute__((noinline)) allocate(int n, long base)
{
	for (int i = 0; i < n; i++) {
		void *volatile p = malloc(base + i);
		free(p);
	}
}

int main(int argc, char **argv)
{
	char line[64];

	if (argc != 3 || !fgets(line, sizeof(line), stdin))
		return 2;
	allocate(atoi(argv[1]), atol(argv[2]));
	printf("done\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}
