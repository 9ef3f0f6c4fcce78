"""RLIMIT_MEMLOCK before 5.11: raised only after the kernel's EPERM, never on newer kernels."""

from __future__ import annotations

import ctypes
import resource
import subprocess
import sys
import textwrap

import pytest

from pybpf import errors
from pybpf import kernelid
from pybpf._sys import memlock, syscall
from pybpf._sys.uapi import Cmd


@pytest.mark.parametrize("release, want", [
    ("5.10.0-46-amd64", (5, 10)), ("6.18.4", (6, 18)), ("4.18.0-553.el8_10.x86_64", (4, 18)),
    ("5.11", (5, 11)), ("garbage", (0, 0)), ("7", (0, 0)), ("5.x", (0, 0)),
])
def test_release_tuple(release, want):
    assert kernelid.release_tuple(release) == want


def test_only_kernels_before_5_11_charge_memlock():
    assert memlock.charges_memlock("5.10.0-46-amd64")
    assert memlock.charges_memlock("4.18.0-553.el8_10.x86_64")
    assert not memlock.charges_memlock("5.11.0")
    assert not memlock.charges_memlock("6.1.0-57-amd64")
    assert not memlock.charges_memlock("not-a-release")       # unknown: leave the limit alone


class _Limits:
    """A fake RLIMIT_MEMLOCK: setrlimit fails past the hard limit without CAP_SYS_RESOURCE."""

    def __init__(self, soft, hard, privileged):
        self.soft, self.hard, self.privileged = soft, hard, privileged

    def get(self, which):
        return self.soft, self.hard

    def set(self, which, new):
        soft, hard = new
        inf = resource.RLIM_INFINITY
        raising = hard != self.hard and (self.hard != inf and (hard == inf or hard > self.hard))
        if raising and not self.privileged:
            raise ValueError("not allowed to raise maximum limit")
        self.soft, self.hard = new


@pytest.mark.parametrize("soft, hard, privileged, grew, after", [
    (64 << 10, 64 << 10, True, True, (-1, -1)),              # root on 5.10: unlimited
    (64 << 10, 8 << 20, False, True, (8 << 20, 8 << 20)),     # no CAP_SYS_RESOURCE: to hard
    (64 << 10, 64 << 10, False, False, (64 << 10, 64 << 10)),  # nothing to gain
    (-1, -1, False, False, (-1, -1)),                         # already unlimited
])
def test_raise_limit(monkeypatch, soft, hard, privileged, grew, after):
    inf = resource.RLIM_INFINITY
    fix = (lambda v: inf if v == -1 else v)
    lim = _Limits(fix(soft), fix(hard), privileged)
    monkeypatch.setattr(memlock.resource, "getrlimit", lim.get)
    monkeypatch.setattr(memlock.resource, "setrlimit", lim.set)
    assert memlock.raise_limit() is grew
    assert (lim.soft, lim.hard) == tuple(fix(v) for v in after)


def _eperm_then(results):
    """A fake bpf(2): -1 with EPERM for each None in ``results``, else that value."""
    calls = []

    def fake(nr, cmd, ref, size):
        calls.append(cmd)
        r = results[len(calls) - 1]
        if r is None:
            ctypes.set_errno(1)
            return -1
        return r
    return fake, calls


def test_map_create_is_retried_once_the_limit_grew(monkeypatch):
    fake, calls = _eperm_then([None, 7])
    monkeypatch.setattr(syscall, "_syscall", fake)
    monkeypatch.setattr(memlock, "charges_memlock", lambda: True)
    monkeypatch.setattr(memlock, "raise_limit", lambda: True)
    assert syscall.bpf(Cmd.MAP_CREATE, ctypes.c_uint64()) == 7
    assert len(calls) == 2


def test_the_error_says_what_to_raise_when_the_limit_cannot_grow(monkeypatch):
    fake, calls = _eperm_then([None])
    monkeypatch.setattr(syscall, "_syscall", fake)
    monkeypatch.setattr(memlock, "charges_memlock", lambda: True)
    monkeypatch.setattr(memlock, "raise_limit", lambda: False)
    with pytest.raises(errors.PybpfError) as ei:
        syscall.bpf(Cmd.PROG_LOAD, ctypes.c_uint64(), detail="program 'p'")
    msg = str(ei.value)
    assert "program 'p'" in msg and "RLIMIT_MEMLOCK" in msg and "ulimit -l unlimited" in msg
    assert len(calls) == 1


def test_new_kernels_never_touch_the_limit(monkeypatch):
    fake, calls = _eperm_then([None])
    monkeypatch.setattr(syscall, "_syscall", fake)
    monkeypatch.setattr(memlock, "charges_memlock", lambda: False)
    monkeypatch.setattr(memlock, "raise_limit", lambda: pytest.fail("limit touched"))
    with pytest.raises(errors.PybpfError) as ei:
        syscall.bpf(Cmd.MAP_CREATE, ctypes.c_uint64())
    assert "RLIMIT_MEMLOCK" not in str(ei.value)


@pytest.mark.kernel
@pytest.mark.every_kernel
def test_a_map_past_a_small_limit_loads_on_every_kernel():
    """With RLIMIT_MEMLOCK at 64 KiB a 4 MiB map still loads: kernels from 5.11 ignore the
    limit (it stays as it was), older ones get it raised after their EPERM."""
    code = textwrap.dedent("""
        import os, resource
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (64 << 10, resource.getrlimit(
            resource.RLIMIT_MEMLOCK)[1]))
        from pybpf._sys import attr, memlock, syscall
        from pybpf._sys.uapi import Cmd, MapType
        fd = syscall.bpf(Cmd.MAP_CREATE, attr.MapCreate(
            map_type=MapType.ARRAY, key_size=4, value_size=4096, max_entries=1024,
            map_name=b"pt_memlock"))
        os.close(fd)
        soft = resource.getrlimit(resource.RLIMIT_MEMLOCK)[0]
        print(memlock.charges_memlock(), soft == 64 << 10)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    charged, unchanged = out.stdout.split()
    assert unchanged == ("False" if charged == "True" else "True")
