"""The bcc shim without the kernel: ``pybpf run``'s import hook, exit codes and
tracebacks, and the pure parts of bcc.utils/syscall/tcp/containers, the JSON histogram
and the kprobe candidate filter."""

from __future__ import annotations

import ctypes
import io
import os
import subprocess
import sys
import textwrap

import pytest

from pybpf.bcc import containers, hist, run, statics, syscall, tcp, utils

PY = sys.executable
ENV = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "src"))


def _run(tmp_path, body: str, *args: str):
    script = tmp_path / "tool.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run([PY, "-m", "pybpf", "run", str(script), *args], capture_output=True,
                          text=True, env=ENV, timeout=60)


def test_hook_maps_bcc_names_to_pybpf_for_this_process_only():
    assert "bcc" not in sys.modules
    finder = run.install()
    try:
        import bcc  # noqa: F401  (resolved by the hook)
        import bcc.utils
        from bcc import BPF, PerfSWConfig, PerfType, StrcmpRewrite, USDT, tcp as btcp
        from bcc.containers import filter_by_containers
        from bcc.syscall import syscall_name
        import pybpf.bcc.bpf
        assert BPF is pybpf.bcc.bpf.BPF and bcc.utils is utils and btcp is tcp
        assert PerfType.SOFTWARE == 1 and PerfSWConfig.CPU_CLOCK == 0
        assert USDT.__module__ == "pybpf.bcc.usdt" and StrcmpRewrite is utils.StrcmpRewrite
        assert callable(filter_by_containers) and callable(syscall_name)
        from bcc.libbcc import lib
        assert lib.bpf_table_fd.__self__ is lib      # pybpf's shim, not libbcc
        import bcc.disassembler
        from bcc import disassembler
        assert bcc.disassembler is disassembler is pybpf.bcc.disassembler
        with pytest.raises(ModuleNotFoundError, match="bcc.no_such_module"):
            import bcc.no_such_module  # noqa: F401
    finally:
        run.uninstall(finder)
    assert finder not in sys.meta_path
    assert not [n for n in sys.modules if n == "bcc" or n.startswith("bcc.")]


def test_script_sees_argv_file_and_main(tmp_path):
    r = _run(tmp_path, """
        import sys
        from bcc.utils import printb
        printb(b"%d" % len(sys.argv))
        print(sys.argv[1:], __name__, __file__ == sys.argv[0], sys.path[0])
    """, "-x", "7")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "3"
    assert lines[1] == f"['-x', '7'] __main__ True {tmp_path}"


@pytest.mark.parametrize("body,code,err", [
    ("import sys; sys.exit(3)", 3, ""),
    ("import sys; sys.exit('bad usage')", 1, "bad usage"),
    ("raise SystemExit", 0, ""),
])
def test_exit_codes_are_pythons(tmp_path, body, code, err):
    r = _run(tmp_path, body)
    assert r.returncode == code and r.stderr.strip() == err


def test_script_errors_give_pythons_traceback_from_the_script(tmp_path):
    r = _run(tmp_path, """
        def f():
            return 1 / 0
        f()
    """)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert f'File "{tmp_path}/tool.py", line 4' in lines[1]     # no pybpf frames first
    assert lines[-1] == "ZeroDivisionError: division by zero"
    assert "runpy" not in r.stderr and "pybpf" not in r.stderr


def test_pybpf_errors_are_one_line(tmp_path):
    r = _run(tmp_path, """
        from bcc import BPF
        BPF(src_file=b"/nonexistent/prog.c")
    """)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("tool.py: error: ")
    assert "/nonexistent/prog.c" in r.stderr


def test_missing_script_and_usage():
    r = subprocess.run([PY, "-m", "pybpf", "run", "/nonexistent.py"], capture_output=True,
                       text=True, env=ENV)
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([PY, "-m", "pybpf", "run"], capture_output=True, text=True, env=ENV)
    assert r.returncode == 2 and "usage: pybpf run" in r.stdout


