"""ctypes layouts of ``union bpf_attr``, one Structure per group of commands.

The kernel accepts a shorter attr than it knows (unknown tail = zero) and
rejects a longer one whose unknown tail is non-zero (E2BIG), so each layout
stops at the last field pybpf sets.  Field order and sizes follow
include/uapi/linux/bpf.h; pointers travel as u64.  The layouts a tool's start does not
use are in :mod:`.attr_more`, reached through this module all the same.
"""

from __future__ import annotations

import ctypes
from ctypes import c_char, c_int32, c_uint32, c_uint64


class _Attr(ctypes.Structure):
    """Base: keyword construction, and every field defaults to zero."""


class MapCreate(_Attr):
    _fields_ = [
        ("map_type", c_uint32), ("key_size", c_uint32), ("value_size", c_uint32),
        ("max_entries", c_uint32), ("map_flags", c_uint32), ("inner_map_fd", c_uint32),
        ("numa_node", c_uint32), ("map_name", c_char * 16), ("map_ifindex", c_uint32),
        ("btf_fd", c_uint32), ("btf_key_type_id", c_uint32), ("btf_value_type_id", c_uint32),
        ("btf_vmlinux_value_type_id", c_uint32), ("map_extra", c_uint64),
    ]


class MapElem(_Attr):
    """BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM, GET_NEXT_KEY (value = next_key), FREEZE."""
    _fields_ = [("map_fd", c_uint32), ("_pad", c_uint32), ("key", c_uint64),
                ("value", c_uint64), ("flags", c_uint64)]


class ProgLoad(_Attr):
    _fields_ = [
        ("prog_type", c_uint32), ("insn_cnt", c_uint32), ("insns", c_uint64),
        ("license", c_uint64), ("log_level", c_uint32), ("log_size", c_uint32),
        ("log_buf", c_uint64), ("kern_version", c_uint32), ("prog_flags", c_uint32),
        ("prog_name", c_char * 16), ("prog_ifindex", c_uint32),
        ("expected_attach_type", c_uint32), ("prog_btf_fd", c_uint32),
        ("func_info_rec_size", c_uint32), ("func_info", c_uint64), ("func_info_cnt", c_uint32),
        ("line_info_rec_size", c_uint32), ("line_info", c_uint64), ("line_info_cnt", c_uint32),
        ("attach_btf_id", c_uint32), ("attach_btf_obj_fd", c_uint32),  # or attach_prog_fd
        ("core_relo_cnt", c_uint32), ("fd_array", c_uint64), ("core_relos", c_uint64),
        ("core_relo_rec_size", c_uint32), ("log_true_size", c_uint32),
    ]


class InfoByFd(_Attr):
    _fields_ = [("bpf_fd", c_uint32), ("info_len", c_uint32), ("info", c_uint64)]


class RawTracepointOpen(_Attr):
    _fields_ = [("name", c_uint64), ("prog_fd", c_uint32), ("_pad", c_uint32),
                ("cookie", c_uint64)]


class BtfLoad(_Attr):
    _fields_ = [("btf", c_uint64), ("btf_log_buf", c_uint64), ("btf_size", c_uint32),
                ("btf_log_size", c_uint32), ("btf_log_level", c_uint32),
                ("btf_log_true_size", c_uint32)]


