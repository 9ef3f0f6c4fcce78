"""``python -m pybpf``: the same as the ``pybpf`` command."""

import sys

from .cli import main

sys.exit(main())
