"""Exporter configs: the built-in ones parse; each mistake is one error naming the path
into the config (no kernel needed)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from pybpf.exporter import config
from pybpf.exporter.decoders import Context
from pybpf.exporter.errors import ConfigError

GOOD = {
    "metrics": {
        "counters": [{
            "name": "x_total", "help": "x", "map": "m",
            "labels": [{"name": "comm", "size": 16, "decoders": [{"name": "string"}]},
                       {"name": "op", "size": 4,
                        "decoders": [{"name": "uint"},
                                     {"name": "static_map", "static_map": {0: "r"}}]}],
        }],
        "histograms": [{
            "name": "lat_seconds", "bucket_type": "exp2", "bucket_min": 0, "bucket_max": 26,
            "bucket_multiplier": 0.000001,
            "labels": [{"name": "dev", "size": 4, "decoders": [{"name": "majorminor"}]},
                       {"name": "bucket", "size": 8, "decoders": [{"name": "uint"}]}],
        }],
    },
}


@pytest.fixture
def cfgdir(tmp_path):
    (tmp_path / "prog.bpf.c").write_text("// placeholder\n")
    return tmp_path


def write(cfgdir, data) -> str:
    path = cfgdir / "prog.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return str(path)


def parse(cfgdir, data):
    return config.load_file(write(cfgdir, data), Context())


def error(cfgdir, data) -> str:
    with pytest.raises(ConfigError) as e:
        parse(cfgdir, data)
    text = str(e.value)
    assert text.startswith(str(cfgdir / "prog.yaml") + ": "), text
    assert "\n" not in text
    return text[len(str(cfgdir / "prog.yaml")) + 2:]


def mutate(path: str, value, delete=False):
    """GOOD with the item at ``path`` (a.b[0].c) replaced by ``value`` (or deleted)."""
    import copy
    import re
    data = copy.deepcopy(GOOD)
    parts = [p for p in re.split(r"\.|\[(\d+)\]", path) if p]
    node = data
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node[p]
    last = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if delete:
        del node[last]
    else:
        node[last] = value
    return data


def test_good_config(cfgdir):
    (prog,) = parse(cfgdir, GOOD)
    assert prog.name == "prog" and prog.source == str(cfgdir / "prog.bpf.c")
    assert not prog.bundled
    c, h = prog.metrics
    assert (c.kind, c.name, c.map, c.key_size) == ("counter", "x_total", "m", 20)
    assert c.labels[1].decode((1).to_bytes(4, "little")) == "unknown:1"
    assert c.labels[1].decode((0).to_bytes(4, "little")) == "r"
    assert (h.kind, h.map, h.key_size) == ("histogram", "lat_seconds", 12)
    assert h.buckets.le[0] == "1e-06"


@pytest.mark.parametrize("name", config.builtin_names())
def test_builtin_configs_parse(name):
    progs = config.load_file(config.resolve(name), Context())
    assert progs[0].bundled and progs[0].source.endswith(f"{name}.bpf.c")


def test_builtins_are_the_six_examples():
    assert set(config.builtin_names()) >= {"exec", "syscalls", "biolatency", "tcp",
                                           "runqlat", "oomkill"}


@pytest.mark.parametrize("path,value,message", [
    ("metrics.counters[0].labels[1].decoders[0].name", "foo",
     "metrics.counters[0].labels[1].decoders[0]: unknown decoder 'foo' (known: cgroup, "
     "dname, errno, hex, ifname, inet_ip, kstack, ksym, majorminor, pci_class, pci_device, "
     "pci_subclass, pci_vendor, regexp, static_map, string, syscall, uint)"),
    ("metrics.counters[0].labels[1].decoders[1].static_map", "nope",
     "metrics.counters[0].labels[1].decoders[1].static_map: static_map needs a mapping of "
     "values to labels (e.g. {0: read, 1: write})"),
    ("metrics.counters[0].labels[0].size", 0,
     "metrics.counters[0].labels[0].size: size must be at least 1, not 0"),
    ("metrics.counters[0].labels[0].size", "16",
     "metrics.counters[0].labels[0].size: size must be an integer, not '16'"),
    ("metrics.counters[0].labels[1].size", 3,
     "metrics.counters[0].labels[1].decoders[0]: uint decodes 1, 2, 4 or 8 bytes; "
     "the label has 3"),
    ("metrics.counters[0].labels[0].name", "bad-name",
     "metrics.counters[0].labels[0].name: 'bad-name' is not a Prometheus label name"),
    ("metrics.counters[0].labels[1].name", "comm",
     "metrics.counters[0].labels[1].name: label 'comm' appears twice"),
    ("metrics.counters[0].labels[0].decoders", [],
     "metrics.counters[0].labels[0].decoders: a label needs a non-empty list of decoders"),
    ("metrics.counters[0].labels[0].colour", "red",
     "metrics.counters[0].labels[0].colour: unknown key 'colour' (known: decoders, name, "
     "padding, size)"),
    ("metrics.counters[0].name", "9lives",
     "metrics.counters[0].name: '9lives' is not a Prometheus metric name"),
    ("metrics.counters[0].max_series", 0,
     "metrics.counters[0].max_series: max_series must be at least 1, not 0"),
    ("metrics.histograms[0].bucket_type", "log10",
     "metrics.histograms[0].bucket_type: unknown bucket_type 'log10' (exp2, exp2zero, linear or "
     "fixed)"),
    ("metrics.histograms[0].bucket_max", -1,
     "metrics.histograms[0].bucket_max: bucket_max must be at least 0, not -1"),
    ("metrics.histograms[0].bucket_min", 30,
     "metrics.histograms[0].bucket_max: bucket_max (26) is below bucket_min (30)"),
    ("metrics.histograms[0].bucket_multiplier", 0,
     "metrics.histograms[0].bucket_multiplier: bucket_multiplier must be a positive number, "
     "not 0"),
    ("metrics.histograms[0].bucket_multiplier", float("nan"),
     "metrics.histograms[0].bucket_multiplier: bucket_multiplier must be a positive number, "
     "not nan"),
    ("metrics.histograms[0].bucket_keys", [1, 2],
     "metrics.histograms[0].bucket_keys: bucket_keys is for fixed buckets"),
    ("metrics.histograms[0].labels[1].name", "slot",
     "metrics.histograms[0].labels: a histogram's last label is its bucket index: name it "
     "'bucket' (size 1, 2, 4 or 8)"),
    ("metrics.histograms[0].labels[1].size", 16,
     "metrics.histograms[0].labels[1].decoders[0]: uint decodes 1, 2, 4 or 8 bytes; "
     "the label has 16"),
    ("metrics.gauges", [],
     "metrics.gauges: unknown key 'gauges' (known: counters, histograms)"),
    ("source", "missing.bpf.c", None),
    ("globals", [1, 2], "globals: globals is a mapping of variable names to values"),
])
def test_bad_config_names_the_path(cfgdir, path, value, message):
    text = error(cfgdir, mutate(path, value))
    if message is None:
        assert text == f"source: no such file: {cfgdir / 'missing.bpf.c'}"
    else:
        assert text == message


def test_regexp_decoder_errors(cfgdir):
    dec = "metrics.counters[0].labels[0].decoders[0]"
    assert error(cfgdir, mutate(dec, {"name": "regexp"})) == \
        f"{dec}.regexps: regexp needs a non-empty list 'regexps'"
    assert error(cfgdir, mutate(dec, {"name": "regexp", "regexps": ["ok", "(unclosed"]})) \
        .startswith(f"{dec}.regexps[1]: bad regular expression '(unclosed': ")


def test_fixed_buckets(cfgdir):
    h = "metrics.histograms[0]"
    data = mutate(f"{h}.bucket_type", "fixed")
    assert error(cfgdir, data) == f"{h}.bucket_keys: a fixed histogram needs bucket_keys: " \
        "a list of non-negative integers"
    del data["metrics"]["histograms"][0]["bucket_min"]
    del data["metrics"]["histograms"][0]["bucket_max"]
    data["metrics"]["histograms"][0]["bucket_keys"] = [5, 3]
    assert error(cfgdir, data) == f"{h}.bucket_keys: bucket_keys must increase"
    data["metrics"]["histograms"][0]["bucket_keys"] = [1, 10, 100]
    (prog,) = parse(cfgdir, data)
    assert prog.metrics[1].buckets.keys == [1, 10, 100]


def test_shapes_and_whole_file_errors(cfgdir):
    assert error(cfgdir, "metrics: [unclosed\n").startswith("not valid YAML: line ")
    assert error(cfgdir, "- a\n- b\n") == \
        "a config is a mapping with 'metrics' (one program) or 'programs' (several)"
    assert error(cfgdir, {"programs": []}) == "programs: needs a non-empty list of programs"
    assert error(cfgdir, {"metrics": {}}) == "metrics: no counters or histograms"
    os.unlink(cfgdir / "prog.bpf.c")
    assert error(cfgdir, GOOD) == "metrics: no program: give 'source' or 'object', or put " \
        "prog.bpf.c beside the config"


def test_several_programs(cfgdir):
    (cfgdir / "b.bpf.o").write_bytes(b"")
    two = {"programs": [dict(GOOD, name="a", source="prog.bpf.c"),
                        {"name": "b", "object": "b.bpf.o", "globals": {"x": 1},
                         "metrics": {"counters": [{"name": "y_total", "labels": []}]}}]}
    a, b = parse(cfgdir, two)
    assert (a.name, b.name, b.object, b.globals) == ("a", "b", str(cfgdir / "b.bpf.o"),
                                                       {"x": 1})
    two["programs"][1]["metrics"]["counters"][0]["name"] = "x_total"
    assert error(cfgdir, two) == "programs[1].metrics.counters[0].name: metric 'x_total' " \
        "is defined twice (also at programs[0].metrics.counters[0])"
    two["programs"][1]["name"] = "a"
    assert error(cfgdir, two) == "programs[1]: program name 'a' is used twice"


def test_unknown_builtin():
    with pytest.raises(ConfigError, match="no built-in config 'nope' \\(built-in: "):
        config.resolve("nope")


def cli(*args):
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "src"))
    return subprocess.run([sys.executable, "-m", "pybpf", "exporter", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_cli_bad_config_is_one_line(cfgdir):
    path = write(cfgdir, mutate("metrics.counters[0].labels[1].decoders[0].name", "foo"))
    r = cli("--config", path, "--once")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.splitlines() == [
        f"pybpf exporter: error: {path}: metrics.counters[0].labels[1].decoders[0]: unknown "
        "decoder 'foo' (known: cgroup, dname, errno, hex, ifname, inet_ip, kstack, ksym, "
        "majorminor, pci_class, pci_device, pci_subclass, pci_vendor, regexp, static_map, "
        "string, syscall, uint)"]


def test_cli_bad_arguments():
    r = cli("--config", "exec", "--listen", "nowhere")
    assert r.returncode == 2 and r.stderr.strip() == \
        "pybpf exporter: error: --listen takes HOST:PORT, not 'nowhere'"
    r = cli()
    assert r.returncode == 2 and "give --config" in r.stderr and "Traceback" not in r.stderr
    r = cli("--list")
    assert r.returncode == 0 and r.stdout.split()[0] == "biolatency"


_scalars = st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | \
    st.floats(allow_nan=True) | st.text(max_size=12)
_yaml_like = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) |
                          st.dictionaries(st.text(max_size=10) | st.integers(), inner,
                                          max_size=4), max_leaves=20)
_PATHS = ["metrics", "metrics.counters", "metrics.counters[0]",
          "metrics.counters[0].name", "metrics.counters[0].labels",
          "metrics.counters[0].labels[0]", "metrics.counters[0].labels[0].size",
          "metrics.counters[0].labels[1].decoders", "metrics.counters[0].labels[1].decoders[1]",
          "metrics.counters[0].labels[1].decoders[1].static_map",
          "metrics.histograms[0].bucket_type", "metrics.histograms[0].bucket_min",
          "metrics.histograms[0].bucket_max", "metrics.histograms[0].bucket_multiplier",
          "metrics.histograms[0].labels", "metrics.histograms[0].labels[1]", "globals",
          "source", "name"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_PATHS), _yaml_like)
def test_fuzz_any_value_anywhere_is_a_config_error_or_fine(tmp_path_factory, path, value):
    d = tmp_path_factory.getbasetemp() / "fuzz"
    d.mkdir(exist_ok=True)
    (d / "prog.bpf.c").write_text("")
    try:
        config.parse(mutate(path, value), str(d / "prog.yaml"), Context())
    except ConfigError as e:
        assert str(e) and "\n" not in str(e)


@settings(max_examples=100, deadline=None)
@given(_yaml_like)
def test_fuzz_whole_documents(data):
    try:
        config.parse(data, "/nonexistent/prog.yaml", Context())
    except ConfigError:
        pass
