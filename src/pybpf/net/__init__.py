"""Network control: ``pybpf firewall``, an XDP/tc firewall with per-source rate limits
(firewall.bpf.c), its rules (rules.py) and control plane (firewall.py)."""
