"""Command-line options: argparse's ``ArgumentParser``, built only when a line needs it.

Why: importing argparse (it pulls in re, gettext and locale) and building a parser (a help
formatter per option) costs several milliseconds of every start, often more than loading
and attaching a small BPF program.  Most command lines are empty or plain (``-p 42 -v``,
``--pid=42``, ``-p42``, ``-m 1 5``).  :class:`ArgumentParser` records the
``add_argument`` calls and answers such lines itself; anything else (``-h``, a mistake,
an abbreviation, ``--``, an option kind it does not read) goes to the real argparse parser,
built by replaying the recorded calls, so help, error messages and every result are
argparse's.  pybpf's tools and examples use it; so can any script::

    from pybpf.options import ArgumentParser
    p = ArgumentParser(description="count writes")
    p.add_argument("-p", "--pid", type=int, help="only this process")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()               # no argparse import for `-v -p 42`

What it reads by itself: options whose action is store (one value, through ``type``),
store_true/false/const, append, append_const or count; values as ``-p 42``, ``-p42``,
``-p=42``, ``--pid 42`` or ``--pid=42`` (a separate value must not start with ``-``);
required options, ``choices``, mutually exclusive groups (at most one member given),
``set_defaults``, and positionals (nargs None, ``"?"``, ``"*"`` or ``"+"``) given as one
run of arguments, before, between or after the options.  Every other
method or attribute is argparse's (the real parser is built on first use).
"""

from __future__ import annotations

import sys

SUPPRESS = "==SUPPRESS=="       # argparse.SUPPRESS, without importing argparse

# action -> (its default when none is given, the keywords its argparse class takes)
_VALUE_KEYS = {"nargs", "default", "type", "choices", "required", "help", "metavar", "dest",
               "action"}
_CONST_KEYS = {"const", "default", "required", "help", "metavar", "dest", "action"}
_FLAG_KEYS = {"default", "required", "help", "dest", "action"}
_ACTIONS = {None: (None, _VALUE_KEYS), "store": (None, _VALUE_KEYS),
            "append": (None, _VALUE_KEYS), "store_const": (None, _CONST_KEYS),
            "append_const": (None, _CONST_KEYS), "store_true": (False, _FLAG_KEYS),
            "store_false": (True, _FLAG_KEYS), "count": (None, _FLAG_KEYS)}
# the constructor's keywords that do not change how a command line is parsed
_PARSER_KEYS = {"prog", "usage", "description", "epilog", "formatter_class", "add_help"}


class Namespace:
    """What ``parse_args`` returns (argparse.Namespace's behaviour: attributes, ``in``,
    equality with any namespace of the same values, a readable repr)."""

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

    def __init__(self, owner: "ArgumentParser", method: str, args, kwargs):
        self._owner, self._method, self._args, self._kwargs = owner, method, args, kwargs
        self._real = None

    def add_argument(self, *args, **kwargs):
        if self._real is not None:
            return self._real.add_argument(*args, **kwargs)
        self._owner._calls.append((self, args, kwargs))
        return None

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_real", "_owner"):
            raise AttributeError(name)
        self._owner._build()
        return getattr(self._real, name)


class _Option:
    """One recorded add_argument call, as the command line sees it."""
    __slots__ = ("action", "dest", "kw", "default", "group", "required", "positional")

    def __init__(self, action, dest, kw, default, group, positional):
        self.action, self.dest, self.kw, self.default, self.group = \
            action, dest, kw, default, group
        self.required = bool(kw.get("required"))
        self.positional = positional


