"""The bcc front end's build cache key: what a text includes from its own directories."""

from __future__ import annotations

import os

from pybpf.bcc.buildcache import local_headers


def test_local_headers_follow_includes_through_each_other(tmp_path):
    (tmp_path / "a.h").write_text('#include "sub/b.h"\n#include <linux/sched.h>\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.h").write_text('#  include "c.h"\n')    # beside b.h
    (tmp_path / "sub" / "c.h").write_text("#define X 1\n")
    text = '#include "a.h"\nint x;\n'
    found = dict(local_headers(text, ["-I", str(tmp_path)]))
    assert sorted(found) == sorted(os.path.join(tmp_path, p)
                                   for p in ("a.h", "sub/b.h", "sub/c.h"))
    before = found[os.path.join(tmp_path, "sub", "c.h")]
    (tmp_path / "sub" / "c.h").write_text("#define X 22\n")
    after = dict(local_headers(text, [f"-I{tmp_path}"]))
    assert after[os.path.join(tmp_path, "sub", "c.h")] != before


def test_local_headers_without_include_dirs_or_includes():
    assert local_headers('#include "a.h"\n', ["-DX=1"]) == []
    assert local_headers("int x;\n", ["-I/tmp"]) == []


def test_local_headers_survive_cycles_and_missing_files(tmp_path):
    (tmp_path / "a.h").write_text('#include "b.h"\n#include "gone.h"\n')
    (tmp_path / "b.h").write_text('#include "a.h"\n')
    found = local_headers('#include "a.h"\n', [f"-I{tmp_path}"])
    assert [os.path.basename(p) for p, _ in found] == ["a.h", "b.h"]
