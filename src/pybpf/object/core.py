"""CO-RE: resolve BPF CO-RE relocations against a target BTF and patch instructions.

Pure Python, no kernel.  Semantics follow libbpf's (so the patched programs are
the ones libbpf would load): candidates are target types of a compatible kind
whose *essential* name (the name up to a ``___flavor`` suffix) equals the local
one; every matching candidate must agree on the value; a relocation nothing
matches is "poisoned" (the instruction becomes ``call 0xbad2310``) unless it is
an existence check, whose value is then 0.
"""

from __future__ import annotations

import struct
from .._record import Record

from ..btf.types import Kind
from ..btf.ext import CoreReloKind as R
from ..errors import BTFError

POISON_IMM = 0xBAD2310
_MODS = (Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG)
_FIELD = {R.FIELD_BYTE_OFFSET, R.FIELD_BYTE_SIZE, R.FIELD_EXISTS, R.FIELD_SIGNED,
          R.FIELD_LSHIFT_U64, R.FIELD_RSHIFT_U64}
_TYPE = {R.TYPE_ID_LOCAL, R.TYPE_ID_TARGET, R.TYPE_EXISTS, R.TYPE_SIZE, R.TYPE_MATCHES}
_ENUMVAL = {R.ENUMVAL_EXISTS, R.ENUMVAL_VALUE}
_MAX_DEPTH = 32


class CoreError(BTFError):
    """A relocation cannot be resolved consistently (ambiguous or malformed)."""


class Fix(Record):
    """The outcome of one relocation: what to write into the instruction."""
    # local: value the compiler assumed (checked against the instruction)
    # target: value for the running kernel
    # orig_size: memory access size before/after, for FIELD_BYTE_OFFSET loads
    _fields = ('kind', 'local', 'target', 'poison', 'orig_size', 'new_size', 'validate')

    def __init__(self, kind, local, target, poison=False, orig_size=0, new_size=0,
                 validate=True):
        self.kind = kind
        self.local = local
        self.target = target
        self.poison = poison
        self.orig_size = orig_size
        self.new_size = new_size
        self.validate = validate


def essential_name(name: str) -> str:
    """``task_struct___old`` -> ``task_struct``: cut at the last ``X___Y`` separator."""
    if "___" not in name:      # the common case: enum matching calls this per enumerator
        return name
    for i in range(len(name) - 5, -1, -1):
        if name[i] != "_" and name[i + 1:i + 4] == "___" and name[i + 4] != "_":
            return name[:i + 1]
    return name


def _skip_mods(spec, tid: int) -> int:
    for _ in range(_MAX_DEPTH):
        t = spec[tid]
        if tid == 0 or t.kind not in _MODS:
            return tid
        tid = t.type
    raise CoreError(f"type {tid}: modifier chain too deep")


def _kind_compat(a, b) -> bool:
    if a.kind == b.kind:
        return True
    return {a.kind, b.kind} == {Kind.ENUM, Kind.ENUM64}


def _is_composite(t) -> bool:
    return t.kind in (Kind.STRUCT, Kind.UNION)


# ---- access specs -------------------------------------------------------------------

class _Access(Record):
    # type_id: the type this step lands in (member's or element's type)
    # name: member name ("" for array steps)
    # idx: member or element index
    _fields = ('type_id', 'name', 'idx', 'bitfield_size')

    def __init__(self, type_id, name, idx, bitfield_size=0):
        self.type_id = type_id
        self.name = name
        self.idx = idx
        self.bitfield_size = bitfield_size


class _Spec(Record):
    # enumval: name, value for ENUMVAL relos
    _fields = ('root', 'steps', 'bit_offset', 'enumval')

    def __init__(self, root, steps, bit_offset, enumval=None):
        self.root = root
        self.steps = steps
        self.bit_offset = bit_offset
        self.enumval = enumval


