"""The kernel-matrix plugin's pure parts: how the guest's tests split into lanes, its
reboot of a guest that died booting, and the cached view of this machine's files."""

from __future__ import annotations

import os

from tests.vm.plugin import HOST_TAG, cached_view, lane_names, split_lanes, vng_argv

IDS = ["tests/a.py::t1", "tests/a.py::t2", "tests/a.py::t3", "tests/b.py::t1",
       "tests/c.py::t1", "tests/c.py::t2", "tests/d.py::t1"]


def test_one_lane_is_the_tests_as_given():
    assert split_lanes(IDS, 1) == [IDS]
    assert lane_names(0) == ("ids", "vm.xml", "out.txt")     # the single-run names


def test_two_lanes_keep_each_file_whole_and_in_order():
    lanes = split_lanes(IDS, 2)
    assert len(lanes) == 2
    assert sorted(n for lane in lanes for n in lane) == sorted(IDS)   # each test once
    for lane in lanes:
        assert lane == [n for n in IDS if n in lane]                   # the given order
    files = [{n.split("::")[0] for n in lane} for lane in lanes]
    assert not files[0] & files[1]                                     # no file split
    assert sorted(len(lane) for lane in lanes) == [3, 4]               # a.py (3) vs the rest
    assert lane_names(1) == ("ids-1", "vm-1.xml", "out-1.txt")


def test_more_lanes_than_files_leaves_no_empty_lane():
    assert split_lanes(["tests/a.py::t"], 4) == [["tests/a.py::t"]]
    assert split_lanes([], 2) == [[]]


def test_a_guest_that_dies_booting_is_booted_again(tmp_path):
    """qemu ending before the guest touched "booted" (an early kernel panic) runs it again,
    BOOT_TRIES in all; a boot that got through is not repeated; stop() ends the retries."""
    import os
    import subprocess
    import threading

    from tests.vm import plugin

    def run(fail_first: int):
        g = plugin._Guest.__new__(plugin._Guest)
        g.scratch, g.boots, g.stopping, g.started = str(tmp_path), 1, False, 0.0
        runs = []

        def launch():
            runs.append(1)
            ok = len(runs) > fail_first
            return subprocess.Popen(["sh", "-c", f"touch {tmp_path}/booted" if ok else "true"])
        g._launch = launch
        g.proc = launch()
        g._watcher = threading.Thread(target=g._reboot_if_unbooted)
        g._watcher.start()
        g._watcher.join(30)
        os.unlink(tmp_path / "booted") if (tmp_path / "booted").exists() else None
        return g.boots, len(runs)

    assert run(0) == (1, 1)                       # booted: once
    assert run(1) == (2, 2)                       # died once, booted the second time
    assert run(5) == (plugin.BOOT_TRIES, plugin.BOOT_TRIES)     # gives up


def test_cached_view_binds_each_dir_and_overlays_the_cache_at_its_own_path():
    text = cached_view(["/work/main", "/tmp/odd dir"], "/tmp/seed/cache")
    assert f"cache=loose {HOST_TAG} /run/pybpf-host" in text
    for d in ("/usr", "/work/main"):
        assert f"mount --bind /run/pybpf-host{d} {d}" in text
    assert "mount --bind '/run/pybpf-host/tmp/odd dir' '/tmp/odd dir'" in text
    # clang's PCH records its headers' paths: the cache must stay where the host made it
    assert "lowerdir=/run/pybpf-host/tmp/seed/cache," in text
    assert text.rstrip().endswith("fi") and " /tmp/seed/cache; then" in text


def test_the_guest_gets_the_export_the_view_mounts():
    argv = vng_argv("vng", "/boot/vmlinuz", "/tmp/s", "true")
    (opt,) = [a for a in argv if a.startswith("--qemu-opts=")]
    assert f"mount_tag={HOST_TAG}" in opt and "readonly=on" in opt


def test_the_host_prep_says_ready_even_when_it_fails(tmp_path):
    """The guest waits for "ready" in its scratch dir before it mounts what the host made:
    _prepare writes it after the three steps, in order, one guest's prep at a time, and
    also when a step raises (the guest then compiles for itself)."""
    import threading

    from tests.vm import plugin
    g = plugin._Guest.__new__(plugin._Guest)
    g.scratch, g.prep_lock = str(tmp_path), threading.Lock()
    done = []
    g._prebuild = lambda: done.append(("prebuild", g.prep_lock.locked()))
    g._seed_btf = lambda: done.append(("btf", g.prep_lock.locked()))
    g._precompile = lambda: done.append(("bytecode", (tmp_path / "ready").exists()))
    g._cbuild = lambda: done.append(("workloads", g.prep_lock.locked()))
    g._prepare()
    assert done == [("prebuild", True), ("btf", True), ("bytecode", False),
                    ("workloads", True)]
    assert (tmp_path / "ready").exists() and not g.prep_lock.locked()
    assert g.prep_seconds >= 0

    (tmp_path / "ready").unlink()

    def boom():
        raise RuntimeError("clang gone")
    g._prebuild = boom
    try:
        g._prepare()
    except RuntimeError:
        pass
    assert (tmp_path / "ready").exists() and not g.prep_lock.locked()


def test_the_guest_waits_for_ready_before_its_script():
    import inspect

    from tests.vm import plugin
    src = inspect.getsource(plugin._Guest.start)
    # "booted" first (the boot's time), then the wait, then the script that mounts
    assert src.index("/booted") < src.index("/ready") < src.index("/run.sh")


def test_the_guest_copies_a_workload_built_on_the_host(tmp_path, monkeypatch):
    """cbuild: every tests/data workload built here under its source's hash; a guest
    (PYBPF_TEST_CBUILT) copies it to its own temp dir under the plain name instead of
    compiling; an edited source (another hash) is compiled again."""
    import filecmp

    from tests import cbuild
    assert cbuild.build_all(str(tmp_path)) >= 10
    monkeypatch.setenv(cbuild.ENV, str(tmp_path))
    monkeypatch.setattr(cbuild, "_built", {})
    ready = tmp_path / cbuild._keyed("tool_sleep")
    calls = []
    monkeypatch.setattr(cbuild.subprocess, "run", lambda *a, **k: calls.append(a))
    out = cbuild.build("tool_sleep")
    assert os.path.basename(out) == "tool_sleep" and filecmp.cmp(out, ready, shallow=False)
    assert os.access(out, os.X_OK) and calls == []
    monkeypatch.setattr(cbuild, "_keyed", lambda name: name + "-edited")
    monkeypatch.setattr(cbuild, "_built", {})
    cbuild.build("tool_sleep")
    assert len(calls) == 1 and calls[0][0][0] == "cc"


def test_stopping_a_guest_ends_its_whole_process_group(tmp_path):
    """A guest stopped at its time limit: vng's children (virtme-run, qemu) end with it,
    not only vng (CI run hci3-1: an orphaned qemu ran on for half an hour)."""
    import subprocess
    import time

    from tests.vm import plugin
    pidfile = tmp_path / "grandchild"
    proc = subprocess.Popen(["sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait"],
                            start_new_session=True)
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.05)
    grandchild = int(pidfile.read_text())
    plugin._kill_group(proc)
    assert proc.returncode is not None
    for _ in range(200):
        try:
            with open(f"/proc/{grandchild}/stat") as f:
                if f.read().split(") ", 1)[1][0] == "Z":    # reaped by init soon
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        os.kill(grandchild, 9)
        raise AssertionError("the grandchild outlived its group's kill")
