"""sslsniff: the plaintext of TLS reads and writes (OpenSSL, GnuTLS, NSS) through uprobes,
with bcc's sslsniff options and output, plus --json."""

from __future__ import annotations

import argparse
import os
import struct
import sys

from .. import errors
from ..tools import _common, _run

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_DATA = 16384                                  # sslsniff.h
_HDR = struct.Struct("<QQIIIiII16s")              # struct tls_event up to data[]
C_EX, C_LIB_SHIFT = 4, 4
LIBS = {"openssl": 1, "gnutls": 2, "nss": 3}
LIB_NAMES = {v: k for k, v in LIBS.items()}
FUNCS = {0: "READ/RECV", 1: "WRITE/SEND", 2: "HANDSHAKE"}
# per library: (sonames to find it by, [(symbol, direction, *_ex)])
PROBES = {
    "openssl": (("ssl",), [("SSL_write", 1, False), ("SSL_read", 0, False),
                           ("SSL_write_ex", 1, True), ("SSL_read_ex", 0, True)]),
    "gnutls": (("gnutls",), [("gnutls_record_send", 1, False),
                             ("gnutls_record_recv", 0, False)]),
    "nss": (("nspr4",), [("PR_Write", 1, False), ("PR_Send", 1, False),
                         ("PR_Read", 0, False), ("PR_Recv", 0, False)]),
}
# what a process's mapped file is called, per library (for -p and containers)
MAPPED = {"openssl": "libssl.so", "gnutls": "libgnutls.so", "nss": "libnspr4.so"}

EXAMPLES = """examples:
    pybpf sslsniff                 # sniff OpenSSL, GnuTLS and NSS functions
    pybpf sslsniff -p 181          # only PID 181 (its own libraries, also in a container)
    pybpf sslsniff -u 1000         # only UID 1000
    pybpf sslsniff -c curl         # only commands named "curl"
    pybpf sslsniff --no-openssl    # no OpenSSL calls
    pybpf sslsniff --no-gnutls     # no GnuTLS calls
    pybpf sslsniff --no-nss        # no NSS calls
    pybpf sslsniff --hexdump       # data as hex, not decoded as UTF-8
    pybpf sslsniff -x              # show UID and TID columns
    pybpf sslsniff -l              # show each call's latency
    pybpf sslsniff -l --handshake  # also SSL_do_handshake's latency (OpenSSL)
    pybpf sslsniff --extra-lib openssl:/path/libssl.so.1.1   # another library (or a
                                   # statically linked binary with the symbols)
    pybpf sslsniff --json          # one JSON object per call
"""


def _extra_lib(value: str) -> tuple[str, str]:
    kind, sep, path = value.partition(":")
    if not sep or kind not in LIBS or not path:
        raise argparse.ArgumentTypeError(f"expected openssl|gnutls|nss:PATH, got {value!r}")
    return kind, path


def parser() -> argparse.ArgumentParser:
    p = _common.ArgumentParser(prog="pybpf sslsniff", description="Sniff SSL data",
                               epilog=EXAMPLES)
    p.add_argument("-p", "--pid", type=_common.pid_arg, help="sniff this PID only.")
    p.add_argument("-u", "--uid", type=_common.uid_arg, default=None,
                   help="sniff this UID only.")
    p.add_argument("-x", "--extra", action="store_true", help="show extra fields (UID, TID)")
    p.add_argument("-c", "--comm", type=_common.text_arg,
                   help="sniff only commands matching string.")
    p.add_argument("-o", "--no-openssl", action="store_false", dest="openssl",
                   help="do not show OpenSSL calls.")
    p.add_argument("-g", "--no-gnutls", action="store_false", dest="gnutls",
                   help="do not show GnuTLS calls.")
    p.add_argument("-n", "--no-nss", action="store_false", dest="nss",
                   help="do not show NSS calls.")
    p.add_argument("--hexdump", action="store_true",
                   help="show data as hexdump instead of trying to decode it as UTF-8")
    p.add_argument("--max-buffer-size", type=_common.int_range(1, MAX_DATA - 1, "a size"),
                   default=8192,
                   help="Size of captured buffer")
    p.add_argument("-l", "--latency", action="store_true", help="show function latency")
    p.add_argument("--handshake", action="store_true", help="show SSL handshake latency, "
                   "enabled only if latency option is on.")
    p.add_argument("--extra-lib", type=_extra_lib, action="append", default=[],
                   help="Intercept calls from extra library (format: lib_type:lib_path)")
    p.add_argument("--json", action="store_true", help="one JSON object per call")
    return p


