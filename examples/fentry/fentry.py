"""fentry: the kernel's do_unlinkat() seen on entry and on return (file name and result).

Port of libbpf-bootstrap's fentry example; events come through a ring buffer as
``struct unlink_event`` (fentry.h, read with pybpf.ctype).  Needs a kernel with
BPF trampolines (fentry/fexit); elsewhere it says which hook is missing.
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
    ap.add_argument("-p", "--pid", type=int, help="only this process")
    ap.add_argument("-t", "--timeout", type=float, default=0, help="stop after SECONDS")
    args = ap.parse_args(argv)
    try:
        Event = pybpf.ctype("struct unlink_event", header=os.path.join(HERE, "fentry.h"))
        with pybpf.load(os.path.join(HERE, "fentry.bpf.c")) as obj:
            obj.attach()
            print("Successfully started! Tracing do_unlinkat()", flush=True)
            with RingBuffer(obj.maps["events"]) as rb:
                end = time.monotonic() + args.timeout if args.timeout else None
                try:
                    while end is None or time.monotonic() < end:
                        for e in rb.read(100, decode=Event):
                            if args.pid is not None and e.pid != args.pid:
                                continue
                            name = e.filename.decode(errors="replace")
                            if e.exit:
                                print(f"EXIT:  pid = {e.pid}, filename = {name}, "
                                      f"ret = {e.ret}")
                            else:
                                print(f"ENTRY: pid = {e.pid}, filename = {name}")
                        sys.stdout.flush()
                except KeyboardInterrupt:
                    pass
            if obj.bss.dropped:
                print(f"{obj.bss.dropped} events lost", file=sys.stderr)
    except pybpf.PybpfError as e:
        print(f"fentry: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # `| head`: quietly
    return 0


if __name__ == "__main__":
    sys.exit(main())
