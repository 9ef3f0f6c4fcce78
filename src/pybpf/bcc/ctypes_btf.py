"""Moved to :mod:`pybpf.ctypes_btf` (public); kept so existing imports work."""

from ..ctypes_btf import Converter, TypeTable, export_types  # noqa: F401
