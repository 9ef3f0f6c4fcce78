"""A SIGINT/SIGTERM is never lost (tools/_common.py, "Where a Stop was lost").

CPython runs a Python signal handler at the next check of its eval loop, wherever that
is, also inside a weakref callback or finalizer, where an exception is only printed
("Exception ignored in ...") and dropped.  importlib runs such a callback as nearly every
import ends (the module lock's, ``_get_module_lock.<locals>.cb``): a signal handled there
lost its Stop, and the tool went on tracing for good.  These tests put the signal exactly
there (a profile hook on that callback) instead of waiting for the race.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import weakref

import pytest

from pybpf import interrupts
from pybpf.tools import _common

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
PYBPF = [sys.executable, "-m", "pybpf"]

# A sitecustomize for the child: a real signal sent from inside importlib's module-lock
# callback (the N-th run of it once the handler named by HANDLER is in place).
INJECT = """\
import _frozen_importlib, os, sys, _signal
N = int(os.environ["STOP_AT_CB"]); SIG = int(os.environ["STOP_SIG"])
WHEN = os.environ["STOP_WHEN"]
CB = next(c for c in _frozen_importlib._get_module_lock.__code__.co_consts
          if getattr(c, "co_name", None) == "cb")
seen = [0]

def armed():
    h = _signal.getsignal(SIG)
    return getattr(h, "__name__", None) == WHEN

def inject(frame, event, arg):
    if event == "call" and frame.f_code is CB and armed():
        seen[0] += 1
        if seen[0] == N:
            sys.setprofile(None)
            os.kill(os.getpid(), SIG)       # handled at once, inside the callback

sys.setprofile(inject)
"""


def _run_injected(tmp_path, args, n, sig, when, timeout=60):
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(INJECT)
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{SRC}", STOP_AT_CB=str(n),
               STOP_SIG=str(int(sig)), STOP_WHEN=when)
    # the timeout only keeps a regression from hanging the suite
    return subprocess.run(PYBPF + args, capture_output=True, env=env, timeout=timeout)


def _cb_code():
    import _frozen_importlib
    return next(c for c in _frozen_importlib._get_module_lock.__code__.co_consts
                if getattr(c, "co_name", None) == "cb")


def test_module_lock_callback_is_found():
    assert interrupts.MODULE_LOCK_CB is _cb_code()


def test_stop_raised_in_a_weakref_callback_is_raised_at_the_next_call(capfd):
    """A real SIGTERM handled inside a weakref callback: CPython drops the Stop there; the
    hook raises it again at the next call, so the command ends with 143, silently."""
    steps = []

    class Obj:
        pass

    def main(argv):
        o = Obj()
        ref = weakref.ref(o, lambda r: os.kill(os.getpid(), signal.SIGTERM))
        del o                       # the callback runs here, its Stop unraisable
        steps.append("went on")     # the next call: the Stop is raised here
        import time
        time.sleep(20)              # (the old code slept on, then returned 0)
        return ref and 0

    before = signal.getsignal(signal.SIGTERM), sys.unraisablehook
    assert _common.run_main("t", main, []) == 128 + signal.SIGTERM
    assert steps == []
    assert capfd.readouterr().err == ""
    assert (signal.getsignal(signal.SIGTERM), sys.unraisablehook) == before
    assert sys.getprofile() is None


def test_handler_inside_importlib_callback_waits_for_it(tmp_path):
    """The CI failure exactly: the handler runs right after the module-lock callback took
    the import lock (as the eval loop does when the signal came during that call).  It
    must not raise there (dropped, and the import lock left held): the Stop comes at the
    first call after the callback, and the import lock is free."""
    import _imp
    cb = _cb_code()
    (tmp_path / "hstop_mod_a.py").write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    hit = []

    def as_the_eval_loop(frame, event, arg):
        if event == "c_return" and frame.f_code is cb and arg is _imp.acquire_lock and \
                not hit:
            hit.append(1)
            _common._raise_stop(signal.SIGTERM, frame)

    _common._stop_gate[:] = [0, None]
    unraisable = []
    old_hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        with pytest.raises(_common.Stop) as e:
            sys.setprofile(as_the_eval_loop)
            __import__("hstop_mod_a")
            hit.append("went on")
        assert e.value.signum == signal.SIGTERM
    finally:
        sys.setprofile(None)
        sys.unraisablehook = old_hook
        sys.path.remove(str(tmp_path))
        sys.modules.pop("hstop_mod_a", None)
        _common._stop_seen[0] = None
    assert hit == [1] and unraisable == []
    assert not _imp.lock_held()


def test_stop_while_compile_folds_big_ints_is_not_swallowed():
    """The second way a Stop was lost (the exporter, 1 run in ~150, importing its metrics
    module from source): compile() runs the handler while folding ``2 ** 53`` (int
    multiplication checks signals) and clears any error but a KeyboardInterrupt.  The
    timer counts CPU time, so it fires while the long source is being parsed, before the
    fold at its end, however loaded the machine."""
    src = "x = 0\n" * 200000 + "y = 2 ** 53\n"
    _common._stop_gate[:] = [0, None]
    old = signal.signal(signal.SIGPROF, _common._raise_stop)
    try:
        with pytest.raises(_common.Stop) as e:
            signal.setitimer(signal.ITIMER_PROF, 0.002)
            compile(src, "<folded>", "exec")
        assert e.value.signum == signal.SIGPROF
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
        _common._stop_seen[0] = None


def test_a_signal_as_the_handlers_go_in_is_a_stop(monkeypatch):
    """A signal the moment run_main's SIGTERM handler is in place (before main runs):
    128+signal, the previous handlers and hook back, no Stop escaping run_main."""
    real = _common.signal

    class Signals:
        def __getattr__(self, name):
            return getattr(real, name)

        def signal(self, sig, handler):
            old = real.signal(sig, handler)
            if sig == signal.SIGTERM and handler is _common._raise_stop:
                _common._raise_stop(signal.SIGTERM, None)   # the check after the call
            return old

    monkeypatch.setattr(_common, "signal", Signals())
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), \
        sys.unraisablehook
    ran = []
    assert _common.run_main("t", ran.append, []) == 128 + signal.SIGTERM
    assert ran == []
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
            sys.unraisablehook) == before


def test_early_signal_whose_systemexit_was_dropped_still_ends(tmp_path):
    """python -m pybpf's own early handler (before run_main): a SIGTERM handled inside an
    import's callback drops its SystemExit; the command still ends, 143, silently."""
    r = _run_injected(tmp_path, ["list"], 1, signal.SIGTERM, "_early_exit")
    assert r.returncode == 143, r
    assert r.stdout == b"" and r.stderr == b""


