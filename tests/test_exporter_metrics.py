"""Map metrics on real maps: batch reads rendered in the text format (checked with
prometheus-client's parser), per-CPU sums, merged label sets, decode errors, filters and
the series limit with its drop counter, and the health metrics."""

from __future__ import annotations

import struct

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pybpf.maps import Map
from pybpf._sys.uapi import MapType
from pybpf.exporter import config
from pybpf.exporter.decoders import Context
from pybpf.exporter.errors import ConfigError
from pybpf.exporter.metrics import MapMetric

pytestmark = pytest.mark.kernel


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def render(metric) -> str:
    out: list[str] = []
    metric.render(out)
    return "".join(out)


def counter_conf(labels, **kw):
    return config.metric("counter", dict({"name": "pt_x_total", "help": 'a "help"\nline',
                                          "labels": labels}, **kw),
                         "metrics.counters[0]", Context())


COMM_OP = [{"name": "comm", "size": 16, "decoders": ["string"]},
           {"name": "op", "size": 4,
            "decoders": ["uint", {"name": "static_map", "static_map": {0: "read",
                                                                          1: "write"}}]}]


def key(comm: bytes, op: int) -> bytes:
    return comm.ljust(16, b"\0") + struct.pack("<I", op)


def test_counter_series_and_values():
    with Map.create(MapType.HASH, 20, 8, 64, name="pt_exp_cnt") as m:
        m[key(b"bash", 0)] = 3
        m[key(b"bash", 1)] = 4
        m[key(b'we"ird\\', 0)] = 5
        mm = MapMetric(counter_conf(COMM_OP), m, "pt")
        fam = families(render(mm))["pt_x"]      # the parser drops _total from the family
        assert fam.type == "counter" and fam.documentation == 'a "help"\nline'
        got = {(s.labels["comm"], s.labels["op"]): s.value for s in fam.samples}
        assert got == {("bash", "read"): 3, ("bash", "write"): 4, ('we"ird\\', "read"): 5}
        assert (mm.series, mm.entries, mm.dropped, mm.decode_errors) == (3, 3, 0, 0)
        m[key(b"bash", 0)] = 10            # the next scrape reads the new value
        assert 'pt_x_total{comm="bash",op="read"} 10\n' in render(mm)


def test_keys_decoding_to_the_same_labels_are_summed():
    labels = [{"name": "comm", "size": 16, "decoders": ["string"]},
              {"name": "op", "size": 4, "decoders": ["uint", {
                  "name": "static_map", "static_map": {0: "rw", 1: "rw"}}]}]
    with Map.create(MapType.HASH, 20, 8, 64, name="pt_exp_sum") as m:
        m[key(b"a", 0)] = 1
        m[key(b"a", 1)] = 2
        text = render(MapMetric(counter_conf(labels), m, "pt"))
        assert text.count("pt_x_total{") == 1 and 'pt_x_total{comm="a",op="rw"} 3' in text


def test_percpu_values_are_summed_and_zero_array_slots_left_out():
    with Map.create(MapType.PERCPU_ARRAY, 4, 8, 4, name="pt_exp_pcpu") as m:
        ncpu = m.ncpus
        m[2] = [i + 1 for i in range(ncpu)]
        labels = [{"name": "slot", "size": 4, "decoders": ["uint"]}]
        text = render(MapMetric(counter_conf(labels), m, "pt"))
        assert text.splitlines()[2:] == [f'pt_x_total{{slot="2"}} {ncpu * (ncpu + 1) // 2}']


def test_no_labels_sums_everything():
    with Map.create(MapType.ARRAY, 4, 4, 3, name="pt_exp_all") as m:
        m[0], m[2] = 5, 6
        assert render(MapMetric(counter_conf([]), m, "pt")).splitlines()[2] == "pt_x_total 11"


def test_series_limit_drops_and_counts():
    labels = [{"name": "n", "size": 4, "decoders": ["uint"]}]
    with Map.create(MapType.HASH, 4, 8, 64, name="pt_exp_lim") as m:
        for i in range(10):
            m[i] = 1
        mm = MapMetric(counter_conf(labels, max_series=4), m, "pt")
        assert len(families(render(mm))["pt_x"].samples) == 4
        assert (mm.series, mm.dropped) == (4, 6)
        render(mm)
        assert mm.dropped == 12               # each scrape adds what it left out


def test_decode_errors_and_regexp_filter():
    labels = [{"name": "addr", "size": 4, "decoders": ["string", {
        "name": "regexp", "regexps": ["^keep"]}]}]
    with Map.create(MapType.HASH, 4, 8, 8, name="pt_exp_re") as m:
        m[b"keep"] = 1
        m[b"drop"] = 2
        mm = MapMetric(counter_conf(labels), m, "pt")
        text = render(mm)
        assert 'pt_x_total{addr="keep"} 1' in text and "drop" not in text
        assert mm.decode_errors == 0          # a filter is not an error
    labels = [{"name": "dns", "size": 4, "decoders": ["dname"]}]
    with Map.create(MapType.HASH, 4, 8, 8, name="pt_exp_err") as m:
        m[b"\x02ab\x00"] = 1
        m[b"\x3fab\x00"] = 1                  # a label longer than the key: malformed
        mm = MapMetric(counter_conf(labels), m, "pt")
        assert render(mm).splitlines()[2:] == ['pt_x_total{dns="ab"} 1']
        assert mm.decode_errors == 1
        render(mm)
        assert mm.decode_errors == 2


