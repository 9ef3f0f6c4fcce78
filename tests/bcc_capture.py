"""Capture the C text each of bcc's installed tools hands to ``BPF()``.

Run by the system's python3 with the real bcc module (Debian's python3-bpfcc):
``python3 bcc_capture.py OUTDIR``.  Each tool runs in a forked child with its usual
arguments until it constructs ``BPF``, which writes the text (after the tool's own
substitutions of FILTER, STORAGE, ...) and its cflags to OUTDIR/<tool>.c, and exits.
Nothing is compiled or loaded by bcc.
"""

import glob
import os
import runpy
import sys

# arguments a tool needs before it builds its program (a workload-free, valid choice)
ARGS = {
    "biolatpcts": ["vda"], "dirtop": ["-d", "/tmp"],
    "funccount": ["t:syscalls:sys_enter_open*"], "funcinterval": ["t:syscalls:sys_enter_openat"],
    "funclatency": ["vfs_read"], "stackcount": ["t:sched:sched_switch"],
    "trace": ["t:syscalls:sys_enter_openat \"%s\", args->filename"],
    "argdist": ["-H", "t:syscalls:sys_enter_read():int:args->count"],
    "funcslower": ["vfs_read"],
    "inject": ["kmalloc", "-v", "should_failslab(struct kmem_cache *s, gfp_t gfpflags)"],
    "netqtop": ["-n", "lo"],
}


def capture(tool: str, out: str) -> None:
    import bcc

    class Captured(bcc.BPF):
        def __init__(self, src_file=b"", hdr_file=b"", text=None, cflags=None, **kw):
            if text is None and src_file:
                with open(src_file, "rb") as f:
                    text = f.read()
            if isinstance(text, bytes):
                text = text.decode()
            if not (text or "").strip():
                # opensnoop & co. first build an empty BPF() to ask for syscall names:
                # go on without compiling anything
                self.tables, self.funcs = {}, {}
                return
            flags = [c.decode() if isinstance(c, bytes) else c for c in (cflags or [])]
            with open(out, "w") as f:
                f.write("// cflags: %r\n" % (flags,))
                f.write(text)
            if len(text) < 400:
                # runqlen & co. first compile a tiny probe of the kernel's structs; take
                # it as compiling and wait for the tool's real program
                self.tables, self.funcs = {}, {}
                return
            os._exit(0)

    # this kernel refuses BPF trampolines: take the tools' kprobe/tracepoint texts, as they
    # choose on such kernels (bcc's own check only looks for BTF)
    Captured.support_kfunc = staticmethod(lambda: False)
    Captured.support_lsm = staticmethod(lambda: False)
    bcc.BPF = Captured
    name = os.path.basename(tool)[:-len("-bpfcc")]
    sys.argv = [tool, *ARGS.get(name, [])]
    runpy.run_path(tool, run_name="__main__")


def main() -> None:
    outdir = sys.argv[1]
    import bcc  # noqa: F401  (loaded once, shared by the forked children)
    for tool in sorted(glob.glob("/usr/sbin/*-bpfcc")):
        name = os.path.basename(tool)[:-len("-bpfcc")]
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            try:
                signal_alarm(10)
                capture(tool, os.path.join(outdir, name + ".c"))
            except BaseException:
                pass
            os._exit(0)
        os.waitpid(pid, 0)


def signal_alarm(seconds: int) -> None:
    import signal
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(seconds)


if __name__ == "__main__":
    main()
