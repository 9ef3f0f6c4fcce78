"""``bench_bcc_tools.py --guest``: the same tool runs in the kernel-matrix guest.

One boot of the guest of tests/vm (a packaged Debian kernel with kprobes and fentry,
virtme-ng under qemu, this machine's root over 9p read-only) runs the bench itself
(``--in-guest``) over the whole tool list; its runs come back through a writable scratch
dir and merge into --raw.  Before the boot, as the test VM does: the guest kernel's
vmlinux.h and BTF index are made here into the guest's pybpf cache (tests/vm/guestbtf.py),
and the Python bytecode of pybpf and the bench, so the emulated CPU does neither.
bcc compiles against /lib/modules/<guest release>/build: Debian's
linux-headers-<release> package must be installed here (the guest sees this root).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VENV_PY = os.path.join(REPO, ".venv", "bin", "python")


def _release(kernel: str) -> str:
    return os.path.basename(kernel).removeprefix("vmlinuz-")


def _prepare(kernel: str, scratch: str) -> None:
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(scratch, "cache"),
               PYTHONPATH=os.path.join(REPO, "src"))
    t = time.monotonic()
    r = subprocess.run([VENV_PY, "-m", "tests.vm.guestbtf", kernel], cwd=REPO, env=env,
                       capture_output=True, text=True)
    if r.returncode:
        print(f"guest vmlinux.h not made here: {r.stderr.strip()[-300:]}", file=sys.stderr)
    env = dict(env, PYTHONPYCACHEPREFIX=os.path.join(scratch, "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for py in (VENV_PY, "/usr/bin/python3"):
        subprocess.run([py, "-m", "compileall", "-q", "-j", "2", os.path.join(REPO, "src"),
                        HERE], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    print(f"guest prepared here in {time.monotonic() - t:.0f} s", flush=True)


def _merge(raw: str, results: dict, out: str) -> bool:
    """The guest's runs (written after each tool) into ``results`` and ``out``."""
    try:
        with open(raw) as f:
            got = json.load(f)
    except (OSError, ValueError):
        return False
    results.update(got)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    return True


def run_guest(a, tools: list[str], results: dict) -> int:
    """Boot the guest once, run ``tools`` (both ways, or --only) in it, merge the runs
    into ``results`` and --raw.  The VM is killed on every way out."""
    sys.path.insert(0, REPO)
    from tests.vm import plugin
    kernel = plugin.guest_kernel()
    vng = shutil.which("vng") or os.path.join(REPO, ".vm-venv", "bin", "vng")
    if not kernel or not os.path.exists(vng):
        print("no guest kernel or virtme-ng: run scripts/setup-vm", file=sys.stderr)
        return 1
    release = _release(kernel)
    if not os.path.isdir(f"/lib/modules/{release}/build"):
        print(f"bcc needs the guest kernel's headers: apt-get install "
              f"linux-headers-{release}", file=sys.stderr)
        return 1
    scratch = tempfile.mkdtemp(prefix="pybpf-bench-vm-")
    proc = None
    try:
        _prepare(kernel, scratch)
        raw = os.path.join(scratch, "raw.json")
        # the tool list goes through a file: virtme passes the command on the guest's
        # kernel command line, which overflows past 2 KB
        ids = os.path.join(scratch, "tools")
        with open(ids, "w") as f:
            f.write(",".join(tools))
        argv = ["/usr/bin/python3", os.path.join(HERE, "bench_bcc_tools.py"), "--in-guest",
                "--raw", raw, "--tools", "@" + ids, "--seconds", str(a.seconds),
                "--startup", str(a.startup), "--self-limit", str(a.self_limit)]
        if a.only:
            argv += ["--only", a.only]
        if a.scripts:
            argv += ["--scripts", os.path.abspath(a.scripts)]
        env_line = (f"PYBPF_IN_VM=1 PYTHONPATH={REPO}/src "
                    f"PYTHONPYCACHEPREFIX={scratch}/pycache HOME={scratch} "
                    f"XDG_CACHE_HOME={scratch}/cache")
        log = os.path.join(scratch, "out.txt")
        cmd = f"cd {REPO} && {env_line} {' '.join(argv)} > {log} 2>&1"
        path = os.path.dirname(vng) + os.pathsep + os.environ.get("PATH", "")
        t = time.monotonic()
        proc = subprocess.Popen(plugin.vng_argv(vng, kernel, scratch, cmd, a.vm_cpus),
                                stdout=open(os.path.join(scratch, "console.txt"), "wb"),
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, PATH=path), cwd=REPO,
                                start_new_session=True)
        print(f"guest {release} booting; its progress: {log}", flush=True)
        try:
            proc.wait(timeout=a.vm_timeout)
        except subprocess.TimeoutExpired:
            print(f"the guest did not finish in {a.vm_timeout:.0f} s: its runs so far "
                  "are kept", file=sys.stderr)
        print(f"guest ran {time.monotonic() - t:.0f} s", flush=True)
        if not _merge(os.path.join(scratch, "raw.json"), results, a.raw):
            for name in ("out.txt", "console.txt"):
                try:
                    with open(os.path.join(scratch, name), "rb") as f:
                        tail = f.read()[-3000:].decode(errors="replace")
                except OSError:
                    continue
                print(f"the guest produced no runs; {name}:\n{tail}", file=sys.stderr)
                break
            return 1
        return 0
    except BaseException:
        # interrupted: the runs the guest finished so far are kept all the same
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        _merge(os.path.join(scratch, "raw.json"), results, a.raw)
        raise
    finally:
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        if os.environ.get("PYBPF_BENCH_KEEP_SCRATCH"):
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
