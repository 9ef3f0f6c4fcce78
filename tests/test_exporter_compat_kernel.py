"""ebpf_exporter's layout on the kernel: ``--config.dir``/``--config.names`` with the
programs beside their configs, metric names prefixed ``ebpf_exporter_``, one failing config
leaving the others serving, and the features its examples use: per-CPU maps split by a
``cpu`` label, ``kaddrs``, ``cgroup_id_map``, ``perf_event/...`` and ``xdp/<iface>``
sections, USDT probes.  Each workload is one whose counts are known."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from pybpf.exporter.decoders import cgroup2_mount
from tests.exporter_helpers import SRC, ExporterProcess, samples, scratch_dir, value

pytestmark = pytest.mark.kernel

scratch = pytest.fixture(scratch_dir)

HEAD = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
"""

PERCPU = HEAD + r"""
const volatile __u32 target_pid = 0;

struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1);
	 __type(key, __u32); __type(value, __u64); } pt_getppid_per_cpu_total SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 8);
	 __type(key, __u32); __type(value, __u64); } pt_by_nr_per_cpu_total SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 8);
	 __type(key, __u32); __type(value, __u64); } pt_by_nr_total SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2);
	 __type(key, __u32); __type(value, __u64); } pt_never_total SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int count(void *ctx)
{
	__u32 zero = 0, nr = 110;
	__u64 one = 1, *v;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	v = bpf_map_lookup_elem(&pt_getppid_per_cpu_total, &zero);
	if (v)
		*v += 1;
	v = bpf_map_lookup_elem(&pt_by_nr_per_cpu_total, &nr);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&pt_by_nr_per_cpu_total, &nr, &one, BPF_ANY);
	v = bpf_map_lookup_elem(&pt_by_nr_total, &nr);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&pt_by_nr_total, &nr, &one, BPF_ANY);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""

PERCPU_YAML = """
globals: {target_pid: PID}
metrics:
  counters:
    - name: pt_getppid_per_cpu_total
      help: getppid calls of the test by CPU (a one-slot per-CPU array)
      labels:
        - {name: cpu, size: 2, decoders: [{name: uint}]}
    - name: pt_by_nr_per_cpu_total
      help: by syscall number and CPU
      labels:
        - {name: nr, size: 4, decoders: [{name: uint}]}
        - {name: cpu, size: 2, decoders: [{name: uint}]}
    - name: pt_by_nr_total
      help: by syscall number, the CPUs added up
      labels:
        - {name: nr, size: 4, decoders: [{name: uint}]}
    - name: pt_never_total
      help: an array nothing writes to
      labels:
        - {name: slot, size: 4, decoders: [{name: uint}]}
"""

KADDR = HEAD + r"""
const volatile __u64 kaddr_schedule = 0;
const volatile __u32 target_pid = 0;

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4);
	 __type(key, __u64); __type(value, __u64); } pt_kaddr_total SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);
	 __type(key, __u32); __type(value, __u64); } pt_initial_total SEC(".maps");

/* run once right after attaching, as ebpf_exporter does: a metric's first value */
SEC("uprobe//proc/self/exe:post_attach_mark")
int init(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&pt_initial_total, &zero);

	if (v)
		*v += 42;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int count(void *ctx)
{
	__u64 key = kaddr_schedule, one = 1, *v;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	v = bpf_map_lookup_elem(&pt_kaddr_total, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&pt_kaddr_total, &key, &one, BPF_NOEXIST);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""

KADDR_YAML = """
globals: {target_pid: PID}
kaddrs: [schedule]
metrics:
  counters:
    - name: pt_kaddr_total
      help: counted under the address the exporter passed in kaddr_schedule
      labels:
        - {name: function, size: 8, decoders: [{name: ksym}]}
    - name: pt_initial_total
      help: set once by the post_attach_mark program
      labels: []
"""

IDMAP = HEAD + r"""
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64);
	 __type(key, __u64); __type(value, __u64); } pt_ids SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024);
	 __type(key, __u64); __type(value, __u64); } pt_matched_total SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int count(void *ctx)
{
	__u64 cg = bpf_get_current_cgroup_id(), one = 1, *v;

	if (!bpf_map_lookup_elem(&pt_ids, &cg))
		return 0;
	v = bpf_map_lookup_elem(&pt_matched_total, &cg);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&pt_matched_total, &cg, &one, BPF_NOEXIST);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""

IDMAP_YAML = """
metrics:
  counters:
    - name: pt_matched_total
      help: getppid calls in cgroups the exporter put in pt_ids
      labels:
        - {name: cgroup, size: 8, decoders: [{name: uint}, {name: cgroup}]}
cgroup_id_map:
  name: pt_ids
  type: hash
  regexps: ['CGNAME/(late)?match$']
"""

# the same with a cgroup local storage map, which the exporter fills through cgroup fds
IDMAP_STORAGE = HEAD + r"""
#include <bpf/bpf_tracing.h>

struct { __uint(type, BPF_MAP_TYPE_CGRP_STORAGE); __uint(map_flags, BPF_F_NO_PREALLOC);
	 __type(key, int); __type(value, __u64); } pt_cg_ids SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024);
	 __type(key, __u64); __type(value, __u64); } pt_storage_matched_total SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 cg = bpf_get_current_cgroup_id(), one = 1, *v;

	if (id != 110)                              /* getppid on x86-64 */
		return 0;
	if (!bpf_cgrp_storage_get(&pt_cg_ids, task->cgroups->dfl_cgrp, 0, 0))
		return 0;
	v = bpf_map_lookup_elem(&pt_storage_matched_total, &cg);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&pt_storage_matched_total, &cg, &one, BPF_NOEXIST);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""

