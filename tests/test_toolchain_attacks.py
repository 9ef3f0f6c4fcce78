"""The compiler side of the privilege boundary, attacked as a hostile local user (nobody)
would: swapping clang's output directory through TMPDIR, planting links at the names we
write, offering a compiler of their own; and a cold compile killed half-way."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time

import pytest

from pybpf.cache import Cache, TEMP_PREFIX
from pybpf.errors import CompileError
from tests.test_safepath import arena, as_nobody  # noqa: F401 (fixture)

cc = importlib.import_module("pybpf.toolchain")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="plays root against user nobody")

SRC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
TRIVIAL = """#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("socket") int prog(void *ctx) { return VALUE; }
char LICENSE[] SEC("license") = "GPL";
"""
REAL_CLANG = cc.find_clang()

# The attacker: moves every compile directory root makes in the directory it controls
# and puts its own (writable) one in its place; clang then writes root's object into the
# attacker's directory, where the attacker swaps it for its own before root reads it.
ATTACKER = r"""
import os, sys, time
evil = sys.argv[1]
end = time.time() + 30
while time.time() < end:
    for n in os.listdir(evil):
        p = os.path.join(evil, n)
        if not n.startswith("pybpf-cc-") or n.endswith(".moved"):
            continue
        try:
            if os.lstat(p).st_uid != os.getuid():
                os.rename(p, p + ".moved")
                os.mkdir(p)
                os.chmod(p, 0o777)
                continue
            with open(os.path.join(p, "out.o"), "rb") as f:
                if f.read() == b"EVIL OBJECT":
                    continue
            os.unlink(os.path.join(p, "out.o"))
            with open(os.path.join(p, "out.o"), "wb") as f:
                f.write(b"EVIL OBJECT")
            open(os.path.join(evil, "done"), "w").close()
        except OSError:
            continue
    time.sleep(0.002)
"""


def _wrapper(arena, name: str, body: str) -> str:
    """A stand-in clang, root-owned in a root-only directory (so pybpf trusts it), that
    answers --version like the real one."""
    d = arena / "victim" / "bin"
    d.mkdir(exist_ok=True, mode=0o700)
    p = d / name
    p.write_text(f"#!/bin/sh\nif [ \"$1\" = --version ]; then exec {REAL_CLANG} --version; fi\n"
                 + body)
    p.chmod(0o755)
    return str(p)


def test_tmpdir_of_another_user_cannot_swap_clangs_output(arena, monkeypatch):
    evil = arena / "evil"
    # the real clang, then a pause in which the attacker gets its chance (up to 2 s)
    clang = _wrapper(arena, "clang-slow", f'{REAL_CLANG} "$@"; rc=$?\n'
                     f'for i in $(seq 100); do [ -e {evil}/done ] && break; sleep 0.01; done\n'
                     f'rm -f {evil}/done\n'
                     'exit $rc\n')
    monkeypatch.setenv("TMPDIR", str(evil))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)   # as in a fresh process: read $TMPDIR
    monkeypatch.setenv("PYBPF_CLANG", clang)
    attacker = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534",
                                 "--clear-groups", "/usr/bin/python3", "-c", ATTACKER,
                                 str(evil)])
    try:
        cache = Cache(arena / "victim" / "cache")
        obj = cc.compile(TRIVIAL, cflags=["-DVALUE=7"], cache=cache)
        assert obj.startswith(b"\x7fELF") and b"EVIL" not in obj
        again = cc.compile(TRIVIAL, cflags=["-DVALUE=7"], cache=cache)     # the cached one
        assert again == obj
        plain = cc.compile(TRIVIAL, cflags=["-DVALUE=7"], cache=None)      # no cache at all
        assert plain.startswith(b"\x7fELF") and b"EVIL" not in plain
    finally:
        attacker.kill()
        attacker.wait()
    # the unsafe TMPDIR was never used: nothing of ours there to swap
    assert [n for n in os.listdir(evil) if n.startswith(TEMP_PREFIX)] == []
    assert [n for n in os.listdir(cache.root) if n.startswith(TEMP_PREFIX)] == []


def test_a_swapped_temp_dir_cannot_redirect_reads_or_writes(arena, monkeypatch):
    """Even in a directory the attacker controls, the open directory is what we use: a
    rename and a replacement at the same name change nothing."""
    evil = arena / "evil"
    monkeypatch.setattr(cc, "_temp_base", lambda: str(evil))
    with cc.PrivateTemp(None) as t:
        name = t.name
        as_nobody("mv", str(evil / name), str(evil / "moved"))
        as_nobody("mkdir", str(evil / name))
        as_nobody("sh", "-c", f"echo EVIL > {evil / name}/out.o")
        with open(t.path + "/out.o", "wb") as f:
            f.write(b"GOOD")
        assert t.read("out.o") == b"GOOD"
    assert (evil / name / "out.o").read_bytes() == b"EVIL\n"


def test_compile_file_never_writes_through_a_planted_link(arena):
    victim = arena / "victim" / "secret"
    victim.write_bytes(b"root's file")
    evil = arena / "evil"
    out = evil / "prog.o"
    # the name the old code wrote first, and the output name itself
    as_nobody("ln", "-s", str(victim), f"{out}.{os.getpid()}.tmp")
    as_nobody("ln", "-s", str(victim), str(out))
    src = arena / "victim" / "prog.c"
    src.write_text(TRIVIAL.replace("VALUE", "3"))
    cc.compile_file(src, out, cache=None)
    assert victim.read_bytes() == b"root's file"
    assert not os.path.islink(out) and out.read_bytes().startswith(b"\x7fELF")
    assert [n for n in os.listdir(evil) if n.startswith(".pybpf-")] == []


def test_a_compiler_another_user_can_change_is_refused(arena, monkeypatch):
    evil = arena / "evil"
    as_nobody("sh", "-c", f"printf '#!/bin/sh\\n' > {evil}/clang && chmod 755 {evil}/clang")
    monkeypatch.setenv("PYBPF_CLANG", str(evil / "clang"))
    with pytest.raises(CompileError, match="refusing PYBPF_CLANG.*owned by uid 65534"):
        cc.find_clang()
    shared = arena / "shared" / "clang-w"
    shared.write_text("#!/bin/sh\n")
    shared.chmod(0o777)
    monkeypatch.setenv("PYBPF_CLANG", str(shared))
    with pytest.raises(CompileError, match="writable by group/others"):
        cc.find_clang()


def test_a_users_clang_on_path_is_skipped_for_the_newest_system_one(arena, monkeypatch):
    evil = arena / "evil"
    as_nobody("sh", "-c", f"printf '#!/bin/sh\\n' > {evil}/clang-99 && chmod 755 "
              f"{evil}/clang-99")
    mine = _wrapper(arena, "clang-19", "exit 1\n")     # trusted, but not in /usr/bin
    monkeypatch.delenv("PYBPF_CLANG", raising=False)
    monkeypatch.setenv("PATH", f"{evil}:{os.path.dirname(mine)}:/usr/bin")
    found = cc.find_clang()
    assert found.startswith("/usr/bin/clang-") and "99" not in found
    assert int(found.rsplit("-", 1)[1]) >= 19      # the newest, /usr/bin first on a tie


def _children(pid: int, comm: str = "sleep") -> list[int]:
    """Children of ``pid`` named ``comm`` (the hanging stand-in clang)."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and open(f"/proc/{p}/comm").read().strip() == comm:
                    out.append(int(p))
            except OSError:
                continue
    return out


