"""Encoding Python values into the bytes of a global variable (no heavy imports: the
warm-start path uses it)."""

from __future__ import annotations

import struct


def encode_value(value: object, size: int, signed: bool, name: str) -> bytes:
    """Bytes of ``value`` for a variable of ``size`` bytes."""
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        raw = value.encode() if isinstance(value, str) else bytes(value)
        if len(raw) > size:
            raise ValueError(f"{name}: {len(raw)} bytes do not fit in {size}")
        return raw + bytes(size - len(raw))
    if isinstance(value, float):
        if size not in (4, 8):
            raise TypeError(f"{name}: cannot store a float in {size} bytes")
        return struct.pack("<f" if size == 4 else "<d", value)
    if isinstance(value, int):
        try:
            return int(value).to_bytes(size, "little", signed=signed or value < 0)
        except OverflowError:
            raise ValueError(f"{name}: {value} does not fit in {size} bytes") from None
    raise TypeError(f"{name}: cannot store a {type(value).__name__}")
