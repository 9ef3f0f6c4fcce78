"""uprobe_multi links: libbpf's uprobe.multi sections auto-attached, cookies per place,
places the kernel refuses found (with and without the x86 hint) while the others stay
attached; plus the pure parts (glob resolution, the first-instruction hint, the knob)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

import pybpf
from pybpf import errors
from pybpf.features import Features
from pybpf.links import elfcache, uprobe_multi
from tests.cbuild import build

SRC = Path(__file__).parent / "data" / "umulti.bpf.c"
ROUNDS = 3


def _have() -> bool:
    return Features().has_uprobe_multi()


@pytest.fixture(scope="module")
def many() -> str:
    return build("tool_many")       # many_fK() called K+1 times a round, vex_many() once


def _run(path: str, rounds: int = ROUNDS) -> None:
    subprocess.run([path, str(rounds)], input=b"go\n", check=True)


# ---- pure ------------------------------------------------------------------------------

def test_glob_offsets_as_libbpf(many):
    got = uprobe_multi.glob_offsets(many, "many_f0?")
    funcs = elfcache.functions(many)
    assert [n for n, _ in got] == sorted(f"many_f0{k}" for k in range(10))
    assert [o for _, o in got] == sorted(funcs[n] for n, _ in got)
    # libbpf's glob has * and ? only: a bracket is a literal
    assert uprobe_multi.glob_offsets(many, "many_f[0]?") == []
    # aliases (one offset, several names) are probed once
    libc = uprobe_multi.resolve_path("c")
    offs = [o for _, o in uprobe_multi.glob_offsets(libc, "*mem*")]
    assert len(offs) == len(set(offs)) > 5


def test_likely_refused_reads_first_instructions(tmp_path):
    elf = bytearray(64)
    elf[:4] = b"\x7fELF"
    elf[18:20] = b"\x3e\x00"                    # EM_X86_64
    code = {64: b"\x55\x48\x89\xe5", 72: b"\xc5\xf9\x6e\xc6", 80: b"\x66\xf0\x0f\xb1",
            88: b"\x48\x8b\x05\x00", 96: b"\x62\xf1\x7d\x48"}
    blob = elf + b"".join(code[k].ljust(8, b"\x90") for k in sorted(code))
    p = tmp_path / "x"
    p.write_bytes(bytes(blob))
    want = [1, 2, 4] if os.uname().machine == "x86_64" else []
    assert uprobe_multi._likely_refused(str(p), sorted(code)) == want
    p.write_bytes(bytes(blob).replace(b"\x3e\x00", b"\xb7\x00", 1))    # EM_AARCH64
    assert uprobe_multi._likely_refused(str(p), sorted(code)) == []


def test_likely_refused_takes_any_bytes(tmp_path):
    """The hint reads an untrusted file: any bytes, any offsets (past the end too), no
    exception, only indexes of the offsets given (hypothesis)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    p = tmp_path / "f"

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=96), st.lists(st.integers(0, 200), min_size=2, max_size=8))
    def check(blob, offs):
        p.write_bytes(blob[:18] + b"\x3e\x00" + blob[20:] if len(blob) > 20 else blob)
        got = uprobe_multi._likely_refused(str(p), offs)
        assert sorted(set(got)) == got and all(0 <= i < len(offs) for i in got)
    check()


def test_knob_turns_the_multi_path_off(monkeypatch):
    monkeypatch.setenv("PYBPF_NO_UPROBE_MULTI", "1")
    assert uprobe_multi.available() is False


# ---- kernel ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def obj_bytes(many):
    return pybpf.compile(SRC, cflags=[f'-DTARGET="{many}"'])


@pytest.mark.kernel
# (not in the old guests: its object, compiled there for a path made per run, took
# 111-187 s of CI's emulated CPU; its pre-6.6 error passed on 6.1 and 5.10 by hand in
# session 19, and the per-probe fallback runs there through funccount)
def test_sections_auto_attach_as_libbpf(obj_bytes, many):
    """uprobe.multi/<path>:many_f0? (10 functions, 1..10 calls), uretprobe.multi/...:many_f1?
    (6 functions, 11..16 returns) and the sleepable uprobe.multi.s form, one link each."""
    if not _have():
        # (the sleepable program would not load before 6.1: left out)
        with pybpf.load(obj_bytes, name="pt_umulti", programs=["on_entry"]) as obj:
            with pytest.raises(errors.NotSupportedError, match="uprobe.multi.*6.6"):
                obj.attach()
            assert not obj.links
        return
    with pybpf.load(obj_bytes, name="pt_umulti", programs=[
            "on_entry", "on_return", "on_sleepable", "by_cookie"]) as obj:
        links = obj.attach()
        assert [(ln.kind, ln.target.rsplit(": ", 1)[1]) for ln in links] == [
            ("uprobe_multi", "10 probes"), ("uretprobe_multi", "6 probes"),
            ("uprobe_multi", "1 probes")]
        _run(many)
        assert obj.bss.entries == ROUNDS * sum(range(1, 11))
        assert obj.bss.returns == ROUNDS * sum(range(11, 17))
        assert obj.bss.slept == ROUNDS * 16
        assert obj.bss.hits == (0,) * 16       # by_cookie names no target: left alone
    assert all(ln.closed for ln in links)


