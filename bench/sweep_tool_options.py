#!/usr/bin/env python3
"""Every tool with its options as a user would type them, each run under a small workload
whose effect is known, and the run judged: exit status, no traceback, --json lines parse,
the workload's marker shows, the header matches bcc's (``--bcc``), Ctrl-C is quiet,
``| head -1`` is quiet, and bad values give one line.

usage: bench/sweep_tool_options.py [--only a,b] [--grep RE] [--bcc] [--list]
                                   [--keep DIR] [--markdown]

A case is (tool, arguments, workload, marker).  The workload is a Python helper started
before the tool and held at a gate (its pid stands for ``{pid}``, it sits in the cgroup
``{cg}`` whose id is in the pinned map ``{cgmap}``, its mount namespace in ``{mntnsmap}``);
it runs its action once the tool has printed its banner (or after 8 s).  The tool is then
given 1.5 s, then SIGINT to its process group (Ctrl-C), unless the case ends by itself
(interval and count, a duration).  ``--bcc`` runs bcc 0.26's tool (``/usr/sbin/T-bpfcc``)
the same way and compares the column header (bcc needs kernel headers: linked for the run
by bench_bcc_tools.Headers).  Kinds: ``run`` (must succeed), ``bad`` (must fail with a
short message, no traceback), ``head`` (``| head -1``: quiet exit once the pipe closes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PYBPF = os.path.join(REPO, ".venv", "bin", "pybpf")
sys.path.insert(0, HERE)

MARK = "hsweepmk"
PORT = 47611

# The workload helper: waits for a line on stdin, then does ACTION in DIR.
HELPER = r'''
import os, socket, subprocess, sys, time, signal, ctypes
action, d, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.stdin.readline()
mark = os.path.join(d, "hsweepmk")
if action == "open":
    for i in range(3):
        fd = os.open(mark + "-w", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600); os.close(fd)
        fd = os.open(mark + "-r", os.O_RDONLY | os.O_CREAT, 0o600); os.close(fd)
        try:
            os.open(mark + "-missing", os.O_RDONLY)
        except OSError:
            pass
elif action == "exec":
    for i in range(3):
        subprocess.run(["/bin/true", "hsweepmk", str(i)])
    subprocess.run(["/bin/sh", "-c", "exit 3"])
elif action == "dd":
    for i in range(3):
        subprocess.run(["dd", "if=/dev/zero", "of=" + mark + "-dd", "bs=64k", "count=40",
                        "oflag=direct", "status=none"])
        subprocess.run(["dd", "if=" + mark + "-dd", "of=/dev/null", "bs=64k",
                        "iflag=direct", "status=none"])
elif action in ("tcp", "tcp6"):
    fam, host = ((socket.AF_INET, "127.0.0.1") if action == "tcp"
                 else (socket.AF_INET6, "::1"))
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port)); srv.listen(8)
    for i in range(3):
        c = socket.socket(fam, socket.SOCK_STREAM); c.connect((host, port))
        s, _ = srv.accept(); c.sendall(b"x" * 3000); s.recv(65536); s.sendall(b"y" * 100)
        c.recv(100); c.close(); s.close()
    try:
        c = socket.socket(fam, socket.SOCK_STREAM); c.connect((host, port + 1))
    except OSError:
        pass
    srv.close(); time.sleep(0.3)
elif action == "bind":
    for i in range(3):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port)); s.close()
elif action == "kill":
    for i in range(3):
        p = subprocess.Popen(["sleep", "5"])
        time.sleep(0.05); os.kill(p.pid, signal.SIGUSR1); p.wait()
    try:
        os.kill(999999, 0)
    except OSError:
        pass
elif action == "stat":
    open(mark + "-s", "w").close()
    for i in range(3):
        os.stat(mark + "-s")
        try:
            os.stat(mark + "-nostat")
        except OSError:
            pass
        os.statvfs(d)
elif action == "mount":
    m = os.path.join(d, "hsweepmk-mnt"); os.makedirs(m, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "hsweepmk", m]); subprocess.run(["umount", m])
elif action == "dns":
    for i in range(3):
        socket.getaddrinfo("localhost", 80)
        try:
            socket.gethostbyname("localhost")
        except OSError:
            pass
elif action == "cpu":
    t = time.time() + 1.2
    while time.time() < t:
        sum(range(1000))
elif action == "sleep":
    for i in range(10):
        time.sleep(0.1)
elif action == "malloc":
    libc = ctypes.CDLL(None); libc.malloc.restype = ctypes.c_void_p
    keep = [libc.malloc(4096 + i) for i in range(50)]
    time.sleep(1.5)
elif action == "sys":
    for i in range(20000):
        os.getppid()
    for i in range(200):
        try:
            os.open(mark + "-missing", os.O_RDONLY)
        except OSError:
            pass
    time.sleep(0.2)
elif action == "none":
    pass
time.sleep(0.5)
'''


def C(tool, args="", wl="none", marker=None, kind="run", bcc=True):
    return dict(tool=tool, args=args, wl=wl, marker=marker, kind=kind, bcc=bcc)


M = MARK
P = str(PORT)
CASES = [
    # ---- opensnoop
    C("opensnoop", "", "open", M), C("opensnoop", "-T", "open", M),
    C("opensnoop", "-U", "open", M), C("opensnoop", "-x", "open", M + "-missing"),
    C("opensnoop", "-p {pid}", "open", M), C("opensnoop", "-t {pid}", "open", M),
    C("opensnoop", "-n python", "open", M), C("opensnoop", "-e", "open", M),
    C("opensnoop", "-f O_WRONLY", "open", M + "-w"), C("opensnoop", "-F", "open", M),
    C("opensnoop", "-x -e -f O_WRONLY -F -U -T", "open", None),
    C("opensnoop", "-T -U -e -F -p {pid}", "open", M), C("opensnoop", "-u 0", "open", M),
    C("opensnoop", "-c {cg}", "open", M), C("opensnoop", "--cgroupmap {cgmap}", "open", M),
    C("opensnoop", "--mntnsmap {mntnsmap}", "open", M),
    C("opensnoop", "-d 3", "open", M), C("opensnoop", "-b 16", "open", M),
    C("opensnoop", "--json", "open", M), C("opensnoop", "-e -F -T -U --json", "open", M),
    C("opensnoop", "-p abc", kind="bad"), C("opensnoop", "-p 999999999", kind="bad"),
    C("opensnoop", "-f O_BOGUS", kind="bad"), C("opensnoop", "-d -1", kind="bad"),
    C("opensnoop", "", "open", None, kind="head"),
    # ---- execsnoop
    C("execsnoop", "", "exec", M), C("execsnoop", "-T", "exec", M), C("execsnoop", "-t", "exec", M),
    C("execsnoop", "-x", "exec", None), C("execsnoop", "-q", "exec", M),
    C("execsnoop", "-n true", "exec", M), C("execsnoop", "-l hsweep", "exec", M),
    C("execsnoop", "-U", "exec", M), C("execsnoop", "-u root", "exec", M),
    C("execsnoop", "--max-args 1", "exec", "true"), C("execsnoop", "-P {pid}", "exec", M),
    C("execsnoop", "-x -q -T -U --json", "exec", M), C("execsnoop", "-x -q -T -U", "exec", M),
    C("execsnoop", "--json", "exec", M), C("execsnoop", "--cgroupmap {cgmap}", "exec", M),
    C("execsnoop", "--mntnsmap {mntnsmap}", "exec", M),
    C("execsnoop", "-C", "exec", None), C("execsnoop", "-M", "exec", None),
    C("execsnoop", "-u nosuchuser", kind="bad"), C("execsnoop", "--max-args -3", kind="bad"),
    C("execsnoop", "-P abc", kind="bad"), C("execsnoop", "", "exec", None, kind="head"),
    # ---- exitsnoop
    C("exitsnoop", "", "exec", "true"), C("exitsnoop", "-t", "exec", "true"),
    C("exitsnoop", "--utc", "exec", "true"), C("exitsnoop", "-x", "exec", "code 3"),
    C("exitsnoop", "-p {pid}", "exec", None), C("exitsnoop", "--label=hs", "exec", "true"),
    C("exitsnoop", "--per-thread", "exec", "true"), C("exitsnoop", "-c {cg}", "exec", "true"),
    C("exitsnoop", "--cgroupmap {cgmap}", "exec", "true"),
    C("exitsnoop", "--mntnsmap {mntnsmap}", "exec", "true"),
    C("exitsnoop", "-t -x --per-thread --json", "exec", None),
    C("exitsnoop", "--json", "exec", "true"), C("exitsnoop", "-p -5", kind="bad"),
    C("exitsnoop", "", "exec", None, kind="head"),
    # ---- killsnoop
    C("killsnoop", "", "kill", "10"), C("killsnoop", "-x", "kill", "999999"),
    C("killsnoop", "-p {pid}", "kill", "10"), C("killsnoop", "-s 10", "kill", "10"),
    C("killsnoop", "-s SIGUSR1", "kill", "10"), C("killsnoop", "-T {pid}", "kill", None),
    C("killsnoop", "-c {cg}", "kill", "10"), C("killsnoop", "--cgroupmap {cgmap}", "kill", "10"),
    C("killsnoop", "--mntnsmap {mntnsmap}", "kill", "10"),
    C("killsnoop", "--json", "kill", None), C("killsnoop", "-x -s 0 --json", "kill", None),
    C("killsnoop", "-s 99", kind="bad"), C("killsnoop", "-s NOSUCH", kind="bad"),
    C("killsnoop", "", "kill", None, kind="head"),
    # ---- sigsnoop (libbpf-tools)
    C("sigsnoop", "", "kill", "10", bcc=False), C("sigsnoop", "-x", "kill", None, bcc=False),
    C("sigsnoop", "-p {pid}", "kill", "10", bcc=False),
    C("sigsnoop", "-s 10", "kill", "10", bcc=False), C("sigsnoop", "-n", "kill", "SIGUSR1", bcc=False),
    C("sigsnoop", "-x -n -s 10 --json", "kill", None, bcc=False),
    C("sigsnoop", "--cgroup {cg}", "kill", "10", bcc=False),
    C("sigsnoop", "-s 999", kind="bad", bcc=False),
    # ---- statsnoop
    C("statsnoop", "", "stat", M), C("statsnoop", "-t", "stat", M), C("statsnoop", "-x", "stat", M + "-nostat"),
    C("statsnoop", "-p {pid}", "stat", M), C("statsnoop", "-s", "stat", M),
    C("statsnoop", "-c {cg}", "stat", M), C("statsnoop", "-t -x -s --json", "stat", M),
    C("statsnoop", "--json", "stat", M), C("statsnoop", "-p abc", kind="bad"),
    C("statsnoop", "", "stat", None, kind="head"),
    # ---- mountsnoop
    C("mountsnoop", "", "mount", M), C("mountsnoop", "-t", "mount", M), C("mountsnoop", "-P", "mount", M),
    C("mountsnoop", "-p {pid}", "mount", None), C("mountsnoop", "--json", "mount", M),
    C("mountsnoop", "--cgroupmap {cgmap}", "mount", M),
    C("mountsnoop", "--mntnsmap {mntnsmap}", "mount", M),
    # ---- syscount
    C("syscount", "", "sys", "getppid"), C("syscount", "-L", "sys", None), C("syscount", "-L -p {pid}", "sys", "getppid"),
    C("syscount", "-P", "sys", "python"), C("syscount", "-x", "sys", "open"),
    C("syscount", "-e ENOENT", "sys", "open"), C("syscount", "-m -L", "sys", None),
    C("syscount", "-L -P -x -e ENOENT -l", "sys", None), C("syscount", "-l", "sys", None),
    C("syscount", "-p {pid}", "sys", "getppid"), C("syscount", "-t {pid}", "sys", "getppid"),
    C("syscount", "-c {cg}", "sys", "getppid"), C("syscount", "--ppid {ppid}", "sys", "getppid"),
    C("syscount", "--cgroupmap {cgmap}", "sys", "getppid"),
    C("syscount", "--mntnsmap {mntnsmap}", "sys", "getppid"),
    C("syscount", "-i 1 -d 3", "sys", "getppid"), C("syscount", "-T 3", "sys", None),
    C("syscount", "--syscall getppid", "sys", "getppid"), C("syscount", "--syscall getppid,openat", kind="bad"),
    C("syscount", "-L -P --json", "sys", None), C("syscount", "--json -i 1 -d 2", "sys", None),
    C("syscount", "--exec /bin/true", "none", None),
    C("syscount", "--syscall nosuchcall", kind="bad"), C("syscount", "-e EBOGUS", kind="bad"),
    C("syscount", "-i -1", kind="bad"), C("syscount", "-T 0", kind="bad"),
    C("syscount", "", "sys", None, kind="head"),
    # ---- vfsstat
    C("vfsstat", "1 2", "open", "READ"), C("vfsstat", "", "open", None), C("vfsstat", "-p {pid} 1 2", "open", None),
    C("vfsstat", "-c {cg} 1 2", "open", None), C("vfsstat", "--json 1 2", "open", None),
    C("vfsstat", "-1 2", kind="bad"), C("vfsstat", "1 0", kind="bad"),
    C("vfsstat", "1 5", "open", None, kind="head"),
    # ---- biolatency
    C("biolatency", "", "dd", "usecs"), C("biolatency", "-T", "dd", "usecs"), C("biolatency", "-m", "dd", "msecs"),
    C("biolatency", "-Q", "dd", "usecs"), C("biolatency", "-D", "dd", "disk"), C("biolatency", "-F", "dd", "flags"),
    C("biolatency", "-D -Q -T -m 1 3", "dd", "msecs"), C("biolatency", "-F -Q -T -m 1 3", "dd", "msecs"),
    C("biolatency", "-e", "dd", None), C("biolatency", "-d vda", "dd", "usecs"),
    C("biolatency", "--json 1 2", "dd", None), C("biolatency", "-D -F", kind="bad"),
    C("biolatency", "-d nosuchdisk", kind="bad"), C("biolatency", "0 1", kind="bad"),
    # ---- biosnoop
    C("biosnoop", "", "dd", "vda"), C("biosnoop", "-Q", "dd", "vda"), C("biosnoop", "-P", "dd", "vda"),
    C("biosnoop", "-d vda", "dd", "vda"), C("biosnoop", "-D 1", "dd", None),
    C("biosnoop", "-Q -P --json", "dd", None), C("biosnoop", "-d nosuch", kind="bad"),
    C("biosnoop", "", "dd", None, kind="head"),
    # ---- biotop
    C("biotop", "-C 1 2", "dd", "vda"), C("biotop", "-C -r 5 1 2", "dd", None),
    C("biotop", "-C -p {pid} 1 2", "dd", None), C("biotop", "--json 1 2", "dd", None),
    C("biotop", "-r -1", kind="bad"),
    # ---- bitesize
    C("bitesize", "", "dd", "Kbytes"), C("bitesize", "-c dd", "dd", "dd"), C("bitesize", "-T 1 2", "dd", None),
    C("bitesize", "-p {pid}", "dd", None), C("bitesize", "-d vda", "dd", "Kbytes"),
    C("bitesize", "--json 1 2", "dd", None), C("bitesize", "-d nosuch", kind="bad"),
    # ---- filetop
    C("filetop", "-C 1 2", "open", None), C("filetop", "-C -a 1 2", "dd", None),
    C("filetop", "-C -s reads 1 2", "dd", None), C("filetop", "-C -r 3 -s wbytes 1 2", "dd", None),
    C("filetop", "-C -p {pid} 1 2", "dd", None), C("filetop", "-C --read-only 1 2", "dd", None),
    C("filetop", "-C --write-only 1 2", "dd", None), C("filetop", "-C -d /tmp 1 2", "dd", None),
    C("filetop", "--json 1 2", "dd", None), C("filetop", "-s bogus", kind="bad"),
    # ---- cpudist
    C("cpudist", "", "cpu", "usecs"), C("cpudist", "-O", "sleep", "usecs"), C("cpudist", "-m", "cpu", "msecs"),
    C("cpudist", "-P", "cpu", "pid"), C("cpudist", "-L", "cpu", "tid"), C("cpudist", "-T 1 2", "cpu", None),
    C("cpudist", "-p {pid}", "cpu", None), C("cpudist", "-c {cg}", "cpu", None),
    C("cpudist", "-I", "cpu", None), C("cpudist", "-e", "cpu", None),
    C("cpudist", "-O -P -m --json 1 2", "cpu", None), C("cpudist", "-p 999999999", kind="bad"),
    # ---- runqlat / runqlen
    C("runqlat", "", "cpu", "usecs"), C("runqlat", "-m", "cpu", "msecs"), C("runqlat", "-P", "cpu", "pid"),
    C("runqlat", "-L", "cpu", "tid"), C("runqlat", "--pidnss", "cpu", None), C("runqlat", "-T 1 2", "cpu", None),
    C("runqlat", "-p {pid}", "cpu", None), C("runqlat", "-c {cg}", "cpu", None),
    C("runqlat", "--json 1 2", "cpu", None), C("runqlat", "-P -L", kind="bad"),
    C("runqlen", "", "cpu", "runqlen"), C("runqlen", "-C", "cpu", "cpu"), C("runqlen", "-O", "cpu", "runqocc"),
    C("runqlen", "-T 1 2", "cpu", None), C("runqlen", "-c {cg}", "cpu", None), C("runqlen", "--json 1 2", "cpu", None),
    # ---- profile / offcputime
    C("profile", "", "cpu", "python"), C("profile", "-F 99 -f 2", "cpu", "python"),
    C("profile", "-F 99 -f -a 2", "cpu", None), C("profile", "-p {pid} -f 2", "cpu", "python"),
    C("profile", "-L {pid} 2", "cpu", None), C("profile", "-U 2", "cpu", None), C("profile", "-K 2", "cpu", None),
    C("profile", "-c 1000000 2", "cpu", None), C("profile", "-d -I 2", "cpu", None),
    C("profile", "-C 0 2", "cpu", None), C("profile", "--cgroup {cg} -f 2", "cpu", "python"),
    C("profile", "--cgroupmap {cgmap} -f 2", "cpu", "python"), C("profile", "--mntnsmap {mntnsmap} -f 2", "cpu", None),
    C("profile", "-A 2", "cpu", None), C("profile", "--json 2", "cpu", None),
    C("profile", "-F 0", kind="bad"), C("profile", "-C 999", kind="bad"), C("profile", "-F 99 -c 10", kind="bad"),
    C("offcputime", "", "sleep", None), C("offcputime", "-f 2", "sleep", "python"),
    C("offcputime", "-f -u -k 2", kind="bad"), C("offcputime", "-f -k 2", "sleep", None),
    C("offcputime", "-p {pid} -f 2", "sleep", "python"), C("offcputime", "-t {pid} 2", "sleep", None),
    C("offcputime", "-U -f 2", "sleep", None), C("offcputime", "-K -f 2", "sleep", None),
    C("offcputime", "-d -f 2", "sleep", None), C("offcputime", "-m 50000 -f 2", "sleep", "python"),
    C("offcputime", "-M 1000 -f 2", "sleep", None), C("offcputime", "--state 1 -f 2", "sleep", None),
    C("offcputime", "-s -f 2", kind="bad"), C("offcputime", "-s 2", "sleep", None), C("offcputime", "-c {cg} -f 2", "sleep", "python"),
    C("offcputime", "--json 2", "sleep", None), C("offcputime", "-u -k", kind="bad"),
    C("offcputime", "-m 10 -M 5", kind="bad"),
    # ---- hardirqs / softirqs
    C("hardirqs", "", "dd", None), C("hardirqs", "-C", "dd", None), C("hardirqs", "-d", "dd", None),
    C("hardirqs", "-N -T 1 2", "dd", None), C("hardirqs", "-c 0", "dd", None), C("hardirqs", "--json 1 2", "dd", None),
    C("softirqs", "", "tcp", None), C("softirqs", "-C", "tcp", None), C("softirqs", "-d", "tcp", "softirq"),
    C("softirqs", "-N -T 1 2", "tcp", None), C("softirqs", "-c 0", "tcp", None), C("softirqs", "--json 1 2", "tcp", None),
    C("softirqs", "-c 999", kind="bad"),
    # ---- tcp tools
    C("tcpconnect", "", "tcp", P), C("tcpconnect", "-t", "tcp", P), C("tcpconnect", "-p {pid}", "tcp", P),
    C("tcpconnect", "-P " + P, "tcp", P), C("tcpconnect", "-4", "tcp", P), C("tcpconnect", "-6", "tcp6", P),
    C("tcpconnect", "-L", "tcp", P), C("tcpconnect", "-U", "tcp", P), C("tcpconnect", "-u 0", "tcp", P),
    C("tcpconnect", "-c", "tcp", P), C("tcpconnect", "-d", "tcp", None),
    C("tcpconnect", "--cgroup {cg}", "tcp", P), C("tcpconnect", "--cgroupmap {cgmap}", "tcp", P),
    C("tcpconnect", "--mntnsmap {mntnsmap}", "tcp", P), C("tcpconnect", "-t -U -L --json", "tcp", None),
    C("tcpconnect", "-P 0", kind="bad"), C("tcpconnect", "-P 70000", kind="bad"), C("tcpconnect", "-4 -6", kind="bad"),
    C("tcpaccept", "", "tcp", P), C("tcpaccept", "-T", "tcp", P), C("tcpaccept", "-t", "tcp", P),
    C("tcpaccept", "-p {pid}", "tcp", P), C("tcpaccept", "-P " + P, "tcp", P), C("tcpaccept", "-4", "tcp", P),
    C("tcpaccept", "-6", "tcp6", P), C("tcpaccept", "--cgroup {cg}", "tcp", P),
    C("tcpaccept", "--cgroupmap {cgmap}", "tcp", P), C("tcpaccept", "--json", "tcp", None),
    C("tcpaccept", "-P " + P + ",22", "tcp", P),
    C("tcplife", "", "tcp", P), C("tcplife", "-T", "tcp", P), C("tcplife", "-t", "tcp", P),
    C("tcplife", "-w", "tcp", P), C("tcplife", "-s", "tcp", P), C("tcplife", "-p {pid}", "tcp", P),
    C("tcplife", "-L " + P, "tcp", P), C("tcplife", "-D " + P, "tcp", P), C("tcplife", "-4 -L 22 -D 80", "tcp", None),
    C("tcplife", "-6", "tcp6", P), C("tcplife", "-t -w --json", "tcp", None),
    C("tcplife", "-L 22,80", "tcp", None), C("tcplife", "-L abc", kind="bad"),
    C("tcpstates", "", "tcp", P), C("tcpstates", "-T", "tcp", P), C("tcpstates", "-t", "tcp", P),
    C("tcpstates", "-w", "tcp", P), C("tcpstates", "-s", "tcp", P), C("tcpstates", "-L " + P, "tcp", P),
    C("tcpstates", "-D " + P, "tcp", P), C("tcpstates", "-4", "tcp", P), C("tcpstates", "-6", "tcp6", P),
    C("tcpstates", "-Y", "tcp", None), C("tcpstates", "-T -t -w --json", "tcp", None),
    C("tcpretrans", "", "tcp", None), C("tcpretrans", "-l", "tcp", None), C("tcpretrans", "-c", "tcp", None),
    C("tcpretrans", "-s", "tcp", None), C("tcpretrans", "-4 --json", "tcp", None),
    C("bindsnoop", "", "bind", P), C("bindsnoop", "-t", "bind", P), C("bindsnoop", "-x", "bind", None),
    C("bindsnoop", "-p {pid}", "bind", P), C("bindsnoop", "-P " + P, "bind", P), C("bindsnoop", "-U", "bind", P),
    C("bindsnoop", "-u 0", "bind", P), C("bindsnoop", "-w", "bind", P), C("bindsnoop", "-E", "bind", P),
    C("bindsnoop", "--count", "bind", P), C("bindsnoop", "--cgroup {cg}", "bind", P),
    C("bindsnoop", "--cgroupmap {cgmap}", "bind", P), C("bindsnoop", "-t -x -w -U --json", "bind", None),
    # ---- capable
    C("capable", "", "mount", "CAP_SYS_ADMIN"), C("capable", "-v", "mount", None), C("capable", "-p {pid}", "mount", None),
    C("capable", "-K", "mount", None), C("capable", "-U", "mount", None), C("capable", "-x", "mount", None),
    C("capable", "--unique", "mount", "CAP_SYS_ADMIN"), C("capable", "-c {cg}", "mount", None),
    C("capable", "--cgroupmap {cgmap}", "mount", None), C("capable", "--mntnsmap {mntnsmap}", "mount", None),
    C("capable", "-v -x --unique --json", "mount", None), C("capable", "--hook kprobe", kind="bad"),
    # ---- oomkill, bashreadline, gethostlatency, memleak
    C("oomkill", "", "none", None), C("oomkill", "--json", "none", None),
    C("bashreadline", "", "none", None), C("bashreadline", "--json", "none", None),
    C("bashreadline", "-s /nonexistent/lib.so", kind="bad"),
    C("gethostlatency", "", "dns", "localhost"), C("gethostlatency", "-p {pid}", "dns", "localhost"),
    C("gethostlatency", "--json", "dns", "localhost"), C("gethostlatency", "-l /nonexistent.so", kind="bad"),
    C("memleak", "-p {pid} 1 2", "malloc", None), C("memleak", "-p {pid} -a 1 2", "malloc", None),
    C("memleak", "-p {pid} -T 3 -z 4000 -Z 5000 1 2", "malloc", None),
    C("memleak", "-p {pid} --combined-only 1 2", "malloc", None),
    C("memleak", "-p {pid} --sort count 1 2", "malloc", None),
    C("memleak", "-p {pid} -o 100 1 2", "malloc", None), C("memleak", "-p {pid} -s 2 1 2", "malloc", None),
    C("memleak", "-p {pid} -t 1 1", "malloc", None), C("memleak", "-p {pid} --json 1 2", "malloc", None),
    C("memleak", "-c 'sleep 1' 1 2", "none", None),
    C("memleak", "-z 10 -Z 5", kind="bad"), C("memleak", "-p 999999999", kind="bad"),
    # ---- funccount / funclatency / stackcount / argdist / trace
    C("funccount", "t:syscalls:sys_enter_getppid", "sys", "getppid"),
    C("funccount", "-i 1 -d 2 t:syscalls:sys_enter_getppid", "sys", None),
    C("funccount", "-T -i 1 -d 2 't:syscalls:sys_enter_get*'", "sys", None),
    C("funccount", "-p {pid} t:syscalls:sys_enter_getppid", "sys", "getppid"),
    C("funccount", "-r 'c:^getppid$'", "sys", None), C("funccount", "c:getppid", "sys", "getppid"),
    C("funccount", "-c 0 t:syscalls:sys_enter_getppid", "sys", None),
    C("funccount", "--json t:syscalls:sys_enter_getppid", "sys", None),
    C("funccount", "vfs_read", kind="bad"), C("funccount", "t:nosuch:tp", kind="bad"),
    C("funclatency", "c:getppid", "sys", "nsecs"), C("funclatency", "-u c:getppid", "sys", "usecs"),
    C("funclatency", "-m c:getppid", "sys", "msecs"), C("funclatency", "-p {pid} -F c:getppid", "sys", None),
    C("funclatency", "-i 1 -d 2 -T c:getppid", "sys", None), C("funclatency", "-l 1 c:getppid", "sys", None),
    C("funclatency", "--json c:getppid", "sys", None), C("funclatency", "-u -m c:getppid", kind="bad"),
    C("stackcount", "t:syscalls:sys_enter_getppid", "sys", "getppid"),
    C("stackcount", "-P -f t:syscalls:sys_enter_getppid", "sys", None),
    C("stackcount", "-p {pid} -U -D 2 t:syscalls:sys_enter_getppid", "sys", None),
    C("stackcount", "-K -s -D 2 t:syscalls:sys_enter_getppid", "sys", None),
    C("stackcount", "-i 1 -D 2 -T t:syscalls:sys_enter_getppid", "sys", None),
    C("stackcount", "-d -v -D 2 c:getppid", "sys", None),
    C("stackcount", "--json t:syscalls:sys_enter_getppid", "sys", None),
    C("argdist", "-C 't:syscalls:sys_enter_openat():int:args->flags'", "open", None),
    C("argdist", "-H 'p:c:write(int fd, const void *buf, size_t count):size_t:count' -i 1 -n 2", "dd", None),
    C("argdist", "-p {pid} -C 't:syscalls:sys_enter_openat():int:args->flags' -d 2", "open", None),
    C("argdist", "-T 2 -C 't:syscalls:sys_enter_openat():int:args->flags' -d 2", "open", None),
    C("argdist", "-c -C 't:syscalls:sys_enter_openat():int:args->flags' -d 2", "open", None),
    C("argdist", "--json -C 't:syscalls:sys_enter_openat():int:args->flags' -d 2", "open", None),
    C("argdist", "-C 'bogus'", kind="bad"),
    C("trace", "t:syscalls:sys_enter_getppid", "sys", "sys_enter_getppid"),
    C("trace", "-T -t -C 't:syscalls:sys_enter_openat \"%s\", args->filename'", "open", M),
    C("trace", "-p {pid} 't:syscalls:sys_enter_openat \"%s\", args->filename'", "open", M),
    C("trace", "-M 3 t:syscalls:sys_enter_getppid", "sys", None),
    C("trace", "-n python t:syscalls:sys_enter_getppid", "sys", None),
    C("trace", "-f hsweep 't:syscalls:sys_enter_openat \"%s\", args->filename'", "open", M),
    C("trace", "-U 'c:getppid'", "sys", None),
    C("trace", "--json t:syscalls:sys_enter_getppid", "sys", None),
    C("trace", "'t:syscalls:sys_enter_openat (args->flags & 1) \"%s\", args->filename'", "open", M + "-w"),
    # ---- what the sweep fixed, and bcc's options it lacked
    C("profile", "-p {pid},1 -f 2", "cpu", "python"), C("profile", "-L {pid},1 2", "cpu", None),
    C("profile", "-p 1,abc", kind="bad"), C("profile", "-C 99999999999", kind="bad"),
    C("biolatency", "-j 1 2", "dd", "interval-start"), C("biolatency", "-j -D 1 2", "dd", '"disk"'),
    C("biolatency", "-j -F -T 1 2", "dd", '"flags"'), C("biolatency", "-j --json", kind="bad"),
    C("funccount", "-c 1 -d 2 t:syscalls:sys_enter_getppid", "sys", None),
    C("funccount", "-c 4096 -d 2 t:syscalls:sys_enter_getppid", kind="bad"),
    C("funclatency", "-F 'c:str*'", "sys", None), C("exitsnoop", "-t --label=", "exec", "exit "),
    C("memleak", "-z -5", kind="bad"), C("memleak", "-o -1", kind="bad"),
    C("offcputime", "-m -1", kind="bad"), C("offcputime", "--state -1", kind="bad"),
    C("opensnoop", "-b 0", kind="bad"), C("killsnoop", "-s 65", kind="bad"),
    C("capable", "-K", "mount", None), C("vfsstat", "0 1", kind="bad"),
    C("trace", "'nosuch_fn'", kind="bad"), C("trace", "'t:syscalls:sys_enter_openat \"%d\"'", kind="bad"),
]


WORKLOAD = {"opensnoop": "open", "execsnoop": "exec", "exitsnoop": "exec", "killsnoop": "kill",
            "sigsnoop": "kill", "statsnoop": "stat", "mountsnoop": "mount", "vfsstat": "open",
            "capable": "mount", "gethostlatency": "dns", "memleak": "malloc",
            "bindsnoop": "bind", "offcputime": "sleep"}
for _t in ("biolatency", "biosnoop", "biotop", "bitesize", "filetop", "hardirqs"):
    WORKLOAD[_t] = "dd"
for _t in ("cpudist", "runqlat", "runqlen", "profile"):
    WORKLOAD[_t] = "cpu"
for _t in ("tcpconnect", "tcpaccept", "tcplife", "tcpstates", "tcpretrans", "softirqs"):
    WORKLOAD[_t] = "tcp"


def example_cases(tools: list[str]) -> list[dict]:
    """The example lines of each tool's -h epilog, pybpf's and bcc's (``./tool ARGS  #``),
    with their PIDs, cgroups and map paths made this run's."""
    cases, seen = [], set()
    for tool in tools:
        texts = [subprocess.run([PYBPF, tool, "-h"], capture_output=True, text=True).stdout]
        bcc = f"/usr/sbin/{tool}-bpfcc"
        if os.path.exists(bcc):
            texts.append(subprocess.run([bcc, "-h"], capture_output=True, text=True,
                                        timeout=30).stdout)
        for text in texts:
            for m in re.finditer(r"^\s+(?:pybpf |\./)" + re.escape(tool)
                                 + r"(?:\.py)?\b(.*?)(?:\s+#.*)?$", text, re.M):
                args = m.group(1).strip()
                args = re.sub(r"(-p|-t|-L|-P|--pid|--tid|--ppid)(\s+|=)\d+", r"\1 {pid}", args)
                args = re.sub(r"(--cgroupmap)\s+\S+", r"\1 {cgmap}", args)
                args = re.sub(r"(--mntnsmap)\s+\S+", r"\1 {mntnsmap}", args)
                args = re.sub(r"(-c|--cgroup)\s+/\S*cgroup\S*", r"\1 {cg}", args)
                args = args.replace("{", "{{").replace("}", "}}")
                args = re.sub(r"\{\{(pid|cgmap|mntnsmap|cg)\}\}", r"{\1}", args)
                if (tool, args) in seen:
                    continue
                seen.add((tool, args))
                cases.append(C(tool, args, WORKLOAD.get(tool, "sys"), None, kind="ex",
                               bcc=False))
    return cases


