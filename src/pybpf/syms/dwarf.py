"""file:line and inlined frames from DWARF, with pyelftools; only used when asked for.

For an address, the line table gives the innermost source position; the compile unit's DIE
tree gives the chain of inlined subroutines around it (each ``DW_TAG_inlined_subroutine``
records where it was called from: DW_AT_call_file/call_line).  The result is a list of
frames, innermost first: for code inlined into ``f``, ``[(inlined g, g.c:10), (f, f.c:42)]``.
"""

from __future__ import annotations

import bisect
import os

from .. import errors


class Frame:
    """One source-level frame: function name, file and line (file/line may be None)."""

    __slots__ = ("name", "file", "line", "inlined")

    def __init__(self, name: str | None, file: str | None, line: int | None, inlined: bool):
        self.name, self.file, self.line, self.inlined = name, file, line, inlined

    def __repr__(self) -> str:
        where = f" {self.file}:{self.line}" if self.file else ""
        return f"<Frame {self.name}{where}{' inlined' if self.inlined else ''}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Frame) and (self.name, self.file, self.line, self.inlined) \
            == (other.name, other.file, other.line, other.inlined)


class DebugInfo:
    """The DWARF of one ELF file: a sorted line table and compile units by address."""

    def __init__(self, path: str):
        from elftools.common.exceptions import ELFError as PyElfError
        from elftools.elf.elffile import ELFFile
        self.path = path
        self._file = open(path, "rb")
        try:
            elf = ELFFile(self._file)
            # has_dwarf_info() is also true for .eh_frame alone (every stripped binary)
            if not (elf.get_section_by_name(".debug_info")
                    or elf.get_section_by_name(".zdebug_info")):
                raise errors.ELFError(f"{path}: no DWARF debug info")
            self.dwarf = elf.get_dwarf_info()
        except (PyElfError, ValueError, KeyError) as e:
            self._file.close()
            raise errors.ELFError(f"{path}: unreadable DWARF ({e})") from None
        except BaseException:
            self._file.close()
            raise
        self._rows: list[tuple[int, int, str, int]] | None = None  # (addr, end, file, line)
        self._starts: list[int] = []
        self._cu_rows: dict[int, tuple[list, list[int]]] = {}   # CU offset -> its table

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _table(self, cus) -> tuple[list, list[int]]:
        """The sorted line rows of ``cus`` and their start addresses."""
        rows = []
        for cu in cus:
            lp = self.dwarf.line_program_for_CU(cu)
            if lp is None:
                continue
            names = _file_names(lp, cu)
            prev = None
            for entry in lp.get_entries():
                st = entry.state
                if st is None:
                    continue
                if prev is not None and st.address > prev.address:
                    rows.append((prev.address, st.address, names.get(prev.file), prev.line))
                prev = None if st.end_sequence else st
        rows.sort()
        return rows, [r[0] for r in rows]

    def _lines(self) -> None:
        self._rows, self._starts = self._table(self.dwarf.iter_CUs())

    def line(self, vaddr: int) -> tuple[str | None, int | None]:
        """(file, line) of the instruction at ``vaddr`` (innermost: inlined code's own)."""
        # only the line program of the compile unit holding vaddr: decoding every unit's
        # (libc's debug file has ~2000) takes seconds in pure Python
        cu = self._cu_for(vaddr)
        if cu is not None:
            if cu.cu_offset not in self._cu_rows:
                self._cu_rows[cu.cu_offset] = self._table([cu])
            hit = _at(*self._cu_rows[cu.cu_offset], vaddr)
            if hit is not None:
                return hit
        if self._rows is None:
            self._lines()
        return _at(self._rows, self._starts, vaddr) or (None, None)

    def frames(self, vaddr: int) -> list[Frame]:
        """Source frames at ``vaddr``, innermost first; inlined ones marked."""
        file, line = self.line(vaddr)
        chain = self._scope_chain(vaddr)     # outermost subprogram first, then inlines
        if not chain:
            return [Frame(None, file, line, False)] if file else []
        out = []
        # the innermost scope is at the line table's position; each inlined scope's call
        # site is the position of the scope around it
        for depth in range(len(chain) - 1, -1, -1):
            die, cu_names = chain[depth]
            out.append(Frame(_die_name(die), file, line, depth > 0))
            if depth > 0:
                cf = die.attributes.get("DW_AT_call_file")
                cl = die.attributes.get("DW_AT_call_line")
                file = cu_names.get(cf.value) if cf is not None else None
                line = cl.value if cl is not None else None
        return out

    def _scope_chain(self, vaddr: int):
        cu = self._cu_for(vaddr)
        if cu is None:
            return []
        lp = self.dwarf.line_program_for_CU(cu)
        names = _file_names(lp, cu) if lp is not None else {}
        chain = []
        scope = cu.get_top_DIE()
        while True:
            nxt = None
            for child in scope.iter_children():
                if child.tag in ("DW_TAG_subprogram", "DW_TAG_inlined_subroutine",
                                 "DW_TAG_lexical_block") and self._contains(child, cu, vaddr):
                    nxt = child
                    break
            if nxt is None:
                return chain
            if nxt.tag != "DW_TAG_lexical_block":
                chain.append((nxt, names))
            scope = nxt

    def _cu_for(self, vaddr: int):
        try:
            ar = self.dwarf.get_aranges()
        except (KeyError, ValueError):
            ar = None
        if ar is not None:
            off = ar.cu_offset_at_addr(vaddr)
            if off is not None:
                return self.dwarf.get_CU_at(off)
        for cu in self.dwarf.iter_CUs():
            if self._contains(cu.get_top_DIE(), cu, vaddr):
                return cu
        return None

    def _contains(self, die, cu, vaddr: int) -> bool:
        at = die.attributes
        lo = at.get("DW_AT_low_pc")
        if lo is not None and "DW_AT_high_pc" in at:
            hi = at["DW_AT_high_pc"]
            end = hi.value if hi.form == "DW_FORM_addr" else lo.value + hi.value
            return lo.value <= vaddr < end
        if "DW_AT_ranges" in at:
            try:
                rl = self.dwarf.range_lists()
                if rl is None:
                    return False
                base = cu.get_top_DIE().attributes.get("DW_AT_low_pc")
                base = base.value if base is not None else 0
                for r in rl.get_range_list_at_offset(at["DW_AT_ranges"].value, cu=cu):
                    if hasattr(r, "begin_offset"):
                        b, e = r.begin_offset, r.end_offset
                        if not getattr(r, "is_absolute", False):
                            b, e = b + base, e + base
                        if b <= vaddr < e:
                            return True
                    elif hasattr(r, "base_address"):
                        base = r.base_address
            except (KeyError, ValueError, TypeError, AttributeError):
                return False
        return False


