"""The tools' shared pure pieces (no kernel needed): histograms, flags, addresses, names,
stack folding, and one-line argument errors."""

from __future__ import annotations

import io
import json
import re

import hypothesis
import hypothesis.strategies as st
import pytest

from pybpf import tools
from pybpf.tools import _block, _hist, _net, _stacks, _syscalls
from pybpf.tools._common import Output
from tests.toolrun import run_tool


def test_at_least_25_tools_each_with_its_folder():
    names = tools.names()
    assert len(names) >= 25
    import os
    for n in names:
        folder = os.path.join(tools.TOOLS_DIR, n)
        assert os.path.exists(os.path.join(folder, f"{n}.bpf.c")), n
        assert os.path.exists(os.path.join(folder, f"{n}.h")), n
        assert tools.description(n), n


def test_log2_buckets_match_bcc_bounds():
    slots = [0] * _hist.MAX_SLOTS
    slots[1], slots[2], slots[11] = 5, 3, 1
    assert _hist.buckets(slots) == [{"low": 0, "high": 1, "count": 5},
                                    {"low": 2, "high": 3, "count": 3},
                                    {"low": 1024, "high": 2047, "count": 1}]
    assert _hist.buckets([0, 2, 0, 7], linear=True) == [{"low": 1, "high": 1, "count": 2},
                                                        {"low": 3, "high": 3, "count": 7}]


def test_sections_text_and_json():
    out = Output(io.StringIO())
    _hist.print_sections(out, {7: [0, 4, 2] + [0] * 24}, "usecs", "pid",
                         label=lambda k: f"{k} sh")
    text = out.stream.getvalue().splitlines()
    assert text[:3] == ["", "pid = 7 sh", "     usecs               : count     distribution"]
    assert text[3].startswith("         0 -> 1          : 4        |****")
    out = Output(io.StringIO(), json_lines=True)
    _hist.print_sections(out, {7: [0, 4, 2] + [0] * 24}, "usecs", "pid", time_line="00:00:01",
                         json_fields=lambda k: {"comm": "sh"})
    rec = json.loads(out.stream.getvalue())
    assert rec == {"time": "00:00:01", "unit": "usecs", "hists": [
        {"pid": 7, "comm": "sh", "total": 6, "buckets": [{"low": 0, "high": 1, "count": 4},
                                                         {"low": 2, "high": 3, "count": 2}]}]}


def test_block_flags_in_bcc_words():
    assert _block.flags_text(0) == "Read"
    assert _block.flags_text(1 | _block.SYNC) == "Sync-Write"
    assert _block.flags_text(0 | _block.RAHEAD) == "ReadAhead-Read"
    assert _block.flags_text(2 | _block.PREFLUSH) == "PreFlush-Flush"
    assert _block.rwbs(1) == "W" and _block.rwbs(0) == "R" and _block.rwbs(3) == "D"


def test_addresses_and_ports():
    raw = bytes([127, 0, 0, 1]) + bytes(12)
    assert _net.addr(2, raw) == "127.0.0.1"
    assert _net.addr(10, bytes(15) + b"\x01") == "::1"
    assert _net.port_list("80,443") == [80, 443]
    for bad in ("", "0", "70000", "x"):
        with pytest.raises(Exception):
            _net.port_list(bad)
    data, n = _net.ports_bytes([80, 443])
    assert n == 2 and len(data) == 16 and data[:4] == b"\x50\x00\xbb\x01"


def test_syscall_names_both_ways():
    assert _syscalls.name(59, "x86_64") == "execve"
    assert _syscalls.name(221, "aarch64") == "execve"
    assert _syscalls.number("getppid", "x86_64") == 110
    assert _syscalls.name(99999, "x86_64") == "[unknown: 99999]"


def test_exit_status_and_mount_flags_text():
    from pybpf.tools.exitsnoop import describe
    from pybpf.tools.mountsnoop import MS_FLAGS, decode_flags, retval
    assert describe(7 << 8) == (7, 0, False, "code 7")
    assert describe(9) == (0, 9, False, "signal 9 (SIGKILL)")
    assert describe(11 | 0x80)[3] == "signal 11 (SIGSEGV), core dumped"
    assert decode_flags(2 | 4 | (1 << 30), MS_FLAGS) == "MS_NOSUID|MS_NODEV|0x40000000"
    assert decode_flags(0, MS_FLAGS) == "0x0" and retval(-22) == "-EINVAL"


def test_folded_stack_order():
    assert _stacks.folded("app", ["leaf_u", "main"], ["schedule", "do_sys"], True) == \
        "app;main;leaf_u;-;do_sys;schedule"
    assert _stacks.folded("a;b", [], ["f"]) == "a_b;f"