def _parse_access(spec, root: int, access: str, kind: R) -> _Spec:
    try:
        idxs = [int(x) for x in access.split(":")]
    except ValueError:
        raise CoreError(f"malformed CO-RE access string {access!r}") from None
    if not idxs or any(i < 0 for i in idxs):
        raise CoreError(f"malformed CO-RE access string {access!r}")
    if kind in _TYPE:
        if idxs != [0]:
            raise CoreError(f"type relocation with access {access!r}")
        return _Spec(root, [], 0)
    if kind in _ENUMVAL:
        t = spec[_skip_mods(spec, root)]
        if t.kind not in (Kind.ENUM, Kind.ENUM64) or len(idxs) != 1 or idxs[0] >= len(t.values):
            raise CoreError(f"enum relocation {access!r} on {t.kind.name}")
        v = t.values[idxs[0]]
        return _Spec(root, [], 0, (v.name, v.value))
    # field: first index is pointer arithmetic on the root, then members/elements
    tid = _skip_mods(spec, root)
    bit = idxs[0] * spec.sizeof(tid) * 8
    steps = [_Access(tid, "", idxs[0])]
    for i in idxs[1:]:
        t = spec[tid]
        if _is_composite(t):
            if i >= len(t.members):
                raise CoreError(f"member index {i} out of range in {t.name or 'anon'}")
            m = t.members[i]
            bit += m.offset_bits
            tid = _skip_mods(spec, m.type)
            # like libbpf, anonymous members are not steps of their own: the named
            # member inside them is matched by name, looking through them
            if m.name:
                steps.append(_Access(tid, m.name, i, m.bitfield_size))
            elif not _is_composite(spec[tid]):
                raise CoreError(f"access {access!r} ends on an anonymous member")
        elif t.kind == Kind.ARRAY:
            tid = _skip_mods(spec, t.type)
            bit += i * spec.sizeof(tid) * 8
            steps.append(_Access(tid, "", i))
        else:
            raise CoreError(f"access {access!r} steps into a {t.kind.name}")
    return _Spec(root, steps, bit)


# ---- matching a local field access against a target type ----------------------------

def _fields_compat(ls, lid: int, ts, tid: int, depth: int = 0) -> bool:
    if depth > _MAX_DEPTH:
        return False
    lt, tt = ls[_skip_mods(ls, lid)], ts[_skip_mods(ts, tid)]
    if _is_composite(lt) and _is_composite(tt):
        return True
    if not _kind_compat(lt, tt):
        return False
    if lt.kind in (Kind.PTR, Kind.FLOAT):
        return True
    if lt.kind in (Kind.FWD, Kind.ENUM, Kind.ENUM64):
        # an anonymous one (an enum defined inline) is compatible with any, as in libbpf
        return not lt.name or not tt.name or essential_name(lt.name) == essential_name(tt.name)
    if lt.kind == Kind.INT:
        return lt.offset == 0 and tt.offset == 0
    if lt.kind == Kind.ARRAY:
        return _fields_compat(ls, lt.type, ts, tt.type, depth + 1)
    return False


def _find_member(ts, tid: int, name: str, bit: int, depth: int = 0):
    """(member, absolute bit offset, whether it is its struct's last member) of ``name``
    in composite ``tid``, looking inside anonymous members as C does."""
    if depth > _MAX_DEPTH:
        return None
    t = ts[tid]
    for i, m in enumerate(t.members):
        off = bit + m.offset_bits
        if m.name == name:
            return m, off, i == len(t.members) - 1
        if not m.name:
            inner = _skip_mods(ts, m.type)
            if _is_composite(ts[inner]):
                found = _find_member(ts, inner, name, off, depth + 1)
                if found:
                    return found
    return None


class _Field(Record):
    # bit_size: 0 unless a bitfield
    # type_id: resolved type of the field
    _fields = ('bit_offset', 'bit_size', 'type_id', 'is_bitfield')

    def __init__(self, bit_offset, bit_size, type_id, is_bitfield):
        self.bit_offset = bit_offset
        self.bit_size = bit_size
        self.type_id = type_id
        self.is_bitfield = is_bitfield


