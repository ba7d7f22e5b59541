"""SimCLR: NT-Xent (Eq. 1) written term by term equals the batched loss; the augmentations keep
shapes and ranges; the linear probe reads h = f(x); the claims read their margins."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from reproductions import simclr
from reproductions.common.claims import (
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)

CLAIMS = {c.id: c for c in simclr.CLAIMS}


def test_nt_xent_is_eq_1_averaged_over_all_positive_pairs():
    torch.manual_seed(0)
    z1, z2 = torch.randn(3, 5), torch.randn(3, 5)
    tau = 0.5
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    n = 3
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        denom = sum(math.exp(float(z[i] @ z[k]) / tau) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[j]) / tau) / denom)
    assert simclr.nt_xent(z1, z2, tau).item() == pytest.approx(total / (2 * n), rel=1e-5)


def test_nt_xent_is_lowest_when_the_two_views_agree():
    torch.manual_seed(0)
    z = torch.randn(8, 16)
    assert simclr.nt_xent(z, z, 0.1) < simclr.nt_xent(z, torch.randn(8, 16), 0.1)


def test_augmentations_keep_the_shape_and_range_and_colour_distortion_changes_colour():
    cfg = simclr.PRESETS["tiny"]
    x = simclr.shapes_split(cfg)[0][:16]
    torch.manual_seed(0)
    crop = simclr.augment(x, colour=False)
    both = simclr.augment(x, colour=True)
    assert crop.shape == both.shape == x.shape
    assert 0 <= both.min() and both.max() <= 1
    # a crop moves pixels but keeps each image's colours close; distortion changes them
    mean_colour = lambda v: v.mean((2, 3))  # noqa: E731
    assert (mean_colour(both) - mean_colour(x)).abs().mean() > \
        (mean_colour(crop) - mean_colour(x)).abs().mean()


def test_hue_rotation_keeps_grey_pixels_grey():
    grey = torch.full((4, 3, 2, 2), 0.4)
    torch.manual_seed(0)
    out = simclr.colour_distortion(grey)
    assert torch.allclose(out[:, 0], out[:, 1], atol=1e-5)
    assert torch.allclose(out[:, 1], out[:, 2], atol=1e-5)


def test_the_paper_encoder_gives_2048_d_features_and_the_head_128():
    with torch.device("meta"):
        model = simclr.build_model(simclr.PRESETS["paper"])
    assert model.encoder.layer4[-1].conv3.out_channels == 2048
    assert [m.out_features for m in model.head if isinstance(m, torch.nn.Linear)] == [2048, 128]


def test_shapes_labels_are_the_shape_and_not_the_colour():
    x, y, _, _ = simclr.shapes_split(simclr.PRESETS["mini"])
    assert set(y.tolist()) == set(range(5))
    red = x[:, 0].mean((1, 2)) - x[:, 1:].mean((1, 2, 3))
    assert abs(red[y == 0].mean() - red[y == 1].mean()) < 0.05  # colour says nothing


def test_claims_compare_with_the_random_encoder_pixels_and_crop_only():
    few = f"{simclr.K_SHOT} labels"
    m = {"crop+colour": {"probe_accuracy": 0.8, "random_encoder_probe_accuracy": 0.6,
                         "few_label_probe_accuracy": 0.6,
                         "random_encoder_few_label_probe_accuracy": 0.3},
         "crop": {"probe_accuracy": 0.6},
         "1-NN pixels": {"test_accuracy": 0.95}, "logistic regression pixels":
             {"test_accuracy": 0.7}, f"1-NN pixels, {few}": {"test_accuracy": 0.45},
         f"logistic regression pixels, {few}": {"test_accuracy": 0.4}}
    r = verdict(CLAIMS["beats-random-and-pixels"], "mini", m)
    assert r["verdict"] == REPRODUCED and r["margin"] == pytest.approx(0.1)
    assert verdict(CLAIMS["colour-distortion"], "mini", m)["margin"] == pytest.approx(0.17)
    assert verdict(CLAIMS["all-labels-beats-pixels"], "mini", m)["verdict"] == \
        NOT_REPRODUCED_IN_MINIATURE  # pixel 1-NN with every label wins
    m["crop"]["probe_accuracy"] = 0.79
    assert verdict(CLAIMS["colour-distortion"], "mini", m)["verdict"] == NOT_REPRODUCED


def test_few_labels_draws_k_per_class_the_same_for_probe_and_baselines():
    y = torch.arange(5).repeat(20)
    i = simclr.few_labels(y, 3, draw=1, seed=0)
    assert torch.bincount(y[i]).tolist() == [3] * 5
    assert torch.equal(i, simclr.few_labels(y, 3, draw=1, seed=0))
    assert not torch.equal(i, simclr.few_labels(y, 3, draw=2, seed=0))


def test_moco_key_encoder_follows_eq_2_and_the_queue_keeps_the_latest_keys():
    cfg = dataclasses.replace(simclr.PRESETS["tiny"], method="moco", queue_size=12,
                              momentum=0.9)
    torch.manual_seed(0)
    model = simclr.build_model(cfg)
    assert all(not p.requires_grad for p in model.key.parameters())
    before = [p.clone() for p in model.key.parameters()]
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(1.0)
    model.momentum_update()
    query = list(model.encoder.parameters()) + list(model.head.parameters())
    for k0, k1, q in zip(before, model.key.parameters(), query, strict=True):
        assert torch.allclose(k1, 0.9 * k0 + 0.1 * q)
    x = simclr.shapes_split(cfg)[0][:8]
    loss = simclr.moco_loss(model.train(), x, x)
    loss.backward()  # the enqueue after the loss must not break its graph
    assert int(model.ptr) == 8
    with torch.no_grad():
        keys = torch.nn.functional.normalize(model.key(x), dim=1)
    assert torch.allclose(model.queue[:8], keys, atol=1e-6)
