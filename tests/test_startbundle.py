"""The start-up bundle (pybpf/startbundle.py): the reader refuses what does not fit (other
Python, stale stamp, truncated, foreign names) and never raises on any bytes; the finder
serves a module only while its source is the one bundled; a built package's bundle and a
cache entry are trusted only when root's (or ours) and writable by nobody else; the
command writes a checkout's bundle from what it imported; and a tool served from it sees
the same events."""

from __future__ import annotations

import importlib.util
import marshal
import os
import select
import signal
import subprocess
import sys
import warnings

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import pybpf
from pybpf import startbundle as sb
from pybpf.cache import Cache

SRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(pybpf.__file__)))
STAMP = "ab" * 32


def _module(tmp_path, name="hbfake", text="VALUE = 42\n"):
    src = tmp_path / f"{name}.py"
    src.write_text(text)
    st_ = os.stat(src)
    code = marshal.dumps(compile(text, str(src), "exec", dont_inherit=True))
    return (f"pybpf.{name}", False, st_.st_size, st_.st_mtime_ns, code)


def _finder(tmp_path, mods, ident="", **kw):
    data = sb.pack(ident, mods)
    index = sb.parse(data, ident)
    assert index is not None
    return sb.BundleFinder(data, index, pkg_dir=str(tmp_path), **kw)


# -- the reader ----------------------------------------------------------------------------

def test_a_bundle_reads_back_what_was_packed(tmp_path):
    mods = [_module(tmp_path, "one"), _module(tmp_path, "two", "X = 1\n")]
    data = sb.pack(STAMP, mods)
    index = sb.parse(data, STAMP)
    assert sorted(index) == ["pybpf.one", "pybpf.two"]
    for name, is_pkg, size, mtime, code in mods:
        got = index[name]
        assert got[:3] == (is_pkg, size, mtime) and data[got[3]:got[4]] == code
    # a built bundle's reader sees only its index and reads the code from the file
    assert sb.parse(data[:60], STAMP, total=len(data)) is None      # index cut short
    assert sb.parse(data[:sb.INDEX_MAX], STAMP, total=len(data)) == index


def test_the_reader_refuses_what_does_not_fit(tmp_path):
    data = sb.pack(STAMP, [_module(tmp_path)])
    assert sb.parse(data, "cd" * 32) is None                        # a stale stamp
    other = bytearray(data)
    other[len(sb.FORMAT)] ^= 0xFF                                   # another Python
    assert sb.parse(bytes(other), STAMP) is None
    assert sb.parse(b"X" + data[1:], STAMP) is None                 # not a bundle
    for cut in range(len(data)):                                    # truncated anywhere
        assert sb.parse(data[:cut], STAMP) is None
    std = sb.pack("", [("struct", False, 1, 1, b"x")])
    assert sb.parse(std, "") is not None
    assert sb.parse(std, "", std=False) is None     # a built bundle holds pybpf's only
    for bad in ("pybpf", "pybpf..x", "pybpf.a-b", "pybpf.1x"):
        assert sb.parse(sb.pack("", [(bad, False, 1, 1, b"x")]), "") is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_the_reader_never_raises_on_any_bytes(data):
    assert sb.parse(data, "") is None or isinstance(sb.parse(data, ""), dict)
    sb.parse(sb.FORMAT + sb.MAGIC_NUMBER + data, "")
    sb.parse(sb.FORMAT + sb.MAGIC_NUMBER + data, "", std=False, total=len(data) // 2)


@settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_damaged_bundle_is_refused_or_served_without_raising(tmp_path, data):
    mods = [_module(tmp_path, "one"), _module(tmp_path, "two", "X = [1, 2]\n")]
    raw = bytearray(sb.pack("", mods))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    raw = bytes(raw[:data.draw(st.integers(0, len(raw)))])
    index = sb.parse(raw, "")
    if index is None:
        return
    finder = sb.BundleFinder(raw, index, pkg_dir=str(tmp_path))
    for name in index:
        spec = finder.find_spec(name)
        assert spec is None or spec.origin.startswith(str(tmp_path))


# -- the finder ----------------------------------------------------------------------------

def test_the_finder_serves_a_module_only_while_its_source_is_the_bundled_one(tmp_path):
    finder = _finder(tmp_path, [_module(tmp_path)])
    spec = finder.find_spec("pybpf.hbfake")
    assert spec.origin == str(tmp_path / "hbfake.py") and spec.loader is finder
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.VALUE == 42 and mod.__file__ == spec.origin and finder.served == {"pybpf.hbfake"}
    assert finder.find_spec("pybpf.other") is None                 # not bundled
    src = tmp_path / "hbfake.py"
    st_ = os.stat(src)
    os.utime(src, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1))        # touched: stale
    assert finder.find_spec("pybpf.hbfake") is None
    sizes = _finder(tmp_path, [_module(tmp_path)], sizes_only=True)
    os.utime(src, ns=(st_.st_atime_ns, st_.st_mtime_ns + 5))
    assert sizes.find_spec("pybpf.hbfake") is not None              # built: sizes (+stamp)
    src.write_text("VALUE = 4242\n")                                # edited: stale
    assert sizes.find_spec("pybpf.hbfake") is None
    src.unlink()
    assert finder.find_spec("pybpf.hbfake") is None                 # gone


