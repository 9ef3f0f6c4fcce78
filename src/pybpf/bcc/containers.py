"""``bcc.containers``: the ``--cgroupmap``/``--mntnsmap`` filters of bcc's tools.

``filter_by_containers(args)`` returns C defining ``container_should_be_filtered()``:
true when the current task's cgroup id (or mount namespace inode) is not a key of the
hash map pinned at the given bpffs path.  Without either option it is always false.
"""

from __future__ import annotations


def _cgroup_filter(path) -> str:
    if not path:
        return "static inline int _cgroup_filter() { return 0; }\n"
    return (f'BPF_TABLE_PINNED("hash", u64, u64, cgroupset, 1024, "{path}");\n'
            "static inline int _cgroup_filter() {\n"
            "    u64 cgroupid = bpf_get_current_cgroup_id();\n"
            "    return cgroupset.lookup(&cgroupid) == NULL;\n}\n")


def _mntns_filter(path) -> str:
    if not path:
        return "static inline int _mntns_filter() { return 0; }\n"
    # the tools guard their own copy of struct mnt_namespace with this macro; pybpf's
    # vmlinux.h has the kernel's definition
    return ("#define MNT_NAMESPACE_DEFINED\n"
            f'BPF_TABLE_PINNED("hash", u64, u32, mount_ns_set, 1024, "{path}");\n'
            "static inline int _mntns_filter() {\n"
            "    struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n"
            "    struct nsproxy *nsproxy = 0;\n"
            "    struct mnt_namespace *mnt_ns = 0;\n"
            "    unsigned int inum = 0;\n"
            "    if (bpf_probe_read_kernel(&nsproxy, sizeof(nsproxy), &task->nsproxy))\n"
            "        return 0;\n"
            "    if (bpf_probe_read_kernel(&mnt_ns, sizeof(mnt_ns), &nsproxy->mnt_ns))\n"
            "        return 0;\n"
            "    if (bpf_probe_read_kernel(&inum, sizeof(inum), &mnt_ns->ns.inum))\n"
            "        return 0;\n"
            "    u64 ns_id = inum;\n"
            "    return mount_ns_set.lookup(&ns_id) == NULL;\n}\n")


def filter_by_containers(args) -> str:
    """C text for ``container_should_be_filtered()`` from ``args.cgroupmap`` and
    ``args.mntnsmap`` (argparse options holding bpffs paths, or None)."""
    return (_cgroup_filter(getattr(args, "cgroupmap", None)) +
            _mntns_filter(getattr(args, "mntnsmap", None)) +
            "static inline int container_should_be_filtered() {\n"
            "    return _cgroup_filter() || _mntns_filter();\n}\n")
