"""task_iter: list every task (thread) of the system with its kernel stack depth.

Port of libbpf-bootstrap's task_iter: ``iter/task`` is attached by ``obj.attach()``
(as libbpf does), and each run of the iterator is read as typed records
(``pybpf.links.iter.records`` with ``struct task_info`` from task_iter.h).
"""

import os
import sys

import pybpf
from pybpf.options import ArgumentParser  # argparse's, imported only if needed
from pybpf.links import iter as bpf_iter

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-p", "--pid", type=int, help="only this process's threads")
    args = ap.parse_args(argv)
    try:
        TaskInfo = pybpf.ctype("struct task_info", header=os.path.join(HERE, "task_iter.h"))
        with pybpf.load(os.path.join(HERE, "task_iter.bpf.c")) as obj:
            (link,) = obj.attach()
            print(f"{'PID':<8} {'TID':<8} {'STATE':<6} {'COMM':<16} STACK", flush=True)
            for t in bpf_iter.records(link, TaskInfo):
                if args.pid is not None and t.pid != args.pid:
                    continue
                depth = t.kstack_len // 8 if t.kstack_len > 0 else 0
                top = " ".join(f"{a:#x}" for a in t.kstack[:min(depth, 3)])
                print(f"{t.pid:<8} {t.tid:<8} {t.state:<6} "
                      f"{t.comm.decode(errors='replace'):<16} {depth} frames {top}")
    except pybpf.PybpfError as e:
        print(f"task_iter: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # `| head`: quietly
    return 0


if __name__ == "__main__":
    sys.exit(main())