def _match_field(ls, lspec: _Spec, ts, troot: int) -> _Field | None:
    tid = _skip_mods(ts, troot)
    tt = ts[tid]
    if not _kind_compat(ls[lspec.steps[0].type_id], tt):
        return None
    bit = lspec.steps[0].idx * ts.sizeof(tid) * 8
    bitsize = 0
    last_member = False
    for step in lspec.steps[1:]:
        t = ts[tid]
        if step.name:            # member access by name
            if not _is_composite(t):
                return None
            found = _find_member(ts, tid, step.name, bit)
            if found is None:
                return None
            m, bit, last_member = found
            bitsize = m.bitfield_size
            tid = _skip_mods(ts, m.type)
            if not _fields_compat(ls, step.type_id, ts, tid):
                return None
        else:                    # array element
            if t.kind != Kind.ARRAY:
                return None
            # a flexible array (nelems 0, a struct's last member, as libbpf's
            # is_flex_arr says) may be indexed past its declared size; no other array
            if step.idx >= t.nelems and not (t.nelems == 0 and last_member):
                return None
            last_member = False
            tid = _skip_mods(ts, t.type)
            bit += step.idx * ts.sizeof(tid) * 8
            bitsize = 0
    return _Field(bit, bitsize, tid, bitsize != 0)


def _local_field(ls, lspec: _Spec) -> _Field:
    """The field a local spec points at, computed like a target match on the local BTF."""
    last = lspec.steps[-1]
    bitsize = last.bitfield_size if len(lspec.steps) > 1 else 0
    return _Field(lspec.bit_offset, bitsize, last.type_id, bitsize != 0)


def _field_value(spec, f: _Field, kind: R) -> tuple[int, int, bool]:
    """(value, memory access size for loads, whether the load size may be adjusted)."""
    t = spec[f.type_id]
    if f.is_bitfield:
        size = spec.sizeof(f.type_id)
        byte_off = f.bit_offset // 8 // size * size
        while f.bit_offset + f.bit_size - byte_off * 8 > size * 8:
            if size >= 8:
                raise CoreError("bitfield wider than 8 bytes")
            size *= 2
            byte_off = f.bit_offset // 8 // size * size
    else:
        size = spec.sizeof(f.type_id)
        byte_off = f.bit_offset // 8
    if kind == R.FIELD_BYTE_OFFSET:
        val = byte_off
    elif kind == R.FIELD_BYTE_SIZE:
        val = size
    elif kind == R.FIELD_EXISTS:
        val = 1
    elif kind == R.FIELD_SIGNED:
        val = int((t.kind in (Kind.ENUM, Kind.ENUM64) and bool(t.signed)) or
                  (t.kind == Kind.INT and bool(t.encoding & 1)))
    elif kind == R.FIELD_LSHIFT_U64:
        bits = f.bit_size if f.is_bitfield else size * 8
        val = 64 - (f.bit_offset + bits - byte_off * 8)
    elif kind == R.FIELD_RSHIFT_U64:
        val = 64 - (f.bit_size if f.is_bitfield else size * 8)
    else:  # pragma: no cover
        raise CoreError(f"not a field relocation: {kind}")
    adjustable = not f.is_bitfield and t.kind in (Kind.INT, Kind.ENUM, Kind.ENUM64, Kind.PTR)
    return val, size, adjustable


# ---- type relocations ---------------------------------------------------------------

def types_compat(ls, lid: int, ts, tid: int, depth: int = 0) -> bool:
    """libbpf's loose type compatibility, used for TYPE_* relocations."""
    if depth > _MAX_DEPTH:
        return False
    lt, tt = ls[_skip_mods(ls, lid)], ts[_skip_mods(ts, tid)]
    if not _kind_compat(lt, tt):
        return False
    k = lt.kind
    if k in (Kind.UNKN, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FWD):
        return True
    if k == Kind.INT:
        return lt.offset == 0 and tt.offset == 0
    if k == Kind.PTR:
        return types_compat(ls, lt.type, ts, tt.type, depth + 1)
    if k == Kind.ARRAY:
        return types_compat(ls, lt.type, ts, tt.type, depth + 1)
    if k == Kind.FUNC_PROTO:
        if len(lt.params) != len(tt.params):
            return False
        return all(types_compat(ls, a.type, ts, b.type, depth + 1)
                   for a, b in zip(lt.params, tt.params)) and \
            types_compat(ls, lt.return_type, ts, tt.return_type, depth + 1)
    return False


def _names_match(a: str, b: str) -> bool:
    """libbpf's name test in type matching: essential names equal; an anonymous target
    matches only an anonymous local."""
    if not b:
        return not a
    return essential_name(a or "") == essential_name(b)


