"""Auto-attach: attach a loaded program to the hook its section names, as libbpf's
skeletons do.  Programs whose sections name no complete target are left alone."""

from __future__ import annotations

from .. import errors


def auto_attach(prog, pspec):
    """A Link for ``prog`` from its section, or None when the section needs a target."""
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
        return usdt.attach(prog, t.path, t.provider, t.name)
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
