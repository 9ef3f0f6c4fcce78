"""Hand-assembled programs and raw maps for the link tests (no pybpf.asm/maps needed)."""

from __future__ import annotations

import ctypes
import os
import shutil
import struct
import subprocess

import pytest

from pybpf._sys import attr, syscall
from pybpf._sys.uapi import Cmd, MapType, ProgType
from pybpf.fd import FD
from pybpf.programs import Program, ProgramSpec

HERE = os.path.dirname(os.path.abspath(__file__))

# helper ids (enum bpf_func_id)
MAP_LOOKUP_ELEM = 1
GET_SMP_PROCESSOR_ID = 8
GET_CURRENT_PID_TGID = 14
SEQ_WRITE = 127


def ins(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, dst | src << 4, off, imm)


def ld_map_fd(dst: int, fd: int) -> bytes:
    """ld_imm64 dst, map fd (BPF_PSEUDO_MAP_FD)."""
    return ins(0x18, dst, 1, 0, fd) + ins(0, 0, 0, 0, 0)


def mov_imm(dst: int, imm: int) -> bytes:
    return ins(0xB7, dst, imm=imm)


def mov_reg(dst: int, src: int) -> bytes:
    return ins(0xBF, dst, src)


def call(helper: int) -> bytes:
    return ins(0x85, imm=helper)


EXIT = ins(0x95)
RET0 = mov_imm(0, 0) + EXIT


class ArrayMap:
    """A u32 -> u64 array map (BPF_MAP_CREATE straight), with read()."""

    def __init__(self, name: str = "pt_counts", entries: int = 1):
        self.fd = FD(syscall.bpf(Cmd.MAP_CREATE, attr.MapCreate(
            map_type=MapType.ARRAY, key_size=4, value_size=8, max_entries=entries,
            map_name=name.encode())))

    def read(self, key: int = 0) -> int:
        k = ctypes.c_uint32(key)
        v = ctypes.c_uint64()
        syscall.bpf(Cmd.MAP_LOOKUP_ELEM, attr.MapElem(map_fd=self.fd.fileno(),
                                                       key=ctypes.addressof(k),
                                                       value=ctypes.addressof(v)))
        return v.value

    def close(self) -> None:
        self.fd.close()

    def __enter__(self) -> "ArrayMap":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def count_insns(map_fd: int, *, tgid: int | None = None, key_from_cpu: bool = False) -> bytes:
    """Atomically add 1 to counts[0] (or counts[cpu]); with ``tgid``, only for that process."""
    body = b""
    if key_from_cpu:
        body += call(GET_SMP_PROCESSOR_ID) + ins(0x63, 10, 0, -4)  # *(u32*)(r10-4) = r0
    else:
        body += ins(0x62, 10, off=-4, imm=0)                       # *(u32*)(r10-4) = 0
    body += mov_reg(2, 10) + ins(0x07, 2, imm=-4)                   # r2 = r10 - 4
    body += ld_map_fd(1, map_fd) + call(MAP_LOOKUP_ELEM)
    body += ins(0x15, 0, off=2, imm=0)                              # if r0 == 0 goto out
    body += mov_imm(1, 1)
    body += ins(0xDB, 0, 1, 0, 0)                                   # lock *(u64 *)r0 += r1
    if tgid is not None:
        # r0 = current tgid; if r0 != tgid goto out (past the body)
        body = call(GET_CURRENT_PID_TGID) + ins(0x77, 0, imm=32) + \
            ins(0x55, 0, off=len(body) // 8, imm=tgid) + body
    return body + RET0


def counter_prog(prog_type: ProgType, map_fd: int, name: str = "pt_count", **kw) -> Program:
    """A program of ``prog_type`` that counts its runs in ``map_fd``; see count_insns."""
    extra = {k: kw.pop(k) for k in ("expected_attach_type", "attach_btf_id") if k in kw}
    spec = ProgramSpec(name, prog_type, count_insns(map_fd, **kw), **extra)
    return Program.load(spec)


def build_target(tmpdir: str, *, pie: bool = True, sdt: bool = True) -> str:
    """Compile tests/data/probe_target.c (+ probe_guarded.c) into ``tmpdir``."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise RuntimeError("no C compiler (gcc) to build the probe target")
    out = os.path.join(tmpdir, f"probe_target{'' if pie else '_nopie'}")
    argv = [cc, "-O1", "-g", "-o", out, os.path.join(HERE, "probe_target.c"),
            os.path.join(HERE, "probe_guarded.c")]
    argv += ["-pie", "-fPIE"] if pie else ["-no-pie", "-fno-pie"]
    if sdt:
        argv.append("-DPT_HAVE_SDT")
    subprocess.run(argv, check=True, capture_output=True)
    return out


def have_sdt_header() -> bool:
    """<sys/sdt.h> (systemtap-sdt-dev) is installed."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return False
    r = subprocess.run([cc, "-E", "-x", "c", "-"], input=b"#include <sys/sdt.h>\n",
                       capture_output=True)
    return r.returncode == 0


# ---- a minimal vmlinux BTF reader (until pybpf.btf exists) ----------------------------

# Extra bytes after the 12-byte header of each BTF kind: (fixed, per vlen entry).
_BTF_EXTRA = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8),
              14: (4, 0), 15: (0, 12), 17: (4, 0), 19: (0, 12)}