def types_match(ls, lid: int, ts, tid: int, depth: int = 0, behind_ptr: bool = False) -> bool:
    """A stricter shape check for TYPE_MATCHES (bpf_core_type_matches), libbpf's rules:
    modifiers and typedefs are looked through; names (essential, also of members and
    enumerators) must match; ints by size and sign; enums by enumerator names (not
    values) and size; arrays by length; a struct or union behind a pointer matches one of
    the same kind, or a forward declaration of it, without looking at its members."""
    if depth > _MAX_DEPTH:
        return False
    lid, tid = _skip_mods(ls, lid), _skip_mods(ts, tid)
    lt, tt = ls[lid], ts[tid]
    if not _names_match(getattr(lt, "name", ""), getattr(tt, "name", "")):
        return False
    lk, tk = lt.kind, tt.kind
    if lk == Kind.UNKN:
        return tk == Kind.UNKN
    if lk == Kind.FWD:
        if tk == Kind.FWD:
            return lt.is_union == tt.is_union
        return behind_ptr and tk == (Kind.UNION if lt.is_union else Kind.STRUCT)
    if lk in (Kind.ENUM, Kind.ENUM64):
        if tk not in (Kind.ENUM, Kind.ENUM64) or lt.size != tt.size or \
                len(lt.values) > len(tt.values):
            return False
        return all(any(_names_match(v.name, w.name) for w in tt.values) for v in lt.values)
    if lk in (Kind.STRUCT, Kind.UNION):
        if behind_ptr:
            return tk == lk or (tk == Kind.FWD and tt.is_union == (lk == Kind.UNION))
        if tk != lk or len(lt.members) > len(tt.members):
            return False
        return all(any(_names_match(m.name, n.name) and
                       types_match(ls, m.type, ts, n.type, depth + 1, behind_ptr)
                       for n in tt.members) for m in lt.members)
    if lk == Kind.INT:
        return tk == lk and lt.size == tt.size and \
            bool(lt.encoding & 1) == bool(tt.encoding & 1)
    if lk == Kind.PTR:
        return tk == lk and types_match(ls, lt.type, ts, tt.type, depth + 1, True)
    if lk == Kind.ARRAY:
        return tk == lk and lt.nelems == tt.nelems and \
            types_match(ls, lt.type, ts, tt.type, depth + 1, behind_ptr)
    if lk == Kind.FUNC_PROTO:
        return tk == lk and len(lt.params) == len(tt.params) and all(
            types_match(ls, a.type, ts, b.type, depth + 1, behind_ptr)
            for a, b in zip(lt.params, tt.params)) and \
            types_match(ls, lt.return_type, ts, tt.return_type, depth + 1, behind_ptr)
    return False          # floats and the rest: libbpf matches none


# ---- candidates and resolution ------------------------------------------------------

def candidates(ls, local_id: int, targets, modules=None) -> list[tuple[object, int]]:
    """Target (spec, type id) pairs whose kind and essential name fit the local type.

    ``targets`` is a list of specs searched in order (vmlinux first); only when none has a
    candidate, ``modules()`` (the loaded modules' split BTF) is searched, all of it
    together, as libbpf does.
    """
    # relocations name the type as written (maybe a typedef); candidates have the same kind
    lt = ls[local_id]
    name = essential_name(lt.name)
    if not name:
        raise CoreError(f"CO-RE relocation against anonymous type {local_id}")
    for ts in targets:
        found = [(ts, tid) for tid in _named(ts, name) if _kind_compat(lt, ts[tid])]
        if found:
            return found
    if modules is None:
        return []
    # split BTF: a module's find() also reports base ids, already searched above
    return [(ts, tid) for ts in modules() for tid in _named(ts, name)
            if tid >= ts.start_id and _kind_compat(lt, ts[tid])]


def _named(ts, name: str) -> list[int]:
    """Ids of ``ts`` whose essential name is ``name``: ``name`` itself and its flavors
    (``name___x``), as libbpf's candidate search compares essential names on both sides
    (a target BTF may hold flavored types too: the selftests' btf__core_reloc_* objects)."""
    flavored = [tid for tid in ts.find_prefix(name + "___")
                if essential_name(ts[tid].name) == name]
    return sorted(ts.find(name) + flavored) if flavored else ts.find(name)


