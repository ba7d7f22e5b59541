"""Where things live: the catalog, notes/, pdfs/, runs/, sessions/ and the .workbench/ cache.

Everything a user writes is a plain file under the workspace root. The root is, in order:
an explicit argument, `$WORKBENCH_WORKSPACE`, the current directory if it holds a papers.yaml,
else the checkout this package was installed from.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import InvalidId, WorkbenchError

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
# a reproduction is named as its module is (`depth_anything`): a slug that may also hold '_'
MODULE_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
MAX_SLUG_LEN = 80


class OutsideWorkspace(WorkbenchError):
    """A path that a symlink leads out of the workspace; nothing is read or written there."""


def validate_slug(value: object, what: str = "id", underscore: bool = False) -> str:
    """Return `value` if it is a safe slug (`[a-z0-9][a-z0-9-]*`, <= 80 chars; with
    `underscore`, '_' is allowed too, as in a module's name), else raise.

    Called before any id becomes part of a file name, so `../x`, `/etc/passwd`, NUL bytes and
    very long names never reach the file system.
    """
    if not isinstance(value, str):
        raise InvalidId(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > MAX_SLUG_LEN:
        raise InvalidId(f"{what} is {len(value)} characters long; the limit is {MAX_SLUG_LEN}")
    if not (MODULE_SLUG_RE if underscore else SLUG_RE).fullmatch(value):
        shown = value.encode("unicode_escape").decode("ascii")[:60]
        raise InvalidId(
            f"{what} {shown!r} is not a slug: use lowercase letters, digits and '-'"
            + (" or '_'" if underscore else "") + ", starting with a letter or digit"
        )
    return value


def slugify(text: str, max_len: int = 40) -> str:
    """A readable slug from free text: 'Deep Residual Learning' -> 'deep-residual-learning'."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    slug = slug[:max_len].rstrip("-")
    return slug or "paper"


def _default_root() -> Path:
    env = os.environ.get("WORKBENCH_WORKSPACE")
    if env:
        return Path(env).expanduser()
    cwd = Path.cwd()
    if (cwd / "papers.yaml").exists():
        return cwd
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "papers.yaml").exists():
        return checkout
    return cwd


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def resolve(cls, root: str | os.PathLike | None = None) -> Workspace:
        return cls(Path(root).expanduser().resolve() if root else _default_root().resolve())

    @property
    def catalog_path(self) -> Path:
        return self.root / "papers.yaml"

    @property
    def notes_dir(self) -> Path:
        return self.root / "notes"

    @property
    def pdfs_dir(self) -> Path:
        return self.root / "pdfs"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def sessions_dir(self) -> Path:
        return self.root / "sessions"

    @property
    def cache_dir(self) -> Path:
        """Rebuildable caches (API responses, extracted PDF structure). Safe to delete."""
        return self.root / ".workbench"

    @property
    def reader_file(self) -> Path:
        """The reader last picked in the app here (one slug): the app's default next time."""
        return self.cache_dir / "reader"

    def note_path(self, paper_id: str, reader: str) -> Path:
        """`notes/<paper>/<reader>.md`; refused (`OutsideWorkspace`) when a symlink on the way
        leads out of the workspace: a link committed to a shared notes repository must not make
        the app show or overwrite a file elsewhere on this machine."""
        validate_slug(paper_id, "paper id")
        validate_slug(reader, "reader")
        path = self.notes_dir / paper_id / f"{reader}.md"
        try:
            inside = path.resolve().is_relative_to(self.root.resolve())
        except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
            inside = False
        if not inside:
            raise OutsideWorkspace(f"notes/{paper_id}/{reader}.md leads outside the workspace "
                                   "(or in a loop) through a symlink; replace the link with a "
                                   "real folder or file")
        return path
