#!/usr/bin/env python3
"""bcc's own tools, unchanged, under bcc 0.26 and under ``pybpf run``, same kernel, same
workload: which run, why the others fail, and whether both print the same columns.

usage: bench/bench_bcc_tools.py [--tools a,b,...|all] [--seconds S] [--only pybpf|bcc]
                                [--write] [--raw FILE] [--table] [--guest] [--scripts DIR]

The tools are Debian's bpfcc-tools scripts (/usr/sbin/<tool>-bpfcc, bcc 0.26; the
per-language shell wrappers are followed to the script they run).  bcc needs kernel
headers: the bench links /lib/modules/$(uname -r)/build and source to the installed
linux-headers-*-amd64 and -common, as Debian lays them out, when they are missing (and
removes its links afterwards).  Runs are kept in --raw (JSON); --tools/--only merge new
runs into it, --table prints (and --write appends to RESULTS.md) the table from it.
While the tools run, a workload (workload_loop below) execs, opens, stats, fsyncs,
connects over TCP on 127.0.0.1, sends signals, resolves host names, mounts a tmpfs and
makes threads, so every tool has events to see.  A tool "runs" when it ends by itself or
on SIGINT without a traceback or an error message, having printed something.
Run it under the bench lock: ``flock /tmp/pybpf-bench.lock bench/bench_bcc_tools.py``.
``--guest`` runs the same in the kernel-matrix guest (bench_bcc_guest.py; GUEST_TOOLS
unless --tools): ``flock /tmp/pybpf-vm.lock bench/bench_bcc_tools.py --guest --write``.
Every tool runs in its own process group, killed on every way out (timeouts, errors,
^C, SIGTERM), as is the guest.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VENV_PY = os.path.join(REPO, ".venv", "bin", "python")
SBIN = "/usr/sbin"

# tool -> arguments; "{pid}" is the workload's pid.  Tools not listed run with none and
# get SIGINT after --seconds.  A variant "tool@form" runs tool with other arguments.
ARGS = {
    "argdist@t": ["-i", "1", "-n", "2", "-C", "t:syscalls:sys_enter_read():int:args->fd"],
    "argdist@u": ["-i", "1", "-n", "2", "-C", "p:c:write(int fd):int:fd"],
    "argdist@k": ["-i", "1", "-n", "2", "-C", "p::vfs_read(void *f):u32:1"],
    "biolatency": ["1", "2"], "biotop": ["-C", "1", "2"], "bitesize": [],
    "cachestat": ["1", "2"], "cpudist": ["1", "2"], "cpuunclaimed": ["1", "2"],
    "dcstat": ["1", "2"], "ext4dist": ["1", "2"],
    "filetop": ["-C", "1", "2"], "funccount@t": ["-d", "2", "t:syscalls:sys_enter_openat"],
    "funccount@u": ["-d", "2", "c:getpid"], "funccount@k": ["-d", "2", "vfs_read"],
    "funcinterval@t": ["-d", "2", "t:syscalls:sys_enter_getpid"],
    "funcinterval@u": ["-d", "2", "c:getpid"], "funcinterval@k": ["-d", "2", "vfs_read"],
    "funclatency@u": ["-d", "2", "c:getpid"], "funclatency@k": ["-d", "2", "vfs_read"],
    "funcslower@u": ["c:getpid"], "funcslower@k": ["vfs_read"],
    "hardirqs": ["1", "2"], "javacalls": ["{pid}"], "javaflow": ["{pid}"],
    "javagc": ["{pid}"], "javaobjnew": ["{pid}"], "javastat": ["1", "2"],
    "javathreads": ["{pid}"], "klockstat": ["-d", "2"], "llcstat": ["1"],
    "memleak": ["1", "2"], "netqtop": ["-n", "lo", "-i", "1"], "nodegc": ["{pid}"],
    "nodestat": ["1", "2"], "offcputime": ["2"], "offwaketime": ["2"],
    "perlcalls": ["{pid}"], "perlflow": ["{pid}"], "perlstat": ["1", "2"],
    "phpcalls": ["{pid}"], "phpflow": ["{pid}"], "phpstat": ["1", "2"],
    "profile": ["2"], "pythoncalls": ["{pid}"], "pythonflow": ["{pid}"],
    "pythongc": ["{pid}"], "pythonstat": ["1", "2"], "rubycalls": ["{pid}"],
    "rubyflow": ["{pid}"], "rubygc": ["{pid}"], "rubyobjnew": ["{pid}"],
    "rubystat": ["1", "2"], "runqlat": ["1", "2"], "runqlen": ["1", "2"],
    "slabratetop": ["-C", "1", "2"], "softirqs": ["1", "2"],
    "stackcount@t": ["-D", "2", "t:sched:sched_switch"],
    "stackcount@u": ["-D", "2", "c:getpid"], "stackcount@k": ["-D", "2", "vfs_read"],
    "syscount": ["-d", "2"], "tclcalls": ["{pid}"], "tclflow": ["{pid}"],
    "tclobjnew": ["{pid}"], "tclstat": ["1", "2"], "tcpcong": ["1", "2"],
    "tcprtt": ["-i", "1", "-d", "2"], "tcptop": ["-C", "1", "2"],
    "tplist": ["sched:sched_switch"],
    "trace@t": ["t:syscalls:sys_enter_openat \"%s\", args->filename"],
    "trace@u": ["r:c:getpid \"ret=%d\", retval"],
    "trace@k": ["p::vfs_read \"count=%d\", arg3"],
    "ttysnoop": ["/dev/null"], "vfsstat": ["1", "2"], "xfsdist": ["1", "2"],
    "zfsdist": ["1", "2"], "btrfsdist": ["1", "2"], "nfsdist": ["1", "2"],
    "inject": ["kmalloc", "-P", "0.00001", "-c", "1"], "ppchcalls": ["1", "2"],
    "cobjnew": ["{pid}"], "uflow": ["{pid}"], "mysqld_qslower": ["{pid}"],
    "dbslower": ["mysql", "-p", "{pid}"], "dbstat": ["mysql", "-p", "{pid}"],
    "biolatpcts": ["vda"], "dirtop": ["-d", "/tmp"],
    "deadlock": ["--binary", "/lib/x86_64-linux-gnu/libc.so.6", "{pid}"],
}
# --guest without --tools: under TCG a tool's start costs bcc ~100 s and pybpf tens of
# seconds, so the guest runs these (kprobe tools the host cannot run, the known
# guest failures first, then tracepoint tools as a baseline); --tools all for every tool
GUEST_TOOLS = ["vfscount", "dcsnoop", "funccount@k", "opensnoop", "execsnoop", "tcpconnect",
               "biolatency", "vfsstat", "cpudist", "trace@k", "stackcount@k", "killsnoop",
               "tcpaccept", "filetop", "funclatency@k", "syscount", "runqlat", "tcplife"]
NOT_BCC = {"reset-trace"}          # shell scripts, not bcc programs
NEEDS_TTY = {"cachetop"}           # curses: its screen goes to a pty, read as text
NEEDS_DEBUGFS = {"tplist"}         # reads /sys/kernel/debug/tracing/events itself


# --scripts DIR: the tools are DIR/<tool>.py (bcc's upstream tools/, newer than Debian's
# 0.26 scripts), run as `python3 DIR/<tool>.py` for bcc and `pybpf run` for pybpf
SCRIPTS = {"dir": ""}


def tool_list() -> list[str]:
    if SCRIPTS["dir"]:
        names = sorted(os.path.basename(p)[:-3]
                       for p in glob.glob(os.path.join(SCRIPTS["dir"], "*.py")))
    else:
        names = sorted(os.path.basename(p)[:-len("-bpfcc")]
                       for p in glob.glob(os.path.join(SBIN, "*-bpfcc")))
    out = []
    for n in names:
        if n in NOT_BCC:
            continue
        forms = sorted(k for k in ARGS if k.startswith(n + "@"))
        out += forms or [n]
    return out


# ---- workload ------------------------------------------------------------------------

def workload_loop(stop_file: str) -> None:
    """Known, light activity until ``stop_file`` disappears (runs in a child process)."""
    import ctypes
    import socket
    import threading
    libc = ctypes.CDLL(None, use_errno=True)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    port = srv.getsockname()[1]

    def accept():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            try:
                c.sendall(c.recv(4096) or b"")
            except OSError:
                pass
            c.close()
    threading.Thread(target=accept, daemon=True).start()
    d = tempfile.mkdtemp(prefix="pybpf-bench-wl-")
    mnt = os.path.join(d, "mnt")
    os.mkdir(mnt)
    i = 0
    try:
        while os.path.exists(stop_file):
            i += 1
            subprocess.run(["/bin/true"])
            p = os.path.join(d, f"f{i % 4}")
            with open(p, "wb") as f:
                f.write(os.urandom(65536))
                f.flush()
                os.fsync(f.fileno())
            with open(p, "rb") as f:
                f.read()
            os.stat(p)
            os.unlink(p)
            for _ in range(20):
                libc.getpid()
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"x" * 100)
            s.recv(4096)
            s.close()
            os.kill(os.getpid(), 0)
            t = threading.Thread(target=lambda: None)
            t.start()
            t.join()
            if i % 10 == 0:
                try:
                    socket.getaddrinfo("localhost", 80)
                except OSError:
                    pass
                os.sync()
                if subprocess.run(["mount", "-t", "tmpfs", "none", mnt],
                                  capture_output=True).returncode == 0:
                    subprocess.run(["umount", mnt], capture_output=True)
                shm = libc.shmget(0, 4096, 0o1600)
                if shm >= 0:
                    libc.shmctl(shm, 0, None)
            time.sleep(0.05)
    finally:
        srv.close()
        subprocess.run(["umount", mnt], capture_output=True)
        for n in os.listdir(d):
            if n != "mnt":
                os.unlink(os.path.join(d, n))
        os.rmdir(mnt)
        os.rmdir(d)


class Workload:
    def __enter__(self):
        fd, self.stop = tempfile.mkstemp(prefix="pybpf-bench-run-")
        os.close(fd)
        # Debian's python3 has USDT probes (python:function__entry, ...): the python*
        # tools given this pid see its calls
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-c",
             "import sys; sys.path.insert(0, %r); import bench_bcc_tools as b; "
             "b.workload_loop(%r)" % (HERE, self.stop)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        os.unlink(self.stop)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---- kernel headers for bcc ----------------------------------------------------------

class Headers:
    """/lib/modules/$(uname -r)/{build,source} -> the installed headers, laid out as
    Debian's own kernels have them (build: the arch part, source: the -common part).  Links
    this made are removed afterwards; a wrong ``source`` (lacking kconfig.h) is corrected."""

    def __init__(self, version: str | None = None):
        """``version``: the headers of that Debian kernel (``6.1.0-57``), else the
        newest installed."""
        self.version = version

    def __enter__(self):
        self.made = []
        base = f"/lib/modules/{os.uname().release}"
        arch = sorted(glob.glob(f"/usr/src/linux-headers-{self.version or '*'}-amd64"))
        if not arch:
            return self
        common = arch[-1][:-len("-amd64")] + "-common"
        want = {"build": arch[-1],
                "source": common if os.path.isdir(common) else arch[-1]}
        if not os.path.isdir(base):
            try:
                os.makedirs(base)
            except OSError:
                return self
            self.made.append(base)
        for name, target in want.items():
            link = os.path.join(base, name)
            if os.path.islink(link) and name == "source" and not os.path.exists(
                    os.path.join(link, "include", "linux", "kconfig.h")):
                os.unlink(link)
            if not os.path.lexists(link):
                try:
                    os.symlink(target, link)
                except OSError:         # the guest's read-only root: bcc says what lacks
                    continue
                self.made.append(link)
        return self

    def __exit__(self, *exc):
        for p in reversed(self.made):
            if os.path.islink(p):
                os.unlink(p)
            elif os.path.isdir(p) and not os.listdir(p):
                os.rmdir(p)


# ---- running one tool ----------------------------------------------------------------

_ERROR = re.compile(r"Traceback|^\S*[Ee]rror\b|error:|Failed to|failed to|cannot attach|"
                    r"Exception|^bpf: |is not supported|[Uu]nable to|not found|^ERROR|"
                    r"\[Errno|^0 \S+ (?:\S+ )?matched|^USAGE|^usage:", re.M)


def run_tool(tool: str, how: str, seconds: float, pid: int, startup: float = 6,
             self_limit: float = 40) -> dict:
    name, _, form = tool.partition("@")
    args = [a.replace("{pid}", str(pid)) for a in ARGS.get(tool, [])]
    script = os.path.join(SBIN, f"{name}-bpfcc")
    cwd = None
    if SCRIPTS["dir"]:
        # a link to a script elsewhere runs there, as its author runs it: its src_file
        # and headers are named relative to its own directory
        script = os.path.realpath(os.path.join(SCRIPTS["dir"], f"{name}.py"))
        cwd = os.path.dirname(script)
    if how == "bcc":
        cmd = ["/usr/bin/python3", script, *args] if SCRIPTS["dir"] else [script, *args]
        env = dict(os.environ)
    else:
        if not SCRIPTS["dir"]:
            script, args = _unwrap(script, args)
        cmd = [VENV_PY, "-m", "pybpf", "run", script, *args]
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "src"))
    # unbuffered, so the first line shows when it is printed, not when the tool exits
    # (a pipe makes Python buffer it: a quiet tool would sit out the whole start-up limit)
    env["PYTHONUNBUFFERED"] = "1"
    tty = name in NEEDS_TTY
    master = slave = -1
    if tty:
        import pty
        master, slave = pty.openpty()
        env.update(TERM="xterm", LINES="24", COLUMNS="100")
    t0 = time.monotonic()
    # a shell's background job ignores SIGINT and python then installs no handler for
    # it: give the tool the default back, so ^C reaches it as KeyboardInterrupt.  Its own
    # session: the whole group is signalled, and killed on every way out of here
    try:
        p = subprocess.Popen(cmd, stdout=slave if tty else subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, cwd=cwd,
                             stdin=slave if tty else subprocess.DEVNULL,
                             start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    finally:
        if tty:
            os.close(slave)
    # tools that end by themselves (an interval and count, or a duration) get time to;
    # the others are interrupted `seconds` after their first line of output (attached),
    # or after start-up (compile) plus `seconds` if they print nothing
    self_ending = _self_ending(args)
    out, err, first = [], [], []
    source = os.fdopen(master, "rb", buffering=0) if tty else p.stdout
    readers = [threading.Thread(target=_drain_tty if tty else _drain,
                                args=(source, out, first), daemon=True),
               threading.Thread(target=_drain, args=(p.stderr, err, None), daemon=True)]
    for r in readers:
        r.start()
    interrupted = False
    try:
        while p.poll() is None:
            now = time.monotonic()
            if self_ending:
                due = now - t0 > self_limit
            else:
                due = now - t0 > startup + seconds or bool(first and now - first[0] > seconds)
            if due:
                interrupted = True
                _signal_group(p, signal.SIGINT)
                try:
                    p.wait(timeout=10 + startup / 3)
                except subprocess.TimeoutExpired:
                    _signal_group(p, signal.SIGKILL)
                break
            time.sleep(0.1)
    finally:
        # exceptions, ^C, SIGTERM: nothing of the tool's group outlives this call (the
        # group lives on while any member does, even after its leader is reaped)
        _signal_group(p, signal.SIGKILL)
        if p.poll() is None:
            p.wait()
        for r in readers:
            r.join(timeout=5)
    out, err = b"".join(out), b"".join(err)
    wall = time.monotonic() - t0
    out_s = out.decode(errors="replace")
    if tty:         # the screen's text, without the terminal's control sequences
        out_s = _ANSI.sub("\n", out_s).replace("\r", "")
    err_s = err.decode(errors="replace")
    lines = [ln for ln in out_s.splitlines() if ln.strip()]
    ok, _ = _judge(err_s, lines, len(lines), p.returncode, interrupted)
    reason = ""
    if not ok:
        reason = _reason(err_s, out_s, p.returncode)
    return {"tool": tool, "how": how, "ok": ok, "rc": p.returncode, "wall": round(wall, 2),
            # seconds to the first line of output: the start (compile, load, attach)
            "first": round(first[0] - t0, 3) if first else None,
            "kernel": os.uname().release,
            "interrupted": interrupted,
            "lines": len(lines), "header": _header(lines), "reason": reason,
            "stderr": err_s[-2000:], "stdout": out_s[:1500]}


_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>78M]|\][^\x07]*\x07)")


def _drain_tty(master, chunks: list, first: list) -> None:
    """Read a pty's master side until the tool's side is closed (EIO)."""
    while True:
        try:
            data = master.read(65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
        # the first text on the screen, not curses' set-up sequences (sent before the
        # tool has compiled anything)
        if not first and _ANSI.sub("", b"".join(chunks).decode(errors="replace")).strip():
            first.append(time.monotonic())
    master.close()


def _drain(pipe, chunks: list, first: list | None) -> None:
    """Read ``pipe`` to its end; note when the first line arrived."""
    for line in iter(pipe.readline, b""):
        if first is not None and not first and line.strip():
            first.append(time.monotonic())
        chunks.append(line)
    pipe.close()


# ^C that lands while Python runs a ctypes callback (bcc's perf buffer reader, busy under
# emulation) is printed and dropped: the tool keeps running and is killed.  It ran.
_SWALLOWED = re.compile(r"Exception ignored on calling ctypes callback function:.*?"
                        r"\nKeyboardInterrupt: ?\n?", re.S)


_INTERRUPTED = re.compile(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*"
                          r"KeyboardInterrupt\n?\Z")


def _judge(err: str, lines: list[str], n: int, rc, interrupted: bool) -> tuple[bool, bool]:
    """(ran, whether a ^C was swallowed in a callback) for one run's output."""
    kept = _SWALLOWED.sub("", err) if interrupted else err
    swallowed = kept != err
    if interrupted and n > 0:
        # ^C that lands outside the tool's own `except KeyboardInterrupt` (bcc's cachetop
        # catches it in its sleep only) ends a tool that had been running in a traceback
        kept = _INTERRUPTED.sub("", kept)
    bad = _ERROR.search(kept) or _ERROR.search("\n".join(lines[:6]))
    if interrupted:
        rc_ok = rc in (0, -2, 130, 1) or (swallowed and rc == -9)
    else:
        rc_ok = rc == 0
    return (not bad and n > 0 and rc_ok), swallowed


