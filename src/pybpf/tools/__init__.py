"""Ready-made tools, each a small folder: ``<tool>.bpf.c``, a shared event header, a front."""

# name -> one-line description; the module pybpf.tools.<name> has main(argv).
TOOLS: dict[str, str] = {
    "execsnoop": "trace new processes via exec() syscalls (like bcc's execsnoop)",
}
