"""A wheel carries the tools' compiled objects: installed from it, `pybpf execsnoop` runs
on a host without a compiler (issue 6)."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import zipfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> str:
    import shutil
    out = tmp_path_factory.mktemp("wheel")
    # build from a copy: an in-tree build leaves build/ and egg-info in the checkout.  Its
    # BPF sources and headers link back to the checkout: the build compiles them at their
    # real paths, as the suite's other tests did, and the compile cache serves them
    tree = out / "tree"

    def copy(src, dst):
        if src.endswith((".bpf.c", ".h")):
            os.symlink(src, dst)
        else:
            shutil.copy2(src, dst)
    shutil.copytree(os.path.join(REPO, "src"), tree / "src", copy_function=copy,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(os.path.join(REPO, "bin"), tree / "bin")
    for f in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(os.path.join(REPO, f), tree / f)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation",
                        "--no-deps", "-q", "-w", str(out), str(tree)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = glob.glob(str(out / "pybpf-*.whl"))
    return whl


def test_wheel_ships_compiled_tool_objects(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "pybpf/tools/execsnoop/execsnoop.bpf.o" in names
    from pybpf import tools
    for tool in tools.names():       # every tool, and the headers they share
        assert f"pybpf/tools/{tool}/{tool}.bpf.o" in names, tool
    assert "pybpf/tools/_common.bpf.h" in names
    assert "pybpf/bcc/include/pybpf_bcc.h" in names
    # the command is a plain script (the generated wrapper's `import re` costs every start)
    (script,) = [n for n in names if n.endswith(".data/scripts/pybpf")]
    text = zipfile.ZipFile(wheel).read(script).decode()
    assert text.startswith("#!python") and "import re" not in text
    # the start-up bundle: every module's byte code, for this package's stamp
    from pybpf import startbundle
    z = zipfile.ZipFile(wheel)
    stamp = z.read("pybpf/_codestamp").decode().strip()
    data = z.read(f"pybpf/{startbundle.BUILT_NAME}")
    index = startbundle.parse(data[:startbundle.INDEX_MAX], stamp, std=False, total=len(data))
    assert index is not None and "pybpf.object.loader" in index
    assert "pybpf.tools.opensnoop" in index and "pybpf.__main__" not in index
    # the exporter's examples: configs, sources and objects compiled at build time
    for name in ("exec", "syscalls", "biolatency", "tcp", "runqlat", "oomkill"):
        for ext in (".yaml", ".bpf.c", ".bpf.o"):
            assert f"pybpf/exporter/examples/{name}{ext}" in names


@pytest.mark.kernel
def test_execsnoop_from_the_wheel_needs_no_compiler(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    zipfile.ZipFile(wheel).extractall(site)          # what pip install would lay down
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYBPF_CLANG": "/nonexistent/clang",
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
    p = subprocess.Popen([str(venv / "bin" / "python"), "-m", "pybpf.cli", "execsnoop"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=str(tmp_path))
    try:
        header = p.stdout.readline()
        assert header.split()[:5] == ["PCOMM", "PID", "PPID", "RET", "ARGS"], \
            p.stderr.read() if p.poll() is not None else header
        marker = f"pt-wheel-{os.getpid()}"
        subprocess.run(["/bin/true", marker])
        for _ in range(50):
            line = p.stdout.readline()
            if marker in line:
                break
        else:
            pytest.fail("the exec was not seen")
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=20)
    # PYBPF_CLANG names no compiler: had the tool tried to compile, it would have failed
    assert p.returncode == 0, err
    assert "clang" not in err
