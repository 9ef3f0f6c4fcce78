"""One file:line lookup in libc's debug file (libc6-dbg), as `pybpf profile --lines` or a
Symbolizer(lines=True) does for a libc frame: the holding unit's own line program (now)
against decoding every unit's line program first (before), in the same run."""

import sys
import time

from pybpf.syms.dwarf import DebugInfo, _at
from pybpf.syms.elfsyms import ElfSymbols, debug_file


def main() -> int:
    with open("/proc/self/maps") as f:
        libc = next(ln.split()[-1] for ln in f if "/libc.so" in ln)
    dbg = debug_file(ElfSymbols(libc))
    if dbg is None:
        print(f"no debug file for {libc} (libc6-dbg)", file=sys.stderr)
        return 1
    addr = ElfSymbols(dbg).address("__libc_read") or ElfSymbols(libc).address("read")
    with DebugInfo(dbg) as d:
        t = time.perf_counter()
        one = d.line(addr + 4)
        t_one = time.perf_counter() - t
        t = time.perf_counter()
        d._lines()
        whole = _at(d._rows, d._starts, addr + 4)
        t_whole = time.perf_counter() - t
    assert one == whole, (one, whole)
    print(f"{dbg}: read+4 at {one[0]}:{one[1]}: the unit's table {t_one * 1000:.1f} ms, "
          f"every unit's {t_whole * 1000:.0f} ms ({t_whole / t_one:.0f}x)")
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
