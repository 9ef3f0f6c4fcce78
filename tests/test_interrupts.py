"""pybpf.interrupts: SIGINT/SIGTERM as a KeyboardInterrupt that CPython cannot drop (the
examples' Ctrl-C).  The interrupt is put exactly where CPython used to drop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from pybpf import interrupts

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _python(code: str) -> subprocess.CompletedProcess:
    # a child: interrupt_on_signals changes the process's handlers and unraisable hook
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=SRC))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_raised_in_a_weakref_callback_reaches_the_program(sig):
    r = _python(
        "import os, time, weakref\n"
        "from pybpf.interrupts import interrupt_on_signals\n"
        "interrupt_on_signals()\n"
        "class O: pass\n"
        "o = O()\n"
        f"r = weakref.ref(o, lambda r: os.kill(os.getpid(), {int(sig)}))\n"
        "try:\n"
        "    del o\n"
        "    print('went on', flush=True)\n"
        "    time.sleep(20)\n"
        "except KeyboardInterrupt:\n"
        "    print('caught', flush=True)\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"caught\n", b"")


def test_handler_inside_importlib_callback_raises_after_it(tmp_path):
    """The handler run right after the module-lock callback took the import lock: the
    KeyboardInterrupt comes at the first call after the callback, the lock is free."""
    import _imp
    cb = interrupts.MODULE_LOCK_CB
    assert cb is not None and cb.co_name == "cb"
    (tmp_path / "hstop_mod_b.py").write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    hit = []

    def as_the_eval_loop(frame, event, arg):
        if event == "c_return" and frame.f_code is cb and arg is _imp.acquire_lock and \
                not hit:
            hit.append(1)
            interrupts._interrupt(signal.SIGINT, frame)

    unraisable = []
    old_hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        with pytest.raises(KeyboardInterrupt):
            sys.setprofile(as_the_eval_loop)
            __import__("hstop_mod_b")
            hit.append("went on")
    finally:
        sys.setprofile(None)
        sys.unraisablehook = old_hook
        sys.path.remove(str(tmp_path))
        sys.modules.pop("hstop_mod_b", None)
    assert hit == [1] and unraisable == []
    assert not _imp.lock_held()


def test_catch_dropped_passes_other_errors_on_and_is_idempotent():
    seen = []
    old = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        prev = interrupts.catch_dropped()
        assert prev == seen.append
        assert interrupts.catch_dropped() is None          # already in place
        args = type("A", (), {"exc_value": ValueError("x")})()
        sys.unraisablehook(args)
        assert seen == [args]
        interrupts.release_dropped(prev)
        assert sys.unraisablehook == seen.append
    finally:
        sys.unraisablehook = old


@pytest.mark.kernel
@pytest.mark.parametrize("n", [1, 8])
def test_example_interrupted_in_an_import_callback_of_its_load_ends_quietly(tmp_path, n):
    """examples/minimal: a SIGINT handled inside the n-th import callback after its handler
    is in place (its load imports lazily): not lost, and no traceback, 130."""
    from tests.test_stop_signals import INJECT
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(INJECT)
    example = os.path.join(os.path.dirname(SRC), "examples", "minimal", "minimal.py")
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{SRC}", STOP_AT_CB=str(n),
               STOP_SIG=str(int(signal.SIGINT)), STOP_WHEN="_interrupt")
    # the timeout only keeps a regression from hanging the suite
    r = subprocess.run([sys.executable, example], capture_output=True, env=env, timeout=60)
    assert (r.returncode, r.stderr) == (130, b""), r
    assert b"Successfully started" not in r.stdout


def test_a_dropped_interrupt_of_another_thread_is_only_reported():
    """Signals interrupt the main thread only: a KeyboardInterrupt dropped in another
    thread's finalizer goes to the previous hook, and that thread is not interrupted."""
    import threading
    seen = []
    old = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        prev = interrupts.catch_dropped()
        args = type("A", (), {"exc_value": KeyboardInterrupt()})()
        went_on = []

        def other():
            sys.unraisablehook(args)
            went_on.append(sys.getprofile())

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert seen == [args] and went_on == [None]
        interrupts.release_dropped(prev)
    finally:
        sys.unraisablehook = old


def test_stop_flag_ends_a_polling_loop_without_an_exception_and_restores_handlers():
    """Inside StopFlag a signal sets the flag (a poll it interrupts resumes, PEP 475) and
    raises nothing; the handler that was in place is back afterwards."""
    r = _python(
        "import os, select, signal, time\n"
        "from pybpf.interrupts import StopFlag, interrupt_on_signals\n"
        "interrupt_on_signals()\n"
        "before = signal.getsignal(signal.SIGINT)\n"
        "r, w = os.pipe()\n"
        "ep = select.epoll(); ep.register(r, select.EPOLLIN)\n"
        "polls = 0\n"
        "with StopFlag() as stop:\n"
        "    assert not stop\n"
        "    t = time.monotonic()\n"
        "    while not stop:\n"
        "        if polls == 2: os.kill(os.getpid(), signal.SIGTERM)\n"
        "        ep.poll(0.05); polls += 1\n"
        "    print(stop.signum, polls, signal.getsignal(signal.SIGINT) is not before)\n"
        "print(signal.getsignal(signal.SIGINT) is before)\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT); time.sleep(1)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupt again')\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split("\n") == [
        f"{int(signal.SIGTERM)} 3 True", "True", "interrupt again", ""]
