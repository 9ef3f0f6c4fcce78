"""Exception callbacks: ``__exception_cb(cb)`` on a program (bpf_experimental.h's
``btf_decl_tag("exception_callback:cb")`` on its BTF func) names the global function the
verifier runs when the program calls ``bpf_throw``.  Nothing calls it, so the linker would
leave it out and the kernel would say "exception callback type id not found in func_info";
libbpf appends it to the program, and so does pybpf (:func:`exception_callbacks` finds
it, ``link_program`` appends it), with libbpf's rules for bad tags.
"""

from __future__ import annotations

from ..btf.kinds import Kind
from ..errors import ELFError

_TAG = "exception_callback:"
_GLOBAL = 1          # BTF_FUNC_GLOBAL


def exception_callbacks(spec) -> dict:
    """Program name -> the function (a ProgramSpec of ``spec.functions()``) to append as
    its exception callback.  A program with two such tags gets none (the verifier then
    refuses it, as with libbpf); a tag on a static function, with no name, or naming a
    function that is missing, static or hidden is refused in one line, as libbpf does."""
    btf = spec.btf
    out: dict = {}
    if btf is None:
        return out
    funcs = spec.functions()
    seen: set = set()
    for t in btf.types():
        if t.kind != Kind.DECL_TAG or t.component_idx != -1 or not t.name.startswith(_TAG):
            continue
        f = btf[t.type]
        if f.kind != Kind.FUNC or f.linkage != _GLOBAL:
            raise ELFError(f"{f.name or 'a type'!r}: __exception_cb (decl tag {t.name!r}) "
                           "is not on a main program (a global function with SEC())")
        prog = f.name
        if prog in seen:                  # several callbacks named: append none
            out[prog] = None
            continue
        seen.add(prog)
        name = t.name[len(_TAG):]
        if not name:
            raise ELFError(f"program {prog!r}: __exception_cb names no function")
        cb = funcs.get(name)
        if cb is None or not cb.subprogram:
            raise ELFError(f"program {prog!r}: exception callback {name!r} is defined "
                           "nowhere in the object")
        if not cb.global_binding or cb.hidden:
            raise ELFError(f"program {prog!r}: exception callback {name!r} must be a "
                           "global, non-hidden function (drop 'static' or __hidden)")
        out[prog] = cb
    return out
