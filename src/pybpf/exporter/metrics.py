"""Map metrics: read a BPF map (batch lookups) and write its counters or histograms in the
Prometheus text format.

Scrape cost is what matters here (a scrape of 10,000 series must stay well under 100 ms),
so each series' label text is decoded and escaped once, cached by the map key's bytes, and
the lines are formatted directly: prometheus-client's generic path builds a sample object
per series and costs several microseconds each (bench/bench_exporter.py measures both).
Its parser checks our output in the tests; its registry renders the health metrics.
"""

from __future__ import annotations

import struct

from .. import errors
from .._sys.uapi import MapType
from .config import MetricConf
from .errors import DecodeError, Skip, Unresolved
from .histogram import go_float

_SUPPORTED = {MapType.HASH, MapType.LRU_HASH, MapType.ARRAY, MapType.PERCPU_HASH,
              MapType.LRU_PERCPU_HASH, MapType.PERCPU_ARRAY}
_ARRAYS = {MapType.ARRAY, MapType.PERCPU_ARRAY}
_SKIP = object()      # the label set is filtered out by a decoder (regexp): not an error
_ERROR = object()     # a decoder failed on these bytes


def escape(value: str) -> str:
    """A label value as the text format quotes it."""
    if "\\" in value or "\n" in value or '"' in value:
        value = value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def help_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def check_map(conf: MetricConf, m) -> None:
    """Raise ConfigError (at the metric's path) if map ``m`` cannot back metric ``conf``."""
    from .errors import ConfigError
    if m.type not in _SUPPORTED:
        raise ConfigError(conf.path, f"map {conf.map!r} is a {_tname(m.type)} map; metrics "
                          "read hash, LRU hash and array maps (per-CPU too)")
    split = split_cpu(conf, m)
    if conf.labels and conf.key_size != (m.key_size + 2 if split else m.key_size) and \
            not (split and len(conf.labels) == 1 and m.key_size == 4):
        more = " plus the 2-byte cpu label" if split else ""
        raise ConfigError(f"{conf.path}.labels", f"the labels' sizes (with padding) add up to "
                          f"{conf.key_size} bytes but map {conf.map!r} has "
                          f"{m.key_size}-byte keys{more}")
    if m.value_size not in (4, 8):
        raise ConfigError(conf.path, f"map {conf.map!r} has {m.value_size}-byte values; "
                          "metrics need unsigned 4- or 8-byte (u32/u64) counts")


def split_cpu(conf: MetricConf, m) -> bool:
    """ebpf_exporter's per-CPU rule: a counter over a per-CPU map whose last label is a
    2-byte ``cpu`` gets one series per CPU (the CPU number is appended to the key); any
    other per-CPU map has its CPUs' values added up.  A one-slot map (a u32 key of 0) with
    ``cpu`` as its only label has that key left out."""
    return bool(m.percpu and conf.kind == "counter" and conf.labels and
                conf.labels[-1].name == "cpu" and conf.labels[-1].size == 2)


def _tname(t: int) -> str:
    try:
        return MapType(t).name.lower()
    except ValueError:
        return str(t)