def test_broken_pipe_ends_quietly(tmp_path):
    script = tmp_path / "loud.py"
    script.write_text("for i in range(200000):\n    print('line', i)\n")
    p = subprocess.run(f"{PY} -m pybpf run {script} | head -1", shell=True,
                       capture_output=True, text=True, env=ENV)
    assert p.stdout == "line 0\n" and p.stderr == ""


# ---- bcc.utils, bcc.syscall, bcc.tcp, bcc.containers --------------------------------

def test_cpu_lists_and_argstring():
    assert utils.cpu_range("0-3,5,7-8\n") == [0, 1, 2, 3, 5, 7, 8]
    assert utils.cpu_range("0") == [0]
    assert utils.get_online_cpus() == utils.cpu_range(
        open("/sys/devices/system/cpu/online").read())
    a = utils.ArgString("sshd")
    assert bytes(a) == b"sshd" and str(a) == "sshd"


def test_printb_writes_bytes_and_flushes():
    buf = io.BytesIO()

    class Text:
        buffer = buf
        flushed = 0

        def flush(self):
            Text.flushed += 1
    utils.printb(b"abc", file=Text())
    utils.printb(b"d", file=Text(), nl=0)
    assert buf.getvalue() == b"abc\nd" and Text.flushed == 2


def test_strcmp_rewrite_generates_one_function_per_literal():
    r = utils.StrcmpRewrite.rewrite_expr('STRCMP("bash",arg1) && STRCMP("sh",arg2)',
                                         False, False, [], "", 4)
    assert r["probeid"] == 6
    assert r["expr"] == 'streq_4("bash",arg1) && streq_5("sh",arg2)'
    assert r["streq_functions"].count("static inline bool streq_") == 2
    assert "bpf_probe_read(" in r["streq_functions"]
    r = utils.StrcmpRewrite.rewrite_expr('STRCMP("x",$arg1)', True, True, [], "", 0)
    assert 'needle[] = x;' in r["streq_functions"] or "bpf_probe_read_user" in \
        r["streq_functions"]


def test_syscall_names_from_unistd():
    table = syscall.parse_unistd(b"#define __NR_read 0\n#define __NR_write 1\n"
                                 b"#define __NR_execve 59\n#define __X32_SYSCALL_BIT 0x40\n")
    assert table == {0: b"read", 1: b"write", 59: b"execve"}
    assert syscall.syscall_name(59) == b"execve"
    assert syscall.syscall_name(100000) == b"[unknown: 100000]"


def test_tcp_states_and_flags():
    assert tcp.tcpstate[1] == "ESTABLISHED" and tcp.tcpstate[10] == "LISTEN"
    assert tcp.tcpstate[12] == "NEW_SYN_RECV" and len(tcp.tcpstate) == 12
    assert tcp.flags2str(0x12) == "SYN|ACK" and tcp.flags2str(0) == ""
    assert tcp.flags2str(0xff) == "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR"


def test_container_filters():
    class Args:
        cgroupmap = None
        mntnsmap = None
    text = containers.filter_by_containers(Args())
    assert "container_should_be_filtered()" in text and "PINNED" not in text
    Args.cgroupmap = "/sys/fs/bpf/cg"
    text = containers.filter_by_containers(Args())
    assert 'BPF_TABLE_PINNED("hash", u64, u64, cgroupset, 1024, "/sys/fs/bpf/cg")' in text
    assert "bpf_get_current_cgroup_id()" in text


# ---- histograms and kprobe candidates -------------------------------------------------

def test_json_hist_intervals():
    vals = [0] * 65
    vals[1], vals[3] = 2, 5
    h = hist.json_hist(vals, "usecs", ("disk", "vda"), now="T")
    assert h == {"ts": "T", "val_type": "usecs", "disk": "vda", "data": [
        {"interval-start": 0, "interval-end": 1, "count": 2},
        {"interval-start": 2, "interval-end": 3, "count": 0},
        {"interval-start": 4, "interval-end": 7, "count": 5}]}