def test_folded_annotations_and_raw_addresses():
    """profile -a: folded kernel frames end in _[k] (not a missed-stack marker); -A and
    stackcount -v: the address formats before a frame; JSON's raw kernel addresses are
    those of the frames kept (the tracing machinery's own dropped)."""
    assert _stacks.folded("app", ["main"], ["schedule", "do_sys"], annotate=True) == \
        "app;main;do_sys_[k];schedule_[k]"
    assert _stacks.folded("app", [], ["[Missed Kernel Stack]"], annotate=True) == \
        "app;[Missed Kernel Stack]"

    class Sym:
        def __init__(self, name):
            self.name = name
            self.module = "/usr/bin/app" if name == "main" else ""

        def format(self, offset=False):
            return self.name

    names = {0x10: "bpf_prog_abc", 0xffffffff81000020: "do_nanosleep", 0x30: "main"}
    s = _stacks.Stacks.__new__(_stacks.Stacks)
    s.offset = s.lines = s.module = False
    s.address = ("0x%-16x ", "0x%016x ")
    s._cache = {1: [0x10, 0xffffffff81000020], 2: [0x30]}
    s.syms = type("Syms", (), {"kernel": lambda self, a: Sym(names[a]),
                               "user": lambda self, pid, a: Sym(names[a])})()
    assert s.kernel(1) == ["0xffffffff81000020 do_nanosleep"]
    assert s.kernel_addresses(1) == [0xffffffff81000020]
    assert s.user(2, 1) == ["0x0000000000000030 main"]
    # memleak's text frames (bcc's): the binary's base name, [kernel] for vmlinux
    s.module = True
    assert s.user(2, 1) == ["0x0000000000000030 main [app]"]
    assert s.kernel(1) == ["0xffffffff81000020 do_nanosleep [kernel]"]


def test_capability_names():
    from pybpf.tools.capable import CAPS
    assert len(CAPS) == 41 and CAPS[21] == "CAP_SYS_ADMIN" and CAPS[39] == "CAP_BPF"


@pytest.mark.parametrize("argv", [["opensnoop", "-p", "0"], ["runqlat", "-P", "-x"],
                                  ["syscount", "-T", "0"], ["tcpconnect", "-P", "99999"],
                                  ["biolatency", "-D", "-F"], ["killsnoop", "-s", "SIGNOPE"],
                                  ["runqlen", "1", "0"], ["profile", "-U", "-K"],
                                  ["opensnoop", "-d", "-1"], ["biosnoop", "-D", "0"],
                                  ["vfsstat", "-1", "2"], ["runqlat", "nan", "1"]])
def test_bad_arguments_are_one_line(argv):
    r = run_tool(*argv)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_positive_seconds():
    """Intervals and durations (opensnoop -d, biosnoop -D, interval): above zero, finite;
    bcc ends at once on -1 and never on 0, the sweep's finding."""
    from pybpf.tools import _args
    assert _args.positive_seconds("0.5") == 0.5 and _args.positive_seconds("3") == 3.0
    for bad in ("-1", "0", "nan", "inf", "abc"):
        with pytest.raises(Exception, match="seconds"):
            _args.positive_seconds(bad)


@pytest.mark.parametrize("name,argv,want", [
    ("biotop", ["-C", "-r", "5"], {"noclear": True, "maxrows": 5}),
    ("filetop", [], {"noclear": False, "maxrows": 20}),
    ("funccount", ["-i", "2", "-d", "6", "-T", "-r", "vfs_.*"],
     {"interval": 2, "duration": 6, "timestamp": True, "regexp": True}),
    ("funclatency", ["-d", "3", "c:malloc"], {"interval": None, "duration": 3,
                                              "timestamp": False, "regexp": False}),
    ("stackcount", ["-D", "4", "-d", "t:sched:sched_switch"],
     {"duration": 4, "delimited": True}),
    ("syscount", ["-i", "1", "-T", "3"], {"interval": 1, "top": 3}),
])
def test_shared_option_groups_keep_each_tools_flags(name, argv, want):
    """The option groups of tools/_args.py give each tool its own spellings (stackcount's
    duration is -D, its -d --delimited; syscount's -T is --top)."""
    import importlib
    args = importlib.import_module(f"pybpf.tools.{name}").parser().parse_args(argv)
    assert {k: getattr(args, k) for k in want} == want


@pytest.mark.parametrize("name", tools.names())
def test_every_tool_takes_json(name):
    import importlib
    mod = importlib.import_module(f"pybpf.tools.{name}")
    assert "--json" in mod.parser().format_help()


