"""freplace (``SEC("freplace/<func>")``, BPF_PROG_TYPE_EXT): a program that replaces a
global function of another loaded BPF program.  It is loaded against that program
(``attach_prog_fd``) and the id of the function in the target's own BTF, as libbpf's
``bpf_program__set_attach_target(prog, target_fd, func)`` arranges.
"""

from __future__ import annotations

from .. import errors


def set_target(spec, program: str, target, func: str = "") -> None:
    """:meth:`ObjectSpec.set_attach_target <pybpf.object.spec.ObjectSpec.set_attach_target>`."""
    try:
        p = spec.programs[program]
    except KeyError:
        raise KeyError(f"no program {program!r}; known: {sorted(spec.programs)}") from None
    if target is None or (type(target) is int and target == 0):
        _kernel_target(p, func)
        return
    p.attach_prog, p.attach_func = target, func or p.attach_func


def _kernel_target(p, func: str) -> None:
    """A kernel function (``[module:]func``) as the target of a BTF-attached program
    (fentry/fexit/fmod_ret, lsm, tp_btf, iter), replacing what its section names: libbpf's
    ``bpf_program__set_attach_target(prog, 0, func)``.  Loaders that pick the hook at run
    time (Tetragon's SEC("lsm"), SEC("fentry/generic_fentry_tail")) need it.  As in libbpf
    the name is the hook's own: "file_open" for lsm, "sched_switch" for tp_btf."""
    from .sections import AttachTarget, SectionInfo
    info = p.sec_info
    if info is None or not info.needs_btf_id:
        raise ValueError(f"program {p.name!r} ({p.section!r}) is not attached through a "
                         "kernel BTF id (fentry/fexit/fmod_ret, lsm, tp_btf, iter): it has "
                         "no kernel function to set")
    module, _, name = func.rpartition(":")
    if not name:
        raise ValueError(f"program {p.name!r}: name the kernel function to attach to")
    # a copy: the parsed section may be shared
    p.sec_info = SectionInfo(info.section, info.prog_type, info.expected_attach_type,
                             info.flags, info.auto_attach, AttachTarget(name=name,
                             module=module), func, info.sec_def)


def target(p) -> tuple[int, int]:
    """(BTF id of the replaced function in the target program's BTF, the target's fd)
    for freplace program ``p`` (its ``attach_prog``, and ``attach_func`` or the
    section's function name)."""
    from ..btf.kinds import Kind
    from ..btf.spec import Spec
    from ..info import btf_data, fd_by_id, prog_info
    func = p.attach_func or (p.sec_info.target.name if p.sec_info and p.sec_info.target
                             else "")
    if p.attach_prog is None:
        raise errors.PybpfError(
            f"program {p.name!r} ({p.section!r}) replaces function {func or '?'!r} of "
            "another loaded BPF program: name it before load with "
            f"spec.set_attach_target({p.name!r}, program) (libbpf's "
            "bpf_program__set_attach_target), or set autoload=False")
    if not func:
        raise errors.PybpfError(f"program {p.name!r} ({p.section!r}) names no function "
                                "to replace: give set_attach_target(..., func=)")
    fd = p.attach_prog.fileno() if hasattr(p.attach_prog, "fileno") else int(p.attach_prog)
    info = prog_info(fd)
    if not info.btf_id:
        raise errors.PybpfError(f"program {p.name!r}: target program {info.name!r} was "
                                "loaded without BTF, so it has no function to replace")
    with fd_by_id("btf", info.btf_id) as btf_fd:
        spec = Spec.parse(btf_data(btf_fd.fileno()))
    ids = spec.find(func, Kind.FUNC)
    if not ids:
        funcs = sorted(t.name for t in spec.types() if t.kind == Kind.FUNC)
        raise errors.NotFoundError(2, "freplace", f"program {p.name!r}: target program "
                                   f"{info.name!r} has no function {func!r} (its "
                                   f"functions: {', '.join(funcs) or 'none'})")
    return ids[0], fd