def test_histogram_from_a_hash_map():
    conf = config.metric("histogram", {
        "name": "pt_lat_seconds", "bucket_type": "exp2", "bucket_min": 0, "bucket_max": 3,
        "bucket_multiplier": 0.5,
        "labels": [{"name": "op", "size": 4, "padding": 4, "decoders": ["uint"]},
                   {"name": "bucket", "size": 8}]}, "metrics.histograms[0]", Context())
    with Map.create(MapType.HASH, 16, 8, 64, name="pt_exp_hist") as m:
        def k(op, b):
            return struct.pack("<IIQ", op, 0xdead, b)   # padding bytes are ignored
        m[k(1, 0)], m[k(1, 2)], m[k(1, 3)], m[k(1, 4)] = 2, 3, 1, 40   # 4: the sum
        m[k(2, 9)] = 1                                                 # past the range
        mm = MapMetric(conf, m, "pt")
        fam = families(render(mm))["pt_lat_seconds"]
        s = {(x.name, x.labels["op"], x.labels.get("le")): x.value for x in fam.samples}
        assert [s[("pt_lat_seconds_bucket", "1", le)] for le in
                ("0.5", "1.0", "2.0", "4.0", "+Inf")] == [2, 2, 5, 6, 6]
        assert s[("pt_lat_seconds_count", "1", None)] == 6
        assert s[("pt_lat_seconds_sum", "1", None)] == 20.0
        assert s[("pt_lat_seconds_bucket", "2", "4.0")] == 0
        assert s[("pt_lat_seconds_bucket", "2", "+Inf")] == 1
        assert mm.series == 2


def test_histogram_from_a_percpu_array_without_labels():
    conf = config.metric("histogram", {
        "name": "pt_h", "bucket_type": "linear", "bucket_min": 0, "bucket_max": 2,
        "labels": [{"name": "bucket", "size": 4}]}, "metrics.histograms[0]", Context())
    with Map.create(MapType.PERCPU_ARRAY, 4, 8, 4, name="pt_exp_harr") as m:
        m[1] = [1] * m.ncpus
        m[3] = [7] * m.ncpus                 # sum
        lines = render(MapMetric(conf, m, "pt")).splitlines()[2:]
        n = m.ncpus
        assert lines == ['pt_h_bucket{le="0.0"} 0', f'pt_h_bucket{{le="1.0"}} {n}',
                         f'pt_h_bucket{{le="2.0"}} {n}', f'pt_h_bucket{{le="+Inf"}} {n}',
                         f"pt_h_sum {7 * n}", f"pt_h_count {n}"]


def test_map_checks_name_the_metric():
    labels = [{"name": "n", "size": 4, "decoders": ["uint"]}]
    with Map.create(MapType.HASH, 8, 8, 4, name="pt_exp_bad") as m:
        with pytest.raises(ConfigError, match=r"^metrics.counters\[0\].labels: the labels' "
                           r"sizes \(with padding\) add up to 4 bytes but map 'pt_x_total' "
                           r"has 8-byte keys$"):
            MapMetric(counter_conf(labels), m, "pt")
    with Map.create(MapType.HASH, 4, 16, 4, name="pt_exp_bad2") as m:
        with pytest.raises(ConfigError, match="has 16-byte values; metrics need unsigned"):
            MapMetric(counter_conf(labels), m, "pt")
    with Map.create(MapType.QUEUE, 0, 8, 4, name="pt_exp_bad3") as m:
        with pytest.raises(ConfigError, match="is a queue map; metrics read hash"):
            MapMetric(counter_conf([]), m, "pt")


def test_unresolved_labels_are_shown_but_decoded_again(tmp_path):
    """A cgroup id unknown at one scrape (made after the exporter looked) is shown as
    unknown_cgroup_id:N, and by its path once it can be resolved."""
    import os
    ctx = Context(cgroup_root=str(tmp_path))
    conf = config.metric("counter", {"name": "pt_cg_total", "labels": [
        {"name": "cgroup", "size": 8, "decoders": ["cgroup"]}]}, "m", ctx)
    with Map.create(MapType.HASH, 8, 8, 4, name="pt_exp_cg") as m:
        mm = MapMetric(conf, m, "pt")
        (tmp_path / "a").mkdir()
        ino = os.stat(tmp_path / "a").st_ino
        ctx._cgroup_scanned = 1e18            # as if it had just looked: no new walk
        m[ino] = 1
        assert f'pt_cg_total{{cgroup="unknown_cgroup_id:{ino}"}} 1' in render(mm)
        ctx._cgroup_scanned = 0.0
        assert 'pt_cg_total{cgroup="/a"} 1' in render(mm)
