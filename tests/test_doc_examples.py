"""Every example in README.md and docs/*.md runs as written: each ```python block, and each
line of a ```sh block that starts with ``pybpf `` or ``.venv/bin/pybpf ``.

A block that needs something around it (an object it names, a PID, an ``obj`` already
loaded) says so in the Markdown, in an HTML comment on the line before it::

    <!-- doc-example: NAME ARGS -->         a setup below (SETUPS / SH_SETUPS) provides it
    <!-- doc-example: A ARGS; B ARGS -->    shell blocks: several setups
    <!-- doc-example: skip: WHY -->         not runnable here, and why

``sigint`` runs a Python block as a script until Ctrl-C; ``trampolines`` after a Python
setup and the ``missing-hook-ok`` shell setup accept, where this kernel lacks the hook,
one error line saying so.  A block with no comment must run as it stands.  Everything runs in a fresh network
namespace whose ``eth0`` is one end of a veth pair, so the examples' ``eth0``, ``lo`` and
ports are the test's own.  Tools that run until Ctrl-C get a short while, a workload,
then SIGINT, and must exit 0 having printed something.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import signal
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYBPF = [sys.executable, "-m", "pybpf"]

_BLOCK = re.compile(r"(?:<!--\s*doc-example:\s*(?P<tag>.*?)\s*-->\n)?"
                    r"^```(?P<lang>python|sh)\n(?P<body>.*?)^```", re.S | re.M)


def _blocks():
    """(id, lang, tag, body) of every python block and every pybpf line of a sh block."""
    out = []
    for doc in DOCS:
        text = doc.read_text()
        for m in _BLOCK.finditer(text):
            line = text.count("\n", 0, m.start("body")) + 1
            tag = m.group("tag") or ""
            if m.group("lang") == "python":
                out.append((f"{doc.name}:{line}", "python", tag, m.group("body")))
                continue
            for i, cmd in enumerate(m.group("body").splitlines()):
                if cmd.startswith(("pybpf ", ".venv/bin/pybpf ")):
                    out.append((f"{doc.name}:{line + i}", "sh", tag, cmd))
    return out


BLOCKS = _blocks()
# the runnable ones: a block marked skip is not a test (a skip would hide it under
# PYBPF_REQUIRE_KERNEL=1); test_the_convention_is_followed checks that it says why
RUN = [b for b in BLOCKS if not b[2].startswith("skip")]


def test_the_convention_is_followed():
    """Every tag names a setup that exists; the extraction finds the blocks."""
    assert sum(b[1] == "python" for b in BLOCKS) >= 18
    assert sum(b[1] == "sh" for b in BLOCKS) >= 30
    for ident, lang, tag, _ in BLOCKS:
        table = SETUPS if lang == "python" else SH_SETUPS
        if tag.startswith("skip"):
            assert re.match(r"skip: \S", tag), f"{ident}: a skip says why: {tag!r}"
        parts = [tag] if tag.startswith("skip") else tag.split(";")
        for part in filter(None, (p.strip() for p in parts)):
            name = part.split(":")[0].split()[0]
            assert name in ("skip", "sigint") or name in table, f"{ident}: unknown {tag!r}"


# ---- the namespace every example runs in -----------------------------------------------

@pytest.fixture(scope="module")
def netns():
    """A fresh netns (entered by this process, so by every child) with eth0 as a veth."""
    from tests.netns import entered
    with entered("pybpf-docex") as name:
        subprocess.run(["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"],
                       check=True)
        for dev in ("eth0", "peer0"):
            subprocess.run(["ip", "link", "set", dev, "up"], check=True)
        try:
            yield name
        finally:            # the firewall lines load and unload; a failed one leaves pins
            subprocess.run([*PYBPF, "firewall", "unload", "eth0"], capture_output=True)


@contextlib.contextmanager
def _cwd(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _child(ssl: bool = False):
    """A sleeping child process, for examples that name a PID (with libssl mapped)."""
    p = subprocess.Popen(["sleep", "60"] if not ssl else
                         [sys.executable, "-c", "import ssl, time; time.sleep(60)"])
    if ssl:
        for _ in range(100):            # until the interpreter has mapped libssl
            with open(f"/proc/{p.pid}/maps") as f:
                if "libssl" in f.read():
                    break
            time.sleep(0.02)
    try:
        yield p.pid
    finally:
        p.kill()
        p.wait()


def _workload():
    """Known events for tools: clone(2)s and execs, an open."""
    for _ in range(3):
        pid = os.fork()             # clone(2); subprocess would use vfork
        if pid == 0:
            try:
                os.execv("/bin/true", ["true"])
            finally:
                os._exit(127)       # never back into pytest
        os.waitpid(pid, 0)
    with contextlib.suppress(OSError):
        open("/etc/hostname").close()


# ---- Python setups ---------------------------------------------------------------------

PROG_C = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
const volatile int target_pid = 0;
const volatile int targ_pid = 0;
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
    int pid = bpf_get_current_pid_tgid() >> 32;
    if (target_pid && pid != target_pid)
        return 0;
    bpf_ringbuf_output(&events, &pid, sizeof(pid), 0);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""

LSM_C = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
SEC("lsm")
int on_open(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
"""


