"""Program loading, verifier errors, test_run, pin/reopen, against the running kernel."""

from __future__ import annotations

import os
import struct
import time

import pytest

from pybpf import errors
from pybpf._sys import attr, syscall
from pybpf._sys.uapi import AttachType, Cmd, MapType, ProgType
from pybpf.features import Features, _load_btf, _vmlinux_func_id
from pybpf.fd import FD
from pybpf.programs import Program, ProgramSpec, encode_instructions, sanitize_name

pytestmark = pytest.mark.kernel


def ins(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One hand-encoded instruction: opcode, dst/src nibbles, off, imm."""
    return struct.pack("<BBhi", op, dst | src << 4, off, imm)


def mov_imm(dst: int, imm: int) -> bytes:
    return ins(0xB7, dst, imm=imm)       # BPF_ALU64 | BPF_MOV | BPF_K


def mov_reg(dst: int, src: int) -> bytes:
    return ins(0xBF, dst, src)           # BPF_ALU64 | BPF_MOV | BPF_X


EXIT = ins(0x95)                         # BPF_JMP | BPF_EXIT
PACKET = bytes(range(64))


class _Insn:
    """Stands in for an asm Instruction: anything with encode() -> bytes."""

    def __init__(self, raw: bytes):
        self.raw = raw

    def encode(self) -> bytes:
        return self.raw


def _array_map() -> FD:
    return FD(syscall.bpf(Cmd.MAP_CREATE, attr.MapCreate(
        map_type=MapType.ARRAY, key_size=4, value_size=4, max_entries=1, map_name=b"pt_bind")))


def test_socket_filter_test_run_returns_42():
    spec = ProgramSpec("pt_ret42", ProgType.SOCKET_FILTER, mov_imm(0, 42) + EXIT)
    with Program.load(spec) as prog:
        res = prog.test_run(PACKET)
        assert res.retval == 42
        assert res.duration_ns >= 0
        assert prog.name == "pt_ret42"
        assert prog.type == ProgType.SOCKET_FILTER


def test_xdp_pass_and_data_out():
    spec = ProgramSpec("pt_xdp_pass", ProgType.XDP, [_Insn(mov_imm(0, 2)), _Insn(EXIT)])
    with Program.load(spec) as prog:
        res = prog.test_run(PACKET, repeat=10)
        assert res.retval == 2
        assert res.data_out == PACKET


def test_exit_without_r0_is_a_verifier_error():
    spec = ProgramSpec("pt_bad_r0", ProgType.SOCKET_FILTER, mov_imm(1, 0) + EXIT)
    with pytest.raises(errors.VerifierError) as ei:
        Program.load(spec)
    e = ei.value
    assert "R0 !read_ok" in e.log
    assert e.insn == 1
    assert "at instruction 1" in str(e) and "R0 !read_ok" in str(e)
    assert e.program == "pt_bad_r0"
    assert not e.truncated


def _btf_with_line_info():
    """BTF for one function ``pt_func`` plus line info for a 3-insn program."""
    strs = b"\0int\0pt_func\0/src/pt_prog.c\0    int z = 0;\0    return y + 1;\0"
    off = strs.index
    types = struct.pack("<IIII", off(b"int"), 1 << 24, 4, (1 << 24) | 32)   # [1] int
    types += struct.pack("<III", 0, 13 << 24, 1)                            # [2] int (void)
    types += struct.pack("<III", off(b"pt_func"), 12 << 24, 2)             # [3] func
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strs))
    func_info = struct.pack("<II", 0, 3)
    fname = off(b"/src/pt_prog.c")
    line_info = struct.pack("<IIII", 0, fname, off(b"    int z = 0;"), 6 << 10 | 5)
    line_info += struct.pack("<IIII", 1, fname, off(b"    return y + 1;"), 7 << 10 | 5)
    return hdr + types + strs, func_info, line_info


def test_verifier_error_names_the_c_source_line():
    blob, func_info, line_info = _btf_with_line_info()
    with _load_btf(blob) as btf:
        spec = ProgramSpec("pt_lineinfo", ProgType.SOCKET_FILTER,
                           mov_imm(1, 0) + mov_reg(0, 2) + EXIT, btf_fd=btf.fileno(),
                           func_info=func_info, func_info_rec_size=8,
                           line_info=line_info, line_info_rec_size=16)
        with pytest.raises(errors.VerifierError) as ei:
            Program.load(spec)
    e = ei.value
    assert e.insn == 1
    assert "R2 !read_ok" in e.log
    assert e.source_line is not None and "return y + 1;" in e.source_line
    assert "pt_prog.c:7" in e.source_line
    assert "return y + 1;" in str(e).splitlines()[0]


def test_source_lines_from_the_spec_when_the_log_has_none():
    spec = ProgramSpec("pt_srcmap", ProgType.SOCKET_FILTER, mov_imm(1, 0) + EXIT,
                       source_lines={0: ("a.c", 3, "int r = 0;"), 1: ("a.c", 4, "return r;")})
    with pytest.raises(errors.VerifierError) as ei:
        Program.load(spec)
    assert ei.value.source_line == "return r; @ a.c:4"
    assert "(return r; @ a.c:4)" in str(ei.value)
    spec.source_lines = [("a.c", 3, "int r = 0;"), None]     # list form; insn 1 inherits
    with pytest.raises(errors.VerifierError) as ei:
        Program.load(spec)
    assert ei.value.source_line == "int r = 0; @ a.c:3"


def test_log_buffer_grows_to_hold_the_whole_log():
    body = mov_imm(1, 0) * 3000 + EXIT            # logs every insn, then R0 !read_ok
    spec = ProgramSpec("pt_biglog", ProgType.SOCKET_FILTER, body)
    with pytest.raises(errors.VerifierError) as ei:
        Program.load(spec, log_size=4096)
    e = ei.value
    assert len(e.log) > 4096 and not e.truncated
    assert e.log.startswith("0: ") and "R0 !read_ok" in e.log
    assert e.insn == 3000


def test_log_level_on_success_keeps_the_log():
    spec = ProgramSpec("pt_withlog", ProgType.SOCKET_FILTER, mov_imm(0, 0) + EXIT)
    with Program.load(spec, log_level=1) as prog:
        assert "processed 2 insns" in prog.verifier_log


def test_program_too_large():
    spec = ProgramSpec("pt_huge", ProgType.SOCKET_FILTER, mov_imm(0, 0) * 1_000_001 + EXIT)
    with pytest.raises(errors.KernelError) as ei:
        Program.load(spec)
    assert ei.value.errno == 7 and "too large" in str(ei.value)


def test_unknown_program_type_is_not_supported():
    with pytest.raises(errors.NotSupportedError) as ei:
        Program.load(ProgramSpec("pt_badtype", 999, mov_imm(0, 0) + EXIT))
    assert "type 999" in str(ei.value)


def test_trampoline_program_refused_or_loaded():
    btf_id = _vmlinux_func_id("bpf_fentry_test1")
    if btf_id is None:
        pytest.skip("no vmlinux BTF for bpf_fentry_test1")
    spec = ProgramSpec("pt_fentry", ProgType.TRACING, mov_imm(0, 0) + EXIT,
                       expected_attach_type=AttachType.TRACE_FENTRY, attach_btf_id=btf_id)
    if Features().has_trampolines():
        Program.load(spec).close()
        return
    with pytest.raises(errors.NotSupportedError) as ei:
        Program.load(spec).close()
    e = ei.value
    assert e.feature == "BPF trampolines (fentry/fexit/fmod_ret/LSM)"
    assert "EPERM" in e.reason and "trampoline" in str(e)


def test_test_run_unsupported_for_kprobe():
    spec = ProgramSpec("pt_kp_norun", ProgType.KPROBE, mov_imm(0, 0) + EXIT)
    with Program.load(spec) as prog, pytest.raises(errors.NotSupportedError) as ei:
        prog.test_run(PACKET)
    assert "kprobe" in str(ei.value)


def test_test_run_short_packet_is_explained():
    with Program.load(ProgramSpec("pt_short", ProgType.SOCKET_FILTER,
                                  mov_imm(0, 1) + EXIT)) as prog:
        with pytest.raises(errors.KernelError, match="at least 14 bytes"):
            prog.test_run(b"\0" * 4)


def test_info_tag_xlated_and_close():
    code = mov_imm(0, 7) + EXIT
    prog = Program.load(ProgramSpec("pt_info", ProgType.SOCKET_FILTER, code))
    with prog:
        i = prog.info()
        assert i.name == "pt_info" and i.type == ProgType.SOCKET_FILTER
        assert prog.id == i.id > 0
        assert len(prog.tag) == 16 and prog.tag == i.tag
        assert prog.xlated() == code
    assert prog.closed
    prog.close()                                       # idempotent


def test_from_id_and_from_fd():
    with Program.load(ProgramSpec("pt_byid", ProgType.SOCKET_FILTER,
                                  mov_imm(0, 3) + EXIT)) as prog:
        with Program.from_id(prog.id) as again:
            assert again.name == "pt_byid" and again.type == ProgType.SOCKET_FILTER
            assert again.test_run(PACKET).retval == 3
        with Program.from_fd(prog.fileno()) as dup:
            assert dup.fileno() != prog.fileno() and dup.id == prog.id
        with _array_map() as m, pytest.raises(errors.PybpfError, match="not a BPF program"):
            Program.from_fd(m.fileno())


def test_pin_and_reopen(bpffs):
    path = os.path.join(bpffs, "pt_pinned")
    with Program.load(ProgramSpec("pt_pinned", ProgType.SOCKET_FILTER,
                                  mov_imm(0, 5) + EXIT)) as prog:
        prog.pin(path)
        try:
            with Program.from_pin(path) as again:
                assert again.id == prog.id and again.tag == prog.tag
        finally:
            prog.unpin()
    assert not os.path.exists(path)


def _wait_gone(kind: str, obj_id: int) -> None:
    """The kernel frees a program's maps from a work queue: wait for it (up to 2 s)."""
    from pybpf import info
    for _ in range(200):
        if obj_id not in set(info.ids(kind)):
            return
        time.sleep(0.01)


def test_bind_map():
    from pybpf import info
    with Program.load(ProgramSpec("pt_bind", ProgType.SOCKET_FILTER,
                                  mov_imm(0, 0) + EXIT)) as prog, _array_map() as m:
        prog.bind_map(m)
        prog.bind_map(m.fileno())                     # binding twice is fine
        map_id = info.map_info(m.fileno()).id
        assert map_id in prog.info().map_ids
    _wait_gone("map", map_id)


def test_encode_and_names():
    assert encode_instructions([_Insn(EXIT), EXIT]) == EXIT * 2
    with pytest.raises(ValueError):
        encode_instructions(b"\0" * 7)
    assert sanitize_name("pt-a very:long name") == "pt_a_very_long_"
    with pytest.raises(ValueError):
        Program.load(ProgramSpec("pt_empty", ProgType.SOCKET_FILTER, b""))


_DROP_CAPS = r"""
import ctypes, struct, sys
from pybpf import errors
from pybpf.programs import Program, ProgramSpec
from pybpf._sys.uapi import ProgType
libc = ctypes.CDLL(None, use_errno=True)
hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)          # _LINUX_CAPABILITY_VERSION_3, this pid
data = (ctypes.c_uint32 * 6)()
assert libc.syscall(125, hdr, data) == 0             # capget (x86_64)
drop = (1 << 21) | (1 << 39)                         # CAP_SYS_ADMIN, CAP_BPF
eff = (data[3] << 32 | data[0]) & ~drop
data[0], data[3] = eff & 0xFFFFFFFF, eff >> 32
assert libc.syscall(126, hdr, data) == 0             # capset
try:
    Program.load(ProgramSpec("pt_nocap", ProgType(int(sys.argv[1])), bytes.fromhex(
        "b700000000000000" "9500000000000000"), attach_btf_id=int(sys.argv[2]))).close()
    print("loaded")
except errors.PybpfError as e:
    print(type(e).__name__, getattr(e, "capability", ""))
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="capget/capset numbers are x86_64")
@pytest.mark.parametrize("ptype", [ProgType.SOCKET_FILTER, ProgType.TRACING])
def test_eperm_without_cap_bpf_is_a_missing_privilege(ptype):
    import subprocess
    import sys
    with open("/proc/sys/kernel/unprivileged_bpf_disabled") as f:
        if f.read().strip() == "0" and ptype == ProgType.SOCKET_FILTER:
            pytest.skip("unprivileged socket filters are allowed here")
    btf_id = _vmlinux_func_id("bpf_fentry_test1") if ptype == ProgType.TRACING else 0
    out = subprocess.run([sys.executable, "-c", _DROP_CAPS, str(int(ptype)), str(btf_id or 0)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "MissingPrivilegeError", out.stdout
    assert "CAP_BPF" in out.stdout


_BAD_C = """\
struct __sk_buff { unsigned int len; };

__attribute__((section("socket"), used))
int pt_bad_read(struct __sk_buff *skb)
{
\tint *p = (int *)(long)skb->len;
\treturn *p + 1;
}
"""


def _ext_records(ext: bytes, hdr_len: int, off: int, size: int, strs: bytes,
                 section: str) -> tuple[int, bytes]:
    """One section's func/line info from .BTF.ext, insn_off turned from bytes to insns."""
    data = ext[hdr_len + off: hdr_len + off + size]
    rec_size, = struct.unpack_from("<I", data)
    pos = 4
    while pos < len(data):
        name_off, n = struct.unpack_from("<II", data, pos)
        pos += 8
        out = bytearray()
        for _ in range(n):
            rec = bytearray(data[pos:pos + rec_size])
            pos += rec_size
            struct.pack_into("<I", rec, 0, struct.unpack_from("<I", rec)[0] // 8)
            out += rec
        if strs[name_off:strs.index(b"\0", name_off)].decode() == section:
            return rec_size, bytes(out)
    raise AssertionError(f"no .BTF.ext records for {section}")


def test_clang_program_error_shows_the_c_line(tmp_path):
    import shutil
    import subprocess
    elftools = pytest.importorskip("elftools.elf.elffile")
    clang = shutil.which("clang-19") or shutil.which("clang")
    if clang is None:
        pytest.skip("clang not installed")
    src, obj = tmp_path / "pt_bad.c", tmp_path / "pt_bad.o"
    src.write_text(_BAD_C)
    subprocess.run([clang, "-g", "-O2", "-target", "bpf", "-c", str(src), "-o", str(obj)],
                   check=True, capture_output=True, timeout=120)
    with open(obj, "rb") as f:
        elf = elftools.ELFFile(f)
        text = elf.get_section_by_name("socket").data()
        btf = elf.get_section_by_name(".BTF").data()
        ext = elf.get_section_by_name(".BTF.ext").data()
    hlen, _, _, soff, slen = struct.unpack_from("<IIIII", btf, 4)
    strs = btf[hlen + soff: hlen + soff + slen]
    ehlen, fi_off, fi_len, li_off, li_len = struct.unpack_from("<IIIII", ext, 4)
    fi_size, fi = _ext_records(ext, ehlen, fi_off, fi_len, strs, "socket")
    li_size, li = _ext_records(ext, ehlen, li_off, li_len, strs, "socket")
    with _load_btf(btf) as btf_fd:
        spec = ProgramSpec("pt_c_bad", ProgType.SOCKET_FILTER, text, btf_fd=btf_fd.fileno(),
                           func_info=fi, func_info_rec_size=fi_size,
                           line_info=li, line_info_rec_size=li_size, section="socket")
        with pytest.raises(errors.VerifierError) as ei:
            Program.load(spec)
    e = ei.value
    assert e.insn == 1 and "invalid mem access" in e.reason
    assert e.source_line == "return *p + 1; @ pt_bad.c:7"
    assert "(return *p + 1; @ pt_bad.c:7)" in str(e)
