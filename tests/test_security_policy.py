"""Audit policies and event records, without a kernel: checking (line and reason of each
mistake), compiling into the kernel's table contents, decoding records (fuzzed)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

from pybpf.security import events, policy
from pybpf.security.policy import PolicyError, parse


GOOD = """\
# what to report without a rule
[report]
events = ["exec", "connect"]
open = ["/etc/shadow", "/etc/ssh/*"]
uids = [1000]

[[rule]]
name = "no-nc"
event = "exec"
path = "/usr/bin/nc.openbsd"
action = "kill"

[[rule]]
name = "shadow-write"
event = "open"
path = "/etc/shadow"
access = "write"
action = "deny"

[[rule]]
name = "fileless"
event = "exec"
memfd = true
action = "kill"

[[rule]]
name = "backdoor-port"
event = "connect"
port = 4444
uid = 33

[[rule]]
name = "root-again"
event = "priv"
to = 0

[[rule]]
name = "loads"
event = "bpf"
cmd = "prog_load"

[[rule]]
name = "attach"
event = "ptrace"
request = "attach"
action = "kill"

[[rule]]
name = "no-dummy"
event = "module"
module = "dummy"
"""


def test_a_good_policy_compiles_into_table_contents():
    pol = parse(GOOD, "p.toml")
    assert [r["name"] for r in pol.rules] == ["no-nc", "shadow-write", "fileless",
                                              "backdoor-port", "root-again", "loads",
                                              "attach", "no-dummy"]
    assert pol.deny_kinds() == {"open"}
    t = policy.Tables(pol, 1234, {})
    u32 = struct.Struct("<I").pack
    assert t.maps["exec_paths"] == {policy.path_key("/usr/bin/nc.openbsd"): u32(1)}
    # the watch and the rule share /etc/shadow's key: the rule wins
    assert t.maps["open_paths"] == {policy.path_key("/etc/shadow"): u32(2),
                                    policy.path_key("/etc/ssh/*"): u32(0)}
    assert t.maps["port_rules"] == {struct.pack("<HH", 4444, 3): u32(4)}
    assert t.maps["module_rules"] == {b"dummy".ljust(56, b"\0"): u32(8)}
    assert t.maps["kind_rules"] == {u32(5): u32(5), u32(7): u32(6), u32(8): u32(7)}
    assert t.maps["rules"][u32(1)] == struct.pack("<4I", 2, 0xffffffff, 0, 0xffffffff)
    assert t.maps["rules"][u32(2)] == struct.pack("<4I", 3, 0xffffffff, 2, 0xffffffff)
    assert t.maps["rules"][u32(4)] == struct.pack("<4I", 1, 33, 0, 0xffffffff)
    assert t.maps["rules"][u32(5)] == struct.pack("<4I", 1, 0xffffffff, 0, 0)
    assert t.maps["rules"][u32(6)] == struct.pack("<4I", 1, 0xffffffff, 0, 5)
    assert t.maps["rules"][u32(7)] == struct.pack("<4I", 2, 0xffffffff, 0, 16)
    assert t.maps["uids"] == {u32(1000): b"\1"}
    kinds, self_tgid, fuid, fcg, nopen, memfd = struct.unpack("<6I", t.settings)
    assert kinds == (1 << 1) | (1 << 3) | (1 << 2)       # exec, connect, and open (watched)
    assert (self_tgid, fuid, fcg, nopen, memfd) == (1234, 1, 0, 2, 3)


def test_path_keys_exact_and_prefix():
    exact = policy.path_key("/usr/bin/nc")
    assert struct.unpack_from("<I", exact)[0] == 8 * len(b"/usr/bin/nc\0")
    assert exact[4:16] == b"/usr/bin/nc\0" and len(exact) == 4 + policy.PATH_LEN
    prefix = policy.path_key("/tmp/*")
    assert struct.unpack_from("<I", prefix)[0] == 8 * len(b"/tmp/")
    assert prefix[4:9] == b"/tmp/"
    assert policy.path_key("/a//b/../c") == policy.path_key("/a/c")


@pytest.mark.parametrize("text, line, reason", [
    ('[[rule]]\nevent = "exec"\naction = "kil"\n', 3, "unknown action 'kil'"),
    ('[[rule]]\nevent = "exec"\n\n[[rule]]\nevent = "nope"\n', 5, "rule needs event ="),
    ('[[rule]]\nevent = "open"\naction = "alert"\n', 1, "open rules need a path"),
    ('[[rule]]\nevent = "exec"\npath = "bin/x"\n', 3, "'bin/x' is not absolute"),
    ('[[rule]]\nevent = "exec"\npath = "/a*/b"\n', 3, "'*' may only end a path"),
    ('[[rule]]\nevent = "connect"\nport = 70000\n', 3, "port must be a number"),
    ('[[rule]]\nevent = "exec"\nport = 22\n', 3, "exec rules take no 'port'"),
    ('[[rule]]\nevent = "connect"\nport = 22\naction = "deny"\n', 4, "deny works on exec"),
    ('[[rule]]\nevent = "ptrace"\nrequest = "peek"\n', 3, "request must be one of"),
    ('[[rule]]\nevent = "bpf"\ncmd = "map_create"\n', 3, "cmd must be one of"),
    ('[[rule]]\nname = "a"\nevent = "exec"\npath = "/x"\n\n[[rule]]\nname = "b"\n'
     'event = "exec"\npath = "/x"\n', 6, "rules 'a' and 'b' match the same exec path /x"),
    ('[[rule]]\nname = "a"\nevent = "ptrace"\n[[rule]]\nname = "a"\nevent = "bpf"\n', 5,
     "two rules are named 'a'"),
    ('[report]\nevents = ["exec", "fork"]\n', 2, "unknown event 'fork'"),
    ('[report]\nopen = "/etc"\n', 2, "report.open must be a list"),
    ('[report]\nuids = ["root"]\n', 2, "report.uids must be user ids"),
    ('[reprot]\nevents = []\n', 1, "unknown table 'reprot'"),
    ('[[rule]]\nevent = "exec"\naction = alert\n', 3, "not valid TOML"),
    ('[[rule]]\nevent = "exec"\nmemfd = false\n', 3, "memfd must be true"),
])
def test_bad_policies_name_the_line_and_the_reason(text, line, reason):
    with pytest.raises(PolicyError) as ei:
        parse(text, "p.toml")
    assert ei.value.line == line, str(ei.value)
    assert str(ei.value).startswith(f"p.toml:{line}: ")
    assert reason in str(ei.value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_policy_or_a_policy_error(text):
    try:
        parse(text)
    except PolicyError:
        pass


def _record(kind: int, data: bytes = b"", args=(0, 0, 0, 0), **kw) -> bytes:
    f = dict(ts=1, cg=2, kind=kind, pid=10, tid=11, ppid=9, uid=0, euid=0, gid=0, egid=0,
             rule=0, action=0, flags=0, ret=0)
    f.update(kw)
    parents = [0, b"", 0, b"", 0, b""]
    head = events.HEAD.pack(f["ts"], f["cg"], *args, kind, f["pid"], f["tid"], f["ppid"],
                            f["uid"], f["euid"], f["gid"], f["egid"], f["rule"], f["action"],
                            f["flags"], f["ret"], len(data), 0, b"sh", 9, b"bash",
                            *parents)
    return head + data


def test_decode_exec_open_connect_priv():
    data = b"/usr/bin/true\0/bin/true\0/bin/true\0m\0"
    ev = events.decode(_record(1, data, (14, 12, 10, 0), rule=3, action=2, flags=1),
                       {3: "r"})
    assert (ev["path"], ev["filename"], ev["argv"]) == ("/usr/bin/true", "/bin/true",
                                                        ["/bin/true", "m"])
    assert (ev["rule"], ev["action"], ev["memfd"], ev["deleted"]) == ("r", "kill", True, False)
    assert ev["parents"] == [{"pid": 9, "comm": "bash"}]
    ev = events.decode(_record(2, b"/etc/x\0", (0o2, 2, 0, 0), ret=3))
    assert (ev["path"], ev["access"], ev["ret"]) == ("/etc/x", "write", 3)
    addrs = bytes([127, 0, 0, 1]) + bytes(12) + bytes([10, 0, 0, 2]) + bytes(12)
    ev = events.decode(_record(3, addrs, (2, 5555, 80, 0)))
    assert (ev["laddr"], ev["lport"], ev["raddr"], ev["rport"]) == ("127.0.0.1", 5555,
                                                                    "10.0.0.2", 80)
    assert events.details(ev) == "127.0.0.1:5555 -> 10.0.0.2:80 = 0"
    ev = events.decode(_record(5, b"", (0, 1, 2, 5), ret=-1))
    assert (ev["call"], ev["args"], ev["ret"]) == ("setresuid", [0, 1, 2], -1)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 12), st.binary(max_size=400),
       st.tuples(*[st.integers(0, 2 ** 64 - 1)] * 4), st.integers(0, 5000))
def test_decode_never_raises_anything_but_valueerror(kind, data, args, dlen):
    rec = bytearray(_record(kind, data, args))
    struct.pack_into("<I", rec, 96, dlen)       # data_len claims anything
    try:
        ev = events.decode(bytes(rec))
        events.details(ev)
    except ValueError:
        pass
    with pytest.raises(ValueError):
        events.decode(bytes(rec[:100]))


def test_an_unknown_cgroup_is_refused_with_its_line():
    from pybpf.security.audit import compile_tables
    pol = parse('[report]\nevents = ["exec"]\ncgroups = ["no/such/cgroup"]\n', "p.toml")
    with pytest.raises(PolicyError, match=r"^p.toml:3: cgroup 'no/such/cgroup': No such file"):
        compile_tables(pol)
