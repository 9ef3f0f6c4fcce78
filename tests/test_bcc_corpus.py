"""bcc 0.26's own tools as a corpus: every C text they build (captured from the installed
/usr/sbin/*-bpfcc by tests/bcc_capture.py with the real bcc module, after the tools'
own FILTER/STORAGE substitutions) goes through pybpf's rewrite, kernel-read pass and
clang, and its programs load into the running kernel (nothing attaches)."""

from __future__ import annotations

import ast
import glob
import os
import subprocess
import sys

import pytest

from pybpf import errors
from pybpf.bcc import prelude, rewrite, tpformat

pytestmark = pytest.mark.kernel

INC = os.path.join(os.path.dirname(rewrite.__file__), "include")
HERE = os.path.dirname(os.path.abspath(__file__))

# What stops the others here, none of it the C front end's doing:
NOT_HERE = {
    "inject": "bpf_override_return needs CONFIG_BPF_KPROBE_OVERRIDE",
    # where nfs is loaded its types are in vmlinux's BTF or its own (bcc/modtypes.py)
    **({} if os.path.exists("/sys/kernel/btf/nfs") else
       {"nfsslower": "struct nfs_commit_data: no nfs in this kernel's or a module's BTF"}),
}
LOADS = set("""argdist bashreadline bindsnoop biolatency biolatpcts biopattern biosnoop biotop
bitesize cachestat capable compactsnoop cpudist cpuunclaimed dcsnoop dcstat dirtop execsnoop
exitsnoop filegone filelife fileslower filetop funccount funcinterval funclatency funcslower
gethostlatency hardirqs killsnoop klockstat llcstat mdflush memleak mountsnoop netqtop nfsdist
offcputime offwaketime oomkill opensnoop pidpersec ppchcalls profile readahead runqlat runqlen
runqslower shmsnoop slabratetop sofdsnoop softirqs solisten sslsniff stackcount statsnoop
syncsnoop syscount tcpaccept tcpcong tcpconnect tcpconnlat tcpdrop tcplife tcpretrans tcprtt
tcpstates tcpsubnet tcpsynbl tcptop tcptracer threadsnoop trace vfscount vfsstat virtiostat
wakeuptime xfsdist xfsslower zfsdist zfsslower""".split())


@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> dict[str, tuple[list[str], str]]:
    out = tmp_path_factory.mktemp("bcc-texts")
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "bcc_capture.py"), str(out)],
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=300, check=True)
    found = {}
    for path in sorted(glob.glob(os.path.join(out, "*.c"))):
        with open(path) as f:
            first, text = f.read().split("\n", 1)
        found[os.path.basename(path)[:-2]] = (ast.literal_eval(first.split(":", 1)[1]), text)
    return found


def _sections(rw) -> dict[str, str]:
    """Load-time types of the texts' generic functions, as the tools' load_func would."""
    out = {}
    for p in rw.probes.values():
        ct = p.ctx_type or ""
        if p.kind != "generic":
            continue
        if p.name == "do_perf_event":          # runqlen's, attached to a perf event
            out[p.name] = "perf_event"
        for word, sec in (("bpf_perf_event_data", "perf_event"), ("tracepoint__", "tracepoint"),
                          ("bpf_raw_tracepoint_args", "raw_tracepoint"),
                          ("__sk_buff", "socket"), ("void", "tracepoint")):
            if word in ct:
                out[p.name] = sec     # `void *ctx`: the captured funccount/stackcount
                break                 # runs attach them to tracepoints
    return out


def _rewrite(text: str):
    return rewrite.rewrite(text, bind=lambda k, t, s, r: rewrite.Binding("kprobe", t, s, r),
                           tp_struct=tpformat.struct_for)