@pytest.mark.parametrize("binary", ["/bin/bash", "c"])
def test_uprobe_tools_function_table_agrees_with_pyelftools(binary):
    """The uprobe tools read offsets through pybpf.links.elfcache (cached by the binary's
    identity): functions only, IFUNCs marked -1, the same offsets pyelftools gives."""
    from pybpf.links import elfcache, symbols
    path = symbols.resolve_path(binary)
    table = elfcache.functions(path)
    ref = {n: (-1 if s.type == symbols.STT_GNU_IFUNC else s.offset)
           for n, s in symbols.elf_symbols(path).items()
           if s.type in (symbols.STT_FUNC, symbols.STT_GNU_IFUNC)}
    assert ref and table == ref
    assert elfcache.functions(path) == table                # the cached copy
    name = next(n for n, off in sorted(table.items()) if off > 0)
    assert elfcache.symbol_offset(path, name, table) == table[name]
    with pytest.raises(Exception, match="symbol 'pt_nope' not found"):
        elfcache.symbol_offset(path, "pt_nope", table)


def test_drop_reporter_lost_and_missed_once_each(monkeypatch, capsys):
    """Ring-buffer drops and the kernel's skipped runs are two lines, each printed with the
    increase and only when its count grew (never folded together, never repeated)."""
    from pybpf import info
    from pybpf.tools import _common
    counts = [[0, 0]]
    misses = {3: 0, 4: 0}

    class Prog:
        def __init__(self, fd):
            self.fd = fd

        def fileno(self):
            return self.fd

    class Map:
        def __getitem__(self, key):
            assert key == 0
            return [n.to_bytes(8, "little") for n in counts[0]]

    monkeypatch.setattr(info, "prog_misses", lambda fd: misses[fd])
    d = _common.DropReporter("t", Map(), programs=[Prog(3), Prog(4)])
    d.check(force=True)
    assert capsys.readouterr().err == ""
    counts[0] = [2, 3]
    misses[3], misses[4] = 1, 6
    d.check(force=True)
    d.check(force=True)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "t: lost 5 events"
    assert err[1].startswith("t: missed 7 events (")
    assert len(err) == 2
    misses[4] = 9
    d.check(force=True)
    assert capsys.readouterr().err.startswith("t: missed 3 events (")


def test_drop_reporter_says_unseen_stretches_and_runs_apart(capsys):
    """The unseen counters (_unseen.bpf.h): off-CPU stretches at keys 0 (timed) and 1
    (lost), cpudist's on-CPU runs at 2 and 3; each line once per increase, per-CPU
    values summed."""
    from pybpf.tools import _common
    unseen = {k: [0, 0] for k in range(4)}

    class Map:
        def __init__(self, counts):
            self.counts = counts

        def __getitem__(self, key):
            return [n.to_bytes(8, "little") for n in self.counts[key]]

    d = _common.DropReporter("t", Map({0: [0, 0]}), unseen=Map(unseen))
    d.check(force=True)
    assert capsys.readouterr().err == ""
    unseen[2], unseen[3] = [2, 1], [0, 1]
    d.check(force=True)
    d.check(force=True)
    assert capsys.readouterr().err.splitlines() == [
        "t: 3 on-CPU runs began at a switch the kernel ran no BPF program for; timed "
        "from the task's run time",
        "t: lost 1 on-CPU runs (began at a switch the kernel ran no BPF program for)"]
    unseen[0], unseen[2] = [0, 4], [3, 1]
    d.check(force=True)
    assert capsys.readouterr().err.splitlines() == [
        "t: 4 off-CPU stretches ended at a switch the kernel ran no BPF program for; "
        "timed from the task's run time",
        "t: 1 on-CPU runs began at a switch the kernel ran no BPF program for; timed "
        "from the task's run time"]
    # runqlat names its stretches for what they are
    r = _common.DropReporter("runqlat", Map({0: [0, 0]}), unseen=Map(unseen),
                             stretches="run-queue waits")
    r.check(force=True)
    assert capsys.readouterr().err.splitlines()[0] == (
        "runqlat: 4 run-queue waits ended at a switch the kernel ran no BPF program for; "
        "timed from the task's run time")


@pytest.mark.parametrize("interactive,noclear,start", [
    (True, False, "\033[2J\033[H"), (True, True, "\n"), (False, False, "\n")])
