"""The exporter: load every configured program, and render all their metrics (plus the
health metrics) as one Prometheus text page per scrape."""

from __future__ import annotations

import time

from . import config, decoders, programs


class Exporter:
    """Configs in, programs loaded and attached; ``scrape()`` returns the page.  A context
    manager: ``close()`` detaches and frees everything (idempotent)."""

    def __init__(self, config_files, *, max_series: int = config.DEFAULT_MAX_SERIES,
                 bpf_stats: bool = False):
        self.ctx = decoders.Context()
        self.programs: list[programs.LoadedProgram] = []
        self.scrapes = 0
        self.maps_seconds = 0.0
        self.last_scrape_seconds = 0.0
        self._stats_fd = None
        confs = []
        seen: dict[str, str] = {}
        for f in config_files:
            for pc in config.load_file(config.resolve(f), self.ctx, max_series):
                for mc in pc.metrics:
                    if mc.name in seen:
                        from .errors import ConfigError
                        raise ConfigError(f"{mc.path}.name", f"metric {mc.name!r} is also "
                                          f"defined in {seen[mc.name]}", pc.file)
                    seen[mc.name] = pc.file
                confs.append(pc)
        names = [pc.name for pc in confs]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            from .errors import ConfigError
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
                self.programs.append(programs.load(pc))
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
        for lp in self.programs:
            for m in lp.metrics:
                m.render(out)
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
