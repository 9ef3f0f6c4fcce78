"""exporter: Prometheus exporter for eBPF maps (configs close to Cloudflare's ebpf_exporter).

``pybpf exporter --config exec,syscalls`` loads the built-in examples and serves
``http://127.0.0.1:9435/metrics``; ``--config my.yaml`` a config of your own
(docs/exporter.md describes the format).
"""

from __future__ import annotations

import sys

DEFAULT_LISTEN = "127.0.0.1:9435"

EXAMPLES = """examples:
    pybpf exporter --list                       # the built-in configs
    pybpf exporter --config exec                # exec() counts by command
    pybpf exporter --config exec,syscalls,tcp   # several at once
    pybpf exporter --config ./my.yaml --listen 0.0.0.0:9435
    pybpf exporter --config biolatency --once   # print one scrape and exit
    pybpf exporter --config.dir=/opt/ebpf_exporter/examples --config.names=timers,uprobe
                                                # as ebpf_exporter is started
"""


def parser():
    import argparse

    from ..tools import _common
    p = argparse.ArgumentParser(prog="pybpf exporter",
                                description="Prometheus exporter for eBPF maps",
                                formatter_class=_common.help_formatter(), epilog=EXAMPLES)
    p.add_argument("-c", "--config", action="append", default=[], metavar="CONFIG",
                   help="a built-in config's name or a YAML file; repeat or separate with "
                        "commas for several")
    p.add_argument("--config.dir", dest="config_dir", metavar="DIR",
                   help="ebpf_exporter's way: the directory of the configs named by "
                        "--config.names (each NAME.yaml with NAME.bpf.o beside it); "
                        "implies --ebpf-exporter-names")
    p.add_argument("--config.names", dest="config_names", action="append", default=[],
                   metavar="NAMES", help="comma-separated config names in --config.dir")
    p.add_argument("--config.check", dest="config_check", action="store_true",
                   help="load and attach every config, say whether all did, and exit")
    p.add_argument("--config.strict", dest="config_strict", action="store_true",
                   help="fail if any config cannot be loaded and attached (default with "
                        "several configs: leave it out and serve the others)")
    # more of ebpf_exporter's flags, so its command lines work as they are
    p.add_argument("--web.telemetry-path", dest="telemetry_path", default="/metrics",
                   help=argparse.SUPPRESS)
    for flag in ("--debug", "--log.no-timestamps"):
        p.add_argument(flag, action="store_true", help=argparse.SUPPRESS)
    for flag in ("--capabilities.keep", "--config.skip-cache-size", "--btf.path"):
        p.add_argument(flag, dest=flag[2:].replace(".", "_").replace("-", "_"),
                       help=argparse.SUPPRESS)
    p.add_argument("--ebpf-exporter-names", action="store_true",
                   help="name metrics and cgroups as ebpf_exporter does: metric names "
                        "prefixed 'ebpf_exporter_', cgroup labels as full paths")
    p.add_argument("--listen", "--web.listen-address", default=DEFAULT_LISTEN,
                   metavar="HOST:PORT",
                   help=f"where to serve /metrics (default {DEFAULT_LISTEN}; port 0: any "
                        "free port)")
    p.add_argument("--max-series", type=int, default=None, metavar="N",
                   help="default limit of series per metric (a metric's max_series wins)")
    p.add_argument("--bpf-stats", action="store_true",
                   help="have the kernel count program runs and run time while the "
                        "exporter runs (BPF_ENABLE_STATS), for the health metrics")
    p.add_argument("--once", action="store_true",
                   help="print one scrape on stdout and exit (no HTTP)")
    p.add_argument("--list", action="store_true", help="list the built-in configs")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="on a load failure, show the whole verifier log or compiler output")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from . import config
    if args.list:
        for name in config.builtin_names():
            print(f"{name:<12} {_first_comment(name)}")
        return 0
    files = [c for arg in args.config for c in arg.split(",") if c]
    names = [c for arg in args.config_names for c in arg.split(",") if c]
    if names and not args.config_dir:
        print("pybpf exporter: error: --config.names needs --config.dir", file=sys.stderr)
        return 2
    if args.config_dir:
        import os
        if not names:
            print("pybpf exporter: error: --config.dir needs --config.names (e.g. "
                  "--config.names=timers,uprobe)", file=sys.stderr)
            return 2
        files += [os.path.join(args.config_dir, n + ".yaml") for n in names]
        args.ebpf_exporter_names = True
    if args.telemetry_path != "/metrics":
        print("pybpf exporter: error: --web.telemetry-path: metrics are served at /metrics "
              "only", file=sys.stderr)
        return 2
    if args.btf_path:
        print("pybpf exporter: error: --btf.path: pybpf reads the running kernel's BTF "
              "(/sys/kernel/btf/vmlinux); another BTF file is not supported", file=sys.stderr)
        return 2
    if not files:
        print("pybpf exporter: error: give --config NAME_OR_FILE (--list shows the built-in "
              "ones)", file=sys.stderr)
        return 2
    from .server import parse_listen
    try:
        host, port = parse_listen(args.listen)
    except ValueError as e:
        print(f"pybpf exporter: error: {e}", file=sys.stderr)
        return 2
    if args.max_series is not None and args.max_series < 1:
        print("pybpf exporter: error: --max-series must be at least 1", file=sys.stderr)
        return 2
    return run(files, host, port, args)


