"""BTF.ext: per-section func_info, line_info and CO-RE relocation records of an object."""

from __future__ import annotations

import struct
from .._record import Record
from .._record import IntTable
from ..errors import BTFError


class CoreReloKind(IntTable):
    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


class FuncInfo(Record):
    # insn_off: bytes from the section start, as in the file
    __slots__ = _fields = ('insn_off', 'type_id')

    def __init__(self, insn_off, type_id):
        self.insn_off = insn_off
        self.type_id = type_id


class LineInfo(Record):
    # file_name_off: raw string offsets, re-emitted to the kernel as they are
    __slots__ = _fields = ('insn_off', 'file_name', 'line_text', 'line', 'col',
                           'file_name_off', 'line_off')

    def __init__(self, insn_off, file_name, line_text, line, col, file_name_off, line_off):
        self.insn_off = insn_off
        self.file_name = file_name
        self.line_text = line_text
        self.line = line
        self.col = col
        self.file_name_off = file_name_off
        self.line_off = line_off


class CoreRelo(Record):
    __slots__ = _fields = ('insn_off', 'type_id', 'access', 'kind')

    def __init__(self, insn_off, type_id, access, kind):
        self.insn_off = insn_off
        self.type_id = type_id
        self.access = access
        self.kind = kind


class BTFExt(Record):
    _fields = ('func_info', 'line_info', 'core_relos', 'func_info_rec_size',
               'line_info_rec_size', 'core_relo_rec_size')

    def __init__(self, func_info=None, line_info=None, core_relos=None, func_info_rec_size=8,
                 line_info_rec_size=16, core_relo_rec_size=16):
        self.func_info = {} if func_info is None else func_info
        self.line_info = {} if line_info is None else line_info
        self.core_relos = {} if core_relos is None else core_relos
        self.func_info_rec_size = func_info_rec_size
        self.line_info_rec_size = line_info_rec_size
        self.core_relo_rec_size = core_relo_rec_size


def _records(data: bytes, off: int, length: int, min_rec: int, strings, what: str):
    """(record size, [(section name, first record's offset, count)]) for one info block."""
    if length == 0:
        return 0, []
    end = off + length
    if end > len(data) or length < 4:
        raise BTFError(f"BTF.ext {what} lies outside the section")
    rec_size = struct.unpack_from("<I", data, off)[0]
    if rec_size < min_rec or rec_size % 4:
        raise BTFError(f"BTF.ext {what}: bad record size {rec_size}")
    out = []
    p = off + 4
    while p < end:
        if p + 8 > end:
            raise BTFError(f"BTF.ext {what}: truncated section header")
        name_off, n = struct.unpack_from("<II", data, p)
        p += 8
        if n == 0 or p + n * rec_size > end:
            raise BTFError(f"BTF.ext {what}: {n} records do not fit")
        out.append((strings.string_at(name_off), p, n))
        p += n * rec_size
    return rec_size, out


def _unpack(data: bytes, fmt: str, rec_size: int, p: int, n: int):
    """The leading ``fmt`` fields of ``n`` records of ``rec_size`` bytes from ``p``: one
    iter_unpack when records hold nothing else (objects carry tens of thousands)."""
    size = struct.calcsize(fmt)
    if rec_size == size:
        return struct.iter_unpack(fmt, memoryview(data)[p:p + n * size])
    return (struct.unpack_from(fmt, data, p + i * rec_size) for i in range(n))


class _Names(dict):
    """Strings by offset, each looked up in the BTF once (a C-level hit afterwards)."""
    __slots__ = ("strings",)

    def __init__(self, strings):
        super().__init__()
        self.strings = strings

    def __missing__(self, off: int) -> str:
        v = self[off] = self.strings.string_at(off)
        return v


def parse_ext(data: bytes, strings) -> BTFExt:
    """Parse a .BTF.ext section; ``strings`` is the object's BTF Spec (for names)."""
    if len(data) < 24:
        raise BTFError("BTF.ext header truncated")
    magic, version, _, hdr_len = struct.unpack_from("<HBBI", data)
    if magic != 0xEB9F or version != 1:
        raise BTFError(f"bad BTF.ext magic/version {magic:#x}/{version}")
    if hdr_len < 24 or hdr_len > len(data):
        raise BTFError(f"bad BTF.ext header length {hdr_len}")
    fo, fl, lo, ll = struct.unpack_from("<IIII", data, 8)
    co = cl = 0
    if hdr_len >= 32:
        co, cl = struct.unpack_from("<II", data, 24)
    ext = BTFExt()
    string = _Names(strings).__getitem__  # file names and source lines repeat: look up once
    rs, secs = _records(data, hdr_len + fo, fl, 8, strings, "func_info")
    ext.func_info_rec_size = rs or 8
    for sec, p, n in secs:
        ext.func_info[sec] = [FuncInfo(*r) for r in _unpack(data, "<II", rs, p, n)]
    rs, secs = _records(data, hdr_len + lo, ll, 16, strings, "line_info")
    ext.line_info_rec_size = rs or 16
    for sec, p, n in secs:
        ext.line_info[sec] = [LineInfo(insn, string(fno), string(lno), lc >> 10, lc & 0x3FF,
                                       fno, lno)
                              for insn, fno, lno, lc in _unpack(data, "<IIII", rs, p, n)]
    if cl:
        rs, secs = _records(data, hdr_len + co, cl, 16, strings, "core_relo")
        ext.core_relo_rec_size = rs
        kinds: dict[int, CoreReloKind] = {}
        for sec, p, n in secs:
            relos = []
            for insn, tid, ao, kind in _unpack(data, "<IIII", rs, p, n):
                k = kinds.get(kind)
                if k is None:
                    try:
                        k = kinds[kind] = CoreReloKind(kind)
                    except ValueError:
                        raise BTFError(f"BTF.ext: unknown CO-RE relocation kind {kind}") \
                            from None
                relos.append(CoreRelo(insn, tid, string(ao), k))
            ext.core_relos[sec] = relos
    return ext
