"""pybpf's block I/O tools against dd reading a file with O_DIRECT in 64 KiB blocks:
exactly 20 reads of 65536 bytes by dd."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.toolrun import SRC, ToolRun

pytestmark = pytest.mark.kernel

N, BS = 20, 65536


@pytest.fixture
def data_file(disk_tmp):
    # on a real block device (conftest's disk_tmp: the attached disk in a guest)
    path = disk_tmp / "blocks"
    with open(path, "wb") as f:
        f.write(os.urandom(N * BS))
        f.flush()
        os.fsync(f.fileno())
    return str(path)


DD = f"ddmk{os.getpid() % 100000}"     # dd under a name of our own (its comm)


@pytest.fixture(scope="module")
def dd(tmp_path_factory):
    path = tmp_path_factory.mktemp("dd") / DD
    os.symlink(shutil.which("dd"), path)
    return str(path)


def _dd(path: str, dd: str = "dd") -> int:
    p = subprocess.Popen([dd, f"if={path}", "of=/dev/null", f"bs={BS}", f"count={N}",
                          "iflag=direct"], stderr=subprocess.DEVNULL)
    p.wait()
    assert p.returncode == 0
    return p.pid


def test_bitesize_counts_dd_reads_in_the_64k_bucket(data_file, dd):
    # dd's own binary and libraries in the page cache first: paging them in is block I/O
    # of this comm too (a 64 KiB readahead once counted as a 21st read on a fresh machine)
    subprocess.run([dd, "--version"], stdout=subprocess.DEVNULL, check=True)
    t = ToolRun("bitesize", "-c", DD, "--json", ready="Tracing block I/O")
    _dd(data_file, dd)
    t.stop()
    (rec,) = t.json()
    (h,) = rec["hists"]
    # the 20 direct reads, exactly; anything else this process read is smaller (the
    # file's metadata, and under memory pressure its own binary's pages paged back in)
    assert h["comm"] == DD and {"low": 64, "high": 127, "count": N} in h["buckets"]
    assert all(b["high"] < 64 for b in h["buckets"] if b["low"] != 64), h


def test_bitesize_charges_reads_issued_by_others_to_dd(data_file, dd, disk_tmp):
    """A writer keeps the disk's queue busy, so many of dd's reads are issued from another
    task's context (a kworker, the writer's own plug flush): each is still dd's.  Taking
    the issuer's comm, as libbpf-tools' bitesize does, charged 31-40 of these 60 to dd
    here, and some of the writer's I/O too."""
    subprocess.run([dd, "--version"], stdout=subprocess.DEVNULL, check=True)
    writer = subprocess.Popen(
        ["sh", "-c", f"while :; do dd if=/dev/zero of={disk_tmp}/load bs=1M count=64 "
         "oflag=direct 2>/dev/null; done"])
    try:
        t = ToolRun("bitesize", "-c", DD, "--json", ready="Tracing block I/O")
        for _ in range(3):
            _dd(data_file, dd)
        t.stop()
    finally:
        writer.kill()
        writer.wait()
        subprocess.run(["pkill", "-f", f"of={disk_tmp}/load"])
    (rec,) = t.json()
    (h,) = rec["hists"]
    assert {"low": 64, "high": 127, "count": 3 * N} in h["buckets"], h


# In the old guests: the request by the btf_trace_ typedef, and before 6.5 (no
# block_io_start) the submitter noted at insert or issue.  CI's 6.1 guest charged 16 of
# dd's 20 reads to another process, most likely through entries left by requests issued
# while the tool attached (see the two-step test below; rq_born in _blockwho.bpf.h).
@pytest.mark.old_kernels
def test_biosnoop_shows_each_read(data_file):
    t = ToolRun("biosnoop", "--json")
    t.wait_for('"comm":"dd"', trigger=lambda: _dd(data_file))
    pid = _dd(data_file)
    t.stop()
    recs = [r for r in t.json() if r["pid"] == pid]
    assert len(recs) == N, recs
    assert {(r["comm"], r["type"], r["bytes"]) for r in recs} == {("dd", "R", BS)}
    assert all(r["lat_ms"] >= 0 and r["disk"] for r in recs)
    # consecutive sectors: the file's 64 KiB blocks (128 sectors each), in order
    assert len({r["sector"] for r in recs}) == N


_BACKWARDS = f"""
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, {BS})
for i in reversed(range({N})):
    os.preadv(fd, [buf], i * {BS})
"""


@pytest.mark.every_kernel
def test_biosnoop_pattern_programs_load():
    """-P's code (dead, so unverified, without it) passes every kernel's verifier: 5.10's
    took no ring buffer record as a map key.  No I/O needed (so no guest disk)."""
    t = ToolRun("biosnoop", "-P", ready="LAT(ms)",
                timeout=300 if os.environ.get("PYBPF_IN_VM") == "1" else 60)
    assert t.out[0].split()[-2:] == ["P", "LAT(ms)"]
    t.stop(settle=0)