def run(files, host: str, port: int, args) -> int:
    from .. import errors
    from ..tools import _common
    from .config import DEFAULT_MAX_SERIES
    from .core import Exporter
    from .programs import LoadError
    # one config that fails leaves the others serving, unless told to be strict
    keep_going = len(files) > 1 and not (args.config_strict or args.config_check)
    try:
        exporter = Exporter(files, max_series=args.max_series or DEFAULT_MAX_SERIES,
                            bpf_stats=args.bpf_stats, keep_going=keep_going,
                            ebpf_exporter_names=args.ebpf_exporter_names)
    except LoadError as e:
        print(f"pybpf exporter: error: {e}", file=sys.stderr)
        if args.verbose and e.detail:
            print(e.detail.rstrip(), file=sys.stderr)
        return 1
    except errors.PybpfError as e:
        for line in getattr(e, "failures", ()):
            print(f"pybpf exporter: error: {line}", file=sys.stderr)
        print(f"pybpf exporter: error: {e}", file=sys.stderr)
        return 1
    for line in exporter.failures:
        print(f"pybpf exporter: error: {line} (left out; the other configs are served)",
              file=sys.stderr)
    with exporter:
        if args.config_check:
            names = ", ".join(lp.name for lp in exporter.programs)
            print(f"pybpf exporter: every config loads and attaches ({names})",
                  file=sys.stderr)
            return 0
        if args.once:
            # a closed pipe (`... --once | head`) raises BrokenPipeError: pybpf's
            # run_main ends the command quietly with 141, as every command
            sys.stdout.buffer.write(exporter.scrape())
            sys.stdout.flush()
            return 0
        from .server import Server
        try:
            server = Server(exporter, host, port)
        except OSError as e:
            print(f"pybpf exporter: error: cannot listen on {host}:{port}: {e.strerror}",
                  file=sys.stderr)
            return 1
        with server:
            _common.stop_on_signals()
            progs = ", ".join(lp.name for lp in exporter.programs)
            print(f"pybpf exporter: serving {server.url} ({progs})", file=sys.stderr,
                  flush=True)
            try:
                server.serve_forever(poll_interval=0.5)
            except _common.Stop:
                pass
    return 0


def _first_comment(name: str) -> str:
    import os

    from .config import EXAMPLES_DIR
    try:
        with open(os.path.join(EXAMPLES_DIR, name + ".yaml")) as f:
            for line in f:
                if line.startswith("#"):
                    return line.lstrip("# ").rstrip()
    except OSError:
        pass
    return ""
