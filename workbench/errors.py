"""Typed errors. Every message is one line a user can act on."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: `str(err)` is a one-line, actionable message for the CLI and the app."""


class InvalidId(WorkbenchError, ValueError):
    """An id (paper, reader, session, run) that is not a safe slug."""


class CatalogError(WorkbenchError):
    """papers.yaml has one or more problems; `problems` lists them all."""

    def __init__(self, problems):
        self.problems = list(problems)
        first = self.problems[0] if self.problems else "unknown problem"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{first}{more}")


class CatalogConflict(WorkbenchError):
    """papers.yaml changed while a command was writing it (an editor, another command); nothing
    was written."""


class WriteRefused(WorkbenchError):
    """A file the workbench was asked to write is not a regular file (a FIFO, a device, a
    folder), or its folder is read-only; nothing was written."""


def closest(word: object, options) -> str | None:
    """The option most like `word` (difflib's ratio >= 0.6), for a "did you mean" in a message."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return close[0] if close else None


def did_you_mean(word: object, options) -> str:
    """' (did you mean 'x'?)' when an option is close to `word`, else ''."""
    close = closest(word, options)
    return f" (did you mean '{close}'?)" if close else ""
