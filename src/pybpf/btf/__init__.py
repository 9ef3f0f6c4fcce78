"""BTF: the type model, parsing and marshalling (``Spec``), kernel BTF, BTF.ext.

``Spec`` and ``Kind`` are imported on first use, so modules such as ``btf.handle`` (loading
a ready blob into the kernel) stay cheap for a warm start.
"""

__all__ = ["Spec", "Kind"]


def __getattr__(name: str):
    if name == "Spec":
        from .spec import Spec
        return Spec
    if name == "Kind":
        from .types import Kind
        return Kind
    raise AttributeError(f"module 'pybpf.btf' has no attribute {name!r}")