class MapMetric:
    """One configured metric over one map.  ``render(out)`` appends its text to ``out``;
    the counts of the last render (series, entries, drops, decode errors) feed the health
    metrics."""

    def __init__(self, conf: MetricConf, m, program: str, zero_slots: bool = False):
        """``zero_slots``: as ebpf_exporter, show array slots holding zero, and ignore
        histogram indices that are neither a bucket nor the sum."""
        check_map(conf, m)
        self.conf, self.map, self.program = conf, m, program
        self.name = conf.name
        self.is_array = m.type in _ARRAYS
        self._skip_zero = self.is_array and not zero_slots
        if zero_slots and conf.buckets is not None:
            conf.buckets.ignore_others = True       # ebpf_exporter's histograms, too
        self.decode_errors = 0      # cumulative: entries whose key a decoder failed on
        self.dropped = 0            # cumulative: series left out over max_series
        self.series = 0             # last scrape
        self.entries = 0            # last scrape
        self._cache: dict[bytes, object] = {}
        self._cache_cap = max(2 * conf.max_series, 4096)
        self._value = _value_reader(m)
        self._counts = _chunk_reader(m)
        self._split = split_cpu(conf, m)
        # the one-slot case: the u32 key 0 is dropped, the label is the CPU alone
        self._drop_key = self._split and len(conf.labels) == 1 and m.key_size == 4
        self._batch = True
        self._chunk = max(1, min(m.max_entries, 65536))
        self._fields = []
        off = 0
        labels = conf.labels[:-1] if conf.kind == "histogram" else conf.labels
        for lb in labels:
            self._fields.append((lb.name, off, off + lb.size, lb.decode))
            off += lb.size + lb.padding
        self._group_end = off                       # histograms: where the bucket starts
        if conf.kind == "histogram":
            self._bucket_end = off + conf.labels[-1].size
            self._hcache: dict[str, tuple] = {}
        kind = "counter" if conf.kind == "counter" else "histogram"
        self._header = f"# HELP {self.name} {help_text(conf.help)}\n# TYPE {self.name} {kind}\n"

    # -- labels ---------------------------------------------------------------------------
    def _labels(self, key: bytes):
        """The label text for a key's bytes (cached), or _SKIP / _ERROR."""
        cache = self._cache
        if len(cache) >= self._cache_cap:
            cache.clear()          # keys come and go (LRU maps): never grow without bound
        keep = True
        parts = []
        try:
            for name, a, b, dec in self._fields:
                try:
                    v = dec(key[a:b])
                except Unresolved as u:         # shown now, decoded again next scrape
                    v, keep = u.text, False
                parts.append(f'{name}="{escape(v)}"')
            text = ",".join(parts)
        except Skip:
            text = _SKIP
        except (DecodeError, errors.PybpfError, ValueError, OSError, UnicodeError):
            text = _ERROR
        if keep:
            cache[key] = text
        return text

    # -- reading ----------------------------------------------------------------------------
    def _read(self):
        """The map's entries as chunks of (keys, counts): whole batch-lookup buffers decoded
        at once where the kernel has batch ops, else entry by entry."""
        if self._split:
            yield from self._read_per_cpu()
            return
        m = self.map
        if self._batch:
            ks, counts = m.key_size, self._counts
            try:
                for kraw, vraw, n in m.batch_chunks(self._chunk):
                    yield [kraw[i:i + ks] for i in range(0, n * ks, ks)], counts(vraw, n)
                return
            except errors.KernelError as e:
                if e.errno not in (22, 95, 524):   # no batch ops here: read one by one
                    raise
                self._batch = False
        value = self._value
        items = [(k, value(v)) for k, v in m.items_raw()]
        yield [k for k, _ in items], [v for _, v in items]

    def _read_per_cpu(self):
        """As _read, one entry per (key, CPU): the key with the CPU number appended as a
        little-endian u16 (ebpf_exporter's layout for a ``cpu`` label)."""
        m = self.map
        ks, c = m.key_size, m.ncpus
        code = "Q" if m.value_size == 8 else "I4x"
        cpus = [i.to_bytes(2, "little") for i in range(c)]
        drop, zero = self._drop_key, bytes(ks)

        def expand(kraws, flat):
            keys = []
            vals = []
            for i, k in enumerate(kraws):
                if drop:
                    if k != zero:
                        continue            # only slot 0 has a meaning here
                    k = b""
                keys.extend(k + cb for cb in cpus)
                vals.extend(flat[i * c:(i + 1) * c])
            return keys, vals
        try:
            for kraw, vraw, n in m.batch_chunks(self._chunk):
                flat = struct.unpack_from("<" + code * (n * c), vraw)
                yield expand([kraw[i:i + ks] for i in range(0, n * ks, ks)], flat)
            return
        except errors.KernelError as e:
            if e.errno not in (22, 95, 524):
                raise
        st = struct.Struct("<" + code * c)
        kraws, flat = [], []
        for k, v in m.items_raw():
            kraws.append(k)
            flat.extend(st.unpack_from(v))
        yield expand(kraws, flat)

    # -- rendering --------------------------------------------------------------------------
    def render(self, out: list) -> None:
        if self.conf.kind == "counter":
            self._render_counter(out)
        else:
            self._render_histogram(out)

    def _render_counter(self, out: list) -> None:
        cache, limit = self._cache, self.conf.max_series
        totals: dict[str, int] = {}
        dropped: set = set()
        errors_ = entries = 0
        whole = bool(self._fields)
        skip_zero = self._skip_zero
        for keys, vals in self._read():
            entries += len(keys)
            if not whole:
                keys = [b""] * len(keys)
            for k, val in zip(keys, vals):
                if skip_zero and not val:
                    continue
                lab = cache.get(k)
                if lab is None:
                    lab = self._labels(k)
                if lab.__class__ is not str:
                    if lab is _ERROR:
                        errors_ += 1
                    continue
                if lab in totals:
                    totals[lab] += val
                elif len(totals) < limit:
                    totals[lab] = val
                else:
                    dropped.add(lab)
        self.entries, self.series = entries, len(totals)
        self.decode_errors += errors_
        self.dropped += len(dropped)
        name = self.name
        out.append(self._header)
        out.extend([f"{name}{{{lab}}} {val}\n" if lab else f"{name} {val}\n"
                    for lab, val in totals.items()])

    def _render_histogram(self, out: list) -> None:
        cut, bend = self._group_end, self._bucket_end
        keep_zero = self.is_array
        groups: dict[bytes, dict[int, int]] = {}
        entries = 0
        from_bytes = int.from_bytes
        for keys, vals in self._read():
            entries += len(keys)
            for k, val in zip(keys, vals):
                if not val and not keep_zero:
                    continue
                g = k[:cut]
                idx = from_bytes(k[cut:bend], "little")
                d = groups.get(g)
                if d is None:
                    d = groups[g] = {}
                d[idx] = d.get(idx, 0) + val
        cache, limit = self._cache, self.conf.max_series
        merged: dict[str, dict[int, int]] = {}
        dropped: set = set()
        errors_ = 0
        for g, counts in groups.items():
            lab = cache.get(g)
            if lab is None:
                lab = self._labels(g)
            if lab.__class__ is not str:
                if lab is _ERROR:
                    errors_ += 1
                continue
            d = merged.get(lab)
            if d is None:
                if len(merged) >= limit:
                    dropped.add(lab)
                    continue
                merged[lab] = counts
            else:
                for i, n in counts.items():
                    d[i] = d.get(i, 0) + n
        self.entries, self.series = entries, len(merged)
        self.decode_errors += errors_
        self.dropped += len(dropped)
        out.append(self._header)
        buckets = self.conf.buckets
        hcache = self._hcache
        if len(hcache) >= self._cache_cap:
            hcache.clear()
        for lab, counts in merged.items():
            pre = hcache.get(lab)
            if pre is None:
                pre = hcache[lab] = self._prefixes(lab)
            bucket_pre, sum_pre, count_pre = pre
            cum, count, total = buckets.fold(counts)
            out.extend([p + str(c) + "\n" for p, c in zip(bucket_pre, cum)])
            out.append(f"{sum_pre}{_number(total)}\n{count_pre}{count}\n")

    def _prefixes(self, lab: str) -> tuple:
        n = self.name
        sep = "," if lab else ""
        bucket = [f'{n}_bucket{{{lab}{sep}le="{le}"}} ' for le in self.conf.buckets.le]
        tail = f"{{{lab}}} " if lab else " "
        return bucket, f"{n}_sum{tail}", f"{n}_count{tail}"


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) and abs(x) < 2 ** 53 else go_float(x)


def _chunk_reader(m):
    """(packed values, n) -> n counts (per-CPU slots summed), a whole chunk at once."""
    code = "Q" if m.value_size == 8 else "I4x" if m.percpu else "I"
    if not m.percpu:
        return lambda raw, n: struct.unpack_from(f"<{n}{code}", raw)
    c = m.ncpus
    if c == 1:
        return lambda raw, n: struct.unpack_from("<" + code * n, raw)

    def counts(raw, n):
        flat = struct.unpack_from("<" + code * (n * c), raw)
        if c == 2:
            return list(map(int.__add__, flat[0::2], flat[1::2]))
        return [sum(flat[i:i + c]) for i in range(0, n * c, c)]
    return counts


def _value_reader(m):
    """bytes of one map value -> its count (per-CPU slots summed)."""
    size = m.value_size
    if not m.percpu:
        return lambda v: int.from_bytes(v, "little")
    code = "Q" if size == 8 else "I4x"          # per-CPU slots are 8-byte aligned
    st = struct.Struct("<" + code * m.ncpus)
    unpack = st.unpack_from
    return lambda v: sum(unpack(v))