def _signal_group(p: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _unwrap(script: str, args: list[str]) -> tuple[str, list[str]]:
    """bcc's per-language tools are shell wrappers (``$lib/ucalls -l java "$@"``): the
    Python script they run, and its arguments."""
    with open(script, "rb") as f:
        text = f.read(400).decode(errors="replace")
    if text.startswith("#!") and "python" in text.splitlines()[0]:
        return script, args
    m = re.search(r'^\$lib/(\w+)((?: [^"$\n]+)*) "\$@"', text, re.M)
    if not m:
        return script, args
    return os.path.join(SBIN, m.group(1)), m.group(2).split() + args


def _self_ending(args: list[str]) -> bool:
    return "-d" in args or "-D" in args or bool(args and args[-1].isdigit())


def _header(lines: list[str]) -> str:
    """The first line that names columns (upper-case words), normalised."""
    for ln in lines[:12]:
        words = ln.split()
        if len(words) >= 2 and sum(w.isupper() for w in words) >= 2:
            return " ".join(words)
    return ""


def _reason(err: str, out: str, rc) -> str:
    lines = [ln.strip() for ln in (err + "\n" + out).splitlines() if ln.strip()]
    pick = ""
    for ln in lines:
        if _ERROR.search(ln) and not ln.startswith(("Traceback", "File ")):
            pick = ln
    if not pick:
        pick = lines[-1] if lines else f"exit {rc}, no output"
    pick = re.sub(r"/tmp/\S+", "...", pick)
    return pick[:150].replace("|", "/")


def _terminate(signum, frame):
    """SIGTERM/SIGHUP end the bench like ^C: the finally clauses kill the tool's group,
    stop the workload and take the header links down."""
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", default="")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--only", choices=("pybpf", "bcc"))
    ap.add_argument("--write", action="store_true", help="append the table to RESULTS.md")
    ap.add_argument("--raw", default="")
    ap.add_argument("--table", action="store_true", help="only print the table of --raw")
    ap.add_argument("--guest", action="store_true",
                    help="run the tools in the kernel-matrix guest (tests/vm), one boot")
    ap.add_argument("--startup", type=float, default=None,
                    help="seconds a tool gets to start before the workload's --seconds "
                         "count (default 6; 90 in the guest, whose CPU is emulated)")
    ap.add_argument("--self-limit", type=float, default=None,
                    help="seconds a self-ending tool gets (default 40; 150 in the guest)")
    ap.add_argument("--vm-timeout", type=float, default=7200)
    ap.add_argument("--vm-cpus", type=int, default=2,
                    help="the guest's vCPUs (each is a host thread under TCG; 1 leaves a "
                         "core of a 2-core host free)")
    ap.add_argument("--in-guest", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scripts", default="",
                    help="run DIR/<tool>.py (e.g. bcc's upstream tools/) instead of "
                         "Debian's /usr/sbin/<tool>-bpfcc")
    a = ap.parse_args()
    SCRIPTS["dir"] = os.path.abspath(a.scripts) if a.scripts else ""
    slow = a.guest or a.in_guest
    a.raw = a.raw or ("/tmp/pybpf-bench-bcc-tools-guest.json" if a.guest else
                      "/tmp/pybpf-bench-bcc-tools.json")
    a.startup = a.startup if a.startup is not None else (90 if slow else 6)
    a.self_limit = a.self_limit if a.self_limit is not None else (150 if slow else 40)
    if a.table:
        with open(a.raw) as f:
            table = format_table(json.load(f))
        print(table)
        if a.write:
            with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
                f.write("\n" + table)
        return 0
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    if a.tools.startswith("@"):
        with open(a.tools[1:]) as f:
            a.tools = f.read().strip()
    if a.tools == "all":
        a.tools = ""
    elif not a.tools and a.guest:
        a.tools = ",".join(GUEST_TOOLS)
    tools = [t for t in a.tools.split(",") if t] or tool_list()
    hows = [a.only] if a.only else ["bcc", "pybpf"]
    results: dict[str, dict] = {}
    if os.path.exists(a.raw) and (a.tools or a.only):
        with open(a.raw) as f:
            results = json.load(f)
    if a.guest:
        from bench_bcc_guest import run_guest
        rc = run_guest(a, tools, results)
        if rc:
            return rc
    else:
        run_here(a, tools, hows, results)
    table = format_table(results)
    print(table)
    if a.write:
        with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
            f.write("\n" + table)
    return 0


