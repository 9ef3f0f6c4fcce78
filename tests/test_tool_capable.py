"""pybpf capable: a child that gives up root and then asks for a capability it lost."""

from __future__ import annotations

import os

import pytest

from tests.toolrun import ToolRun, run_tool
from tests.vm import hook_absent
from tests.workload import Child

pytestmark = pytest.mark.kernel

# setuid(65534) needs CAP_SETUID (7, allowed as root); then a negative nice needs
# CAP_SYS_NICE (23), denied to nobody
DROP = ("import os\nos.setuid(65534)\ntry:\n os.nice(-1)\nexcept PermissionError: pass\n")


def _checks(hook: str):
    c = Child(DROP)
    # the kernel-matrix guest compiles the tool for its kernel under emulation: minutes
    t = ToolRun("capable", "--hook", hook, "-p", str(c.pid), "-x", ready="VERDICT",
                timeout=900 if os.environ.get("PYBPF_IN_VM") == "1" else 60)
    c.go()
    lines = t.stop()
    return [ln.split() for ln in lines[1:]], c.pid


@pytest.mark.every_kernel       # before 6.14 one error line (5.10 once said a CO-RE error)
def test_capable_tracepoint_verdicts():
    from pybpf.tools.capable import have_tracepoint
    if not have_tracepoint():                   # before 6.14: one clear line, no CO-RE error
        r = run_tool("capable", "--hook", "tracepoint")
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        assert "capability:cap_capable" in r.stderr and "6.14" in r.stderr
        hook_absent()
        return
    rows, pid = _checks("tracepoint")
    caps = [(r[5], r[6], r[8]) for r in rows if r[2] == str(pid)]
    assert ("7", "CAP_SETUID", "allow") in caps
    assert caps[-1] == ("23", "CAP_SYS_NICE", "deny"), caps
    (nice,) = [r for r in rows if r[6] == "CAP_SYS_NICE"]
    assert nice[1] == "65534" and nice[7] == "-"         # uid nobody; audit unknown here


@pytest.mark.needs_hook("kprobe")
def test_capable_kprobe_verdicts_and_audit():
    from pybpf.links import kprobe
    if not kprobe.available():
        r = run_tool("capable", "--hook", "kprobe")
        assert r.returncode == 1 and r.stderr.count("\n") == 1
        assert "kprobe on cap_capable" in r.stderr and "CONFIG_KPROBES" in r.stderr
        hook_absent()
        return
    rows, pid = _checks("kprobe")
    caps = [(r[5], r[6], r[8]) for r in rows if r[2] == str(pid)]
    assert ("7", "CAP_SETUID", "allow") in caps
    assert caps[-1] == ("23", "CAP_SYS_NICE", "deny"), caps
    (nice,) = [r for r in rows if r[6] == "CAP_SYS_NICE"]
    assert nice[1] == "65534" and nice[7] == "1"         # an audited check


def test_user_stacks_leave_the_tool_out():
    """-U: naming user frames reads /proc/PID/map_files (a CAP_CHECKPOINT_RESTORE check);
    the sweep saw capable -U trace those checks of its own, 14,000 in 2 s, until SIGINT
    could not stop it.  The tool's own checks are left out; the workload's show with a
    stack."""
    import subprocess
    import sys
    import time
    from pybpf.tools.capable import have_tracepoint
    if not have_tracepoint():
        pytest.skip("no capability:cap_capable tracepoint (the kprobe pair: the guest's)")
    t = ToolRun("capable", "-U", ready="VERDICT")
    for _ in range(3):
        subprocess.run([sys.executable, "-c", DROP], check=True)
    time.sleep(1.0)
    lines = t.stop(timeout=20)
    rows = [ln.split() for ln in lines[1:] if ln[:1].isdigit()]
    assert not [r for r in rows if r[2] == str(t.p.pid)]
    nice = [r for r in rows if r[4] == "23" and r[7] == "deny"]
    # (the tool's own checks would be thousands a second: none above.  A busy machine's
    # fork/exec loop makes thousands of others', rightly shown)
    assert len(nice) >= 3
