"""Audit events: decoding the kernel's records (audit.h) into dicts, and printing them as
readable lines or JSON objects (the schema is in docs/security.md)."""

from __future__ import annotations

import os
import re
import socket
import struct
import time

# struct event_head (audit.h): ts, cgroup, args[4], 11 u32s, ret, data_len, pad, comm,
# then 4 ancestors (pid, comm)
HEAD = struct.Struct("<QQ4Q11IiII16s" + "I16s" * 4)
assert HEAD.size == 200

KINDS = {1: "exec", 2: "open", 3: "connect", 4: "accept", 5: "priv", 6: "module",
         7: "bpf", 8: "ptrace"}
KIND_IDS = {v: k for k, v in KINDS.items()}
ACTIONS = {0: None, 1: "alert", 2: "kill", 3: "deny"}
PRIV_CALLS = {1: "setuid", 2: "setgid", 3: "setreuid", 4: "setregid", 5: "setresuid",
              6: "setresgid", 7: "setfsuid", 8: "setfsgid", 9: "capset"}
PRIV_NARGS = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 1, 8: 1, 9: 3}
BPF_CMDS = {5: "PROG_LOAD", 8: "PROG_ATTACH", 17: "RAW_TRACEPOINT_OPEN", 28: "LINK_CREATE"}
PTRACE_REQUESTS = {0: "TRACEME", 4: "POKETEXT", 5: "POKEDATA", 6: "POKEUSER", 16: "ATTACH",
                   0x4206: "SEIZE"}
F_MEMFD, F_DELETED, F_TRUNCATED = 1, 2, 4


