"""Auto-attach: attach a loaded program to the hook its section names, as libbpf's
skeletons do.  Programs whose sections name no complete target are left alone."""

from __future__ import annotations

from .. import errors


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
    if family == "iter":
        return None  # iterators are read through links.iter.attach(), not auto-attached
    raise errors.NotSupportedError(f"auto-attach of {pspec.section!r}",
                                   "attach it explicitly with pybpf.links")