def _object(tmp, name, source):
    import pybpf
    (tmp / name).write_bytes(pybpf.compile(source))
    return tmp / name


@contextlib.contextmanager
def setup_prog_object(tmp):
    """prog.bpf.o and x.bpf.o: an exec tracepoint, a ring buffer ``events``, two
    ``const volatile`` pids, in the working directory; ``pid`` is this process's."""
    _object(tmp, "prog.bpf.o", PROG_C)
    shutil.copy(tmp / "prog.bpf.o", tmp / "x.bpf.o")
    with _cwd(tmp):
        yield {"pybpf": __import__("pybpf"), "pid": os.getpid()}


@contextlib.contextmanager
def setup_lsm_spec(tmp):
    import pybpf
    yield {"spec": pybpf.ObjectSpec.from_file(str(_object(tmp, "lsm.bpf.o", LSM_C)))}


@contextlib.contextmanager
def setup_symbols(tmp):
    """A kernel address (vfs_read's) and this process's user stack (libc's abs)."""
    import ctypes
    with open("/proc/kallsyms") as f:
        addr = next(int(line.split()[0], 16) for line in f if line.split()[2] == "vfs_read")
    libc = ctypes.CDLL(None)
    abs_addr = ctypes.cast(libc.abs, ctypes.c_void_p).value
    yield {"addr": addr, "user_addrs": [abs_addr], "pid": os.getpid()}


def _example(name):
    import argparse

    import pybpf
    from pybpf import perf
    from pybpf.ringbuf import RingBuffer
    here = ROOT / "examples" / name
    return here, {"HERE": str(here), "os": os, "pybpf": pybpf, "perf": perf,
                  "RingBuffer": RingBuffer, "args": argparse.Namespace(duration=0)}


@contextlib.contextmanager
def setup_example(tmp, name):
    """The namespace of examples/NAME/NAME.py: HERE, os, pybpf, RingBuffer, args."""
    here, ns = _example(name)
    with _cwd(here):
        yield ns


@contextlib.contextmanager
def setup_example_loaded(tmp, *names):
    """As ``example``, plus ``obj``: the example's object loaded (its programs merged
    when several examples are named), and a UDP socket ``sock``."""
    import socket

    import pybpf
    here, ns = _example(names[0])
    with contextlib.ExitStack() as stack:
        objs = [stack.enter_context(pybpf.load(str(ROOT / "examples" / n / f"{n}.bpf.c")))
                for n in names]
        obj = objs[0]
        if len(objs) > 1:
            programs = {k: v for o in objs for k, v in o.programs.items()}
            obj = SimpleNamespace(programs=programs)
        sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        stack.enter_context(_cwd(here))
        yield {**ns, "obj": obj, "sock": sock}


