"""The BTF type model: one class per kind; type references are integer ids (0 = void)."""

from __future__ import annotations

from .._record import Record
from .kinds import Kind


SIGNED, CHAR, BOOL = 1, 2, 4


class Void(Record):
    __slots__ = _fields = ('name',)

    def __init__(self, name=""):
        self.name = name

    kind = Kind.UNKN


class Int(Record):
    __slots__ = _fields = ('name', 'size', 'encoding', 'bits', 'offset')

    def __init__(self, name, size, encoding=0, bits=0, offset=0):
        self.name = name
        self.size = size
        self.encoding = encoding
        self.bits = bits
        self.offset = offset

    kind = Kind.INT


class Ptr(Record):
    __slots__ = _fields = ('type', 'name')

    def __init__(self, type, name=""):
        self.type = type
        self.name = name

    kind = Kind.PTR


class Array(Record):
    __slots__ = _fields = ('type', 'index_type', 'nelems', 'name')

    def __init__(self, type, index_type, nelems, name=""):
        self.type = type
        self.index_type = index_type
        self.nelems = nelems
        self.name = name

    kind = Kind.ARRAY


class Member(Record):
    __slots__ = _fields = ('name', 'type', 'offset_bits', 'bitfield_size')

    def __init__(self, name, type, offset_bits, bitfield_size=0):
        self.name = name
        self.type = type
        self.offset_bits = offset_bits
        self.bitfield_size = bitfield_size


class Struct(Record):
    __slots__ = _fields = ('name', 'size', 'members')

    def __init__(self, name, size, members=None):
        self.name = name
        self.size = size
        self.members = [] if members is None else members

    kind = Kind.STRUCT


class Union(Record):
    __slots__ = _fields = ('name', 'size', 'members')

    def __init__(self, name, size, members=None):
        self.name = name
        self.size = size
        self.members = [] if members is None else members

    kind = Kind.UNION


class EnumValue(Record):
    __slots__ = _fields = ('name', 'value')

    def __init__(self, name, value):
        self.name = name
        self.value = value


class Enum(Record):
    __slots__ = _fields = ('name', 'size', 'signed', 'values')

    def __init__(self, name, size, signed=False, values=None):
        self.name = name
        self.size = size
        self.signed = signed
        self.values = [] if values is None else values

    kind = Kind.ENUM


class Enum64(Record):
    __slots__ = _fields = ('name', 'size', 'signed', 'values')

    def __init__(self, name, size, signed=False, values=None):
        self.name = name
        self.size = size
        self.signed = signed
        self.values = [] if values is None else values

    kind = Kind.ENUM64


class Fwd(Record):
    __slots__ = _fields = ('name', 'is_union')

    def __init__(self, name, is_union=False):
        self.name = name
        self.is_union = is_union

    kind = Kind.FWD


class Typedef(Record):
    __slots__ = _fields = ('name', 'type')

    def __init__(self, name, type):
        self.name = name
        self.type = type

    kind = Kind.TYPEDEF


class Volatile(Record):
    __slots__ = _fields = ('type', 'name')

    def __init__(self, type, name=""):
        self.type = type
        self.name = name

    kind = Kind.VOLATILE


class Const(Record):
    __slots__ = _fields = ('type', 'name')

    def __init__(self, type, name=""):
        self.type = type
        self.name = name

    kind = Kind.CONST


class Restrict(Record):
    __slots__ = _fields = ('type', 'name')

    def __init__(self, type, name=""):
        self.type = type
        self.name = name

    kind = Kind.RESTRICT


class TypeTag(Record):
    __slots__ = _fields = ('name', 'type')

    def __init__(self, name, type):
        self.name = name
        self.type = type

    kind = Kind.TYPE_TAG


class Func(Record):
    __slots__ = _fields = ('name', 'type', 'linkage')

    def __init__(self, name, type, linkage=0):
        self.name = name
        self.type = type
        self.linkage = linkage

    kind = Kind.FUNC


class Param(Record):
    __slots__ = _fields = ('name', 'type')

    def __init__(self, name, type):
        self.name = name
        self.type = type


class FuncProto(Record):
    __slots__ = _fields = ('return_type', 'params', 'name')

    def __init__(self, return_type, params=None, name=""):
        self.return_type = return_type
        self.params = [] if params is None else params
        self.name = name

    kind = Kind.FUNC_PROTO


class Var(Record):
    __slots__ = _fields = ('name', 'type', 'linkage')

    def __init__(self, name, type, linkage=0):
        self.name = name
        self.type = type
        self.linkage = linkage

    kind = Kind.VAR


class VarSecinfo(Record):
    __slots__ = _fields = ('type', 'offset', 'size')

    def __init__(self, type, offset, size):
        self.type = type
        self.offset = offset
        self.size = size


class Datasec(Record):
    __slots__ = _fields = ('name', 'size', 'vars')

    def __init__(self, name, size, vars=None):
        self.name = name
        self.size = size
        self.vars = [] if vars is None else vars

    kind = Kind.DATASEC


class Float(Record):
    __slots__ = _fields = ('name', 'size')

    def __init__(self, name, size):
        self.name = name
        self.size = size

    kind = Kind.FLOAT


class DeclTag(Record):
    __slots__ = _fields = ('name', 'type', 'component_idx')

    def __init__(self, name, type, component_idx=-1):
        self.name = name
        self.type = type
        self.component_idx = component_idx

    kind = Kind.DECL_TAG


MODIFIERS = (Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG)
