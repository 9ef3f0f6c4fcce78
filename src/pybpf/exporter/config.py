"""The exporter's YAML config: programs and the metrics their maps become, checked up front
so that a mistake is one error naming the path into the config.

Two shapes (docs/exporter.md):

- Cloudflare ebpf_exporter's: ``metrics: {counters: [...], histograms: [...]}`` at the top,
  the program beside the config as ``<config name>.bpf.c`` (or ``.bpf.o``);
- several programs in one file: ``programs: [{name, source | object, globals, metrics}]``.
"""

from __future__ import annotations

import os
import re

from . import decoders
from .errors import ConfigError
from .histogram import Buckets

EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
DEFAULT_MAX_SERIES = 20000

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")
_PROGRAM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class LabelConf:
    __slots__ = ("name", "size", "padding", "decode", "path", "decoders")

    def __init__(self, name, size, padding, decode, path, decoders):
        self.name, self.size, self.padding, self.decode = name, size, padding, decode
        self.path, self.decoders = path, decoders


class MetricConf:
    """One counter or histogram: which map, how its keys become labels."""

    def __init__(self, kind: str, name: str, help: str, map_name: str, labels: list,
                 max_series: int, path: str, buckets: Buckets | None = None):
        self.kind, self.name, self.help, self.map = kind, name, help, map_name
        self.labels, self.max_series, self.path, self.buckets = labels, max_series, path, \
            buckets
        self.raw_name = name               # the name as written (without a prefix)
        self.perf_event_array = False      # counted from a perf event array's events
        self.flush_interval = 3600.0       # ... which start over this often (seconds)

    @property
    def key_size(self) -> int:
        return sum(lb.size + lb.padding for lb in self.labels)


class ProgramConf:
    """One BPF program: where its code is, its globals, its metrics."""

    def __init__(self, name: str, file: str, path: str):
        self.name, self.file, self.path = name, file, path
        self.source: str | None = None     # a .bpf.c to compile
        self.object: str | None = None     # a ready .bpf.o
        self.bundled = False               # one of the package's examples
        self.globals: dict = {}
        self.kaddrs: list[str] = []        # kernel symbols passed as kaddr_<name> globals
        self.cgroup_id_map = None          # CgroupIdMapConf: a map the exporter fills
        self.metrics: list[MetricConf] = []


def builtin_names() -> list[str]:
    """The built-in example configs, by name."""
    try:
        return sorted(n[:-5] for n in os.listdir(EXAMPLES_DIR) if n.endswith(".yaml"))
    except OSError:
        return []


def resolve(spec: str) -> str:
    """A ``--config`` argument as a file: a built-in example's name, or a path."""
    if os.sep not in spec and not spec.endswith((".yaml", ".yml")):
        path = os.path.join(EXAMPLES_DIR, spec + ".yaml")
        if os.path.exists(path):
            return path
        raise ConfigError("", f"no built-in config {spec!r} (built-in: "
                          f"{', '.join(builtin_names())}; or give a path to a .yaml file)")
    return spec


def load_file(path: str, ctx: decoders.Context, max_series: int = DEFAULT_MAX_SERIES,
              prefix: str = "") -> list[ProgramConf]:
    """Parse and check one config file."""
    import yaml
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("", f"cannot read config: {e.strerror}", path) from None
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(e, "problem", None) or str(e)
        raise ConfigError("", f"not valid YAML: {where}{what}", path) from None
    try:
        return parse(data, path, ctx, max_series, prefix)
    except ConfigError as e:
        raise e.in_file(path) from None


