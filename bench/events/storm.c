// Syscall storm for bench/bench_events.py: waits for a line on stdin, then calls getppid()
// N times as fast as it can and prints "<calls> <seconds>".
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	char line[64];
	struct timespec a, b;

	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);   /* the raw syscall: no libc caching can skip it */
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%ld %.6f\n", n, (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
