"""A base for plain record classes: repr and field-wise equality from a list of names.

The load path's records (BTF types, ELF sections, program specs) are written out as plain
classes rather than dataclasses: defining a dataclass runs code generation at import time,
which is most of what importing the object parser used to cost.
"""

from __future__ import annotations


class Record:
    """Subclasses list their fields in ``_fields`` (repr and ==) in declaration order;
    ``_norepr`` and ``_nocmp`` leave some out of repr or equality. Unhashable, like a
    dataclass with eq."""

    __slots__ = ()
    _fields: tuple = ()
    _norepr: tuple = ()
    _nocmp: tuple = ()

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields
                          if n not in self._norepr)
        return f"{type(self).__qualname__}({parts})"

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        nocmp = self._nocmp
        return all(getattr(self, n) == getattr(other, n) for n in self._fields
                   if n not in nocmp)

    __hash__ = None


def fast_enum(base):
    """A class decorator making an enum of ``base`` (IntEnum, IntFlag, Enum) from a plain
    class body through the stdlib's own fast builder (``enum._simple_enum``, which the
    re module uses): the same kind of class, without EnumType's per-member work (~0.2 ms
    of a cold load per class).  Pythons without it get the functional API."""
    try:
        from enum import _simple_enum
    except ImportError:                      # pragma: no cover - Python 3.10
        def _simple_enum(base):
            def make(cls):
                members = {k: v for k, v in vars(cls).items() if not k.startswith("_")}
                return base(cls.__name__, members, module=cls.__module__)
            return make
    return _simple_enum(base)
