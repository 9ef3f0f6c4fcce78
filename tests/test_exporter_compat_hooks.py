"""ebpf_exporter configs whose programs use kprobes or fentry (most of its examples): loaded,
attached and counted where the kernel has the hook (the kernel-matrix guest), one clear
line naming the missing hook where it has not."""

from __future__ import annotations

import ctypes
import os

import pytest

from pybpf.exporter.core import Exporter
from pybpf.exporter.programs import LoadError
from tests.exporter_helpers import samples, scratch_dir, value
from tests.vm import hook_absent

pytestmark = pytest.mark.kernel

scratch = pytest.fixture(scratch_dir)

PROG = r"""#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16);
	 __type(key, __u32); __type(value, __u64); } pt_opens_total SEC(".maps");

SEC("HOOK/do_sys_openat2")
int count(void *ctx)
{
	__u32 key = 1;
	__u64 one = 1, *v;
	char comm[16];

	/* only the test's child: the exporter's own opens (imports, /proc) vary */
	bpf_get_current_comm(comm, sizeof(comm));
	if (__builtin_memcmp(comm, "pt-opens", 9))
		return 0;
	v = bpf_map_lookup_elem(&pt_opens_total, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&pt_opens_total, &key, &one, BPF_NOEXIST);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""

YAML = """
metrics:
  counters:
    - name: pt_opens_total
      help: openat() calls of the test
      labels:
        - {name: kind, size: 4, decoders: [{name: uint}, {name: static_map,
           static_map: {1: openat}}]}
"""


def _run(scratch, hook: str, absent: str) -> None:
    name = f"opens-{hook}"
    (scratch / f"{name}.bpf.c").write_text(PROG.replace("HOOK", hook))
    (scratch / f"{name}.yaml").write_text(YAML)
    try:
        ex = Exporter([str(scratch / f"{name}.yaml")], ebpf_exporter_names=True)
    except LoadError as e:
        assert str(e).startswith(f"{scratch}/{name}.yaml: program '{name}': cannot ")
        assert absent in str(e) and "\n" not in str(e)
        hook_absent()
        return
    with ex:
        pid = os.fork()
        if pid == 0:                      # a child named pt-opens opens a file 13 times
            try:
                ctypes.CDLL(None).prctl(15, b"pt-opens", 0, 0, 0)      # PR_SET_NAME
                for _ in range(13):
                    os.close(os.open("/etc/hostname", os.O_RDONLY))
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        s = samples(ex.scrape().decode())
    assert value(s, "ebpf_exporter_pt_opens_total", kind="openat") == 13


@pytest.mark.needs_hook("kprobe")
def test_kprobe_config(scratch):
    _run(scratch, "kprobe", "kprobes is not supported by this kernel")


@pytest.mark.needs_hook("fentry")
def test_fentry_config(scratch):
    _run(scratch, "fentry", "BPF trampolines")