def _gone(pid: int, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache that already has vmlinux.h, so a compile reaches clang at once."""
    c = Cache(tmp_path_factory.mktemp("attack-cache") / "pybpf")
    cc.compile(TRIVIAL, cflags=["-DVALUE=1"], cache=c)
    return c


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_cold_compile_leaves_no_clang_and_no_directory(arena, warm_cache, sig):
    clang = _wrapper(arena, "clang-hang", "exec sleep 60\n")
    code = ("import sys; from pybpf.tools._common import run_main; import pybpf\n"
            "from pybpf.cache import Cache\n"
            f"sys.exit(run_main('t', lambda a: pybpf.compile({TRIVIAL!r}, cflags=['-DVALUE=9'],"
            f" cache=Cache({warm_cache.root!r})), []))\n")
    p = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE,
                         env=dict(os.environ, PYTHONPATH=SRC_DIR, PYBPF_CLANG=clang))
    kids = []
    try:
        end = time.monotonic() + 30
        while not kids and time.monotonic() < end:
            assert p.poll() is None, p.stderr.read()
            kids = _children(p.pid)
            time.sleep(0.02)
        assert kids, "the compile never started clang"
        assert [n for n in os.listdir(warm_cache.root) if n.startswith(TEMP_PREFIX)]
        p.send_signal(sig)
        err = p.communicate(timeout=20)[1]
        assert all(_gone(k) for k in kids), "clang outlived pybpf"
    finally:
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
    left = [n for n in os.listdir(warm_cache.root) if n.startswith(TEMP_PREFIX)]
    if sig == signal.SIGTERM:
        assert p.returncode == 143 and err == b""
        assert left == []
    else:
        # nothing runs after SIGKILL: the next compile sweeps what the dead one left
        assert left and p.returncode == -9
        cc.compile(TRIVIAL, cflags=["-DVALUE=10"], cache=warm_cache)
        assert [n for n in os.listdir(warm_cache.root) if n.startswith(TEMP_PREFIX)] == []
