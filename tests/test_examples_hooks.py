"""The kprobe, ksyscall, fentry and lsm examples: they fire in the kernel-matrix guest
(kprobes, trampolines, BPF LSM); where the hook is missing they fail with one line
naming it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from pybpf.features import Features
from tests.test_examples import EX, _env, _start, _stop
from tests.vm import hook_absent


def _fails_naming(name: str, what: str) -> None:
    r = subprocess.run([sys.executable, str(EX / name / f"{name}.py"), "-t", "1"]
                       + (["-p", "1"] if name == "lsm" else []),
                       capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{name}: ") and re.search(what, r.stderr), r.stderr
    hook_absent()


@pytest.mark.parametrize("name", [
    pytest.param("kprobe", marks=pytest.mark.needs_hook("kprobe")),
    pytest.param("fentry", marks=pytest.mark.needs_hook("fentry"))])
def test_unlink_examples(name):
    has = Features().has_kprobes() if name == "kprobe" else Features().has_trampolines()
    if not has:
        _fails_naming(name, "kprobes" if name == "kprobe" else "trampolines")
        return
    marker = f"/tmp/pt_unlink_{name}_{os.getpid()}"
    absent = f"/tmp/pt_absent_{name}_{os.getpid()}"
    with open(marker, "w"):
        pass
    try:
        p = _start(name, "--pid", str(os.getpid()))
    except BaseException:
        os.unlink(marker)
        raise
    os.unlink(marker)
    with pytest.raises(FileNotFoundError):
        os.unlink(absent)
    out = _stop(p)
    me = os.getpid()
    assert f"ENTRY: pid = {me}, filename = {marker}" in out
    if name == "kprobe":
        assert re.search(rf"EXIT:  pid = {me}, filename = , ret = 0\n", out)
        assert re.search(rf"EXIT:  pid = {me}, filename = , ret = -2\n", out)
    else:       # fexit sees the arguments too
        assert f"EXIT:  pid = {me}, filename = {marker}, ret = 0" in out
        assert f"EXIT:  pid = {me}, filename = {absent}, ret = -2" in out


@pytest.mark.needs_hook("kprobe")
def test_ksyscall_example():
    if not Features().has_kprobes():
        _fails_naming("ksyscall", "kprobes")
        return
    child = subprocess.Popen(["/bin/sleep", "30"])
    try:
        p = _start("ksyscall", "--pid", str(os.getpid()))
        os.kill(child.pid, 0)                                   # kill(pid, 0)
        signal.pthread_kill(threading.get_ident(), 0)           # tgkill(me, me, 0)
        out = _stop(p)
    finally:
        child.kill()
        child.wait()
    me = os.getpid()
    assert re.search(rf"kill called by PID {me} \(\S+\) for PID {child.pid}, signal 0", out)
    assert re.search(rf"tgkill called by PID {me} \(\S+\) for thread \d+ of PID {me}, "
                     r"signal 0", out)


CHILD = ("import sys; sys.stdin.readline(); from pybpf import Map, errors\n"
         "try:\n Map.create(2, 4, 4, 1, name='pt_lsm_ex').close(); print('allowed')\n"
         "except errors.KernelError as e: print('refused', e.errno)\n")


@pytest.mark.needs_hook("lsm")
def test_lsm_example_refuses_bpf_to_one_process():
    if not Features().has_lsm():
        _fails_naming("lsm", "(?i)lsm|trampolines")
        return
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=_env())
    p = _start("lsm", "--pid", str(child.pid))
    out_child, _ = child.communicate("\n", timeout=60)
    out = _stop(p)
    assert out_child.strip() == "refused 1"
    assert "refused 1 bpf() calls" in out
