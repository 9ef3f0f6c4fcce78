"""The start-up bundle: the byte code of the modules a ``pybpf`` command imports, in one
file, served by a meta-path finder that only the command's entry point installs.

Why: a warm tool start imports ~40 small pybpf modules, and the import system's work per
file (a finder's stats, opening and checking each ``.pyc``) costs more than their code;
one read of one file serves them all.  The bundle is a build or cache artefact: the
sources keep one module per concept.

Where it comes from:

- a built install (wheel, ``pip install .``): ``setup.py`` writes ``_startup.bundle``
  (every module of the package) beside ``_codestamp``; it is used only while its stamp is
  the package's stamp, the file is owned by root (or us) and writable by nobody else;
- a checkout or an editable install: a tool's run writes one per tool into
  pybpf's private cache (:mod:`pybpf.cache`: owner, mode and seal checked on read) at its
  end, from the byte code its own imports just checked, and only with BPF privileges.

Every module is checked against its source as a ``.pyc`` is: size and mtime (size and the
stamp in a built install, where the installer sets the mtimes).  Anything that does not
match (a stale module, another Python's byte code, a damaged, foreign or missing bundle, a
module it lacks) is left to the normal import system, silently.
"""

from __future__ import annotations

import _struct
import marshal
import os
import sys

from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import MAGIC_NUMBER
import _imp

FORMAT = b"PYBPFSB1"            # the file format; MAGIC_NUMBER (the byte code's) follows
BUILT_NAME = "_startup.bundle"  # a built package's bundle, beside its _codestamp
PACKAGE = "pybpf"
_PKG = os.path.dirname(os.path.abspath(__file__))
_STDLIB = os.path.dirname(os.__file__)
_STDLIB_TOO = True          # a checkout's bundle also holds the pure-Python standard
                            # modules its command imported (struct, types, ctypes)
_HEAD = len(FORMAT) + len(MAGIC_NUMBER) + 4 + 2
_ENTRY = 2 + 1 + 8 + 8 + 8 + 8      # name length, flags, size, mtime, offset, length
_FIELDS = _struct.Struct("<BQQQQ")  # an entry after its name (one unpack: ~0.1 ms a start)
_MAX_NAME = 200
INDEX_MAX = 1 << 16             # a built bundle's index fits in its first 64 KB


def _le(data, at: int, n: int) -> int:
    return int.from_bytes(data[at:at + n], "little")


def pack(ident: str, modules) -> bytes:
    """The bundle of ``modules``: (name, is_package, source size, source mtime_ns or 0 for
    "size only", marshalled code); ``ident`` is what the reader must be given back (a
    built package's stamp, or "")."""
    ib = ident.encode()
    head = [FORMAT, MAGIC_NUMBER, len(modules).to_bytes(4, "little"),
            len(ib).to_bytes(2, "little"), ib]
    blobs, at = [], 0
    for name, is_pkg, size, mtime, code in modules:
        nb = name.encode()
        head += [len(nb).to_bytes(2, "little"), nb, bytes([1 if is_pkg else 0]),
                 size.to_bytes(8, "little"), mtime.to_bytes(8, "little"),
                 at.to_bytes(8, "little"), len(code).to_bytes(8, "little")]
        blobs.append(code)
        at += len(code)
    return b"".join(head + blobs)


def _valid_name(name: str) -> bool:
    parts = name.split(".")
    return (parts[0] != PACKAGE or len(parts) > 1) and all(p.isidentifier() for p in parts)


