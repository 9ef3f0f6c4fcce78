"""BTF-targeted programs: tp_btf firing; fentry/fexit/lsm NotSupportedError where the kernel
has no BPF trampolines, firing where it has them (the kernel-matrix VM)."""

from __future__ import annotations

import os
import time

import pytest

from tests.vm import hook_absent

from pybpf import errors
from pybpf._sys.uapi import AttachType, ProgType
from pybpf.features import Features
from pybpf.links import tracing
from tests.data.linkprogs import no_leaked_fds  # noqa: F401  (autouse)
from tests.data.linkprogs import (BTF_KIND_FUNC, BTF_KIND_TYPEDEF, ArrayMap, VmlinuxBTF,
                                  counter_prog)

pytestmark = pytest.mark.kernel
N = 40


@pytest.fixture(scope="module")
def vmlinux() -> VmlinuxBTF:
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        pytest.skip("no vmlinux BTF")
    return VmlinuxBTF()


def test_tp_btf_fires(vmlinux):
    btf_id = vmlinux.find(BTF_KIND_TYPEDEF, "btf_trace_sys_enter")
    with ArrayMap("pt_tpbtf_cnt") as m, counter_prog(
            ProgType.TRACING, m.fd.fileno(), "pt_tp_btf", tgid=os.getpid(),
            expected_attach_type=AttachType.TRACE_RAW_TP, attach_btf_id=btf_id) as prog:
        with tracing.attach(prog) as link:
            assert link.kind == "tp_btf"
            for _ in range(N):
                os.getpid()
            assert m.read() >= N
        seen = m.read()
        os.getpid()
        assert m.read() == seen


def _trampoline_case(vmlinux, m: ArrayMap, attach_type: int, func: str, name: str, kind: str):
    """Load+attach a counting program on ``func``: the link, or the NotSupportedError."""
    prog_type = ProgType.LSM if attach_type == AttachType.LSM_MAC else ProgType.TRACING
    try:
        prog = counter_prog(prog_type, m.fd.fileno(), name, tgid=os.getpid(),
                            expected_attach_type=attach_type,
                            attach_btf_id=vmlinux.find(BTF_KIND_FUNC, func))
    except errors.NotSupportedError as e:
        return None, None, e
    try:
        return prog, tracing.attach(prog), None
    except errors.NotSupportedError as e:
        prog.close()
        return None, None, e


@pytest.mark.needs_hook("fentry")
@pytest.mark.parametrize("attach_type,kind", [(AttachType.TRACE_FENTRY, "fentry"),
                                              (AttachType.TRACE_FEXIT, "fexit")])
def test_fentry_fexit(vmlinux, attach_type, kind):
    with ArrayMap("pt_fentry_cnt") as m:
        prog, link, err = _trampoline_case(vmlinux, m, attach_type, "bpf_fentry_test1",
                                           f"pt_{kind}", kind)
        if not Features().has_trampolines():
            assert err is not None and "fentry" in str(err), err
            hook_absent()
            return
        assert err is None, err
        with prog, link:
            assert link.kind == kind
            prog.test_run()          # a tracing test run calls bpf_fentry_test1..8
            assert m.read() == 1


@pytest.mark.needs_hook("lsm")
def test_lsm_file_open(vmlinux, tmp_path):
    with ArrayMap("pt_lsm_cnt") as m:
        prog, link, err = _trampoline_case(vmlinux, m, AttachType.LSM_MAC, "bpf_lsm_file_open",
                                           "pt_lsm", "lsm")
        if not Features().has_lsm():
            if err is None:          # loaded and attached although lsm is "off"
                link.close()
                prog.close()
                if not os.access(tracing.LSM_LIST, os.R_OK):
                    pytest.skip(f"{tracing.LSM_LIST} unreadable: cannot tell if bpf LSM is on")
                pytest.fail("lsm program attached although Features().has_lsm() is False")
            assert "lsm" in str(err).lower(), err
            hook_absent()
            return
        assert err is None, err
        with prog, link:
            assert link.kind == "lsm"
            p = tmp_path / "f"
            p.write_text("x")
            for _ in range(3):
                with open(p) as f:
                    f.read()
            assert m.read() >= 3


def test_iterator_program_is_refused(vmlinux):
    with ArrayMap("pt_tr_iter") as m, counter_prog(
            ProgType.TRACING, m.fd.fileno(), "pt_tr_iter",
            expected_attach_type=AttachType.TRACE_ITER,
            attach_btf_id=vmlinux.find(BTF_KIND_FUNC, "bpf_iter_task")) as prog:
        with pytest.raises(errors.PybpfError, match="iterator"):
            tracing.attach(prog)


def test_pinned_link_outlives_its_process_side_and_unpinning_detaches(vmlinux, bpffs):
    """A pinned link keeps the program attached after every fd of ours is closed; removing
    the pin detaches it."""
    from pybpf import bpffs as fs, info
    from pybpf.links.base import Link
    btf_id = vmlinux.find(BTF_KIND_TYPEDEF, "btf_trace_sys_enter")
    path = os.path.join(bpffs, "pt_pinned_link")
    with ArrayMap("pt_pinlink_cnt") as m:
        with counter_prog(ProgType.TRACING, m.fd.fileno(), "pt_pin_link", tgid=os.getpid(),
                          expected_attach_type=AttachType.TRACE_RAW_TP,
                          attach_btf_id=btf_id) as prog:
            with tracing.attach(prog) as link:
                link.pin(path)
                link_id = link.id
        # program and link objects closed here: the pin holds them
        before = m.read()
        for _ in range(N):
            os.getpid()
        assert m.read() >= before + N
        assert link_id in {ln.id for ln in info.list_objects("link")}
        with Link.from_pin(path) as again:
            assert again.id == link_id
        fs.unpin(path)
        # the kernel releases an unpinned link from a work item, a moment later: the
        # syscalls made meanwhile (reading the map is one) may still count
        for _ in range(200):
            seen = m.read()
            os.getpid()
            if m.read() == seen:
                break
            time.sleep(0.01)
        else:
            pytest.fail("the program still counts 2 s after its link was unpinned")
        assert link_id not in {ln.id for ln in info.list_objects("link")}
