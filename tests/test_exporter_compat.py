"""Cloudflare ebpf_exporter's config features, root-free: exp2zero buckets, the errno,
ifname, kstack and pci_* decoders, regexp capture groups, kaddrs, cgroup_id_map and
perf_event/ sections, config names with dots, and one clear line for what pybpf does
not do (tracing spans)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from pybpf.exporter import config
from pybpf.exporter.decoders import Context, make_chain
from pybpf.exporter.errors import ConfigError, Skip
from pybpf.exporter.histogram import Buckets
from pybpf.exporter.pciids import PciIds
from pybpf.exporter.programs import LoadError, _perf_event_args, kaddrs
from pybpf.links.symbols import resolve_path
from tests.exporter_helpers import SRC


def chain(*decs, size=8, ctx=None):
    return make_chain([{"name": d} if isinstance(d, str) else d for d in decs], "d", size,
                      ctx or Context())


def test_exp2zero_buckets_start_at_zero():
    b = Buckets("exp2zero", 0, 4, 1.0)
    assert b.le == ["0.0", "1.0", "2.0", "4.0", "8.0", "+Inf"]
    cum, count, total = b.fold({0: 3, 1: 1, 4: 2, 5: 40})       # 5: the sum key
    assert cum == [3, 4, 4, 4, 6, 6] and count == 6 and total == 40
    assert Buckets("exp2zero", 0, 2, 0.001).le == ["0.0", "0.001", "0.002", "+Inf"]


def test_errno_names_as_go_does():
    f = chain("uint", "errno")
    assert f((2).to_bytes(8, "little")) == "ENOENT"
    assert f((95).to_bytes(8, "little")) == "EOPNOTSUPP"     # not Python's alias ENOTSUP
    assert f((11).to_bytes(8, "little")) == "EAGAIN"
    assert f((4000).to_bytes(8, "little")) == "unknown:4000"


def test_ifname():
    f = chain("ifname", size=4)
    assert f(socket.if_nametoindex("lo").to_bytes(4, "little")) == "lo"
    assert f((0x7fff0000).to_bytes(4, "little")) == f"unknown:{0x7fff0000}"


def test_kstack_resolves_each_frame(tmp_path):
    ks = tmp_path / "kallsyms"
    ks.write_text("ffffffff81000000 T alpha\nffffffff81000100 T beta\n"
                  "ffffffff81000200 T gamma\n")
    f = chain("kstack", size=32, ctx=Context(kallsyms=str(ks)))
    stack = [0xffffffff81000110, 0xffffffff81000004, 0x10, 0]
    assert f(b"".join(a.to_bytes(8, "little") for a in stack)) == "beta\nalpha\n??"
    with pytest.raises(ConfigError, match="kstack decodes 8-byte addresses"):
        chain("kstack", size=12)


def test_pci_names_from_pci_ids():
    db = PciIds("# comment\n8086  Intel Corporation\n\t1237  440FX\n\t\t1af4 1100  Qemu\n"
                "1af4  Red Hat, Inc.\nC 02  Network controller\n\t00  Ethernet controller\n"
                "\t\t00  prog-if\nC 03  Display controller\n")
    assert db.name("vendor", 0x8086) == "Intel Corporation"
    assert db.name("device", 0x8086 << 16 | 0x1237) == "440FX"
    assert db.name("device", 0x1af4 << 16 | 0x1100) == "unknown pci device: 0x1af41100"
    assert db.name("class", 2) == "Network controller"
    assert db.name("subclass", 0x0200) == "Ethernet controller"
    assert db.name("subclass", 0x0301) == "unknown pci subclass: 0x01 (class 0x03)"
    assert db.name("subclass", 0x0900) == "unknown pci class: 0x09"
    assert PciIds(None).name("vendor", 1) == "missing pci.ids db"
    # the decoders take the number as text after uint, as ebpf_exporter's pci.yaml does
    ctx = Context()
    ctx._pci = db
    assert chain("uint", "pci_vendor", size=4, ctx=ctx)((0x8086).to_bytes(4, "little")) == \
        "Intel Corporation"


def test_regexp_gives_the_capture_group_or_the_match():
    f = chain("string", {"name": "regexp", "regexps": ["^(kswapd).*$", "^(systemd.*)$",
                                                       "^a(b)(c)", "^.*$"]}, size=16)
    assert f(b"kswapd0\0") == "kswapd"
    assert f(b"systemd-udevd\0") == "systemd-udevd"
    assert f(b"abc\0") == "abc"                   # two groups: passed on to the next one
    g = chain("string", {"name": "regexp", "regexps": ["ngin."]}, size=16)
    assert g(b"x-nginx-1\0") == "nginx"
    with pytest.raises(Skip):
        g(b"bash\0")


def test_config_name_keeps_its_dots(tmp_path):
    (tmp_path / "cachestat-pre-kernel-5.16.bpf.c").write_text("")
    cfg = tmp_path / "cachestat-pre-kernel-5.16.yaml"
    cfg.write_text("metrics:\n  counters:\n    - name: c_total\n      help: h\n")
    [p] = config.load_file(str(cfg), Context())
    assert p.name == "cachestat-pre-kernel-5.16"
    assert p.source == str(tmp_path / "cachestat-pre-kernel-5.16.bpf.c")


def test_ebpf_exporter_prefix_keeps_the_map_name(tmp_path):
    (tmp_path / "t.bpf.c").write_text("")
    cfg = tmp_path / "t.yaml"
    cfg.write_text("metrics:\n  counters:\n    - name: timer_starts_total\n      help: h\n")
    [p] = config.load_file(str(cfg), Context(), prefix="ebpf_exporter_")
    assert p.metrics[0].name == "ebpf_exporter_timer_starts_total"
    assert p.metrics[0].map == "timer_starts_total"


@pytest.mark.parametrize("text,where,what", [
    ("tracing:\n  spans:\n    - name: exec\n      ringbuf: r\n", "tracing",
     "tracing spans"),
    ("metrics:\n  counters:\n    - name: oom_kills_total\n      help: h\n"
     "      perf_event_array: true\n      flush_interval: soon\n      labels: []\n",
     "metrics.counters[0].flush_interval", "a duration like 30s"),
    ("metrics:\n  counters: [{name: a, help: h}]\ncgroup_id_map:\n  name: m\n"
     "  type: bpf\n  regexps: [x]\n", "cgroup_id_map.type", "unknown type 'bpf'"),
    ("metrics:\n  counters: [{name: a, help: h}]\ncgroup_id_map:\n  name: m\n"
     "  regexps: ['(']\n", "cgroup_id_map.regexps[0]", "bad regular expression"),
    ("metrics:\n  counters: [{name: a, help: h}]\nkaddrs: 3\n", "kaddrs",
     "list of kernel symbol names"),
    ("metrics:\n  counters:\n    - {name: a, help: h, labels: [{name: pod, size: 8, "
     "decoders: [{name: kube_podname}]}]}\n", "metrics.counters[0].labels[0].decoders[0]",
     "'kube_podname' (Kubernetes pod and container names) is not supported"),
])
def test_unsupported_and_bad_ebpf_exporter_keys_are_one_line(tmp_path, text, where, what):
    (tmp_path / "x.bpf.c").write_text("")
    cfg = tmp_path / "x.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as e:
        config.load_file(str(cfg), Context())
    assert str(e.value).startswith(f"{cfg}: {where}: ") and what in str(e.value)
    assert "\n" not in str(e.value)


def test_kaddrs_from_kallsyms(tmp_path):
    ks = tmp_path / "kallsyms"
    ks.write_text("ffffffff81000000 T alpha\nffffffff81000100 D bpf_jit_current\n")
    assert kaddrs(["bpf_jit_current"], "w", str(ks)) == {"kaddr_bpf_jit_current":
                                                         0xffffffff81000100}
    with pytest.raises(LoadError, match="no kernel symbol 'nope'"):
        kaddrs(["alpha", "nope"], "w", str(ks))
    ks.write_text("0000000000000000 T alpha\n")           # kptr_restrict hides them
    with pytest.raises(LoadError, match="shows no addresses"):
        kaddrs(["alpha"], "w", str(ks))


def test_perf_event_section_arguments():
    assert _perf_event_args("type=0,config=3,frequency=1") == {"type": 0, "config": 3,
                                                               "sample_freq": 1}
    assert _perf_event_args("type=1,config=0,period=100000")["sample_period"] == 100000
    for bad in ("type=0,config=3", "type=0,colour=3,frequency=1", "type"):
        with pytest.raises(ValueError):
            _perf_event_args(bad)


def test_uprobe_binary_on_path_skips_wrapper_scripts(tmp_path, monkeypatch):
    shim = tmp_path / "true"
    shim.write_text("#!/bin/sh\nexec /usr/bin/true \"$@\"\n")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert resolve_path("true") == os.path.realpath("/usr/bin/true")


@pytest.mark.parametrize("args,msg", [
    (["--config.names=timers"], "--config.names needs --config.dir"),
    (["--config.dir=/tmp"], "--config.dir needs --config.names (e.g. "
                            "--config.names=timers,uprobe)"),
])
def test_config_dir_cli_errors(args, msg):
    r = subprocess.run([sys.executable, "-m", "pybpf", "exporter", *args],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=SRC))
    assert r.returncode == 2 and r.stderr.strip() == f"pybpf exporter: error: {msg}"


def test_flush_interval_durations():
    from pybpf.exporter.perfevents import parse_duration
    assert parse_duration("1h30m", "p") == 5400
    assert parse_duration("250ms", "p") == 0.25
    assert parse_duration(90, "p") == 90
    for bad in ("", "5 minutes", "0s", -1, True):
        with pytest.raises(ConfigError):
            parse_duration(bad, "p")


def test_fixed_keys_as_floats_and_min_max_ignored(tmp_path):
    (tmp_path / "f.bpf.c").write_text("")
    cfg = tmp_path / "f.yaml"
    cfg.write_text("metrics:\n  histograms:\n    - name: f_seconds\n      help: h\n"
                   "      bucket_type: fixed\n      bucket_keys: [1.0, 5, 10.0]\n"
                   "      bucket_min: 0\n      bucket_max: 3\n      labels:\n"
                   "        - {name: bucket, size: 8, decoders: [{name: uint}]}\n")
    [p] = config.load_file(str(cfg), Context())
    assert p.metrics[0].buckets.keys == [1, 5, 10]
    cfg.write_text(cfg.read_text().replace("5, 10.0", "5.5, 10.0"))
    with pytest.raises(ConfigError, match="non-negative integers"):
        config.load_file(str(cfg), Context())


@pytest.mark.parametrize("flag,msg", [
    ("--web.telemetry-path=/stats", "--web.telemetry-path: metrics are served at /metrics "
     "only"),
    ("--btf.path=/tmp/x.btf", "--btf.path: pybpf reads the running kernel's BTF "
     "(/sys/kernel/btf/vmlinux); another BTF file is not supported"),
])
def test_ebpf_exporter_flags_pybpf_cannot_honour(flag, msg):
    r = subprocess.run([sys.executable, "-m", "pybpf", "exporter", "--config.dir=/tmp",
                        "--config.names=x", flag], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=SRC))
    assert r.returncode == 2 and r.stderr == f"pybpf exporter: error: {msg}\n"


def test_ebpf_exporter_histograms_ignore_other_indices():
    b = Buckets("exp2", 2, 4, 1.0)
    counts = {0: 5, 2: 1, 3: 1, 4: 1, 5: 99, 9: 7}      # 5: the sum; 0 and 9: neither
    assert b.fold(counts) == ([6, 7, 8, 15], 15, 99)   # pybpf's way: counted at the edges
    b.ignore_others = True
    assert b.fold(counts) == ([1, 2, 3, 3], 3, 99)     # ebpf_exporter's way
