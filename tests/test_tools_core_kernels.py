"""Every tool's object relocates against another kernel's BTF: the kernel-matrix guest's
(Debian's 6.12), whose struct layouts differ from this host's; and every shipped object
loads on the running kernel, here and in both kernel-matrix guests (6.12 and Debian 12's
own 6.1, whose older verifier tracks bounds less well than this one's).

The tools read kernel structs through CO-RE, some through local flavours that name only
the fields read (``task_struct___inum``, ``tcp_sock___life``...).  A flavour that matches
this kernel but not an older one would only fail on that kernel, and the guest runs only
the hook tests.  Here each object is loaded on this kernel with ``kernel_btf=`` the
guest's BTF, so every relocation is resolved against 6.12 and the verifier sees the
result: an unresolved field on a reachable path is a rejected program.

The method fits programs that read kernel memory through probe reads (CO-RE offsets the
verifier does not check), as every shipped object does.  Direct reads through a
BTF-typed pointer (iterators, tp_btf, fentry) are checked against the running kernel's
own layout, which a foreign kernel_btf's offsets do not fit: such objects would fail here
on any other kernel's BTF (examples/task_iter does) and are tested in the guest instead.
"""

from __future__ import annotations

import glob
import os

import pytest

import pybpf
from pybpf import btf
from pybpf.tools import _common, names
from tests.vm.guestbtf import vmlinux_btf
from tests.vm.plugin import guest_kernel

pytestmark = pytest.mark.kernel

# Programs the tools leave out where their hook is missing, by the type that hook's
# tracepoint would bring: (tool, program) -> BTF type.  capable picks its kprobe where the
# capability:cap_capable tracepoint (6.14+) is absent; memleak loads its older kmem
# programs only where the kmem:*_node tracepoints (before 6.0) exist.
HOOK_TYPES = {("capable", "tp_capable"): "trace_event_raw_cap_capable",
              # memleak's programs for the kmem records of kernels before 6.0
              ("memleak", "tp_alloc_old"): "trace_event_raw_kmem_alloc",
              ("memleak", "tp_alloc_node_old"): "trace_event_raw_kmem_alloc_node",
              ("memleak", "tp_free_old"): "trace_event_raw_kmem_free"}


# ... and those left out where an older kernel's type is there instead: memleak's 6.0+ kmem
# programs, which the older ones replace where kmem:kmalloc_node's record exists.
OLD_TYPES = {("memleak", p): "trace_event_raw_kmem_alloc_node"
             for p in ("tp_kmalloc", "tp_kfree", "tp_cache_alloc", "tp_cache_free")}


def _images() -> list[str]:
    """The guest's kernel image, then any listed in $PYBPF_CORE_KERNELS (colon-separated
    bzImages: say, Debian 12's own 6.1 from its package)."""
    extra = [p for p in os.environ.get("PYBPF_CORE_KERNELS", "").split(":") if p]
    return [guest_kernel() or ""] + extra


@pytest.fixture(scope="module", params=_images(), ids=lambda p: os.path.basename(p) or "guest")
def guest_btf(request):
    if not request.param:
        pytest.skip("no packaged kernel image for the guest (scripts/setup-vm installs one)")
    return btf.Spec.parse(vmlinux_btf(request.param))


def _tool_specs(kernel: btf.Spec):
    """(tool, ObjectSpec) of every tool's object, the programs whose hook ``kernel``
    lacks left out as the tools leave them out."""
    for tool in names():
        data, _ = _common.tool_object(tool)
        spec = pybpf.ObjectSpec.from_bytes(data, name=tool)
        for (t, prog), type_name in HOOK_TYPES.items():
            if t == tool and not kernel.find(type_name):
                spec.programs[prog].autoload = False
        for (t, prog), type_name in OLD_TYPES.items():
            if t == tool and kernel.find(type_name):
                spec.programs[prog].autoload = False
        if tool == "execsnoop":
            # one of two program sets, by the running kernel (task storage from 5.12)
            from pybpf.tools.execsnoop import PROGRAMS, UNUSED_MAPS, program_suffix
            suffix = program_suffix()
            for name, prog in spec.programs.items():
                prog.autoload = name in {p + suffix for p in PROGRAMS}
            for name in UNUSED_MAPS[suffix]:
                spec.maps[name].autocreate = False
        yield tool, spec


def test_every_tool_relocates_against_the_guest_kernel(guest_btf):
    loaded = {}
    failed = {}
    for tool, spec in _tool_specs(guest_btf):
        try:
            with pybpf.load(spec, kernel_btf=guest_btf) as obj:
                loaded[tool] = len(obj.programs)
        except pybpf.PybpfError as e:
            failed[tool] = str(e)
    assert failed == {}
    # trace and argdist generate their C per command line: no object of their own
    assert len([t for t, n in loaded.items() if n]) >= len(names()) - 2


# The other objects pybpf ships (audit_lsm's programs are BPF LSM: this kernel refuses
# to load any, the guest's tests load it)
SHIPPED = ["exporter/examples/" + n for n in
           ("biolatency", "exec", "oomkill", "runqlat", "syscalls", "tcp")] + \
          ["net/firewall", "net/firewall_nocas", "security/audit", "security/sslsniff"]


@pytest.mark.parametrize("path", SHIPPED)
def test_shipped_objects_relocate_against_the_guest_kernel(guest_btf, path):
    folder, name = os.path.split(os.path.join(os.path.dirname(pybpf.__file__), path))
    data, _ = _common.package_object(folder, name)
    with pybpf.load(pybpf.ObjectSpec.from_bytes(data, name=name),
                    kernel_btf=guest_btf) as obj:
        assert len(obj.programs) >= 1


def _objects():
    """(label, what pybpf.load takes) of every tool's object and every other shipped
    object, the programs the running kernel has no hook for left out as the tools leave
    them out; then every example's source."""
    from pybpf.btf.kernel import load_vmlinux
    from pybpf.net.firewall import object_name
    yield from _tool_specs(load_vmlinux())
    for path in SHIPPED:
        if path == "net/firewall" and object_name() != "firewall":
            continue                # compare-and-swap: 5.12+ (firewall_nocas before)
        folder, name = os.path.split(os.path.join(os.path.dirname(pybpf.__file__), path))
        data, _ = _common.package_object(folder, name)
        yield path, pybpf.ObjectSpec.from_bytes(data, name=name)
    # the examples (libbpf-bootstrap's, ported): fentry's and lsm's need BPF trampolines,
    # which this host refuses; the guests load them
    from pybpf.features import Features
    trampolines = Features().has_trampolines()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for src in sorted(glob.glob(os.path.join(repo, "examples", "*", "*.bpf.c"))):
        example = os.path.basename(os.path.dirname(src))
        if example in ("fentry", "lsm") and not trampolines:
            continue
        yield "examples/" + example, src


@pytest.mark.every_kernel
def test_every_shipped_object_loads_on_the_running_kernel():
    """The verifier of the kernel this runs on accepts every program (the tools', the other
    shipped objects', the examples'): Debian 12's 6.1 refused the five histogram tools
    (biolatency, bitesize, cpudist, funclatency, runqlat) until their slot's bound stayed
    on the register that indexes."""
    failed, loaded = {}, 0
    for label, spec in _objects():
        try:
            with pybpf.load(spec) as obj:
                loaded += len(obj.programs)
        except pybpf.PybpfError as e:
            failed[label] = str(e).splitlines()[0]
    assert failed == {}
    assert loaded >= 100
