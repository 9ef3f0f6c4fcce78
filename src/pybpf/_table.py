"""Named kernel numbers and strings without the enum module: :class:`IntTable` and
:class:`StrTable` (``class Kind(IntTable): INT = 1``), whose members behave as an IntEnum's
and are made on first use.  (Also importable from :mod:`pybpf._record`.)
"""

from __future__ import annotations


class _TableType(type):
    """Metaclass of :class:`IntTable` and :class:`StrTable`: the class body's plain
    values become members, instances of the class itself (so ``Kind.INT`` is a ``Kind``
    and an ``int``, with ``name`` and ``value``), aliases sharing the first member.

    Members are made on first use (an attribute, a lookup by value, iteration): the UAPI
    tables hold ~300 names of which a tool's start touches a dozen, and making them all
    cost every start ~1 ms."""

    def __new__(mcls, name, bases, ns, flag: bool = False):
        base = next((b for b in (int, str) if any(issubclass(x, b) for x in bases)), None)
        members = {} if base is None else {
            k: v for k, v in ns.items() if not k.startswith("_") and type(v) is base}
        cls = super().__new__(mcls, name, bases,
                              {k: v for k, v in ns.items() if k not in members})
        cls._flag_ = flag
        cls._base_ = base
        cls._raw_ = members                 # name -> value, in definition order
        cls._some_ = {}                     # value -> member, for the members made so far
        cls._made_ = None                   # (member map, value map) once all are made
        return cls

    def __getattr__(cls, name):
        # only called for names the class does not have yet: a member not made so far
        raw = type.__getattribute__(cls, "__dict__").get("_raw_")
        if raw is None or name not in raw:
            raise AttributeError(f"type object {cls.__qualname__!r} has no attribute {name!r}")
        m = cls._member(raw[name])
        type.__setattr__(cls, name, m)
        return m

    def _member(cls, value):
        """The member for ``value`` (named by the first name with that value), made once."""
        m = cls._some_.get(value)
        if m is None:
            m = cls._base_.__new__(cls, value)
            m._name_ = next(k for k, v in cls._raw_.items() if v == value)
            m._value_ = value
            cls._some_[value] = m
        return m

    def _maps(cls) -> tuple:
        """(name -> member, value -> first member), every member made (once)."""
        made = cls._made_
        if made is None:
            by_name, by_value = {}, {}
            for k, v in cls._raw_.items():
                m = by_name[k] = cls._member(v)
                by_value.setdefault(v, m)
                type.__setattr__(cls, k, m)
            made = cls._made_ = (by_name, by_value)
        return made

    @property
    def _member_map_(cls) -> dict:
        return cls._maps()[0]

    @property
    def _value2member_map_(cls) -> dict:
        return cls._maps()[1]

    def __call__(cls, value):
        m = cls._some_.get(value)
        if m is not None:
            return m
        if value in cls._raw_.values():
            return cls._member(value)
        if cls._flag_ and isinstance(value, int) and value >= 0:
            return cls.enum()(value)        # a combination of flags, as an IntFlag gives it
        raise ValueError(f"{value!r} is not a valid {cls.__qualname__}")

    def enum(cls):
        """The table as a real IntEnum/IntFlag (Enum for strings), built on first use: for
        flag combinations and comparisons, keeping the enum module off the start path."""
        e = cls.__dict__.get("_enum_")
        if e is None:
            from enum import Enum, IntEnum, IntFlag
            kind = (IntFlag if cls._flag_ else IntEnum) if issubclass(cls, int) else Enum
            e = kind(cls.__name__, {k: m._value_ for k, m in cls._member_map_.items()},
                     module=cls.__module__)
            type.__setattr__(cls, "_enum_", e)
        return e

    def name_of(cls, value) -> str | None:
        """The (first) name of ``value``, or None."""
        if cls._some_.get(value) is None and value not in cls._raw_.values():
            return None
        return cls._member(value)._name_

    def __iter__(cls):
        return iter(cls._maps()[1].values())

    def __len__(cls):
        return len(cls._maps()[1])

    def __contains__(cls, value):
        return value in cls._maps()[1]

    def __getitem__(cls, name):
        return cls._maps()[0][name]

    @property
    def __members__(cls):
        return dict(cls._maps()[0])

    def __dir__(cls):
        return sorted(set(super().__dir__()) | set(cls._raw_))


class _Member:
    """What members of a table add to their int or str."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return self._name_

    @property
    def value(self):
        return self._value_

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__}.{self._name_}: {self._value_!r}>"

    def __reduce_ex__(self, proto):
        return type(self), (self._value_,)


class IntTable(_Member, int, metaclass=_TableType):
    """Named kernel numbers without the enum module (which, with functools, costs every
    cold load ~2 ms): ``class Kind(IntTable): INT = 1`` gives ``Kind.INT == 1``,
    ``Kind.INT.name``, ``Kind(1)``, iteration and ``__members__``, as an IntEnum does.
    ``class F(IntTable, flag=True)`` also accepts combinations (``F(3)`` is 3)."""

    __str__ = int.__repr__                  # str(Kind.INT) == "1", as IntEnum's
    __format__ = int.__format__


class StrTable(_Member, str, metaclass=_TableType):
    """Named strings, the same way (members are equal to their value)."""

    def __str__(self) -> str:
        return f"{type(self).__qualname__}.{self._name_}"
