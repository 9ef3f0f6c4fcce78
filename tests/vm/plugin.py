"""pytest plugin: ``--kernel-matrix`` runs the ``needs_hook`` tests again in a VM.

The guest boots a Debian kernel packaged in apt (kprobes, fentry/fexit and BPF LSM on) with
virtme-ng under qemu (TCG: nested KVM is not usable here; 9p: virtiofsd fails here), sees
this machine's files read-only plus a writable scratch dir, and runs those tests as root.
The VM boots when the host tests start and runs beside them at the lowest CPU priority
(``nice`` 19: TCG would take both cores, and at equal priority it made timing-sensitive
host tests flaky), on what the host tests leave idle; PYBPF_VM_BESIDE=0 runs it after
them instead.  Each guest result comes back as a test of its own,
``<test>[vm-<kernel>]``, in this same pytest run.  Tests marked ``every_kernel`` run in
it too, and in guests of their own on older kernels (:data:`OLD_SERIES`); those marked
``old_kernels`` in the latter only.  The guests
read this machine's files through a cached 9p view (:func:`cached_view`).
A guest running a test that takes conftest's ``disk_tmp`` gets a scratch disk
(tests/vm/disk.py).
With PYBPF_REQUIRE_KERNEL=1, a needs_hook test whose hook was absent on every kernel
fails: no hook ships untested.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import pytest

from . import ABSENT, disk

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IN_VM = os.environ.get("PYBPF_IN_VM") == "1"
REQUIRE = os.environ.get("PYBPF_REQUIRE_KERNEL") == "1"
VM_TIMEOUT = int(os.environ.get("PYBPF_VM_TIMEOUT", "1500"))
BESIDE = os.environ.get("PYBPF_VM_BESIDE", "1") != "0"
BOOT_TRIES = 3
VM_NICE = 19
# Guest test processes side by side (PYBPF_VM_LANES, default 1): the guest runs one test at
# a time and so uses under one of its two vCPUs (0.83 host cores when alone, hci2's
# measurement); lanes split it by file.  Not the default until shown flake-free.
LANES = max(1, int(os.environ.get("PYBPF_VM_LANES", "1") or "1"))


def pytest_addoption(parser):
    parser.addoption("--kernel-matrix", action="store_true",
                     help="also run needs_hook tests in a VM on a second kernel")


def guest_kernel() -> str | None:
    """The guest kernel image: $PYBPF_VM_KERNEL, else the newest packaged -amd64 image."""
    env = os.environ.get("PYBPF_VM_KERNEL")
    if env:
        return env
    images = sorted(glob.glob("/boot/vmlinuz-*-amd64"), key=_version_key)
    return images[-1] if images else None


# The older kernels the tests marked every_kernel also run on, one guest each: Debian 12's
# own (6.1: bounds not carried between registers a constant apart, before 6.11) and
# Debian 11's (5.10: BPF memory charged to RLIMIT_MEMLOCK, no task storage for tracing,
# no bpf cookies or perf-event links, no compare-and-swap, older BTF kinds).
OLD_SERIES = ("6.1", "5.10")


def old_kernels() -> dict[str, str | None]:
    """series -> the newest packaged image of it (None: not installed);
    $PYBPF_VM_OLD_KERNELS (colon-separated images) replaces the lot."""
    env = os.environ.get("PYBPF_VM_OLD_KERNELS")
    if env:
        return {os.path.basename(p): p for p in env.split(":") if p}
    found = {}
    for series in OLD_SERIES:
        images = sorted(glob.glob(f"/boot/vmlinuz-{series}.*-amd64"), key=_version_key)
        found[series] = images[-1] if images else None
    return found


def _version_key(path: str):
    ver = os.path.basename(path).removeprefix("vmlinuz-")
    return [int(x) if x.isdigit() else 0 for x in ver.replace("+", ".").replace("-", ".")
            .split(".")]


# Drivers udev's coldplug loads for qemu's emulated PC (disk/CD, watchdogs, kvm, crypto,
# input): half a minute of module loading under TCG, and no test touches them.  libkmod
# (so udev) honours modprobe.blacklist from the kernel command line.
_BLACKLIST = "modprobe.blacklist=" + ",".join([
    "kvm", "kvm_amd", "kvm_intel", "ahci", "libahci", "libata", "sr_mod", "cdrom", "sg",
    "scsi_mod", "iTCO_wdt", "iTCO_vendor_support", "i6300esb", "lpc_ich", "i2c_i801",
    "pcspkr", "powernow_k8", "aesni_intel", "crypto_simd", "cryptd", "ghash_clmulni_intel",
    "sha1_ssse3", "sha256_ssse3", "sha512_ssse3", "polyval_clmulni", "psmouse", "evdev",
    "serio_raw", "joydev", "mousedev", "intel_rapl_msr", "intel_rapl_common", "floppy",
    "parport_pc", "ppdev", "bochs", "drm_vram_helper"])


# This machine's root exported to the guest a second time, read-only, for cached_view():
# virtme mounts its own 9p exports with no cache, so every stat and read of the guest's
# root (python's imports, clang's 100 MB binary at each run) is a round trip through
# qemu's emulated virtio; a virtio 9p channel takes one mount, hence a channel of its own.
HOST_TAG = "pybpfhost"
_HOST_FS = (f"-virtfs local,path=/,mount_tag={HOST_TAG},security_model=none,readonly=on,"
            "multidevs=remap")
_VIEW = "/run/pybpf-host"


def vng_argv(vng: str, kernel: str, scratch: str, cmd: str, cpus: int = 2) -> list[str]:
    """virtme-ng's command line for one guest run of shell command ``cmd``: this
    machine's root over 9p (read-only; again as HOST_TAG for cached_view), ``scratch``
    writable, kprobes/fentry/BPF LSM on (also used by bench/bench_bcc_guest.py)."""
    return [vng, "-r", kernel, "--disable-kvm", "--force-9p", "--memory", "2G",
            f"--qemu-opts={_HOST_FS}",
            # no_timer_check: under TCG on a loaded host the kernel's early check of the
            # IO-APIC timer can fail and panic ("IO-APIC + timer doesn't work!")
            "--cpus", str(cpus), "--append",
            "lsm=lockdown,capability,bpf no_timer_check " + _BLACKLIST,
            "--rwdir", scratch, "--verbose", "--exec", cmd]


def cached_view(dirs: list[str], cache: str) -> str:
    """Shell text a guest runs first: HOST_TAG mounted with ``cache=loose`` (the guest
    keeps what it has looked up and read: 9p stats measured 13 ms each without it, and
    a warm ``clang --version`` 1.6 s instead of 12 s) and bound over /usr and ``dirs``,
    which nothing changes while the guest runs; the host-made ``cache`` (pybpf's cache:
    vmlinux.h, PCH) seen the same way under a guest-memory overlay for what the guest
    writes, at its own path (clang's PCH records the paths of its headers).  Without
    the view, all of these are read as they are, uncached."""
    import shlex
    q = shlex.quote
    binds = " && ".join(f"mount --bind {q(_VIEW + d)} {q(d)}" for d in ["/usr", *dirs])
    ov = "/run/pybpf-cache"
    return (f"if mkdir -p {_VIEW} && mount -t 9p -o ro,trans=virtio,version=9p2000.L,"
            f"msize=524288,cache=loose {HOST_TAG} {_VIEW} && {binds} && "
            f"mkdir -p {ov}/u {ov}/w && mount -t overlay overlay -o "
            f"{q(f'lowerdir={_VIEW}{cache},upperdir={ov}/u,workdir={ov}/w')} {q(cache)}; "
            f"then :; "
            f"else echo 'pybpf: no cached view of the host, guest files stay uncached' >&2; "
            f"fi\n")


def split_lanes(nodeids: list[str], n: int) -> list[list[str]]:
    """``nodeids`` in ``n`` lanes, each test file whole in one lane (a file's tests share
    module fixtures and kernel state such as trace_pipe), the files with most tests placed
    first, each on the lane with fewest tests; a lane keeps the files' order."""
    files: dict[str, list[str]] = {}
    for node in nodeids:
        files.setdefault(node.split("::", 1)[0], []).append(node)
    order = list(files)
    lanes: list[list[str]] = [[] for _ in range(max(1, n))]
    for f in sorted(order, key=lambda f: -len(files[f])):
        min(lanes, key=len).append(f)
    out = [[node for f in order if f in lane for node in files[f]] for lane in lanes]
    return [lane for lane in out if lane] or [[]]


def lane_names(i: int) -> tuple[str, str, str]:
    """(ids file, JUnit XML, output) of lane ``i`` in the scratch dir."""
    sfx = f"-{i}" if i else ""
    return f"ids{sfx}", f"vm{sfx}.xml", f"out{sfx}.txt"


class _Guest:
    """One VM run of the selected tests; results parsed from its JUnit XML."""

    def __init__(self, nodeids: list[str], kernel: str | None = None, with_disk: bool = False):
        self.kernel = kernel or guest_kernel()
        self.label = "vm-" + (os.path.basename(self.kernel).removeprefix("vmlinuz-")
                              if self.kernel else "none")
        self.scratch = tempfile.mkdtemp(prefix="pybpf-vm-")
        self.results: dict[str, tuple[str, str]] | None = None
        self.times: dict[str, float] = {}
        self.phases: dict[str, float] = {}
        self.boot: float | None = None
        self.wall = time.time()
        self.absent: set[str] = set()
        self.error = ""
        self.started = time.monotonic()
        self.seconds = 0.0
        self.proc = None
        self.boots = 1          # qemu runs so far (a guest that died booting is run again)
        self.stopping = False
        self._watcher = None
        self.nodeids = nodeids
        self.with_disk = with_disk      # attach a scratch disk (tests/vm/disk.py)
        self.prebuilt = None
        self.seed = None
        self.prebuild_note = ""
        self.lanes = 1
        self._end = 0.0
        self.after: _Guest | None = None    # boot once that guest is done (old kernels)
        self._chain = None
        self.prep_lock = None           # shared by the guests: one host prep at a time
        self.prep_seconds = 0.0
        self.ended: float | None = None  # monotonic time qemu exited for good

    def start(self) -> None:
        self.started = time.monotonic()
        self.wall = time.time()
        nodeids = self.nodeids
        vng = shutil.which("vng") or os.path.join(REPO, ".vm-venv", "bin", "vng")
        if not self.kernel or not os.path.exists(vng):
            self.error = "no guest kernel or virtme-ng: run scripts/setup-vm"
            return
        # what the host makes for the guest (its BTF header, PCH, bytecode), read-only
        # to the guest through the cached view: the scratch dir holds only what the
        # guest writes.  Made before the boot (_prepare); the guest still waits for the
        # "ready" file before its first look at them
        self.seed = tempfile.mkdtemp(prefix="pybpf-vmseed-")
        self.prebuilt = prebuilt = tempfile.mkdtemp(prefix="pybpf-vmobj-")
        # the environment as the run began: the prep's thread must not see what a host
        # test sets meanwhile (monkeypatch: a private XDG_CACHE_HOME, ...)
        self._env = dict(os.environ)
        cbuilt = os.path.join(self.seed, "cbuild")     # the tests' C workloads (_cbuild)
        os.mkdir(cbuilt, 0o700)
        env_line = (f"PYBPF_IN_VM=1 PYBPF_REQUIRE_KERNEL={os.environ.get('PYBPF_REQUIRE_KERNEL', '')} "
                    # this checkout's sources (the venv's editable install may be another's)
                    f"PYTHONPATH={REPO}/src "
                    f"{'PYBPF_PREBUILT=' + prebuilt + ' ' if prebuilt else ''}"
                    f"PYBPF_TEST_CBUILT={cbuilt} "
                    # bytecode made here (_precompile), shared by every guest process
                    f"PYTHONPYCACHEPREFIX={self.seed}/pycache HOME={self.scratch} "
                    f"XDG_CACHE_HOME={self.seed}/cache PYBPF_HOOK_LOG={self.scratch}/absent")
        # the test ids go through a file: virtme passes --exec on the guest's kernel command
        # line, which overflows (an early-boot panic) past 2 KB on x86
        qemu_disk = []
        if self.with_disk:
            try:
                qemu_disk = disk.vng_args(disk.make_image(self.scratch))
            except disk.NoDisk as e:    # the guest's disk tests fail, naming it
                self.prebuild_note += f"; no guest disk: {e}"
        runs = []
        for i, lane in enumerate(split_lanes(nodeids, LANES)):
            ids, xml, out = (os.path.join(self.scratch, n) for n in lane_names(i))
            with open(ids, "w") as f:
                f.write("".join(n + "\n" for n in lane))
            runs.append(f"{env_line} xargs -d '\\n' -a {ids} "
                        f"{REPO}/.venv/bin/python -m pytest -q -p no:cacheprovider "
                        f"-o addopts= --junitxml={xml} > {out} 2>&1")
        self.lanes = len(runs)
        # the guest touches "booted" first: its mtime (set by the host's 9p server) against
        # self.wall tells the boot time apart from the tests' time.  The rest goes through
        # a script: the command lines would overflow --exec's
        with open(os.path.join(self.scratch, "run.sh"), "w") as f:
            f.write(cached_view([REPO, os.path.join(self.seed, "pycache"), cbuilt]
                                + ([prebuilt] if prebuilt else []),
                                os.path.join(self.seed, "cache"))
                    + (disk.guest_mount() if qemu_disk else "")
                    + f"cd {REPO} || exit 1\n"
                    + ("".join(r + " &\n" for r in runs) + "wait\n" if len(runs) > 1
                       else runs[0] + "\n"))
        # the scratch dir is virtme's uncached 9p export: a file the host makes there is
        # seen at the next stat
        cmd = (f"touch {self.scratch}/booted; while [ ! -e {self.scratch}/ready ]; "
               f"do sleep 0.5; done; sh {self.scratch}/run.sh")
        path = os.path.dirname(vng) + os.pathsep + os.environ.get("PATH", "")
        self._launch = lambda: subprocess.Popen(
            vng_argv(vng, self.kernel, self.scratch, cmd) + qemu_disk,
            stdout=open(os.path.join(self.scratch, "console.txt"), "ab"),
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(os.environ, PATH=path), cwd=REPO,
            # a process group of its own: stop() ends vng, virtme-run and qemu together
            # (killing vng alone left qemu running, orphaned, for the rest of the hour)
            start_new_session=True,
            # qemu and its vCPU threads inherit it: the host tests come first
            preexec_fn=lambda: os.nice(VM_NICE) if BESIDE else None)
        # the prep runs before the boot, not beside it (session 20's CI: a prep thread
        # in pytest's process took CPU and the GIL from the host tests, the long pole,
        # and its compilers' forks showed up in a test that counts this process's forks)
        self._prepare()
        import threading
        self.wall = time.time()         # qemu starts: the boot is timed from here
        self.proc = self._launch()
        self._watcher = threading.Thread(target=self._reboot_if_unbooted, daemon=True)
        self._watcher.start()

    def _prepare(self) -> None:
        """The host's share, before the guest's boot:
        objects, the guest kernel's vmlinux.h and PCH, bytecode; then "ready" in the
        scratch dir, whatever failed (the guest then makes what is missing itself)."""
        t = time.monotonic()
        try:
            if self.prep_lock is not None:
                self.prep_lock.acquire()    # guests' preps share the host cache: the
            try:                            # second finds the first's compiles there
                self._prebuild()
                self._seed_btf()
                self._precompile()
                self._cbuild()
            finally:
                if self.prep_lock is not None:
                    self.prep_lock.release()
        finally:
            self.prep_seconds = time.monotonic() - t
            with open(os.path.join(self.scratch, "ready"), "w"):
                pass

    def start_after(self, other: "_Guest") -> None:
        """Boot once ``other`` has finished: the old kernels' guests take turns, so at most
        two guests share the host's CPUs with its tests."""
        import threading

        def chain():
            if other._chain is not None:
                other._chain.join()
            if other._watcher is not None:
                other._watcher.join(VM_TIMEOUT)
            if not self.error and not self.stopping:
                self.start()
        self._chain = threading.Thread(target=chain, daemon=True)
        self._chain.start()

    def _reboot_if_unbooted(self) -> None:
        """Boot again (BOOT_TRIES in all) when qemu ends before the guest ran anything: a
        guest kernel that panics early exits at once (virtme boots it with panic=-1 and
        qemu -no-reboot), while the host tests still run beside."""
        booted = os.path.join(self.scratch, "booted")
        while True:
            self.proc.wait()
            if os.path.exists(booted) or self.boots >= BOOT_TRIES or self.stopping:
                self.ended = time.monotonic()
                return
            self.boots += 1
            self.wall = time.time()
            self.proc = self._launch()

    def _prebuild(self) -> str | None:
        """Compile every bundled and example ``.bpf.c`` here (CO-RE objects are portable;
        mostly compile-cache hits after the host tests) into a private directory the
        guest reads (PYBPF_PREBUILT), so its emulated CPU runs no clang for them."""
        import sys
        if os.path.join(REPO, "src") not in sys.path:
            sys.path.insert(0, os.path.join(REPO, "src"))
        from pybpf import prebuilt
        t = time.monotonic()
        srcs = sorted(glob.glob(os.path.join(REPO, "src", "pybpf", "**", "*.bpf.c"),
                                recursive=True)
                      + glob.glob(os.path.join(REPO, "examples", "*", "*.bpf.c")))
        try:
            from pybpf.cache import Cache
            base = self._env.get("XDG_CACHE_HOME") or os.path.join(
                os.path.expanduser("~"), ".cache")
            n = prebuilt.build(self.prebuilt, srcs, cache=Cache(os.path.join(base, "pybpf")))
        except Exception as e:          # an empty directory: the guest compiles them itself
            self.prebuild_note += f"; prebuild failed: {e}"
            return None
        self.prebuild_note += f"; {n}/{len(srcs)} objects prebuilt in {time.monotonic() - t:.0f} s"
        return self.prebuilt

    def _precompile(self) -> None:
        """Bytecode for the guest, made here into its PYTHONPYCACHEPREFIX: this checkout's
        modules and pytest's rewritten tests had none (read-only checkout, and
        PYTHONDONTWRITEBYTECODE), so every guest process compiled them again under TCG;
        a host collection of the same tests writes what the guest's pytest imports."""
        import sys
        t = time.monotonic()
        env = dict(self._env, PYTHONPYCACHEPREFIX=os.path.join(self.seed, "pycache"),
                   PYBPF_IN_VM="1", PYTHONPATH=os.path.join(REPO, "src"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "2",
                        os.path.join(REPO, "src"), os.path.join(REPO, "tests")],
                       cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([os.path.join(REPO, ".venv", "bin", "python"), "-m", "pytest", "-q",
                        "-p", "no:cacheprovider", "-o", "addopts=", "--collect-only",
                        *self.nodeids], cwd=REPO, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.prebuild_note += f"; guest bytecode made here in {time.monotonic() - t:.0f} s"

    def _cbuild(self) -> None:
        """The tests' C workloads (tests/cbuild.py), built here for the guest: its cc
        under TCG took ~80 s for one (old guests, tool_many)."""
        t = time.monotonic()
        try:
            from tests import cbuild
            n = cbuild.build_all(os.path.join(self.seed, "cbuild"))
        except Exception as e:          # the guest builds them itself
            self.prebuild_note += f"; test workloads not built here: {e}"
            return
        self.prebuild_note += f"; {n} test workloads built here in {time.monotonic() - t:.0f} s"

    def _seed_btf(self) -> None:
        """The guest kernel's vmlinux.h and BTF index, made here from its image into the
        guest's cache (tests/vm/guestbtf.py): not generated in pure Python under TCG."""
        import sys
        t = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "tests.vm.guestbtf", self.kernel],
                           cwd=REPO, capture_output=True, text=True,
                           env=dict(self._env, XDG_CACHE_HOME=os.path.join(self.seed, "cache"),
                                    PYTHONPATH=os.path.join(REPO, "src")))
        self.prebuild_note += (f"; guest vmlinux.h made here in {time.monotonic() - t:.0f} s"
                               if r.returncode == 0 else
                               f"; guest vmlinux.h not made here: {r.stderr.strip()[-300:]}")

    def wait(self) -> None:
        if self.results is not None:
            return
        if self._chain is not None:
            self._chain.join()
        if self.proc is None and not self.error and not self.stopping:
            self.start()
        self.results = {}
        if self.proc is None:
            return
        self._watcher.join(max(1.0, VM_TIMEOUT - (time.monotonic() - self.started)))
        if self._watcher.is_alive():
            self.stop()
            self.error = f"the VM did not finish in {VM_TIMEOUT} s"
        # when qemu ended, not when this wait came (after the host tests: the old
        # guests' "1018 s" of CI e1 was that)
        self.seconds = (self.ended or time.monotonic()) - self.started
        try:
            self.boot = os.stat(os.path.join(self.scratch, "booted")).st_mtime - self.wall
        except OSError:
            self.boot = None
        try:
            waited = (os.stat(os.path.join(self.scratch, "ready")).st_mtime
                      - os.stat(os.path.join(self.scratch, "booted")).st_mtime)
            if waited > 0:
                self.phases["waited for the host's prep"] = waited
        except OSError:
            pass
        try:
            with open(os.path.join(self.scratch, "absent")) as f:
                self.absent = {ln.strip() for ln in f if ln.strip()}
        except OSError:
            pass
        roots = []
        for i in range(self.lanes):
            _, xml, out = (os.path.join(self.scratch, n) for n in lane_names(i))
            try:
                roots.append(ET.parse(xml).getroot())
            except (OSError, ET.ParseError):
                self.error = self.error or f"the guest produced no results:\n{_tail(out, self.scratch)}"
        if not roots:
            return
        for root in roots:
            self._parse(root)

    def _parse(self, root) -> None:
        """One lane's JUnit XML into results, times and phases (the latest lane's end)."""
        for suite in root.iter("testsuite"):
            # the guest's session: when it started (python and pytest up), how long it ran
            try:
                import datetime
                t0 = datetime.datetime.fromisoformat(suite.get("timestamp", "")).timestamp()
                booted = os.stat(os.path.join(self.scratch, "booted")).st_mtime
                start = t0 - booted
                self.phases["pytest start"] = min(start, self.phases.get("pytest start", start))
                end = start + float(suite.get("time") or 0)
                self._end = max(end, self._end)
                self.phases["session"] = self._end - self.phases["pytest start"]
            except (ValueError, OSError):
                self.phases["session"] = max(float(suite.get("time") or 0),
                                             self.phases.get("session", 0.0))
        for case in root.iter("testcase"):
            cls, name = case.get("classname", ""), case.get("name", "")
            node = cls.replace(".", "/") + ".py::" + name
            status, text = "passed", ""
            for tag in ("failure", "error", "skipped"):
                el = case.find(tag)
                if el is not None:
                    status = tag
                    text = (el.get("message") or "") + "\n" + (el.text or "")
                    break
            self.results[node] = (status, text)
            self.times[node] = float(case.get("time") or 0)

    def stop(self) -> None:
        """Kill the guest (no boot again) and wait for it."""
        self.stopping = True
        if self.proc is not None and self.proc.poll() is None:
            _kill_group(self.proc)
        if self._watcher is not None:
            self._watcher.join()

    def cleanup(self) -> None:
        for d in (self.scratch, self.seed, self.prebuilt):
            if d:
                shutil.rmtree(d, ignore_errors=True)


def _kill_group(proc) -> None:
    """SIGKILL the process group ``proc`` leads (started with start_new_session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _tail(out: str, scratch: str) -> str:
    """The end of a lane's output, else of the guest's console (boot panic, 9p, ...)."""
    for path in (out, os.path.join(scratch, "console.txt")):
        try:
            with open(path, "rb") as f:
                return f.read()[-4000:].decode(errors="replace")
        except OSError:
            continue
    return ""


class VMFailure(Exception):
    pass


class VMItem(pytest.Item):
    """The guest's result of one host test."""

    def __init__(self, *, guest: _Guest, target: str, **kw):
        super().__init__(**kw)
        self.guest, self.target = guest, target

    def runtest(self):
        g = self.guest
        g.wait()
        if g.error and not g.results:
            raise VMFailure(g.error)
        status, text = g.results.get(self.target, ("missing", ""))
        if status == "missing":
            raise VMFailure(f"{self.target} did not run in the guest ({g.label})"
                            + (f": {g.error}" if g.error else ""))
        if status in ("failure", "error"):
            raise VMFailure(f"failed on {g.label}:\n{text}")
        if status == "skipped":
            pytest.skip(f"skipped on {g.label}: {text.strip()}")

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, VMFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, self.name


def pytest_configure(config):
    config._pybpf_guests = []
    if not IN_VM and config.getoption("--kernel-matrix") and \
            signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        # a SIGTERM (CI's timeout, a killed job) ends the run as ^C does, so
        # pytest_sessionfinish kills the guests: by default pytest dies at once and
        # leaves them running
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def wants_disk(items) -> bool:
    """Whether a guest running ``items`` needs the scratch disk: one of them takes
    conftest's ``disk_tmp`` (block I/O tests).  The others' guests go without."""
    return any("disk_tmp" in getattr(it, "fixturenames", ()) for it in items)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    if IN_VM or not config.getoption("--kernel-matrix"):
        return
    # old_kernels: the old guests only (what differs on old kernels, where the 6.12
    # guest, CI's long pole, would add time and little else)
    every = [it for it in items if it.get_closest_marker("every_kernel")
             or it.get_closest_marker("old_kernels")]
    hooked = [it for it in items if it.get_closest_marker("needs_hook")
              or it.get_closest_marker("every_kernel")]
    if not hooked and not every:
        return
    guests = [(_Guest([it.nodeid for it in hooked], with_disk=wants_disk(hooked)), hooked)
              ] if hooked else []
    previous = None
    for series, image in old_kernels().items() if every else ():
        g = _Guest([it.nodeid for it in every], kernel=image or "none",
                   with_disk=wants_disk(every))
        if not image:
            g.label = f"vm-{series}"
            g.error = (f"no {series} kernel image for the old-kernel guest: run "
                       "scripts/setup-vm")
        else:
            g.after, previous = previous, g
        guests.append((g, every))
    for guest, its in guests:
        config._pybpf_guests.append(guest)
        for it in its:
            items.append(VMItem.from_parent(it.parent, name=f"{it.name}[{guest.label}]",
                                            guest=guest, target=it.nodeid))


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """Boot the guests as the host tests start, so they run beside them (not with
    --collect-only, nor where a test failed to collect: pytest runs nothing then)."""
    if not BESIDE or session.config.option.collectonly or session.testsfailed:
        return
    import threading
    prep_lock = threading.Lock()
    for g in session.config._pybpf_guests:
        g.prep_lock = prep_lock
        if g.error:
            continue
        if g.after is not None:
            g.start_after(g.after)
        else:
            g.start()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.option.collectonly:       # nothing ran: no guest to wait for (or boot)
        return
    for g in getattr(config, "_pybpf_guests", []):
        _summary(terminalreporter, g)


def _summary(terminalreporter, g) -> None:
    g.wait()
    terminalreporter.write_line(f"kernel matrix: guest {g.label} ran "
                                f"{len(g.results or {})} tests in {g.seconds:.0f} s"
                                + (f" (boot {g.boot:.0f} s)" if g.boot is not None else "")
                                + (f"; qemu ran {g.boots} times (a guest that died "
                                   f"booting ran again)" if g.boots > 1 else "")
                                + (f"; host prep {g.prep_seconds:.0f} s before the boot"
                                   if g.prep_seconds else "")
                                + (f"{g.prebuild_note}" if g.prebuild_note else ""))
    if g.phases:
        tests = sum(g.times.values())
        terminalreporter.write_line(
            "kernel matrix: guest phases: " + ", ".join(f"{k} {v:.0f} s" for k, v in
                                                         g.phases.items())
            + f", tests {tests:.0f} s (collection and the rest "
              f"{g.phases.get('session', tests) - tests:.0f} s)"
            + (f", {g.lanes} lanes side by side" if g.lanes > 1 else ""))
    slow = sorted(g.times.items(), key=lambda kv: -kv[1])
    if slow:
        terminalreporter.write_line("kernel matrix: slowest guest tests: " + ", ".join(
            f"{node.split('::', 1)[-1]} {t:.0f} s" for node, t in slow[:8]))
    nowhere = sorted(ABSENT & g.absent)
    if nowhere:
        terminalreporter.write_line(
            "kernel matrix: hooks absent on every kernel for: " + ", ".join(nowhere),
            red=REQUIRE)


def pytest_sessionfinish(session, exitstatus):
    guests = getattr(session.config, "_pybpf_guests", [])
    try:
        for g in guests:
            if session.config.option.collectonly:
                g.cleanup()
                continue
            if exitstatus == pytest.ExitCode.INTERRUPTED:
                _stop(g)
            g.wait()
            if REQUIRE and (ABSENT & g.absent):
                session.exitstatus = 1
            g.cleanup()
    except KeyboardInterrupt:
        # ^C or SIGTERM while waiting for a guest: none is left running
        for g in guests:
            _stop(g)
            g.cleanup()
        raise


def _stop(g: "_Guest") -> None:
    g.stopping = True           # no guest boots now (a chained one waits)
    if g.proc is not None:
        g.stop()                # nor waiting for one already booted