def resolve(ls, relo, targets, modules=None, cands: dict | None = None) -> Fix:
    """Compute the patch for one relocation (``relo`` has type_id, access, kind);
    ``modules`` as in :func:`candidates`.  ``cands`` (a dict kept across the relocations
    of one object) remembers each local type's candidates, as libbpf's candidate cache:
    an object with thousands of relocations against a few types (Falco's probe: 17,000)
    searches the kernel's BTF once per type, not once per relocation."""
    kind = R(relo.kind)
    lid = relo.type_id
    lspec = _parse_access(ls, lid, relo.access, kind)
    if kind == R.TYPE_ID_LOCAL:
        return Fix(kind, lid, lid)

    validate = True
    if kind in _FIELD:
        lfield = _local_field(ls, lspec)
        local_val, lsize, _ = _field_value(ls, lfield, kind)
        validate = not lfield.is_bitfield  # bitfield reads are computed, not checkable
    elif kind in _ENUMVAL:
        local_val = 1 if kind == R.ENUMVAL_EXISTS else lspec.enumval[1]
        lsize = 0
    else:
        lsize = 0
        local_val = {R.TYPE_ID_TARGET: lid, R.TYPE_EXISTS: 1, R.TYPE_MATCHES: 1,
                     R.TYPE_SIZE: ls.sizeof(lid)}[kind]

    result: Fix | None = None
    found = cands.get(lid) if cands is not None else None
    if found is None:
        found = candidates(ls, lid, targets, modules)
        if cands is not None:
            cands[lid] = found
    matched = []
    for ts, tid in found:
        fix = _try_candidate(ls, lspec, kind, local_val, lsize, ts, tid)
        if fix is None:
            continue
        matched.append((ts, tid))
        if result is None:
            result = fix
        elif (fix.target, fix.new_size) != (result.target, result.new_size):
            raise CoreError(f"CO-RE relocation {kind.name} on {ls[lid].name!r} access "
                            f"{relo.access!r} is ambiguous: candidates give {result.target} "
                            f"and {fix.target}")
    if result is not None:
        # libbpf keeps only the candidates that matched for the type's later relocations
        # (in object order): two flavors that each hold half the accessed fields match
        # none of the second half (the selftests' nesting___err_partial_match_dups)
        if cands is not None:
            cands[lid] = matched
        result.validate = validate
        return result
    # nothing matched: existence checks and type relocations read 0; any other
    # relocation poisons its instruction (harmless if that code is dead, a clear
    # verifier error at that instruction otherwise)
    if kind in (R.FIELD_EXISTS, R.ENUMVAL_EXISTS) or kind in _TYPE:
        return Fix(kind, local_val, 0)
    return Fix(kind, local_val, 0, poison=True)


def _try_candidate(ls, lspec: _Spec, kind: R, local_val: int, lsize: int, ts, tid: int):
    if kind in _FIELD:
        f = _match_field(ls, lspec, ts, tid)
        if f is None:
            return None
        val, size, adjustable = _field_value(ts, f, kind)
        fix = Fix(kind, local_val, val)
        if kind == R.FIELD_BYTE_OFFSET:
            fix.orig_size, fix.new_size = lsize, size
            if not adjustable:
                fix.new_size = lsize
        return fix
    if kind in _ENUMVAL:
        name = essential_name(lspec.enumval[0])
        for v in ts[_skip_mods(ts, tid)].values:
            if essential_name(v.name) == name:
                return Fix(kind, local_val, 1 if kind == R.ENUMVAL_EXISTS else v.value)
        return None
    if kind == R.TYPE_MATCHES:
        return Fix(kind, local_val, 1) if types_match(ls, lspec.root, ts, tid) else None
    if not types_compat(ls, lspec.root, ts, tid):
        return None
    if kind == R.TYPE_ID_TARGET:
        return Fix(kind, local_val, tid)
    if kind == R.TYPE_EXISTS:
        return Fix(kind, local_val, 1)
    return Fix(kind, local_val, ts.sizeof(tid))  # TYPE_SIZE


