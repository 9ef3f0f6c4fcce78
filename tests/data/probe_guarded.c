/* A USDT probe with a semaphore: the note carries the semaphore's address, and the
 * probe only fires while a tracer holds the counter above zero (uprobe ref_ctr_offset). */
#ifdef PT_HAVE_SDT
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short pybpf_test_guarded_semaphore __attribute__((section(".probes"), used));

void pt_guarded(int i)
{
	if (pybpf_test_guarded_semaphore)
		DTRACE_PROBE1(pybpf_test, guarded, i);
}
#else
void pt_guarded(int i)
{
	(void)i;
}
#endif
