"""profile: sample the running task on every CPU, with its kernel and user stacks.

Port of libbpf-bootstrap's profile: ``attach_perf_event`` opens one sampling event per
online CPU (hardware cycles, or the software CPU clock where there is no PMU, as in
VMs) and keeps them in ``obj.links``; samples arrive as ``struct stacktrace_event``
(profile.h) through a ring buffer.  Stacks are printed as addresses.
"""

import os
import sys
import time

import pybpf
from pybpf.interrupts import StopFlag, interrupt_on_signals
from pybpf.options import ArgumentParser  # argparse's, imported only if needed
from pybpf import perf
from pybpf.ringbuf import RingBuffer

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-F", "--frequency", type=int, default=49, help="samples per second "
                    "per CPU (default %(default)s)")
    ap.add_argument("-p", "--pid", type=int, help="print only this process's samples")
    ap.add_argument("-t", "--timeout", type=float, default=0, help="stop after SECONDS")
    args = ap.parse_args(argv)
    # Ctrl-C and kill end the loop below, also when started with SIGINT ignored (a
    # script's background job), also when raised where CPython would drop it
    interrupt_on_signals()
    try:
        Sample = pybpf.ctype("struct stacktrace_event", header=os.path.join(HERE, "profile.h"))
        with pybpf.load(os.path.join(HERE, "profile.bpf.c")) as obj:
            prog = obj.programs["profile"]
            try:
                prog.attach_perf_event(type=perf.PERF_TYPE_HARDWARE,
                                       config=perf.PERF_COUNT_HW_CPU_CYCLES,
                                       sample_freq=args.frequency)
                what = "CPU cycles"
            except (pybpf.NotSupportedError, pybpf.NotFoundError):
                prog.attach_perf_event(type=perf.PERF_TYPE_SOFTWARE,
                                       config=perf.PERF_COUNT_SW_CPU_CLOCK,
                                       sample_freq=args.frequency)
                what = "the CPU clock (no hardware PMU)"
            with RingBuffer(obj.maps["events"]) as rb, StopFlag() as stop:
                # Ctrl-C ends the loop, never inside a batch being read
                end = time.monotonic() + args.timeout if args.timeout else None
                print(f"Successfully started! Sampling {what} at {args.frequency} Hz",
                      flush=True)
                while not stop and (end is None or time.monotonic() < end):
                    for s in rb.read(100, decode=Sample):
                        if args.pid is None or s.pid == args.pid:
                            _print(s)
                    sys.stdout.flush()
            if obj.bss.dropped:
                print(f"{obj.bss.dropped} samples lost", file=sys.stderr)
    except KeyboardInterrupt:
        return 130      # Ctrl-C or kill before the loop: quietly, as pybpf's tools
    except pybpf.PybpfError as e:
        print(f"profile: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # `| head`: quietly
    return 0


def _print(s) -> None:
    print(f"COMM: {s.comm.decode(errors='replace')} (pid={s.pid}) @ CPU {s.cpu_id}")
    for label, n, stack in (("Kernel", s.kstack_sz, s.kstack), ("Userspace", s.ustack_sz,
                                                                 s.ustack)):
        if n > 0:
            print(f"{label}:")
            for addr in stack[:n // 8]:
                print(f"  {addr:#018x}")
        else:
            print(f"No {label} Stack")
    print()


if __name__ == "__main__":
    sys.exit(main())
