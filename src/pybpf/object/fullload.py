"""The full path of one load, for an object no plan describes yet: the object's BTF
sanitised and loaded, CO-RE resolved (fixes cached per kernel), externs, linking, each
program loaded from its spec, and the plan recorded for the next start.  A warm start
replays that plan with :class:`.builder._Loader` alone and never imports this module.
"""

from __future__ import annotations

import os

from .. import errors
from .._sys.uapi import AttachType, ProgFlag, ProgType
from .builder import _Loader


def set_section(spec, pname: str, section: str) -> None:
    """Make program ``pname`` load as if it sat in SEC(``section``)."""
    from .sections import parse_section
    p = spec.programs.get(pname)
    if p is None:
        raise KeyError(f"no program {pname!r}; known: {sorted(spec.programs)}")
    info = parse_section(section)
    if info is None:
        raise ValueError(f"{section!r} is not a section name libbpf knows")
    p.sec_info, p.type, p.expected_attach_type = info, info.prog_type, \
        info.expected_attach_type
    p.sleepable, p.xdp_frags = info.sleepable, info.xdp_frags


def spec_globals(spec) -> dict[str, tuple]:
    """name -> (section, offset, size, signed, BTF type id or 0)."""
    return {n: (v.section, v.offset, v.size, v.signed, v.type_id if v.btf is not None else 0)
            for n, v in spec.globals.items()}