class _Tbl:
    class Key(ctypes.Structure):
        _fields_ = [("disk", ctypes.c_uint32), ("slot", ctypes.c_uint32)]

    def items(self):
        return [(self.Key(7, 2), ctypes.c_uint64(3)), (self.Key(7, 4), ctypes.c_uint64(1)),
                (self.Key(9, 1), ctypes.c_uint64(4))]


def test_print_json_hist_sections(capsys):
    hist.print_json(_Tbl(), val_type="usecs", section_header="disk",
                    section_print_fn=lambda d: f"d{d}", bucket_fn=None,
                    bucket_sort_fn=sorted)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "'disk': 'd7'" in lines[0] and "'disk': 'd9'" in lines[1]
    assert "'interval-start': 2, 'interval-end': 3, 'count': 3" in lines[0]


def test_kprobe_candidates_filter(tmp_path):
    black = {"do_nmi"}
    assert statics.traceable("vfs_read", None, black)
    assert not statics.traceable("vfs_read.cold", None, black)
    assert not statics.traceable("__pfx_vfs_read", None, black)
    assert not statics.traceable("do_nmi", None, black)
    assert not statics.traceable("perf_event_open", None, black)
    assert not statics.traceable("vfs_write", {"vfs_read"}, black)
    assert statics.traceable("vfs_read.isra.0", {"vfs_read.isra.0"}, black)
    ks = tmp_path / "kallsyms"
    ks.write_text("ffffffff81000000 T _stext\n"
                  "ffffffff81000010 T vfs_read\n"
                  "ffffffff81000020 t vfs_readv\n"
                  "ffffffff81000030 D vfs_data\n"
                  "ffffffff82000000 T __init_begin\n"
                  "ffffffff82000010 t vfs_init_thing\n"
                  "ffffffff82000100 T __init_end\n"
                  "ffffffffc0000000 t vfs_mod_fn\t[mymod]\n")
    funcs = statics.kernel_functions(str(ks))
    assert ("vfs_mod_fn", 0xffffffffc0000000, "mymod") in funcs
    assert "vfs_data" not in [f[0] for f in funcs]
    assert statics._section(funcs, "__init_begin", "__init_end") == (0xffffffff82000000,
                                                                     0xffffffff82000100)
    black_file = tmp_path / "blacklist"
    black_file.write_text("0xffffffff81000020-0xffffffff81000030\tvfs_readv\n")
    nothing = str(tmp_path / "absent")
    # without ftrace's list: kallsyms' text, less the __init code and the blacklist
    assert statics.kprobe_functions("vfs_", str(ks), nothing, str(black_file)) == \
        [b"vfs_read", b"vfs_mod_fn"]
    # with it: only what ftrace lists (no __init or irq entry code is ever there), read
    # without kallsyms, duplicates once, in its order
    ff = tmp_path / "available_filter_functions"
    ff.write_text("vfs_write\nvfs_read\nvfs_read.cold\nvfs_readv\nvfs_read\n"
                  "vfs_mod_fn [mymod]\nother\n")
    assert statics.kprobe_functions(r"vfs_\w+$", nothing, str(ff), str(black_file)) == \
        [b"vfs_write", b"vfs_read", b"vfs_mod_fn"]


def test_symbols_are_spelled_as_bcc_spells_them():
    from pybpf.bcc.syms import format_symbol
    hit = ("vfs_read", 0x1a, "")
    assert format_symbol(hit, False, False, 0, kernel=True) == b"vfs_read"
    assert format_symbol(hit, True, True, 0, kernel=True) == b"vfs_read+0x1a [kernel]"
    assert format_symbol(("veth_xmit", 4, "veth"), True, False, 0, kernel=True) == \
        b"veth_xmit [veth]"
    assert format_symbol(("malloc", 8, "/usr/lib/x86_64-linux-gnu/libc.so.6"), True, True,
                         0) == b"malloc+0x8 [libc.so.6]"
    assert format_symbol(None, True, True, 0x1234) == b"[unknown]"
