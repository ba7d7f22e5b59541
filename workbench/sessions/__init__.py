"""Session preparation: `plan` (session files), `handout` (gathering notes, structure, graph and
runs), `figures`, `markdown`, `html`, `output` (md / html / pdf / slides files). Layer 6.
"""

from __future__ import annotations

from workbench.sessions.handout import HandoutError, handout_for, missing_lines
from workbench.sessions.output import FORMATS, default_name, downloads, export
from workbench.sessions.plan import (
    find_papers,
    form_session,
    list_sessions,
    load_session,
    save_session,
    suggest_slug,
)

__all__ = [
    "FORMATS",
    "HandoutError",
    "default_name",
    "downloads",
    "export",
    "find_papers",
    "form_session",
    "handout_for",
    "list_sessions",
    "load_session",
    "missing_lines",
    "save_session",
    "suggest_slug",
]
