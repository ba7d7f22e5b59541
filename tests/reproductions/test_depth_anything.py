"""Depth Anything: the affine-invariant loss (Eq. 1-2) ignores the scale and shift of either
map, alignment recovers an affine copy exactly, the paper model is timm's DINOv2 ViT-S/14 with
a DPT head giving a full-resolution map, the generated scenes' depth is hidden behind a
random scale and shift, and the claims' margins."""

from __future__ import annotations

import pytest
import torch

from reproductions import depth_anything as A
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

TINY = A.PRESETS["tiny"]
CLAIMS = {c.id: c for c in A.CLAIMS}


def test_the_loss_ignores_scale_and_shift_of_prediction_and_label():
    torch.manual_seed(0)
    pred, target = torch.rand(3, 8, 8) + 0.1, torch.rand(3, 8, 8) + 0.1
    base = A.affine_invariant_loss(pred, target)
    torch.testing.assert_close(A.affine_invariant_loss(3.0 * pred + 2.0, 0.5 * target - 1.0), base)
    assert A.affine_invariant_loss(7.0 * target + 4.0, target) < 1e-5  # an affine copy: 0
    d = A.normalise(target)  # Eq. 2: median 0, mean absolute deviation 1
    assert d.flatten(1).median(1).values.abs().max() < 1e-6
    torch.testing.assert_close(d.flatten(1).abs().mean(1), torch.ones(3))


def test_alignment_recovers_an_affine_copy():
    target = torch.rand(2, 6, 6) + 1
    torch.testing.assert_close(A.align(0.3 * target - 5, target), target)
    assert A.abs_rel(0.3 * target - 5, target) < 1e-5


def test_the_paper_model_is_dinov2_small_with_a_dpt_head():
    pytest.importorskip("timm")
    with torch.device("meta"):
        net = A.build_model(A.PRESETS["paper"])
        out = net(torch.empty(1, 3, 70, 70))
    assert type(net.encoder).__name__ == "VisionTransformer" and net.encoder.embed_dim == 384
    assert sum(p.numel() for p in net.head.parameters()) == 2_728_513
    assert out.shape == (1, 70, 70)


def test_scenes_hide_a_random_scale_and_shift():
    x, d, prior = A.depth_scenes(20, 32, seed=0)
    assert x.shape == (20, 3, 32, 32) and d.shape == prior.shape == (20, 32, 32)
    far = d.flatten(1).max(1).values  # the sky, at the same depth in every scene before scaling
    assert far.std() > 1.0
    assert ((d != prior).float().mean() > 0.02)  # boards differ from the ground prior


def test_tiny_model_maps_an_image_to_a_depth_map_and_both_losses_train():
    net = A.build_model(TINY)
    x, d, flag = next(iter(A.build_data(TINY)[0]))
    assert net(x).shape == d.shape
    for f in (1.0, 0.0):
        out = A.training_step(net, (x, d, torch.full((len(x),), f)))
        assert torch.isfinite(out["loss"])


def test_claims_compare_with_raw_l1_and_the_baselines():
    m = {"affine": {"abs_rel": 0.10}, "raw-l1": {"abs_rel": 0.15},
         "ground prior": {"abs_rel": 0.20}, "constant": {"abs_rel": 0.60}}
    assert verdict(CLAIMS["affine-vs-raw"], "mini", m)["margins"] == pytest.approx(
        {"raw-l1": 0.15 - 0.10 - 0.01})
    assert verdict(CLAIMS["affine-invariant-learns-relative-depth"], "mini", m)["verdict"] \
        == REPRODUCED
    m["affine"]["abs_rel"] = 0.19
    assert verdict(CLAIMS["affine-invariant-learns-relative-depth"], "mini", m)["verdict"] \
        == NOT_REPRODUCED
