"""Ctrl-C and kill that are never lost: SIGINT/SIGTERM as KeyboardInterrupt (pybpf's
tools: their ``Stop``, a KeyboardInterrupt), raised again where CPython drops it.

CPython runs a Python signal handler at the next check of its eval loop, wherever the
main thread is, also inside code whose exceptions it can only print ("Exception ignored
in ...") and drop: weakref callbacks, ``__del__``, generators closed by the collector, gc
callbacks.  importlib runs such a callback as nearly every import ends (the module lock's,
``_get_module_lock.<locals>.cb``), and pybpf imports lazily all through a start, so a
signal during start-up now and then landed there, and the program ran on for good
(tools/_common.py's ``Stop``; examples' KeyboardInterrupt).  Raised right after cb's
``_imp.acquire_lock()``, the exception also left the global import lock held.  So:

- a handler that finds itself in that callback raises at the first call after it
  (:func:`in_import_callback`, :func:`raise_later`);
- :func:`catch_dropped` installs a ``sys.unraisablehook`` that raises a dropped
  KeyboardInterrupt again at the next call instead of printing it.

(compile() drops any error a handler raises while it folds big-int constants, except a
KeyboardInterrupt: another reason every interrupt here is one.)
"""

from __future__ import annotations

import _signal as signal  # signal.py adds enums: ~0.5 ms of a start
import sys


def _module_lock_cb():
    """The code of importlib's module-lock weakref callback (None if this Python has
    none)."""
    import _frozen_importlib        # importlib's core, always loaded
    fn = getattr(_frozen_importlib, "_get_module_lock", None)
    for c in getattr(getattr(fn, "__code__", None), "co_consts", ()):
        if getattr(c, "co_name", None) == "cb":
            return c
    return None


MODULE_LOCK_CB = _module_lock_cb()


def in_import_callback(frame) -> bool:
    """Whether a signal handler given ``frame`` runs inside importlib's module-lock
    callback, where its exception would be dropped (and the import lock left held)."""
    return frame is not None and frame.f_code is MODULE_LOCK_CB


def raise_later(deliver, skip=None) -> None:
    """Call ``deliver()`` (which raises) at the next point where CPython would run a signal
    handler (a Python function's start, a C function's call or return) outside the code
    ``skip``: through a profile hook, gone again at once.  A C call that would block (a
    sleep, a poll) is never entered.  (A profiler the program had set is gone too:
    CPython unsets the profile hook that raises.)"""
    def at_next_call(frame, event, arg):
        if event == "return" or event == "c_exception" or frame.f_code is skip:
            return
        sys.setprofile(None)
        deliver()
    sys.setprofile(at_next_call)


def _keyboard_interrupt() -> None:
    raise KeyboardInterrupt


def _unraisable(args) -> None:
    """A KeyboardInterrupt CPython could not raise (raised inside a finalizer or callback
    of the main thread) is raised again at the next call (through its ``raise_again()`` if it has one: a
    tool's Stop), instead of printed and dropped; anything else goes to the hook
    :func:`catch_dropped` replaced."""
    exc = args.exc_value
    if isinstance(exc, KeyboardInterrupt) and _in_main_thread():
        raise_later(getattr(exc, "raise_again", _keyboard_interrupt), _unraisable.__code__)
        return
    _previous[0](args)


_previous: list = [sys.__unraisablehook__]


def _in_main_thread() -> bool:
    """Signal handlers run in the main thread: only its interrupts are raised again."""
    threading = sys.modules.get("threading")    # not imported: no other Python thread
    return threading is None or threading.current_thread() is threading.main_thread()


def catch_dropped():
    """Install the hook that raises a dropped KeyboardInterrupt again; returns the hook it
    replaced (for :func:`release_dropped`), None if it was in place already."""
    if sys.unraisablehook is _unraisable:
        return None
    prev = _previous[0] = sys.unraisablehook
    sys.unraisablehook = _unraisable
    return prev


def release_dropped(prev) -> None:
    """Put back the hook :func:`catch_dropped` replaced."""
    if prev is not None:
        sys.unraisablehook = prev


def _interrupt(signum, frame):
    if in_import_callback(frame):
        raise_later(_keyboard_interrupt, frame.f_code)
        return
    raise KeyboardInterrupt


def interrupt_on_signals(signals=(signal.SIGINT, signal.SIGTERM)) -> None:
    """From now on each of ``signals`` (Ctrl-C and kill) raises KeyboardInterrupt in the
    main thread, also when the program started with SIGINT ignored (a background job:
    Python leaves an inherited SIG_IGN alone) and also where CPython would drop it (see
    the module's docstring).  For programs built on pybpf, such as the examples."""
    catch_dropped()
    for sig in signals:
        signal.signal(sig, _interrupt)


class StopFlag:
    """SIGINT/SIGTERM as a flag an event loop checks between polls (libbpf-bootstrap's
    ``exiting``), not an exception, while the ``with`` block runs: a signal then never
    lands inside a batch being read, so no record the loop had taken is lost.  A poll it
    interrupts resumes with its time left (PEP 475), so a loop polling with a timeout ends
    within it.  The handlers in place before come back on leaving the block::

        with StopFlag() as stop:
            while not stop:
                for e in rb.read(100, decode=Event):
                    show(e)
            for e in rb.read(0, decode=Event):      # what came during the last poll
                show(e)
    """

    def __init__(self, signals=(signal.SIGINT, signal.SIGTERM)):
        self.signals = tuple(signals)
        self.signum: int | None = None
        self._old: dict = {}

    def _set(self, signum, frame) -> None:
        self.signum = signum

    def __bool__(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> "StopFlag":
        for sig in self.signals:
            self._old[sig] = signal.getsignal(sig)
            signal.signal(sig, self._set)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._old.clear()
