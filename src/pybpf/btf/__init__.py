"""BTF: the type model, parsing and marshalling (``Spec``), kernel BTF, BTF.ext."""

from .spec import Spec
from .types import Kind

__all__ = ["Spec", "Kind"]
