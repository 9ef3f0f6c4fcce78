"""The floor of an example's start in Python, for bench/bench_examples.py --floor: the
interpreter, ctypes, and only the system calls pybpf's load plan makes (BTF, maps, their
initial data, programs with map fds patched in) plus the attach, then "attached".

No parsing, no CO-RE, no cache lookups, no pybpf: what any Python loader must at least
pay.  The recipe (a marshal'd load plan and the attach steps) is written by the bench.

usage: python -c "from floor_attach import main; main()" RECIPE  (imported, so that its
bytecode is cached like pybpf's modules, not compiled each run as a script is)
"""

import ctypes
import marshal
import os
import struct
import sys

_libc = ctypes.CDLL(None, use_errno=True)
_NR_BPF, _NR_PERF_EVENT_OPEN = 321, 298          # x86-64
_BTF_LOAD, _MAP_CREATE, _MAP_UPDATE, _MAP_FREEZE, _PROG_LOAD = 18, 0, 2, 22, 5
_LINK_CREATE, _PROG_BIND_MAP, _BPF_PERF_EVENT = 28, 35, 41
_keep = []                                       # buffers the kernel reads from


def _addr(data: bytes) -> int:
    buf = ctypes.create_string_buffer(data, len(data))
    _keep.append(buf)
    return ctypes.addressof(buf)


def _call(nr: int, *args) -> int:
    r = _libc.syscall(nr, *args)
    if r < 0:
        err = ctypes.get_errno()
        sys.exit(f"floor: syscall {nr} {args[:1]}: {os.strerror(err)}")
    return r


def bpf(cmd: int, attr: bytes) -> int:
    buf = ctypes.create_string_buffer(attr, len(attr))
    return _call(_NR_BPF, cmd, buf, len(attr))


def perf_event_open(type_: int, config: int, period: int, freq: bool, cpu: int) -> int:
    attr = struct.pack("=IIQQQQQ", type_, 128, config, period, 0, 0, (1 << 10) if freq else 0)
    buf = ctypes.create_string_buffer(attr.ljust(128, b"\0"), 128)
    return _call(_NR_PERF_EVENT_OPEN, buf, -1, cpu, -1, 8)      # PERF_FLAG_FD_CLOEXEC


def main() -> None:
    with open(sys.argv[1], "rb") as f:
        plan, attach, bss_pid = marshal.load(f)
    btf_fd = 0
    if plan["btf"]:
        btf = plan["btf"]
        btf_fd = bpf(_BTF_LOAD, struct.pack("=QQIII", _addr(btf), 0, len(btf), 0, 0))
    fds = {}
    for m in plan["maps"]:
        fds[m["name"]] = fd = bpf(_MAP_CREATE, struct.pack(
            "=IIIIIII16sIIIIIQ", m["type"], m["key_size"], m["value_size"],
            m["max_entries"], m["flags"], 0, 0, m["kernel_name"].encode()[:15],
            0, btf_fd if m["value_type_id"] else 0, m["key_type_id"], m["value_type_id"],
            0, m["map_extra"]))
        if m["data"] is not None:
            data = bytearray(m["data"])
            if m["name"] == ".bss" and bss_pid is not None:      # obj.bss.my_pid = getpid()
                data[bss_pid:bss_pid + 4] = os.getpid().to_bytes(4, "little")
            bpf(_MAP_UPDATE, struct.pack("=IxxxxQQQ", fd, _addr(b"\0" * 4),
                                         _addr(bytes(data)), 0))
            if m["flags"] & 0x80:                                 # BPF_F_RDONLY_PROG
                bpf(_MAP_FREEZE, struct.pack("=I", fd))
    progs = {}
    for e in plan["progs"]:
        insns = bytearray(e["insns"])
        for off, name in e["relos"]:
            insns[off:off + 4] = fds[name].to_bytes(4, "little", signed=True)
        fi, li = e["func_info"] if btf_fd else b"", e["line_info"] if btf_fd else b""
        progs[e["name"]] = pfd = bpf(_PROG_LOAD, struct.pack(
            "=IIQQIIQII16sIIIIQIIQIIIIQ", e["type"], len(insns) // 8, _addr(bytes(insns)),
            _addr(e["license"].encode() + b"\0"), 0, 0, 0, e["kern_version"], e["flags"],
            e["kname"].encode()[:15], 0, e["eat"], btf_fd, 8 if fi else 0,
            _addr(fi) if fi else 0, e["fi_cnt"] if fi else 0, 16 if li else 0,
            _addr(li) if li else 0, e["li_cnt"] if li else 0, e["attach_btf_id"], 0, 0, 0))
        if ".rodata" in fds:                                     # as libbpf and pybpf do
            bpf(_PROG_BIND_MAP, struct.pack("=III", pfd, fds[".rodata"], 0))
    for prog, kind, arg in attach:
        if kind == "tracepoint":
            with open(f"/sys/kernel/tracing/events/{arg}/id") as f:
                events = [perf_event_open(2, int(f.read()), 1, False, 0)]
        else:                                   # "cpu-clock": one sampling event per CPU
            events = [perf_event_open(1, 0, arg, True, cpu)
                      for cpu in range(os.cpu_count() or 1)]
        for ev in events:
            bpf(_LINK_CREATE, struct.pack("=IIIIQ", progs[prog], ev, _BPF_PERF_EVENT, 0, 0))
    print("attached", flush=True)
    sys.stdin.read()                            # until the bench closes stdin


if __name__ == "__main__":
    main()
