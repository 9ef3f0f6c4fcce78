"""bcc's --ebpf on every tool: the BPF C the command line would load, with the constants
its options set, printed without loading anything or asking for privileges (root-free)."""

from __future__ import annotations

import os
import re

import pytest

from pybpf import tools
from pybpf.cli import main

# the tools that need a probe argument, given one whose text needs no kernel
ARGS = {
    "argdist": ["-C", "p:c:malloc(size_t size):size_t:size"],
    "funccount": ["c:malloc"],
    "funclatency": ["c:malloc"],
    "stackcount": ["c:malloc"],
    "trace": ['p:c:malloc "%d", arg1'],
}


@pytest.fixture
def no_kernel(monkeypatch):
    """Any privilege check or load fails the test: --ebpf must do neither."""
    import pybpf
    from pybpf import caps

    def refuse(*a, **k):
        raise AssertionError("--ebpf asked for privileges or loaded something")
    monkeypatch.setattr(caps, "require_bpf", refuse)
    monkeypatch.setattr(pybpf, "load", refuse)


def _first_sec_line(tool: str) -> str:
    """The source's first line with a section (a program's, else the license's)."""
    with open(os.path.join(tools.TOOLS_DIR, tool, f"{tool}.bpf.c")) as f:
        for line in f:
            if line.startswith("SEC(\"") or line.startswith("char LICENSE[]"):
                return line.rstrip("\n")
    raise AssertionError(f"{tool}.bpf.c has no SEC line")


def test_every_tool_prints_its_program(no_kernel, capsys):
    names = tools.names()
    assert len(names) >= 37
    for tool in names:
        assert main([tool, *ARGS.get(tool, []), "--ebpf"]) == 0, tool
        out, err = capsys.readouterr()
        assert out.startswith(f"/* pybpf {tool}: the BPF program"), (tool, out[:200], err)
        if tool in ("trace", "argdist"):
            # generated C: one program per specifier
            assert re.search(r"^int probe0\(", out, re.M), (tool, out)
        else:
            assert _first_sec_line(tool) in out.splitlines(), tool
        # the local headers are inlined, so the text holds the whole program
        assert '#include "' not in out.replace('#include "vmlinux.h"', ""), tool


def test_the_options_constants_head_the_program(no_kernel, capsys):
    assert main(["killsnoop", "-p", "4242", "-s", "9", "-x", "--ebpf"]) == 0
    out = capsys.readouterr().out.splitlines()
    head = out[:out.index(" */") + 1]
    assert " *   targ_tgid = 4242" in head
    assert " *   targ_sig = 9" in head
    assert " *   failed_only = true" in head
    assert "const volatile int targ_sig = 0;" in out


def test_memleak_kernel_knobs(no_kernel, capsys):
    """--wa-missing-free and --combined-only are constants of the kernel-mode program;
    --percpu selects the per-CPU tracepoints' programs."""
    assert main(["memleak", "--wa-missing-free", "--combined-only", "--percpu", "--ebpf"]) == 0
    out = capsys.readouterr().out
    assert " *   wa_missing_free = true" in out and " *   combined = true" in out
    assert " * Programs loaded: tp_percpu_alloc, tp_percpu_free" in out


def test_pinned_maps_are_named_not_opened(no_kernel, capsys):
    assert main(["execsnoop", "--cgroupmap", "/nonexistent/map", "--ebpf"]) == 0
    out = capsys.readouterr().out
    assert " *   filter_cgroup = true" in out
    assert "Maps replaced by the user's pinned maps: cgroup_filter" in out


def test_ebpf_is_hidden_from_help(capsys):
    with pytest.raises(SystemExit):
        main(["killsnoop", "-h"])
    assert "--ebpf" not in capsys.readouterr().out
