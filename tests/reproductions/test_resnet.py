"""ResNet's miniature claims: what each compares (pure functions of a metrics dict), and the
pixel baselines recorded beside them on the nets' own digits split.

The registry-wide checks (tiny step, gradients, --set, run folder) live in test_reproductions.py.
"""

from __future__ import annotations

import pytest

from reproductions import resnet
from reproductions.common.claims import (
    NOT_APPLICABLE,
    NOT_EVALUATED,
    NOT_REPRODUCED,
    REPRODUCED,
    verdicts,
)


def metrics(plain20=0.01, residual20=0.001, plain56=1.3, residual56=0.001, acc20=1.0, acc56=1.0):
    """A mini run's metrics and baselines, as its claims see them (one mapping)."""
    loss = {"plain-20": plain20, "residual-20": residual20, "plain-56": plain56,
            "residual-56": residual56}
    acc = {"plain-20": 1.0, "residual-20": acc20, "plain-56": 0.5, "residual-56": acc56}
    return {"1-NN pixels": {"test_accuracy": 0.982},
            "logistic regression pixels": {"test_accuracy": 0.969},
            **{v: {"train_loss": loss[v], "train_accuracy": acc[v], "test_accuracy": 0.98}
               for v in loss}}


def rows(m):
    return {r["id"]: r for r in verdicts(resnet.CLAIMS, "mini", m)}


def test_degradation_compares_plain56_with_plain20_and_residual56():
    row = rows(metrics())["degradation"]
    assert row["verdict"] == REPRODUCED
    assert "plain-56 train loss 1.300" in row["measured"]
    assert row["compared_with"] == ["plain-20", "residual-56"]
    assert row["margins"]["plain-20"] == pytest.approx(1.3 - 0.01)
    assert row["margins"]["residual-56"] == pytest.approx(1.3 - 5 * 0.001)  # 5x lower at least


def test_degradation_fails_when_the_deep_plain_net_trains_as_well_as_the_shallow_one():
    assert rows(metrics(plain56=0.009))["degradation"]["verdict"] == NOT_REPRODUCED
    # deeper plain is worse, but the residual net is no better than it: not the paper's claim
    assert rows(metrics(residual56=0.5))["degradation"]["verdict"] == NOT_REPRODUCED


def test_residual_depth_compares_residual56_with_residual20_within_two_points():
    assert rows(metrics(acc56=0.985))["residual-depth"]["verdict"] == REPRODUCED
    row = rows(metrics(acc56=0.97))["residual-depth"]
    assert row["verdict"] == NOT_REPRODUCED and row["compared_with"] == ["residual-20"]
    assert row["margin"] == pytest.approx(-0.01)


def test_a_run_without_the_56_layer_nets_is_not_evaluated():
    m = {v: x for v, x in metrics().items() if not v.endswith("-56")}  # compare_depths=(20,)
    found = rows(m)
    assert found["degradation"]["verdict"] == found["residual-depth"]["verdict"] == NOT_EVALUATED
    assert found["imagenet-top1"]["verdict"] == NOT_APPLICABLE


def test_no_miniature_claim_reads_test_accuracy_which_pixel_baselines_match():
    m = metrics()
    for v in m:
        m[v]["test_accuracy"] = float("nan")  # a claim that read it would not be evaluated
    assert {r["verdict"] for r in rows(m).values()} == {REPRODUCED, NOT_APPLICABLE}


def test_baselines_are_the_audits_pixel_figures_on_the_nets_digits_split():
    found = resnet.baselines(resnet.PRESETS["mini"])
    assert found["1-NN pixels"]["test_accuracy"] == pytest.approx(0.982, abs=1e-3)
    assert found["logistic regression pixels"]["test_accuracy"] == pytest.approx(0.969, abs=5e-3)
    assert resnet.baselines(resnet.PRESETS["paper"]) == {}  # ImageNet: no baseline is computed
