"""pybpf._record.IntTable/StrTable: the load path's named numbers behave as the enums
they replace (members are ints or strs with a name; lookups, iteration, pickling)."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys

import pytest

from pybpf._record import IntTable, StrTable
from pybpf.btf.ext import CoreReloKind
from pybpf.btf.kinds import Kind
from pybpf.object.sections import SecFlag, parse_section
from pybpf.object.spec import RelocKind


class Color(IntTable):
    """Colours."""

    RED = 1
    GREEN = 2
    SCARLET = 1          # an alias: the same member, as in an enum


class Bits(IntTable, flag=True):
    NONE = 0
    A = 1
    B = 2


class Word(StrTable):
    HELLO = "hello"
    BYE = "bye"


def test_int_members_are_ints_with_names():
    assert Color.RED == 1 and isinstance(Color.RED, int) and isinstance(Color.RED, Color)
    assert Color.RED.name == "RED" and Color.RED.value == 1
    assert Color(2) is Color.GREEN and Color.SCARLET is Color.RED
    assert repr(Color.GREEN) == "<Color.GREEN: 2>"
    assert str(Color.GREEN) == "2" and f"{Color.GREEN:>3}" == "  2"   # as IntEnum's
    assert list(Color) == [Color.RED, Color.GREEN] and len(Color) == 2
    assert 2 in Color and 3 not in Color
    assert Color["GREEN"] is Color.GREEN
    assert list(Color.__members__) == ["RED", "GREEN", "SCARLET"]
    assert {Color.RED: "r"}[1] == "r" and hash(Color.RED) == hash(1)
    assert Color.__doc__ == "Colours."
    with pytest.raises(ValueError):
        Color(3)
    with pytest.raises(KeyError):
        Color["BLUE"]


def test_members_survive_pickling_and_copies():
    for m in (Color.GREEN, Word.BYE):
        assert pickle.loads(pickle.dumps(m)) is m
        assert copy.deepcopy(m) is m and copy.copy(m) is m


def test_flag_tables_take_combinations():
    assert Bits.A | Bits.B == 3 and Bits(3) == 3 and Bits(1) is Bits.A
    assert Bits(3) & Bits.B
    with pytest.raises(ValueError):
        Bits(-1)


def test_str_members():
    assert Word.HELLO == "hello" and Word("bye") is Word.BYE
    assert Word.HELLO.name == "HELLO" and Word.HELLO.value == "hello"
    assert repr(Word.HELLO) == "<Word.HELLO: 'hello'>" and str(Word.HELLO) == "Word.HELLO"


def test_the_load_paths_tables():
    assert Kind(4) is Kind.STRUCT and Kind.STRUCT.name == "STRUCT" and len(Kind) == 20
    assert CoreReloKind(9) is CoreReloKind.TYPE_SIZE
    assert RelocKind("call") is RelocKind.CALL
    info = parse_section("fentry.s/do_unlinkat")
    assert info.sleepable and info.needs_btf_id
    assert info.flags == SecFlag.ATTACH_BTF | SecFlag.SLEEPABLE


def test_a_cold_load_parses_without_the_enum_module(tmp_path):
    """The parser's own tables need no enum module (nor functools, which it brings)."""
    code = ("import sys\nfrom pybpf.object import sections, spec\nfrom pybpf.btf import ext,"
            " types\nmods = [m for m in ('enum', 'functools', 're') if m in sys.modules]\n"
            "print(mods)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    # errors/uapi may still bring enum and re in on this branch; the parser adds none
    base = subprocess.run([sys.executable, "-c", "import sys\nimport pybpf._sys.uapi, "
                           "pybpf.errors\nprint([m for m in ('enum', 'functools', 're') "
                           "if m in sys.modules])\n"], capture_output=True, text=True,
                          check=True).stdout
    assert out == base


# -- members made on first use -----------------------------------------------------------------

def test_members_are_made_on_first_use_and_stay_the_same_objects():
    class Lazy(IntTable):
        ONE = 1
        TWO = 2
        UNO = 1          # an alias, made before the name it aliases

    assert Lazy._some_ == {}                       # nothing made by the class statement
    alias = Lazy.UNO
    assert alias.name == "ONE" and alias is Lazy.ONE is Lazy(1)
    assert set(Lazy._some_) == {1}                 # only what was asked for
    assert Lazy.name_of(2) == "TWO" and Lazy.name_of(3) is None
    assert list(Lazy) == [Lazy.ONE, Lazy.TWO] and len(Lazy) == 2
    assert Lazy.__members__ == {"ONE": Lazy.ONE, "TWO": Lazy.TWO, "UNO": Lazy.ONE}
    assert "TWO" in dir(Lazy) and 2 in Lazy and 3 not in Lazy
    with pytest.raises(AttributeError):
        Lazy.THREE
    with pytest.raises(ValueError):
        Lazy(3)
    assert copy.copy(Lazy.TWO) is Lazy.TWO           # __reduce_ex__: the class by value


def test_lazy_string_tables():
    class Words(StrTable):
        HI = "hi"
        HELLO = "hello"

    assert Words("hello") is Words.HELLO and Words.HELLO == "hello"
    assert [w.name for w in Words] == ["HI", "HELLO"]
