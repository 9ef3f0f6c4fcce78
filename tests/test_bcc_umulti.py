"""The bcc front's attach_uprobe(sym_re=...): many symbols in one uprobe_multi link where
the kernel has it, one perf event each otherwise (PYBPF_NO_UPROBE_MULTI=1); the same
counts, probe counts and detach of one symbol either way."""

from __future__ import annotations

import subprocess

import pytest

from pybpf import errors

pytestmark = pytest.mark.kernel
ROUNDS = 3
TEXT = r"""
BPF_HASH(counts, u64, u64);
int count(struct pt_regs *ctx) { counts.increment(PT_REGS_IP(ctx)); return 0; }
"""


@pytest.fixture(scope="module")
def many() -> str:
    from tests.cbuild import build
    return build("tool_many")       # many_fK() called K+1 times a round


@pytest.fixture(params=["multi", "per-probe"])
def mode(request, monkeypatch):
    monkeypatch.setenv("PYBPF_NO_UPROBE_MULTI", "1" if request.param == "per-probe" else "0")
    return request.param


def _run(path: str) -> None:
    subprocess.run([path, str(ROUNDS)], input=b"go\n", stdout=subprocess.DEVNULL, check=True)


def test_sym_re_counts_detach_one_and_cleanup(many, mode):
    from pybpf.bcc.bpf import BPF
    from pybpf.links import uprobe_multi
    with BPF(text=TEXT) as b:
        b.attach_uprobe(name=many, sym_re=r"many_f\d+$", fn_name="count")
        assert b.num_open_uprobes() == 16
        kinds = {ln.kind for links in b._links.values() for ln in links}
        assert kinds == ({"uprobe_multi"} if mode == "multi" and uprobe_multi.available()
                         else {"uprobe"})
        _run(many)
        counts = sorted(v.value for v in b["counts"].values())
        assert counts == [ROUNDS * (k + 1) for k in range(16)]
        b.detach_uprobe(name=many, sym="many_f15")
        assert b.num_open_uprobes() == 15
        b["counts"].clear()
        _run(many)
        counts = sorted(v.value for v in b["counts"].values())
        assert counts == [ROUNDS * (k + 1) for k in range(15)]
        with pytest.raises(errors.NotFoundError):
            b.detach_uprobe(name=many, sym="many_f15")
    assert b.num_open_uprobes() == 0
