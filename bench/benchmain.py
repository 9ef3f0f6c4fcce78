"""How a bench script ends: quietly when its reader goes away (``| head``) and in one line
on ^C, after the script's own ``finally``/``with`` blocks have cleaned up (they run while
the exception unwinds, before it reaches here)."""

from __future__ import annotations

import os
import sys


def run(main) -> None:
    """``sys.exit(main())``, with a closed pipe and ^C as exits instead of tracebacks."""
    try:
        code = main()
    except BrokenPipeError:
        # stdout is gone: point it at /dev/null so the interpreter's final flush does not
        # raise (and print) the same error again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except KeyboardInterrupt:
        print(f"{os.path.basename(sys.argv[0])}: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)
