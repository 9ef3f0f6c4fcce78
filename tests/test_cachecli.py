"""``pybpf cache {info,clear}``: one private cache shown and emptied; an unsafe location
refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pybpf.cache import Cache, key_of

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _cache_cmd(args, xdg):
    env = dict(os.environ, PYTHONPATH=SRC, XDG_CACHE_HOME=str(xdg))
    return subprocess.run([sys.executable, "-m", "pybpf", "cache", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_info_and_clear(tmp_path):
    c = Cache(tmp_path / "pybpf")
    for i in range(5):
        c.put(key_of("cli", str(i)), b"x" * 5000)
    r = _cache_cmd(["info"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"directory: {c.root}" in r.stdout and "entries:   5" in r.stdout
    assert "safety:    ok" in r.stdout
    r = _cache_cmd(["clear"], tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("removed 5 entries"), r.stdout
    assert c.entries() == []
    r = _cache_cmd(["info"], tmp_path)
    assert "entries:   0" in r.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="plays root against user nobody")
def test_unsafe_location_is_one_line_with_the_reason(tmp_path):
    evil = tmp_path / "evil"
    evil.mkdir()
    os.chown(evil, 65534, 65534)
    for args in (["info"], ["clear"]):
        r = _cache_cmd(args, evil)
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr.count("\n") == 1 and "owned by uid 65534" in r.stderr, r.stderr
    assert os.listdir(evil) == []


def test_bad_subcommand_is_one_line(tmp_path):
    for args in ([], ["nuke"]):
        r = _cache_cmd(args, tmp_path)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