def test_biosnoop_pattern_sequential_and_random(data_file):
    """-P: each I/O is S when it starts where its disk's previous one ended, R when not,
    ? for a disk's first; dd reading forwards, then a reader going backwards."""
    t = ToolRun("biosnoop", "-P", "--json")
    t.wait_for('"comm":"dd"', trigger=lambda: _dd(data_file))
    fwd = _dd(data_file)
    back = subprocess.Popen([sys.executable, "-c", _BACKWARDS, data_file])
    assert back.wait() == 0
    t.stop()
    last, want, got, after = {}, [], [], []
    prev = {}
    for r in t.json():
        exp = "?" if r["disk"] not in last else "S" if last[r["disk"]] == r["sector"] else "R"
        last[r["disk"]] = r["sector"] + r["bytes"] // 512
        if r["bytes"] == BS and r["comm"] in ("dd", "python3", "python"):
            want.append((r["pid"], exp))
            got.append((r["pid"], r["pattern"]))
            after.append(prev.get(r["disk"]))
        prev[r["disk"]] = r["pid"]
    assert got == want
    fwd_p = [p for pid, p in got if pid == fwd]
    back_p = [p for pid, p in got if pid == back.pid]
    assert len(fwd_p) == N and len(back_p) == N, (
        len(fwd_p), len(back_p), t.err,
        [r for r in t.json() if r["pid"] in (fwd, back.pid) and r["bytes"] != BS])
    # the file's blocks lie in order on the disk: a dd read right after dd's previous one
    # on the disk follows it.  (Another process's I/O in between, a busy machine's
    # writer, makes it R, rightly: the pattern is the disk's.)
    fwd_s = [p for (pid, p), before in zip(got, after) if pid == before == fwd]
    back_s = [p for (pid, p), before in zip(got, after) if pid == before == back.pid]
    assert fwd_s.count("R") <= 2, fwd_s
    assert back_s.count("S") <= 1, back_s


def test_biolatency_per_flags_and_disk(data_file):
    t = ToolRun("biolatency", "-F", "-e", "--json", ready="Tracing block device I/O")
    _dd(data_file)
    t.stop()
    (rec,) = t.json()
    reads = sum(h["total"] for h in rec["hists"] if h["flags"].endswith("Read"))
    assert reads >= N
    # -e: every I/O histogrammed is in the totals
    assert rec["count"] == sum(h["total"] for h in rec["hists"]), rec
    assert rec["avg"] == rec["total"] // rec["count"]
    t = ToolRun("biolatency", "-D", "-e", ready="Tracing block device I/O")
    _dd(data_file)
    lines = t.stop()
    (ext,) = [ln for ln in lines if ln.startswith("avg = ")]
    counts = [int(ln.split(":")[1].split("|")[0]) for ln in lines if "->" in ln]
    assert re.fullmatch(r"avg = \d+ usecs, total: \d+ usecs, count: %d" % sum(counts), ext)
    disk = next(ln.split(" = ")[1] for ln in lines if ln.startswith("disk = "))
    assert os.path.exists(f"/sys/block/{disk}")
    assert "     usecs               : count     distribution" in lines


def test_biotop_row_for_dd(data_file):
    # an interval longer than any run: Ctrl-C reports the one interval, so dd's reads all
    # fall in it however slowly a loaded machine runs dd (a 5 s interval once ended
    # between its 19th and 20th read while three guests shared the CPUs)
    # -r: every row.  A busy machine has more than the default 20 processes doing I/O,
    # each with more than dd's (a writer loop's dd processes, 64 MiB each): dd's row,
    # rightly, was not among the top 20
    t = ToolRun("biotop", "-C", "-r", "100000", "--json", "600", "1", ready="Tracing...")
    pid = _dd(data_file)
    t.stop()
    (rec,) = t.json()
    (row,) = [r for r in rec["rows"] if r["pid"] == pid]
    assert row["comm"] == "dd" and row["d"] == "R" and row["io"] == N
    assert row["kbytes"] == N * BS // 1024


