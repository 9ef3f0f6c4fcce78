"""Loading and registering struct_ops maps (libbpf's bpf_map__init_kern_struct_ops,
bpf_map__attach_struct_ops): the map is created with the kernel's value type, each
callback program is loaded with ``attach_btf_id`` = the kernel struct and
``expected_attach_type`` = its member's index, and the value (data members, program fds)
is written when the object is attached: a map update registers a plain ``.struct_ops``
map (a map delete unregisters it), a ``BPF_LINK_CREATE`` of the map fd a
``.struct_ops.link`` one (closing the link unregisters it).
"""

from __future__ import annotations

import errno as _errno
import struct

from .. import errors
from .._sys.uapi import AttachType, MapFlag, MapType

_ZERO = struct.pack("<I", 0)
_ENOTSUPP = 524        # the kernel's internal "not supported" (no name in errno)
_REFUSED = (_errno.EPERM, _ENOTSUPP, _errno.EOPNOTSUPP)


class Registration:
    """What attaching a loaded struct_ops map needs (kept on the Object)."""

    __slots__ = ("name", "type_name", "link", "value", "active")

    def __init__(self, name: str, type_name: str, link: bool, value: bytes):
        self.name, self.type_name, self.link, self.value = name, type_name, link, value
        self.active = None          # the Link of the current registration

    @property
    def registered(self) -> bool:
        return self.active is not None and not self.active.closed


def prepare(loader) -> None:
    """Resolve every created struct_ops map against the kernel's BTF (before maps and
    programs are made): their layouts, the programs' load targets, libbpf's autoload rule.
    """
    from .structops import adjust_autoload, kernel_layout, program_targets
    spec = loader.spec
    st_maps = {n: m for n, m in spec.maps.items() if m.struct_ops is not None}
    adjust_autoload(spec)
    layouts = {}
    for n, m in st_maps.items():
        if m.autocreate:
            try:
                layouts[n] = kernel_layout(m, spec.btf, loader.kernel())
            except errors.NotFoundError as e:
                raise _in_module(loader, m, e) from None
    loader.st_layouts = layouts
    loader.st_targets = program_targets(spec.maps, layouts)
    from .._sys.uapi import ProgType
    for name, p in spec.programs.items():
        if p.autoload and p.type == ProgType.STRUCT_OPS and name not in loader.st_targets:
            raise errors.ELFError(f"program {name!r} ({p.section!r}) is the callback of no "
                                  "created struct_ops map (did you forget to put it in a "
                                  "SEC(\".struct_ops\") struct?); set autoload=False")


def _in_module(loader, m, e: errors.NotFoundError) -> errors.KernelError:
    """A struct_ops type vmlinux lacks: say so plainly when a module defines it."""
    from ..btf.kinds import Kind
    from .structops import VALUE_PREFIX, essential_name
    tname = essential_name(m.struct_ops.type_name)
    for mod, btf in loader.modules().items():
        if any(t >= btf.start_id for t in btf.find(VALUE_PREFIX + tname, Kind.STRUCT)):
            return errors.NotSupportedError(
                f"struct_ops {tname}", f"struct_ops map {m.name!r}: struct {tname} is "
                f"defined by module {mod!r}; pybpf registers struct_ops of vmlinux only "
                "so far", _errno.EOPNOTSUPP, "struct_ops")
    return e


def create_map(loader, name: str, m):
    """Create struct_ops map ``name``: the kernel's value type, no key/value BTF ids (on a
    plan's replay, the layout comes from the plan; a full load records it there)."""
    from .._sys import attr, syscall
    from .._sys.uapi import Cmd
    from ..fd import FD
    from ..maps import Map
    so = m.struct_ops
    lay = loader.st_layouts.get(name)
    if lay is None and getattr(so, "value", None) is not None:
        lay = loader.st_layouts[name] = so          # a plan's recipe: layout included
    if lay is None:
        raise errors.ELFError(f"struct_ops map {name!r} is not created (autocreate=False)")
    if loader.plan is not None:
        entry = next(e for e in reversed(loader.plan["maps"]) if e["name"] == name)
        entry["st"] = {"type_name": so.type_name, "programs": dict(so.programs),
                       "link": bool(so.link), "value_type_id": lay.value_type_id,
                       "type_id": lay.type_id, "value": bytes(lay.value),
                       "slots": {k: tuple(v) for k, v in lay.slots.items()}}
    btf_fd = loader.obj.btf_fd.fileno() if loader.obj.btf_fd is not None else 0
    a = attr.MapCreate(map_type=MapType.STRUCT_OPS, key_size=4, value_size=len(lay.value),
                       max_entries=1, map_flags=m.flags & ~MapFlag.VTYPE_BTF_OBJ_FD,
                       map_name=(m.kernel_name or name[:15]).encode()[:15], btf_fd=btf_fd,
                       btf_vmlinux_value_type_id=lay.value_type_id)
    what = f"struct_ops map {name!r} (struct {m.struct_ops.type_name})"
    try:
        fd = FD(syscall.bpf(Cmd.MAP_CREATE, a, detail=what))
    except errors.KernelError as e:
        if e.errno in (_errno.EINVAL, _ENOTSUPP, _errno.EOPNOTSUPP) and \
                not isinstance(e, errors.MissingPrivilegeError):
            raise errors.NotSupportedError(
                f"struct_ops {m.struct_ops.type_name}", f"{what}: the kernel refused the "
                f"map ({_errno.errorcode.get(e.errno, e.errno)})", e.errno,
                "BPF_MAP_CREATE") from None
        raise
    mp = Map.from_fd(fd)
    loader._own_map(name, mp)
    return mp


