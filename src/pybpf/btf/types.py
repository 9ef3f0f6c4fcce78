"""The BTF type model: one dataclass per kind; type references are integer ids (0 = void)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .kinds import Kind


SIGNED, CHAR, BOOL = 1, 2, 4


@dataclass(slots=True)
class Void:
    name: str = ""
    kind = Kind.UNKN


@dataclass(slots=True)
class Int:
    name: str
    size: int
    encoding: int = 0
    bits: int = 0
    offset: int = 0
    kind = Kind.INT


@dataclass(slots=True)
class Ptr:
    type: int
    name: str = ""
    kind = Kind.PTR


@dataclass(slots=True)
class Array:
    type: int
    index_type: int
    nelems: int
    name: str = ""
    kind = Kind.ARRAY


@dataclass(slots=True)
class Member:
    name: str
    type: int
    offset_bits: int
    bitfield_size: int = 0


@dataclass(slots=True)
class Struct:
    name: str
    size: int
    members: list[Member] = field(default_factory=list)
    kind = Kind.STRUCT


@dataclass(slots=True)
class Union:
    name: str
    size: int
    members: list[Member] = field(default_factory=list)
    kind = Kind.UNION


@dataclass(slots=True)
class EnumValue:
    name: str
    value: int


@dataclass(slots=True)
class Enum:
    name: str
    size: int
    signed: bool = False
    values: list[EnumValue] = field(default_factory=list)
    kind = Kind.ENUM


@dataclass(slots=True)
class Enum64:
    name: str
    size: int
    signed: bool = False
    values: list[EnumValue] = field(default_factory=list)
    kind = Kind.ENUM64


@dataclass(slots=True)
class Fwd:
    name: str
    is_union: bool = False
    kind = Kind.FWD


@dataclass(slots=True)
class Typedef:
    name: str
    type: int
    kind = Kind.TYPEDEF


@dataclass(slots=True)
class Volatile:
    type: int
    name: str = ""
    kind = Kind.VOLATILE


@dataclass(slots=True)
class Const:
    type: int
    name: str = ""
    kind = Kind.CONST


@dataclass(slots=True)
class Restrict:
    type: int
    name: str = ""
    kind = Kind.RESTRICT


@dataclass(slots=True)
class TypeTag:
    name: str
    type: int
    kind = Kind.TYPE_TAG


@dataclass(slots=True)
class Func:
    name: str
    type: int
    linkage: int = 0
    kind = Kind.FUNC


@dataclass(slots=True)
class Param:
    name: str
    type: int


@dataclass(slots=True)
class FuncProto:
    return_type: int
    params: list[Param] = field(default_factory=list)
    name: str = ""
    kind = Kind.FUNC_PROTO


@dataclass(slots=True)
class Var:
    name: str
    type: int
    linkage: int = 0
    kind = Kind.VAR


@dataclass(slots=True)
class VarSecinfo:
    type: int
    offset: int
    size: int


@dataclass(slots=True)
class Datasec:
    name: str
    size: int
    vars: list[VarSecinfo] = field(default_factory=list)
    kind = Kind.DATASEC


@dataclass(slots=True)
class Float:
    name: str
    size: int
    kind = Kind.FLOAT


@dataclass(slots=True)
class DeclTag:
    name: str
    type: int
    component_idx: int = -1
    kind = Kind.DECL_TAG


MODIFIERS = (Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG)
