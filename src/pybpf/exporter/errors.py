"""The exporter's errors: a bad config names the path into it; decoding a map key can fail
or ask to leave the series out."""

from __future__ import annotations

from ..errors import PybpfError


class ConfigError(PybpfError, ValueError):
    """A config the exporter cannot use.  ``path`` is where in the config (e.g.
    ``metrics.counters[0].labels[1].decoders[0]``), ``file`` which config file."""

    def __init__(self, path: str, message: str, file: str = ""):
        self.path, self.message, self.file = path, message, file
        super().__init__(self._text())

    def in_file(self, file: str) -> "ConfigError":
        self.file = file
        self.args = (self._text(),)
        return self

    def _text(self) -> str:
        where = ": ".join(p for p in (self.file, self.path) if p)
        text = f"{where}: {self.message}" if where else self.message
        return text.replace("\n", "\\n")          # one line, whatever the config holds


class DecodeError(PybpfError, ValueError):
    """A label decoder could not turn a map key's bytes into a label value."""


class Skip(Exception):
    """A decoder (``regexp``) asks to leave this series out: not an error."""


class Unresolved(Exception):
    """A decoder could not resolve its input yet (a cgroup or disk that appeared after the
    exporter looked): ``text`` is the label to show now; the series is not cached, so a
    later scrape tries again."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text
