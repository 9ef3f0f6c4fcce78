"""kprobe: the kernel's do_unlinkat() seen on entry and on return (file name and result).

Port of libbpf-bootstrap's kprobe example; events come through a ring buffer as
``struct unlink_event`` (kprobe.h, read with pybpf.ctype).  Needs a kernel with
kprobes (CONFIG_KPROBES); elsewhere it says which hook is missing.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _ringbuf_example  # noqa: E402  (examples/_ringbuf_example.py)


def show(e, args) -> None:
    if args.pid is not None and e.pid != args.pid:
        return
    name = e.filename.decode(errors="replace")
    if e.exit:
        print(f"EXIT:  pid = {e.pid}, filename = {name}, ret = {e.ret}")
    else:
        print(f"ENTRY: pid = {e.pid}, filename = {name}")


def main(argv=None) -> int:
    return _ringbuf_example.run("kprobe", __doc__, "struct unlink_event", show, argv=argv,
                                started="Successfully started! Tracing do_unlinkat()")


if __name__ == "__main__":
    sys.exit(main())
