"""Which BTF kinds the running kernel's BPF_BTF_LOAD accepts, from one tiny blob per kind
(as libbpf's FEAT_BTF_* probes): what :func:`.btfsanitize.downgrade` must rewrite in an
object's BTF before an older kernel takes it.

Probed only after the kernel rejected an object's BTF as it is, so a current kernel never
pays for it; :meth:`pybpf.features.Features.btf_kinds` remembers the answer.
"""

from __future__ import annotations

from .._record import named_tuple

# One flag per kernel feature, True when the kernel has it (the kernel that added it):
#   func          FUNC and FUNC_PROTO (5.0)       func_global   global FUNC linkage (5.6)
#   datasec       VAR and DATASEC (5.2)           qmark_datasec DATASEC named "?..." (6.x)
#   float         FLOAT (5.13)                    decl_tag      DECL_TAG (5.16)
#   type_tag      TYPE_TAG (5.17)                 enum64        ENUM64, signed ENUM (6.0)
BtfKinds = named_tuple("BtfKinds", "func func_global datasec qmark_datasec float "
                                   "decl_tag type_tag enum64")

ALL = BtfKinds(*[True] * len(BtfKinds._fields))
"""A kernel that takes every kind pybpf knows: nothing to rewrite."""
NONE = BtfKinds(*[False] * len(BtfKinds._fields))
"""A kernel with BTF but none of the kinds added since (4.18): rewrite everything."""


def _blobs() -> dict[str, bytes]:
    """The probe blob of each feature: valid BTF that uses it and nothing newer."""
    from ..btf import types as T
    from ..btf.spec import Spec

    def blob(*types) -> bytes:
        s = Spec()
        for t in types:
            s.add(t)
        return s.to_bytes()
    i32 = T.Int("int", 4, T.SIGNED, 32)
    proto = T.FuncProto(1, [T.Param("a", 1)])
    var = T.Var("a", 1, 1)
    return {
        "func": blob(i32, proto, T.Func("a", 2, 0)),
        "func_global": blob(i32, proto, T.Func("a", 2, 1)),
        "datasec": blob(i32, var, T.Datasec(".data", 4, [T.VarSecinfo(2, 0, 4)])),
        "qmark_datasec": blob(i32, var, T.Datasec("?.data", 4, [T.VarSecinfo(2, 0, 4)])),
        "float": blob(T.Float("float", 4)),
        "decl_tag": blob(i32, var, T.DeclTag("tag", 2, -1)),
        "type_tag": blob(i32, T.TypeTag("tag", 1), T.Ptr(2)),
        "enum64": blob(T.Enum64("e", 8, False, [T.EnumValue("v", 1 << 40)])),
    }


def accepts(blob: bytes) -> bool:
    """Whether BPF_BTF_LOAD takes ``blob`` (loaded without a log, closed at once)."""
    from .. import errors
    from ..features import _load_btf
    try:
        _load_btf(blob).close()
        return True
    except errors.MissingPrivilegeError:
        raise
    except (errors.KernelError, errors.BTFError):   # refused (btf.handle's word for it)
        return False


def probe() -> BtfKinds:
    """The running kernel's :class:`BtfKinds` (eight BPF_BTF_LOAD calls)."""
    blobs = _blobs()
    return BtfKinds(*[accepts(blobs[f]) for f in BtfKinds._fields])
