"""ksyscall: who sends signals to whom, from the kill() and tgkill() system calls.

Port of libbpf-bootstrap's ksyscall: ``SEC("ksyscall/kill")`` programs read the
system call's own arguments (BPF_KSYSCALL); pybpf finds the kernel's wrapper symbol.
Needs kprobes (CONFIG_KPROBES); elsewhere it says so.
"""

import argparse
import os
import sys
import time

import pybpf
from pybpf.ringbuf import RingBuffer

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-p", "--pid", type=int, help="only signals sent by this process")
    ap.add_argument("-t", "--timeout", type=float, default=0, help="stop after SECONDS")
    args = ap.parse_args(argv)
    try:
        Event = pybpf.ctype("struct signal_event", header=os.path.join(HERE, "ksyscall.h"))
        with pybpf.load(os.path.join(HERE, "ksyscall.bpf.c")) as obj:
            obj.attach()
            print("Successfully started! Tracing kill() and tgkill()", flush=True)
            with RingBuffer(obj.maps["events"]) as rb:
                end = time.monotonic() + args.timeout if args.timeout else None
                try:
                    while end is None or time.monotonic() < end:
                        for e in rb.read(100, decode=Event):
                            if args.pid is not None and e.pid != args.pid:
                                continue
                            comm = e.comm.decode(errors="replace")
                            if e.tgkill:
                                print(f"tgkill called by PID {e.pid} ({comm}) for thread "
                                      f"{e.target_tid} of PID {e.target_pid}, signal {e.sig}")
                            else:
                                print(f"kill called by PID {e.pid} ({comm}) for PID "
                                      f"{e.target_pid}, signal {e.sig}")
                        sys.stdout.flush()
                except KeyboardInterrupt:
                    pass
            if obj.bss.dropped:
                print(f"{obj.bss.dropped} events lost", file=sys.stderr)
    except pybpf.PybpfError as e:
        print(f"ksyscall: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # `| head`: quietly
    return 0


if __name__ == "__main__":
    sys.exit(main())
