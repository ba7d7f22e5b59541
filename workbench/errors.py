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