def _cstr(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode(errors="replace")


def _access(fmode: int) -> str:
    """FMODE_READ 1, FMODE_WRITE 2: the intent a file was opened with."""
    return {1: "read", 2: "write", 3: "read-write"}.get(fmode & 3, "none")


def _addr(family: int, raw: bytes) -> str:
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    return socket.inet_ntop(socket.AF_INET6, raw[:16])


def decode(data, rule_names: dict[int, str] | None = None) -> dict:
    """One kernel record as a dict (the JSON schema's fields).  Raises ValueError on a
    record too short for what it says it holds."""
    if len(data) < HEAD.size:
        raise ValueError(f"short audit record ({len(data)} bytes)")
    f = HEAD.unpack_from(data)
    (ts, cgid, a0, a1, a2, a3, kind, pid, tid, ppid, uid, euid, gid, egid, rule, action,
     flags, ret, dlen, _pad, comm) = f[:21]
    body = bytes(data[HEAD.size:HEAD.size + dlen])
    parents = []
    for i in range(4):
        ppid_i, pcomm = f[21 + 2 * i], f[22 + 2 * i]
        if not ppid_i:
            break
        parents.append({"pid": ppid_i, "comm": _cstr(pcomm)})
    name = KINDS.get(kind, f"kind{kind}")
    ev = {"event": name, "ts_ns": ts, "pid": pid, "tid": tid, "ppid": ppid,
          "uid": uid, "euid": euid, "gid": gid, "egid": egid, "comm": _cstr(comm),
          "cgroup_id": cgid, "parents": parents,
          "rule": (rule_names or {}).get(rule, str(rule)) if rule else None,
          "action": ACTIONS.get(action), "truncated": bool(flags & F_TRUNCATED)}
    if name == "exec":
        plen = min(a0, len(body))
        ev["path"] = _cstr(body[:plen])
        ev["filename"] = _cstr(body[plen:plen + a2])
        argv = body[plen + a2:plen + a2 + a1]
        if argv.endswith(b"\0"):
            argv = argv[:-1]
        ev["argv"] = [x.decode(errors="replace") for x in argv.split(b"\0")] if argv else []
        ev["memfd"] = bool(flags & F_MEMFD)
        ev["deleted"] = bool(flags & F_DELETED)
        if action == 3:
            ev["ret"] = ret
    elif name == "open":
        # f_flags as the open left them: O_CREAT, O_EXCL and O_TRUNC are already gone
        ev.update(path=_cstr(body), flags=a0, access=_access(a1), ret=ret)
    elif name in ("connect", "accept"):
        if len(body) < 32:
            raise ValueError("short socket event")
        fam = a0
        ev.update(family="ipv4" if fam == socket.AF_INET else "ipv6",
                  laddr=_addr(fam, body[:16]), lport=a1,
                  raddr=_addr(fam, body[16:32]), rport=a2, ret=ret)
    elif name == "priv":
        call = PRIV_CALLS.get(a3, f"call{a3}")
        n = PRIV_NARGS.get(a3, 1)
        ev.update(call=call, args=[int(x) & 0xffffffff for x in (a0, a1, a2)[:n]], ret=ret)
    elif name == "module":
        ev.update(name=_cstr(body), taints=a0)
    elif name == "bpf":
        ev.update(cmd=BPF_CMDS.get(a0, str(a0)), ret=ret)
        if a0 == 5:
            ev.update(prog_type=a1, prog_name=_cstr(body))
    elif name == "ptrace":
        ev.update(request=PTRACE_REQUESTS.get(a0, str(a0)), target_pid=a1 & 0xffffffff,
                  ret=ret)
    return ev


_CONTAINER_RE = re.compile(r"([0-9a-f]{64})")


class CgroupNames:
    """cgroup v2 id -> path (the id is the directory's inode number) and container id
    (a 64-hex-digit name in the path, as docker, containerd and podman make them).
    Rescans the hierarchy on a miss, at most once a second."""

    def __init__(self, root: str | None = None):
        if root is None:
            from .policy import cgroup2_root
            root = cgroup2_root()
        self.root = root
        self.paths: dict[int, str] = {}
        self.scanned = 0.0

    def path(self, cgid: int) -> str | None:
        p = self.paths.get(cgid)
        if p is None and time.monotonic() - self.scanned > 1.0:
            self.scanned = time.monotonic()
            for d, _, _ in os.walk(self.root):
                try:
                    self.paths.setdefault(os.stat(d).st_ino, d[len(self.root):] or "/")
                except OSError:
                    continue
            p = self.paths.get(cgid)
        return p

    def container(self, path: str | None) -> str | None:
        m = _CONTAINER_RE.findall(path or "")
        return m[-1] if m else None


class Printer:
    """Writes events as readable lines or JSON lines (to an _common.Output)."""

    HEADER = "%-8s %-7s %-7s %-7s %-5s %-16s %s" % ("TIME", "EVENT", "PID", "PPID", "UID",
                                                     "COMM", "DETAILS")

    def __init__(self, out, clock, cgroups: CgroupNames | None = None):
        self.out, self.clock = out, clock
        self.cgroups = cgroups or CgroupNames()
        self.rule_names: dict[int, str] = {}

    def header(self) -> None:
        self.out.header(self.HEADER)

    def event(self, ev: dict) -> None:
        if self.out.json:
            cg = self.cgroups.path(ev["cgroup_id"])
            ev = dict(ev, time=self.clock.hms(ev["ts_ns"]), cgroup=cg,
                      container_id=self.cgroups.container(cg))
            self.out.row("", ev)
            return
        line = "%-8s %-7s %-7d %-7d %-5d %-16s %s" % (
            self.clock.hms(ev["ts_ns"]), ev["event"], ev["pid"], ev["ppid"], ev["uid"],
            ev["comm"], details(ev))
        if ev["action"]:
            line += f"  [{ev['action']}: rule {ev['rule']}]"
        self.out.row(line, ev)


def details(ev: dict) -> str:
    """The kind-specific part of a readable line."""
    k = ev["event"]
    if k == "exec":
        extra = " (memfd)" if ev["memfd"] else " (deleted)" if ev["deleted"] else ""
        args = " ".join(ev["argv"][1:])
        ret = f" = {ev['ret']}" if "ret" in ev else ""
        return f"{ev['path']}{extra}{' ' + args if args else ''}{ret}".replace("\n", "\\n")
    if k == "open":
        return f"{ev['path']} {ev['access']} = {ev['ret']}"
    if k == "connect":
        return f"{ev['laddr']}:{ev['lport']} -> {ev['raddr']}:{ev['rport']} = {ev['ret']}"
    if k == "accept":
        return f"{ev['raddr']}:{ev['rport']} -> {ev['laddr']}:{ev['lport']} = {ev['ret']}"
    if k == "priv":
        return f"{ev['call']}({', '.join(str(a) for a in ev['args'])}) = {ev['ret']}"
    if k == "module":
        return ev["name"]
    if k == "bpf":
        name = f" type={ev['prog_type']} name={ev['prog_name']}" if ev["cmd"] == "PROG_LOAD" \
            else ""
        return f"{ev['cmd']}{name} = {ev['ret']}"
    if k == "ptrace":
        return f"{ev['request']} pid={ev['target_pid']} = {ev['ret']}"
    return ""