def test_code_that_does_not_unmarshal_falls_back(tmp_path):
    name, is_pkg, size, mtime, code = _module(tmp_path)
    for bad in (code[:len(code) // 2], b"\xff" * 8, marshal.dumps(42)):
        assert _finder(tmp_path, [(name, is_pkg, size, mtime, bad)]).find_spec(name) is None


def test_an_import_through_the_finder(tmp_path):
    finder = _finder(tmp_path, [_module(tmp_path, "hbfake_imported")])
    sys.meta_path.insert(0, finder)
    try:
        import pybpf.hbfake_imported as m          # noqa: F401 (served from the bundle)
        assert m.VALUE == 42 and m.__spec__.loader is finder
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop("pybpf.hbfake_imported", None)
        pybpf.__dict__.pop("hbfake_imported", None)


# -- where a bundle comes from ---------------------------------------------------------------

@pytest.fixture
def pkg(tmp_path, monkeypatch):
    """A package directory with a built bundle for STAMP."""
    d = tmp_path / "pkg"
    d.mkdir()
    monkeypatch.setattr(sb, "_PKG", str(d))
    (d / sb.BUILT_NAME).write_bytes(sb.pack(STAMP, [_module(d)]))
    os.chmod(d / sb.BUILT_NAME, 0o644)
    return d


def _close(found):
    if found is not None:
        os.close(found[2])
    return found


def test_a_built_bundle_is_used_only_with_its_stamp_owner_and_mode(pkg):
    found = _close(sb._built_bundle(STAMP))
    assert found is not None and "pybpf.hbfake" in found[1]
    assert sb._built_bundle("cd" * 32) is None                      # stale stamp
    os.chmod(pkg / sb.BUILT_NAME, 0o664)
    assert sb._built_bundle(STAMP) is None                          # group-writable
    os.chmod(pkg / sb.BUILT_NAME, 0o644)
    if os.geteuid() == 0:
        os.chown(pkg / sb.BUILT_NAME, 65534, 65534)
        assert sb._built_bundle(STAMP) is None                      # someone else's
        os.chown(pkg / sb.BUILT_NAME, 0, 0)
    os.rename(pkg / sb.BUILT_NAME, pkg / "real")
    os.symlink(pkg / "real", pkg / sb.BUILT_NAME)
    assert sb._built_bundle(STAMP) is None                          # a link: not followed


def test_a_truncated_built_bundle_falls_back(pkg):
    data = (pkg / sb.BUILT_NAME).read_bytes()
    (pkg / sb.BUILT_NAME).write_bytes(data[:-3])
    assert sb._built_bundle(STAMP) is None


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "xdg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return Cache.default()


def test_a_cached_bundle_is_trusted_only_when_private_and_whole(tmp_path, cache_home):
    key = sb._cache_key("opensnoop")
    path = cache_home.put(key, sb.pack("", [_module(tmp_path)]))
    found = _close(sb._cached_bundle("opensnoop"))
    assert found is not None and "pybpf.hbfake" in found[1]
    assert sb._cached_bundle("execsnoop") is None                   # another command's
    with warnings.catch_warnings():
        warnings.simplefilter("error")                              # silently
        os.chmod(path, 0o666)
        assert sb._cached_bundle("opensnoop") is None
        os.chmod(path, 0o600)
        with open(path, "rb") as f:
            raw = f.read()
        with open(path, "wb") as f:
            f.write(raw[:-10])                                      # truncated: seal fails
        assert sb._cached_bundle("opensnoop") is None
        with open(path, "wb") as f:                                 # whole, not sealed
            f.write(sb.pack("", [_module(tmp_path)]))
        assert sb._cached_bundle("opensnoop") is None


def test_no_bundle_with_PYBPF_NO_BUNDLE(monkeypatch, cache_home):
    monkeypatch.setenv("PYBPF_NO_BUNDLE", "1")
    assert sb.install(["opensnoop"]) is None
    assert sb.record(None) is False


def test_the_command_records_what_it_imported(monkeypatch, cache_home):
    import pybpf.cdecl                             # noqa: F401  (imported "by the run")
    import pybpf.tools                             # noqa: F401  (record() asks it)
    monkeypatch.setattr(sb, "_STDLIB_TOO", False)
    from pybpf import caps
    session = sb.Session("opensnoop", None, None)
    session.before -= {"pybpf.cdecl"}
    monkeypatch.setattr(caps, "can_bpf", lambda mask=None: False)
    assert sb.record(session) is False                              # unprivileged: nothing
    assert sb._cached_bundle("opensnoop") is None
    monkeypatch.setattr(caps, "can_bpf", lambda mask=None: True)
    assert sb.record(session) is True
    data, index, fd, base = sb._cached_bundle("opensnoop")
    assert list(index) == ["pybpf.cdecl"]
    finder = sb.BundleFinder(data, index, fd=fd, base=base)        # as install() makes it
    src = sb.source_of("pybpf.cdecl", False)
    code = marshal.loads(finder.code_bytes("pybpf.cdecl"))
    with open(src, "rb") as f:
        assert code.co_code == compile(f.read(), src, "exec", dont_inherit=True).co_code
    # a run the bundle served whole writes nothing
    finder.served.add("pybpf.cdecl")
    again = sb.Session("opensnoop", finder, None)
    again.before -= {"pybpf.cdecl"}
    assert sb.record(again) is False
    # only tools record; a built install's bundle is the build's
    other = sb.Session("cache", None, None)
    other.before -= {"pybpf.cdecl"}
    assert sb.record(other) is False
    assert sb.record(sb.Session("opensnoop", None, STAMP)) is False
    os.close(fd)


def test_the_bundle_holds_what_the_start_imported_until_the_tool_was_ready(
        monkeypatch, cache_home):
    """Modules imported after the tool is ready (exit reports, --json, the bundle's own
    writing) stay out: the bundle is read whole at every start; a bundle holding such
    modules, more than half again what the start uses, is written anew without them."""
    import pybpf.cdecl                             # noqa: F401  (the start's)
    import pybpf.ctypes_record                     # noqa: F401  (after ready)
    import pybpf.tools                             # noqa: F401  (record() asks it)
    monkeypatch.setattr(sb, "_STDLIB_TOO", False)
    from pybpf import caps
    monkeypatch.setattr(caps, "can_bpf", lambda mask=None: True)
    monkeypatch.setattr(sb, "_session", [])
    session = sb.install(["opensnoop"])
    assert sb._session == [session] and session.finder is None
    session.before -= {"pybpf.cdecl", "pybpf.ctypes_record"}
    sb.ready()
    session.ready -= {"pybpf.ctypes_record"}       # as if it came after the header
    sb.ready()                                      # the first call counts
    assert "pybpf.ctypes_record" not in session.ready
    assert sb.record(session) is True
    data, index, fd, base = sb._cached_bundle("opensnoop")
    assert list(index) == ["pybpf.cdecl"]
    os.close(fd)
    # a run that never got ready (an error before the header) bundles all it imported
    whole = sb.Session("opensnoop", None, None)
    whole.before -= {"pybpf.cdecl", "pybpf.ctypes_record"}
    assert sorted(m[0] for m in sb._imported(whole)) == ["pybpf.cdecl",
                                                          "pybpf.ctypes_record"]
    # the old bundle served both, the start used one: the other (bigger) is dropped
    both = sb.pack("", [(n, False, 0, 0, b"x" * size) for n, size in
                        (("pybpf.cdecl", 10), ("pybpf.ctypes_record", 100))])
    finder = sb.BundleFinder(both, sb.parse(both, ""))
    finder.served |= {"pybpf.cdecl", "pybpf.ctypes_record"}
    later = sb.Session("opensnoop", finder, None)
    later.before -= {"pybpf.cdecl", "pybpf.ctypes_record"}
    later.ready = set(sys.modules) - {"pybpf.ctypes_record"}
    assert [m[0] for m in sb._imported(later)] == ["pybpf.cdecl"]


# -- a real start ----------------------------------------------------------------------------

_WRAPPER = """
import atexit, sys
def _where():
    m = sys.modules.get("pybpf.tools.opensnoop")
    sys.stderr.write("LOADER " + type(m.__spec__.loader).__name__ + "\\n")
atexit.register(_where)
sys.argv = ["pybpf"] + sys.argv[1:]
import pybpf.__main__
"""


def _opensnoop_marker_rows(wrapper, marker, env):
    p = subprocess.Popen([sys.executable, wrapper, "opensnoop", "-n", "cat"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = b""
    try:
        while b"PATH" not in out:
            r, _, _ = select.select([p.stdout], [], [], 60)
            assert r, "opensnoop printed nothing"
            chunk = os.read(p.stdout.fileno(), 65536)
            assert chunk, p.stderr.read().decode()[-2000:]
            out += chunk
        for _ in range(200):
            subprocess.run(["cat", marker], stdout=subprocess.DEVNULL, check=True)
            r, _, _ = select.select([p.stdout], [], [], 0.1)
            if r:
                out += os.read(p.stdout.fileno(), 65536)
            if out.count(marker.encode()) >= 3:
                break
    finally:
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate(timeout=30)
    out += rest
    assert p.returncode == 0, err.decode()[-2000:]
    rows = [line.split()[1:] for line in out.decode().splitlines() if marker in line]
    loader = [line.split()[1] for line in err.decode().splitlines()
              if line.startswith("LOADER ")]
    return rows[:3], loader


@pytest.mark.kernel
def test_a_tool_served_from_its_bundle_sees_the_same_events(tmp_path):
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(_WRAPPER)
    marker = str(tmp_path / "hbundle-marker")
    open(marker, "w").close()
    env = {**os.environ, "PYTHONPATH": SRC_DIR}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYBPF_NO_BUNDLE", None)
    _opensnoop_marker_rows(str(wrapper), marker, env)               # plan, bundle written
    _opensnoop_marker_rows(str(wrapper), marker, env)               # a warm run's bundle
    served, loader = _opensnoop_marker_rows(str(wrapper), marker, env)
    assert loader == ["BundleFinder"]
    plain, loader = _opensnoop_marker_rows(str(wrapper), marker,
                                           {**env, "PYBPF_NO_BUNDLE": "1"})
    assert loader == ["SourceFileLoader"]
    assert len(served) == 3 and served == plain
    assert served[0] == ["cat", "3", "0", marker]                   # COMM FD ERR PATH