def parse(data, ident: str, std: bool = True, total: int | None = None) -> dict | None:
    """name -> (is_package, size, mtime_ns, start, end) of a bundle, or None unless it is
    whole, of this Python's byte code and made for ``ident`` (and of pybpf's modules only
    unless ``std``).  ``data`` is the whole bundle, or its first bytes (holding the index)
    of a file of ``total`` bytes.  Reads untrusted bytes: never raises for any input."""
    if not isinstance(data, (bytes, memoryview)) or len(data) < _HEAD:
        return None
    if data[:len(FORMAT)] != FORMAT or data[len(FORMAT):len(FORMAT) + 4] != MAGIC_NUMBER:
        return None
    at = len(FORMAT) + 4
    count, ilen = _le(data, at, 4), _le(data, at + 4, 2)
    at += 6
    if bytes(data[at:at + ilen]) != ident.encode():
        return None
    at += ilen
    raw = []
    for _ in range(count):
        if at + 2 > len(data):
            return None
        nlen = _le(data, at, 2)
        if not 0 < nlen <= _MAX_NAME or at + 2 + nlen + _ENTRY - 2 > len(data):
            return None
        try:
            name = bytes(data[at + 2:at + 2 + nlen]).decode("ascii")
        except UnicodeDecodeError:
            return None
        at += 2 + nlen
        flags, size, mtime, off, length = _FIELDS.unpack_from(data, at)
        if flags > 1 or not _valid_name(name) or not (std or name.startswith(PACKAGE + ".")):
            return None
        raw.append((name, flags == 1, size, mtime, off, length))
        at += _ENTRY - 2
    index = {}
    for name, is_pkg, size, mtime, off, length in raw:
        if at + off + length > (len(data) if total is None else total) or name in index:
            return None
        index[name] = (is_pkg, size, mtime, at + off, at + off + length)
    return index


def source_of(name: str, is_pkg: bool, pkg_dir: str = _PKG) -> str:
    """The source file of module ``name``: in the package at ``pkg_dir`` for pybpf's,
    else in the standard library's directory."""
    parts = name.split(".")
    if parts[0] == PACKAGE:
        parts, top = parts[1:], pkg_dir
    else:
        top = _STDLIB
    return os.path.join(top, *parts, "__init__.py") if is_pkg else \
        os.path.join(top, *parts[:-1], parts[-1] + ".py")


class BundleFinder:
    """A meta-path finder and loader for the modules of one bundle (``index`` from
    :func:`parse` over ``data``, or over the bundle at ``base`` in the file ``fd``);
    ``served`` names what it loaded."""

    def __init__(self, data, index: dict, pkg_dir: str = _PKG, sizes_only: bool = False,
                 fd: int | None = None, base: int = 0):
        self._data, self._index, self._pkg = data, index, pkg_dir
        self._sizes_only, self._fd, self._base = sizes_only, fd, base
        self.served: set[str] = set()

    def code_bytes(self, name: str) -> bytes:
        """The marshalled code of ``name`` (KeyError if the bundle lacks it)."""
        start, end = self._index[name][3:]
        if self._fd is None:
            return bytes(self._data[start:end])
        return os.pread(self._fd, end - start, start + self._base)

    def find_spec(self, name, path=None, target=None):
        ent = self._index.get(name)
        if ent is None:
            return None
        is_pkg, size, mtime, start, end = ent
        src = source_of(name, is_pkg, self._pkg)
        try:
            st = os.stat(src)
        except OSError:
            return None
        if st.st_size != size or (not self._sizes_only and st.st_mtime_ns != mtime):
            return None                 # edited since: the source's own byte code
        try:
            code = marshal.loads(self.code_bytes(name))
        except (ValueError, EOFError, TypeError, OSError):
            return None
        if type(code) is not _CODE:
            return None
        _imp._fix_co_filename(code, src)    # a built bundle was compiled elsewhere
        spec = ModuleSpec(name, self, origin=src, is_package=is_pkg)
        # has_location stays False: __file__ is set by exec_module, and the import system
        # does not derive a __cached__ path for byte code that is not there (~4 us each)
        if is_pkg:
            spec.submodule_search_locations = [os.path.dirname(src)]
        spec.loader_state = code
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        spec = module.__spec__
        code, spec.loader_state = spec.loader_state, None
        self.served.add(spec.name)
        module.__file__ = spec.origin
        exec(code, module.__dict__)

    def is_package(self, name: str) -> bool:
        return bool(self._index.get(name, (False,))[0])


_CODE = type(pack.__code__)


def _cache_key(command: str) -> str:
    from .cache import key_of
    # sys.path too: the standard modules it holds are the ones this path finds
    return key_of("pybpf-startup-bundle", FORMAT, MAGIC_NUMBER, _PKG, command,
                  "\0".join(sys.path))