def tools_from_list() -> list[str]:
    out = subprocess.run([PYBPF, "list"], capture_output=True, text=True).stdout
    return [ln.split()[0] for ln in out.splitlines() if ln.strip()]


class Env:
    """The cgroup, pinned maps and temp dir the cases name; removed afterwards."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="hsweep-")
        os.chmod(self.dir, 0o755)
        self.cg = None
        for base in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
            if os.path.exists(os.path.join(base, "cgroup.procs")):
                self.cg = os.path.join(base, f"hsweep-{os.getpid()}")
                os.makedirs(self.cg, exist_ok=True)
                break
        self.cgmap = f"/sys/fs/bpf/hsweep_cg_{os.getpid()}"
        self.mntnsmap = f"/sys/fs/bpf/hsweep_mnt_{os.getpid()}"
        for path, name in ((self.cgmap, "cgroupset"), (self.mntnsmap, "mount_ns_set")):
            subprocess.run(["bpftool", "map", "create", path, "type", "hash", "key", "8",
                            "value", "8", "entries", "64", "name", name], check=True)
        if self.cg:
            self._put(self.cgmap, os.stat(self.cg).st_ino)
        self._put(self.mntnsmap, os.stat("/proc/self/ns/mnt").st_ino)
        return self

    @staticmethod
    def _put(path: str, key: int) -> None:
        kb = [str(b) for b in key.to_bytes(8, "little")]
        subprocess.run(["bpftool", "map", "update", "pinned", path, "key", *kb,
                        "value", *["1", "0", "0", "0", "0", "0", "0", "0"]], check=True)

    def subst(self, args: str) -> list[str]:
        """The case's arguments with the paths filled in ({pid} is left for run_one)."""
        s = args.format(pid="{pid}", ppid=os.getpid(), cg=self.cg or "/nonexistent",
                        cgmap=self.cgmap, mntnsmap=self.mntnsmap)
        return shlex.split(s)

    def __exit__(self, *exc):
        for p in (self.cgmap, self.mntnsmap):
            try:
                os.unlink(p)
            except OSError:
                pass
        if self.cg:
            try:
                os.rmdir(self.cg)
            except OSError:
                time.sleep(1)
                try:
                    os.rmdir(self.cg)
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Reader(threading.Thread):
    """Collects a pipe; ``head``: closes it after the first line, as ``| head -1``."""

    def __init__(self, f, head: bool = False):
        super().__init__(daemon=True)
        self.f, self.head, self.data, self.first = f, head, bytearray(), None

    def run(self):
        while True:
            b = self.f.read1(65536)
            if not b:
                return
            if self.first is None:
                self.first = time.monotonic()
            self.data += b
            if self.head and b"\n" in self.data:
                self.data = self.data[:self.data.index(b"\n") + 1]
                self.f.close()
                return


