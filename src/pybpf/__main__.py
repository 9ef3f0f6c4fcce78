"""``python -m pybpf``: the same as the ``pybpf`` command."""

import _signal as signal  # signal.py adds enums: ~0.5 ms of a start
import sys


_signalled: list = []


def _early_exit(signum, frame):
    # a signal while pybpf's own modules import: leave quietly with 128+signal, before
    # run_main installs the handlers every command runs under.  Recorded too: raised
    # inside an import's weakref callback, this SystemExit is only printed and dropped,
    # and run_main must still end the command (tools/_common.py, "Where a Stop was lost")
    _signalled.append(signum)
    raise SystemExit(128 + signum)


def _quiet(args):
    # that dropped SystemExit says nothing either: run_main ends the command for it
    if not (_signalled and args.exc_type is SystemExit):
        sys.__unraisablehook__(args)


sys.unraisablehook = _quiet
signal.signal(signal.SIGINT, _early_exit)
signal.signal(signal.SIGTERM, _early_exit)

# pybpf's own modules from one file when a start-up bundle fits (pybpf/startbundle.py)
from . import startbundle  # noqa: E402

_bundle = startbundle.install(sys.argv[1:])

from .cli import main  # noqa: E402

_status = main(signalled=_signalled)
startbundle.record(_bundle)     # a checkout's bundle: written by a tool run that needs one
sys.exit(_status)