def run_here(a, tools: list[str], hows: list[str], results: dict) -> None:
    """Run ``tools`` on this kernel, each run stored into ``results`` and --raw."""
    # no debugfs mount for bcc's kprobe blacklist: on a kernel without kprobes the file
    # is absent anyway, and with debugfs mounted bcc 0.26 looks for tracefs inside it
    debugfs = False
    if a.in_guest and not os.path.ismount("/sys/kernel/debug"):
        # a kernel with kprobes: bcc reads its kprobe blacklist there, and finds tracefs
        # inside it (the kernel mounts it there on first access)
        debugfs = subprocess.run(["mount", "-t", "debugfs", "none", "/sys/kernel/debug"]
                                 ).returncode == 0
    try:
        _run_all(a, tools, hows, results)
    finally:
        if debugfs:
            subprocess.run(["umount", "-l", "/sys/kernel/debug"])


def _run_all(a, tools: list[str], hows: list[str], results: dict) -> None:
    with Headers(), Workload() as wl:
        time.sleep(1)
        for t in tools:
            for how in hows:
                if t in NEEDS_DEBUGFS and not a.in_guest and \
                        not os.path.ismount("/sys/kernel/debug"):
                    # only for these: mounted, bcc 0.26 looks for tracefs inside debugfs
                    subprocess.run(["mount", "-t", "debugfs", "none", "/sys/kernel/debug"])
                    try:
                        r = run_tool(t, how, a.seconds, wl.proc.pid, a.startup, a.self_limit)
                    finally:
                        subprocess.run(["umount", "/sys/kernel/debug"])
                else:
                    r = run_tool(t, how, a.seconds, wl.proc.pid, a.startup, a.self_limit)
                results[f"{t}/{how}"] = r
                print(f"{t:18} {how:6} {'ok' if r['ok'] else 'FAIL':5} {r['wall']:6}s "
                      f"{r['lines']:4} lines  {r['reason']}", flush=True)
            with open(a.raw, "w") as f:
                json.dump(results, f, indent=1)


