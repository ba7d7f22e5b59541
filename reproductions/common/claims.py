"""Claims: what a paper reports, and what its miniature must show, as comparisons made in one run.

A miniature claim compares the paper's method with what the paper argues against, in the same
run, on the same split: a *control* (another variant of the run: plain vs residual, tanh vs
ReLU, no position embedding) and, where the claim is about quality, *trivial baselines* (1-NN or
logistic regression on pixels, distance to the nearest normal image, colour alone, copying the
input). Its `margins` reads the run's metrics, `{variant or baseline: {metric: value}}`, and
returns `{what it is compared with: advantage}`, each advantage measured in the claim's
direction with the claim's threshold already taken off: the claim holds when every margin is
positive. A claim that quotes a paper-scale number has no `margins`; `needs` says which preset
and data would measure it.

| verdict | when |
|---|---|
| `reproduced in miniature` | every margin is positive |
| `not reproduced` | one is not, and the miniature was expected to show it (`check` fails) |
| `not reproduced in miniature` | one is not, and we said beforehand the miniature cannot show it |
| `not evaluated` | the run lacks a variant or metric the comparison needs (`check` fails) |
| `not applicable` | a paper-scale number, or a preset the claim is not about (`tiny`) |

A paper-scale claim may carry the paper's figures as `numbers` (`PaperNumber`: the metric, the
value, the test-time protocol, the presets that build that network). `python -m reproductions
evaluate` measures them from a checkpoint the user passes, and `number_verdicts` sets ours beside
the paper's: `reproduced at paper scale` when ours is no worse than the paper's by more than the
tolerance, `not reproduced at paper scale` otherwise, `not evaluated` when the evaluation used
another protocol than the paper's (ten-crop figures are not compared with a centre crop).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REPRODUCED = "reproduced in miniature"
NOT_REPRODUCED = "not reproduced"
NOT_REPRODUCED_IN_MINIATURE = "not reproduced in miniature"
NOT_EVALUATED = "not evaluated"
NOT_APPLICABLE = "not applicable"
REPRODUCED_AT_SCALE = "reproduced at paper scale"
NOT_REPRODUCED_AT_SCALE = "not reproduced at paper scale"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_REPRODUCED_IN_MINIATURE, NOT_EVALUATED,
            NOT_APPLICABLE, REPRODUCED_AT_SCALE, NOT_REPRODUCED_AT_SCALE)

Metrics = dict[str, dict[str, float]]  # {variant or baseline: {metric: value}}


@dataclass(frozen=True)
class PaperNumber:
    """One figure of the paper that `evaluate` measures from a checkpoint: `metric` as
    `evaluate` names it (`top1_error`, `top5_error` in %: lower is better; `top1_accuracy`,
    `map`, `bleu`: higher is better), the paper's `value`, how many points worse ours may be
    and still reproduce it, the paper's test-time `protocol`, and the presets it is about."""

    metric: str
    value: float
    protocol: str  # "ten-crop" | "center-crop" | a module's own (e.g. "voc07-11-point")
    presets: tuple[str, ...] = ("paper",)
    tolerance: float = 1.0
    note: str = ""  # what differs between the paper's setting and this preset, said plainly

    @property
    def lower_is_better(self) -> bool:
        return self.metric.endswith(("error", "loss"))


@dataclass(frozen=True)
class Claim:
    """One claim. `paper` quotes the paper's figure; `source` says where (`"Table 6"`)."""

    id: str
    text: str  # the claim in one sentence
    paper: str  # the paper's value as quoted, e.g. "plain-56 training error > plain-20"
    source: str  # table / figure / section, e.g. "Fig. 6 (left)"
    # {control or baseline name: advantage in the claim's direction, threshold taken off};
    # None: a paper-scale number only
    margins: Callable[[Metrics], dict[str, float]] | None = None
    measured: Callable[[Metrics], str] | None = None  # the miniature's figures, for the report
    expected: bool = True  # False: we expect the miniature *not* to show it (say why in text)
    presets: tuple[str, ...] = field(default=("mini",))
    needs: str = ""  # a paper-scale claim: the preset and data that would measure it
    numbers: tuple[PaperNumber, ...] = ()  # the figures `evaluate` can measure (paper scale)


