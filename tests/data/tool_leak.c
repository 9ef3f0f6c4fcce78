/* Leaks 7 blocks of 1000 bytes from leak_marker(), frees 50 others, then lingers (for
 * memleak).  Starts once a line arrives on stdin. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void *keep[7];

__attribute__((noinline)) void leak_marker(int i)
{
	keep[i] = malloc(1000);
}

__attribute__((noinline)) void no_leak(void)
{
	free(malloc(3000));
}

int main(void)
{
	char line[16];

	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (int i = 0; i < 7; i++)
		leak_marker(i);
	for (int i = 0; i < 50; i++)
		no_leak();
	printf("done\n");
	fflush(stdout);
	sleep(30);
	return 0;
}
