"""fentry: the kernel's do_unlinkat() seen on entry and on return (file name and result).

Port of libbpf-bootstrap's fentry example; events come through a ring buffer as
``struct unlink_event`` (fentry.h, read with pybpf.ctype).  Needs a kernel with
BPF trampolines (fentry/fexit); elsewhere it says which hook is missing.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _ringbuf_example  # noqa: E402  (examples/_ringbuf_example.py)


def main(argv=None) -> int:
    return _ringbuf_example.run("fentry", __doc__, "struct unlink_event",
                                _ringbuf_example.show_unlink, argv=argv,
                                started="Successfully started! Tracing do_unlinkat()")


if __name__ == "__main__":
    sys.exit(main())
