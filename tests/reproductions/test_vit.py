"""The ViT miniature: its claims compare the ViT with the same-budget ResNet, the pixel baselines
and the ViT without position embeddings (pure functions of a metrics dict), and its variants
and baselines see the same training images and the same test split."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import resnet, vit
from reproductions.common.claims import (
    NOT_EVALUATED,
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)
from reproductions.common.config import ConfigError

MINI = vit.PRESETS["mini"]
CLAIMS = {c.id: c for c in vit.CLAIMS}


def metrics(vit_100=0.50, resnet_100=0.90, vit_all=0.92, resnet_all=0.99, no_pos=0.70,
            nn=(0.90, 0.98), logreg=(0.88, 0.97)):
    """A mini run's `{variant or baseline: {metric: value}}`, accuracies as given."""
    return {
        "vit-100": {"test_accuracy": vit_100}, "resnet-100": {"test_accuracy": resnet_100},
        "vit-all": {"test_accuracy": vit_all}, "resnet-all": {"test_accuracy": resnet_all},
        "no-pos": {"test_accuracy": no_pos},
        "1-NN pixels": {"test_accuracy_100": nn[0], "test_accuracy_all": nn[1]},
        "logistic regression pixels": {"test_accuracy_100": logreg[0],
                                       "test_accuracy_all": logreg[1]},
    }


def row(claim_id, m):
    return verdict(CLAIMS[claim_id], "mini", m)


def test_each_claim_measures_its_margin_over_the_named_control_or_baseline():
    m = metrics()
    assert row("small-data", m)["margins"] == pytest.approx({"resnet-100": 0.90 - 0.50 - 0.15})
    vit_gain = 0.92 - 0.50
    assert row("data-scale", m)["margins"] == pytest.approx({
        "resnet-all": vit_gain - (0.99 - 0.90) - 0.10,
        "1-NN pixels": vit_gain - (0.98 - 0.90) - 0.10,
        "logistic regression pixels": vit_gain - (0.97 - 0.88) - 0.10})
    assert row("position-embedding", m)["margins"] == pytest.approx({"no-pos": 0.92 - 0.70 - 0.08})
    assert row("beats-pixel-baselines", m)["margins"] == pytest.approx(
        {"1-NN pixels": 0.92 - 0.98, "logistic regression pixels": 0.92 - 0.97})
    assert {r: row(r, m)["verdict"] for r in ("small-data", "data-scale", "position-embedding",
                                              "beats-pixel-baselines")} == {
        "small-data": REPRODUCED, "data-scale": REPRODUCED, "position-embedding": REPRODUCED,
        "beats-pixel-baselines": NOT_REPRODUCED_IN_MINIATURE}


def test_a_vit_as_good_as_the_resnet_on_little_data_fails_the_small_data_claim():
    assert row("small-data", metrics(vit_100=0.80, resnet_100=0.90))["verdict"] == NOT_REPRODUCED


def test_data_scale_fails_when_the_gap_to_the_resnet_does_not_close():
    same_gain = metrics(vit_100=0.50, vit_all=0.59, resnet_100=0.90, resnet_all=0.99)
    r = row("data-scale", same_gain)
    assert r["verdict"] == NOT_REPRODUCED
    assert r["margins"]["resnet-all"] == pytest.approx(-0.10)


def test_data_scale_fails_when_a_pixel_baseline_gains_as_much_from_more_data():
    """The gap to the ResNet closes, but 1-NN on pixels gains as much: a ceiling, not the claim."""
    r = row("data-scale", metrics(vit_100=0.50, vit_all=0.92, nn=(0.50, 0.95)))
    assert r["margins"]["resnet-all"] > 0 > r["margins"]["1-NN pixels"]
    assert r["verdict"] == NOT_REPRODUCED


def test_a_run_without_the_100_image_pair_leaves_the_data_claims_not_evaluated():
    m = {k: v for k, v in metrics().items() if k not in ("vit-100", "resnet-100")}
    assert row("small-data", m)["verdict"] == NOT_EVALUATED
    assert row("data-scale", m)["verdict"] == NOT_EVALUATED
    assert row("position-embedding", m)["verdict"] == REPRODUCED


def test_paper_scale_claims_say_what_they_need():
    for claim in vit.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id


def test_mini_trains_a_vit_and_a_resnet_of_the_same_size_per_subset_and_a_no_position_vit():
    runs = vit.variants(MINI)
    assert set(runs) == {"vit-100", "resnet-100", "vit-all", "resnet-all", "no-pos"}
    assert {n: (c.arch, c.train_size, c.position_embedding) for n, c in runs.items()} == {
        "vit-100": ("vit", 100, True), "resnet-100": ("resnet", 100, True),
        "vit-all": ("vit", 0, True), "resnet-all": ("resnet", 0, True),
        "no-pos": ("vit", 0, False)}
    assert len({(c.steps, c.batch_size, c.lr, c.weight_decay) for c in runs.values()}) == 1
    models = {n: vit.build_model(c) for n, c in runs.items()}
    assert isinstance(models["resnet-all"], resnet.ResNet)
    assert isinstance(models["vit-all"], vit.VisionTransformer)
    assert models["no-pos"].pos_embed is None
    size = {n: sum(p.numel() for p in m.parameters()) for n, m in models.items()}
    assert size["vit-all"] == 77_530 and size["resnet-all"] == 75_002  # same budget, within 4%


def test_the_subset_is_the_same_class_balanced_images_for_both_nets_and_the_baselines():
    runs = vit.variants(MINI)
    x_vit, y_vit, x_test, _ = vit.tensor_split(runs["vit-100"])
    x_cnn, y_cnn, x_test_cnn, _ = vit.tensor_split(runs["resnet-100"])
    assert torch.equal(x_vit, x_cnn) and torch.equal(x_test, x_test_cnn)
    assert torch.bincount(y_vit).tolist() == [10] * 10
    x_all, _, _, _ = vit.tensor_split(runs["vit-all"])
    assert len(x_all) == 1347 and len(x_test) == 450
    other_seed, _, _, _ = vit.tensor_split(dataclasses.replace(runs["vit-100"], seed=1))
    assert not torch.equal(other_seed, x_vit)


def test_baselines_are_fitted_on_each_training_set_and_scored_on_the_test_split():
    found = vit.baselines(MINI)
    assert set(found) == {"1-NN pixels", "logistic regression pixels"}
    for scores in found.values():
        assert set(scores) == {"test_accuracy_100", "test_accuracy_all"}
        assert scores["test_accuracy_100"] < scores["test_accuracy_all"]
    # the audit's figures on this split (REPRODUCTION_NOTES.md)
    assert found["1-NN pixels"]["test_accuracy_all"] == pytest.approx(0.982, abs=0.001)
    assert found["logistic regression pixels"]["test_accuracy_all"] == pytest.approx(0.969, abs=0.001)
    assert vit.baselines(vit.PRESETS["paper"]) == {}


def test_a_subset_of_imagenet_or_fewer_images_than_classes_is_a_config_error():
    with pytest.raises(ConfigError, match="train_size needs dataset=digits or mnist"):
        vit.build_data(dataclasses.replace(vit.PRESETS["paper"], train_size=1000,
                                           data_root="/nonexistent"))
    with pytest.raises(ConfigError, match="smaller than the number of classes"):
        vit.build_data(dataclasses.replace(MINI, train_size=5))