def verdict(claim: Claim, preset: str, metrics: Metrics) -> dict[str, Any]:
    """One claim of one run: `{id, text, paper, source, expected, verdict, measured,
    compared_with, margin, margins, needs}`; `margin` is the smallest margin (None if none)."""
    row: dict[str, Any] = {
        "id": claim.id, "text": claim.text, "paper": claim.paper, "source": claim.source,
        "expected": claim.expected, "measured": "", "compared_with": [], "margin": None,
        "margins": {}, "needs": claim.needs,
    }
    if claim.margins is None or preset not in claim.presets:
        return {**row, "verdict": NOT_APPLICABLE}
    try:
        margins = {str(k): float(v) for k, v in claim.margins(metrics).items()}
        row["measured"] = claim.measured(metrics) if claim.measured else ""
    except KeyError as err:  # a variant or metric this run did not produce (e.g. --set)
        return {**row, "verdict": NOT_EVALUATED, "measured": f"this run has no {err}"}
    if not margins or not all(math.isfinite(v) for v in margins.values()):
        return {**row, "verdict": NOT_EVALUATED, "margins": margins,
                "measured": "no finite margin: the comparison could not be computed"}
    row |= {"compared_with": list(margins), "margins": margins,
            "margin": min(margins.values())}
    if row["margin"] > 0:
        return {**row, "verdict": REPRODUCED}
    return {**row, "verdict": NOT_REPRODUCED if claim.expected else NOT_REPRODUCED_IN_MINIATURE}


def verdicts(claims: list[Claim], preset: str, metrics: Metrics) -> list[dict[str, Any]]:
    return [verdict(c, preset, metrics) for c in claims]


def number_verdicts(claims: list[Claim], preset: str, protocol: str,
                    measured: dict[str, float]) -> list[dict[str, Any]]:
    """The paper's figures for `preset` beside an evaluation's: one row per `PaperNumber`,
    with the claim's fields and `metric`, `paper_value`, `ours`, `margin` (points better than
    the paper's figure minus the tolerance, >= 0 reproduces it) and the verdict."""
    rows = []
    for claim in claims:
        for number in claim.numbers:
            if preset not in number.presets:
                continue
            row: dict[str, Any] = {
                "id": claim.id, "text": claim.text, "paper": claim.paper, "source": claim.source,
                "expected": claim.expected, "needs": claim.needs, "compared_with": ["paper"],
                "metric": number.metric, "paper_value": number.value, "protocol": number.protocol,
                "note": number.note, "ours": None, "margin": None, "margins": {}}
            ours = measured.get(number.metric)
            if ours is None or protocol != number.protocol:
                why = (f"the paper's figure is {number.protocol}; this evaluation was {protocol}"
                       if ours is not None else f"this evaluation has no {number.metric}")
                rows.append({**row, "verdict": NOT_EVALUATED, "measured": why})
                continue
            better = number.value - ours if number.lower_is_better else ours - number.value
            margin = better + number.tolerance
            rows.append({**row, "ours": ours, "margin": margin, "margins": {"paper": margin},
                         "measured": f"{number.metric} {ours:.2f} ({protocol}); the paper "
                                     f"{number.value:.2f}",
                         "verdict": REPRODUCED_AT_SCALE if margin >= 0 else NOT_REPRODUCED_AT_SCALE})
    return rows


def evaluated_for(claims: list[Claim], preset: str) -> list[str]:
    """The ids of the claims `preset` is meant to evaluate (none for a smoke-test preset)."""
    return [c.id for c in claims if c.margins is not None and preset in c.presets]


def failed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that make `check` fail: a claim expected to hold that did not, or one the run
    could not evaluate (a check that checked nothing must not pass)."""
    return [r for r in rows if r["verdict"] in (NOT_REPRODUCED, NOT_EVALUATED)]


def mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% interval (Student t; 0 for a single value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306,
           10: 2.262}.get(n, 1.96)
    return mean, t95 * sd / math.sqrt(n)
