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