def self_ending(tool: str, argv: list[str]) -> bool:
    """Interval and count, or a duration: the tool ends by itself."""
    pos = [a for a in argv if re.fullmatch(r"\d+", a)]
    prev = {argv[i - 1] for i in range(1, len(argv))}
    if tool in ("profile", "offcputime") and argv and re.fullmatch(r"\d+", argv[-1]) \
            and (len(argv) < 2 or argv[-2] not in ("-F", "-c", "-C", "-p", "-t", "-L", "-m", "-M",
                                                    "--state", "-f")):
        return True
    if tool in ("vfsstat", "biolatency", "biotop", "bitesize", "filetop", "cpudist", "runqlat",
                "runqlen", "hardirqs", "softirqs", "memleak") and len(pos) >= 2 \
            and argv[-2].isdigit() and argv[-1].isdigit() and argv[-3:-2] != ["-p"]:
        return True
    return bool("-d" in prev and tool in ("syscount", "funccount", "funclatency", "argdist",
                                          "opensnoop")) \
        or bool("-D" in prev and tool in ("stackcount", "biosnoop")) \
        or "-M" in prev and tool == "trace" \
        or ("-n" in prev and tool == "argdist") or "--exec" in argv


def run_one(argv: list[str], wl: str, env: Env, helper: str, tool: str, kind: str,
            slot: int = 0) -> dict:
    """One run: helper gated, tool started, workload released, tool stopped; the record.
    ``slot``: the worker's own directory and port (workers run side by side)."""
    wdir = os.path.join(env.dir, f"w{slot}")
    os.makedirs(wdir, exist_ok=True)
    port = PORT + 10 * slot
    argv = [a.replace(str(PORT), str(port)) for a in argv]
    h = subprocess.Popen([sys.executable, helper, wl, wdir, str(port)],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    if env.cg:
        try:
            with open(os.path.join(env.cg, "cgroup.procs"), "w") as f:
                f.write(str(h.pid))
        except OSError:
            pass
    cmd = [a.replace("{pid}", str(h.pid)) for a in argv]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    out, err = Reader(p.stdout, kind == "head"), Reader(p.stderr)
    out.start()
    err.start()
    rec = dict(cmd=cmd, kind=kind, port=port)
    if kind == "bad":
        try:
            p.wait(timeout=25)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGINT)
            p.wait(timeout=10)
            rec["hung"] = True
        h.kill()
        h.wait()
    else:
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and out.first is None and err.first is None \
                and p.poll() is None:
            time.sleep(0.05)
        time.sleep(0.3)
        rec["ready"] = time.monotonic() - t0
        if kind == "head":
            # | head -1: take the first line, close the pipe, let the tool hit EPIPE
            while time.monotonic() < deadline + 5 and b"\n" not in out.data \
                    and p.poll() is None:
                time.sleep(0.05)
        try:
            h.stdin.write(b"go\n")
            h.stdin.close()
        except OSError:
            pass
        try:
            h.wait(timeout=15)
        except subprocess.TimeoutExpired:
            h.kill()
            h.wait()
        if kind == "head":
            time.sleep(1.0)
        else:
            time.sleep(1.2)
        if self_ending(tool, argv[1:]) and kind == "run":
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                rec["hung"] = True
        if p.poll() is None:
            rec["sigint"] = time.monotonic()
            os.killpg(p.pid, signal.SIGINT)
            try:
                # many uprobes take long to detach: the kernel unregisters them one at a
                # time, an RCU grace period each (funclatency 'c:str*': 110 links, 11 s)
                p.wait(timeout=30)
                rec["exit_s"] = time.monotonic() - rec["sigint"]
            except subprocess.TimeoutExpired:
                rec["hung"] = True
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    out.join(2)
    err.join(2)
    rec["rc"] = p.returncode
    rec["out"] = out.data.decode(errors="replace")
    rec["err"] = err.data.decode(errors="replace")
    return rec