IDMAP_STORAGE_YAML = """
metrics:
  counters:
    - name: pt_storage_matched_total
      help: getppid calls in cgroups the exporter marked in pt_cg_ids
      labels:
        - {name: cgroup, size: 8, decoders: [{name: uint}, {name: cgroup}]}
cgroup_id_map:
  name: pt_cg_ids
  type: cgrp_storage
  regexps: ['CGNAME/match$']
"""

SECTIONS = HEAD + r"""
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);
	 __type(key, __u32); __type(value, __u64); } pt_samples_total SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64);
	 __type(key, __u16); __type(value, __u64); } pt_frames_total SEC(".maps");

SEC("perf_event/type=1,config=0,frequency=1000")
int on_sample(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&pt_samples_total, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

SEC("xdp/IFACE")
int on_frame(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u64 one = 1, *v;
	__u16 proto;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	proto = __builtin_bswap16(eth->h_proto);
	v = bpf_map_lookup_elem(&pt_frames_total, &proto);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&pt_frames_total, &proto, &one, BPF_NOEXIST);
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
"""

SECTIONS_YAML = """
metrics:
  counters:
    - name: pt_samples_total
      help: cpu-clock samples (a perf_event/ section)
      labels: []
    - name: pt_frames_total
      help: frames seen by XDP by ethertype (an xdp/<iface> section)
      labels:
        - {name: ethertype, size: 2, decoders: [{name: uint}, {name: static_map,
           static_map: {34997: local_experimental}}]}
"""

USDT = HEAD + r"""
#include <bpf/usdt.bpf.h>

struct mod { char name[64]; };
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 1024);
	 __type(key, struct mod); __type(value, __u64); } pt_imports_total SEC(".maps");

SEC("usdt/PYTHON:python:import__find__load__start")
int BPF_USDT(on_import, void *name)
{
	struct mod key = {};
	__u64 one = 1, *v;

	bpf_probe_read_user_str(key.name, sizeof(key.name), name);
	v = bpf_map_lookup_elem(&pt_imports_total, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&pt_imports_total, &key, &one, BPF_NOEXIST);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""

USDT_YAML = """
metrics:
  counters:
    - name: pt_imports_total
      help: Python module imports (a USDT probe)
      labels:
        - {name: module, size: 64, decoders: [{name: string}, {name: regexp,
           regexps: ['^(pt_marker_\\w+)$']}]}
"""

PERFARRAY = HEAD + r"""
const volatile __u32 target_pid = 0;

struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4);
	 __uint(value_size, 4); } pt_events_total SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int send(void *ctx)
{
	__u64 nr = 110;

	if ((bpf_get_current_pid_tgid() >> 32) == target_pid)
		bpf_perf_event_output(ctx, &pt_events_total, BPF_F_CURRENT_CPU, &nr, sizeof(nr));
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""

PERFARRAY_YAML = """
globals: {target_pid: PID}
metrics:
  counters:
    - name: pt_events_total
      help: getppid calls of the test, one perf event each
      perf_event_array: true
      flush_interval: 1h
      labels:
        - {name: nr, size: 8, decoders: [{name: uint}]}
"""

SPANS_YAML = """
tracing:
  spans:
    - name: exec
      ringbuf: exec_spans
"""


def _write(d, name, code, yaml_text, **subst):
    for k, v in subst.items():
        code, yaml_text = code.replace(k, v), yaml_text.replace(k, v)
    if code:
        (d / f"{name}.bpf.c").write_text(code)
    (d / f"{name}.yaml").write_text(yaml_text)


def _getppid_on(cpu: int, n: int) -> None:
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        for _ in range(n):
            os.getppid()
    finally:
        os.sched_setaffinity(0, old)


def _in_cgroup(procs: str, n: int) -> None:
    """A child that joins a cgroup, then calls getppid() n times."""
    pid = os.fork()
    if pid == 0:
        try:
            with open(procs, "w") as f:
                f.write("0")
            for _ in range(n):
                os.getppid()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


@pytest.fixture
def cgroups():
    root = cgroup2_mount()
    assert root, "cgroup v2 is not mounted"
    base = os.path.join(root, f"pt-idmap-{os.getpid()}")
    made = []
    try:
        for sub in ("", "match", "other"):
            made.append(os.path.join(base, sub) if sub else base)
            os.mkdir(made[-1])
        yield base
    finally:
        late = os.path.join(base, "latematch")      # made by the test, while it runs
        for d in [late] + made[::-1]:
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:           # the child's exit is still being accounted
                    time.sleep(0.1)


@pytest.fixture
def veth():
    a, b = f"ptx{os.getpid() % 100000}", f"pty{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
    try:
        for n in (a, b):
            subprocess.run(["ip", "link", "set", n, "up"], check=True)
        yield a, b
    finally:
        subprocess.run(["ip", "link", "del", a], check=False)


def test_ebpf_exporter_layout_and_features(scratch, cgroups, veth):
    pid = str(os.getpid())
    cgname = os.path.basename(cgroups)
    python = os.path.realpath(sys.executable)
    _write(scratch, "percpu", PERCPU, PERCPU_YAML, PID=pid)
    _write(scratch, "kaddr", KADDR, KADDR_YAML, PID=pid)
    _write(scratch, "idmap", IDMAP, IDMAP_YAML, CGNAME=cgname)
    _write(scratch, "idmapstorage", IDMAP_STORAGE, IDMAP_STORAGE_YAML, CGNAME=cgname)
    _write(scratch, "sections", SECTIONS, SECTIONS_YAML, IFACE=veth[0])
    _write(scratch, "usdt", USDT, USDT_YAML, PYTHON=python)
    _write(scratch, "spans", "", SPANS_YAML)
    _write(scratch, "perfarray", PERFARRAY, PERFARRAY_YAML, PID=pid)
    names = "percpu,kaddr,spans,idmap,idmapstorage,sections,usdt,perfarray"
    with ExporterProcess(f"--config.dir={scratch}", f"--config.names={names}") as ex:
        cpus = sorted(os.sched_getaffinity(0))
        _getppid_on(cpus[0], 7)
        if len(cpus) > 1:
            _getppid_on(cpus[1], 5)
        _in_cgroup(os.path.join(cgroups, "match", "cgroup.procs"), 11)
        _in_cgroup(os.path.join(cgroups, "other", "cgroup.procs"), 4)
        # a cgroup made while the exporter runs is in the map before it is scraped
        # (inotify wakes the exporter's watcher, as fanotify does ebpf_exporter)
        os.mkdir(os.path.join(cgroups, "latematch"))
        time.sleep(0.5)
        _in_cgroup(os.path.join(cgroups, "latematch", "cgroup.procs"), 6)
        # 9 frames of a local experimental ethertype into the XDP side of the veth pair
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind((veth[1], 0))
            for _ in range(9):
                s.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + bytes(50))
        mod = scratch / "pt_marker_mod.py"
        mod.write_text("")
        subprocess.run([python, "-c", "import pt_marker_mod"], check=True,
                       env=dict(os.environ, PYTHONPATH=str(scratch)))
        end = time.monotonic() + 0.3                   # cpu-clock samples at 1000 Hz
        while time.monotonic() < end:
            pass
        text = ex.text()
        s = samples(text)
        early = ex.early_lines
    p = "ebpf_exporter_"
    c0 = str(cpus[0])
    v = lambda metric, **lb: value(s, p + metric, **lb)   # noqa: E731
    assert v("pt_getppid_per_cpu_total", cpu=c0) == 7
    assert v("pt_by_nr_per_cpu_total", nr="110", cpu=c0) == 7
    if len(cpus) > 1:
        assert v("pt_getppid_per_cpu_total", cpu=str(cpus[1])) == 5
        assert v("pt_by_nr_per_cpu_total", nr="110", cpu=str(cpus[1])) == 5
    assert v("pt_by_nr_total", nr="110") == 7 + (5 if len(cpus) > 1 else 0)
    # array slots holding zero are shown, as ebpf_exporter shows them
    assert v("pt_never_total", slot="0") == 0 and v("pt_never_total", slot="1") == 0
    assert (p + "pt_never_total", (("slot", "1"),)) in s
    assert s[(p + "pt_initial_total", ())] == 42               # ran exactly once
    assert v("pt_kaddr_total", function="schedule") == 7 + (5 if len(cpus) > 1 else 0)
    # cgroup_id_map: only the matching cgroup was put in the map; labels are full paths
    assert v("pt_matched_total", cgroup=os.path.join(cgroups, "match")) == 11
    assert v("pt_matched_total", cgroup=os.path.join(cgroups, "latematch")) == 6
    assert not [k for k in s if k[0] == p + "pt_matched_total" and dict(k[1]).get("cgroup")
                not in (os.path.join(cgroups, "match"), os.path.join(cgroups, "latematch"))]
    assert v("pt_storage_matched_total", cgroup=os.path.join(cgroups, "match")) == 11
    assert not [k for k in s if k[0] == p + "pt_storage_matched_total" and
                dict(k[1]).get("cgroup") != os.path.join(cgroups, "match")]
    assert v("pt_frames_total", ethertype="local_experimental") == 9
    assert v("pt_imports_total", module="pt_marker_mod") == 1
    assert v("pt_samples_total") > 0
    assert v("pt_events_total", nr="110") == 7 + (5 if len(cpus) > 1 else 0)
    assert s[("dropped_perf_event_map_events_pt_events_total", ())] == 0
    # ebpf_exporter's own metrics, for dashboards made for it
    for n in ("percpu", "kaddr", "idmap", "idmapstorage", "sections", "usdt", "perfarray"):
        assert s.get((p + "enabled_configs", (("name", n),))) == 1
    assert (p + "enabled_configs", (("name", "spans"),)) not in s
    info = [dict(k[1]) for k in s if k[0] == p + "ebpf_program_info"]
    assert {(i["config"], i["program"]) for i in info} >= {("usdt", "on_import"),
                                                           ("sections", "on_frame")}
    assert all(v("ebpf_program_attached", id=i["id"]) == 1 for i in info)
    # what pybpf does not do (a tracing-only config) is one line; the rest is served
    [line] = early
    assert "spans.yaml: tracing: tracing spans" in line and "left out" in line
    r = subprocess.run([sys.executable, "-m", "pybpf", "exporter", f"--config.dir={scratch}",
                        "--config.names=spans,kaddr", "--once"], capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=SRC), timeout=120)
    assert r.returncode == 0, r.stderr
    [line] = r.stderr.splitlines()
    assert line.startswith(f"pybpf exporter: error: {scratch}/spans.yaml: tracing: tracing "
                           "spans") and line.endswith("(left out; the other configs are "
                                                      "served)")
    assert "# TYPE ebpf_exporter_pt_kaddr_total counter" in r.stdout