@contextlib.contextmanager
def setup_xdp_filter(tmp):
    """xdp-tools' objects are installed (/usr/lib/x86_64-linux-gnu/bpf); the pins the
    example makes under /sys/fs/bpf/xdp-filter are removed afterwards."""
    assert os.path.exists("/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_dny_udp.o"), \
        "xdp-tools' objects are not installed (scripts/setup installs xdp-tools)"
    pins = "/sys/fs/bpf/xdp-filter"
    existed = os.path.exists(pins)
    try:
        yield {}
    finally:
        if not existed:
            shutil.rmtree(pins, ignore_errors=True)


@contextlib.contextmanager
def setup_firewall(tmp):
    """A firewall pinned on eth0 (`pybpf firewall load eth0`), unloaded afterwards, and
    ``frame_bytes``: a UDP/IPv4 frame from 198.51.100.7."""
    subprocess.run([*PYBPF, "firewall", "load", "eth0"], check=True, capture_output=True)
    try:
        yield {"frame_bytes": _udp_frame("198.51.100.7")}
    finally:
        subprocess.run([*PYBPF, "firewall", "unload", "eth0"], capture_output=True)


def _udp_frame(src: str) -> bytes:
    """Ethernet + IPv4 + UDP (port 53), checksums left zero (XDP does not check them)."""
    import socket
    import struct
    udp = struct.pack("!HHHH", 40000, 53, 12, 0) + b"ping"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton("192.0.2.1"))
    return b"\xff" * 6 + b"\x02" * 6 + b"\x08\x00" + ip + udp


@contextlib.contextmanager
def setup_tcp_ca(tmp):
    """tcp_ca.bpf.o: a Reno congestion control ``my_ca`` (tests/test_object_structops.py's),
    and a TCP socket ``sock``."""
    import socket

    from tests.test_object_structops import CA
    src = CA + """
SEC(".struct_ops.link")
struct tcp_congestion_ops my_ca = {
    .init = (void *)pt_ca_init, .cong_avoid = (void *)pt_ca_avoid,
    .ssthresh = (void *)pt_ca_ssthresh, .undo_cwnd = (void *)pt_ca_undo, .name = "my_ca",
};
"""
    _object(tmp, "tcp_ca.bpf.o", src)
    with socket.socket() as sock, _cwd(tmp):
        yield {"sock": sock, "socket": socket, "pybpf": __import__("pybpf")}


FREPLACE_TARGET_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
__noinline int pick(int x) { volatile int r = x; return r; }
SEC("xdp")
int xdp_main(struct xdp_md *ctx) { return pick(XDP_PASS); }
char LICENSE[] SEC("license") = "GPL";
"""

FREPLACE_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("freplace/pick")
int new_pick(int x) { return XDP_DROP; }
char LICENSE[] SEC("license") = "GPL";
"""


@contextlib.contextmanager
def setup_freplace(tmp):
    """repl.bpf.o (``new_pick`` replaces ``pick``) and ``target_obj``: a loaded XDP
    program ``xdp_main`` calling the global function ``pick``."""
    import pybpf
    _object(tmp, "repl.bpf.o", FREPLACE_C)
    with pybpf.load(pybpf.compile(FREPLACE_TARGET_C), name="docex_target") as target, \
            _cwd(tmp):
        yield {"pybpf": pybpf, "target_obj": target}


SETUPS = {
    "freplace": setup_freplace,
    "tcp-ca": setup_tcp_ca,
    "prog-object": setup_prog_object,
    "lsm-spec": setup_lsm_spec,
    "symbols": setup_symbols,
    "example": setup_example,
    "example-loaded": setup_example_loaded,
    "xdp-filter": setup_xdp_filter,
    "firewall": setup_firewall,
}


