"""Minimal, readable reproductions: one module per paper, one registry.

`REPRODUCTIONS` maps a name to its module; from a name to `nn.Module.__init__` is one hop.
`python -m reproductions run NAME --preset mini --out DIR` runs one (see `reproductions.cli`).
"""

from __future__ import annotations

from types import ModuleType

REPRODUCTIONS: dict[str, ModuleType] = {}


def get(name: str) -> ModuleType:
    try:
        return REPRODUCTIONS[name]
    except KeyError:
        known = ", ".join(sorted(REPRODUCTIONS)) or "none"
        raise KeyError(f"unknown reproduction '{name}'; available: {known}") from None
