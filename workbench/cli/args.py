"""What the `workbench` subcommands read from their parsed arguments: the workspace, the reader,
an `--out` file (checked before any work, written at the end).

Shared by `commands`, `graph` and `repro`; kept apart so that those import this module rather
than each other.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.fileio import atomic_write_text
from workbench.workspace import Workspace


class OutPathError(WorkbenchError):
    """An `--out` that names a folder, or a file in a folder that does not exist."""


def workspace_from(args) -> Workspace:
    """The workspace named by `--workspace`, else the default one (see `Workspace.resolve`)."""
    return Workspace.resolve(getattr(args, "workspace", None))


def reader_from(args) -> str:
    """The reader named by `--reader` (checked to be a slug), else the default reader."""
    from workbench.notes import default_reader
    from workbench.workspace import validate_slug

    return validate_slug(args.reader, "reader") if args.reader else default_reader()


def check_out_path(path) -> Path:
    """`path` as a file to write, checked before any work: a folder is refused (the write
    would fail at the end with IsADirectoryError), and so is a missing parent folder (creating
    folders from a typo would leave the file where nobody looks for it)."""
    out = Path(path).expanduser()
    if out.is_dir():
        raise OutPathError(f"--out {path} is a folder; give a file name in it, e.g. "
                           f"{out / 'FILE'}")
    if str(path).endswith(("/", os.sep)):  # a folder that does not exist yet
        raise OutPathError(f"--out {path}: the folder does not exist; create it first "
                           f"(mkdir -p {out}) or give a file name")
    parent = out.parent
    if parent.exists() and not parent.is_dir():
        raise OutPathError(f"--out {path}: {parent} is a file, not a folder; write elsewhere")
    if not parent.is_dir():
        raise OutPathError(f"--out {path}: the folder {parent} does not exist; create it first "
                           f"(mkdir -p {parent}) or write elsewhere")
    return out


def write_out(out: Path | None, text: str, what: str = "") -> None:
    """`text` atomically into `out` (checked by `check_out_path`), else to stdout; a write that
    fails is one line."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        atomic_write_text(out, text)
    except OSError as exc:
        raise WorkbenchError(f"cannot write {out}: {exc.strerror}") from None
    print(f"wrote {out}{what}")
