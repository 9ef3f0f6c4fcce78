"""Falco's modern_bpf probe (built from falcosecurity/libs outside this repository and linked
into one object with ``bpftool gen object``) loaded by libbpf and by pybpf, as Falco's own
loader (libpman) prepares it: outcome, translated instructions program by program, cold
load times.  The table and timing are bench_tetragon_objects.py's; this adds only what
libpman does before load.  As root, from the repository root:

    .venv/bin/python bench/bench_falco_objects.py --loader /path/to/libbpf_loader OBJ...
    .venv/bin/python bench/bench_falco_objects.py --loader /path/to/scapload probe.o

The legacy probe (driver/bpf, built with kbuild against kernel headers) is not libbpf's to
load (static entry programs, struct bpf_map_def): its oracle is bench/scap_legacy_loader.c,
which loads it as libscap did (``cc -O2 -o scapload scap_legacy_loader.c -lbpf -lelf``).
One kind of object per run (the maps sized are the first object's).

``--fresh-cache``: each pybpf load starts with an empty cache directory (a first load on
a machine: CO-RE resolved from scratch); by default CO-RE fixes cached by an earlier load
are reused, as a second start of a tool would.

What libpman does before load, done on both sides (libbpf: the loader's TETLOAD_* knobs;
pybpf: the spec):

- sizes the per-CPU maps (``auxiliary_maps``, ``counter_maps``) and the ring-buffer array
  (``ringbuf_maps``) to the possible CPUs, and gives the array a ring buffer of
  ``--ringbuf-bytes`` as its inner-map template (the object's template has no size);
- leaves one program per event: ``*_old_x`` fallbacks when bpf_loop exists, and for each
  ia32 TOCTOU pair the first whose kernel function has BTF (``__ia32_compat_sys_X`` before
  ``__ia32_sys_X``).

``.rodata`` settings keep the object's defaults on both sides (libpman fills event tables
there: the same on both sides, they change no comparison).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_tetragon_objects as T  # noqa: E402

SIZED = ("auxiliary_maps", "counter_maps", "ringbuf_maps",
         # the legacy probe's (driver/bpf, libscap): per-CPU state, scratch and perf maps
         "local_state_map", "frame_scratch_map", "tmp_scratch_map", "perf_map")
RINGBUF_ARRAY = "ringbuf_maps"
# libpman's events_prog_table.c: a fallback loaded only when the first choice cannot be
TTM_PAIRS = ("connect", "creat", "open", "openat", "openat2")
FALLBACKS = ("recvmmsg_old_x", "sendmmsg_old_x")


def possible_cpus() -> int:
    """The kernel's possible CPUs (what libbpf_num_possible_cpus reads): "0-3,6"."""
    with open("/sys/devices/system/cpu/possible") as f:
        n = 0
        for part in f.read().strip().split(","):
            lo, _, hi = part.partition("-")
            n += int(hi or lo) - int(lo) + 1
        return n


def falco_skip() -> tuple:
    """Programs libpman leaves out on this kernel."""
    from pybpf.btf.kernel import load_vmlinux
    from pybpf.btf.types import Kind
    vmlinux = load_vmlinux()
    skip = list(FALLBACKS)            # bpf_loop: every kernel pybpf runs on (5.17+) has it
    for sc in TTM_PAIRS:
        pair = (f"ia32_compat_{sc}_e", f"__ia32_compat_sys_{sc}"), (f"ia32_{sc}_e",
                                                                      f"__ia32_sys_{sc}")
        chosen = next((prog for prog, sym in pair if vmlinux.find(sym, Kind.FUNC)), None)
        skip += [prog for prog, _ in pair if prog != chosen]
    return tuple(skip)


def falco_fixups(ncpus: int, ringbuf_bytes: int):
    def fix(spec) -> None:
        for name in SIZED:
            if name in spec.maps:
                spec.maps[name].max_entries = ncpus
        if RINGBUF_ARRAY in spec.maps:
            spec.maps[RINGBUF_ARRAY].inner.max_entries = ringbuf_bytes
    return fix


def _fresh_cache(mine_time):
    """pybpf's first load on a machine: an empty cache directory per cold load (no CO-RE
    fixes remembered from the previous one)."""
    import shutil
    import tempfile

    def timed(*args):
        d = tempfile.mkdtemp(prefix="falco-bench-cache.")
        os.environ["XDG_CACHE_HOME"] = d
        try:
            return mine_time(*args)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return timed


def main(argv: list[str]) -> int:
    if "--fresh-cache" in argv:
        argv.remove("--fresh-cache")
        T.mine_time = _fresh_cache(T.mine_time)
    # a cold load's interpreter (--time-one) inherits the size through the loader's knob
    rb = int(os.environ.get("TETLOAD_INNER_RINGBUF", "").rpartition("=")[2] or 1 << 20)
    if "--ringbuf-bytes" in argv:
        i = argv.index("--ringbuf-bytes")
        rb = int(argv[i + 1])
        del argv[i:i + 2]
    ncpus = possible_cpus()
    T.FIXUPS.append(falco_fixups(ncpus, rb))
    T.SCRIPT = os.path.abspath(__file__)         # cold loads apply the same fix-ups
    # the loader refuses a map the object lacks: size those of the first object's kind
    import pybpf
    first = next((a for a in argv if a.endswith(".o") and os.path.isfile(a)), None)
    maps = pybpf.ObjectSpec.from_file(first).maps if first else {}
    os.environ["TETLOAD_MAX_ENTRIES"] = ",".join(f"{m}={ncpus}" for m in SIZED if m in maps)
    os.environ["TETLOAD_INNER_RINGBUF"] = f"{RINGBUF_ARRAY}={rb}" if RINGBUF_ARRAY in maps \
        else ""
    if "--skip" not in argv:
        argv = [*argv, "--skip", ",".join(falco_skip())]
    return T.main(argv)


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(lambda: main(sys.argv[1:]))
