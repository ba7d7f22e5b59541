"""Identifiers and titles in the one normal form every part compares them in: a title's
lowercase ASCII words (sources, PDF references, graph edges and intake all match
papers by it)."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")


def normalise_title(title: str) -> str:
    """Lowercase ASCII words only: 'Batch Normalization: Accelerating...' -> 'batch normalization accelerating ...'."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    return " ".join(_WORD.findall(text))