# What a Python block must print, where the doc says (block regex, output regex).
PY_EXPECT = [
    (r"syms\.stack\(user_addrs", r"^abs\+0x0 .*\[/[^\]]*libc\.so\.6\]"),
    (r"xdpfilt_dny_udp", r"^xdp 65536$"),
    (r'fw\.status\(\)\["actions"\]\["drop"\]', r"^\{'packets': 0, 'bytes': 0\}$"),
    (r'spec\.struct_ops\["my_ca"\]', r"^StructOps\(type_name='tcp_congestion_ops', type_id=\d+"),
]


def _run_python(body, tag, tmp):
    """Run the block in its setup.  With ``trampolines`` in the tag, a kernel that refuses
    BPF trampolines (this host) must say so in one line."""
    from pybpf.errors import NotSupportedError
    name, *args = tag.split() if tag else ("",)
    missing_ok = "trampolines" in args
    args = [a for a in args if a != "trampolines"]
    setup = SETUPS[name](tmp, *args) if name else contextlib.nullcontext({})
    out = io.StringIO()
    with setup as ns:
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(body, "<doc example>", "exec"),
                     {"__name__": "__docexample__", **ns})
        except NotSupportedError as e:
            if not missing_ok:
                raise
            assert "\n" not in str(e) and "trampoline" in str(e), str(e)
    for block, text in PY_EXPECT:
        if re.search(block, body):
            assert re.search(text, out.getvalue(), re.M), out.getvalue()


@pytest.mark.kernel
@pytest.mark.parametrize("ident,tag,body",
                         [(i, t, b) for i, lang, t, b in RUN if lang == "python"],
                         ids=[i for i, lang, _, _ in RUN if lang == "python"])
def test_python_example(ident, tag, body, tmp_path, netns):
    if tag == "sigint":
        # a script that runs until Ctrl-C: Python's KeyboardInterrupt ends it (status
        # -SIGINT, as bcc's own hello world ends)
        out, err = _run_until_sigint([sys.executable, "-c", body], tmp_path,
                                     ok=(0, -signal.SIGINT))
        if "Hello, World!" in body:
            assert "Hello, World!" in out, (out, err)
            assert err.splitlines()[0].endswith("runs on tracepoint syscalls:sys_enter_clone")
        return
    _run_python(body, tag, tmp_path)


# ---- shell lines -----------------------------------------------------------------------

def _run_until_sigint(argv, cwd, env=None, ok=(0,), ready_s=20, during=None):
    """Start a command; once it has printed its first output (a tool's header, the
    exporter's "serving" line), run a workload and SIGINT it if it is still running.
    It must exit 0 having printed something, with no traceback."""
    outp, errp = (Path(cwd if cwd != ROOT else env["DOCEX_TMP"]) / f"docex.{n}"
                  for n in ("out", "err"))
    try:
        with open(outp, "w") as o, open(errp, "w") as e:
            p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=o, stderr=e, text=True)
        deadline = time.monotonic() + ready_s
        while p.poll() is None and time.monotonic() < deadline:
            if outp.stat().st_size or errp.stat().st_size:
                break
            time.sleep(0.05)
        if p.poll() is None:
            _workload()
            time.sleep(0.3)
            if during is not None:
                during()
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        try:
            p.wait(30)
        finally:
            # one that ignored SIGINT must not outlive the test: a leftover trace_pipe
            # reader made every later trace_pipe test on the machine fail with EBUSY
            if p.poll() is None:
                p.kill()
                p.wait()
        out, err = outp.read_text(), errp.read_text()
    finally:
        outp.unlink(missing_ok=True)
        errp.unlink(missing_ok=True)
    if p.returncode in (1, 2) and (env or {}).get("DOCEX_MISSING_HOOK_OK"):
        assert len(err.splitlines()) == 1, err
        assert re.search(r"BPF LSM|trampolines|kprobes", err), err
        return out, err
    assert p.returncode in ok, f"status {p.returncode}: {err[-2000:]}"
    assert p.returncode != 0 or "Traceback" not in err, err
    assert out or err, "printed nothing"
    return out, err


