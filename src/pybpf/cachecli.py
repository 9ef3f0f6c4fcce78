"""``pybpf cache {info,clear}``: where pybpf's private cache is, whether it is safe to use,
what it holds, and emptying it."""

from __future__ import annotations

import sys
import time


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _parser():
    from .tools._common import ArgumentParser
    p = ArgumentParser(prog="pybpf cache",
                       description="show or clear pybpf's private cache (compiled objects, "
                                   "vmlinux.h, BTF indexes, load plans)")
    sub = p.add_subparsers(dest="action", metavar="{info,clear}")
    sub.required = True
    sub.add_parser("info", help="where the cache is, whether it is safe, its size and limit")
    sub.add_parser("clear", help="remove every entry (the next starts rebuild them)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    from .cache import Cache
    cache = Cache.default()
    cache.check()               # an unsafe location is a CacheError: one line, exit 1
    if args.action == "clear":
        n, freed = cache.clear()
        print(f"removed {n} entries ({_size(freed)}) from {cache.root}")
        return 0
    entries = cache.entries()
    total = sum(size for _, size, _ in entries)
    print(f"directory: {cache.root}")
    print("safety:    ok (owned by you, mode 700, no parent another user can change)")
    print(f"entries:   {len(entries)}")
    print(f"size:      {_size(total)} of {_size(cache.max_bytes)} "
          "(PYBPF_CACHE_MAX; least recently used entries go beyond it)")
    if entries:
        oldest = min(used for _, _, used in entries)
        print(f"oldest:    last used {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(oldest))}")
    return 0
