"""A base for plain record classes: repr and field-wise equality from a list of names;
tuples with named fields (:func:`named_tuple`).

The load path's records (BTF types, ELF sections, program specs) are written out as plain
classes rather than dataclasses: defining a dataclass runs code generation at import time,
which is most of what importing the object parser used to cost.
"""

from __future__ import annotations

# the tables (IntTable, StrTable) have a module of their own: the UAPI numbers need them on
# every start, records and named tuples only the parser and introspection do
from ._table import IntTable, StrTable, _Member, _TableType  # noqa: F401


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


def named_tuple(name: str, fields: str) -> type:
    """A tuple class with named fields, like ``collections.namedtuple`` (``_fields``,
    ``_make``, ``_replace``, ``_asdict``, the same repr) without importing ``collections``
    (~1 ms of a tool's start with what it pulls in).  Subclass it to add methods, with
    ``__slots__ = ()``."""
    from _operator import itemgetter
    names = tuple(fields.replace(",", " ").split())
    n = len(names)

    def __new__(cls, *args, **kw):
        if kw or len(args) != n:
            if len(args) > n:
                raise TypeError(f"{name}() takes {n} arguments but {len(args)} were given")
            values = dict(zip(names, args))
            for k, v in kw.items():
                if k not in names or k in values:
                    raise TypeError(f"{name}() got an unexpected or repeated argument {k!r}")
                values[k] = v
            missing = [f for f in names if f not in values]
            if missing:
                raise TypeError(f"{name}() missing arguments: {', '.join(missing)}")
            args = tuple(values[f] for f in names)
        return tuple.__new__(cls, args)

    def _make(cls, iterable):
        t = tuple.__new__(cls, iterable)
        if len(t) != n:
            raise TypeError(f"expected {n} arguments, got {len(t)}")
        return t

    def _replace(self, **kw):
        t = self._make(kw.pop(f, v) for f, v in zip(names, self))
        if kw:
            raise ValueError(f"got unexpected field names: {list(kw)!r}")
        return t

    def _asdict(self) -> dict:
        return dict(zip(names, self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(
            f"{f}={v!r}" for f, v in zip(names, self)) + ")"

    def __getnewargs__(self):
        return tuple(self)

    ns = {"__slots__": (), "_fields": names, "__match_args__": names, "__new__": __new__,
          "_make": classmethod(_make), "_replace": _replace, "_asdict": _asdict,
          "__repr__": __repr__, "__getnewargs__": __getnewargs__}
    for i, f in enumerate(names):
        ns[f] = property(itemgetter(i), doc=f"Alias for field number {i}")
    return type(name, (tuple,), ns)
