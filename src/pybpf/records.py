"""Turning raw event records (memoryviews from ring and perf buffers) into Python values."""

from __future__ import annotations

import ctypes


def decoder(kind):
    """A function from a record's view to a value, for ``kind``:

    - a ctypes type (a Structure, an array, c_uint64 ...): a copy decoded as that type
      (a record shorter than the type is zero-filled, a longer one cut, as in bcc; but a
      struct from ``pybpf.ctype()`` ending in a flexible array member keeps the record's
      tail as that array's elements);
    - a ``struct.Struct``: the tuple it unpacks from the record's start;
    - any other callable: called with the view (which is valid only during the call);
    - None: ``bytes``.
    """
    if kind is None:
        return bytes
    if isinstance(kind, type) and hasattr(kind, "from_buffer_copy"):      # any ctypes type
        size = ctypes.sizeof(kind)
        if getattr(kind, "_flex_", None):
            # a struct ending in a flexible array: the whole record, so the array's
            # elements past the struct read (pybpf.ctypes_record.FlexArray)
            over = kind.from_buffer

            def with_tail(view):
                rec = bytearray(view)
                n = len(rec)
                if n < size:
                    rec += bytes(size - n)
                v = over(rec)
                v._record_ = (rec, n)
                return v
            return with_tail
        make = kind.from_buffer_copy

        def as_ctype(view):
            if len(view) >= size:
                return make(view[:size])
            return make(bytes(view).ljust(size, b"\0"))
        return as_ctype
    unpack_from = getattr(kind, "unpack_from", None)
    if unpack_from is not None:
        return unpack_from
    if callable(kind):
        return kind
    raise TypeError(f"cannot decode records as {kind!r}")
