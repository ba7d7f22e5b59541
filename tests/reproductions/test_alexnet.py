"""AlexNet's miniature claims: what each compares (pure functions of a metrics dict, no
training), the variants that make the comparisons, and the baselines' split.

The registry-wide checks (tiny step, gradients, --set, run folder) live in test_reproductions.py,
the reference-equivalence checks in test_equivalence.py.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import alexnet
from reproductions.common.claims import (
    NOT_APPLICABLE,
    NOT_EVALUATED,
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)

MINI = alexnet.PRESETS["mini"]
CLAIM = {c.id: c for c in alexnet.CLAIMS}


def metrics(main_acc=0.95, gaps=(0.08, 0.13), steps_to_25=(50, 32)) -> dict:
    """A mini run's `{variant or baseline: {metric: value}}`; `gaps` = test - train loss of
    main and no-dropout, `steps_to_25` = ReLU's and tanh's."""
    def net(acc, gap, steps=100):
        return {"test_accuracy": acc, "test_loss": 0.1 + gap, "train_loss": 0.1,
                "steps_to_25": steps}
    return {"main": net(main_acc, gaps[0]), "no-dropout": net(0.94, gaps[1]),
            "fig1-relu": net(0.9, 0.0, steps_to_25[0]), "fig1-tanh": net(0.9, 0.0, steps_to_25[1]),
            "1-NN pixels": {"test_accuracy": 0.934},
            "logistic regression pixels": {"test_accuracy": 0.885}}


def test_accuracy_claim_is_the_margin_over_each_pixel_baseline():
    row = verdict(CLAIM["mini-accuracy"], "mini", metrics(main_acc=0.95))
    assert row["margins"] == pytest.approx({"1-NN pixels": 0.016, "logistic regression pixels": 0.065})
    assert row["verdict"] == REPRODUCED


def test_accuracy_claim_fails_when_1nn_on_pixels_does_as_well():
    row = verdict(CLAIM["mini-accuracy"], "mini", metrics(main_acc=0.934))
    assert row["margin"] == pytest.approx(0.0) and row["verdict"] == NOT_REPRODUCED


def test_dropout_claim_compares_the_train_test_gaps_of_the_two_nets():
    held = verdict(CLAIM["dropout-reduces-overfitting"], "mini", metrics(gaps=(0.08, 0.13)))
    assert held["compared_with"] == ["no-dropout"]
    assert held["margin"] == pytest.approx(0.05) and held["verdict"] == REPRODUCED
    failed = verdict(CLAIM["dropout-reduces-overfitting"], "mini", metrics(gaps=(0.13, 0.08)))
    assert failed["verdict"] == NOT_REPRODUCED


def test_relu_claim_is_the_iteration_ratio_and_says_in_advance_it_will_not_hold():
    slower = verdict(CLAIM["relu-faster-than-tanh"], "mini", metrics(steps_to_25=(50, 32)))
    assert slower["margin"] == pytest.approx(32 / 50 - alexnet.RELU_SPEEDUP)
    assert slower["verdict"] == NOT_REPRODUCED_IN_MINIATURE
    faster = verdict(CLAIM["relu-faster-than-tanh"], "mini", metrics(steps_to_25=(10, 60)))
    assert faster["margin"] == pytest.approx(4.0) and faster["verdict"] == REPRODUCED


def test_a_run_without_the_control_evaluates_nothing_rather_than_passing():
    m = metrics()
    del m["no-dropout"], m["1-NN pixels"]
    assert verdict(CLAIM["dropout-reduces-overfitting"], "mini", m)["verdict"] == NOT_EVALUATED
    assert verdict(CLAIM["mini-accuracy"], "mini", m)["verdict"] == NOT_EVALUATED


def test_paper_scale_claims_name_the_preset_and_data_they_need():
    for cid in ("overlapping-pooling", "local-response-normalisation", "imagenet-error"):
        assert CLAIM[cid].margins is None and "preset paper" in CLAIM[cid].needs
        assert verdict(CLAIM[cid], "mini", metrics())["verdict"] == NOT_APPLICABLE
    assert "pool_size=2" in CLAIM["overlapping-pooling"].needs
    assert "lrn=False" in CLAIM["local-response-normalisation"].needs


def test_mini_variants_differ_from_main_only_in_what_each_claim_ablates():
    runs = alexnet.variants(MINI)
    assert list(runs) == ["main", "no-dropout", "fig1-relu", "fig1-tanh"]
    main = runs["main"]
    assert main.dropout == 0.5 and main.steps == MINI.steps
    assert runs["no-dropout"] == dataclasses.replace(main, dropout=0.0)
    relu, tanh = runs["fig1-relu"], runs["fig1-tanh"]
    assert relu == dataclasses.replace(tanh, activation="relu") and tanh.activation == "tanh"
    assert relu.lr == main.lr  # Fig. 1 race at one learning rate, not tuned per net
    assert (relu.dropout, relu.weight_decay, relu.lr_drops, relu.steps) == (0.0, 0.0, (), 100)
    assert list(alexnet.variants(alexnet.PRESETS["tiny"])) == ["main"]


def test_steps_to_25_is_the_first_step_whose_last_five_batches_average_25_percent():
    errors = [0.9, 0.5, 0.3, 0.2, 0.2, 0.2, 0.1, 0.1]
    rows = [{"step": i + 1, "error": e} for i, e in enumerate(errors)]
    assert alexnet.curve_metrics(rows, MINI) == {"steps_to_25": 7}  # mean(.3,.2,.2,.2,.1)=.2
    never = [{"step": i + 1, "error": 0.5} for i in range(10)]
    assert alexnet.curve_metrics(never, dataclasses.replace(MINI, steps=10)) == {"steps_to_25": 11}


def test_non_overlapping_pooling_control_keeps_the_papers_map_sizes():
    """Sec. 3.4: z = s = 2 "produces output of equivalent dimensions" to z = 3, s = 2."""
    with torch.device("meta"):
        for z in (3, 2):
            model = alexnet.build_model(dataclasses.replace(alexnet.PRESETS["paper"], pool_size=z))
            assert model.features(torch.zeros(1, 3, 227, 227)).shape == (1, 256, 6, 6)


def test_baselines_are_computed_on_the_split_the_variants_evaluate_on():
    _, eval_data = alexnet.build_data(MINI)
    xtr, ytr, xte, yte = alexnet.mnist_split(MINI)
    assert torch.equal(eval_data["test"][0], xte) and torch.equal(eval_data["train"][1], ytr[:1000])
    found = alexnet.baselines(MINI)
    assert found["1-NN pixels"]["test_accuracy"] == pytest.approx(0.934)  # the audit's figure
    assert 0.8 < found["logistic regression pixels"]["test_accuracy"] < 0.934
