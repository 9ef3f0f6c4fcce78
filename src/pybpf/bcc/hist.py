"""bcc's text histograms: ``print_log2_hist`` and ``print_linear_hist`` output formats.

The layout (column widths, the 40-star bar, the wide form past bucket 32, "+" for a value
above the scale) matches bcc so scripts and their readers see the same text.
"""

from __future__ import annotations

import ctypes

STARS_MAX = 40
LOG2_INDEX_MAX = 65
LINEAR_INDEX_MAX = 1025


def stars(val: int, val_max: int, width: int) -> str:
    """A bar of up to ``width`` stars proportional to ``val``/``val_max``."""
    if val_max <= 0:
        return ""
    n = 0
    while n <= width - 1 and n <= width * val / val_max - 1:
        n += 1
    bar = "*" * n
    if val > val_max:
        bar = bar[:-1] + "+"
    return bar


def _extent(vals) -> tuple[int, int]:
    idx_max, val_max = -1, 0
    for i, v in enumerate(vals):
        if v > 0:
            idx_max = i
        if v > val_max:
            val_max = v
    return idx_max, val_max


def log2_lines(vals, val_type: str = "value", strip_leading_zero=None) -> list[str]:
    """Lines of a power-of-two histogram; ``vals[i]`` counts values with bpf_log2l() == i."""
    idx_max, val_max = _extent(vals)
    if idx_max <= 32:
        header, width = "     %-19s : count     distribution", STARS_MAX
        body = "%10d -> %-10d : %-8d |%-*s|"
    else:
        header, width = "               %-29s : count     distribution", STARS_MAX // 2
        body = "%20d -> %-20d : %-8d |%-*s|"
    out = []
    if idx_max > 0:
        out.append(header % val_type)
    for i in range(1, idx_max + 1):
        low, high = (1 << i) >> 1, (1 << i) - 1
        if low == high:
            low -= 1
        v = vals[i]
        if strip_leading_zero and not v:
            continue
        strip_leading_zero = False
        out.append(body % (low, high, v, width, stars(v, val_max, width)))
    return out


def linear_lines(vals, val_type: str = "value", strip_leading_zero=None) -> list[str]:
    """Lines of a linear histogram; ``vals[i]`` counts bucket ``i``."""
    idx_max, val_max = _extent(vals)
    out = []
    if idx_max >= 0:
        out.append("     %-13s : count     distribution" % val_type)
    for i in range(0, idx_max + 1):
        v = vals[i]
        if strip_leading_zero and not v:
            continue
        strip_leading_zero = False
        out.append("        %-10d : %-8d |%-*s|" % (i, v, STARS_MAX, stars(v, val_max,
                                                                          STARS_MAX)))
    return out


def _number(v) -> int:
    if isinstance(v, (list, tuple, ctypes.Array)):
        return sum(_number(x) for x in v)
    try:
        return int(v.value)
    except AttributeError:
        return int(v)


def _key_fields(key_cls) -> list[str]:
    return [f[0] for f in getattr(key_cls, "_fields_", []) if not f[0].startswith("__pad")]


def json_hist(vals, val_type: str, section=None, now: str | None = None) -> dict:
    """bcc's print_json_hist record: log2 intervals up to the last non-zero slot."""
    import time
    last = max((i for i, v in enumerate(vals) if v), default=0)
    data, prev = [], 0
    for i in range(1, last + 1):
        end = 1 << i
        data.append({"interval-start": prev, "interval-end": end - 1, "count": int(vals[i])})
        prev = end
    h = {"ts": now or time.strftime("%Y-%m-%d %H:%M:%S"), "val_type": val_type, "data": data}
    if section:
        h[section[0]] = section[1]
    return h


def _sections(table, size: int, bucket_fn, bucket_sort_fn) -> tuple[list, dict]:
    fields = _key_fields(table.Key)
    sections: dict = {}
    for k, v in table.items():
        bucket = getattr(k, fields[0])
        if bucket_fn:
            bucket = bucket_fn(bucket)
        vals = sections.setdefault(bucket, [0] * size)
        slot = getattr(k, fields[1])
        if 0 <= slot < size:
            vals[slot] += _number(v)
    buckets = list(sections)
    if bucket_sort_fn:
        buckets = bucket_sort_fn(buckets)
    return buckets, sections


def print_json(table, *, val_type: str, section_header: str, section_print_fn, bucket_fn,
               bucket_sort_fn, file=None) -> None:
    """bcc prints each histogram as a Python dict (its repr, not JSON text)."""
    if len(_key_fields(table.Key)) >= 2:
        buckets, sections = _sections(table, LOG2_INDEX_MAX, bucket_fn, bucket_sort_fn)
        for b in buckets:
            shown = section_print_fn(b) if section_print_fn else b
            print(json_hist(sections[b], val_type, (section_header, shown)), file=file)
        return
    vals = [0] * LOG2_INDEX_MAX
    for k, v in table.items():
        idx = _number(k)
        if 0 <= idx < LOG2_INDEX_MAX:
            vals[idx] = _number(v)
    print(json_hist(vals, val_type), file=file)


def print_table(table, *, linear: bool, val_type: str, section_header: str,
                section_print_fn, bucket_fn, strip_leading_zero, bucket_sort_fn,
                file=None) -> None:
    """Print ``table`` as bcc's print_log2_hist/print_linear_hist do: a struct key's first
    field names the section (one histogram each) and its next field is the slot."""
    size = LINEAR_INDEX_MAX if linear else LOG2_INDEX_MAX
    lines_of = linear_lines if linear else log2_lines
    fields = _key_fields(table.Key)
    out: list[str] = []
    if len(fields) >= 2:
        buckets, sections = _sections(table, size, bucket_fn, bucket_sort_fn)
        for bucket in buckets:
            shown = section_print_fn(bucket) if section_print_fn else repr(bucket)
            out.append("")
            out.append(f"{section_header} = {shown}" if section_print_fn else
                       "%s = %r" % (section_header, bucket))
            out += lines_of(sections[bucket], val_type, strip_leading_zero)
    else:
        vals = [0] * size
        for k, v in table.items():
            idx = _number(k)
            if 0 <= idx < size:
                vals[idx] += _number(v)
        out += lines_of(vals, val_type, strip_leading_zero)
    if out:
        print("\n".join(out), file=file)
