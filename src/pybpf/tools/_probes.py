"""Probe specs of the user-space tools (funccount, stackcount, funclatency, trace,
argdist), as bcc writes them: ``lib:func`` (uprobe), ``u:path:[provider:]probe`` (USDT),
``t:category:event`` (tracepoint), ``[p:]func`` (kprobe, where the kernel has them),
each part a wildcard (or a regular expression with -r); resolved to the places to attach.
"""

from __future__ import annotations

import fnmatch
import os
import re

# the program a family's probes run (PROBE_PROGRAMS(fn) in _common.bpf.h)
PROGRAM_SUFFIX = {"uprobe": "uprobe", "usdt": "uprobe", "tracepoint": "tracepoint",
                  "kprobe": "kprobe"}


def program(fn: str, family: str, multi: bool = False) -> str:
    """The name of PROBE_PROGRAMS(fn)'s program for a family (``multi``: the one for
    uprobe_multi links)."""
    return f"{fn}_umulti" if multi else f"{fn}_{PROGRAM_SUFFIX[family]}"


def use_multi(family: str, probes: list) -> bool:
    """Whether ``probes`` go in uprobe_multi links: several user functions or USDT
    sites, on a kernel that has them (6.6+).  Each uprobe's perf event costs a
    close the kernel makes wait (hundreds of them: seconds at exit); one link per
    binary attaches and detaches them all at once."""
    if family not in ("uprobe", "usdt") or len(probes) < 2:
        return False
    from ..links import uprobe_multi
    return uprobe_multi.available()


def attach_multi(family: str, prog, probes: list, pid: int, retprobe: bool = False,
                 only=None) -> tuple[list, dict]:
    """Attach ``prog`` (loaded for uprobe_multi) to the probes (or the indexes in
    ``only``), each with its index as the cookie, one link per binary: (links, {index:
    the kernel's error for a place it refused}), as attach() per probe would give."""
    from ..links import uprobe_multi
    by_path: dict[str, list[int]] = {}
    for i in (range(len(probes)) if only is None else only):
        by_path.setdefault(probes[i][1][0], []).append(i)
    links: list = []
    refused: dict = {}
    try:
        for path, idx in by_path.items():
            hows = [probes[i][1] for i in idx]
            done = uprobe_multi.attach_offsets(
                prog, path, [h[1] for h in hows], retprobe=retprobe, pid=pid, cookies=idx,
                ref_ctr_offsets=[h[2] for h in hows] if family == "usdt" else None)
            links += done.links
            refused.update((idx[j], e) for j, e in done.refused.items())
    except BaseException:
        for link in links:
            link.close()
        raise
    return links, dict(sorted(refused.items()))


def matcher(pattern: str, regexp: bool):
    """A test of names against a wildcard (or, with regexp, a regular expression)."""
    if regexp:
        rx = re.compile(pattern)
        return lambda name: rx.search(name) is not None
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def resolve(spec: str, regexp: bool) -> tuple[str, list[tuple[str, tuple]]]:
    """The family ("uprobe", "usdt", "tracepoint", "kprobe") and the probes (display
    name, attach arguments) a bcc pattern names; kprobes are named, not looked up."""
    parts = spec.split(":")
    if parts[0] == "t" and len(parts) == 3:
        from .. import tracefs
        cat_ok, name_ok = matcher(parts[1], regexp), matcher(parts[2], regexp)
        root = os.path.join(tracefs.root(), "events")
        found = []
        for cat in sorted(os.listdir(root)):
            if not cat_ok(cat) or not os.path.isdir(os.path.join(root, cat)):
                continue
            for name in sorted(os.listdir(os.path.join(root, cat))):
                if name_ok(name) and os.path.isdir(os.path.join(root, cat, name)):
                    found.append((f"{cat}:{name}", (cat, name)))
        return "tracepoint", found
    if parts[0] == "u" and len(parts) in (3, 4):
        from ..links import usdt
        path = parts[1]
        provider, name = (parts[2], parts[3]) if len(parts) == 4 else ("*", parts[2])
        pok, nok = matcher(provider, regexp), matcher(name, regexp)
        found = []
        for pr in usdt.probes(resolve_lib(path)):
            if pok(pr.provider) and nok(pr.name):
                found.append((f"{pr.provider}:{pr.name}",
                              (pr.path, pr.offset, pr.semaphore_offset)))
        return "usdt", found
    if len(parts) == 2 and parts[0] not in ("p", "t", "u"):
        from ..links import elfcache
        path = resolve_lib(parts[0])
        ok = matcher(parts[1], regexp)
        # by file offset: aliases of one function (memcpy, __memcpy...) share one probe
        seen: dict[int, str] = {}
        for name, off in sorted(elfcache.functions(path).items()):
            if not ok(name):
                continue
            if off < 0:
                # an IFUNC's symbol is its resolver (run once per process): probe the
                # implementation this machine picks, or leave it out
                from ..links import symbols
                off = symbols.ifunc_target_offset(path, name)
                if off is None:
                    continue
            if off not in seen:
                seen[off] = name
        return "uprobe", [(name, (path, off)) for off, name in sorted(seen.items(),
                                                                      key=lambda kv: kv[1])]
    func = parts[1] if parts[0] == "p" and len(parts) == 2 else spec
    return "kprobe", [(func, (func,))]


def resolve_present(pattern: str, regexp: bool, limit: int | None = None,
                    what: str = "probes") -> tuple[str, list[tuple[str, tuple]]]:
    """resolve(), with kernel functions looked up (one clear error on a kernel without
    kprobes) and an error when nothing (or more than ``limit``) matches."""
    from .. import errors
    family, probes = resolve(pattern, regexp)
    if family == "kprobe":
        from ..links import kprobe
        if not kprobe.available():
            raise errors.NotSupportedError(
                f"kernel function pattern {pattern!r}",
                "this kernel has no kprobes (CONFIG_KPROBES); use tracepoints (t:cat:name), "
                "user functions (lib:func) or USDT probes (u:path:probe)")
        probes = [(name, (name,)) for name in kprobe_matches(pattern, regexp)]
    if not probes:
        raise errors.PybpfError(f"no {what} match {pattern!r}")
    if limit is not None and len(probes) > limit:
        raise errors.PybpfError(f"{len(probes)} {what} match {pattern!r}; at most "
                                f"{limit}: narrow the pattern")
    return family, probes


def resolve_lib(path: str) -> str:
    from ..links import libpath
    return libpath.resolve_path(path)


def attach(family: str, prog, how: tuple, cookie: int, pid: int, retprobe: bool = False):
    """Attach prog to one resolved probe, with its index as the BPF cookie."""
    if family == "tracepoint":
        from ..links import tracepoint
        return tracepoint.attach(prog, *how, cookie=cookie)
    if family == "kprobe":
        from ..links import kprobe
        return kprobe.attach(prog, how[0], cookie=cookie, retprobe=retprobe)
    from ..links import uprobe
    if family == "usdt":
        path, offset, sem = how
        return uprobe.attach(prog, path, offset=offset, pid=pid, cookie=cookie,
                             ref_ctr_offset=sem)
    path, off = how
    return uprobe.attach(prog, path, offset=off, pid=pid, cookie=cookie, retprobe=retprobe)


def kprobe_matches(pattern: str, regexp: bool) -> list[str]:
    """Kernel functions matching a pattern, from the traceable functions list."""
    from ..links import symbols
    func = pattern.split(":", 1)[1] if pattern.startswith("p:") else pattern
    if regexp:
        rx = re.compile(func)
        return [f for f in symbols.filter_functions("*") if rx.search(f)]
    return symbols.filter_functions(func)

