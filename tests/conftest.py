"""Shared test setup: the kernel gate, mounts, and the suite-wide leak check."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import settings

from pybpf import errors

REQUIRE_KERNEL = os.environ.get("PYBPF_REQUIRE_KERNEL") == "1"

# The fuzz tests draw the same examples on every run unless asked to explore: a run (CI's
# included) passes or fails on the code, not on a new draw.  PYBPF_HYPOTHESIS=explore draws
# fresh examples each run (what a developer hunting bugs wants).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("PYBPF_HYPOTHESIS", "repeatable"))

pytest_plugins = ["tests.vm.plugin"] if os.path.exists(
    os.path.join(os.path.dirname(__file__), "vm", "plugin.py")) else []


def _kernel_state() -> str | None:
    """None when bpf(2) works here, else why it does not."""
    try:
        from pybpf._sys import attr, syscall
        from pybpf._sys.uapi import Cmd, MapType
        fd = syscall.bpf(Cmd.MAP_CREATE, attr.MapCreate(
            map_type=MapType.ARRAY, key_size=4, value_size=4, max_entries=1, map_name=b"pt_probe"))
        os.close(fd)
        return None
    except errors.PybpfError as e:
        return str(e)


_WHY_NO_KERNEL = _kernel_state()


def pytest_configure(config):
    config.addinivalue_line("markers", "kernel: needs bpf(2) on the running kernel")
    # A suite started as a background job of a shell without job control (`sh script &`)
    # inherits SIGINT ignored, and so would every child it starts: a user's script the
    # tests stop with SIGINT (Ctrl-C) would never see it.  Children get the default back.
    import signal
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):
    if _WHY_NO_KERNEL is None:
        return
    for item in items:
        if item.get_closest_marker("kernel") or item.get_closest_marker("needs_hook"):
            if REQUIRE_KERNEL:
                item.add_marker(_fail_marker(_WHY_NO_KERNEL))
            else:
                item.add_marker(pytest.mark.skip(reason=f"no usable bpf(2): {_WHY_NO_KERNEL}"))


def _fail_marker(why: str):
    return pytest.mark.usefixtures("_kernel_required_but_absent")


@pytest.fixture
def _kernel_required_but_absent():
    pytest.fail(f"PYBPF_REQUIRE_KERNEL=1 but bpf(2) is unusable: {_WHY_NO_KERNEL}")


@pytest.fixture(scope="session")
def bpffs():
    """A mounted bpffs root and a per-session directory in it, removed at the end."""
    from pybpf import bpffs as fs
    root = fs.ensure_mounted()
    d = os.path.join(root, f"pybpf-test-{os.getpid()}")
    os.makedirs(d, exist_ok=True)
    yield d
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    os.rmdir(d)


@pytest.fixture
def disk_tmp(tmp_path):
    """A directory on a real block device, for tests doing block I/O (O_DIRECT): tmp_path
    here, a fresh one on the guest's attached disk in a kernel-matrix guest (its /tmp is
    tmpfs).  The plugin attaches that disk to guests running a test that asks for it."""
    if os.environ.get("PYBPF_IN_VM") != "1":
        yield tmp_path
        return
    import pathlib
    import shutil

    from tests.vm.disk import NoDisk, guest_disk_dir
    try:
        d = guest_disk_dir()
    except NoDisk as e:
        pytest.fail(str(e))
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def corpus_objs(tmp_path_factory):
    """The corpus of libbpf-style objects (tests/corpus) compiled once per session, stem ->
    object path: several files parse, compare or load it, none changes it (one build is
    ~50 clang runs against the full vmlinux.h)."""
    from tests.corpus import build
    return build.build(tmp_path_factory.mktemp("corpus"))


# ---- leak check: no program or map created by the suite may outlive it ----------------

_FDINFO_ID = re.compile(rb"^(prog_id|map_id):\s*(\d+)", re.M)


def _ids_held_by_other_processes() -> set[tuple[str, int]]:
    """(kind, id) of bpf objects some other process holds an fd to."""
    held: set[tuple[str, int]] = set()
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fdinfo")
        except OSError:
            continue
        for fd in fds:
            try:
                with open(f"/proc/{pid}/fdinfo/{fd}", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            for m in _FDINFO_ID.finditer(data):
                held.add((m.group(1).decode()[:-3], int(m.group(2))))
    return held


def _snapshot() -> set[tuple[str, int]]:
    from pybpf import info
    return {(k, i) for k in ("prog", "map") for i in info.ids(k)}


def pytest_sessionstart(session):
    session.config._pybpf_before = _snapshot() if _WHY_NO_KERNEL is None else None


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_pybpf_before", None)
    if before is None or os.environ.get("PYBPF_LEAK_CHECK") == "0" or os.environ.get(
            "PYTEST_XDIST_WORKER"):
        return
    import time
    # the kernel frees closed objects (and maps a freed program held) asynchronously,
    # after RCU grace periods that a loaded machine stretches past a second
    for _ in range(100):
        leaked = _snapshot() - before - _ids_held_by_other_processes()
        if not leaked:
            return
        time.sleep(0.05)
    from pybpf import info
    lines = []
    for kind, i in sorted(leaked):
        try:
            with info.fd_by_id(kind, i) as fd:
                inf = info.get_info(fd.fileno(), kind)
            lines.append(f"  {kind} id {i} name {inf.name!r} type {inf.type_name}")
        except errors.PybpfError:
            continue  # went away meanwhile
    if lines:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        msg = "LEAK CHECK FAILED: kernel objects created by the suite outlived it:\n" + \
            "\n".join(lines)
        if tr:
            tr.write_line(msg, red=True)
        session.exitstatus = 1
