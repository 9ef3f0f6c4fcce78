"""pybpf security: `pybpf audit` (events, policies that alert, kill or deny) and
`pybpf sslsniff` (TLS plaintext through uprobes)."""
