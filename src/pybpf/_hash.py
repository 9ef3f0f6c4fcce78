"""sha256 and blake2b without importing hashlib: hashlib loads the OpenSSL bindings, which costs a
warm start about 2 ms; the built-in sha256 module gives the same digests.  blake2b (BTF
identities, cold paths) is imported on first use: a tool's warm start only hashes with sha256."""

from __future__ import annotations

try:
    from _sha256 import sha256          # Python <= 3.11
except ImportError:                     # pragma: no cover - newer Pythons
    try:
        from _sha2 import sha256
    except ImportError:
        from hashlib import sha256

__all__ = ["sha256", "blake2b"]  # noqa: F822 (blake2b: module __getattr__)


def __getattr__(name: str):
    if name != "blake2b":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from _blake2 import blake2b     # the same object hashlib hands out
    except ImportError:                 # pragma: no cover
        from hashlib import blake2b
    globals()["blake2b"] = blake2b
    return blake2b