def test_top_screen_clears_only_a_terminal(monkeypatch, interactive, noclear, start):
    """biotop and filetop start each interval the same way: a cleared terminal (unless
    -C), else a blank line; then the time and the load average."""
    from types import SimpleNamespace
    from pybpf.tools import _stat
    monkeypatch.setattr(_stat, "loadavg", lambda: "0.10 0.20 0.30 1/99 42")
    out = SimpleNamespace(stream=io.StringIO(), interactive=interactive)
    _stat.top_screen(out, noclear, "07:30:00")
    assert out.stream.getvalue() == start + "07:30:00 loadavg: 0.10 0.20 0.30 1/99 42\n\n"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_sleep_until_stopped_ends_on_a_signal_whose_stop_was_swallowed():
    """A SIGINT whose Stop was raised inside a finalizer is only printed ("Exception
    ignored"): an interval tool's long sleep must still end on it."""
    import signal
    import time
    from pybpf.tools import _common

    class Finalized:
        def __del__(self):
            _common._raise_stop(signal.SIGINT, None)      # the handler, mid-finalizer

    _common._stop_gate[:] = [0, None]
    _common._stop_seen[0] = None
    try:
        Finalized()                                     # its Stop is swallowed here
        t0 = time.monotonic()
        with pytest.raises(_common.Stop) as e:
            _common.sleep_until_stopped(60)
        assert e.value.signum == signal.SIGINT and time.monotonic() - t0 < 1.5
    finally:
        _common._stop_seen[0] = None
    _common.sleep_until_stopped(0.01)                   # no signal: an ordinary sleep


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(name=st.binary(max_size=40), tail=st.binary(max_size=8))
def test_names_print_as_their_bytes_and_json_stays_unicode(name, tail):
    """Any name bytes (up to a NUL, as in a kernel buffer): a text row writes them back
    unchanged, a JSON row is valid UTF-8 JSON with U+FFFD for each byte that is not."""
    from pybpf.tools._common import cstr
    raw = name + b"\0" + tail
    want = name.split(b"\0", 1)[0]
    buf = io.BytesIO()
    text = io.TextIOWrapper(buf, encoding="utf-8", errors="strict")
    Output(text).row("n=" + cstr(raw), {})
    text.flush()
    assert buf.getvalue() == b"n=" + want + b"\n"
    jbuf = io.BytesIO()
    js = io.TextIOWrapper(jbuf, encoding="utf-8", errors="strict")
    Output(js, json_lines=True).row("", {"comm": cstr(raw), "k\\": "\\udcff"})
    js.flush()
    rec = json.loads(jbuf.getvalue().decode("utf-8"))
    shown = re.sub("[\udc80-\udcff]", "\ufffd", want.decode(errors="surrogateescape"))
    assert rec == {"comm": shown, "k\\": "\\udcff"}


def test_attach_some_serves_more_tracepoints_and_leaves_out_missing_ones():
    """attach_some: every program by its section (an optional one whose hook is missing
    is left out, another missing one raises), then ``also``'s extra tracepoints of a
    program, a missing one left out (opensnoop's one exit program for three syscalls)."""
    from pybpf import errors
    from pybpf.tools import _run

    have = {"sys_enter_openat", "sys_exit_openat", "sys_exit_open"}
    made = []

    class Prog:
        def __init__(self, section):
            self.section = section

        def attach_tracepoint(self, category, name):
            if name not in have:
                raise errors.NotFoundError(2, "tracepoint", name)
            made.append((category, name))

    class Obj:
        programs = {"enter": Prog("sys_enter_openat"), "enter2": Prog("sys_enter_openat2"),
                    "exit": Prog("sys_exit_openat")}

        def attach(self, names):
            (name,) = names
            self.programs[name].attach_tracepoint("syscalls", self.programs[name].section)

    _run.attach_some(Obj(), optional=("enter2",),
                     also={"exit": (("syscalls", "sys_exit_open"),
                                    ("syscalls", "sys_exit_openat2"))})
    assert made == [("syscalls", "sys_enter_openat"), ("syscalls", "sys_exit_openat"),
                    ("syscalls", "sys_exit_open")]
    with pytest.raises(errors.NotFoundError):
        _run.attach_some(Obj())             # enter2 is not optional here


@pytest.mark.parametrize("tool", ["opensnoop", "runqlat"])
def test_cgroup_that_is_not_cgroup_v2_is_one_clear_line(tool, tmp_path):
    """-c with a directory that is no cgroup v2 directory: the kernel refuses its fd in the
    cgroup array (EBADF), which was the message; now the option's own words."""
    r = run_tool(tool, "-c", str(tmp_path))
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert f"cgroup '{tmp_path}': not a cgroup v2 directory" in r.stderr


@pytest.mark.parametrize("release, on", [
    ("5.10.0-46-amd64", False), ("6.0.19", False), ("6.1.0-37-cloud-amd64", True),
    ("6.12.117+deb12-amd64", True), ("6.18.44-fc-v657", True), ("garbage", False)])
def test_on_demand_tables_only_where_tracing_programs_allocate_safely(release, on):
    """In-flight tables lose their preallocation (BPF_F_NO_PREALLOC) only from 6.1, where
    the BPF memory allocator serves tracing programs; before, the verifier warns (a
    PREEMPT_RT kernel refuses), and an unparsable release keeps the safe default."""
    from pybpf.tools._run import on_demand_flags
    got = on_demand_flags(("start", "counts"), release)
    assert got == ({"start": 1, "counts": 1} if on else None)
    assert on_demand_flags((), release) is None