def describe(ls, relo) -> str:
    """One relocation in words, as a verifier error names it: ``byte_off of struct
    sock_value.mntns (access 0:0)`` (libbpf prints the same spec)."""
    kind = R(relo.kind)
    what = kind.name.lower().replace("field_", "").replace("byte_offset", "byte_off")
    try:
        t = ls[relo.type_id]
        word = {Kind.STRUCT: "struct ", Kind.UNION: "union ", Kind.ENUM: "enum ",
                Kind.ENUM64: "enum "}.get(t.kind, "")
        path = f"{word}{t.name or '(anon)'}"
        lspec = _parse_access(ls, relo.type_id, relo.access, kind)
    except (CoreError, LookupError, AttributeError):
        return f"{what} of type [{relo.type_id}] (access {relo.access})"
    if kind in _ENUMVAL:
        path += f"::{lspec.enumval[0]}"
    elif kind in _FIELD:
        path += "".join(f".{a.name}" if a.name else f"[{a.idx}]" for a in lspec.steps[1:])
    return f"{what} of {path} (access {relo.access})"


# ---- patching -----------------------------------------------------------------------

_SIZE_BITS = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}   # BPF_B, BPF_H, BPF_W, BPF_DW
_BITS_SIZE = {v: k for k, v in _SIZE_BITS.items()}


def _poison(insns: bytearray, off: int) -> None:
    struct.pack_into("<BBhi", insns, off, 0x85, 0, 0, POISON_IMM)  # BPF_JMP | BPF_CALL


def patch(insns: bytearray, index: int, fix: Fix, where: str = "") -> None:
    """Write ``fix`` into instruction ``index`` of ``insns`` (8-byte slots)."""
    off = index * 8
    if off + 8 > len(insns):
        raise CoreError(f"{where}CO-RE relocation points past the program end (insn {index})")
    code = insns[off]
    cls = code & 0x07
    is_ld64 = code == 0x18
    if fix.poison:
        if is_ld64 and off + 16 <= len(insns):
            _poison(insns, off + 8)
        _poison(insns, off)
        return
    if cls in (0x04, 0x07):  # ALU, ALU64
        if code & 0x08:
            raise CoreError(f"{where}insn {index}: CO-RE relocation on a register ALU op")
        imm = struct.unpack_from("<i", insns, off + 4)[0]
        if fix.validate and imm != _s32(fix.local):
            raise CoreError(f"{where}insn {index}: expected immediate {fix.local}, found {imm}")
        struct.pack_into("<i", insns, off + 4, _s32(fix.target))
    elif cls in (0x01, 0x02, 0x03):  # LDX, ST, STX
        old = struct.unpack_from("<h", insns, off + 2)[0]
        if fix.validate and old != fix.local:
            raise CoreError(f"{where}insn {index}: expected offset {fix.local}, found {old}")
        if not -32768 <= fix.target <= 32767:
            raise CoreError(f"{where}insn {index}: field offset {fix.target} does not fit")
        struct.pack_into("<h", insns, off + 2, fix.target)
        if fix.new_size and fix.new_size != fix.orig_size:
            cur = _BITS_SIZE.get(code & 0x18)
            if cur != fix.orig_size or fix.new_size not in _SIZE_BITS:
                raise CoreError(f"{where}insn {index}: cannot adjust the load size from "
                                f"{fix.orig_size} to {fix.new_size}")
            insns[off] = (code & ~0x18) | _SIZE_BITS[fix.new_size]
    elif is_ld64:
        if off + 16 > len(insns):
            raise CoreError(f"{where}insn {index}: truncated ld_imm64")
        lo = struct.unpack_from("<I", insns, off + 4)[0]
        hi = struct.unpack_from("<I", insns, off + 12)[0]
        if fix.validate and (hi << 32 | lo) != fix.local & 0xFFFFFFFFFFFFFFFF:
            raise CoreError(f"{where}insn {index}: expected constant {fix.local}")
        v = fix.target & 0xFFFFFFFFFFFFFFFF
        struct.pack_into("<I", insns, off + 4, v & 0xFFFFFFFF)
        struct.pack_into("<I", insns, off + 12, v >> 32)
    else:
        raise CoreError(f"{where}insn {index}: opcode {code:#x} cannot take a CO-RE relocation")


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v
