"""``from bcc import lib`` (pybpf.bcc.libbcc), root-free: the calls scripts make, on an
object standing in for the BPF module, and one line for any other."""

from __future__ import annotations

import pytest

from pybpf import errors
from pybpf.bcc.libbcc import lib
from pybpf.bcc.run import BccFinder


class FakeTable:
    map_fd = 42


class FakeBPF:
    _entry = {"programs": {"prog_a": None, "prog_b": None}}

    def __iter__(self):
        return iter(["counts", "events"])

    def __len__(self):
        return 2

    def get_table(self, name):
        if name != "counts":
            raise KeyError(name)
        return FakeTable()


def test_table_and_function_calls():
    m = FakeBPF()
    assert lib.bpf_table_fd(m, b"counts") == 42
    assert lib.bpf_table_fd(m, b"missing") == -1
    assert lib.bpf_num_tables(m) == 2
    assert lib.bpf_table_id(m, b"events") == 1 and lib.bpf_table_id(m, "x") == -1
    assert lib.bpf_table_name(m, 0) == b"counts" and lib.bpf_table_name(m, 5) is None
    assert lib.bpf_num_functions(m) == 2
    assert lib.bpf_function_name(m, 1) == b"prog_b"


def test_other_names_fail_in_one_line_naming_what_exists():
    with pytest.raises(errors.NotSupportedError) as e:
        lib.bpf_attach_uprobe
    assert "bpf_table_fd" in str(e.value) and "\n" not in str(e.value)


def test_bcc_lib_and_attach_types_import_under_pybpf_run():
    import sys
    finder = BccFinder()
    sys.meta_path.insert(0, finder)
    try:
        sys.modules.pop("bcc", None)
        from bcc import BPFAttachType, lib as bcc_lib      # sockmap.py's import
        assert bcc_lib is lib
        assert int(BPFAttachType.CGROUP_SOCK_OPS) == 3
        assert int(BPFAttachType.SK_MSG_VERDICT) == 7
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop("bcc", None)
