"""What the `workbench` subcommands read from their parsed arguments: the workspace, the reader.

Shared by `cli.py`, `cli_graph.py` and `cli_repro.py`; kept apart so that those import this
module rather than each other.
"""

from __future__ import annotations

from workbench.workspace import Workspace


def workspace_from(args) -> Workspace:
    """The workspace named by `--workspace`, else the default one (see `Workspace.resolve`)."""
    return Workspace.resolve(getattr(args, "workspace", None))


def reader_from(args) -> str:
    """The reader named by `--reader` (checked to be a slug), else the default reader."""
    from workbench.notes import default_reader
    from workbench.workspace import validate_slug

    return validate_slug(args.reader, "reader") if args.reader else default_reader()
