"""The private content-addressed cache: round trips, atomic writes, ownership checks."""

from __future__ import annotations

import os
import stat

import pytest

from pybpf.cache import Cache, CacheError, CacheWarning, key_of, read_private

KEY = key_of("some", "inputs")


def test_put_get_round_trip_and_modes(tmp_path):
    c = Cache(tmp_path / "c")
    assert c.get(KEY) is None
    path = c.put(KEY, b"data")
    assert path == c.path_for(KEY)
    assert c.get(KEY) == b"data"
    assert stat.S_IMODE(os.stat(c.root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    c.put(KEY, b"new")
    assert c.get(KEY) == b"new"
    assert not [n for n in os.listdir(c.root) if n.startswith(".tmp")]


def test_keys(tmp_path):
    assert key_of("ab", "c") != key_of("a", "bc")
    assert key_of(b"x") == key_of("x") and len(KEY) == 64
    with pytest.raises(ValueError):
        Cache(tmp_path).path_for("../etc/passwd")


def test_default_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert Cache.default().root == str(tmp_path / "pybpf")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Cache.default().root == str(tmp_path / "home" / ".cache" / "pybpf")


def test_world_writable_dir_is_refused(tmp_path):
    c = Cache(tmp_path / "c")
    c.put(KEY, b"data")
    os.chmod(c.root, 0o777)
    with pytest.raises(CacheError, match="writable by group/others"):
        c.get(KEY)
    with pytest.raises(CacheError):
        c.put(KEY, b"x")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_dir_of_another_user_is_refused(tmp_path):
    c = Cache(tmp_path / "c")
    c.check()
    os.chown(c.root, 65534, 65534)
    with pytest.raises(CacheError, match="owned by uid 65534"):
        c.get(KEY)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_entry_of_another_user_is_ignored(tmp_path):
    c = Cache(tmp_path / "c")
    path = c.put(KEY, b"planted")
    os.chown(path, 65534, 65534)
    with pytest.warns(CacheWarning, match="owned by uid 65534"):
        assert c.get(KEY) is None
    assert read_private(path) is None


def test_group_writable_entry_is_ignored(tmp_path):
    c = Cache(tmp_path / "c")
    path = c.put(KEY, b"planted")
    os.chmod(path, 0o664)
    with pytest.warns(CacheWarning, match="writable"):
        assert c.get(KEY) is None


def test_symlinked_entry_is_not_followed(tmp_path):
    c = Cache(tmp_path / "c")
    c.check()
    target = tmp_path / "elsewhere"
    target.write_bytes(b"x")
    os.chmod(target, 0o600)
    os.symlink(target, c.path_for(KEY))
    assert c.get(KEY) is None


def test_dir_for_is_private(tmp_path):
    c = Cache(tmp_path / "c")
    d = c.dir_for(KEY)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert c.dir_for(KEY) == d
    os.chmod(d, 0o777)
    with pytest.raises(CacheError):
        c.dir_for(KEY)
