"""Load a config's BPF programs (compiled through pybpf's cache, or ready objects), set
their globals, attach them, and pair each metric with its map.

Every failure becomes one :class:`LoadError` line naming the config file and program: a
verifier rejection names the function and the C line it stopped at.
"""

from __future__ import annotations

import os

from .. import errors
from .config import EXAMPLES_DIR, ProgramConf
from .errors import ConfigError
from .metrics import MapMetric


class LoadError(errors.PybpfError):
    """A program of the config could not be compiled, loaded or attached.  ``detail`` is
    more to show with --verbose (a verifier log, clang's diagnostics)."""

    def __init__(self, message: str, detail: str = ""):
        self.detail = detail
        super().__init__(message)


class LoadedProgram:
    """A config's program in the kernel, with its metrics; ``close()`` releases it."""

    def __init__(self, conf: ProgramConf, obj):
        self.conf, self.obj = conf, obj
        self.name = conf.name
        self.metrics: list[MapMetric] = []
        self.cgroup_map = None          # cgroupmap.CgroupIdMap, synced before each scrape

    def before_scrape(self) -> None:
        if self.cgroup_map is not None:
            self.cgroup_map.sync()

    def lost(self) -> int | None:
        """The program's pybpf_exporter_lost (None: it does not use pybpf_exporter.h)."""
        try:
            return int.from_bytes(self.obj.global_value("pybpf_exporter_lost"), "little")
        except (KeyError, errors.PybpfError):
            return None

    def close(self) -> None:
        for m in self.metrics:
            close = getattr(m, "close", None)    # perf event counters own their rings
            if close is not None:
                close()
        self.metrics = []
        if self.cgroup_map is not None:
            self.cgroup_map.close()          # its thread updates a map of this object
            self.cgroup_map = None
        self.obj.close()


def object_bytes(conf: ProgramConf) -> tuple[bytes, str | None]:
    """The program's ELF object and an identity naming its load plan (None: its hash)."""
    where = f"{conf.file}: program {conf.name!r}"
    try:
        if conf.bundled:
            from ..bundled import bundled_object
            stem = os.path.basename(conf.source)[:-len(".bpf.c")]
            return bundled_object(EXAMPLES_DIR, stem)
        if conf.source is not None:
            from ..toolchain import compile as compile_c
            return compile_c(conf.source, includes=[os.path.dirname(conf.source),
                                                    EXAMPLES_DIR]), None
        with open(conf.object, "rb") as f:
            return f.read(), None
    except errors.CompileError as e:
        first = e.diagnostics.strip().splitlines()
        line = next((ln for ln in first if "error:" in ln), first[0] if first else str(e))
        raise LoadError(f"{where}: does not compile: {line.strip()}", e.diagnostics) from None
    except OSError as e:
        raise LoadError(f"{where}: cannot read {conf.object}: {e.strerror}") from None


def kaddrs(names, where: str, kallsyms: str = "/proc/kallsyms") -> dict[str, int]:
    """ebpf_exporter's ``kaddrs``: each kernel symbol's address, as the global
    ``kaddr_<name>`` its program declares (``const volatile u64 kaddr_<name>``)."""
    want = set(names)
    found: dict[str, int] = {}
    try:
        with open(kallsyms) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2] in want and parts[2] not in found:
                    found[parts[2]] = int(parts[0], 16)
    except OSError as e:
        raise LoadError(f"{where}: kaddrs: cannot read {kallsyms}: {e.strerror}") from None
    missing = [n for n in names if n not in found]
    if missing:
        raise LoadError(f"{where}: kaddrs: no kernel symbol {missing[0]!r} in {kallsyms}")
    if not any(found.values()):
        raise LoadError(f"{where}: kaddrs: {kallsyms} shows no addresses (needs root and "
                        "kernel.kptr_restrict < 2)")
    return {f"kaddr_{n}": found[n] for n in names}


# ebpf_exporter calls a function of its own binary once its programs are attached, so
# that a program on this uprobe can set up a metric's first value
POST_ATTACH = b"uprobe//proc/self/exe:post_attach_mark"


def custom_sections(data: bytes) -> dict[str, tuple[str, str]]:
    """Programs whose SEC() follows ebpf_exporter's own handlers, not libbpf's:
    ``perf_event/type=T,config=C,frequency=F``, ``xdp/<interface>`` and its
    ``post_attach_mark`` uprobe.  Program name ->
    (the libbpf section to load it as, the text after the ``/``)."""
    if b"perf_event/" not in data and b"xdp/" not in data and POST_ATTACH not in data:
        return {}
    from ..object.spec import ObjectSpec
    out = {}
    for name, ps in ObjectSpec.from_bytes(data).programs.items():
        sec = ps.section or ""
        if sec.encode() == POST_ATTACH:
            out[name] = ("uprobe", "post_attach_mark")
            continue
        for kind in ("perf_event", "xdp"):
            if sec.startswith(kind + "/") and not sec.startswith(("xdp/devmap", "xdp/cpumap")):
                out[name] = (kind, sec[len(kind) + 1:])
    return out