def test_a_map_that_cannot_be_read_leaves_the_others_served(scratch):
    from pybpf import errors
    from pybpf.exporter.core import Exporter
    _write(scratch, "percpu", PERCPU, PERCPU_YAML, PID=str(os.getpid()))
    with Exporter([str(scratch / "percpu.yaml")]) as ex:
        os.getppid()
        broken = ex.metrics[0]

        def fail(out):
            raise errors.KernelError(5, "BPF_MAP_LOOKUP_BATCH", "injected")
        broken.render = fail
        s = samples(ex.scrape().decode())
    assert not [k for k in s if k[0] == "pt_getppid_per_cpu_total"]
    assert value(s, "pt_by_nr_total", nr="110") == 1
    assert not [k for k in s if k[0] == "pt_never_total"]     # pybpf's names: zeros left out
    assert value(s, "pybpf_exporter_decode_errors_total",
                 metric="pt_getppid_per_cpu_total") == 1


def test_config_check_and_ebpf_exporter_flags(scratch):
    _write(scratch, "percpu", PERCPU, PERCPU_YAML, PID=str(os.getpid()))
    _write(scratch, "spans", "", SPANS_YAML)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "pybpf", "exporter",
                               f"--config.dir={scratch}", *args], capture_output=True,
                              text=True, env=dict(os.environ, PYTHONPATH=SRC), timeout=120)
    r = run("--config.names=percpu", "--config.check", "--capabilities.keep=none",
            "--debug", "--log.no-timestamps")
    assert r.returncode == 0 and r.stdout == ""
    assert r.stderr == "pybpf exporter: every config loads and attaches (percpu)\n"
    # --config.check and --config.strict: one config that fails fails the run
    for flag in ("--config.check", "--config.strict"):
        r = run("--config.names=percpu,spans", flag, "--once")
        assert r.returncode == 1 and r.stdout == ""
        [line] = r.stderr.splitlines()
        assert "spans.yaml: tracing: tracing spans" in line