BTF_KIND_STRUCT, BTF_KIND_UNION, BTF_KIND_TYPEDEF, BTF_KIND_FUNC = 4, 5, 8, 12


class VmlinuxBTF:
    """Type ids by (kind, name) and struct member offsets, from /sys/kernel/btf/vmlinux."""

    def __init__(self, path: str = "/sys/kernel/btf/vmlinux"):
        with open(path, "rb") as f:
            data = f.read()
        _, _, _, hlen, toff, tlen, soff, slen = struct.unpack_from("<HBBIIIII", data)
        self._strs = data[hlen + soff: hlen + soff + slen]
        self.types: list[tuple[int, int, int, list[tuple[int, int, int]]]] = [(0, 0, 0, [])]
        pos, end = hlen + toff, hlen + toff + tlen
        while pos < end:
            name_off, info, _ = struct.unpack_from("<III", data, pos)
            kind, vlen, kflag = info >> 24 & 0x1F, info & 0xFFFF, info >> 31
            members = []
            if kind in (BTF_KIND_STRUCT, BTF_KIND_UNION):
                for i in range(vlen):
                    mn, mt, mo = struct.unpack_from("<III", data, pos + 12 + 12 * i)
                    members.append((mn, mt, mo & 0xFFFFFF if kflag else mo))
            self.types.append((kind, name_off, info, members))
            fixed, per = _BTF_EXTRA.get(kind, (0, 0))
            pos += 12 + fixed + per * vlen

    def name(self, off: int) -> str:
        return self._strs[off:self._strs.index(b"\0", off)].decode()

    def find(self, kind: int, name: str) -> int:
        for i, (k, n, _, _) in enumerate(self.types):
            if k == kind and n and self.name(n) == name:
                return i
        raise KeyError(name)

    def member_offset(self, struct_name: str, member: str) -> int:
        """Byte offset of ``member`` in struct ``struct_name`` (through anonymous members)."""
        def search(tid: int) -> int | None:
            for mn, mt, bits in self.types[tid][3]:
                if mn and self.name(mn) == member:
                    return bits // 8
                if not mn and self.types[mt][0] in (BTF_KIND_STRUCT, BTF_KIND_UNION):
                    inner = search(mt)
                    if inner is not None:
                        return bits // 8 + inner
            return None
        found = search(self.find(BTF_KIND_STRUCT, struct_name))
        if found is None:
            raise KeyError(f"{struct_name}.{member}")
        return found


# ---- leak check: no link, perf event or bpf object fd may outlive a test ---------------

def _anon_fds() -> dict[int, str]:
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("anon_inode:") and ("perf_event" in target or "bpf" in target):
            out[int(fd)] = target
    return out


@pytest.fixture(autouse=True)
def no_leaked_fds():
    """Autouse where imported: fail a test that leaves a link/perf/bpf fd open."""
    before = _anon_fds()
    yield
    leaked = {fd: t for fd, t in _anon_fds().items() if before.get(fd) != t}
    assert not leaked, f"test left fds open: {leaked}"
