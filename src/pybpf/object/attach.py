"""Auto-attach: attach a loaded program to the hook its section names, as libbpf's
skeletons do.  Programs whose sections name no complete target are left alone."""

from __future__ import annotations

from .. import errors

_ITER_NEEDS_ARG = {"bpf_map_elem": "map=", "bpf_sk_storage_map": "map=", "sockmap": "map=",
                   "cgroup": "cgroup_fd= or cgroup_id="}
# section prefix -> the call that attaches programs whose hook needs a run-time argument
_MANUAL = (("tcx", "attach_tc(iface, 'ingress' or 'egress')"),
           ("tc", "attach_tc(iface, 'ingress' or 'egress')"),
           ("classifier", "attach_tc(iface, 'ingress' or 'egress')"),
           ("xdp", "attach_xdp(iface)"), ("socket", "attach_socket(sock)"),
           ("perf_event", "attach_perf_event(type=..., config=..., sample_freq=...)"),
           ("cgroup", "attach_cgroup(path)"), ("sk_lookup", "attach_netns(netns=None)"),
           ("flow_dissector", "attach_netns(netns=None)"), ("sk_msg", "attach_sockmap(map)"),
           ("sk_skb", "attach_sockmap(map)"),
           ("netfilter", "attach_netfilter('ipv4' or 'ipv6', hook, priority)"),
           ("sk_", "a pybpf.links call"),
           ("sockops", "attach_cgroup(path)"),
           ("struct_ops", "obj.attach_struct_ops(map): its struct_ops map registers it"))
_BY_FAMILY = {"uprobe": "attach_uprobe(binary, func)", "uprobe_multi":
              "attach_uprobe_multi(binary, funcs)", "usdt": "attach_usdt(binary, provider, name)",
              "kprobe": "attach_kprobe(func)", "ksyscall": "attach_ksyscall(name)",
              "kprobe_multi": "attach_kprobe_multi(pattern)",
              "tracepoint": "attach_tracepoint(category, name)",
              "raw_tp": "attach_raw_tracepoint(name)"}


def needs_arguments(pspec) -> str | None:
    """None when the program's section says where to attach it; else the call that
    attaches it by hand (``"attach_tc(iface, ...)"``)."""
    info = pspec.sec_info
    section = pspec.section or ""
    if info is None:
        return f"a pybpf.links call (section {section!r} names no hook)"
    family, t = info.auto_attach, info.target
    if family is None:
        for prefix, call in _MANUAL:
            if section.startswith(prefix):
                return call
        return f"a pybpf.links call (section {section!r})"
    if family == "iter":
        if t is not None and t.name in _ITER_NEEDS_ARG:
            return f"attach_iter({_ITER_NEEDS_ARG[t.name]}...)"
        return None
    if family in ("tracing", "lsm"):
        return None
    if t is None or (family == "tracepoint" and not (t.category and t.name)) or \
            (family in ("uprobe", "usdt", "uprobe_multi") and not t.path) or \
            (family == "usdt" and not (t.provider and t.name)) or \
            (family == "uprobe" and not (t.name or t.offset)) or \
            (family in ("kprobe", "ksyscall", "kprobe_multi", "raw_tp", "uprobe_multi")
             and not t.name):
        return _BY_FAMILY.get(family, "a pybpf.links call")
    return None