@pytest.fixture(scope="module")
def built(texts) -> dict[str, tuple]:
    """name -> (cflags, rewrite, object against the full vmlinux.h) of every text either
    test below uses, or (cflags, None, the error): rewritten and compiled once for both."""
    from pybpf.cache import Cache
    # the full header made first, so every compile uses it (the cut one is test 2's)
    assert prelude.kernel_dir(Cache.default())[0] is not None
    out = {}
    for name, (cflags, text) in texts.items():
        if name in NOT_HERE and name not in LOADS:
            continue
        try:
            rw = _rewrite(text)
            out[name] = (cflags, rw, prelude.compile(rw.source, cflags, [INC], rw=rw))
        except errors.PybpfError as e:
            out[name] = (cflags, None, e)
    return out


def _load(rw, elf: bytes) -> int:
    from pybpf.object.loader import load
    from pybpf.object.spec import ObjectSpec
    secs = _sections(rw)
    # as the front end: the probes the object has (a text's #if can leave one out, and
    # load() refuses names it lacks)
    have = ObjectSpec.from_bytes(elf).programs
    progs = [n for n, p in rw.probes.items() if (p.kind != "generic" or n in secs)
             and n in have]
    obj = load(elf, name="corpus", programs=progs, sections=secs)
    try:
        return len(obj.programs)
    finally:
        obj.close()


def test_bcc_tools_c_texts_compile_and_load(texts, built):
    # kernel-specific tools (kvmexit: Intel only) may be absent, but nearly all are here
    assert len(texts) >= 75, sorted(texts)
    failed = {}
    for name in texts:
        if name in NOT_HERE:
            continue
        _, rw, elf = built[name]
        try:
            if rw is None:
                raise elf
            assert _load(rw, elf) > 0
        except (errors.PybpfError, AssertionError) as e:
            failed[name] = str(e).splitlines()[0][:300]
    expected = LOADS & set(texts)
    assert not (set(failed) & expected), failed
    assert len(expected) >= 70
    loaded = len(texts) - len(failed) - len(set(NOT_HERE) & set(texts))
    print(f"\n{loaded} of {len(texts)} bcc tool texts compile and load", file=sys.stderr)


def _code(elf: bytes) -> dict[str, bytes]:
    """Each executable section's instructions and each data section's bytes (not BTF:
    its type ids and order follow the header's)."""
    import io
    from elftools.elf.elffile import ELFFile
    out = {}
    for s in ELFFile(io.BytesIO(elf)).iter_sections():
        if s["sh_type"] == "SHT_PROGBITS" and not s.name.startswith(".BTF") \
                and not s.name.startswith(".debug"):
            out[s.name] = s.data()
        elif s["sh_type"] == "SHT_NOBITS":
            out[s.name] = s["sh_size"]
    return out


def test_cut_header_builds_the_same_code_as_the_full_one(built):
    # the first compile on a kernel uses a vmlinux.h cut to the program's types
    # (bcc/minihdr.py): every tool text must compile with it, without falling back, to
    # the very instructions and data the full vmlinux.h gives, and load
    from pybpf.cache import Cache
    cache = Cache.default()
    from concurrent.futures import ThreadPoolExecutor
    differ, failed = {}, {}
    names = [n for n in built if n in LOADS]
    for name in names:
        assert built[name][1] is not None, f"{name}: {built[name][2]}"

    def compile_cut(name):
        cflags, rw, _ = built[name]
        try:
            return prelude._compile_minimal(rw.source, cflags, [INC], rw, cache)
        except errors.PybpfError as e:
            return e
    # the texts are independent: compiled side by side (most of the time is clang's
    # and libclang's, outside the GIL)
    with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
        cuts = dict(zip(names, pool.map(compile_cut, names)))
    for name in names:
        cut, full = cuts[name], built[name][2]
        if isinstance(cut, errors.PybpfError):
            failed[name] = str(cut).splitlines()[0][:200] + " " + \
                getattr(cut, "diagnostics", "")[:300]
            continue
        a, b = _code(cut), _code(full)
        if a != b:
            differ[name] = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    assert not failed, failed
    assert not differ, differ
