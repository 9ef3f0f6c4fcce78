"""Make an object's BTF acceptable to the kernel, as libbpf does before BPF_BTF_LOAD.

The kernel rejects ``extern`` linkage (on VARs and FUNCs), which clang emits for
``__kconfig``/``__ksym`` externs; libbpf turns those into allocated globals and makes
``.ksyms`` entries point at a placeholder variable.  The changes are idempotent and
leave the types CO-RE matching reads untouched.
"""

from __future__ import annotations

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
