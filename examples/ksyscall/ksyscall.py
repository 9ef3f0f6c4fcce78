"""ksyscall: who sends signals to whom, from the kill() and tgkill() system calls.

Port of libbpf-bootstrap's ksyscall: ``SEC("ksyscall/kill")`` programs read the
system call's own arguments (BPF_KSYSCALL); pybpf finds the kernel's wrapper symbol.
Needs kprobes (CONFIG_KPROBES); elsewhere it says so.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _ringbuf_example  # noqa: E402  (examples/_ringbuf_example.py)


def show(e, args) -> None:
    if args.pid is not None and e.pid != args.pid:
        return
    comm = e.comm.decode(errors="replace")
    if e.tgkill:
        print(f"tgkill called by PID {e.pid} ({comm}) for thread "
              f"{e.target_tid} of PID {e.target_pid}, signal {e.sig}")
    else:
        print(f"kill called by PID {e.pid} ({comm}) for PID "
              f"{e.target_pid}, signal {e.sig}")


def add_args(ap) -> None:
    ap.add_argument("-p", "--pid", type=int, help="only signals sent by this process")


def main(argv=None) -> int:
    return _ringbuf_example.run("ksyscall", __doc__, "struct signal_event", show, argv=argv,
                                add_args=add_args,
                                started="Successfully started! Tracing kill() and tgkill()")


if __name__ == "__main__":
    sys.exit(main())