def parse(data, file: str, ctx: decoders.Context, max_series: int = DEFAULT_MAX_SERIES,
          prefix: str = "") -> list[ProgramConf]:
    """Check a config's data (from YAML) and build the program configs.  ``prefix`` goes
    before every metric's name (ebpf_exporter's ``ebpf_exporter_``); maps keep theirs."""
    if not isinstance(data, dict):
        raise ConfigError("", "a config is a mapping with 'metrics' (one program) or "
                          "'programs' (several)")
    base = os.path.dirname(os.path.abspath(file)) if file else os.getcwd()
    stem = _stem(file) if file else "program"
    if "programs" in data:
        _only(data, {"programs"}, "")
        progs = data["programs"]
        if not isinstance(progs, list) or not progs:
            raise ConfigError("programs", "needs a non-empty list of programs")
        out = [_program(p, f"programs[{i}]", base, None, file, ctx, max_series, prefix)
               for i, p in enumerate(progs)]
    elif "metrics" in data:
        out = [_program(data, "", base, stem, file, ctx, max_series, prefix)]
    elif "tracing" in data:
        raise ConfigError("tracing", _NO_SPANS)
    else:
        raise ConfigError("", "a config needs 'metrics' (one program) or 'programs'")
    seen: dict[str, str] = {}
    names: dict[str, str] = {}
    for p in out:
        if p.name in names:
            raise ConfigError(p.path or "name", f"program name {p.name!r} is used twice")
        names[p.name] = p.path
        for m in p.metrics:
            if m.name in seen:
                raise ConfigError(f"{m.path}.name", f"metric {m.name!r} is defined twice "
                                  f"(also at {seen[m.name]})")
            seen[m.name] = m.path
    return out


_NO_SPANS = ("tracing spans (ebpf_exporter's OpenTelemetry 'tracing:' section) are not "
             "supported by pybpf exporter; only 'metrics:' (counters, histograms) are")


def _stem(file: str) -> str:
    """A config's name: its file name without ``.yaml`` (``cachestat-pre-kernel-5.16``)."""
    base = os.path.basename(file)
    for ext in (".yaml", ".yml"):
        if base.endswith(ext):
            return base[:-len(ext)]
    return base


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _key(k) -> str:
    """A mapping key as a step of an error's path (quoted unless plain)."""
    return k if isinstance(k, str) and _PLAIN_KEY.match(k) else repr(k)


def _only(d: dict, allowed: set, path: str) -> None:
    extra = [k for k in d if k not in allowed]
    if extra:
        raise ConfigError(_join(path, _key(extra[0])),
                          f"unknown key {extra[0]!r} (known: {', '.join(sorted(allowed))})")


def _program(d, path: str, base: str, stem: str | None, file: str, ctx, max_series,
             prefix: str = "") -> ProgramConf:
    if not isinstance(d, dict):
        raise ConfigError(path, "a program is a mapping (name, source or object, globals, "
                          "metrics)")
    _only(d, {"name", "source", "object", "globals", "metrics", "kaddrs", "cgroup_id_map",
              "tracing"}, path)
    tracing = d.get("tracing")
    if tracing and (not isinstance(tracing, dict) or tracing.get("spans")):
        raise ConfigError(_join(path, "tracing"), _NO_SPANS)
    name = d.get("name", stem)
    if not isinstance(name, str) or not _PROGRAM_NAME.match(name):
        raise ConfigError(_join(path, "name"), "a program needs a name of letters, digits, "
                          f"'_', '-' or '.' (got {name!r})")
    prog = ProgramConf(name, file, path)
    if "source" in d and "object" in d:
        raise ConfigError(path or "source", "give 'source' (.bpf.c) or 'object' (.bpf.o), "
                          "not both")
    for key in ("source", "object"):
        if key in d:
            v = d[key]
            if not isinstance(v, str) or not v:
                raise ConfigError(_join(path, key), f"{key} must be a file path")
            full = os.path.join(base, v)
            if not os.path.isfile(full):
                raise ConfigError(_join(path, key), f"no such file: {full}")
            setattr(prog, key, full)
    if prog.source is None and prog.object is None:
        for ext, key in ((".bpf.o", "object"), (".bpf.c", "source")):
            full = os.path.join(base, name + ext)
            if os.path.isfile(full):
                setattr(prog, key, full)
                break
        else:
            raise ConfigError(path or "metrics", f"no program: give 'source' or 'object', or "
                              f"put {name}.bpf.c beside the config")
    prog.bundled = prog.source is not None and \
        os.path.dirname(prog.source) == EXAMPLES_DIR
    g = d.get("globals", {}) or {}
    if not isinstance(g, dict):
        raise ConfigError(_join(path, "globals"), "globals is a mapping of variable names "
                          "to values")
    for k, v in g.items():
        if not isinstance(k, str) or not isinstance(v, (int, float, str, bool)):
            raise ConfigError(_join(path, f"globals.{_key(k)}"), "a global's value is a number, "
                              f"true/false or a string (got {v!r})")
    prog.globals = dict(g)
    kaddrs = d.get("kaddrs", []) or []
    if not isinstance(kaddrs, list) or not all(isinstance(k, str) and k for k in kaddrs):
        raise ConfigError(_join(path, "kaddrs"), "kaddrs is a list of kernel symbol names "
                          "(each is passed as the global 'kaddr_<name>')")
    prog.kaddrs = list(kaddrs)
    if d.get("cgroup_id_map"):
        from .cgroupmap import parse_conf
        prog.cgroup_id_map = parse_conf(d["cgroup_id_map"], _join(path, "cgroup_id_map"))
    metrics = d.get("metrics")
    mpath = _join(path, "metrics")
    if not isinstance(metrics, dict):
        raise ConfigError(mpath, "metrics is a mapping with 'counters' and/or 'histograms'")
    _only(metrics, {"counters", "histograms"}, mpath)
    for kind, key in (("counter", "counters"), ("histogram", "histograms")):
        items = metrics.get(key, []) or []
        if not isinstance(items, list):
            raise ConfigError(f"{mpath}.{key}", f"{key} is a list")
        for i, m in enumerate(items):
            prog.metrics.append(metric(kind, m, f"{mpath}.{key}[{i}]", ctx, max_series,
                                       prefix))
    if not prog.metrics:
        raise ConfigError(mpath, "no counters or histograms")
    return prog