def _cell(r: dict | None) -> str:
    if r is None:
        return "-"
    return "runs" if r["ok"] else "fails"


def reclassify(r: dict) -> dict:
    """Judge a stored run again with the current rules (outputs are kept in the raw
    file), so a rule fixed later applies to every run."""
    if r.get("rc") is None:
        return r
    lines = [ln for ln in r["stdout"].splitlines() if ln.strip()]
    interrupted = r.get("interrupted", r["rc"] != 0)
    ok, swallowed = _judge(r["stderr"], lines, r["lines"], r["rc"], interrupted)
    r = dict(r, ok=ok, swallowed=swallowed)
    if not ok and not r["reason"]:
        r["reason"] = _reason(r["stderr"], r["stdout"], r["rc"])
    return r


def format_table(results: dict) -> str:
    results = {k: reclassify(v) for k, v in results.items()}
    tools = sorted({k.rsplit("/", 1)[0] for k in results})
    rows = []
    n_bcc = n_py = n_both = n_py_only = n_bcc_only = 0
    for t in tools:
        b, p = results.get(f"{t}/bcc"), results.get(f"{t}/pybpf")
        bo, po = bool(b and b["ok"]), bool(p and p["ok"])
        n_bcc += bo
        n_py += po
        n_both += bo and po
        n_py_only += po and not bo
        n_bcc_only += bo and not po
        reason = []
        if b and not bo:
            reason.append(f"bcc: {b['reason']}")
        if p and not po:
            reason.append(f"pybpf: {p['reason']}")
        if bo and po:
            same = b["header"] == p["header"]
            reason.append("same columns" if same else
                          f"columns differ: bcc `{b['header']}` pybpf `{p['header']}`")
            for who, r in (("bcc", b), ("pybpf", p)):
                if r.get("swallowed"):
                    reason.append(f"{who}: ^C fell in a ctypes callback and was ignored "
                                  "(killed after printing events)")
            for who, r, other in (("pybpf", p, b), ("bcc", b, p)):
                # a header and nothing else where the other saw events
                if r["lines"] <= 2 < other["lines"]:
                    reason.append(f"{who} printed no events ({other['lines']} lines "
                                  f"against {r['lines']})")
        rows.append(f"| {t} | {_cell(b)} | {_cell(p)} | {'; '.join(reason)} |")
    kernels = sorted({r.get("kernel", "") for r in results.values()} - {""})
    where = (", in the kernel-matrix guest: qemu TCG, kprobes and fentry on, `--guest`"
             if kernels and kernels != [os.uname().release] else "")
    head = (f"## bcc's tools unchanged: bcc 0.26 vs `pybpf run` "
            f"(`bench/bench_bcc_tools.py`, {time.strftime('%Y-%m-%d')}, kernel "
            f"{', '.join(kernels) or os.uname().release}{where})\n\n"
            f"{len(tools)} tool runs (a tool@form is one tool with other arguments: t = "
            f"tracepoint, u = uprobe, k = kprobe). bcc runs {n_bcc}, pybpf runs {n_py}; "
            f"both {n_both}, pybpf only {n_py_only}, bcc only {n_bcc_only}.\n\n"
            "| tool | bcc | pybpf | reason |\n|---|---|---|---|\n")
    return head + "\n".join(rows) + "\n"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:             # | head: end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        print("interrupted: the tool's process group, the workload and the guest are "
              "stopped; runs so far are in --raw", file=sys.stderr)
        sys.exit(130)
