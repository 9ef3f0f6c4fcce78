"""An argument parser built only when a command line needs it.

Most runs of a tool have no arguments (``pybpf opensnoop``).  For them argparse is pure
start-up cost: importing it (with gettext, locale and re: ~3 ms) and building the parser
(a help formatter per option: ~2.5 ms).  :class:`LazyParser` records the
``add_argument`` calls; ``parse_args([])`` answers from the recorded defaults when every
option is of a plain kind, and anything else (arguments, ``-h``, an error, an unusual
option, any other attribute) builds the real argparse parser by replaying the calls, so
behaviour is argparse's in every case the shortcut does not cover.
"""

from __future__ import annotations

_SUPPRESS = "==SUPPRESS=="
# action -> default when none is given (argparse's own defaults for these actions)
_PLAIN = {None: None, "store": None, "store_true": False, "store_false": True,
          "store_const": None, "append": None, "append_const": None, "count": None}
_OPTION_KEYS = {"action", "dest", "default", "type", "help", "metavar", "choices", "const",
                "nargs", "required"}


class Namespace:
    """What ``parse_args`` returns (argparse.Namespace's behaviour: attributes, ``in``,
    equality, a readable repr)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__

    def __eq__(self, other) -> bool:
        return vars(self) == vars(other) if hasattr(other, "__dict__") else NotImplemented

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Namespace({inner})"


class _Group:
    """A recorded argument group (mutually exclusive or not)."""

    def __init__(self, owner: "LazyParser", method: str, args, kwargs):
        self._owner, self._method, self._args, self._kwargs = owner, method, args, kwargs
        self._real = None

    def add_argument(self, *args, **kwargs):
        if self._real is not None:
            return self._real.add_argument(*args, **kwargs)
        self._owner._calls.append((self, args, kwargs))
        return None

    def __getattr__(self, name):
        self._owner._build()
        return getattr(self._real, name)


class LazyParser:
    """Records a parser's definition; see the module docstring.  ``factory(*args,
    **kwargs)`` makes the real parser (an argparse.ArgumentParser or a subclass)."""

    def __init__(self, factory, *args, **kwargs):
        self._factory, self._args, self._kwargs = factory, args, kwargs
        self._calls: list = []          # (group or None, args, kwargs), in order
        self._groups: list[_Group] = []
        self._defaults: dict = {}
        self._real = None

    def add_argument(self, *args, **kwargs):
        if self._real is not None:
            return self._real.add_argument(*args, **kwargs)
        self._calls.append((None, args, kwargs))
        return None

    def add_mutually_exclusive_group(self, **kwargs) -> _Group:
        return self._group("add_mutually_exclusive_group", (), kwargs)

    def add_argument_group(self, *args, **kwargs) -> _Group:
        return self._group("add_argument_group", args, kwargs)

    def _group(self, method: str, args, kwargs):
        if self._real is not None:
            return getattr(self._real, method)(*args, **kwargs)
        g = _Group(self, method, args, kwargs)
        self._groups.append(g)
        return g

    def set_defaults(self, **kwargs) -> None:
        if self._real is not None:
            self._real.set_defaults(**kwargs)
        else:
            self._defaults.update(kwargs)

    def parse_args(self, args=None, namespace=None):
        if args is not None and len(args) == 0 and namespace is None \
                and self._real is None:
            ns = self.defaults()
            if ns is not None:
                return ns
        return self._build().parse_args(args, namespace)

    def defaults(self) -> Namespace | None:
        """What argparse's ``parse_args([])`` gives, or None when an option is not of a
        kind this reproduces exactly (then argparse answers)."""
        if "argument_default" in self._kwargs or any(
                g._kwargs.get("required") for g in self._groups):
            return None
        values: dict = {}
        for _, args, kw in self._calls:
            if not set(kw) <= _OPTION_KEYS or kw.get("required"):
                return None
            action = kw.get("action")
            if action not in _PLAIN:
                return None
            default = kw.get("default", _PLAIN[action])
            if isinstance(default, str) and default != _SUPPRESS and \
                    kw.get("type") not in (None, str):
                return None             # argparse converts string defaults with type
            if args and all(isinstance(a, str) and a[:1] == "-" for a in args):
                dest = kw.get("dest") or _option_dest(args)
                if not dest:
                    return None
                # argparse: the first action of a dest gives its default
                if default != _SUPPRESS and dest not in values:
                    values[dest] = default
            elif len(args) == 1 and isinstance(args[0], str) and "dest" not in kw \
                    and "choices" not in kw and action in (None, "store") \
                    and kw.get("nargs") in ("?", "*"):
                # a positional that may be absent: argparse stores its default
                if default == _SUPPRESS:
                    return None
                values[args[0]] = [] if default is None and kw["nargs"] == "*" else default
            else:
                return None
        values.update(self._defaults)
        return Namespace(**values)

    def _build(self):
        """The real parser, with every recorded call replayed (once)."""
        if self._real is None:
            real = self._factory(*self._args, **self._kwargs)
            for g in self._groups:
                g._real = getattr(real, g._method)(*g._args, **g._kwargs)
            for group, args, kwargs in self._calls:
                (real if group is None else group._real).add_argument(*args, **kwargs)
            if self._defaults:
                real.set_defaults(**self._defaults)
            self._real = real
        return self._real

    def __getattr__(self, name):
        # anything else (format_help, error, print_usage, _actions...): argparse's
        if name.startswith("__") or name in ("_real", "_factory", "_calls"):
            raise AttributeError(name)
        return getattr(self._build(), name)


def _option_dest(option_strings) -> str | None:
    """argparse's dest for an option: the first long option, else the first short one,
    without its dashes, inner dashes as underscores."""
    long = [s for s in option_strings if s.startswith("--")]
    name = (long or list(option_strings))[0].lstrip("-")
    return name.replace("-", "_") if name else None