def _not_found(detail: str, err: int | None = None) -> errors.NotFoundError:
    """A missing process, library or function: the user's to fix, so the one line says
    only what is missing (no "sslsniff: No such file or directory (errno ENOENT)")."""
    e = errors.NotFoundError(err or 2, "sslsniff", detail)
    e.strerror = detail
    return e


def mapped_libraries(pid: int) -> dict[str, list[str]]:
    """The TLS libraries process ``pid`` has mapped, as paths through /proc/<pid>/root
    (so a container's own libraries are found), and its executable when it carries
    OpenSSL's symbols (statically linked)."""
    found: dict[str, list[str]] = {}
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise _not_found(f"process {pid}: {e.strerror}", e.errno) from None
    seen = set()
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) < 6 or not parts[5].startswith("/"):
            continue
        path = parts[5]
        base = os.path.basename(path)
        for kind, stem in MAPPED.items():
            if (base == stem or base.startswith(stem + ".")) and path not in seen:
                seen.add(path)
                found.setdefault(kind, []).append(in_root(pid, path))
    exe = f"/proc/{pid}/exe"
    try:
        from ..links.symbols import elf_symbols
        if "SSL_write" in elf_symbols(exe):
            found.setdefault("openssl", []).append(exe)
    except errors.PybpfError:
        pass
    return found


def in_root(pid: int, path: str) -> str:
    """``path`` as process ``pid`` sees it: through /proc/<pid>/root when it lives in
    another mount namespace (a container), where the same path can be another file."""
    try:
        a, b = os.stat(f"/proc/{pid}/ns/mnt"), os.stat("/proc/self/ns/mnt")
        if a.st_ino == b.st_ino:
            return path
    except OSError:
        pass
    return f"/proc/{pid}/root{path}"


def system_libraries(args) -> dict[str, list[str]]:
    from ..links.symbols import find_library
    found: dict[str, list[str]] = {}
    for kind, (names, _) in PROBES.items():
        if not getattr(args, kind):
            continue
        for name in names:
            try:
                found.setdefault(kind, []).append(os.path.realpath(find_library(name)))
            except errors.NotFoundError:
                pass
    return found


def _attach(prog, path: str, symbol: str, retprobe: bool, pid: int, cookie: int,
            table: dict[str, int]):
    """A uprobe by symbol; paths through /proc/<pid>/root are handed to the kernel as
    they are (resolving the magic link here would leave the container).  ``table``: the
    binary's symbol offsets, read once for all its probes."""
    from ..links import elfcache, uprobe
    if not path.startswith("/proc/"):
        return uprobe.attach(prog, path, symbol, retprobe=retprobe, pid=pid, cookie=cookie)
    from ..links.base import perf_event_link
    from ..links.perf_event import open_probe_pmu
    off = elfcache.symbol_offset(path, symbol, table)
    kind = "uretprobe" if retprobe else "uprobe"
    pfd = open_probe_pmu("uprobe", target=path.encode(), offset=off, retprobe=retprobe,
                         pid=pid, what=f"{kind} {path}:{symbol}")
    return perf_event_link(prog, pfd, kind=kind, target=f"{path}:{symbol}",
                           cookie=cookie)


def attach_all(obj, libs: dict[str, list[str]], args) -> list[str]:
    """Probe every function of every library found; returns what was probed."""
    # the symbol table as uprobe.attach reads it (links/elfcache.py: cached per file, so
    # a library is parsed once here and not again for each probe)
    from ..links.elfcache import function_offsets
    enter, leave = obj.programs["tls_enter"], obj.programs["tls_exit"]
    pid = args.pid if args.pid else -1
    done = []
    for kind, paths in libs.items():
        funcs = list(PROBES[kind][1])
        if kind == "openssl" and args.latency and args.handshake:
            funcs.append(("SSL_do_handshake", 2, False))
        for path in paths:
            try:
                table = function_offsets(path)
            except errors.PybpfError as e:
                _common.warn("sslsniff", f"skipping {path}: {e}")
                continue
            for sym, direction, ex in funcs:
                if sym not in table:
                    continue
                cookie = direction | (C_EX if ex else 0) | (LIBS[kind] << C_LIB_SHIFT)
                obj.links.append(_attach(enter, path, sym, False, pid, cookie, table))
                obj.links.append(_attach(leave, path, sym, True, pid, cookie, table))
                done.append(f"{path}:{sym}")
    return done


