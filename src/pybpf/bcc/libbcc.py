"""``from bcc import lib``: the libbcc calls bcc scripts make themselves, on pybpf.

bcc exposes its C library through ctypes, and a few scripts call it directly (sockmap.py:
``lib.bpf_table_fd(bpf.module, b"sock_hash")``).  pybpf has no C library: this object
offers the calls such scripts make, taking pybpf's BPF object where bcc takes its module
pointer (``bpf.module`` is the BPF object itself).  Any other name fails with one line
naming the call, instead of a ctypes error far from it.
"""

from __future__ import annotations

from .. import errors


def _s(v) -> str:
    return v.decode() if isinstance(v, (bytes, bytearray)) else str(v)


class LibBcc:
    """The supported calls; see docs/bcc.md."""

    SUPPORTED = ("bpf_table_fd", "bpf_table_id", "bpf_num_functions", "bpf_function_name",
                 "bpf_num_tables", "bpf_table_name", "bpf_function_start",
                 "bpf_function_size", "bpf_module_license", "bpf_close_perf_event_fd",
                 "bpf_attach_socket", "bpf_open_raw_sock")

    @staticmethod
    def bpf_table_fd(module, name) -> int:
        """The map descriptor of table ``name`` (-1 when there is none, as in libbcc)."""
        try:
            return module.get_table(_s(name)).map_fd
        except KeyError:
            return -1

    @staticmethod
    def bpf_table_id(module, name) -> int:
        tables = list(module)
        n = _s(name)
        return tables.index(n) if n in tables else -1

    @staticmethod
    def bpf_num_tables(module) -> int:
        return len(module)

    @staticmethod
    def bpf_table_name(module, i: int) -> bytes | None:
        tables = list(module)
        return tables[i].encode() if 0 <= i < len(tables) else None

    @staticmethod
    def bpf_num_functions(module) -> int:
        return len(module._entry["programs"])

    @staticmethod
    def bpf_function_name(module, i: int) -> bytes | None:
        names = list(module._entry["programs"])
        return names[i].encode() if 0 <= i < len(names) else None

    @staticmethod
    def bpf_function_start(module, name):
        raise errors.NotSupportedError("lib.bpf_function_start", "pybpf keeps no JIT "
                                       "image of a function: use BPF.load_func")

    bpf_function_size = bpf_function_start

    @staticmethod
    def bpf_module_license(module) -> bytes:
        return b"GPL"

    @staticmethod
    def bpf_close_perf_event_fd(fd: int) -> int:
        import os
        try:
            os.close(fd)
        except OSError:
            return -1
        return 0

    @staticmethod
    def bpf_open_raw_sock(name) -> int:
        """A raw packet socket on device ``name``; the caller owns the descriptor."""
        from .netattach import open_raw_socket
        return open_raw_socket(_s(name)).detach()

    @staticmethod
    def bpf_attach_socket(sock: int, prog_fd: int) -> int:
        import socket
        import struct
        from ..links.socket import SO_ATTACH_BPF
        s = socket.socket(fileno=sock)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, struct.pack("i", prog_fd))
        except OSError as e:
            return -e.errno
        finally:
            s.detach()
        return 0

    def __getattr__(self, name: str):
        raise errors.NotSupportedError(
            f"lib.{name}", "pybpf's bcc `lib` offers only "
            + ", ".join(self.SUPPORTED) + " (there is no libbcc underneath)")


lib = LibBcc()
