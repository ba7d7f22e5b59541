"""The `workbench` command: `commands` (the parser and small subcommands), `graph` (`workbench
graph`), `repro` (`workbench repro`), `args` (workspace, reader and `--out` from the arguments).
Layer 8, the top: it may import every other package's public names.
"""

from __future__ import annotations

from workbench.cli.commands import main

__all__ = [
    "main",
]
