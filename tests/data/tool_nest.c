/* Calls a recursive function n times, each call nesting depth levels deep and sleeping
 * ms milliseconds per level (for funclatency -l): level k of a call lasts
 * (depth - k + 1) * ms. */
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) void nest_marker(int depth, long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
	if (depth > 1)
		nest_marker(depth - 1, ms);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	int depth = argc > 2 ? atoi(argv[2]) : 3;
	long ms = argc > 3 ? atol(argv[3]) : 20;

	for (int i = 0; i < n; i++)
		nest_marker(depth, ms);
	return 0;
}