class Printer:
    def __init__(self, args, out: _common.Output):
        self.args, self.out = args, out
        self.start = 0

    def header(self) -> None:
        h = "%-12s %-18s %-16s %-7s %-7s" % ("FUNC", "TIME(s)", "COMM", "PID", "LEN")
        if self.args.extra:
            h += " %-7s %-7s" % ("UID", "TID")
        if self.args.latency:
            h += " %-7s" % "LAT(ms)"
        self.out.header(h)

    def event(self, data) -> None:
        ts, delta, pid, tid, uid, length, copied, cookie, comm = _HDR.unpack_from(data)
        comm = comm.split(b"\0", 1)[0].decode(errors="replace")
        if self.args.comm and self.args.comm != comm:
            return
        buf = bytes(data[_HDR.size:_HDR.size + copied])
        if not self.start:
            self.start = ts
        t = (ts - self.start) / 1e9
        direction = cookie & 3
        lost = max(length - copied, 0) if direction != 2 else 0
        if self.out.json:
            rec = {"func": FUNCS[direction], "time_s": round(t, 9), "comm": comm, "pid": pid,
                   "tid": tid, "uid": uid, "len": length, "lib": LIB_NAMES.get(cookie >> 4),
                   "latency_ms": round(delta / 1e6, 3), "truncated": lost}
            if self.args.hexdump:
                rec["data_hex"] = buf.hex()
            else:
                rec["data"] = buf.decode("utf-8", "replace")
            self.out.row("", rec)
            return
        line = "%-12s %-18.9f %-16s %-7d %-6d" % (FUNCS[direction], t, comm, pid, length)
        if self.args.extra:
            line += " %-7d %-7d" % (uid, tid)
        if self.args.latency:
            line += " %-7s" % ("%.3f" % (delta / 1e6) if delta else "N/A")
        if not buf:
            self.out.row(line, {})
            return
        if self.args.hexdump:
            import textwrap
            text = textwrap.fill(buf.hex(), width=32)
        else:
            text = buf.decode("utf-8", "replace")
        end = "-" * 5 + (f" END DATA (TRUNCATED, {lost} bytes lost) " if lost
                         else " END DATA ") + "-" * 5
        self.out.row(f"{line}\n{'-' * 5} DATA {'-' * 5}\n{text}\n{end}\n", {})


def run(args, out: _common.Output) -> int:
    import pybpf

    _common.require_privileges("probing TLS libraries")
    if args.pid:
        libs = {k: v for k, v in mapped_libraries(args.pid).items() if getattr(args, k)}
    else:
        libs = system_libraries(args)
    for kind, path in args.extra_lib:
        if not os.path.exists(path):
            raise _not_found(f"--extra-lib {kind}:{path}: no such file")
        libs.setdefault(kind, []).append(path)
    if not libs:
        raise _not_found("no OpenSSL, GnuTLS or NSS library found" +
                         (f" in process {args.pid}" if args.pid else ""))
    consts = {"max_buf": args.max_buffer_size}
    if args.pid:
        consts["targ_pid"] = args.pid
    if args.uid is not None:
        consts["targ_uid"] = args.uid
    printer = Printer(args, out)
    data, identity = _common.package_object(HERE, "sslsniff")
    with pybpf.load(data, name="sslsniff", variables=consts, cache_key=identity) as obj:
        done = attach_all(obj, libs, args)
        if not done:
            raise _not_found("none of the TLS functions found in " +
                             ", ".join(p for v in libs.values() for p in v))
        _common.warn("sslsniff", f"probing {len(done)} functions in "
                     f"{len({d.rsplit(':', 1)[0] for d in done})} files")
        _run.stream("sslsniff", obj, printer.event, out, header=printer.header)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Signals, closed pipes and errors follow the ``pybpf`` command's conventions
    (tools/_common.run_main)."""
    args = parser().parse_args(argv)
    return run(args, _common.Output(sys.stdout, json_lines=args.json))