def test_pybpf_run_keyboard_interrupt_dropped_in_a_callback_reaches_the_script(tmp_path):
    """pybpf run: SIGINT is the script's KeyboardInterrupt (bcc tools end on it); one
    raised inside a weakref callback reaches the script at its next call."""
    script = tmp_path / "script.py"
    script.write_text(
        "import os, signal, time, weakref\n"
        "class O: pass\n"
        "o = O()\n"
        "r = weakref.ref(o, lambda r: os.kill(os.getpid(), signal.SIGINT))\n"
        "try:\n"
        "    del o\n"
        "    print('went on', flush=True)\n"
        "    time.sleep(20)\n"
        "except KeyboardInterrupt:\n"
        "    print('caught', flush=True)\n")
    r = subprocess.run(PYBPF + ["run", str(script)], capture_output=True,
                       env=dict(os.environ, PYTHONPATH=SRC), timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"caught\n", b"")


@pytest.mark.kernel
@pytest.mark.parametrize("n", [1, 12])
@pytest.mark.parametrize("tool,sig", [(["execsnoop"], signal.SIGTERM),
                                      (["softirqs", "1"], signal.SIGINT)])
def test_signal_inside_an_import_callback_during_start_up_ends_the_tool(tmp_path, tool,
                                                                         sig, n):
    """A tool started for real, its signal handled inside the n-th import callback after
    pybpf's handler is in place (the CI failures: execsnoop traced on after a SIGTERM,
    softirqs slept on after a ^C): 128+signal, nothing printed, nothing left loaded."""
    from tests.toolrun import orphan_progs, prog_ids
    before = prog_ids()
    r = _run_injected(tmp_path, tool, n, sig, "_raise_stop")
    assert r.returncode == 128 + sig, r
    assert r.stderr == b"", r.stderr
    assert not orphan_progs(before, names=("tp_enter_exec", "tp_exit_exec", "softirq"))


def test_run_main_off_the_main_thread_changes_nothing():
    """An embedding program calling run_main from a thread: no handlers (Python allows
    them in the main thread only), nothing raised on the way out, the hook put back."""
    import threading
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), \
        sys.unraisablehook
    out = []
    t = threading.Thread(target=lambda: out.append(_common.run_main("t", lambda a: 7, [])))
    t.start()
    t.join()
    assert out == [7]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
            sys.unraisablehook) == before