def auto_attach(prog, pspec, obj=None):
    """A Link for ``prog`` from its section, or None when the section needs a target.

    ``obj`` (the loaded Object) lends USDT programs its ``__bpf_usdt_specs`` map, which
    usdt.bpf.h's bpf_usdt_arg() reads argument specs from."""
    info = pspec.sec_info
    if info is None or not info.auto_attach or info.target is None:
        return None
    family, t = info.auto_attach, info.target
    if family == "tracepoint":
        from ..links import tracepoint
        if not t.category or not t.name:
            return None
        return tracepoint.attach(prog, t.category, t.name)
    if family == "raw_tp":
        from ..links import raw_tracepoint
        return raw_tracepoint.attach(prog, t.name) if t.name else None
    if family in ("tracing", "lsm"):
        from ..links import tracing
        return tracing.attach(prog)
    if family in ("kprobe", "kprobe_multi", "ksyscall"):
        from ..links import kprobe
        if not t.name:
            return None
        if family == "kprobe_multi":
            return kprobe.attach_multi(prog, t.name, retprobe=t.retprobe)
        return kprobe.attach(prog, t.name, offset=t.offset, retprobe=t.retprobe,
                             syscall=family == "ksyscall")
    if family == "usdt":
        from ..links import usdt
        if not t.path or not t.provider or not t.name:
            return None
        spec_map = obj.maps.get(usdt.SPEC_MAP) if obj is not None else None
        if spec_map is None:
            return usdt.attach(prog, t.path, t.provider, t.name)
        link = usdt.attach(prog, t.path, t.provider, t.name, spec_map=spec_map,
                           spec_id=obj.usdt_spec_ids)
        obj.usdt_spec_ids += len(link.spec_ids)
        return link
    if family == "uprobe":
        from ..links import uprobe
        if not t.path or not (t.name or t.offset):
            return None
        return uprobe.attach(prog, t.path, t.name or None, offset=t.offset,
                             retprobe=t.retprobe)
    if family == "uprobe_multi":
        # as libbpf's attach_uprobe_multi: every function of the binary matching the glob,
        # in one link (uprobe.session: entry and return, 6.13+)
        from ..links import uprobe_multi
        if not t.path or not t.name:
            return None
        return uprobe_multi.attach(prog, t.path, t.name, retprobe=t.retprobe,
                                   session=pspec.section.startswith("uprobe.session"))
    if family == "iter":
        # as libbpf: iterators that need no parameter are attached (read them with
        # pybpf.links.iter.read/records); map, sockmap and cgroup iterators need one
        if not t.name or t.name in _ITER_NEEDS_ARG:
            return None
        from ..links import iter as it
        return it.attach(prog)
    raise errors.NotSupportedError(f"auto-attach of {pspec.section!r}",
                                   "attach it explicitly with pybpf.links")


def attach_all(obj, names, skip_missing: bool) -> list:
    """:meth:`Object.attach`: auto-attach, all or nothing."""
    wanted = None
    if names is not None:
        wanted = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in wanted if n not in obj.programs]
        if unknown:
            raise KeyError(f"no program {', '.join(map(repr, unknown))} in object "
                           f"{obj.name!r}; programs: {sorted(obj.programs)}")
    todo = []
    manual = []
    for name, prog in obj.programs.items():
        if wanted is not None and name not in wanted:
            continue
        pspec = obj._program_spec(name)
        call = needs_arguments(pspec)
        if call is None:
            todo.append((name, prog, pspec))
        elif wanted is not None:
            prefix = "" if call.startswith(("a pybpf", "obj.")) else f"obj.programs[{name!r}]."
            manual.append(f"{name} ({pspec.section}): {prefix}{call}")
    if manual:
        raise ValueError("programs that need arguments to attach: " + "; ".join(manual))
    new = []
    try:
        for name, prog, pspec in todo:
            try:
                link = auto_attach(prog, pspec, obj)
            except (errors.NotSupportedError, errors.NotFoundError) as e:
                if not skip_missing:
                    raise
                from .. import log
                log.info("program %r: not attached: %s", name, e)
                obj.skipped[name] = str(e)
                continue
            if link is not None:
                from .. import log
                log.debug("program %r: attached (%s %s)", name, link.kind, link.target)
                obj.links.append(link)
                new.append(link)
            else:
                from .. import log
                log.debug("program %r: section %r needs no attachment here", name,
                          pspec.section)
        if wanted is None and obj._struct_ops:
            # as a libbpf skeleton's attach: every created struct_ops map is registered
            from .structops_load import attach
            for name, reg in obj._struct_ops.items():
                if reg.registered:
                    continue        # as the skeleton: a map with a live link is left be
                try:
                    new.append(attach(obj, name))
                except errors.NotSupportedError as e:
                    if not skip_missing:
                        raise
                    obj.skipped[name] = str(e)
    except BaseException:
        for link in reversed(new):
            link.close()
            obj.links.remove(link)
        raise
    return new
