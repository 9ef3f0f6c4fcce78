"""A program's own name that a kernel typedef or enumerator already takes.

bcc compiles against the kernel's public headers; pybpf includes vmlinux.h, which also
carries the typedefs and enumerators of the kernel's private .c files (6.18's zlib has
``typedef struct config_s config;``).  A program that names a table or a global after one
(``BPF_HASH(config, ...)``, learning-ebpf's chapter 4) is valid C under bcc and a
"redefinition as different kind of symbol" here.  The kernel's name yields: the compile is
retried with it renamed by the preprocessor around the prelude (vmlinux.h's structs still
use it consistently), and the program's own declaration keeps the name Python asks for.
"""

from __future__ import annotations

import re

# clang: "bpf_text:3:10: error: redefinition of 'config' as different kind of symbol",
# then "<header>:90571:25: note: previous definition is here"
_CLASH = re.compile(r"^bpf_text:\d+:\d+: error: redefinition of '([A-Za-z_]\w*)' as "
                    r"different kind of symbol\n(?:.*\n){0,4}?(?!bpf_text:)[^\n:]+:\d+:\d+: "
                    r"note: previous definition is here", re.M)
_PRELUDE = "#include <pybpf_bcc.h>\n"


def shadowed(diagnostics: str) -> list[str]:
    """The names the program declares that a header (not the program) declared first."""
    return sorted(set(_CLASH.findall(diagnostics)))


def hide(source: str, names) -> str | None:
    """``source`` with the prelude's ``names`` renamed (``__pybpf_kernel_<name>``) while it
    is read; None when the source has no prelude include to wrap."""
    if _PRELUDE not in source or not names:
        return None
    before = "".join(f"#define {n} __pybpf_kernel_{n}\n" for n in names)
    after = "".join(f"#undef {n}\n" for n in names)
    return source.replace(_PRELUDE, before + _PRELUDE + after, 1)
