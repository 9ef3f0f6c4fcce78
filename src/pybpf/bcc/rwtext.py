"""bcc's text form of table keys and values (``key_sprintf``, ``leaf_scanf``, ...).

bcc generates a printer and a scanner per table with LLVM (its "rw engine"); the form is
simple and is written here from the ctypes types instead: integers as ``0x`` hex,
structures as ``{ a b }``, arrays as ``[ a b ]``, char arrays as quoted strings.
"""

from __future__ import annotations

import ctypes
import re

from .. import errors

_TOKEN = re.compile(rb'\s*(\{|\}|\[|\]|"(?:[^"\\]|\\.)*"|[-+]?(?:0[xX][0-9a-fA-F]+|\d+))')


def _members(cls) -> list[str]:
    names = getattr(cls, "_members_", None)
    if names is None:
        names = [f[0] for f in getattr(cls, "_fields_", ())]
    return [n for n in names if not n.startswith("__pad")]


def sprintf(value) -> bytes:
    """``value`` (a ctypes object or int) in bcc's text form."""
    if isinstance(value, (ctypes.Structure, ctypes.Union)):
        return b"{ " + b" ".join(sprintf(getattr(value, n))
                                 for n in _members(type(value))) + b" }"
    if isinstance(value, ctypes.Array):
        if value._type_ is ctypes.c_char:
            return b'"' + value.value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        return b"[ " + b" ".join(sprintf(v) for v in value) + b" ]"
    if isinstance(value, bytes):            # a c_char array member reads as bytes
        return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    v = getattr(value, "value", value)
    if isinstance(v, bytes):                # c_char
        v = v[0] if v else 0
    return b"0x%x" % (int(v) & 0xFFFFFFFFFFFFFFFF)


def scanf(text, cls):
    """A new ``cls`` from its text form; PybpfError naming the problem when malformed."""
    text = text if isinstance(text, bytes) else str(text).encode()
    tokens = [m.group(1) for m in _TOKEN.finditer(text)]
    if b"".join(tokens).replace(b" ", b"") == b"" and text.strip():
        raise errors.PybpfError(f"cannot read {text[:60]!r} as {cls.__name__}")
    pos = [0]

    def take():
        if pos[0] >= len(tokens):
            raise errors.PybpfError(f"{text[:60]!r} ends early for {cls.__name__}")
        pos[0] += 1
        return tokens[pos[0] - 1]

    def read(c, obj=None):
        if issubclass(c, (ctypes.Structure, ctypes.Union)):
            obj = c() if obj is None else obj
            if take() != b"{":
                raise errors.PybpfError(f"expected '{{' for {c.__name__} in {text[:60]!r}")
            for n in _members(c):
                cur = getattr(obj, n)
                if isinstance(cur, (ctypes.Structure, ctypes.Union)):
                    read(type(cur), cur)
                elif isinstance(cur, ctypes.Array) or (isinstance(cur, bytes) and
                                                       _char_array(c, n)):
                    got = read(_field_type(c, n))
                    # a char array member is set from bytes, other arrays whole
                    setattr(obj, n, got.value if _char_array(c, n) else got)
                else:
                    setattr(obj, n, _int(take()))
            if take() != b"}":
                raise errors.PybpfError(f"expected '}}' after {c.__name__} in {text[:60]!r}")
            return obj
        if issubclass(c, ctypes.Array):
            if c._type_ is ctypes.c_char:
                tok = take()
                s = tok[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
                return c(*s[:c._length_])
            if take() != b"[":
                raise errors.PybpfError(f"expected '[' in {text[:60]!r}")
            arr = c()
            for i in range(c._length_):
                et = c._type_
                if issubclass(et, (ctypes.Structure, ctypes.Union, ctypes.Array)):
                    arr[i] = read(et)
                else:
                    arr[i] = _int(take())
            if take() != b"]":
                raise errors.PybpfError(f"expected ']' in {text[:60]!r}")
            return arr
        return c(_int(take()))

    return read(cls)


def _int(tok: bytes) -> int:
    try:
        return int(tok, 0)
    except ValueError:
        raise errors.PybpfError(f"{tok!r} is not a number") from None


def _field_type(cls, name: str):
    for f in cls._fields_:
        if f[0] == name:
            return f[1]
    raise errors.PybpfError(f"{cls.__name__} has no member {name}")


def _char_array(cls, name: str) -> bool:
    t = _field_type(cls, name)
    return issubclass(t, ctypes.Array) and t._type_ is ctypes.c_char
