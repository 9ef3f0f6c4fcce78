/* Spins for argv[1] seconds in a function whose symbol name is not UTF-8 (an asm label:
 * C identifiers cannot hold such bytes, ELF symbol names can). */
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) long spin(long seconds) __asm__("spin_\xff\xfe");

__attribute__((noinline)) long spin(long seconds)
{
	volatile long x = 0;
	time_t end = time(NULL) + seconds;

	while (time(NULL) < end)
		for (int i = 0; i < 100000; i++)
			x += i;
	return x;
}

int main(int argc, char **argv)
{
	return spin(argc > 1 ? atol(argv[1]) : 10) & 1;
}
