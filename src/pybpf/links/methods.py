"""``prog.attach_*()``: attach a program by hand, one method per hook family.

A program of a loaded object (``obj.programs["p"]``) records every link it makes in
``obj.links``, so closing the object detaches everything, as a libbpf skeleton's
``__destroy()`` does; a standalone :class:`~pybpf.programs.Program` returns links its
caller owns.  Each method wraps the family's module in :mod:`pybpf.links`.
"""

from __future__ import annotations

__all__ = ["AttachMethods"]

from .._sys.uapi import ProgType as _P    # loaded by then: every program came through it

# the program types the kernel takes for each family, and the SEC() that makes one
_KPROBE = ((_P.KPROBE,), 'SEC("kprobe/...") or SEC("uprobe/...")')
_HOOKS = {
    "attach_tracepoint": ((_P.TRACEPOINT,), 'SEC("tracepoint/...")'),
    "attach_raw_tracepoint": ((_P.RAW_TRACEPOINT, _P.RAW_TRACEPOINT_WRITABLE, _P.TRACING),
                              'SEC("raw_tracepoint/...") or SEC("tp_btf/...")'),
    "attach_kprobe": _KPROBE, "attach_ksyscall": _KPROBE, "attach_kprobe_multi": _KPROBE,
    "attach_uprobe": _KPROBE, "attach_uprobe_multi": _KPROBE, "attach_usdt": _KPROBE,
    "attach_xdp": ((_P.XDP,), 'SEC("xdp")'),
    "attach_tc": ((_P.SCHED_CLS, _P.SCHED_ACT), 'SEC("tc")'),
    "attach_socket": ((_P.SOCKET_FILTER,), 'SEC("socket")'),
    "attach_cgroup": ((_P.CGROUP_SKB, _P.CGROUP_SOCK, _P.SOCK_OPS, _P.CGROUP_DEVICE,
                       _P.CGROUP_SOCK_ADDR, _P.CGROUP_SYSCTL, _P.CGROUP_SOCKOPT, _P.LSM),
                      'SEC("cgroup_skb/...") or another cgroup hook'),
    "attach_iter": ((_P.TRACING,), 'SEC("iter/...")'),
    "attach_perf_event": ((_P.PERF_EVENT,), 'SEC("perf_event")'),
    "attach_netns": ((_P.SK_LOOKUP, _P.FLOW_DISSECTOR),
                     'SEC("sk_lookup") or SEC("flow_dissector")'),
    "attach_netfilter": ((_P.NETFILTER,), 'SEC("netfilter")'),
    "attach_sockmap": ((_P.SK_MSG, _P.SK_SKB), 'SEC("sk_msg") or SEC("sk_skb/...")'),
}


