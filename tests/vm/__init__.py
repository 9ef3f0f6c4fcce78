"""The kernel matrix: hook tests also run in a VM on a second kernel (see plugin.py).

Tests marked ``needs_hook`` call :func:`hook_absent` on the branch where the kernel lacks
the hook (there they assert pybpf's NotSupportedError), so the run can tell a hook that
fired on some kernel from one that fired nowhere.
"""

from __future__ import annotations

import os

ABSENT: set[str] = set()     # node ids that met an absent hook in this process


def hook_absent() -> None:
    """Record that the running test found its hook missing on this kernel."""
    node = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    if not node:
        return
    ABSENT.add(node)
    log = os.environ.get("PYBPF_HOOK_LOG")
    if log:
        with open(log, "a") as f:
            f.write(node + "\n")
