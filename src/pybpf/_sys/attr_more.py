"""ctypes layouts of ``union bpf_attr`` (and info structures) that a tool's start does not
use: batch map ops, pinning, test runs, ids, queries, link updates, stats.  Reached as
``pybpf._sys.attr.X`` like the others (see :mod:`.attr`, whose conventions they follow)."""

from __future__ import annotations

import ctypes
from ctypes import c_uint32, c_uint64

from .attr import _Attr


class MapBatch(_Attr):
    _fields_ = [
        ("in_batch", c_uint64), ("out_batch", c_uint64), ("keys", c_uint64),
        ("values", c_uint64), ("count", c_uint32), ("map_fd", c_uint32),
        ("elem_flags", c_uint64), ("flags", c_uint64),
    ]


class ObjPin(_Attr):
    """BPF_OBJ_PIN / BPF_OBJ_GET."""
    _fields_ = [("pathname", c_uint64), ("bpf_fd", c_uint32), ("file_flags", c_uint32)]


class ProgAttach(_Attr):
    """BPF_PROG_ATTACH / BPF_PROG_DETACH (legacy, non-link attachment)."""
    _fields_ = [("target_fd", c_uint32), ("attach_bpf_fd", c_uint32), ("attach_type", c_uint32),
                ("attach_flags", c_uint32), ("replace_bpf_fd", c_uint32)]


class TestRun(_Attr):
    _fields_ = [
        ("prog_fd", c_uint32), ("retval", c_uint32), ("data_size_in", c_uint32),
        ("data_size_out", c_uint32), ("data_in", c_uint64), ("data_out", c_uint64),
        ("repeat", c_uint32), ("duration", c_uint32), ("ctx_size_in", c_uint32),
        ("ctx_size_out", c_uint32), ("ctx_in", c_uint64), ("ctx_out", c_uint64),
        ("flags", c_uint32), ("cpu", c_uint32), ("batch_size", c_uint32),
    ]


class GetId(_Attr):
    """BPF_*_GET_NEXT_ID (start_id -> next_id) and BPF_*_GET_FD_BY_ID (id, open_flags)."""
    _fields_ = [("id", c_uint32), ("next_id", c_uint32), ("open_flags", c_uint32)]


class ProgQuery(_Attr):
    _fields_ = [("target_fd", c_uint32), ("attach_type", c_uint32), ("query_flags", c_uint32),
                ("attach_flags", c_uint32), ("prog_ids", c_uint64), ("prog_cnt", c_uint32),
                ("_pad", c_uint32), ("prog_attach_flags", c_uint64)]


class LinkUpdate(_Attr):
    _fields_ = [("link_fd", c_uint32), ("new_prog_fd", c_uint32), ("flags", c_uint32),
                ("old_prog_fd", c_uint32)]


class LinkDetach(_Attr):
    _fields_ = [("link_fd", c_uint32)]


class IterCreate(_Attr):
    _fields_ = [("link_fd", c_uint32), ("flags", c_uint32)]


class EnableStats(_Attr):
    _fields_ = [("type", c_uint32)]


# --- info structures filled by BPF_OBJ_GET_INFO_BY_FD ---------------------------------

class BtfInfo(ctypes.Structure):
    _fields_ = [("btf", c_uint64), ("btf_size", c_uint32), ("id", c_uint32),
                ("name", c_uint64), ("name_len", c_uint32), ("kernel_btf", c_uint32)]


class LinkInfo(ctypes.Structure):
    """bpf_link_info header; the per-type tail is kept as raw bytes."""
    _fields_ = [("type", c_uint32), ("id", c_uint32), ("prog_id", c_uint32),
                ("_pad", c_uint32), ("tail", ctypes.c_uint8 * 48)]
