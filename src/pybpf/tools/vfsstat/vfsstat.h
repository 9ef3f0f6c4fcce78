/* vfsstat's maps: kinds (syscall number -> kind, filled from Python) and counts (per-CPU,
 * indexed by the S_* counters below). */
#ifndef PYBPF_VFSSTAT_H
#define PYBPF_VFSSTAT_H

#define MAX_SYSCALLS 1024

/* kinds */
#define K_READ 1
#define K_WRITE 2
#define K_FSYNC 3
#define K_OPEN 4        /* flags in args[1] (open) */
#define K_OPENAT 5      /* flags in args[2] (openat) */
#define K_OPENAT2 6     /* flags in struct open_how at args[2] */
#define K_CREAT 7

/* counters */
#define S_READ 0
#define S_WRITE 1
#define S_FSYNC 2
#define S_OPEN 3
#define S_CREATE 4
#define S_MAXSTAT 5

#endif