MY_BCC_SCRIPT = """\
import argparse
from bcc import BPF
argparse.ArgumentParser().add_argument("--some-option", action="store_true")
b = BPF(text='TRACEPOINT_PROBE(sched, sched_process_exec) { bpf_trace_printk("exec"); return 0; }')
print("tracing execs", flush=True)
try:
    b.trace_print()
except KeyboardInterrupt:
    pass
"""


def _doc_block(spec: str) -> str:
    """``doc:FILE.md:LANG``: the first LANG block of docs/FILE.md."""
    _, name, lang = spec.split(":")
    text = (ROOT / "docs" / name).read_text()
    return re.search(rf"^```{lang}\n(.*?)^```", text, re.S | re.M).group(1)


@contextlib.contextmanager
def sh_files(tmp, *specs):
    """``files NAME=SOURCE ...``: write NAME into a temp dir and use that path for it in
    the line.  SOURCE is ``doc:FILE.md:LANG`` (that doc's first LANG block), ``bcc-script``
    (a small bcc script with a --some-option), or a path in the repository."""
    subst = {}
    for spec in specs:
        name, source = spec.split("=", 1)
        dest = tmp / os.path.basename(name)
        if source.startswith("doc:"):
            dest.write_text(_doc_block(source))
        elif source == "bcc-script":
            dest.write_text(MY_BCC_SCRIPT)
        else:
            shutil.copy(ROOT / source, dest)
            for ext in (".bpf.c",):       # an exporter config's program goes beside it
                prog = (ROOT / source).with_suffix("").with_suffix(ext)
                if prog.exists():
                    shutil.copy(prog, dest.with_suffix("").with_suffix(ext))
        subst[name] = str(dest)
    yield subst


@contextlib.contextmanager
def sh_pid(tmp, number, kind=""):
    """``pid N [ssl]``: the PID the line names is a sleeping child's (one with libssl)."""
    with _child(ssl=kind == "ssl") as pid:
        yield {number: str(pid)}


@contextlib.contextmanager
def sh_replace(tmp, *pairs):
    """``replace OLD=NEW``: the line names something this host lacks; use NEW."""
    yield dict(p.split("=", 1) for p in pairs)


@contextlib.contextmanager
def sh_cgroup(tmp, *paths):
    """``cgroup PATH ...``: cgroup v2 groups the line names, made for it and removed."""
    base = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") \
        else "/sys/fs/cgroup"
    made = []
    try:
        for path in paths:
            parts = path.split("/")
            for i in range(1, len(parts) + 1):
                d = os.path.join(base, *parts[:i])
                if not os.path.isdir(d):
                    os.mkdir(d)
                    made.append(d)
        yield {}
    finally:
        for d in reversed(made):
            os.rmdir(d)


@contextlib.contextmanager
def sh_private_cache(tmp):
    """pybpf's cache in a temp dir (XDG_CACHE_HOME), so `cache clear` clears only it."""
    yield {"XDG_CACHE_HOME": str(tmp / "cache")}


@contextlib.contextmanager
def sh_missing_hook_ok(tmp):
    """``missing-hook-ok``: where this kernel lacks a hook the line needs (BPF LSM,
    trampolines, kprobes), one error line saying so is the expected outcome."""
    yield {"DOCEX_MISSING_HOOK_OK": "1"}


SH_SETUPS = {"missing-hook-ok": sh_missing_hook_ok, "pid": sh_pid, "files": sh_files,
             "replace": sh_replace, "cgroup": sh_cgroup, "private-cache": sh_private_cache}


