"""Attaching programs to hooks: one module per hook family; each returns a :class:`Link`."""

from .base import Link

__all__ = ["Link"]
