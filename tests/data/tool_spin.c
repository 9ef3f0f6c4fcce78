#include <stdlib.h>
#include <time.h>
volatile unsigned long sink;
__attribute__((noinline)) void spin_marker_leaf(void) { for (int i = 0; i < 100000; i++) sink += i; }
__attribute__((noinline)) void spin_marker_mid(double secs) {
	struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
	do { spin_marker_leaf(); clock_gettime(CLOCK_MONOTONIC, &b); } while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < secs);
}
int main(int argc, char **argv) { spin_marker_mid(argc > 1 ? atof(argv[1]) : 3.0); return 0; }
