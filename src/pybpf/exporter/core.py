"""The exporter: load every configured program, and render all their metrics (plus the
health metrics) as one Prometheus text page per scrape."""

from __future__ import annotations

import time

from . import config, decoders, programs


class Exporter:
    """Configs in, programs loaded and attached; ``scrape()`` returns the page.  A context
    manager: ``close()`` detaches and frees everything (idempotent)."""

    def __init__(self, config_files, *, max_series: int = config.DEFAULT_MAX_SERIES,
                 bpf_stats: bool = False, keep_going: bool = False,
                 ebpf_exporter_names: bool = False):
        """``keep_going``: a config that cannot be used or loaded is left out (its one-line
        error kept in ``failures``) and the others still serve; without it, the first
        failure raises.  ``ebpf_exporter_names``: name metrics and cgroups as
        ebpf_exporter does (an ``ebpf_exporter_`` prefix, full cgroup paths)."""
        self.ctx = decoders.Context(cgroup_full_paths=ebpf_exporter_names)
        self.ebpf_exporter_names = ebpf_exporter_names
        prefix = "ebpf_exporter_" if ebpf_exporter_names else ""
        self.failures: list[str] = []
        self.programs: list[programs.LoadedProgram] = []
        self.scrapes = 0
        self.maps_seconds = 0.0
        self.last_scrape_seconds = 0.0
        self._stats_fd = None
        confs = []
        seen: dict[str, str] = {}
        from .. import errors
        from .errors import ConfigError
        for f in config_files:
            try:
                pcs = config.load_file(config.resolve(f), self.ctx, max_series, prefix)
                for pc in pcs:
                    for mc in pc.metrics:
                        if mc.name in seen:
                            raise ConfigError(f"{mc.path}.name", f"metric {mc.name!r} is "
                                              f"also defined in {seen[mc.name]}", pc.file)
            except ConfigError as e:
                if not keep_going:
                    raise
                self.failures.append(str(e))
                continue
            for pc in pcs:
                for mc in pc.metrics:
                    seen[mc.name] = pc.file
                confs.append(pc)
        names = [pc.name for pc in confs]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise ConfigError("", f"two configs load a program named {dup!r}")
        # the configs are checked first (that needs no privilege), then nothing is compiled
        # or loaded without the capabilities tracing programs need
        from ..caps import require_bpf
        require_bpf("loading the exporter's BPF programs")
        try:
            if bpf_stats:
                from .health import enable_bpf_stats
                self._stats_fd = enable_bpf_stats()
            for pc in confs:
                try:
                    self.programs.append(programs.load(pc, self.ctx,
                                                       ebpf_exporter_names))
                except errors.PybpfError as e:
                    if not keep_going:
                        raise
                    self.failures.append(str(e))
            if not self.programs and self.failures:
                err = errors.PybpfError(f"none of the {len(self.failures)} configs could "
                                        "be used")
                err.failures = self.failures
                raise err
        except BaseException:
            self.close()
            raise
        from prometheus_client import CollectorRegistry
        from .health import HealthCollector
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(HealthCollector(self))

    @property
    def stats_enabled(self) -> bool:
        """Whether this exporter holds BPF stats on (--bpf-stats)."""
        return self._stats_fd is not None

    @property
    def metrics(self):
        return [m for lp in self.programs for m in lp.metrics]

    def render_maps(self) -> str:
        """The map metrics' text (timed for the health metrics)."""
        t0 = time.perf_counter()
        out: list[str] = []
        from .. import errors
        for lp in self.programs:
            try:
                lp.before_scrape()
            except (errors.PybpfError, OSError):
                pass                     # the cgroup id map is synced again next scrape
            for m in lp.metrics:
                part: list[str] = []
                try:
                    m.render(part)
                except (errors.PybpfError, OSError):
                    # one map that cannot be read leaves the others served (counted as
                    # a decode error of this metric, as ebpf_exporter counts it)
                    m.decode_errors += 1
                    continue
                out.extend(part)
        text = "".join(out)
        self.maps_seconds = time.perf_counter() - t0
        return text

    def scrape(self) -> bytes:
        """One /metrics page: the map metrics, then the health metrics."""
        from prometheus_client import generate_latest
        body = self.render_maps().encode()
        self.scrapes += 1
        return body + generate_latest(self.registry)

    def close(self) -> None:
        for lp in reversed(self.programs):
            lp.close()
        self.programs = []
        if self._stats_fd is not None:
            self._stats_fd.close()
            self._stats_fd = None

    def __enter__(self) -> "Exporter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
