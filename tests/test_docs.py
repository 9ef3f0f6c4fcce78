"""The API reference builds from the docstrings (pdoc), and help(pybpf) lists the API."""

from __future__ import annotations

import pydoc


def test_api_reference_builds(tmp_path):
    # pdoc is a test extra (pyproject): a missing one is an error here, never a skip
    from pybpf import apidocs
    mods = apidocs.build(str(tmp_path))
    for mod in mods:
        page = tmp_path / (mod.replace(".", "/") + ".html")
        assert page.exists(), page
    methods = (tmp_path / "pybpf/links/methods.html").read_text()
    for name in ("attach_usdt", "attach_tc", "attach_perf_event", "attach_iter"):
        assert name in methods
    loader = (tmp_path / "pybpf/object/loader.html").read_text()
    assert "typed_map" in loader and "skip_missing" in loader
    assert "header=" in (tmp_path / "pybpf/cdecl.html").read_text()


def test_new_public_names_have_docstrings():
    from pybpf import cdecl, log, typedvalue
    from pybpf.links import methods
    from pybpf.object import globalview
    for mod in (cdecl, log, typedvalue, methods, globalview):
        assert mod.__doc__
        for name in getattr(mod, "__all__", ()) or dir(mod):
            obj = getattr(mod, name)
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            assert getattr(obj, "__doc__", None), f"{mod.__name__}.{name}"
    for name in dir(methods.AttachMethods):
        if name.startswith("attach"):
            assert getattr(methods.AttachMethods, name).__doc__, name


def test_help_lists_the_public_api():
    import pybpf
    text = pydoc.render_doc(pybpf, renderer=pydoc.plaintext)
    for name in ("load", "ctype", "set_log", "attach_usdt", "typed_map", "compile", "bss"):
        assert name in text
    assert {"load", "ctype", "set_log", "Object"} <= set(dir(pybpf))