HIST_HDR = re.compile(r"^\s*\S+\s+:\s+count\s+distribution")


def header(out: str) -> list[str] | None:
    """The first column header line (upper-case column names, or a histogram's)."""
    for ln in out.splitlines():
        if HIST_HDR.match(ln):
            return ln.split()
        toks = re.sub(r"\([^)]*\)", "", ln).split()
        if len(toks) >= 2 and all(re.fullmatch(r"[A-Z][A-Z0-9_%/:\-.]*", t) for t in toks):
            return ln.split()
    return None


def judge(c: dict, rec: dict, ref: dict | None) -> list[str]:
    """The failures of one run, as short words."""
    bad = []
    out, err = rec["out"], rec["err"]
    if "Traceback" in err or "Traceback" in out:
        bad.append("traceback")
    if rec.get("hung"):
        bad.append("hung")
    if c["kind"] == "bad":
        if rec["rc"] == 0:
            bad.append("accepted")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        errl = [ln for ln in lines if not ln.startswith(("usage:", " "))]
        if len(errl) != 1:
            bad.append(f"{len(errl)} error lines")
        return bad
    # what this host cannot do: kprobes, fentry, a journal; and for bcc's examples, the
    # disks, users, files and programs they name, which this host has not
    cannot = r"kprobe|fentry|fexit|trampoline|not supported|cannot attach|no systemd journal"
    if c["kind"] == "ex":
        cannot += (r"|no such (function|symbol)|not found in|no disk|unknown user|"
                   r"no probes match|No such file or directory|is not a process id")
    if c["kind"] in ("ex", "run") and rec["rc"] not in (0, None) \
            and re.search(cannot, err, re.I) and err.count("\n") <= 2 \
            and "Traceback" not in err:
        return ["n/a here: " + err.strip().splitlines()[-1][:90]]
    if c["kind"] == "head":
        if rec["rc"] not in (0, -signal.SIGPIPE, 141, 1) or err.strip():
            bad.append(f"head: rc {rec['rc']} err {err.strip()[:60]!r}")
        return bad
    if rec["rc"] != 0:
        bad.append(f"rc {rec['rc']}: {err.strip().splitlines()[-1][:80] if err.strip() else ''}")
    elif re.search(r"error|warning|exception",
                   re.sub(r".*could not be probed.*", "", err), re.I):   # a note, not an error
        bad.append("stderr: " + err.strip().splitlines()[0][:80])
    if "--json" in rec["cmd"] or (c["tool"] == "biolatency" and "-j" in rec["cmd"]):
        for ln in out.splitlines():
            # bcc's -j prints -T's time line between its records
            if ln.strip() and not ("--json" not in rec["cmd"] and re.fullmatch(
                    r"\d\d:\d\d:\d\d\s*", ln)):
                try:
                    json.loads(ln)
                except ValueError:
                    bad.append("json: " + ln[:60])
                    break
    marker = c["marker"] and c["marker"].replace(str(PORT), str(rec["port"]))
    if marker and marker not in out:
        bad.append(f"no marker {marker!r}")
    if ref is not None:
        mine, theirs = header(out), header(ref["out"])
        if theirs and mine != theirs:
            bad.append(f"header {mine} != bcc {theirs}")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="tools, comma separated")
    ap.add_argument("--skip", help="tools to leave out, comma separated")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="cases run side by side")
    ap.add_argument("--grep", help="only cases whose command line matches this regex")
    ap.add_argument("--bcc", action="store_true", help="compare headers with bcc's tools")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--examples", action="store_true",
                    help="run the -h epilog examples (pybpf's and bcc's) instead")
    ap.add_argument("--keep", help="write each run's output under this directory")
    ap.add_argument("--markdown", action="store_true", help="print the summary as a table")
    a = ap.parse_args()
    # stopped from a background job (SIGINT ignored there) or by kill: still clean up
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    known = set(tools_from_list())
    pool = example_cases(sorted(known)) if a.examples else CASES
    cases = [c for c in pool if (not a.only or c["tool"] in a.only.split(","))
             and (not a.skip or c["tool"] not in a.skip.split(","))
             and (not a.grep or re.search(a.grep, f"{c['tool']} {c['args']}"))]
    missing = sorted(known - {c["tool"] for c in CASES})
    if a.list:
        for c in cases:
            print(c["kind"], c["tool"], c["args"], f"[{c['wl']}]", c["marker"] or "")
        print(f"{len(cases)} cases; tools without cases: {missing}")
        return 0
    headers = None
    if a.bcc:
        from bench_bcc_tools import Headers
        headers = Headers()
        headers.__enter__()
    results = []
    try:
        with Env() as env:
            helper = os.path.join(env.dir, "helper.py")
            with open(helper, "x") as f:
                f.write(HELPER)
            lock = threading.Lock()
            slots = list(range(a.jobs))

            def one(i: int, c: dict):
                with lock:
                    slot = slots.pop()
                try:
                    argv = [PYBPF, c["tool"]] + env.subst(c["args"])
                    rec = run_one(argv, c["wl"], env, helper, c["tool"], c["kind"], slot)
                    ref = None
                    bccbin = f"/usr/sbin/{c['tool']}-bpfcc"
                    if a.bcc and c["kind"] == "run" and c["bcc"] and os.path.exists(bccbin) \
                            and "--json" not in c["args"]:
                        ref = run_one([bccbin] + argv[2:], c["wl"], env, helper, c["tool"],
                                      "run", slot)
                        if ref["rc"] not in (0, None) and not header(ref["out"]):
                            ref = None
                finally:
                    with lock:
                        slots.append(slot)
                fails = judge(c, rec, ref)
                with lock:
                    results.append((i, c, rec, fails))
                    status = "ok" if not fails else ("n/a " if na(fails) else "FAIL ") \
                        + "; ".join(fails)
                    print(f"[{i + 1}/{len(cases)}] {c['kind']:4} {c['tool']} {c['args']}: "
                          f"{status}", flush=True)
                if a.keep:
                    os.makedirs(a.keep, exist_ok=True)
                    with open(os.path.join(a.keep, f"{i:03d}-{c['tool']}.txt"), "w") as f:
                        f.write(f"$ {shlex.join(rec['cmd'])}\nrc {rec['rc']}\n--- stdout\n"
                                f"{rec['out']}\n--- stderr\n{rec['err']}\n")
                        if ref:
                            f.write(f"--- bcc stdout\n{ref['out']}\n--- bcc stderr\n"
                                    f"{ref['err']}\n")

            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(a.jobs) as pool_:
                list(pool_.map(lambda ic: one(*ic), enumerate(cases)))
            results.sort(key=lambda r: r[0])
            results[:] = [r[1:] for r in results]
    finally:
        if headers:
            headers.__exit__(None, None, None)
    summary(results, a.markdown, missing)
    return 1 if any(f and not na(f) for _, _, f in results) else 0


