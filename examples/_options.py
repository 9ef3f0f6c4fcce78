"""The examples' command-line options: argparse's ``add_argument``/``parse_args`` for the
plain options they have (a switch, or a flag with one int, float or str value).

A well-formed command line is parsed here; anything else (``-h``, a mistake, a form this
does not read such as ``-vd5`` or an abbreviated ``--dur``) goes to argparse itself, so
help and error messages are argparse's.  Why: importing argparse pulls in re, enum,
gettext, locale and shutil, ~15 ms, more than libbpf's whole load and attach of the
smallest examples (bench/bench_examples.py measures their start against C).
"""

import sys

_KEYS = {"type", "default", "help", "metavar", "action", "required", "dest"}


class Namespace:
    """The parsed options, one attribute each (argparse.Namespace's behaviour)."""

    def __init__(self, values: dict):
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return "Namespace(" + ", ".join(f"{k}={v!r}" for k, v in vars(self).items()) + ")"


class Options:
    """``Options(description)``; ``add_argument("-p", "--pid", type=int, help=...)``;
    ``parse_args(argv)`` (default ``sys.argv[1:]``)."""

    def __init__(self, description: str):
        self.description = description
        self._calls: list = []              # (flags, keywords) as given

    def add_argument(self, *flags: str, **kw) -> None:
        self._calls.append((flags, kw))

    def parse_args(self, argv=None) -> Namespace:
        argv = sys.argv[1:] if argv is None else list(argv)
        values = self._by_hand(argv)
        if values is None:
            return self._argparse().parse_args(argv)
        return Namespace(values)

    def _argparse(self):
        import argparse
        ap = argparse.ArgumentParser(description=self.description)
        for flags, kw in self._calls:
            ap.add_argument(*flags, **kw)
        return ap

    def _by_hand(self, argv: list) -> dict | None:
        """The options' values, or None where argparse must decide."""
        values, spec, required = {}, {}, set()
        for flags, kw in self._calls:
            switch = kw.get("action") == "store_true"
            if not set(kw) <= _KEYS or (kw.get("action") not in (None, "store", "store_true")):
                return None
            dest = kw.get("dest") or next((f for f in flags if f[:2] == "--"),
                                          flags[0]).lstrip("-").replace("-", "_")
            values[dest] = False if switch else kw.get("default")
            if isinstance(values[dest], str) and kw.get("type") not in (None, str):
                return None                 # argparse converts such a default with type
            if kw.get("required"):
                required.add(dest)
            for f in flags:
                spec[f] = (dest, switch, kw.get("type") or str)
        given = set()
        i = 0
        while i < len(argv):
            tok = argv[i]
            i += 1
            if tok[:2] == "--":
                flag, eq, value = tok.partition("=")
            elif tok[:1] == "-" and len(tok) > 1:
                flag, value = tok[:2], tok[2:]
                eq = "=" if value else ""
                if value[:1] == "=":
                    value = value[1:]       # -d=5 is -d 5 to argparse
            else:
                return None                 # a positional, "-" or "--": not ours
            if flag not in spec:
                return None                 # -h, a typo, an abbreviation
            dest, switch, convert = spec[flag]
            if switch:
                if eq:
                    return None             # --verbose=1, -vd5
                values[dest] = True
            else:
                if not eq:
                    if i == len(argv) or argv[i][:1] == "-":
                        return None         # no value, or one argparse reads its own way
                    value = argv[i]
                    i += 1
                try:
                    values[dest] = convert(value)
                except ValueError:
                    return None             # argparse says what is wrong with it
            given.add(dest)
        return values if required <= given else None
