"""The kernel-matrix plugin's pure parts: how the guest's tests split into lanes."""

from __future__ import annotations

from tests.vm.plugin import lane_names, split_lanes

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