def na(fails: list[str]) -> bool:
    """A run this host cannot do (an example that needs kprobes): not a failure."""
    return bool(fails) and fails[0].startswith("n/a")


def summary(results, markdown: bool, missing: list[str]) -> None:
    per: dict = {}
    nas = 0
    for c, _, fails in results:
        t = per.setdefault(c["tool"], [0, 0, []])
        t[0] += 1
        if na(fails):
            nas += 1
        elif fails:
            t[1] += 1
            t[2].append(f"`{c['args'] or '(none)'}` ({c['kind']}): {'; '.join(fails)}")
    total = sum(v[0] for v in per.values())
    failed = sum(v[1] for v in per.values())
    print(f"({nas} runs not possible on this host: kprobes or fentry needed)")
    if markdown:
        print("\n| tool | runs | failed | failures |\n|---|---:|---:|---|")
        for t, (n, f, what) in sorted(per.items()):
            print(f"| {t} | {n} | {f} | {'<br>'.join(what) or ''} |")
        print(f"| **all** | **{total}** | **{failed}** | |")
    else:
        print(f"\n{total} runs over {len(per)} tools, {failed} failed")
        for t, (n, f, what) in sorted(per.items()):
            for w in what:
                print(f"  {t}: {w}")
    if missing:
        print(f"tools without cases: {', '.join(missing)}")


if __name__ == "__main__":
    sys.exit(main())
