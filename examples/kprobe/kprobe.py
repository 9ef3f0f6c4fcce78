"""kprobe: the kernel's do_unlinkat() seen on entry and on return (file name and result).

Port of libbpf-bootstrap's kprobe example; events come through a ring buffer as
``struct unlink_event`` (kprobe.h, read with pybpf.ctype).  Needs a kernel with
kprobes (CONFIG_KPROBES); elsewhere it says which hook is missing.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _ringbuf_example  # noqa: E402  (examples/_ringbuf_example.py)


def main(argv=None) -> int:
    return _ringbuf_example.run("kprobe", __doc__, "struct unlink_event",
                                _ringbuf_example.show_unlink, argv=argv,
                                started="Successfully started! Tracing do_unlinkat()")


if __name__ == "__main__":
    sys.exit(main())