def load_error(p, maps: dict, e: errors.KernelError) -> errors.KernelError:
    """A refused struct_ops program, reworded to name its map and member (and, for EPERM
    or ENOTSUPP, the missing BPF trampolines it needs); other errors pass through."""
    owner = next(((n, mem) for n, m in maps.items() if m.struct_ops is not None
                  for mem, prog in m.struct_ops.programs.items() if prog == p.name), None)
    if owner is None or isinstance(e, errors.VerifierError):
        return e
    mname, member = owner
    tname = maps[mname].struct_ops.type_name
    if e.errno in _REFUSED:
        from ..caps import can_bpf
        if can_bpf():
            return errors.NotSupportedError(
                f"struct_ops {tname}", f"struct_ops map {mname!r}: program {p.name!r} "
                f"(callback {member!r}) was refused "
                f"({_errno.errorcode.get(e.errno, e.errno)}): struct_ops needs BPF "
                "trampolines, which this kernel does not allow", e.errno, "BPF_PROG_LOAD")
    return e


def registrations(loader) -> None:
    """What ``attach()`` registers, once the programs are loaded (``obj._struct_ops``)."""
    loader.obj._struct_ops = {n: registration(loader, n, loader.map_specs[n])
                              for n in loader.st_layouts}


def registration(loader, name: str, m) -> Registration:
    """The value of map ``name`` with its programs' fds, ready to register."""
    lay = loader.st_layouts[name]
    value = bytearray(lay.value)
    for member, (off, _) in lay.slots.items():
        prog = loader.obj.programs[m.struct_ops.programs[member]]
        value[off:off + 8] = struct.pack("<Q", prog.fileno())
    return Registration(name, m.struct_ops.type_name, m.struct_ops.link, bytes(value))


def attach(obj, name: str, replace=None):
    """Register struct_ops map ``name`` of loaded ``obj``; returns the Link that
    unregisters it when closed (it is also added to ``obj.links``).  With ``replace`` (a
    struct_ops Link), swap that link's map for this one instead (libbpf's
    bpf_link__update_map) and return it."""
    from ..links.base import Link, link_create
    regs = getattr(obj, "_struct_ops", {})
    reg = regs.get(name)
    if reg is None:
        raise KeyError(f"no struct_ops map {name!r} in object {obj.name!r}; struct_ops "
                       f"maps: {sorted(regs)}")
    mp = obj.maps[name]
    what = f"struct_ops map {name!r} (struct {reg.type_name})"
    if replace is not None and (not reg.link or replace.kind != "struct_ops" or
                                replace.fd is None):
        raise ValueError(f"{what}: only a .struct_ops.link map can replace the map of a "
                         "struct_ops link (a BPF link, not a plain registration)")
    try:
        mp.update(_ZERO, reg.value)
    except errors.KernelError as e:
        # a link map whose value was set before (by an earlier link) cannot be set again:
        # libbpf goes on with the link, as the value stays the one registered
        if not (reg.link and e.errno == _errno.EBUSY):
            raise _register_error(e, what, reg.type_name) from None
    if replace is not None:
        from .._sys import attr, syscall
        from .._sys.uapi import Cmd
        try:
            # new_prog_fd's slot holds the new map's fd for a struct_ops link
            syscall.bpf(Cmd.LINK_UPDATE, attr.LinkUpdate(link_fd=replace.fileno(),
                                                         new_prog_fd=mp.fileno()),
                        detail=what)
        except errors.KernelError as e:
            raise _register_error(e, what, reg.type_name) from None
        replace.target = f"{reg.type_name} {name}"
        reg.active = replace
        return replace
    if not reg.link:
        from ..maps import Map
        own = Map.from_fd(mp.fileno())      # a dup: unregistering works whatever closes first
        link = Link(None, kind="struct_ops", target=f"{reg.type_name} {name}",
                    detach=lambda: _unregister(own))
    else:
        try:
            fd = link_create(mp.fileno(), 0, AttachType.STRUCT_OPS, what=what)
        except errors.KernelError as e:
            raise _register_error(e, what, reg.type_name) from None
        link = Link(fd, kind="struct_ops", target=f"{reg.type_name} {name}")
    obj.links.append(link)
    reg.active = link
    return link


def _unregister(mp) -> None:
    try:
        del mp[_ZERO]
    except KeyError:
        pass                # not registered (any more)
    except errors.KernelError as e:
        if e.errno not in (_errno.ENOENT, _errno.EINVAL):
            raise
    finally:
        mp.close()


def _register_error(e: errors.KernelError, what: str, tname: str) -> errors.KernelError:
    if isinstance(e, errors.MissingPrivilegeError):
        return e
    if e.errno == _errno.EEXIST:
        return errors.KernelError(e.errno, "struct_ops", f"{what}: the kernel already has "
                                  f"a {tname} registered under this one's name")
    if e.errno == _errno.EBUSY:
        return errors.KernelError(e.errno, "struct_ops", f"{what}: it was registered "
                                  "before; the kernel registers a struct_ops map once "
                                  "(load the object again)")
    if e.errno in _REFUSED:
        return errors.NotSupportedError(f"struct_ops {tname}", f"{what}: registering was "
                                        f"refused ({_errno.errorcode.get(e.errno, e.errno)})"
                                        ": struct_ops needs BPF trampolines", e.errno,
                                        "struct_ops")
    return errors.KernelError(e.errno, "struct_ops", f"{what}: registering failed "
                              f"({e})")
