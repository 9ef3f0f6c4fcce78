"""The real argparse parser behind the tools' lazy one (:class:`pybpf.tools._common.
ArgumentParser`), built only for ``-h``, a bad argument or anything unusual: errors in one
line (exit 2), help sized without shutil."""

from __future__ import annotations

import os
import sys


def help_formatter():
    """argparse's RawDescriptionHelpFormatter, sized without importing shutil (argparse
    builds a formatter for every add_argument; shutil costs a tool's start ~2 ms)."""
    import argparse

    class Formatter(argparse.RawDescriptionHelpFormatter):
        def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
            if width is None:
                try:
                    width = int(os.environ.get("COLUMNS", "")) - 2
                except ValueError:
                    try:
                        width = os.get_terminal_size(sys.stdout.fileno()).columns - 2
                    except (OSError, ValueError):
                        width = 78
            super().__init__(prog, indent_increment, max_help_position, width)
    return Formatter


def parser_class():
    """The argparse parser class every tool's options build on demand."""
    import argparse

    class OneLineParser(argparse.ArgumentParser):
        """argparse with the shared conventions: errors in one line, help sized without
        shutil."""

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("formatter_class", help_formatter())
            super().__init__(*args, **kwargs)

        def error(self, message):
            self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")
    return OneLineParser
