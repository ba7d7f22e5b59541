"""Claims: what a paper reports, and what its miniature must show, as checkable predicates.

A claim's predicate reads the run's metrics, `{variant: {metric: value}}`. Its verdict is one of
four strings the CLI prints and the app shows:

| verdict | when |
|---|---|
| `reproduced in miniature` | the predicate holds |
| `not reproduced` | it does not, and the miniature was expected to show it (`check` fails) |
| `not reproduced in miniature` | it does not, and we said beforehand the miniature cannot show it |
| `not applicable` | no predicate (a paper-scale number), or a preset the claim is not about |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REPRODUCED = "reproduced in miniature"
NOT_REPRODUCED = "not reproduced"
NOT_REPRODUCED_IN_MINIATURE = "not reproduced in miniature"
NOT_APPLICABLE = "not applicable"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_REPRODUCED_IN_MINIATURE, NOT_APPLICABLE)

Metrics = dict[str, dict[str, float]]  # {variant: {metric: value}}


@dataclass(frozen=True)
class Claim:
    """One claim. `paper` quotes the paper's figure; `source` says where (`"Table 6"`)."""

    id: str
    text: str  # the claim in one sentence
    paper: str  # the paper's value as quoted, e.g. "plain-56 training error > plain-20"
    source: str  # table / figure / section, e.g. "Fig. 6 (left)"
    predicate: Callable[[Metrics], bool] | None = None  # None: a paper-scale number only
    measured: Callable[[Metrics], str] | None = None  # the miniature's figures, for the report
    expected: bool = True  # False: we expect the miniature *not* to show it (say why in text)
    presets: tuple[str, ...] = field(default=("mini",))


def verdict(claim: Claim, preset: str, metrics: Metrics) -> dict[str, Any]:
    """`{id, text, paper, source, expected, verdict, measured}` for one claim of one run."""
    row: dict[str, Any] = {
        "id": claim.id,
        "text": claim.text,
        "paper": claim.paper,
        "source": claim.source,
        "expected": claim.expected,
        "measured": "",
    }
    if claim.predicate is None or preset not in claim.presets:
        return {**row, "verdict": NOT_APPLICABLE}
    try:
        holds = bool(claim.predicate(metrics))
        row["measured"] = claim.measured(metrics) if claim.measured else ""
    except KeyError as err:  # a variant or metric this run did not produce (e.g. --set)
        return {**row, "verdict": NOT_APPLICABLE, "measured": f"missing {err}"}
    if holds:
        return {**row, "verdict": REPRODUCED}
    return {**row, "verdict": NOT_REPRODUCED if claim.expected else NOT_REPRODUCED_IN_MINIATURE}


def verdicts(claims: list[Claim], preset: str, metrics: Metrics) -> list[dict[str, Any]]:
    return [verdict(c, preset, metrics) for c in claims]


def failed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that make `check` fail: a claim expected to hold that did not."""
    return [r for r in rows if r["verdict"] == NOT_REPRODUCED]