class FullLoader(_Loader):
    """One load from an :class:`~pybpf.object.spec.ObjectSpec` (:meth:`run`)."""

    def __init__(self, *args, core_targets=(), **kwargs):
        super().__init__(*args, **kwargs)
        # BTF searched for CO-RE candidates after the kernel's (load's core_targets=)
        self.core_targets = [getattr(t, "btf", None) or t for t in core_targets]
        # a kernel BTF given (kernel_btf=) keys the cached fixes by its identity
        self.custom_kernel = self._vmlinux is not None
        self._running = None     # the running kernel's BTF, when kernel_btf stands in
        self._uprobe_multi: bool | None = None
        # function -> {its instruction index: the CO-RE relocation that poisoned it}, for
        # the verifier error should the poisoned instruction be reachable
        self.core_poisons: dict[str, dict[int, str]] = {}
        # (hook, kind, module) -> kernel BTF ids: one search per hook, not per program
        self._hook_ids: dict[tuple, list] = {}
        # the BTF kinds the kernel takes (btfprobe.BtfKinds): probed only once the kernel
        # rejected the object's BTF as it is; set beforehand, it is used without asking
        self.btf_kinds = None

    # -- kernel BTF, only touched when something needs it --------------------------------
    def vmlinux(self):
        if self._vmlinux is None:
            from ..btf.kernel import load_vmlinux
            self._vmlinux = load_vmlinux()
        return self._vmlinux

    def uprobe_multi(self) -> bool:
        """Whether the kernel takes uprobe_multi links (probed once per load)."""
        if self._uprobe_multi is None:
            from ..features import Features
            self._uprobe_multi = Features().has_uprobe_multi()
        return self._uprobe_multi

    def kernel(self):
        """The running kernel's BTF even when ``kernel_btf=`` stands in for it in CO-RE:
        libbpf's btf_custom_path is for CO-RE only; hooks, ksyms and struct_ops types are
        the kernel's."""
        if not self.custom_kernel:
            return self.vmlinux()
        if self._running is None:
            from ..btf.kernel import load_vmlinux
            self._running = load_vmlinux()
        return self._running

    def modules(self) -> dict:
        """Split BTF of every loaded module by name (read once, when first needed)."""
        if self._modules is None:
            from ..btf.kernel import load_module
            from ..kernelid import module_btf_names
            self._modules = {}
            for name in module_btf_names():
                try:
                    self._modules[name] = load_module(name, self.kernel())
                except (errors.PybpfError, OSError):
                    continue          # unloaded meanwhile, or unreadable: not a candidate
        return self._modules

    def module_specs(self) -> list:
        """The modules' split BTF, as CO-RE's candidate search takes it."""
        return list(self.modules().values())

    def run(self, spec) -> None:
        from . import kconfig
        from .link import Resolver, link_program
        self.spec = spec
        self.map_specs = spec.maps
        self.load_btf()
        kconfig.fill(spec)
        if any(m.struct_ops is not None for m in spec.maps.values()) or \
                any(p.type == ProgType.STRUCT_OPS for p in spec.programs.values()):
            from .structops_load import prepare
            prepare(self)       # kernel layouts and callback targets, before any map
        if self.plan is not None:
            from .plan import PLAN_VERSION
            from ..ctypes_btf import export_types
            self.plan.update(v=PLAN_VERSION, globals=self.obj._globals,
                             types=export_types(spec.btf, [g[4] for g in
                                                           self.obj._globals.values()] +
                                                [t for m in spec.maps.values()
                                                 for t in (m.key_type_id, m.value_type_id)])
                             if spec.btf is not None else {})
        for name, m in spec.maps.items():
            if m.autocreate:
                self.create_map(name, m)
        self.fill_map_slots(maps_only=True)
        code = self.apply_core()
        res = Resolver(map_fd=self.map_fd, ksym=self.ksym,
                       value_base=lambda name: self.arena_offsets.get(name, 0))
        exc = None          # exception callbacks, found when a program first loads
        for name, p in spec.programs.items():
            if not p.autoload:
                continue
            if p.sec_info is None and not p.type:
                # libbpf refuses such sections too ("failed to guess program type");
                # other loaders take prefixes like "socket/x": say how to load it anyway
                raise errors.ELFError(
                    f"program {name!r}: section {p.section!r} names no program type "
                    f"libbpf knows; load it with sections={{{name!r}: \"<section>\"}} "
                    "(e.g. \"socket\", \"xdp\") or set autoload=False")
            if exc is None:
                from .exccb import exception_callbacks
                exc = exception_callbacks(spec)
            self.load_program(p, link_program(spec, p, code, res, exc.get(name)))
        self.fill_map_slots(maps_only=False)
        if self.st_layouts:
            from .structops_load import registrations
            registrations(self)

    def load_btf(self) -> None:
        if self.spec.btf is None:
            return
        from ..btf.handle import load_btf
        from .btfsanitize import downgrade, kernel_btf_bytes
        hidden = {n for n, f in self.spec.functions().items() if f.hidden}
        raw = kernel_btf_bytes(self.spec.btf, hidden)
        if self.btf_kinds is not None:
            raw = downgrade(raw, self.btf_kinds)
        try:
            fd = load_btf(raw)
        except errors.BTFError as e:
            fd, raw, e = self._load_downgraded(raw, e)
            if fd is None:
                self._without_btf(e)
                return
        self.obj.btf_fd = fd
        self.obj._owned.append(fd)
        if self.plan is not None:
            # the bytes the kernel took: a warm start on this kernel loads them directly
            self.plan["btf"] = raw

    def _load_downgraded(self, raw: bytes, first):
        """(fd, bytes loaded, None), or (None, raw, the rejection) when rewriting the kinds
        the kernel lacks (libbpf's BTF sanitising, for kernels before 6.0) does not help."""
        if self.btf_kinds is not None:
            return None, raw, first         # rewritten already
        from ..btf.handle import load_btf
        from ..features import Features
        from .btfsanitize import downgrade
        self.btf_kinds = Features().btf_kinds()
        try:
            old = downgrade(raw, self.btf_kinds)
        except errors.BTFError:
            return None, raw, first         # not BTF the rewrite understands
        if old == raw:
            return None, raw, first         # rejected for something else
        try:
            return load_btf(old), old, None
        except errors.BTFError as e:
            return None, raw, e

    def _without_btf(self, e) -> None:
        """Go on without object BTF, or raise ``e`` (the kernel's rejection) when a
        program cannot load without it."""
        if any(p.sec_info is not None and p.sec_info.needs_btf_id
               for p in self.spec.programs.values()):
            raise e
        # like libbpf: without kernel-accepted BTF the object still loads, minus
        # BTF-described maps and source lines in verifier errors
        import warnings
        # one line: the kernel's verdict is the log's last line (the rest is a dump
        # of every type, in the BTFError for callers that need BTF)
        why = [ln for ln in str(e).splitlines() if ln.strip()]
        verdict = why[-1].strip() if len(why) > 1 else str(e)
        warnings.warn(f"object BTF rejected by the kernel, loading without it: "
                      f"{verdict}", stacklevel=3)
        self.plan = None

    def map_fd(self, name: str) -> int:
        mp = self.obj.maps.get(name)
        if mp is None:
            m = self.spec.maps.get(name)
            if m is None:
                raise errors.ELFError(f"relocation against unknown map {name!r}")
            mp = self.create_map(name, m)
        return mp.fileno()

    # -- CO-RE ---------------------------------------------------------------------------
    def apply_core(self) -> dict[str, bytes]:
        """Each function's bytes with CO-RE relocations resolved against the kernel.

        Resolved fixes are cached per (kernel, object BTF, relocations), so a warm start
        patches instructions without reading the kernel's BTF at all.
        """
        code = {name: fn.instructions for name, fn in self.spec.functions().items()}
        ext = self.spec.btf_ext
        if ext is None or not ext.core_relos:
            return code
        from . import core                      # only objects with CO-RE relocations
        from bisect import bisect_right
        by_section: dict[str, list] = {}
        for fn in self.spec.functions().values():
            by_section.setdefault(fn.section, []).append(fn)
        work = []
        for section, relos in ext.core_relos.items():
            # the function holding each relocation, by bisection over start offsets (a
            # linked .text holds hundreds of functions and thousands of relocations)
            fns = sorted(by_section.get(section, ()), key=lambda f: f.section_offset)
            starts = [f.section_offset for f in fns]
            for relo in relos:
                i = bisect_right(starts, relo.insn_off) - 1
                fn = fns[i] if i >= 0 else None
                # a program not loaded is not relocated (libbpf): its relocations must
                # neither fail the load nor narrow the candidates of later ones
                if fn is not None and relo.insn_off < fn.section_offset + len(fn.instructions) \
                        and (fn.subprogram or fn.autoload):
                    work.append((fn, relo))
        fixes = self._cached_fixes(work)
        for (fn, relo), fix in zip(work, fixes):
            buf = code[fn.name]
            if not isinstance(buf, bytearray):
                buf = code[fn.name] = bytearray(buf)
            idx = (relo.insn_off - fn.section_offset) // 8
            core.patch(buf, idx, fix, where=f"{fn.name}: ")
            if fix.poison:
                self.core_poisons.setdefault(fn.name, {})[idx] = core.describe(
                    self.spec.btf, relo)
        return {k: bytes(v) for k, v in code.items()}

    def _cached_fixes(self, work) -> list:
        import marshal                 # the fixes are plain ints: no json import, no regexes
        from . import core
        from ..cache import cache_dir, read_private, write_private
        from ..kernelid import kernel_key, module_btf_names
        from ..codeid import code_identity
        from .._hash import sha256
        # CO-RE resolution is pybpf's own code: a fixed resolver must not reuse old fixes
        h = sha256(f"{kernel_key()}|{code_identity()}".encode())
        # relocations that vmlinux cannot satisfy look into modules, which come and go
        h.update("|".join(module_btf_names()).encode())
        h.update(self.spec.btf.identity.encode() or self.spec.btf.to_bytes())
        for t in ([self._vmlinux] if self.custom_kernel else []) + self.core_targets:
            # fixes hold per target BTF (a spec built with add() has no identity: its bytes)
            h.update(b"|target " + (t.identity.encode() or sha256(t.to_bytes()).digest()))
        for fn, r in work:
            h.update(f"{fn.name}|{r.insn_off}|{r.type_id}|{r.access}|{int(r.kind)};".encode())
        # PYBPF_NO_CORE_CACHE=1: resolve as an object's first load on a kernel does (bench)
        d = None if os.environ.get("PYBPF_NO_CORE_CACHE") else cache_dir()
        path = os.path.join(d, f"core-{h.hexdigest()}.m") if d else None
        if path:
            raw = read_private(path)
            if raw is not None:
                try:
                    fixes = [core.Fix(core.R(k), *rest) for k, *rest in marshal.loads(raw)]
                    if len(fixes) == len(work):
                        return fixes
                except (ValueError, TypeError, EOFError):
                    pass
        targets = [self.vmlinux(), *self.core_targets]
        # a fix depends on (type, access, kind) alone, and objects repeat them: Inspektor
        # Gadget's trace_exec has 4645 relocations and 58 distinct ones, Falco's 17,000 are
        # 293 (fixes are not mutated); kernel candidates are searched once per local type
        cands: dict = {}
        memo: dict[tuple, core.Fix] = {}
        fixes = []
        for fn, r in work:
            key = (r.type_id, r.access, int(r.kind))
            fix = memo.get(key)
            if fix is None:
                try:
                    fix = memo[key] = core.resolve(
                        self.spec.btf, r, targets,
                        # kernel_btf given: no module search (libbpf)
                        None if self.custom_kernel else self.module_specs, cands)
                except core.CoreError as e:
                    # say where: the selftests' bitfields___err_too_big_bitfield
                    raise core.CoreError(f"{fn.name}: {core.describe(self.spec.btf, r)}: "
                                         f"{e}") from None
            fixes.append(fix)
        if path:
            write_private(path, marshal.dumps([
                (int(f.kind), f.local, f.target, f.poison, f.orig_size, f.new_size, f.validate)
                for f in fixes]))
        return fixes

    # -- externs -------------------------------------------------------------------------
    def ksym(self, name: str) -> tuple[int, int, int]:
        from ..btf.types import Kind
        from . import core, kconfig
        ext = self.spec.externs[name]
        if ext.typeless:
            if self._kallsyms is None:     # every typeless ksym of the object, one read
                self._kallsyms = kconfig.kallsyms_addresses(
                    [n for n, e in self.spec.externs.items()
                     if e.kind == "ksym" and e.typeless])
            addr = self._kallsyms.get(name)
            if addr is None:
                if ext.weak:
                    return 0, 0, 0
                raise errors.NotFoundError(2, "ksym", f"kernel symbol {name!r} not found in "
                                           "/proc/kallsyms")
            return 0, addr, 0
        kind = Kind.FUNC if ext.is_func else Kind.VAR
        kernel = self.kernel()
        # a kfunc may be declared in flavors (bpf_task_acquire___one): the kernel's is
        # found by the essential name, as libbpf does; variables keep their full name
        ids = kernel.find(core.essential_name(name) if ext.is_func else name, kind)
        if not ids:
            if ext.weak:
                return 1, 0, 0
            raise errors.NotFoundError(2, "ksym", f"kernel {'function' if ext.is_func else 'variable'}"
                                       f" {name!r} has no BTF in vmlinux")
        if ext.is_func and ext.weak and not core.types_compat(
                self.spec.btf, ext.type_id, kernel, kernel[ids[0]].type):
            # a __weak one declared with another prototype than the kernel's stays
            # unresolved, as in libbpf (its bpf_ksym_exists() reads false: the selftests'
            # bpf_task_acquire___two).  A strong one is the kernel's: libbpf refuses it
            # when even a parameter's struct is only forward-declared (struct sock;), the
            # verifier checks every call's arguments against the kernel's BTF anyway
            return 1, 0, 0
        return 1, ids[0], 0

    # -- programs ------------------------------------------------------------------------
    def load_program(self, p, linked) -> None:
        from ..programs import Program, ProgramSpec as KProgSpec
        from . import kconfig
        flags = 0
        if p.sleepable:
            flags |= ProgFlag.SLEEPABLE
        if p.xdp_frags:
            flags |= ProgFlag.XDP_HAS_FRAGS
        attach_btf_id = attach_btf_obj_fd = 0
        info = p.sec_info
        expected = p.expected_attach_type or 0
        from .sections import SecFlag
        if info is not None and info.flags & SecFlag.USDT and not expected and \
                self.uprobe_multi():
            # libbpf 1.5+ loads usdt programs for uprobe_multi links where the kernel has
            # them (the helpers it may call differ: bpf_get_attach_cookie's is another);
            # attach_usdt then makes one such link per binary
            expected = AttachType.TRACE_UPROBE_MULTI
        if info is not None and info.needs_btf_id:
            attach_btf_id, attach_btf_obj_fd = self.attach_btf_id(p)
        elif p.name in self.st_targets:
            # a struct_ops callback: the kernel struct, and which of its members
            attach_btf_id, expected = self.st_targets[p.name]
        # a kernel without BTF FUNCs (before 5.0) has the object's FUNCs as typedefs:
        # their func and line info would name no function (libbpf leaves it out too)
        has_btf = self.obj.btf_fd is not None and (self.btf_kinds is None or
                                                   self.btf_kinds.func)
        # the kernel keeps 15 characters of the name (_LoadAttr cuts it); errors and the
        # Program name it in full, as libbpf does (Tetragon's generic_usdt_actions...)
        ks = KProgSpec(
            name=p.name, type=p.type, instructions=bytes(linked.insns),
            license=p.license or ("" if self.spec.no_license else "GPL"),
            expected_attach_type=expected, attach_btf_id=attach_btf_id,
            attach_btf_obj_fd=attach_btf_obj_fd,
            kern_version=p.kern_version or kconfig.kernel_version_code(), flags=flags,
            btf_fd=self.obj.btf_fd.fileno() if has_btf else 0,
            func_info=linked.func_info if has_btf else b"",
            func_info_rec_size=8, func_info_cnt=linked.func_info_cnt if has_btf else 0,
            line_info=linked.line_info if has_btf else b"",
            line_info_rec_size=16, line_info_cnt=linked.line_info_cnt if has_btf else 0,
            source_lines=linked.lines, fd_array=linked.fd_array, section=p.section,
            attach_to=info.extra if info else "")
        try:
            prog = Program.load(ks, log_level=self.log_level)
        except errors.KernelError as e:
            if isinstance(e, errors.VerifierError) and self.core_poisons and \
                    _poison_call() in e.reason:
                _name_poison(e, linked, self.core_poisons)
            if p.name not in self.st_targets:
                raise
            from .structops_load import load_error
            raise load_error(p, self.spec.maps, e) from None
        self._own_program(p.name, prog)
        if self.plan is not None:
            self._record_program(p, ks)

    def _record_program(self, p, ks) -> None:
        from .planrecord import attach_entry, fd_relocations
        fd_names = {mp.fileno(): n for n, mp in self.obj.maps.items()}
        relos = fd_relocations(ks.instructions, fd_names)
        if relos is None or ks.fd_array or ks.attach_btf_obj_fd:
            self.plan = None     # holds fds a replay could not recreate by name
            return
        self.plan["progs"].append({
            "name": p.name, "kname": ks.name, "type": int(ks.type), "insns": ks.instructions,
            "relos": relos, "license": ks.license, "eat": int(ks.expected_attach_type),
            "attach_btf_id": ks.attach_btf_id, "kern_version": ks.kern_version,
            "flags": int(ks.flags), "func_info": ks.func_info, "fi_cnt": ks.func_info_cnt,
            "line_info": ks.line_info, "li_cnt": ks.line_info_cnt, "section": ks.section,
            "attach_to": ks.attach_to, "attach": attach_entry(p)})

    def attach_btf_id(self, p) -> tuple[int, int]:
        """(BTF id of the program's attach target, fd of the module BTF holding it or 0):
        vmlinux first, then the named module, or every loaded module, as libbpf does."""
        from ..btf.types import Kind
        if p.sec_info.prog_type == ProgType.EXT:
            # its target is a function of another loaded BPF program, not of the kernel
            from .freplace import target as freplace_target
            return freplace_target(p)
        target = p.sec_info.btf_target()
        if target is None:
            raise errors.ELFError(f"program {p.name!r} in {p.section!r} names no attach "
                                  f"target: set one before load with spec.set_attach_target"
                                  f"({p.name!r}, None, 'hook') (libbpf's "
                                  "bpf_program__set_attach_target)")
        name, kind, module = target
        k = Kind.TYPEDEF if kind == "typedef" else Kind.FUNC
        # one search per hook: Falco's probe has 189 tp_btf programs on a few hooks
        memo = self._hook_ids
        ids = memo.get((name, k, module))
        if ids is None:
            ids = memo[name, k, module] = self.kernel().find(name, k) if not module else []
        if ids:
            return ids[0], 0
        from ..btf.handle import module_btf_fds
        for mod, spec in self.modules().items():
            if module and mod != module:
                continue
            found = [t for t in spec.find(name, k) if t >= spec.start_id]
            if not found:
                continue
            for _, fd in module_btf_fds(mod):
                self.obj._owned.append(fd)   # the kernel holds it too; libbpf keeps it open
                return found[0], fd.fileno()
        raise errors.NotFoundError(2, "attach target",
                                   f"{p.section!r}: the kernel has no {kind} {name!r} in "
                                   f"its BTF{f' (module {module})' if module else ''}; "
                                   f"spec.set_attach_target({p.name!r}, None, 'hook') "
                                   "names another")


def _poison_call() -> str:
    """How the verifier names a call to core.POISON_IMM (an unresolved relocation)."""
    from .core import POISON_IMM
    return f"invalid func unknown#{POISON_IMM}"


def _name_poison(e, linked, poisons: dict[str, dict[int, str]]) -> None:
    """The verifier reached an instruction an unresolved CO-RE relocation poisoned: say
    which relocation (libbpf rewrites the log the same way) instead of an unknown call."""
    what = None
    for fn, start in linked.layout:
        what = poisons.get(fn.name, {}).get((e.insn or 0) - start)
        if what is not None:
            break
    if what is None:
        return
    reason = (f"unresolved CO-RE relocation: {what} has no match in the kernel's BTF "
              "(guard the access with bpf_core_field_exists()/bpf_core_type_exists(), or "
              "give the type a ___flavor that matches)")
    e.log = e.log.replace(_poison_call(), reason).replace(
        "call unknown#195896080", "<invalid CO-RE relocation>")
    e.strerror = e.strerror.replace(e.reason, reason)
    e.args = (e.errno, e.strerror)
    e.reason = reason
