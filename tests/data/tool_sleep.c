/* Sleeps n times for ms milliseconds in a known function (for offcputime, funccount,
 * funclatency, stackcount), then lingers for an optional number of seconds, saying
 * "done" on stdout first: a test waits for that, not for a guessed time. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) void sleep_marker(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	long ms = argc > 2 ? atol(argv[2]) : 20;
	for (int i = 0; i < n; i++)
		sleep_marker(ms);
	if (argc > 3) {
		write(1, "done\n", 5);
		sleep(atoi(argv[3]));
	}
	return 0;
}
