"""Encoding Python values into the bytes of a global variable known only by its size
(no BTF); typed variables go through :mod:`pybpf.typedvalue`."""

from __future__ import annotations

from ..typedvalue import encode_untyped as encode_value  # noqa: F401
