"""bashreadline: print the commands bash reads (a uretprobe on readline), as bcc's."""

from __future__ import annotations

import os
import struct

from .. import _args, _common, _run

_EV = struct.Struct("<QII16s120s")

EXAMPLES = """examples:
    pybpf bashreadline                    # trace the commands of every bash
    pybpf bashreadline -s /usr/lib/x86_64-linux-gnu/libreadline.so.8  # readline in a library
    pybpf bashreadline --json             # one JSON object per command
"""


def parser():
    p = _args.parser("bashreadline", "Print entered bash commands from all running shells",
                     EXAMPLES)
    p.add_argument("-s", "--shared", metavar="LIB",
                   help="readline from this shared library instead of /bin/bash")
    _args.add_pid(p)
    _args.add_json(p, "command")
    return p


def readline_binary(shared: str | None) -> str:
    """Where readline lives: the given library, else bash itself (Debian links it in)."""
    if shared:
        return shared
    for path in ("/bin/bash", "/usr/bin/bash"):
        if os.path.exists(path):
            return path
    raise SystemExit("error: no /bin/bash: give readline's library with -s")


def run(args, out):
    from ...links import uprobe
    binary = readline_binary(args.shared)
    clock = _common.Clock()

    def header():
        out.header("%-9s %-7s %s" % ("TIME", "PID", "COMMAND"))

    def handle(data):
        ts, pid, _, comm, line = _EV.unpack_from(data)
        line = _common.cstr(line)
        if out.json:
            out.row("", {"time": clock.hms(ts), "pid": pid,
                         "comm": _common.cstr(comm),
                         "command": line})
            return
        out.row("%-9s %-7d %s" % (clock.hms(ts), pid, line), {})

    with _args.Filters(args) as f, _run.load("bashreadline", f, {"bash_only": not args.shared},
                                             attach=False) as obj:
        from ...links import elfcache, libpath
        real = libpath.resolve_path(binary)
        obj.links.append(uprobe.attach(obj.programs["readline_ret"], real,
                                       offset=elfcache.symbol_offset(real, "readline"), retprobe=True))
        _run.stream("bashreadline", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("bashreadline", parser, run, argv)
