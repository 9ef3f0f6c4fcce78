"""Programs of a config: a .bpf.c compiled through the cache or a ready .bpf.o, globals set
before load, several programs at once; and each way of failing (verifier, compiler, an
unknown global, a missing map) as one line naming the config, the program and where."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from pybpf.exporter.core import Exporter
from pybpf.exporter.errors import ConfigError
from pybpf.exporter.programs import LoadError
from tests.exporter_helpers import SRC, samples, scratch_dir, value

pytestmark = pytest.mark.kernel

scratch = pytest.fixture(scratch_dir)

PROG = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pybpf_exporter.h"

const volatile __u32 weight = 1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pt_getppid SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int pt_count(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&pt_getppid, &zero);

	if (v && (bpf_get_current_pid_tgid() >> 32) == TARGET_PID)
		__sync_fetch_and_add(v, weight);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""

# adds past the end of the 8-byte map value: the verifier refuses, at BAD_LINE
BAD = PROG.replace("__sync_fetch_and_add(v, weight);", "__sync_fetch_and_add(v + 1, weight);")
BAD_LINE = next(i for i, ln in enumerate(BAD.splitlines(), 1) if "v + 1" in ln)

COUNTER = {"name": "pt_getppid_total", "map": "pt_getppid", "labels": []}


def load(cfg: str) -> None:
    """Exporter([cfg]), closed again if it unexpectedly loads."""
    Exporter([cfg]).close()


def load_all(cfgs) -> None:
    Exporter(cfgs).close()


def write_prog(d, name: str, text: str = PROG) -> str:
    path = d / f"{name}.bpf.c"
    path.write_text(text.replace("TARGET_PID", str(os.getpid())))
    return str(path)


def write_cfg(d, data, name="cfg.yaml") -> str:
    (d / name).write_text(yaml.safe_dump(data))
    return str(d / name)


def test_source_and_object_programs_with_globals(scratch):
    import pybpf
    src = write_prog(scratch, "one")
    obj = scratch / "two.bpf.o"
    from pybpf.exporter.config import EXAMPLES_DIR
    obj.write_bytes(pybpf.compile(src, includes=[EXAMPLES_DIR]))
    cfg = write_cfg(scratch, {"programs": [
        {"name": "one", "source": "one.bpf.c", "metrics": {"counters": [COUNTER]}},
        {"name": "two", "object": "two.bpf.o", "globals": {"weight": 10},
         "metrics": {"counters": [dict(COUNTER, name="pt_getppid_weighted_total")]}}]})
    with Exporter([cfg]) as ex:
        before = samples(ex.scrape().decode())
        for _ in range(4):
            os.getppid()
        after = samples(ex.scrape().decode())
    assert value(after, "pt_getppid_total") - value(before, "pt_getppid_total") == 4
    assert value(after, "pt_getppid_weighted_total") - \
        value(before, "pt_getppid_weighted_total") == 40


def test_verifier_rejection_names_program_and_c_line(scratch):
    write_prog(scratch, "bad", BAD)
    cfg = write_cfg(scratch, {"metrics": {"counters": [COUNTER]}}, "bad.yaml")
    with pytest.raises(LoadError) as e:
        load(cfg)
    msg = str(e.value)
    assert msg.startswith(f"{cfg}: program 'bad': ")
    assert "verifier rejected program 'pt_count'" in msg
    assert f"(__sync_fetch_and_add(v + 1, weight); @ bad.bpf.c:{BAD_LINE})" in msg, msg
    assert "outside of the allowed memory range" in msg
    assert "\n" not in msg
    assert "processed" in e.value.detail or "R0" in e.value.detail   # the log, for -v


def test_cli_verifier_error_is_one_line(scratch):
    write_prog(scratch, "bad", BAD)
    cfg = write_cfg(scratch, {"metrics": {"counters": [COUNTER]}}, "bad.yaml")
    r = subprocess.run([sys.executable, "-m", "pybpf", "exporter", "-c", cfg, "--once"],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=SRC))
    assert r.returncode == 1 and r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"pybpf exporter: error: {cfg}: program 'bad': ")
    assert "'pt_count'" in line and f"@ bad.bpf.c:{BAD_LINE})" in line


def test_compile_error_names_program_and_line(scratch):
    write_prog(scratch, "broken", PROG.replace("__u32 zero = 0;", "__u32 zero = 0"))
    cfg = write_cfg(scratch, {"metrics": {"counters": [COUNTER]}}, "broken.yaml")
    with pytest.raises(LoadError) as e:
        load(cfg)
    msg = str(e.value)
    assert msg.startswith(f"{cfg}: program 'broken': does not compile: ")
    line = next(i for i, ln in enumerate(PROG.splitlines(), 1) if "__u32 zero" in ln)
    assert f"broken.bpf.c:{line}:" in msg and "error:" in msg and "\n" not in msg


def test_unknown_global_and_missing_map(scratch):
    write_prog(scratch, "prog")
    cfg = write_cfg(scratch, {"globals": {"wieght": 2},
                               "metrics": {"counters": [COUNTER]}}, "prog.yaml")
    with pytest.raises(ConfigError) as e:
        load(cfg)
    assert str(e.value).startswith(f"{cfg}: globals.wieght: no global variable 'wieght'")
    cfg = write_cfg(scratch, {"metrics": {"counters": [dict(COUNTER, map="nope")]}},
                    "prog.yaml")
    with pytest.raises(ConfigError) as e:
        load(cfg)
    assert str(e.value) == f"{cfg}: metrics.counters[0].map: no map 'nope' in program " \
        "'prog' (maps: pt_getppid)"


def test_same_metric_in_two_configs(scratch):
    write_prog(scratch, "a")
    write_prog(scratch, "b")
    a = write_cfg(scratch, {"metrics": {"counters": [COUNTER]}}, "a.yaml")
    b = write_cfg(scratch, {"metrics": {"counters": [COUNTER]}}, "b.yaml")
    with pytest.raises(ConfigError, match=r"b.yaml: metrics.counters\[0\].name: metric "
                       r"'pt_getppid_total' is also defined in .*a.yaml"):
        load_all([a, b])


FULL = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pybpf_exporter.h"

__u32 next_key = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} pt_small SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int pt_fill(void *ctx)
{
	__u32 k;

	if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID)
		return 0;
	k = next_key++;          /* one thread of one process: no race */
	counter_add(&pt_small, &k, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""


def test_counts_a_full_map_could_not_store_are_reported(scratch):
    write_prog(scratch, "full", FULL)
    cfg = write_cfg(scratch, {"metrics": {"counters": [{
        "name": "pt_small_total", "map": "pt_small",
        "labels": [{"name": "k", "size": 4, "decoders": ["uint"]}]}]}}, "full.yaml")
    with Exporter([cfg]) as ex:
        for _ in range(5):
            os.getppid()
        s = samples(ex.scrape().decode())
    assert value(s, "pt_small_total", k="0") == 1 and value(s, "pt_small_total", k="1") == 1
    assert value(s, "pybpf_exporter_bpf_lost_total", program="full") == 3
    assert value(s, "pybpf_exporter_map_entries", program="full", map="pt_small") == 2
    assert value(s, "pybpf_exporter_map_max_entries", program="full", map="pt_small") == 2


def test_without_privileges_one_line_after_the_config_check(scratch):
    """With no capabilities (setpriv empties the bounding set), a bad config still gets its
    own error, and a good one a single line saying which privileges are missing."""
    drop = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"]
    env = dict(os.environ, PYTHONPATH=SRC)
    r = subprocess.run(drop + [sys.executable, "-m", "pybpf", "exporter", "-c", "exec",
                               "--once"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.splitlines() == [
        "pybpf exporter: error: loading the exporter's BPF programs: Operation not permitted "
        "(errno EPERM): needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN (run as root or "
        "grant the capability)"]
    write_prog(scratch, "prog")
    cfg = write_cfg(scratch, {"metrics": {"counters": [dict(COUNTER, max_series=0)]}},
                    "prog.yaml")
    r = subprocess.run(drop + [sys.executable, "-m", "pybpf", "exporter", "-c", cfg, "--once"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and r.stderr.splitlines() == [
        f"pybpf exporter: error: {cfg}: metrics.counters[0].max_series: max_series must be "
        "at least 1, not 0"]


def test_once_into_a_closed_pipe_ends_quietly():
    """``pybpf exporter --once`` writing to a pipe whose reader is gone ends with status 141,
    nothing on stderr (no 'Exception ignored' at the exit flush)."""
    cfg = os.path.join(SRC, "pybpf", "exporter", "examples", "syscalls.yaml")
    rfd, wfd = os.pipe()
    os.close(rfd)                       # the reader is gone before the first write
    try:
        r = subprocess.run([sys.executable, "-m", "pybpf", "exporter", "-c", cfg, "--once"],
                           stdout=wfd, stderr=subprocess.PIPE, text=True, timeout=60,
                           env=dict(os.environ, PYTHONPATH=SRC))
    finally:
        os.close(wfd)
    assert (r.returncode, r.stderr) == (141, "")
