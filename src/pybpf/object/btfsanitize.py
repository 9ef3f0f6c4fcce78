"""Make an object's BTF acceptable to the kernel, as libbpf does before BPF_BTF_LOAD.

The kernel rejects ``extern`` linkage (on VARs and FUNCs), which clang emits for
``__kconfig``/``__ksym`` externs; libbpf turns those into allocated globals and makes
``.ksyms`` entries point at a placeholder variable.  The changes are idempotent and
leave the types CO-RE matching reads untouched.

An older kernel also rejects kinds added after it (FLOAT, DECL_TAG, TYPE_TAG, ENUM64,
signed enums...): :func:`downgrade` rewrites a copy of the bytes into kinds it knows,
keeping every type id, so maps' and programs' type references stay valid.
"""

from __future__ import annotations

from ..btf import types as T
from ..errors import BTFError
from ..btf.types import Datasec, Func, Int, Kind, Var

_EXTERN = 2
_GLOBAL = 1
_STATIC = 0


def kernel_btf_bytes(btf, static_funcs=frozenset()) -> bytes:
    """The object's BTF, sanitized for loading into the kernel.

    ``static_funcs`` names global functions of hidden visibility (``__hidden``): like
    libbpf, their BTF says static, so the verifier checks them in their callers' context
    (and drops branches dead there) instead of on their own.
    """
    placeholder = None
    # only these kinds change; the rest stay undecoded, and to_bytes copies them as they are
    wanted = (Kind.FUNC, Kind.VAR, Kind.DATASEC)
    raw_kind = btf.raw_kind
    for tid in range(btf.start_id, len(btf)):
        if raw_kind(tid) not in wanted:
            continue
        t = btf[tid]
        if isinstance(t, Func) and t.linkage == _GLOBAL and t.name in static_funcs:
            t.linkage = _STATIC
        elif isinstance(t, Var) and t.linkage == _EXTERN:
            t.linkage = _GLOBAL
        elif isinstance(t, Func) and t.linkage == _EXTERN:
            # global functions need named parameters; kfunc declarations have none
            t.linkage = _GLOBAL
            for prm in btf[t.type].params:
                if not prm.name and prm.type:
                    prm.name = "pybpf_ksym_placeholder"
        elif isinstance(t, Datasec) and t.name == ".ksyms":
            # .ksyms holds no data: lay the placeholders out as 4-byte slots
            for i, vs in enumerate(t.vars):
                vs.offset = 4 * i
                target = btf[vs.type]
                if target.kind == Kind.FUNC:
                    if placeholder is None:
                        placeholder = _placeholder(btf)
                    vs.type = placeholder
                    vs.size = 4
                elif isinstance(target, Var):
                    target.type = _int_type(btf)
                    vs.size = 4
            t.size = 4 * len(t.vars)
        if isinstance(t, Datasec):
            t.vars.sort(key=lambda v: v.offset)  # the kernel wants ascending offsets
    return btf.to_bytes()


def _int_type(btf) -> int:
    for tid in btf.find("int", Kind.INT):
        return tid
    return btf.add(Int("int", 4, 1, 32, 0))


def _placeholder(btf) -> int:
    for tid in btf.find("pybpf_ksym_placeholder", Kind.VAR):
        return tid
    return btf.add(Var("pybpf_ksym_placeholder", _int_type(btf), _GLOBAL))


def _rewritten(kinds) -> set:
    """The kinds :func:`downgrade` looks at for ``kinds``; any other type stays undecoded
    and goes out as it came."""
    out = set()
    for has, what in ((kinds.datasec, (Kind.VAR, Kind.DATASEC)),
                      (kinds.qmark_datasec, (Kind.DATASEC,)),
                      (kinds.func, (Kind.FUNC, Kind.FUNC_PROTO)),
                      (kinds.func_global, (Kind.FUNC,)), (kinds.float, (Kind.FLOAT,)),
                      (kinds.decl_tag, (Kind.DECL_TAG,)), (kinds.type_tag, (Kind.TYPE_TAG,)),
                      (kinds.enum64, (Kind.ENUM, Kind.ENUM64))):
        if not has:
            out.update(what)
    return out


def downgrade(raw: bytes, kinds) -> bytes:
    """``raw`` (the output of :func:`kernel_btf_bytes`) rewritten for a kernel that has
    only the :class:`~.btfprobe.BtfKinds` ``kinds``, as libbpf's bpf_object__sanitize_btf
    does; ``raw`` itself when nothing needs rewriting.  Works on a parsed copy: the
    object's own types (CO-RE reads them) are not touched.  Raises BTFError for BTF that
    is not well formed."""
    from ..btf.spec import Spec
    if all(kinds):
        return raw
    btf = Spec.parse(raw)
    raw_kind, put = btf.raw_kind, btf.replace
    wanted = _rewritten(kinds)
    placeholder = 0             # the 1-byte INT an ENUM64-turned-UNION's members have
    changed = False
    for tid in range(btf.start_id, len(btf)):
        k = raw_kind(tid)
        if k not in wanted:
            continue
        t = btf[tid]
        if (k == Kind.VAR and not kinds.datasec) or (k == Kind.DECL_TAG and not kinds.decl_tag):
            # an INT of the same record size; 1 byte, so no size check can fail (libbpf)
            put(tid, Int(t.name if k == Kind.VAR else "", 1, 0, 8, 0))
        elif k == Kind.DATASEC and not kinds.datasec:
            # a struct with a member per variable; its name must be a C identifier
            if any(v.offset >= 1 << 29 for v in t.vars):
                raise BTFError(f"BTF DATASEC {t.name!r}: a variable's offset is too large "
                               "for a struct member")
            members = [T.Member(btf[v.type].name, v.type, v.offset * 8) for v in t.vars]
            put(tid, T.Struct(t.name.replace(".", "_").replace("?", "_"), t.size, members))
        elif k == Kind.DATASEC and not kinds.qmark_datasec and t.name.startswith("?"):
            t.name = "_" + t.name[1:]       # libbpf's optional sections ("?.struct_ops")
        elif k == Kind.FUNC_PROTO and not kinds.func:
            # an ENUM of the same record size; enumerators need names (kernel-checked)
            put(tid, T.Enum("", 4, False, [
                T.EnumValue(p.name or f"pybpf_param_{tid}_{j}", p.type)
                for j, p in enumerate(t.params)]))
        elif k == Kind.FUNC and not kinds.func:
            put(tid, T.Typedef(t.name, t.type))
        elif k == Kind.FUNC and not kinds.func_global:
            if t.linkage == _GLOBAL:
                t.linkage = _STATIC
            else:
                continue
        elif k == Kind.FLOAT and not kinds.float:
            put(tid, T.Struct("", t.size))  # "float" is no valid struct name: anonymous
        elif k == Kind.TYPE_TAG and not kinds.type_tag:
            put(tid, T.Const(t.type))
        elif k == Kind.ENUM and not kinds.enum64:
            if not t.signed:
                continue
            # kind_flag (signedness) on ENUM came with ENUM64: the same bits, unsigned
            for v in t.values:
                v.value &= 0xFFFFFFFF
            t.signed = False
        elif k == Kind.ENUM64 and not kinds.enum64:
            if not placeholder:
                placeholder = btf.add(Int("enum64_placeholder", 1, 0, 8, 0))
            put(tid, T.Union(t.name, t.size, [T.Member(v.name, placeholder, 0)
                                              for v in t.values]))
        else:
            continue
        changed = True
    return btf.to_bytes() if changed else raw