# A socket filter calling the block tools' own rq_issued()/rq_inserted() on a raw
# tracepoint's arguments (11, 22): it returns the one each picks.
_PICKS = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "_block.bpf.h"
SEC("socket") int picks(struct __sk_buff *skb)
{
    __u64 args[2] = {11, 22};       /* (the struct's args[] is a flexible array) */
    struct bpf_raw_tracepoint_args *a = (void *)args;

    return (int)(long)rq_issued(a) * 100 + (int)(long)rq_inserted(a);
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.parametrize("proto, picked", [
    # 5.11+: the request alone; before: the queue, then the request
    ("void *, struct request *", 1111),
    ("void *, struct request_queue *, struct request *", 2222),
])
def test_issue_and_insert_take_the_request_where_the_kernels_prototype_has_it(proto, picked):
    """Before 5.11 block_rq_issue and block_rq_insert passed the request_queue first: the
    tools take the request from where the kernel's btf_trace_ typedef puts it."""
    import pybpf
    from pybpf.tools import _common
    prog = pybpf.compile(_PICKS, includes=[os.path.dirname(_common.__file__)])
    target = pybpf.ObjectSpec.from_bytes(pybpf.compile(
        "struct request; struct request_queue;\n"
        "struct bpf_raw_tracepoint_args { unsigned long long args[0]; } args;\n"
        f"typedef void (*btf_trace_block_rq_issue)({proto});\n"
        f"typedef void (*btf_trace_block_rq_insert)({proto});\n"
        "btf_trace_block_rq_issue issue; btf_trace_block_rq_insert insert;\n")).btf
    with pybpf.load(prog, name="blk_picks", kernel_btf=target) as obj:
        assert obj.programs["picks"].test_run(b"\0" * 64).retval == picked
    # and the running kernel, by its own typedef's arity: the newer prototype came in 5.11
    # and went back to stable kernels (Debian 11's 5.10 has it), so not by release
    from pybpf.btf.kernel import load_vmlinux
    running = load_vmlinux()
    (typedef,) = running.find("btf_trace_block_rq_issue")
    proto = running[running[running.resolve(typedef)].type]
    with pybpf.load(prog, name="blk_picks") as obj:
        assert obj.programs["picks"].test_run(b"\0" * 64).retval == (
            1111 if len(proto.params) == 2 else 2222)


def test_biolatency_bcc_j_records(data_file):
    """bcc's -j (the sweep ran bcc's own example, ``biolatency -j``: unrecognized): no
    banner, a record per histogram with ts, val_type and bcc's buckets (1 up to the last
    counted, as interval-start/-end/count), "flags" with -F; each line parses as JSON."""
    import json
    t = ToolRun("biolatency", "-j", "-F")
    t.wait_links(3)             # no banner to wait for: its three block tracepoints
    _dd(data_file)
    lines = t.stop()
    recs = [json.loads(ln) for ln in lines if ln.strip()]
    assert lines[0] == "" and recs            # no banner: the report's blank line first
    assert all(set(r) == {"ts", "val_type", "data", "flags"} and r["val_type"] == "usecs"
               for r in recs)
    for r in recs:
        assert [(d["interval-start"], d["interval-end"]) for d in r["data"]] == \
            [(0, 1)] + [(1 << i, (1 << (i + 1)) - 1) for i in range(1, len(r["data"]))]
        assert r["data"][-1]["count"] > 0
    reads = sum(d["count"] for r in recs if r["flags"].endswith("Read") for d in r["data"])
    assert reads >= N
    both = subprocess.run([sys.executable, "-m", "pybpf", "biolatency", "-j", "--json"],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=SRC))
    assert both.returncode == 1 and both.stderr.count("\n") == 1 and "exclusive" in both.stderr


# A block tool as on a kernel without block_io_start (< 6.5), attached in two steps: the
# programs that note who submitted a request first, and once told (a line on stdin) the
# one that sees requests complete.  Requests issued in between leave entries no
# completion removes, as in a slow guest's start.  argv: the tool's command line.
_HALF_ATTACHED = """
import sys
from pybpf import cli
from pybpf.tools import _run

def attach_some(obj, optional=(), also=None):
    obj.attach(["rq_insert", "rq_issue"])
    print("half attached", file=sys.stderr, flush=True)
    sys.stdin.readline()
    obj.attach(["rq_complete"])
    print("all attached", file=sys.stderr, flush=True)

_run.attach_some = attach_some
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("tool", ["biosnoop", "biotop"])
def test_requests_issued_while_attaching_leave_no_submitter(data_file, tool):
    """Before 6.5 the submitter is noted at insert or issue, per request address, and the
    kernel reuses addresses.  A dd run while only those programs are attached leaves an
    entry at every address its requests took (more reads than the queue has tags).  The
    next dd's requests, at the same addresses, are its own.  The code before rq_born
    charged 0 of 20 to it here, and failed in the 6.1 guest too."""
    args = ["--json"] if tool == "biosnoop" else ["-C", "-r", "100000", "--json", "600", "1"]
    t = ToolRun(tool, stdin=subprocess.PIPE,
                argv=[sys.executable, "-c", _HALF_ATTACHED, tool, *args])
    t.wait_for("half attached")
    # one CPU, so one hardware queue's tags, every one of them taken at least once
    subprocess.run(["taskset", "-c", "0", "dd", f"if={data_file}", "of=/dev/null", "bs=4096",
                    "count=320", "iflag=direct"], stderr=subprocess.DEVNULL, check=True)
    t.p.stdin.write(b"\n")
    t.p.stdin.flush()
    t.wait_for("all attached")
    p = subprocess.Popen(["taskset", "-c", "0", "dd", f"if={data_file}", "of=/dev/null",
                          f"bs={BS}", f"count={N}", "iflag=direct"], stderr=subprocess.DEVNULL)
    assert p.wait() == 0
    t.stop()
    if tool == "biosnoop":
        recs = t.json()
        mine = [r for r in recs if r["pid"] == p.pid]
        others = [(r["pid"], r["comm"]) for r in recs if r["pid"] != p.pid]
        assert len(mine) == N, (len(mine), others[-40:])
        assert {r["bytes"] for r in mine} == {BS}
    else:
        (rec,) = t.json()
        rows = [r for r in rec["rows"] if r["pid"] == p.pid]
        assert [(r["io"], r["kbytes"]) for r in rows] == [(N, N * BS // 1024)], rec["rows"]