def _at(rows: list, starts: list[int], vaddr: int) -> tuple[str | None, int | None] | None:
    i = bisect.bisect_right(starts, vaddr) - 1
    if i >= 0 and vaddr < rows[i][1]:
        return rows[i][2], rows[i][3]
    return None


def _die_name(die) -> str | None:
    """A DIE's name, following abstract_origin/specification (inlined copies have none)."""
    for _ in range(4):
        at = die.attributes
        if "DW_AT_name" in at:
            v = at["DW_AT_name"].value
            return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        ref = at.get("DW_AT_abstract_origin") or at.get("DW_AT_specification")
        if ref is None:
            return None
        die = die.get_DIE_from_attribute(ref.name)
    return None


def _file_names(lp, cu) -> dict[int, str]:
    """File index -> path for a line program (DWARF 5 counts from 0, earlier from 1)."""
    out = {}
    header = lp.header
    entries = header.get("file_entry", [])
    dirs = header.get("include_directory", [])
    v5 = header.get("version", 4) >= 5
    top = cu.get_top_DIE().attributes
    comp_dir = top.get("DW_AT_comp_dir")
    comp_dir = comp_dir.value.decode("utf-8", "replace") if comp_dir is not None else ""
    for i, fe in enumerate(entries):
        name = fe.name.decode("utf-8", "replace") if isinstance(fe.name, bytes) else fe.name
        d = ""
        di = fe.dir_index
        if v5:
            if di < len(dirs):
                d = dirs[di].decode("utf-8", "replace")
        elif di > 0 and di - 1 < len(dirs):
            d = dirs[di - 1].decode("utf-8", "replace")
        elif di == 0:
            d = comp_dir
        if d and not os.path.isabs(d) and comp_dir:
            d = os.path.join(comp_dir, d)
        out[i if v5 else i + 1] = os.path.join(d, name) if d else name
    return out
