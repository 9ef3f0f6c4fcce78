"""``python -m pybpf``: the same as the ``pybpf`` command."""

import _signal as signal  # signal.py adds enums: ~0.5 ms of a start
import sys


def _early_exit(signum, frame):
    # a signal while pybpf's own modules import: leave quietly with 128+signal, before
    # run_main installs the handlers every command runs under
    raise SystemExit(128 + signum)


signal.signal(signal.SIGINT, _early_exit)
signal.signal(signal.SIGTERM, _early_exit)

from .cli import main  # noqa: E402

sys.exit(main())