def _scrape() -> str:
    """One scrape of the exporter the line started (its port, in the test's netns)."""
    import urllib.request
    for _ in range(50):
        try:
            with urllib.request.urlopen("http://127.0.0.1:9435/metrics", timeout=5) as r:
                return r.read().decode()
        except OSError:
            time.sleep(0.1)
    return ""


# What each kind of line must print (line regex, stream, output regex): a header, or an
# event of the workload (three execs of /bin/true by clone(2)s, an open).
# the workload's 3 execs of true (other processes' may add to them: the hook is global)
TRUE_EXECS = r'(?m)^(ebpf_exporter_)?ebpf_exec_total\{comm="true"\} ([3-9]|[1-9]\d+)(\.0)?$' 
EXPECT = [
    (r"syscount-bpfcc", "out", r"SYSCALL +COUNT"),
    # (trace_pipe shows <...> for a comm its saved_cmdlines table no longer holds)
    (r"my_bcc_script", "out", r"(true|<\.\.\.>)-\d+ .*bpf_trace_printk: exec"),
    (r"exporter --list", "out", r"(?m)^exec +exec\(\) calls"),
    (r"exporter --config exec", "scrape", TRUE_EXECS),
    (r"exporter --config .*my\.yaml", "scrape", TRUE_EXECS),
    (r"exporter --config.dir", "scrape", TRUE_EXECS),
    (r"--once", "out", r"# TYPE ebpf_bio_latency_seconds histogram"),
    (r"firewall load eth0 --default", "out", r"2 rules, default allow"),
    (r"firewall load eth0 --rules", "out", r"6 rules, default deny"),
    (r"firewall apply", "out", r"eth0: 6 rules, default deny"),
    (r"firewall add", "out", r"added [13] rules?\b"),
    (r"firewall delete", "out", r"deleted 1 rule"),
    (r"firewall status", "out", r'"default": "deny"'),
    (r"firewall check", "out", r"(?m)^allow tcp port 22$"),
    (r"firewall unload", "out", r"unloaded from eth0"),
    (r"^pybpf audit +#", "out", r"(?m)exec +\d+ .* true +/usr/bin/true$"),
    (r"audit --json", "out", r'"event":"exec".*"comm":"true"'),
    (r"audit -w", "out", r"/usr/bin/true"),
    (r"audit (-e|--cgroup)", "out", r"^TIME +EVENT +PID(?![^\n]*\n.*true)"),
    (r"--check", "out", r"ok, 6 rules"),
    (r"sslsniff", "out", r"^FUNC|^\{|^$"),
    (r"cache info", "out", r"safety: +ok"),
]


@pytest.mark.kernel
@pytest.mark.parametrize("ident,tag,line",
                         [(i, t, b) for i, lang, t, b in RUN if lang == "sh"],
                         ids=[i for i, lang, _, _ in RUN if lang == "sh"])
def test_shell_line(ident, tag, line, tmp_path, netns):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DOCEX_TMP": str(tmp_path)}
    with contextlib.ExitStack() as stack:
        for part in filter(None, (p.strip() for p in tag.split(";"))):
            name, *args = part.split()
            for k, v in stack.enter_context(SH_SETUPS[name](tmp_path, *args)).items():
                if k.isupper():
                    env[k] = v
                else:               # the words of the line this setup stands in for
                    line = re.sub(rf"(?<![\w./-]){re.escape(k)}(?![\w.-])", v, line)
        argv = shlex.split(line, comments=True)
        scraped = []
        during = (lambda: scraped.append(_scrape())) if "--once" not in argv and \
            argv[1] == "exporter" and "--list" not in argv else None
        out, err = _run_until_sigint([*PYBPF, *argv[1:]], ROOT, env, during=during)
    for words, where, text in EXPECT:
        if re.search(words, line):
            got = {"out": out, "err": err, "scrape": "".join(scraped)}[where]
            assert re.search(text, got), f"{line}: no {text!r} in its {where}: {got[-1500:]}"
