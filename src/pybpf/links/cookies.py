"""BPF cookies where the kernel has none (before 5.15: no bpf link for perf events, no
bpf_get_attach_cookie()): a copy of the program for each attachment, its cookie calls
replaced by the cookie as a constant.  bcc gets the same effect by generating one program
per probe; here the copy is made from the loaded program's own instructions.
"""

from __future__ import annotations

from .. import errors

GET_ATTACH_COOKIE = 174         # enum bpf_func_id
_CALL = 0x85                    # BPF_JMP | BPF_CALL (src_reg 0: a helper)
_MOV64_IMM = 0xb7               # BPF_ALU64 | BPF_MOV | BPF_K


def bake_cookie(insns: bytes, cookie: int) -> bytes | None:
    """``insns`` with every ``call bpf_get_attach_cookie`` made ``r0 = cookie``; None when the
    program never calls it (then any copy would be the same program)."""
    out = bytearray(insns)
    found = False
    imm = GET_ATTACH_COOKIE.to_bytes(4, "little")
    for off in range(0, len(out) - 7, 8):
        # the second half of a ld_imm64 has code 0, so it never looks like a call
        if out[off] == _CALL and out[off + 1] >> 4 == 0 and out[off + 4:off + 8] == imm:
            out[off:off + 8] = bytes((_MOV64_IMM, 0, 0, 0)) + cookie.to_bytes(4, "little")
            found = True
    return bytes(out) if found else None


def program_with_cookie(prog, cookie: int):
    """A loaded copy of ``prog`` that sees ``cookie`` as its attach cookie, or None when
    ``prog`` does not read its cookie.  The caller owns the copy (close it with the link)."""
    spec = getattr(prog, "spec", None)
    if spec is None:
        raise errors.NotSupportedError(
            "bpf cookies", f"this kernel has none (5.15+), and program {prog.name!r} was "
            "opened by fd, id or pin: its instructions are not here to copy with the cookie")
    if not 0 <= cookie < 1 << 31:
        raise errors.NotSupportedError(
            f"bpf cookie {cookie:#x}", "this kernel has no bpf cookies (5.15+); pybpf gives "
            "a program its cookie as a 32-bit constant there, so only cookies below 2^31")
    return load_baked(spec, cookie)


def load_baked(spec, cookie: int, **load_kw):
    """``spec`` loaded with its cookie calls made ``r0 = cookie`` (None when it has none);
    the Program keeps ``spec`` itself, whose calls any later copy bakes again."""
    baked = bake_cookie(spec.insn_bytes(), cookie)
    if baked is None:
        return None
    from copy import copy
    from ..programs import Program
    clone = copy(spec)
    clone.instructions = baked
    prog = Program.load(clone, **load_kw)
    prog.spec = spec
    return prog