class ArgumentParser:
    """``argparse.ArgumentParser(*args, **kwargs)``, recorded; see the module docstring.
    Override :meth:`make_parser` to build a subclass of argparse's parser."""

    def __init__(self, *args, **kwargs):
        self._args, self._kwargs = args, kwargs
        # (group or None, args, kwargs) or ("defaults", (), kwargs), in call order
        self._calls: list = []
        self._groups: list[_Group] = []
        self._real = None

    def make_parser(self, *args, **kwargs):
        """The real parser (``argparse.ArgumentParser(*args, **kwargs)``)."""
        import argparse
        return argparse.ArgumentParser(*args, **kwargs)

    # -- recording --------------------------------------------------------------------------

    def add_argument(self, *args, **kwargs):
        """argparse's ``add_argument``, recorded (it returns None until the parser is
        built: nothing in the tools uses the Action it would return)."""
        if self._real is not None:
            return self._real.add_argument(*args, **kwargs)
        self._calls.append((None, args, kwargs))
        return None

    def add_mutually_exclusive_group(self, **kwargs) -> _Group:
        """argparse's, recorded: a group whose ``add_argument`` is recorded too."""
        return self._group("add_mutually_exclusive_group", (), kwargs)

    def add_argument_group(self, *args, **kwargs) -> _Group:
        """argparse's, recorded: a group whose ``add_argument`` is recorded too."""
        return self._group("add_argument_group", args, kwargs)

    def _group(self, method: str, args, kwargs):
        if self._real is not None:
            return getattr(self._real, method)(*args, **kwargs)
        g = _Group(self, method, args, kwargs)
        self._groups.append(g)
        return g

    def set_defaults(self, **kwargs) -> None:
        """argparse's, recorded in order with the ``add_argument`` calls (the order
        decides which default wins)."""
        if self._real is not None:
            self._real.set_defaults(**kwargs)
        else:
            self._calls.append(("defaults", (), kwargs))

    # -- parsing ----------------------------------------------------------------------------

    def parse_args(self, args=None, namespace=None):
        """argparse's ``parse_args``: answered here for an empty or plain command line."""
        if args is not None:
            args = list(args)       # argparse reads it once; so may this
        if namespace is None and self._real is None:
            values = self._parse(sys.argv[1:] if args is None else args)
            if values is not None:
                return Namespace(**values)
        return self._build().parse_args(args, namespace)

    def defaults(self) -> Namespace | None:
        """What argparse's ``parse_args([])`` gives, or None when argparse must answer."""
        values = self._parse([])
        return None if values is None else Namespace(**values)

    def _parse(self, argv: list) -> dict | None:
        """The namespace's values for ``argv``, or None where argparse must decide."""
        model = self._model()
        if model is None:
            return None
        values, flags, positionals = model
        seen: dict = {}                         # id(option) -> option, given on the line
        run: list = []                          # the positional arguments: one run
        run_end = 0
        i, n = 0, len(argv)
        while i < n:
            tok = argv[i]
            i += 1
            if isinstance(tok, str) and tok[:1] != "-":
                if run and run_end != i - 1:
                    return None                 # positionals on both sides of an option
                run.append(tok)
                run_end = i
                continue
            if not isinstance(tok, str) or len(tok) < 2 or tok == "--" or " " in tok:
                return None                     # "--", "-", a negative number: argparse's
            opt = flags.get(tok)
            value = None
            if opt is None:
                if tok[1] == "-":               # --name=value (anything else: argparse's)
                    name, eq, value = tok.partition("=")
                else:                           # -nVALUE, -n=VALUE
                    name, value = tok[:2], tok[2:]
                    if value[:1] == "=":
                        value = value[1:]
                    eq = True
                opt = flags.get(name) if eq else None
                if opt is None:
                    return None                 # -h, a typo, an abbreviation
            action = opt.action
            if action in (None, "store", "append"):
                if opt.kw.get("nargs") is not None:
                    return None
                if value is None:
                    if i == n or not isinstance(argv[i], str) or argv[i][:1] == "-":
                        return None             # no value, or one argparse reads its way
                    value = argv[i]
                    i += 1
                convert = opt.kw.get("type")
                try:
                    if convert is not None:
                        value = convert(value)
                    choices = opt.kw.get("choices")
                    if choices is not None and value not in choices:
                        return None
                except Exception:
                    return None                 # argparse says what is wrong with it
                if action == "append":
                    items = values.get(opt.dest)
                    if items is not None and type(items) is not list:
                        return None
                    values[opt.dest] = (items or [])[:] + [value]
                else:
                    values[opt.dest] = value
            elif value is not None:
                return None                     # --verbose=1, -vd5 (a switch's chain)
            elif action == "count":
                count = values.get(opt.dest)
                if count is not None and type(count) is not int:
                    return None
                values[opt.dest] = (count or 0) + 1
            elif action == "append_const":
                items = values.get(opt.dest)
                if items is not None and type(items) is not list:
                    return None
                values[opt.dest] = (items or [])[:] + [opt.kw.get("const")]
            elif action == "store_const":
                values[opt.dest] = opt.kw.get("const")
            else:
                values[opt.dest] = action == "store_true"
            seen[id(opt)] = opt
        if positionals and not _take_positionals(positionals, run, values):
            return None
        if run and not positionals:
            return None                         # argparse: unrecognized arguments
        groups: dict = {}
        for opt in seen.values():
            if opt.group is not None:
                if opt.group in groups:
                    return None                 # two of a mutually exclusive group
                groups[opt.group] = opt
        for opt in flags.values():
            if opt.required and id(opt) not in seen:
                return None                     # argparse names what is missing
        return values

    def _model(self):
        """(the defaults, {option string: _Option}) when every recorded call is of a kind
        :meth:`_parse` reproduces exactly, else None."""
        kwargs = self._kwargs
        if len(self._args) > 4 or not set(kwargs) <= _PARSER_KEYS:
            return None                         # parents, prefix_chars, argument_default...
        exclusive = {}
        for g in self._groups:
            if g._method == "add_mutually_exclusive_group":
                if g._kwargs.get("required") or not set(g._kwargs) <= {"required"}:
                    return None
                exclusive[g] = len(exclusive)
            elif len(g._args) > 2 or not set(g._kwargs) <= {"title", "description"}:
                return None                     # a group's own argument_default...
        values: dict = {}
        parser_defaults: dict = {}
        options: list = []
        positionals: list = []
        flags: dict = {}
        if kwargs.get("add_help", True):
            flags["-h"] = flags["--help"] = None
        for group, args, kw in self._calls:
            if group == "defaults":             # set_defaults: every action of that dest
                parser_defaults.update(kw)
                for opt in options:
                    if opt.dest in kw:
                        opt.default = kw[opt.dest]
                continue
            action = kw.get("action")
            if action not in _ACTIONS or not set(kw) <= _ACTIONS[action][1]:
                return None
            conv = kw.get("type")
            metavar = kw.get("metavar")
            if (conv is not None and (not callable(conv) or
                                      getattr(conv, "__name__", "") == "FileType")) \
                    or not (metavar is None or isinstance(metavar, str)) \
                    or isinstance(kw.get("choices"), str):
                return None                     # str choices: substrings or characters,
                                                # by Python version
            if not args or not all(isinstance(a, str) and a for a in args):
                return None
            positional = args[0][0] != "-"
            if positional:
                if len(args) != 1 or group in exclusive or set(kw) & {
                        "dest", "required", "choices", "const"} \
                        or action not in (None, "store") \
                        or kw.get("nargs") not in (None, "?", "*", "+"):
                    return None
                dest = args[0]
            else:
                if not all(a[0] == "-" and a not in flags and "=" not in a and " " not in a
                           and (len(a) <= 2 or a[1] == "-") for a in args):
                    return None                 # a conflict, -long options, odd strings
                if kw.get("required") and group in exclusive:
                    return None
                nargs = kw.get("nargs")
                # any nargs sends a line that gives the option to argparse (_parse);
                # "..." is argparse.REMAINDER (bcc's --exec CMD ARGS...)
                if not (nargs is None or nargs in ("?", "*", "+", "...") or
                        (type(nargs) is int and nargs > 0)):
                    return None
                dest = kw.get("dest")
                if dest is None:
                    dest = _option_dest(args)
                if not dest or not isinstance(dest, str) or dest == SUPPRESS:
                    return None
            if "default" in kw:
                default = kw["default"]
            elif dest in parser_defaults:
                default = parser_defaults[dest]
            else:
                default = _ACTIONS[action][0]
            opt = _Option(action, dest, kw, default, exclusive.get(group), positional)
            options.append(opt)
            if positional:
                positionals.append(opt)
            else:
                for a in args:
                    flags[a] = opt
        for opt in options:
            default = opt.default
            suppressed = isinstance(default, str) and default == SUPPRESS
            if isinstance(default, str) and not suppressed and \
                    opt.kw.get("type") not in (None, str):
                return None                     # argparse converts it with type
            if opt.positional:                  # left out: its default, [] for "*"
                if suppressed or sum(o.dest == opt.dest for o in options) > 1:
                    return None
                if default is None and opt.kw.get("nargs") == "*":
                    default = []
                opt.required = False
            # argparse: the first action of a dest gives its default
            if not suppressed and opt.dest not in values:
                values[opt.dest] = default
        for dest, value in parser_defaults.items():
            if dest not in values:
                values[dest] = value
        if kwargs.get("add_help", True):
            del flags["-h"], flags["--help"]
        return values, flags, positionals

    # -- the real parser --------------------------------------------------------------------

    def _build(self):
        """The real parser, with every recorded call replayed (once)."""
        if self._real is None:
            real = self.make_parser(*self._args, **self._kwargs)
            for g in self._groups:
                g._real = getattr(real, g._method)(*g._args, **g._kwargs)
            for group, args, kwargs in self._calls:
                if group == "defaults":
                    real.set_defaults(**kwargs)
                    continue
                if kwargs.get("help") == SUPPRESS:
                    # argparse hides an option only for its own SUPPRESS object (``is``)
                    import argparse
                    kwargs = {**kwargs, "help": argparse.SUPPRESS}
                (real if group is None else group._real).add_argument(*args, **kwargs)
            self._real = real
        return self._real

    def __getattr__(self, name):
        # anything else (format_help, error, print_usage, parse_known_args...): argparse's
        if name.startswith("__") or name in ("_real", "_calls", "_args", "_kwargs",
                                             "_groups"):
            raise AttributeError(name)
        return getattr(self._build(), name)