class _LinkTarget(ctypes.Union):
    """The per-link-type tail of BPF_LINK_CREATE."""

    class _Iter(ctypes.Structure):
        _fields_ = [("iter_info", c_uint64), ("iter_info_len", c_uint32)]

    class _PerfEvent(ctypes.Structure):
        _fields_ = [("bpf_cookie", c_uint64)]

    class _KprobeMulti(ctypes.Structure):
        _fields_ = [("flags", c_uint32), ("cnt", c_uint32), ("syms", c_uint64),
                    ("addrs", c_uint64), ("cookies", c_uint64)]

    class _Tracing(ctypes.Structure):
        _fields_ = [("target_btf_id", c_uint32), ("_pad", c_uint32), ("cookie", c_uint64)]

    class _Netfilter(ctypes.Structure):
        _fields_ = [("pf", c_uint32), ("hooknum", c_uint32), ("priority", c_int32),
                    ("flags", c_uint32)]

    class _Tcx(ctypes.Structure):
        _fields_ = [("relative_fd", c_uint32), ("_pad", c_uint32),
                    ("expected_revision", c_uint64)]

    class _UprobeMulti(ctypes.Structure):
        _fields_ = [("path", c_uint64), ("offsets", c_uint64), ("ref_ctr_offsets", c_uint64),
                    ("cookies", c_uint64), ("cnt", c_uint32), ("flags", c_uint32),
                    ("pid", c_uint32)]

    _fields_ = [("target_btf_id", c_uint32), ("iter", _Iter), ("perf_event", _PerfEvent),
                ("kprobe_multi", _KprobeMulti), ("tracing", _Tracing),
                ("netfilter", _Netfilter), ("tcx", _Tcx), ("uprobe_multi", _UprobeMulti)]


class LinkCreate(_Attr):
    _fields_ = [("prog_fd", c_uint32), ("target_fd", c_uint32),  # target_fd or target_ifindex
                ("attach_type", c_uint32), ("flags", c_uint32), ("u", _LinkTarget)]


class ProgBindMap(_Attr):
    _fields_ = [("prog_fd", c_uint32), ("map_fd", c_uint32), ("flags", c_uint32)]


# --- info structures filled by BPF_OBJ_GET_INFO_BY_FD ---------------------------------

class ProgInfo(ctypes.Structure):
    _fields_ = [
        ("type", c_uint32), ("id", c_uint32), ("tag", ctypes.c_uint8 * 8),
        ("jited_prog_len", c_uint32), ("xlated_prog_len", c_uint32),
        ("jited_prog_insns", c_uint64), ("xlated_prog_insns", c_uint64),
        ("load_time", c_uint64), ("created_by_uid", c_uint32), ("nr_map_ids", c_uint32),
        ("map_ids", c_uint64), ("name", c_char * 16), ("ifindex", c_uint32),
        ("gpl_compatible", c_uint32), ("netns_dev", c_uint64), ("netns_ino", c_uint64),
        ("nr_jited_ksyms", c_uint32), ("nr_jited_func_lens", c_uint32),
        ("jited_ksyms", c_uint64), ("jited_func_lens", c_uint64), ("btf_id", c_uint32),
        ("func_info_rec_size", c_uint32), ("func_info", c_uint64), ("nr_func_info", c_uint32),
        ("nr_line_info", c_uint32), ("line_info", c_uint64), ("jited_line_info", c_uint64),
        ("nr_jited_line_info", c_uint32), ("line_info_rec_size", c_uint32),
        ("jited_line_info_rec_size", c_uint32), ("nr_prog_tags", c_uint32),
        ("prog_tags", c_uint64), ("run_time_ns", c_uint64), ("run_cnt", c_uint64),
        ("recursion_misses", c_uint64), ("verified_insns", c_uint32),
        ("attach_btf_obj_id", c_uint32), ("attach_btf_id", c_uint32),
    ]


class MapInfo(ctypes.Structure):
    _fields_ = [
        ("type", c_uint32), ("id", c_uint32), ("key_size", c_uint32), ("value_size", c_uint32),
        ("max_entries", c_uint32), ("map_flags", c_uint32), ("name", c_char * 16),
        ("ifindex", c_uint32), ("btf_vmlinux_value_type_id", c_uint32),
        ("netns_dev", c_uint64), ("netns_ino", c_uint64), ("btf_id", c_uint32),
        ("btf_key_type_id", c_uint32), ("btf_value_type_id", c_uint32),
        ("btf_vmlinux_id", c_uint32), ("map_extra", c_uint64),
    ]


def __getattr__(name: str):
    # the layouts a tool's start does not use live in attr_more (making ctypes classes
    # costs ~25 us each); attr.X finds them all the same
    from . import attr_more
    try:
        value = getattr(attr_more, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value
