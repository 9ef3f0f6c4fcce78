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

    def lost(self) -> int | None:
        """The program's pybpf_exporter_lost (None: it does not use pybpf_exporter.h)."""
        try:
            return int.from_bytes(self.obj.global_value("pybpf_exporter_lost"), "little")
        except (KeyError, errors.PybpfError):
            return None

    def close(self) -> None:
        self.metrics = []
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


def load(conf: ProgramConf) -> LoadedProgram:
    """Compile/read, load, attach the program and bind its metrics to its maps."""
    import pybpf
    where = f"{conf.file}: program {conf.name!r}"
    data, identity = object_bytes(conf)
    try:
        obj = pybpf.load(data, name=conf.name, variables=conf.globals,
                         cache_key=identity)
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
        except errors.PybpfError as e:
            raise LoadError(f"{where}: cannot attach: {_one_line(e)}") from None
        if not obj.links:
            raise LoadError(f"{where}: no program attached (do its SEC() names say where, "
                            "e.g. SEC(\"tracepoint/sched/sched_process_exec\")?)")
        for mc in conf.metrics:
            m = obj.maps.get(mc.map)
            if m is None:
                known = ", ".join(sorted(k for k in obj.maps if not k.startswith(".")))
                raise ConfigError(f"{mc.path}.map" if mc.map != mc.name else mc.path,
                                  f"no map {mc.map!r} in program {conf.name!r} (maps: "
                                  f"{known or 'none'})", conf.file)
            try:
                lp.metrics.append(MapMetric(mc, m, conf.name))
            except ConfigError as e:
                raise e.in_file(conf.file) from None
    except BaseException:
        lp.close()
        raise
    return lp


def _one_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
