"""Label decoders, one by one and chained, and fuzzed where they parse untrusted bytes."""

from __future__ import annotations

import os
import socket

import pytest
from hypothesis import given, strategies as st

from pybpf.exporter import decoders
from pybpf.exporter.decoders import Context, make_chain
from pybpf.exporter.errors import DecodeError, Skip, Unresolved


def chain(*confs, size=8, ctx=None):
    return make_chain(list(confs), "labels[0].decoders", size, ctx or Context())


def test_uint_sizes():
    assert chain("uint", size=1)(b"\xff") == "255"
    assert chain("uint", size=2)((513).to_bytes(2, "little")) == "513"
    assert chain("uint", size=8)((2 ** 64 - 1).to_bytes(8, "little")) == str(2 ** 64 - 1)


def test_string_stops_at_nul_and_replaces_bad_utf8():
    assert chain("string", size=16)(b"bash\0junk\0\0\0\0\0\0\0") == "bash"
    assert chain("string", size=4)(b"\xff\xfeab") == "\ufffd\ufffdab"


def test_static_map_unknown_and_allow_unknown():
    m = {"name": "static_map", "static_map": {1: "write", 0: "read"}}
    assert chain("uint", m, size=4)((1).to_bytes(4, "little")) == "write"
    assert chain("uint", m, size=4)((7).to_bytes(4, "little")) == "unknown:7"
    m2 = dict(m, allow_unknown=True)
    assert chain("uint", m2, size=4)((7).to_bytes(4, "little")) == "7"


def test_regexp_filters():
    f = chain("string", {"name": "regexp", "regexps": ["^sshd$", "^nginx.*"]}, size=16)
    assert f(b"nginx-worker\0\0\0\0") == "nginx-worker"
    with pytest.raises(Skip):
        f(b"bash\0" + bytes(11))


def test_inet_ip():
    f = chain("inet_ip", size=16)
    assert f(socket.inet_pton(socket.AF_INET6, "2001:db8::1")) == "2001:db8::1"
    assert f(socket.inet_pton(socket.AF_INET6, "::ffff:10.1.2.3")) == "10.1.2.3"
    assert chain("inet_ip", size=4)(bytes([192, 168, 0, 9])) == "192.168.0.9"


def test_dname():
    f = chain("dname", size=32)
    assert f(b"\x07example\x03com\x00" + bytes(19)) == "example.com"
    assert f(bytes(32)) == "."
    with pytest.raises(DecodeError):
        f(b"\x3f" + b"a" * 10)


def test_hex():
    assert chain("hex", size=4)(b"\x01\xab\x00\xff") == "01ab00ff"


def test_syscall_names_from_the_uapi_header():
    table = decoders.syscall_table()
    assert table[0] == "read" and table[59] == "execve"       # x86_64 numbers
    f = chain("syscall")
    assert f((59).to_bytes(8, "little")) == "execve"
    assert f((99999).to_bytes(8, "little")) == "unknown_syscall:99999"   # as ebpf_exporter
    assert chain("uint", "syscall")((1).to_bytes(8, "little")) == "write"


def test_ksym_resolves_a_kernel_function(tmp_path):
    ks = tmp_path / "kallsyms"
    ks.write_text("ffffffff81000000 T _stext\nffffffff81001000 T do_sys_open\n"
                  "ffffffff81002000 t helper\n")
    f = chain("ksym", ctx=Context(kallsyms=str(ks)))
    assert f((0xffffffff81001010).to_bytes(8, "little")) == "do_sys_open"
    assert f((0x10).to_bytes(8, "little")) == "unknown_addr:0x10"   # ebpf_exporter's text


def test_cgroup_paths_by_id(tmp_path):
    (tmp_path / "system.slice" / "ssh.service").mkdir(parents=True)
    ctx = Context(cgroup_root=str(tmp_path))
    f = chain("cgroup", ctx=ctx)
    ino = os.stat(tmp_path / "system.slice" / "ssh.service").st_ino
    assert f(ino.to_bytes(8, "little")) == "/system.slice/ssh.service"
    assert f(os.stat(tmp_path).st_ino.to_bytes(8, "little")) == "/"
    with pytest.raises(Unresolved) as e:       # shown as such, but tried again later
        f((1).to_bytes(8, "little"))
    assert e.value.text == "unknown_cgroup_id:1"
    # a cgroup made after the first look is found (the walk is redone, at most 1/s)
    (tmp_path / "late").mkdir()
    ctx._cgroup_scanned = 0.0
    assert f(os.stat(tmp_path / "late").st_ino.to_bytes(8, "little")) == "/late"


def test_majorminor_names_block_devices():
    f = chain("majorminor", size=4)
    # /dev/loop0 is 7:0 everywhere; user space's dev_t (makedev) is major << 8 | minor
    # for small numbers, minor's upper bits go to bit 20
    if os.path.exists("/sys/dev/block/7:0"):
        assert f(os.makedev(7, 0).to_bytes(4, "little")) == "loop0"
    with pytest.raises(Unresolved) as e:
        f(os.makedev(250, 77).to_bytes(4, "little"))
    assert e.value.text == "unknown:250:77"
    m = {"name": "regexp", "regexps": ["^unknown:250:.*"]}  # a chain goes on with the stand-in
    with pytest.raises(Unresolved) as e:
        chain("majorminor", m, size=4)(os.makedev(250, 77).to_bytes(4, "little"))
    assert e.value.text == "unknown:250:77"
    with pytest.raises(Unresolved) as e:                  # a minor past 255
        f(os.makedev(250, 300).to_bytes(4, "little"))
    assert e.value.text == "unknown:250:300"


@given(st.binary(max_size=64))
def test_fuzz_byte_decoders_fail_only_with_decode_error(data):
    for name in ("dname", "string", "hex", "inet_ip"):
        try:
            out = chain(name, size=16)(data)   # the bytes may not match: must not crash
        except DecodeError:
            continue
        assert isinstance(out, str)


@given(st.binary(min_size=8, max_size=8))
def test_fuzz_numeric_decoders(data):
    ctx = Context(cgroup_root="/nonexistent")
    for name in ("uint", "syscall", "cgroup", "majorminor"):
        try:
            assert isinstance(chain(name, ctx=ctx)(data), str)
        except Unresolved as e:
            assert isinstance(e.text, str)
