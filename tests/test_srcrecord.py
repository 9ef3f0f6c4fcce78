"""Source records (pybpf.srcrecord) and ctypes descriptions (pybpf.ctypes_record): a warm
``ctype(header=)`` or ``load("x.bpf.c")`` answers from a record, and any change of what the
compile read, or a damaged or foreign record, is a miss that compiles again."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings, strategies as st

import pybpf
from pybpf import ctypes_record, srcrecord
from pybpf.cache import Cache, put_record, record_key

HDR = os.path.join(os.path.dirname(__file__), "data", "ctype_event.h")


# -- pure parts: stat ids and descriptions --------------------------------------------------

def _sid(path):
    st_ = os.stat(path)
    return [str(path), st_.st_ino, st_.st_size, st_.st_mtime_ns, st_.st_ctime_ns]


def test_unchanged_follows_each_file(tmp_path):
    a, gone = tmp_path / "a.h", tmp_path / "gone.h"
    a.write_text("int x;\n")
    deps = [_sid(a), [str(gone)], _sid(tmp_path)]
    assert srcrecord.unchanged(deps)
    time.sleep(0.01)
    a.write_text("int y;\n")                    # same size, new content: new mtime/ctime
    assert not srcrecord.unchanged(deps)
    deps = [_sid(a), [str(gone)]]
    gone.write_text("")                         # an absent file appearing is a change too
    assert not srcrecord.unchanged(deps)
    for bad in ([], None, "x", [["p", 1]], [[1, 2, 3, 4, 5]], [(str(a), "1", 2, 3, 4)]):
        assert not srcrecord.unchanged(bad)


def test_no_records_for_prebuilt_objects(monkeypatch):
    monkeypatch.setenv("PYBPF_PREBUILT", "/nonexistent")
    assert srcrecord.key("load", "x") is None and srcrecord.get(None) is None
    srcrecord.put(None, 1, [["x"]])             # nothing to do, no error


class Inner(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("a", ctypes.c_ushort), ("__pad1", ctypes.c_uint8 * 6),
                ("b", ctypes.c_ulonglong)]


class Bits(ctypes.Structure):
    _pack_ = 1
    _members_ = ["x", "lo", "hi", "inner", "names"]
    lo = ctypes_record.Bitfield("__bits1", 0, 4, False)
    hi = ctypes_record.Bitfield("__bits1", 4, 3, True)
    __init__ = ctypes_record.init_by_members
    _fields_ = [("x", ctypes.c_int), ("__bits1", ctypes.c_uint8 * 1),
                ("__pad2", ctypes.c_uint8 * 3), ("inner", Inner),
                ("names", ctypes.c_char * 8 * 2)]


class U(ctypes.Union):
    _anonymous_ = ["__u"]
    _fields_ = [("__u", Bits), ("__size", ctypes.c_uint8 * 48)]


def _layout(t):
    """Everything about a type that decoding depends on."""
    if issubclass(t, ctypes.Array):
        return ("array", _layout(t._type_), t._length_)
    if issubclass(t, (ctypes.Structure, ctypes.Union)):
        d = t.__dict__
        return (t.__bases__[0].__name__, t.__name__, ctypes.sizeof(t), ctypes.alignment(t),
                tuple((f, getattr(t, f).offset, _layout(ft)) for f, ft in d["_fields_"]),
                tuple(d.get("_anonymous_", ())), tuple(d.get("_members_", ())),
                tuple(sorted((k, type(v).__name__, getattr(v, "spec", None),
                              getattr(v, "offset", None)) for k, v in d.items()
                             if isinstance(v, property))), d.get("_flex_"))
    return t.__name__


def test_a_description_builds_the_same_types():
    desc = ctypes_record.describe([U, Bits, Inner])
    import marshal
    built = ctypes_record.build(marshal.loads(marshal.dumps(desc)))
    assert [_layout(t) for t in built] == [_layout(t) for t in (U, Bits, Inner)]
    b = built[1](7, 9, -2)                      # positional values in C's member order
    assert (b.x, b.lo, b.hi) == (7, 9, -2)
    assert bytes(b)[:5] == bytes(Bits(7, 9, -2))[:5]
    u = built[0].from_buffer_copy(bytes(U(__u=Bits(1, 2, 3))))
    assert (u.x, getattr(u, "__u").lo, getattr(u, "__u").hi) == (1, 2, 3)


def test_what_cannot_be_described_says_so():
    class Own(ctypes.Structure):
        _fields_ = [("a", ctypes.c_int)]

        def __init__(self):
            super().__init__()
    for t in (Own, ctypes.POINTER(ctypes.c_int), ctypes.c_wchar_p, int):
        with pytest.raises(ValueError):
            ctypes_record.describe([t])


_node = st.one_of(
    st.tuples(st.sampled_from(["c"]), st.sampled_from(["c_int", "c_char", "c_wchar", ""])),
    st.tuples(st.just("a"), st.integers(-2, 4), st.integers(-1, 3)),
    st.tuples(st.sampled_from(["s", "u"]), st.text(max_size=4), st.integers(-1, 2),
              st.lists(st.tuples(st.text(max_size=3), st.integers(-1, 4)), max_size=3)
              .map(tuple), st.just(()), st.none(), st.just(()), st.booleans(),
              st.integers(0, 16), st.just(())),
    st.tuples(st.just("s"), st.just("b"), st.just(1), st.just((("st", 0),)), st.just(()),
              st.none(), st.lists(st.tuples(st.sampled_from(["x", "st"]), st.sampled_from(
                  ["st", "zz"]), st.integers(-2, 9), st.integers(-1, 130), st.booleans()),
                  max_size=2).map(tuple), st.booleans(), st.integers(0, 4),
              st.lists(st.one_of(st.tuples(st.just("alias"), st.sampled_from(["y", "st"]),
                                           st.sampled_from(["x", "st", "zz"])),
                                 st.tuples(st.sampled_from(["flex", "?"]),
                                           st.sampled_from(["st", "zz"])), st.tuples()),
                       max_size=2).map(tuple)),
    st.tuples(st.just("e"), st.integers(-1, 3), st.text(max_size=3),
              st.lists(st.tuples(st.sampled_from(["A", "value", "1x", 2]),
                                 st.one_of(st.integers(-2, 2), st.text(max_size=1))),
                       max_size=2).map(tuple)),
    st.tuples(st.text(max_size=2)))


@settings(max_examples=150, deadline=None)
@given(st.tuples(st.integers(0, 2), st.lists(_node, max_size=5).map(tuple),
                 st.lists(st.integers(-1, 5), max_size=3).map(tuple)))
def test_build_rejects_what_it_did_not_write(desc):
    """A description from a damaged (but validly sealed) record: types or a clean
    exception of the kinds cdecl treats as a miss, nothing else."""
    try:
        out = ctypes_record.build(desc)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
        return
    assert all(isinstance(t, type) for t in out)
    for t in out:
        if issubclass(t, ctypes.Structure):
            v = t()
            for k, p in vars(t).items():
                if isinstance(p, ctypes_record.Bitfield):
                    setattr(v, k, getattr(v, k) + 1)      # every bitfield works


# -- ctype(header=): the record path (clang through the compile cache) ------------------------

def _ctype_key(hdr, name):
    """The key of the record ``ctype(name, header=hdr)`` reads."""
    from pybpf import cdecl
    return cdecl._source_record([cdecl._parse_name(name)], str(hdr), (), (), True)[2]


def _record_path(k):
    return Cache.default().path_for(record_key(k))


def _run(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_a_warm_ctype_reads_its_record_without_compiler_or_btf_code(tmp_path):
    hdr = tmp_path / "ev.h"
    hdr.write_text(f'#include "{HDR}"\n')      # a header that includes another
    cold = pybpf.ctypes_of("struct pt_event", "struct pt_inner", header=hdr)
    out = _run("import sys, ctypes, pybpf\n"
               "a, b = pybpf.ctypes_of('struct pt_event', 'struct pt_inner', "
               f"header={str(hdr)!r})\n"
               "print(ctypes.sizeof(a), a.pid.offset, a.comm.offset, ctypes.sizeof(b), "
               "sorted(m for m in ('pybpf.toolchain', 'pybpf.ctypes_btf', 'pybpf.btf', "
               "'pybpf.btf.kinds', 'pybpf.elf') if m in sys.modules))")
    assert out == "64 0 24 16 []"
    warm = pybpf.ctypes_of("struct pt_event", "struct pt_inner", header=hdr)
    assert [_layout(t) for t in warm] == [_layout(t) for t in cold]
    e = warm[0]()
    e.kind, e.prio, e.neg = 9, 5, -3            # bitfields, as the converter makes them
    assert bytes(e) == bytes(cold[0](**{"kind": 9, "prio": 5, "neg": -3}))


def test_a_changed_header_or_include_rekeys(tmp_path):
    inc, hdr = tmp_path / "inc.h", tmp_path / "ev.h"
    inc.write_text("#define N 4\n")
    hdr.write_text('#include "inc.h"\nstruct pt_ev { int a[N]; };\n')
    assert ctypes.sizeof(pybpf.ctype("struct pt_ev", header=hdr)) == 16
    assert ctypes.sizeof(pybpf.ctype("struct pt_ev", header=hdr)) == 16      # the record
    time.sleep(0.01)
    inc.write_text("#define N 6\n")             # the include changes, the header does not
    assert ctypes.sizeof(pybpf.ctype("struct pt_ev", header=hdr)) == 24
    assert ctypes.sizeof(pybpf.ctype("struct pt_ev", header=hdr)) == 24
    hdr.write_text('#include "inc.h"\nstruct pt_ev { long a[N]; };\n')
    assert ctypes.sizeof(pybpf.ctype("struct pt_ev", header=hdr)) == 48
    # what compile(deps=) reports: each file clang read, the compiler, where it was found
    from pybpf.toolchain import compile as cc, find_clang
    deps: list = []
    cc(str(hdr), deps=deps)
    paths = [d[0] for d in deps]
    assert str(inc) in paths and str(hdr) in paths and "/usr/bin" in paths
    assert os.path.realpath(find_clang()) in paths
    assert all(len(d) == 5 for d in deps if d[0] in (str(inc), str(hdr)))
    assert len(paths) == len(set(paths)) and srcrecord.unchanged(deps)


def test_a_tampered_or_foreign_record_is_a_miss(tmp_path):
    a, b = tmp_path / "a.h", tmp_path / "b.h"
    a.write_text("struct pt_a { int x; };\n")
    b.write_text("struct pt_a { char x[40]; };\n")
    assert ctypes.sizeof(pybpf.ctype("struct pt_a", header=a)) == 4
    assert ctypes.sizeof(pybpf.ctype("struct pt_a", header=b)) == 40
    pa, pb = (_record_path(_ctype_key(str(h), "struct pt_a")) for h in (a, b))
    raw_a, raw_b = open(pa, "rb").read(), open(pb, "rb").read()
    # foreign: b's record under a's name (its seal names b's key)
    with open(pa, "wb") as f:
        f.write(raw_b)
    assert ctypes.sizeof(pybpf.ctype("struct pt_a", header=a)) == 4
    k = _ctype_key(str(a), "struct pt_a")
    assert open(pa, "rb").read() != raw_b and srcrecord.get(k) is not None     # rebuilt
    # damaged: one byte changed
    with open(pa, "wb") as f:
        f.write(raw_a[:-3] + bytes([raw_a[-3] ^ 0xFF]) + raw_a[-2:])
    assert ctypes.sizeof(pybpf.ctype("struct pt_a", header=a)) == 4
    # sealed properly but not a description cdecl wrote: a miss too
    put_record(k, ("pybpf-srcrecord-1", [[str(a)]], (1, (("c", "c_wchar"),), (0,))))
    assert ctypes.sizeof(pybpf.ctype("struct pt_a", header=a)) == 4
    put_record(k, "junk")
    assert ctypes.sizeof(pybpf.ctype("struct pt_a", header=a)) == 4


# -- load("x.bpf.c"): the object's identity from a record ----------------------------------

_PROG = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "val.h"
char LICENSE[] SEC("license") = "GPL";
const volatile int pt_val = VAL;
SEC("tp/syscalls/sys_enter_getppid")
int pt_srcrec(void *ctx) { return pt_val; }
"""


@pytest.mark.kernel
def test_a_warm_load_of_a_source_needs_no_compiler_and_sees_header_changes(tmp_path):
    (tmp_path / "val.h").write_text("#define VAL 1\n")
    src = tmp_path / "pt_srcrec.bpf.c"
    src.write_text(_PROG)
    with pybpf.load(src) as obj:
        assert obj.rodata.pt_val == 1
    out = _run("import sys, pybpf\n"
               f"o = pybpf.load({str(src)!r})\n"
               "print(o._plan is not None, o.rodata.pt_val, "
               "[m for m in ('pybpf.toolchain', 'pybpf.elf') if m in sys.modules])\n"
               "o.close()")
    assert out == "True 1 []"
    time.sleep(0.01)
    (tmp_path / "val.h").write_text("#define VAL 2\n")
    with pybpf.load(src) as obj:
        assert obj.rodata.pt_val == 2
    with pybpf.load(src) as obj:                # the new record, the new plan
        assert obj._plan is not None and obj.rodata.pt_val == 2
        assert obj.spec.programs["pt_srcrec"] is not None   # the bytes on demand
