"""The ``pybpf`` command: ``pybpf features``, ``pybpf list``, ``pybpf <tool> [args]``."""

from __future__ import annotations

import sys


# Subcommands that are not tools: name -> (module with main(argv), one-line help).  A
# command whose module is not in this build is left out of the usage text.
_COMMANDS = {
    "features": ("pybpf.features", "what the running kernel supports (like bpftool feature)"),
    "list": (None, "list the tools"),
    "run": ("pybpf.bcc.run", "run a bcc script unchanged on pybpf's bcc front end"),
    "cache": ("pybpf.cachecli", "show or clear pybpf's private cache"),
    "firewall": ("pybpf.net.cli", "XDP firewall and per-source rate limiter"),
    "audit": ("pybpf.security.audit", "security audit stream with alert/kill/deny policies"),
    "sslsniff": ("pybpf.security.sslsniff", "capture TLS plaintext (OpenSSL, GnuTLS, NSS)"),
    "exporter": ("pybpf.exporter", "Prometheus exporter for eBPF maps"),
}


def _tools() -> dict[str, str]:
    from .tools import tools
    return tools()


def _available(module: str | None) -> bool:
    if module is None:
        return True
    import importlib.util
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def _module(name: str):
    """The module ``name`` (importlib.import_module without importing importlib and
    warnings: ~0.4 ms of every start)."""
    return __import__(name, fromlist=["__name__"])


def _usage() -> str:
    lines = ["usage: pybpf <command> [args]   (pybpf --version: the version)", "",
             "commands:"]
    for name, (module, text) in _COMMANDS.items():
        if _available(module):
            lines.append(f"  {name:<12} {text}")
    lines.append("")
    lines.append("tools (pybpf <tool> -h for options):")
    for name, text in sorted(_tools().items()):
        lines.append(f"  {name:<12} {text}")
    return "\n".join(lines)


def main(argv: list[str] | None = None, signalled=()) -> int:
    """Run a command or tool under the shared conventions (tools/_common.py's docstring:
    one-line errors, quiet broken pipes, clean exits on SIGINT/SIGTERM from here on).
    ``signalled``: signals ``python -m pybpf`` saw before (see run_main)."""
    from .tools._common import run_main
    argv = sys.argv[1:] if argv is None else argv
    cmd = argv[0] if argv else ""
    return run_main(f"pybpf {cmd}" if cmd else "pybpf", _dispatch, argv, signalled)


def _dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd in ("-V", "--version", "version"):
        from . import __version__
        print(f"pybpf {__version__}")
        return 0
    if cmd == "list":
        for name, text in sorted(_tools().items()):
            print(f"{name:<12} {text}")
        return 0
    if cmd in _COMMANDS and _available(_COMMANDS[cmd][0]):
        return _module(_COMMANDS[cmd][0]).main(rest) or 0
    from .tools import is_tool
    if is_tool(cmd):
        return _module(f"pybpf.tools.{cmd}").main(rest) or 0
    print(f"pybpf: unknown command {cmd!r}\n\n{_usage()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