def _built_bundle(stamp: str):
    """The built package's bundle, if it is root's (or ours), writable by nobody else and
    made for this stamp: (index bytes, index, its fd).  The fd stays open (close-on-exec)
    for the process: each module's code is read on its import, so a start reads ~400 KB
    of the package's ~2.7 MB and keeps none of the rest."""
    try:
        fd = os.open(os.path.join(_PKG, BUILT_NAME), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    index = None
    try:
        st = os.fstat(fd)
        if st.st_uid in (0, os.geteuid()) and not st.st_mode & 0o022 and \
                st.st_mode & 0o170000 == 0o100000:
            head = os.pread(fd, INDEX_MAX, 0)
            index = parse(head, stamp, std=False, total=st.st_size)
    finally:
        if index is None:
            os.close(fd)
    return None if index is None else (head, index, fd)


def _cached_bundle(command: str):
    """This command's bundle in the private cache: (b"", index, fd, offset), or None.
    Read whole once for its seal, then kept only as the open fd (close-on-exec) each
    module's code is read from on its import: ~400 KB less of a tool's peak RSS.  The
    cache replaces an entry by renaming a new file over it, so the fd's file stays the
    one whose seal was checked."""
    from .cache import Cache, CacheError, unseal
    try:
        cache = Cache.default()
        if not os.path.isdir(cache.root):
            return None         # check() would create it
        cache.check()
        key = _cache_key(command)
        opened = cache.open_file(cache.path_for(key), warn=False, touch=True)
    except (CacheError, OSError, ValueError):
        return None
    if opened is None:
        return None
    fd, st = opened
    index = None
    try:
        raw = os.pread(fd, st.st_size, 0)
        data = unseal(key, raw, view=True)
        index = None if data is None else parse(data, "")
    except OSError:
        pass
    finally:
        if index is None:
            os.close(fd)
    return None if index is None else (b"", index, fd, len(raw) - len(data))


class Session:
    """What :func:`install` did for one command: its finder (or None), the modules
    imported before it and, once the tool is ready (:func:`ready`), those imported by
    then, for :func:`record`."""

    def __init__(self, command: str, finder: BundleFinder | None, stamp: str | None):
        self.command, self.finder, self.stamp = command, finder, stamp
        self.before = set(sys.modules)
        self.ready: set | None = None


_session: list = []            # the command's session (one per process: one entry point)


def ready() -> None:
    """The tool is ready (attached, its header out): what it imported so far is its
    start, which is what the bundle is for.  Modules a run imports later (exit reports,
    --json, writing this bundle) are left to the normal import system: a checkout's
    bundle is read whole at every start to check its seal, and holding them doubled it
    (sigsnoop: 861 KB, 60 modules)."""
    if _session and _session[-1].ready is None:
        _session[-1].ready = set(sys.modules)


def install(argv: list[str]) -> Session | None:
    """Serve this command's imports from its bundle, if one is there and fits (the
    ``pybpf`` entry point calls this once, first).  ``PYBPF_NO_BUNDLE=1``: never.
    Reads only: an unprivileged run creates no cache directory here either."""
    if os.environ.get("PYBPF_NO_BUNDLE") or sys.flags.optimize:
        return None             # (-O/-OO: byte code of another optimization level)
    command = argv[0] if argv and argv[0].isidentifier() else ""
    from .codeid import _read_stamp
    stamp = _read_stamp()
    try:
        found = _built_bundle(stamp) if stamp else _cached_bundle(command)
    except Exception:           # a bundle must never stop the command
        found = None
    finder = None
    if found is not None:
        data, index, fd, *base = found
        finder = BundleFinder(data, index, sizes_only=bool(stamp), fd=fd, base=sum(base))
        sys.meta_path.insert(0, finder)
    session = Session(command, finder, stamp)
    _session[:] = [session]
    return session


def record(session: Session | None) -> bool:
    """At the end of a tool run from a checkout: write its bundle when the run imported
    package modules the bundle lacked (or there was none).  Only with BPF privileges (an
    unprivileged run writes nothing); silent on any failure.  Returns whether it wrote."""
    if session is None or session.stamp:
        return False            # a built install's bundle is the build's
    try:
        from .tools import is_tool
        if not is_tool(session.command):
            return False        # `pybpf cache`, `run`, ...: their start is not the point
        mods = _imported(session)
        from .caps import can_bpf
        if not mods or not can_bpf():
            return False
        from .cache import Cache
        Cache.default().put(_cache_key(session.command), pack("", mods))
        return True
    except Exception:
        return False


def _imported(session: Session) -> list | None:
    """The modules to bundle, or None when the bundle fits this run: it served every
    package module the run imported until it was ready (the whole run if it never was),
    and what it holds beyond them (a cold start's load path, say) is less than half the
    bytes of what it served of them."""
    finder = session.finder
    index = {} if finder is None else finder._index
    start = session.ready
    used = [n for n, m in list(sys.modules.items())
            if n not in session.before and (start is None or n in start) and
            (n.startswith(PACKAGE + ".") or _STDLIB_TOO) and
            (getattr(m, "__file__", None) or "").endswith(".py") and _valid_name(n)]
    served = set() if finder is None else finder.served.intersection(used)
    fresh = [n for n in used if n not in served]
    used_bytes = sum(index[n][4] - index[n][3] for n in served if n in index)
    spare = [n for n in index if n not in served]
    spare_bytes = sum(index[n][4] - index[n][3] for n in spare)
    keep_spare = 2 * spare_bytes <= used_bytes
    if not fresh and keep_spare:
        return None
    out = []
    for name in used:
        if name in served:
            is_pkg, size, mtime, start, end = index[name]
            out.append((name, is_pkg, size, mtime, finder.code_bytes(name)))
            continue
        mod = sys.modules[name]
        is_pkg = hasattr(mod, "__path__")
        src = source_of(name, is_pkg)
        if os.path.abspath(mod.__file__) != src:
            continue            # not from this package's (or the standard) directory
        got = _code_of(src, getattr(mod, "__cached__", None))
        if got is not None:
            out.append((name, is_pkg, *got))
    have = {m[0] for m in out}
    for name in spare if keep_spare else ():
        is_pkg, size, mtime, start, end = index[name]
        if name in have:
            continue
        try:
            st = os.stat(source_of(name, is_pkg))
        except OSError:
            continue
        if st.st_size == size and st.st_mtime_ns == mtime:
            out.append((name, is_pkg, size, mtime, finder.code_bytes(name)))
    return out or None


def _code_of(src: str, cached: str | None):
    """(size, mtime_ns, marshalled code) of a source: its ``.pyc`` when that matches the
    source as the import system checks it, else compiled afresh."""
    try:
        st = os.stat(src)
    except OSError:
        return None
    if cached:
        try:
            with open(cached, "rb") as f:
                pyc = f.read()
        except OSError:
            pyc = b""
        if len(pyc) > 16 and pyc[:4] == MAGIC_NUMBER and _le(pyc, 4, 4) == 0 and \
                _le(pyc, 8, 4) == int(st.st_mtime) & 0xFFFFFFFF and \
                _le(pyc, 12, 4) == st.st_size & 0xFFFFFFFF:
            return st.st_size, st.st_mtime_ns, pyc[16:]
    try:
        with open(src, "rb") as f:
            text = f.read()
        code = compile(text, src, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError):
        return None
    return st.st_size, st.st_mtime_ns, marshal.dumps(code)


def build(pkg_dir: str, stamp: str) -> bytes:
    """A built package's bundle: every module under ``pkg_dir``, checked by size (an
    installer sets its own mtimes) and by ``stamp``."""
    mods = []
    for top, dirs, files in os.walk(pkg_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for fn in sorted(files):
            if not fn.endswith(".py"):
                continue
            path = os.path.join(top, fn)
            rel = os.path.relpath(path, pkg_dir)[:-3].split(os.sep)
            is_pkg = rel[-1] == "__init__"
            name = ".".join([PACKAGE, *(rel[:-1] if is_pkg else rel)])
            if name == PACKAGE or name == PACKAGE + ".__main__" or not _valid_name(name):
                continue        # imported before any finder is installed
            with open(path, "rb") as f:
                text = f.read()
            code = compile(text, source_of(name, is_pkg, pkg_dir), "exec", dont_inherit=True)
            mods.append((name, is_pkg, len(text), 0, marshal.dumps(code)))
    data = pack(stamp, mods)
    if parse(data[:INDEX_MAX], stamp, std=False, total=len(data)) is None:
        raise ValueError("the start-up bundle's index does not fit in its first 64 KB")
    return data