class AttachMethods:
    """Mixed into :class:`~pybpf.programs.Program`."""

    _owner = None          # the loaded Object this program belongs to, if any

    def _expect(self, method: str) -> None:
        """Refuse a program of a type ``method``'s hook does not take, in one line, where
        the kernel would say only EINVAL (and tc would first make a qdisc)."""
        types, sec = _HOOKS[method]
        t = getattr(self, "type", None)
        if not isinstance(t, int) or t in types:
            return
        import errno
        from .. import errors
        kind = getattr(t, "name", str(int(t))).lower()
        raise errors.AttachError(errno.EINVAL, method, f"program {self.name!r} has type "
                                 f"{kind}; {method}() takes one from {sec}")

    def _own(self, link):
        owner = self._owner
        if owner is not None:
            owner.links.append(link)
        return link

    def attach(self):
        """Attach by the program's SEC() name (``obj.attach([name])`` for one program);
        the link, or None when the section needs nothing attached here."""
        if self._owner is None:
            raise ValueError(f"program {self.name!r} is not part of a loaded object; "
                             "use an attach_*() method")
        made = self._owner.attach([self._owner_name])
        return made[0] if made else None

    def attach_tracepoint(self, category: str, name: str, *, cookie: int = 0):
        """On tracepoint ``category:name`` (e.g. ``"syscalls", "sys_enter_openat"``)."""
        self._expect("attach_tracepoint")
        from . import tracepoint
        return self._own(tracepoint.attach(self, category, name, cookie=cookie))

    def attach_raw_tracepoint(self, name: str | None = None):
        """On raw tracepoint ``name`` (tp_btf programs take their target from load)."""
        self._expect("attach_raw_tracepoint")
        from . import raw_tracepoint
        return self._own(raw_tracepoint.attach(self, name))

    def attach_kprobe(self, func: str, *, offset: int = 0, retprobe: bool = False,
                      cookie: int = 0):
        """On kernel function ``func`` (+ ``offset``); on return with ``retprobe``."""
        self._expect("attach_kprobe")
        from . import kprobe
        return self._own(kprobe.attach(self, func, offset=offset, retprobe=retprobe,
                                       cookie=cookie))

    def attach_ksyscall(self, name: str, *, retprobe: bool = False):
        """On system call ``name`` (``"openat"``), whatever its kernel symbol is called."""
        self._expect("attach_ksyscall")
        from . import kprobe
        return self._own(kprobe.attach(self, name, retprobe=retprobe, syscall=True))

    def attach_kprobe_multi(self, pattern, *, retprobe: bool = False):
        """On every kernel function matching a glob (or in a list), in one link."""
        self._expect("attach_kprobe_multi")
        from . import kprobe
        return self._own(kprobe.attach_multi(self, pattern, retprobe=retprobe))

    def attach_trace(self, *, cookie: int = 0):
        """fentry/fexit/fmod_ret/LSM/tp_btf: the target was fixed at load."""
        from . import tracing
        return self._own(tracing.attach(self, cookie=cookie))

    def attach_uprobe(self, binary: str, func: str | None = None, *, offset: int = 0,
                      pid: int = -1, retprobe: bool = False, cookie: int = 0):
        """On ``func`` (or file ``offset``) of ``binary`` (a path or a library name such as
        ``"c"``); only in process ``pid`` when >= 0; on return with ``retprobe``."""
        self._expect("attach_uprobe")
        from . import uprobe
        return self._own(uprobe.attach(self, binary, func, offset=offset, retprobe=retprobe,
                                       pid=pid, cookie=cookie))

    def attach_uprobe_multi(self, binary: str, funcs=None, *, offsets=None, pid: int = -1,
                            retprobe: bool = False, cookies=None, session: bool = False):
        """On many functions of ``binary`` (a glob or a list), or file ``offsets``, in one
        uprobe_multi link (6.6+); ``cookies[i]``: place i's bpf_get_attach_cookie()."""
        self._expect("attach_uprobe_multi")
        from . import uprobe_multi
        return self._own(uprobe_multi.attach(self, binary, funcs, offsets=offsets, pid=pid,
                                             retprobe=retprobe, cookies=cookies,
                                             session=session))

    def attach_usdt(self, binary: str, provider: str, name: str, *, pid: int = -1,
                    usdt_cookie: int = 0):
        """On every site of USDT probe ``provider:name`` in ``binary``.

        For a program of a loaded object that includes usdt.bpf.h, each site's argument
        spec is written to the object's spec map at fresh ids (as libbpf does), so
        ``bpf_usdt_arg()`` reads this probe's arguments and ``bpf_usdt_cookie()`` returns
        ``usdt_cookie``."""
        self._expect("attach_usdt")
        from . import usdt
        owner = self._owner
        spec_map = owner.maps.get(usdt.SPEC_MAP) if owner is not None else None
        if spec_map is None:
            return self._own(usdt.attach(self, binary, provider, name, pid=pid))
        link = usdt.attach(self, binary, provider, name, pid=pid, spec_map=spec_map,
                           spec_id=owner.usdt_spec_ids, usdt_cookie=usdt_cookie)
        owner.usdt_spec_ids += len(link.spec_ids)
        return self._own(link)

    def attach_perf_event(self, *, type: int | None = None, config: int | None = None,
                          sample_period: int = 0, sample_freq: int = 0,
                          cpu: int | None = None, pid: int = -1, cookie: int = 0):
        """On a perf event on every online CPU (or ``cpu``); see :mod:`pybpf.perf` for
        ``type``/``config`` (default: the CPU clock, software)."""
        from .. import perf
        from . import perf_event
        if type in (None, perf.PERF_TYPE_HARDWARE, perf.PERF_TYPE_SOFTWARE,
                    perf.PERF_TYPE_HW_CACHE, perf.PERF_TYPE_RAW, perf.PERF_TYPE_BREAKPOINT):
            self._expect("attach_perf_event")       # not a tracepoint or probe PMU
        return self._own(perf_event.attach(
            self, type=perf.PERF_TYPE_SOFTWARE if type is None else type,
            config=perf.PERF_COUNT_SW_CPU_CLOCK if config is None else config,
            sample_period=sample_period, sample_freq=sample_freq, cpu=cpu, pid=pid,
            cookie=cookie))

    def attach_iter(self, **kw):
        """An iterator link (``map=``, ``cgroup_fd=``/``cgroup_id=``/``order=``,
        ``tid=``/``pid=``/``pid_fd=`` narrow it); read it with
        :func:`pybpf.links.iter.read` or :func:`~pybpf.links.iter.records`."""
        self._expect("attach_iter")
        from . import iter as it
        return self._own(it.attach(self, **kw))

    def attach_xdp(self, iface, mode: str = "auto"):
        """On network interface ``iface`` (a name or index): auto, generic or native."""
        self._expect("attach_xdp")
        from . import xdp
        return self._own(xdp.attach(self, iface, mode))

    def attach_tc(self, iface, direction: str = "ingress", mode: str = "auto", *,
                  priority: int = 1, handle: int = 1):
        """On ``iface``'s ingress or egress: a tcx link, or clsact + cls_bpf before 6.6."""
        self._expect("attach_tc")
        from . import tc
        return self._own(tc.attach(self, iface, direction, mode, priority=priority,
                                   handle=handle))

    def attach_cgroup(self, cgroup: str, attach_type: int | None = None, flags: int = 0):
        """On cgroup v2 directory ``cgroup``, at the hook the program was loaded for
        (or ``attach_type``)."""
        self._expect("attach_cgroup")
        from . import cgroup as cg
        if attach_type is None:
            attach_type = getattr(self.spec, "expected_attach_type", None)
            if not attach_type:
                raise ValueError(f"program {self.name!r}: give attach_type (its section "
                                 "does not name a cgroup hook)")
        return self._own(cg.attach(self, cgroup, attach_type, flags))

    def attach_socket(self, sock):
        """As a socket filter on ``sock`` (a socket object)."""
        self._expect("attach_socket")
        from . import socket
        return self._own(socket.attach(self, sock))

    def attach_netns(self, netns=None):
        """sk_lookup/flow_dissector on network namespace ``netns`` (None: this process's;
        a path such as ``/run/netns/NAME``, or an fd)."""
        self._expect("attach_netns")
        from . import netns as ns
        return self._own(ns.attach(self, netns))

    def attach_netfilter(self, family="ipv4", hook="input", priority: int = 1, *,
                         defrag: bool = False):
        """At netfilter ``hook`` (``"prerouting"``, ``"input"``, ``"forward"``,
        ``"output"``, ``"postrouting"``) of ``family`` in this network namespace."""
        self._expect("attach_netfilter")
        from . import netfilter
        return self._own(netfilter.attach(self, family, hook, priority, defrag=defrag))

    def attach_sockmap(self, map):
        """sk_msg/sk_skb programs on sockmap or sockhash ``map`` (``obj.maps["m"]``)."""
        self._expect("attach_sockmap")
        from . import sockmap
        return self._own(sockmap.attach(self, map))
