"""``pybpf run script.py [args]``: run a bcc script unchanged on pybpf's bcc front end.

For this process only, an import hook makes ``import bcc`` (and ``bcc.utils``,
``bcc.syscall``, ``bcc.containers``, ``bcc.tcp``, ``bcc.table``, ``bcc.usdt``,
``bcc.libbcc``, ``bcc.perf``, ``bcc.disassembler``) resolve to pybpf's modules; nothing
is installed under the name ``bcc``, so a real bcc elsewhere on the system is never
shadowed.  The script runs as ``__main__`` with ``sys.argv`` and ``sys.path[0]`` as python
would set them; its own errors give python's traceback and exit code, a
:class:`pybpf.errors.PybpfError` one line.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys

# bcc module name -> pybpf module that plays it
ALIASES = {
    "bcc": "pybpf.bcc.compat",
    "bcc.utils": "pybpf.bcc.utils",
    "bcc.syscall": "pybpf.bcc.syscall",
    "bcc.containers": "pybpf.bcc.containers",
    "bcc.tcp": "pybpf.bcc.tcp",
    "bcc.table": "pybpf.bcc.table",
    "bcc.usdt": "pybpf.bcc.usdt",
    "bcc.libbcc": "pybpf.bcc.libbcc",
    "bcc.exec": "pybpf.bcc.execcmd",
    "bcc.perf": "pybpf.bcc.perfattr",
    "bcc.disassembler": "pybpf.bcc.disassembler",
}

USAGE = "usage: pybpf run SCRIPT [ARGS...]   (run a bcc Python script on pybpf)"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:
        pass    # the pybpf module is already executed


class BccFinder(importlib.abc.MetaPathFinder):
    """Resolves bcc's module names to pybpf's (see :data:`ALIASES`); other ``bcc.*``
    names fail as missing modules, naming pybpf."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "bcc" and not fullname.startswith("bcc."):
            return None
        alias = ALIASES.get(fullname)
        if alias is None:
            raise ModuleNotFoundError(f"No module named {fullname!r} (pybpf run provides "
                                      f"{', '.join(sorted(ALIASES))})", name=fullname)
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(alias),
                                              is_package=fullname == "bcc")


def install() -> BccFinder:
    """Put the hook first on ``sys.meta_path`` (returns it, for :func:`uninstall`)."""
    finder = BccFinder()
    sys.meta_path.insert(0, finder)
    return finder


def uninstall(finder: BccFinder) -> None:
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)
    for name in ALIASES:
        sys.modules.pop(name, None)


def _own_traceback(tb, script: str):
    """Skip the frames of pybpf run itself: the traceback starts in the script."""
    t = tb
    while t is not None:
        if os.path.abspath(t.tb_frame.f_code.co_filename) == script:
            return t
        t = t.tb_next
    return tb


def _exit_code(code) -> int:
    """What python exits with for ``SystemExit(code)`` (a message goes to stderr)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF          # what the process's exit status keeps
    print(code, file=sys.stderr)
    return 1


def run_script(script: str, args: list[str]) -> int:
    """Run ``script`` as ``__main__`` with ``args``; returns its exit code."""
    import runpy
    import traceback
    from .. import errors
    from ..tools._common import closed_pipe
    path = os.path.abspath(script)
    if not os.path.isfile(path):
        print(f"pybpf run: error: {script}: no such file", file=sys.stderr)
        return 2
    saved = sys.argv[:], sys.path[:]
    sys.argv = [script] + list(args)
    sys.path.insert(0, os.path.dirname(path))
    finder = install()
    # the script runs as under python itself: SIGINT is KeyboardInterrupt (bcc tools
    # end on it), SIGTERM kills; pybpf's own commands' Stop handlers are not theirs
    import signal
    old_signals = {}
    try:
        old_signals[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
        old_signals[signal.SIGTERM] = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:          # not the main thread: leave the handlers alone
        pass
    try:
        runpy.run_path(path, run_name="__main__")
        return 0
    except SystemExit as e:
        return _exit_code(e.code)
    except errors.PybpfError as e:
        print(f"{os.path.basename(script)}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return closed_pipe()
    except BaseException as e:
        traceback.print_exception(type(e), e, _own_traceback(e.__traceback__, path))
        return 1
    finally:
        sys.argv, sys.path[:] = saved
        uninstall(finder)
        for sig, handler in old_signals.items():
            signal.signal(sig, handler)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    return run_script(argv[0], argv[1:])