_COMMON = {"name", "help", "table", "map", "labels", "max_series"}
_COUNTER = {"perf_event_array", "flush_interval"}     # ebpf_exporter's perf event counters
_HIST = {"bucket_type", "bucket_min", "bucket_max", "bucket_multiplier", "bucket_keys"}


def _int(d, key, path, default=None, minimum=None) -> int:
    v = d.get(key, default)
    if v is None:
        raise ConfigError(_join(path, key), f"{key} is required")
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(_join(path, key), f"{key} must be an integer, not {v!r}")
    if minimum is not None and v < minimum:
        raise ConfigError(_join(path, key), f"{key} must be at least {minimum}, not {v}")
    return v


def metric(kind: str, d, path: str, ctx, max_series: int = DEFAULT_MAX_SERIES,
           prefix: str = "") -> MetricConf:
    """Check one counter or histogram config (at ``path``) and build it."""
    if not isinstance(d, dict):
        raise ConfigError(path, f"a {kind} is a mapping (name, help, labels, ...)")
    _only(d, _COMMON | (_HIST if kind == "histogram" else _COUNTER), path)
    name = d.get("name")
    if not isinstance(name, str) or not _METRIC_NAME.match(prefix + str(name)):
        raise ConfigError(_join(path, "name"), f"{name!r} is not a Prometheus metric name")
    help_text = d.get("help", name)
    if not isinstance(help_text, str):
        raise ConfigError(_join(path, "help"), "help is text")
    map_name = d.get("map", d.get("table", name))     # ebpf_exporter: the map is the name
    raw_name, name = name, prefix + name
    perf = d.get("perf_event_array", False)
    if not isinstance(perf, bool):
        raise ConfigError(_join(path, "perf_event_array"), "perf_event_array is true or false")
    flush = 3600.0
    if "flush_interval" in d:
        from .perfevents import parse_duration
        flush = parse_duration(d["flush_interval"], _join(path, "flush_interval"))
    if not isinstance(map_name, str) or not map_name:
        raise ConfigError(_join(path, "map"), "map names a map of the program")
    limit = _int(d, "max_series", path, max_series, 1)
    labels_raw = d.get("labels", []) or []
    if not isinstance(labels_raw, list):
        raise ConfigError(_join(path, "labels"), "labels is a list")
    labels = []
    names = set()
    for i, lb in enumerate(labels_raw):
        lp = f"{path}.labels[{i}]"
        if not isinstance(lb, dict):
            raise ConfigError(lp, "a label is a mapping (name, size, decoders)")
        _only(lb, {"name", "size", "padding", "decoders"}, lp)
        ln = lb.get("name")
        if not isinstance(ln, str) or not _LABEL_NAME.match(ln) or ln.startswith("__"):
            raise ConfigError(f"{lp}.name", f"{ln!r} is not a Prometheus label name")
        if ln in names:
            raise ConfigError(f"{lp}.name", f"label {ln!r} appears twice")
        names.add(ln)
        size = _int(lb, "size", lp, None, 1)
        padding = _int(lb, "padding", lp, 0, 0)
        decs = lb.get("decoders")
        if decs is None and kind == "histogram" and i == len(labels_raw) - 1:
            decs = ["uint"]
        labels.append(LabelConf(ln, size, padding,
                                decoders.make_chain(decs, f"{lp}.decoders", size, ctx), lp,
                                decs))
    buckets = None
    if kind == "histogram":
        if not labels or labels[-1].name != "bucket":
            raise ConfigError(_join(path, "labels"), "a histogram's last label is its "
                              "bucket index: name it 'bucket' (size 1, 2, 4 or 8)")
        if labels[-1].size not in (1, 2, 4, 8):
            raise ConfigError(f"{labels[-1].path}.size", "the bucket label is an unsigned "
                              "integer of 1, 2, 4 or 8 bytes")
        if "le" in names:
            raise ConfigError(_join(path, "labels"), "'le' is the bucket bound's label in "
                              "Prometheus: use another name")
        buckets = _buckets(d, path)
    mc = MetricConf(kind, name, help_text, map_name, labels, limit, path, buckets)
    mc.raw_name, mc.perf_event_array, mc.flush_interval = raw_name, perf, flush
    return mc


