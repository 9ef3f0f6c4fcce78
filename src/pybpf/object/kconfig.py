"""Values for ``__kconfig`` externs and addresses for typeless ``__ksym`` ones."""

from __future__ import annotations

import os

from .. import errors

_TRISTATE = {"n": 0, "y": 1, "m": 2}


def kernel_version_code(release: str | None = None) -> int:
    """KERNEL_VERSION(a, b, c) of the running kernel (c capped at 255, as the kernel does):
    the leading "a.b[.c]" of the release, as libbpf reads it (no regex: one of them costs a
    cold load more than this whole function)."""
    rel = release or os.uname().release
    a, dot, rest = rel.partition(".")
    b = _digits(rest)
    if not (dot and a.isascii() and a.isdigit() and b):
        return 0
    rest = rest[len(b):]
    c = _digits(rest[1:]) if rest.startswith(".") else ""
    return (int(a) << 16) + (int(b) << 8) + min(int(c or 0), 255)


def _digits(text: str) -> str:
    """The leading ASCII digits of ``text``."""
    n = 0
    while n < len(text) and "0" <= text[n] <= "9":
        n += 1
    return text[:n]


def kernel_config_text() -> str:
    """The running kernel's config as text: /proc/config.gz, else /boot/config-<release>
    ("" when neither is readable)."""
    release = os.uname().release
    for path in ("/proc/config.gz", f"/boot/config-{release}"):
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError:
            continue
        if path.endswith(".gz"):
            import zlib                         # a gzip stream; the gzip module costs more
            try:
                raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
            except zlib.error:
                continue
        return raw.decode(errors="replace")
    return ""


def kernel_config() -> dict[str, str]:
    """The running kernel's config: /proc/config.gz, else /boot/config-<release>."""
    out = {}
    for line in kernel_config_text().splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def config_value(text: str, name: str) -> str | None:
    """The value of option ``name`` in config ``text`` (its "NAME=value" line), or None."""
    if not name.startswith("CONFIG_") or "\n" in name or "=" in name:
        return None
    pos = 0 if text.startswith(name + "=") else text.find("\n" + name + "=")
    if pos < 0:
        return None
    start = text.index("=", pos) + 1
    end = text.find("\n", start)
    return (text[start:] if end < 0 else text[start:end]).rstrip("\r")


def _special(name: str) -> int | None:
    if name == "LINUX_KERNEL_VERSION":
        return kernel_version_code()
    if name == "LINUX_HAS_BPF_COOKIE":
        return 1
    if name == "LINUX_HAS_SYSCALL_WRAPPER":
        return _syscall_wrapper()
    return None


# machines whose kernels wrap syscalls (__x64_sys_bpf, __arm64_sys_bpf, ...)
_SYS_PREFIX = {"x86_64": "x64", "aarch64": "arm64", "s390x": "s390", "riscv64": "riscv"}


def _syscall_wrapper() -> int:
    """1 if a kprobe could hook a syscall wrapper (``__x64_sys_bpf``), as libbpf probes it
    (by creating that kprobe): BPF_KSYSCALL reads arguments through the wrapper's pt_regs
    only then.  Without kprobes libbpf's probe fails and it says 0; saying the same keeps
    programs identical.  The wrappers exist on these machines since 4.17-5.x, so the
    symbol is not looked up (reading kallsyms costs ~0.1 s)."""
    if os.uname().machine not in _SYS_PREFIX:
        return 0
    return 1 if os.path.exists("/sys/bus/event_source/devices/kprobe") or any(
        os.path.exists(r + "/kprobe_events")
        for r in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")) else 0


def fill(spec) -> None:
    """Write every kconfig extern's value into the ``.kconfig`` map's initial data."""
    m = spec.maps.get(".kconfig")
    if m is None:
        return
    config = None
    for ext in spec.externs.values():
        if ext.kind != "kconfig":
            continue
        value = _special(ext.name)
        if value is None:
            if config is None:
                config = kernel_config_text()   # searched per name, never split
            raw = config_value(config, ext.name)
            if raw is None:
                if not ext.name.startswith("CONFIG_"):
                    # as libbpf: only LINUX_* virtual externs may be weak and unknown
                    if ext.weak and ext.name.startswith("LINUX_"):
                        continue
                    raise errors.NotFoundError(2, "kconfig", f"extern {ext.name!r} is unknown "
                                               "(__kconfig names are CONFIG_* options and "
                                               "the LINUX_* values libbpf computes)")
                if not ext.weak and not config:
                    raise errors.NotFoundError(2, "kconfig", f"{ext.name}: no kernel config "
                                               "found (/proc/config.gz or /boot/config-*)")
                if not ext.weak:
                    # as libbpf: a strong extern must be set ("# ... is not set" is not);
                    # reading 0 would hide a typo or a kernel built without the option
                    raise errors.NotFoundError(2, "kconfig", f"extern {ext.name!r} (strong) "
                                               "is not set in this kernel's config; declare "
                                               "it __weak to read 0 (n) when unset")
                continue  # unset weak options read as 0 / n
            _write(m, ext, raw)
            continue
        m.data[ext.offset:ext.offset + ext.size] = value.to_bytes(ext.size, "little")


def _write(m, ext, raw: str) -> None:
    t = ext.kcfg_type
    if t == "char_array":
        s = raw.strip('"').encode()[: ext.size - 1]
        m.data[ext.offset:ext.offset + ext.size] = s.ljust(ext.size, b"\0")
        return
    if t in ("bool", "tristate"):
        v = _TRISTATE.get(raw, 0)
        if t == "bool" and v == 2:
            raise errors.NotSupportedError(ext.name, "is a module (m); declare it as tristate")
    elif t == "char":
        v = _TRISTATE.get(raw)
        v = ord({0: "n", 1: "y", 2: "m"}[v]) if v is not None else ord(raw[:1] or "\0")
    else:
        try:
            v = int(raw.strip('"'), 0)
        except ValueError:
            raise errors.BTFError(f"kconfig {ext.name}={raw!r} is not an integer") from None
    m.data[ext.offset:ext.offset + ext.size] = (v & ((1 << (8 * ext.size)) - 1)).to_bytes(
        ext.size, "little")


def kallsyms_address(name: str) -> int | None:
    """Address of a kernel symbol from /proc/kallsyms (root sees real addresses)."""
    return kallsyms_addresses([name]).get(name)


def kallsyms_addresses(names, path: str = "/proc/kallsyms") -> dict[str, int]:
    """Addresses of ``names`` (the first line naming each), from one read of kallsyms.

    Generating the file costs the kernel ~40 ms, so an object's typeless ksyms are looked
    up together, as libbpf does; the lines are searched as bytes, not split one by one."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return {}
    return parse_kallsyms(data, names)


def parse_kallsyms(data: bytes, names) -> dict[str, int]:
    """``name -> address`` for each of ``names`` in kallsyms text ``data`` ("addr type
    name" lines, module symbols followed by a tab and "[module]")."""
    out = {}
    for name in names:
        raw = name.encode()
        if not raw or any(c in raw for c in b" \t\n"):
            continue
        # the name field is the only one preceded by a space and ended by \n or \t
        best = -1
        for end in (b"\n", b"\t"):
            pos = data.find(b" " + raw + end)
            if pos >= 0 and (best < 0 or pos < best):
                best = pos
        if best < 2 or data[best - 2:best - 1] != b" ":
            continue
        start = data.rfind(b"\n", 0, best) + 1
        try:
            out[name] = int(data[start:best - 2], 16)
        except ValueError:
            continue
    return out
