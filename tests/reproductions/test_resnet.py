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


# --- identity mappings (He et al. 2016b): presets paper-preact, resnet164-preact, mini-preact ---


def test_preact_unit_adds_the_shortcut_with_nothing_after_the_addition():
    """Eq. 3 / Fig. 4e: x_{l+1} = x_l + F(x_l), F = conv(relu(BN(conv(relu(BN(x))))))."""
    import torch
    import torch.nn.functional as F

    cfg = resnet.Config(widths=(4, 4, 4))
    unit = resnet.PreActBlock(4, 4, 1, cfg).eval()
    x = torch.randn(2, 4, 6, 6)
    branch = unit.conv2(F.relu(unit.bn2(unit.conv1(F.relu(unit.bn1(x))))))
    assert torch.allclose(unit(x), x + branch, atol=1e-6)
    assert (unit(x) < 0).any()  # no ReLU after the addition: negative values pass on


def test_preact_net_is_an_identity_path_from_conv1_to_the_last_unit_when_branches_are_zero():
    """Eq. 4: x_L = x_l + sum F; with every unit's last conv zeroed the signal passes unchanged."""
    import torch

    cfg = resnet.Config(widths=(4, 4, 4), layers=(3, 1, 1), preact=True)
    model = resnet.build_model(cfg).eval()
    for unit in model.layer1:
        torch.nn.init.zeros_(unit.conv2.weight)
    x = torch.randn(2, 1, 8, 8)
    stem = model.conv1(x)
    assert torch.allclose(model.layer1(stem), stem)


def test_preact_presets_have_the_papers_parameter_counts():
    import torch

    counts = {}
    for name in ("paper-preact", "resnet164-preact"):
        with torch.device("meta"):
            counts[name] = sum(p.numel() for p in resnet.build_model(resnet.PRESETS[name]).parameters())
    # Table 5: ResNet-1001 10.2M, ResNet-164 1.7M (bottleneck units, 9n+2 layers)
    assert counts == {"paper-preact": 10_327_706, "resnet164-preact": 1_703_258}
    assert resnet.PRESETS["paper-preact"].layers == (111, 111, 111)  # 9 * 111 + 2 = 1001


def test_existing_presets_still_build_the_original_post_activation_resnet():
    for name, cfg in resnet.PRESETS.items():
        assert cfg.preact == (name in ("paper-preact", "resnet164-preact")), name
    assert type(resnet.build_model(resnet.PRESETS["tiny"])) is resnet.ResNet
    assert set(resnet.variants(resnet.PRESETS["mini"])) == {
        "plain-20", "residual-20", "plain-56", "residual-56"}


def test_mini_preact_trains_an_original_and_a_preact_net_of_the_same_depth():
    found = resnet.variants(resnet.PRESETS["mini-preact"])
    assert set(found) == {"original-110", "preact-110"}
    assert found["original-110"].layers == found["preact-110"].layers == (18, 18, 18)
    assert (found["original-110"].preact, found["preact-110"].preact) == (False, True)


def preact_metrics(original=0.30, preact=0.05):
    return {"original-110": {"train_loss": original, "train_accuracy": 0.9, "test_accuracy": 0.9},
            "preact-110": {"train_loss": preact, "train_accuracy": 0.99, "test_accuracy": 0.95},
            "1-NN pixels": {"test_accuracy": 0.982},
            "logistic regression pixels": {"test_accuracy": 0.969}}


def test_preact_claim_compares_training_loss_with_the_original_unit_only_in_mini_preact():
    found = {r["id"]: r for r in verdicts(resnet.CLAIMS, "mini-preact", preact_metrics())}
    row = found["preact-optimisation"]
    assert row["verdict"] == REPRODUCED and row["compared_with"] == ["original-110"]
    assert found["degradation"]["verdict"] == NOT_APPLICABLE  # ResNet's claims: preset mini
    assert {r["id"]: r for r in verdicts(resnet.CLAIMS, "mini", metrics())}[
        "preact-optimisation"]["verdict"] == NOT_APPLICABLE
    same = {r["id"]: r for r in verdicts(resnet.CLAIMS, "mini-preact",
                                         preact_metrics(original=0.05, preact=0.05))}
    assert same["preact-optimisation"]["verdict"] == NOT_REPRODUCED