def _take_positionals(positionals: list, run: list, values: dict) -> bool:
    """Give the positional arguments ``run`` to ``positionals`` as argparse does (its
    nargs patterns matched greedily, in order, over one run of arguments); False where
    argparse would refuse (an argument too many or too few, a bad value)."""
    mins = [1 if o.kw.get("nargs") in (None, "+") else 0 for o in positionals]
    k = len(run)
    last = len(positionals)
    while last and sum(mins[:last]) > k:
        last -= 1                               # argparse leaves the rest unmatched
    if any(mins[last:]):
        return False                            # a required positional is missing
    start = 0
    for j in range(last):
        opt = positionals[j]
        nargs = opt.kw.get("nargs")
        room = k - start - sum(mins[j + 1:last])
        count = min(room, 1) if nargs in (None, "?") else room
        if count == 0:
            continue                            # its default, already in values
        convert = opt.kw.get("type")
        try:
            got = [s if convert is None else convert(s) for s in run[start:start + count]]
        except Exception:
            return False
        values[opt.dest] = got[0] if nargs in (None, "?") else got
        start += count
    return start == k                           # else: unrecognized arguments


def _option_dest(option_strings) -> str | None:
    """argparse's dest for an option: the first long option, else the first short one,
    without its dashes, inner dashes as underscores."""
    long = [s for s in option_strings if s.startswith("--")]
    name = (long or list(option_strings))[0].lstrip("-")
    return name.replace("-", "_") if name else None
