/* N fork+exec's of /bin/true, one after another, each with a marker argument: a storm of
 * execs whose count and argv the tests know.  Usage: exec_storm N MARKER */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	char *marker = argc > 2 ? argv[2] : "storm";

	for (int i = 0; i < n; i++) {
		pid_t child = fork();
		if (child == 0) {
			char *args[] = {"/bin/true", marker, NULL};
			execv(args[0], args);
			_exit(127);
		}
		if (child > 0)
			waitpid(child, NULL, 0);
	}
	return 0;
}
