import os, subprocess, sys
import pytest
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

@pytest.mark.kernel
@pytest.mark.needs_hook("kprobe")
def test_tmp_upstream_examples():
    out = []
    for names in ("accept-latency,cachestat,cephfs-dist,cfs-throttling,ext4dist,icmp-ip,inet-frags,kstack,pci,shrinklat,tcp-retransmit,tcp-syn-backlog",
                  "tcp-syn-backlog-exp2zero,tcp-window-clamps,unix-accept-latency,unix-socket-backlog,xfsdist,bpf-jit,cachestat-pre-kernel-5.16,cgroup-rstat-flushing,llcstat,oomkill"):
        r = subprocess.run([sys.executable, "-m", "pybpf", "exporter", "--config.dir=/tmp/ebpfexp/examples",
                            f"--config.names={names}", "--once"], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=SRC), timeout=600)
        series = [l for l in r.stdout.splitlines() if l.startswith("pybpf_exporter_series{")]
        out.append(f"rc={r.returncode} ERR={r.stderr.strip()} SERIES={series}")
    pytest.fail(" ##### ".join(out))