def _buckets(d: dict, path: str) -> Buckets:
    btype = d.get("bucket_type")
    if btype not in ("exp2", "exp2zero", "linear", "fixed"):
        raise ConfigError(_join(path, "bucket_type"), f"unknown bucket_type {btype!r} "
                          "(exp2, exp2zero, linear or fixed)")
    mult = d.get("bucket_multiplier", 1)
    if isinstance(mult, bool) or not isinstance(mult, (int, float)) or not 0 < mult < 1e300:
        raise ConfigError(_join(path, "bucket_multiplier"), "bucket_multiplier must be a "
                          f"positive number, not {mult!r}")
    if btype == "fixed":
        keys = d.get("bucket_keys")
        # ebpf_exporter reads them as floats; a map's bucket index is an integer
        if not isinstance(keys, list) or not keys or not all(
                isinstance(k, (int, float)) and not isinstance(k, bool) and k >= 0 and
                float(k).is_integer() for k in keys):
            raise ConfigError(_join(path, "bucket_keys"), "a fixed histogram needs "
                              "bucket_keys: a list of non-negative integers")
        keys = [int(k) for k in keys]
        if any(a >= b for a, b in zip(keys, keys[1:])):
            raise ConfigError(_join(path, "bucket_keys"), "bucket_keys must increase")
        # bucket_min/bucket_max mean nothing here; ebpf_exporter ignores them too
        return Buckets("fixed", multiplier=float(mult), keys=keys)
    if "bucket_keys" in d:
        raise ConfigError(_join(path, "bucket_keys"), "bucket_keys is for fixed buckets")
    lo = _int(d, "bucket_min", path, 0, 0)
    hi = _int(d, "bucket_max", path, None, 0)
    if hi < lo:
        raise ConfigError(_join(path, "bucket_max"), f"bucket_max ({hi}) is below "
                          f"bucket_min ({lo})")
    if btype in ("exp2", "exp2zero") and hi > 64 - (btype == "exp2"):
        raise ConfigError(_join(path, "bucket_max"), "exp2 buckets go up to 2**63")
    if hi - lo > 4096:
        raise ConfigError(_join(path, "bucket_max"), "more than 4096 buckets")
    return Buckets(btype, lo, hi, float(mult))
