"""bcc's ``USDT`` context: which USDT probes of a process or binary run which functions.

``BPF(text=..., usdt_contexts=[u])`` compiles the text with libbpf's usdt.bpf.h (so
``bpf_usdt_readarg`` works), then attaches each enabled function to every site of its
probe with the site's argument spec in the object's spec map.
"""

from __future__ import annotations

import os

from .. import errors


class USDT:
    """Probes of one process (``pid``) or one binary or library (``path``)."""

    def __init__(self, pid=None, path=None):
        if pid is None and not path:
            raise errors.PybpfError("USDT() needs pid= or path=")
        self.pid = int(pid) if pid is not None else None
        self.path = path.decode() if isinstance(path, (bytes, bytearray)) else path
        # (function, binary, provider, name), resolved when enabled, as bcc does
        self.enabled: list[tuple[str, str, str, str]] = []

    def enable_probe(self, probe, fn_name) -> None:
        """Run BPF function ``fn_name`` at probe ``probe`` ("name" or "provider:name")."""
        probe = probe.decode() if isinstance(probe, (bytes, bytearray)) else str(probe)
        fn_name = fn_name.decode() if isinstance(fn_name, (bytes, bytearray)) else str(fn_name)
        # every binary of the process that has the probe (the executable and its
        # libraries may each carry it, as with bcc); a missing probe fails now
        for hit in self.find_all(probe):
            if (fn_name, *hit) not in self.enabled:
                self.enabled.append((fn_name, *hit))

    def enable_probe_or_bail(self, probe, fn_name) -> None:
        try:
            self.enable_probe(probe, fn_name)
        except errors.PybpfError as e:
            raise SystemExit(f"Error attaching USDT probes: {e}") from None

    def get_text(self) -> str:
        """bcc returns generated argument readers here; pybpf needs none."""
        return ""

    def enumerate_probes(self) -> list["ProbeInfo"]:
        """Every USDT probe of the process's binaries (or of the binary), as bcc lists
        them (``provider``, ``name``, ``bin_path`` as bytes, ``short_name()``)."""
        out, seen = [], set()
        for path, p in self._all_probes():
            if (path, p.provider, p.name) not in seen:
                seen.add((path, p.provider, p.name))
                out.append(ProbeInfo(p.provider, p.name, path, p.semaphore))
        return out

    def enumerate_active_probes(self) -> list[tuple[bytes, bytes, int, int]]:
        """(binary, function, file offset, pid) of every site of the enabled probes: tools
        that attach the sites themselves (ustat) pass these to attach_uprobe(addr=...),
        which also counts the site's semaphore."""
        from ..links import usdt
        out = []
        for fn_name, path, provider, name in self.enabled:
            for site in usdt.find(path, provider, name):
                out.append((path.encode(), fn_name.encode(), site.offset,
                            self.pid if self.pid is not None else -1))
        return out

    def get_probe_arg_ctype(self, probe_name, arg_index: int) -> str:
        """The C type of argument ``arg_index`` of a probe, from its size and sign."""
        from ..links import usdt
        probe = probe_name.decode() if isinstance(probe_name, bytes) else str(probe_name)
        path, provider, name = self.find(probe)
        site = usdt.find(path, provider, name)[0]
        arg = usdt.parse_args(site.args_spec)[arg_index]
        return f"{'' if arg.signed else 'u'}int{arg.size * 8}_t"

    def _all_probes(self):
        """(binary, probe) for every USDT probe of this context's binaries (a binary that
        cannot be read has none)."""
        from ..links import usdt
        for path in self._binaries():
            try:
                found = usdt.probes(path)
            except errors.PybpfError:
                continue
            for p in found:
                yield path, p

    def _binaries(self) -> list[str]:
        if self.path:
            from ..links import symbols
            return [symbols.resolve_path(self.path)]
        out = []
        try:
            out.append(os.readlink(f"/proc/{self.pid}/exe"))
        except OSError as e:
            raise errors.NotFoundError(e.errno or 3, "USDT",
                                       f"process {self.pid}: {e.strerror}") from None
        try:
            with open(f"/proc/{self.pid}/maps") as f:
                for line in f:
                    parts = line.split(None, 5)
                    if len(parts) == 6 and "x" in parts[1] and parts[5].startswith("/"):
                        p = parts[5].strip()
                        if p not in out:
                            out.append(p)
        except OSError:
            pass
        return out

    def find(self, probe: str) -> tuple[str, str, str]:
        """(binary, provider, name) of ``probe`` here (the first binary that has it)."""
        return self.find_all(probe)[0]

    def find_all(self, probe: str) -> list[tuple[str, str, str]]:
        """(binary, provider, name) of ``probe`` in each binary here that has it."""
        provider, _, name = probe.rpartition(":")
        out = []
        for path, p in self._all_probes():
            hit = (path, p.provider, p.name)
            if p.name == name and (not provider or p.provider == provider) and \
                    hit not in out:
                out.append(hit)
        if out:
            return out
        where = f"process {self.pid}" if self.pid is not None else self.path
        raise errors.NotFoundError(2, "USDT", f"no USDT probe {probe!r} in {where}")

    def attach(self, bpf) -> None:
        """Attach the enabled functions of ``bpf`` (called by BPF() after loading)."""
        from ..links import usdt
        spec_map = bpf._obj.maps.get(usdt.SPEC_MAP)
        for fn_name, path, provider, name in self.enabled:
            fn = bpf.load_func(fn_name, bpf.KPROBE)
            link = usdt.attach(fn.prog, path, provider, name,
                               pid=self.pid if self.pid is not None else -1,
                               spec_map=spec_map, spec_id=bpf._usdt_spec_ids)
            bpf._usdt_spec_ids += len(link.spec_ids)
            bpf._keep(("usdt", f"{provider}:{name}", fn_name), link)


class ProbeInfo:
    """One USDT probe as bcc's enumerate_probes() describes it."""

    def __init__(self, provider: str, name: str, path: str, semaphore: int):
        self.provider, self.name = provider.encode(), name.encode()
        self.bin_path, self.semaphore = path.encode(), semaphore

    def short_name(self) -> str:
        return f"{self.provider.decode()}:{self.name.decode()}"

    def __str__(self) -> str:
        return f"{self.short_name()} [sema 0x{self.semaphore:x}]"