def _perf_event_args(arg: str) -> dict:
    kw = {}
    for item in arg.split(","):
        k, sep, v = item.partition("=")
        if not sep or k not in ("type", "config", "frequency", "period"):
            raise ValueError(f"unknown perf_event item {item!r} (type=, config=, "
                             "frequency= or period=)")
        kw[{"frequency": "sample_freq", "period": "sample_period"}.get(k, k)] = int(v, 0)
    if "sample_freq" not in kw and "sample_period" not in kw:
        raise ValueError("perf_event needs frequency= or period=")
    return kw


def _post_attach_mark(prog) -> None:
    """Run a ``post_attach_mark`` program once, as ebpf_exporter does after attaching.
    pybpf's process has no such function: the program goes on libc's getpgrp() for this
    process alone, which is called once and detached again (the exporter never calls it
    otherwise)."""
    import ctypes

    from ..links import uprobe
    with uprobe.attach(prog, "libc.so.6", "getpgrp", pid=os.getpid()):
        ctypes.CDLL("libc.so.6").getpgrp()


def _attach_custom(obj, custom: dict) -> None:
    for pname, (kind, arg) in custom.items():
        prog = obj.programs[pname]
        if kind == "uprobe":
            _post_attach_mark(prog)
            continue
        if kind == "perf_event":
            from ..links import perf_event
            link = perf_event.attach(prog, **_perf_event_args(arg))
        else:
            from ..links import xdp
            link = xdp.attach(prog, arg)
        obj.links.append(link)


def load(conf: ProgramConf, ctx=None, ebpf_exporter_names: bool = False) -> LoadedProgram:
    """Compile/read, load, attach the program and bind its metrics to its maps
    (``ebpf_exporter_names``: array slots holding zero are shown, as there)."""
    import pybpf
    where = f"{conf.file}: program {conf.name!r}"
    data, identity = object_bytes(conf)
    variables = dict(conf.globals)
    if conf.kaddrs:
        variables.update(kaddrs(conf.kaddrs, where))
    try:
        custom = {} if conf.bundled else custom_sections(data)
    except errors.PybpfError as e:
        raise LoadError(f"{where}: not a usable BPF object: {_one_line(e)}") from None
    try:
        obj = pybpf.load(data, name=conf.name, variables=variables, cache_key=identity,
                         sections={n: k for n, (k, _) in custom.items()} or None)
    except errors.VerifierError as e:
        raise LoadError(f"{where}: {e.strerror}", e.log) from None
    except KeyError as e:
        msg = e.args[0] if e.args else str(e)
        name = next((k for k in conf.globals if repr(k) in str(msg)), None)
        path = f"{conf.path + '.' if conf.path else ''}globals"
        raise ConfigError(f"{path}.{name}" if name else path, str(msg), conf.file) from None
    except (TypeError, ValueError) as e:
        if isinstance(e, errors.PybpfError):
            raise LoadError(f"{where}: not a usable BPF object: {e}") from None
        path = f"{conf.path + '.' if conf.path else ''}globals"
        raise ConfigError(path, str(e), conf.file) from None
    except errors.PybpfError as e:
        raise LoadError(f"{where}: cannot load: {_one_line(e)}") from None
    lp = LoadedProgram(conf, obj)
    try:
        try:
            obj.attach()
            _attach_custom(obj, custom)
        except ValueError as e:
            raise LoadError(f"{where}: cannot attach: {_one_line(e)}") from None
        except errors.PybpfError as e:
            raise LoadError(f"{where}: cannot attach: {_one_line(e)}") from None
        if not obj.links:
            raise LoadError(f"{where}: no program attached (do its SEC() names say where, "
                            "e.g. SEC(\"tracepoint/sched/sched_process_exec\")?)")
        for mc in conf.metrics:
            m = obj.maps.get(mc.map)
            if m is None:
                known = ", ".join(sorted(k for k in obj.maps if not k.startswith(".")))
                raise ConfigError(f"{mc.path}.map" if mc.map != mc.raw_name else mc.path,
                                  f"no map {mc.map!r} in program {conf.name!r} (maps: "
                                  f"{known or 'none'})", conf.file)
            try:
                if mc.perf_event_array:
                    from .perfevents import PerfEventMetric
                    lp.metrics.append(PerfEventMetric(mc, m, conf.name))
                    continue
                lp.metrics.append(MapMetric(mc, m, conf.name, ebpf_exporter_names))
            except ConfigError as e:
                raise e.in_file(conf.file) from None
        cm = conf.cgroup_id_map
        if cm is not None:
            from .cgroupmap import CgroupIdMap
            m = obj.maps.get(cm.name)
            if m is None:
                raise ConfigError(f"{cm.path}.name", f"no map {cm.name!r} in program "
                                  f"{conf.name!r}", conf.file)
            root = ctx.cgroup_root() if ctx is not None else None
            try:
                lp.cgroup_map = CgroupIdMap(cm, m, root)
            except ConfigError as e:
                raise e.in_file(conf.file) from None
            lp.cgroup_map.sync(force=True)
            lp.cgroup_map.watch()
    except BaseException:
        lp.close()
        raise
    return lp


def _one_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
