"""Trusted paths (pybpf.safepath) and the cache location attacks they stop: a hostile user
(nobody, uid 65534) who owns or can write a directory on the way, or plants a symlink."""

from __future__ import annotations

import os
import subprocess

import pytest

from pybpf import safepath
from pybpf.cache import Cache, CacheError, key_of

KEY = key_of("safepath-test")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="plays root against user nobody")


def as_nobody(*argv: str) -> None:
    """Run one command as the hostile user (what any local user can do)."""
    subprocess.run(NOBODY + list(argv), check=True)


@pytest.fixture
def arena(tmp_path):
    """A root-owned 0755 directory with: ``evil`` (owned by nobody, 0755), ``shared`` (mode
    1777, root-owned: like /tmp) and ``victim`` (root-only, what the attacker aims at)."""
    os.chmod(tmp_path, 0o755)
    for parent in tmp_path.parents:          # pytest's base is 0700: let nobody in
        if str(parent).startswith("/tmp/pytest-of-"):
            os.chmod(parent, 0o755)
    evil = tmp_path / "evil"
    evil.mkdir()
    os.chown(evil, 65534, 65534)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    return tmp_path


def test_a_symlink_planted_in_a_users_directory_is_refused(arena, monkeypatch):
    """XDG_CACHE_HOME in a directory another user controls, with <dir>/pybpf linked to a
    root-only directory: root used to follow the link and write its cache there."""
    as_nobody("ln", "-s", str(arena / "victim"), str(arena / "evil" / "pybpf"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(arena / "evil"))
    c = Cache.default()
    with pytest.raises(CacheError, match="owned by uid 65534"):
        c.put(KEY, b"root's object")
    with pytest.raises(CacheError, match="another user could choose what pybpf loads"):
        c.get(KEY)
    assert os.listdir(arena / "victim") == []


def test_home_in_a_users_directory_is_refused(arena, monkeypatch):
    as_nobody("mkdir", "-p", str(arena / "evil" / "home" / ".cache" / "pybpf"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(arena / "evil" / "home"))
    with pytest.raises(CacheError, match="owned by uid 65534"):
        Cache.default().check()


def test_a_users_symlink_in_a_sticky_directory_is_refused(arena, monkeypatch):
    """In /tmp-like directories nobody can replace our entries, but a link they made
    there is theirs: never followed."""
    as_nobody("ln", "-s", str(arena / "victim"), str(arena / "shared" / "pybpf"))
    with pytest.raises(CacheError, match="symlink owned by uid 65534"):
        Cache(arena / "shared" / "pybpf").put(KEY, b"x")
    assert os.listdir(arena / "victim") == []


def test_a_writable_parent_is_refused_even_without_links(arena):
    os.chmod(arena / "evil", 0o777)
    os.chown(arena / "evil", 0, 0)
    with pytest.raises(CacheError, match="writable by group/others"):
        Cache(arena / "evil" / "c").check()


def test_a_cache_in_a_sticky_directory_is_fine(arena):
    c = Cache(arena / "shared" / "c")
    c.put(KEY, b"ok")
    assert c.get(KEY) == b"ok"


def test_a_trusted_symlink_is_followed(arena):
    os.symlink(arena / "victim", arena / "link")
    c = Cache(arena / "link" / "c")
    c.put(KEY, b"ok")
    assert os.listdir(arena / "victim") == ["c"]
    assert safepath.resolve(str(arena / "link" / "c"))[0] == str(arena / "victim" / "c")


def test_resolve_handles_dotdot_and_relative_links(arena):
    (arena / "victim" / "a").mkdir()
    (arena / "sub").mkdir()
    os.symlink("../victim/a", arena / "sub" / "rel")
    # the kernel resolves "rel/.." through the link: to victim, not to sub
    real, st = safepath.resolve(str(arena / "sub" / "rel" / ".." / "a"))
    assert real == str(arena / "victim" / "a")


def test_private_dir_needs_mode_700(arena):
    d = arena / "victim" / "open"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    with pytest.raises(safepath.UnsafePath, match="mode 755"):
        safepath.private_dir(str(d))


def test_trusted_file_rules(arena):
    f = arena / "victim" / "tool"
    f.write_text("#!/bin/sh\n")
    os.chmod(f, 0o755)
    assert safepath.trusted_file(str(f)) == str(f)
    os.chmod(f, 0o757)
    with pytest.raises(safepath.UnsafePath, match="writable"):
        safepath.trusted_file(str(f))
    os.chmod(f, 0o755)
    os.chown(f, 65534, 65534)
    with pytest.raises(safepath.UnsafePath, match="owned by uid 65534"):
        safepath.trusted_file(str(f))


# -- atomic replacement ----------------------------------------------------------------------

def test_write_atomically_replaces_a_planted_link_and_leaves_no_temp(tmp_path):
    """The target gets the bytes and the mode; a symlink planted at the target is replaced,
    never followed; nothing else stays in the directory."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    out = tmp_path / "out"
    out.symlink_to(victim)
    safepath.write_atomically(str(out), b"new", 0o644, prefix=".p-", suffix=".o.tmp")
    assert victim.read_bytes() == b"keep"
    assert not out.is_symlink() and out.read_bytes() == b"new"
    assert os.stat(out).st_mode & 0o7777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "victim"]


def test_replace_atomically_abandons_on_false_and_on_error(tmp_path):
    out = tmp_path / "out"
    out.write_bytes(b"old")
    seen = []

    def give_up(f, tmp):
        seen.append(tmp)
        f.write(b"half")
        return False
    assert safepath.replace_atomically(str(out), give_up, prefix=".t-", suffix=".x") is False
    (tmp,) = seen
    assert os.path.dirname(tmp) == str(tmp_path)
    assert os.path.basename(tmp).startswith(".t-") and tmp.endswith(".x")

    def fail(f, tmp):
        f.write(b"half")
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError):
        safepath.replace_atomically(str(out), fail)
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