@pytest.mark.kernel
def test_session_section_runs_on_entry_and_return(obj_bytes, many):
    if tuple(int(x) for x in os.uname().release.split(".")[:2]) < (6, 13):
        pytest.skip("uprobe.session links came in 6.13")
    with pybpf.load(obj_bytes, name="pt_umulti", programs=["on_session"]) as obj:
        (link,) = obj.attach()
        assert link.kind == "uprobe_session"
        _run(many)
        assert obj.bss.sessions == ROUNDS * 2 * 2       # many_f01: 2 calls a round


@pytest.mark.kernel
def test_cookie_per_place(obj_bytes, many):
    if not _have():
        pytest.skip("no uprobe_multi here (6.6+)")
    names = [f"many_f{k:02d}" for k in range(16)]
    with pybpf.load(obj_bytes, name="pt_umulti", programs=["by_cookie"]) as obj:
        prog = obj.programs["by_cookie"]
        link = prog.attach_uprobe_multi(many, names, cookies=list(range(16)))
        assert link in obj.links and link.kind == "uprobe_multi"
        _run(many)
        assert obj.bss.hits == tuple(ROUNDS * (k + 1) for k in range(16))
        with pytest.raises(ValueError, match="cookies has 2 entries for 16"):
            prog.attach_uprobe_multi(many, names, cookies=[1, 2])


def _wait_mapped(pid: int, path: str, timeout: float = 30) -> None:
    """Until ``path`` is in the process's mappings.  Popen returns once exec has closed
    its close-on-exec pipe, before the kernel maps the ELF's segments; a uprobe on a
    file no process maps is accepted, and only refused (silently) when it is mapped."""
    real = os.path.realpath(path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/maps") as f:
            if real in f.read():
                return
        time.sleep(0.005)
    raise AssertionError(f"{real} never mapped in {pid}")


@pytest.mark.kernel
@pytest.mark.parametrize("hint", [True, False])
def test_refused_place_is_found_and_the_others_attached(obj_bytes, many, monkeypatch, hint):
    """vex_many starts with an instruction x86 uprobes refuse once the file is mapped (the
    process waits on stdin, mapped): the link for all 17 places fails as a whole; the
    refused one is found (by the hint, or by halving without it) and the 16 others
    count exactly, each with its cookie."""
    if not _have():
        pytest.skip("no uprobe_multi here (6.6+)")
    if os.uname().machine != "x86_64":
        pytest.skip("the refused instruction is x86's")
    if not hint:
        monkeypatch.setattr(uprobe_multi, "_likely_refused", lambda path, offs: [])
    funcs = elfcache.functions(many)
    names = ["vex_many"] + [f"many_f{k:02d}" for k in range(16)]
    offs = [funcs[n] for n in names]
    c = subprocess.Popen([many, str(ROUNDS)], stdin=subprocess.PIPE)
    try:
        _wait_mapped(c.pid, many)
        with pybpf.load(obj_bytes, name="pt_umulti", programs=["by_cookie"]) as obj:
            prog = obj.programs["by_cookie"]
            with pytest.raises(errors.KernelError):
                uprobe_multi.attach(prog, many, offsets=offs, pid=c.pid)
            with uprobe_multi.attach_offsets(prog, many, offs, pid=c.pid,
                                             cookies=[15] + list(range(16))) as done:
                assert list(done.refused) == [0]
                e = done.refused[0]
                assert isinstance(e, errors.AttachError) and e.errno == 524
                assert f"{many}:{offs[0]:#x}" in str(e) and "step over" in str(e)
                assert 1 <= len(done.links) <= 5
                c.communicate(b"go\n", timeout=30)
                assert obj.bss.hits == tuple(ROUNDS * (k + 1) for k in range(16))
            assert not done.links
    finally:
        if c.poll() is None:
            c.kill()
            c.wait()


@pytest.mark.kernel
def test_bad_input_one_line(obj_bytes, many):
    with pybpf.load(obj_bytes, name="pt_umulti", programs=["by_cookie"]) as obj:
        prog = obj.programs["by_cookie"]
        with pytest.raises(errors.NotFoundError, match="no function matches 'nope_\\*'"):
            prog.attach_uprobe_multi(many, "nope_*")
        with pytest.raises(errors.NotFoundError, match="does not exist"):
            prog.attach_uprobe_multi("/nonexistent/pt_bin", "x*")
        with pytest.raises(ValueError, match="give symbols or offsets"):
            prog.attach_uprobe_multi(many)
