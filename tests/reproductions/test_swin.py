"""Swin Transformer: timm's Swin-T weights give the same outputs in ours; the window partition,
the cyclic shift's mask and the relative position index do what Sec. 3.2 says; the claims read
their margins from a metrics dict."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import swin
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

CLAIMS = {c.id: c for c in swin.CLAIMS}


def test_timm_swin_tiny_weights_give_the_same_outputs():
    """Swin-T (Sec. 3.3) with timm's parameter names: a randomly initialised
    `swin_tiny_patch4_window7_224` (norms and bias tables perturbed so that they matter) loads
    into ours with no key left over, and the logits agree."""
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    ref = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False).eval()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if "bias_table" in name or "norm" in name:
                p.add_(0.5 * torch.randn_like(p))
    ours = swin.build_model(swin.PRESETS["paper"]).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x), atol=1e-5)


def test_window_partition_round_trips_and_keeps_windows_together():
    x = torch.arange(2 * 8 * 8 * 3, dtype=torch.float).view(2, 8, 8, 3)  # (B, H, W, C)
    w = swin.window_partition(x, 4)  # (B * 4, 16, C)
    assert w.shape == (8, 16, 3)
    assert torch.equal(w[1].view(4, 4, 3), x[0, :4, 4:])  # the second window: top-right
    assert torch.equal(swin.window_reverse(w, 4, 8, 8), x)


def test_relative_position_index_depends_only_on_the_offset():
    idx = swin.relative_position_index(3)  # (9, 9) into a 5 x 5 table
    assert idx.max() == 24 and idx.min() == 0
    assert idx[0, 0] == idx[4, 4] == 12  # zero offset: the table's centre
    assert idx[0, 4] == idx[4, 8]  # the same (dy, dx) = (-1, -1) in two places


def test_shift_mask_masks_exactly_the_pairs_that_are_not_adjacent_in_the_image():
    """8x8 map, M = 4, s = 2 (Fig. 4): the top-left shifted window holds one sub-window (no
    mask); the bottom-right holds four, each of 4 patches, attending only among themselves."""
    mask = swin.shift_mask(8, 8, 4, 2)  # (nW, 16, 16)
    assert mask.shape == (4, 16, 16)
    assert (mask[0] == 0).all()
    allowed = (mask[3] == 0).float()
    assert torch.equal(allowed.sum(1), torch.full((16,), 4.0))


def test_regular_windows_never_connect_and_shifted_ones_do():
    cfg = dataclasses.replace(swin.PRESETS["mini"], flop_sides=())
    x, _ = swin.colour_pairs(8, cfg, seed=0)
    torch.manual_seed(0)
    shifted = swin.build_model(cfg).eval()
    regular = swin.build_model(dataclasses.replace(cfg, shifted=False)).eval()
    regular.load_state_dict(shifted.state_dict())
    with torch.no_grad():
        assert swin.cross_window_influence(regular, x) == 0.0
        assert swin.cross_window_influence(shifted, x) > 1e-4  # small at init; ~0.1 trained


def test_attention_flops_follow_eq_1_and_eq_2():
    """Counted FLOPs (2 per multiply-add) equal 2 x Omega of Eq. 2 for window attention and of
    Eq. 1 for ViT's global attention."""
    cfg = dataclasses.replace(swin.PRESETS["mini"], flop_sides=(8, 16))
    out = swin.flop_scaling(cfg)
    c, m = cfg.dim, cfg.window_size
    for h in (8, 16):
        hw = h * h
        assert out[f"swin_attention_gflops_{h}x{h}"] * 1e9 == 2 * (4 * hw * c**2 + 2 * m**2 * hw * c)
        assert out[f"vit_attention_gflops_{h}x{h}"] * 1e9 == 2 * (4 * hw * c**2 + 2 * hw**2 * c)
    assert out["swin_flops_slope"] == pytest.approx(1.0)


def test_colour_pairs_put_the_squares_in_two_windows_and_balance_the_labels():
    cfg = swin.PRESETS["mini"]
    x, y = swin.colour_pairs(200, cfg, seed=1)
    assert x.shape == (200, 3, 16, 16) and 0.35 < y.float().mean() < 0.65
    lit = (x.amax(1) > 0.45).float().view(200, 2, 8, 2, 8).sum((2, 4))  # (N, 2, 2) per window
    assert torch.equal((lit >= 4).sum((1, 2)), torch.full((200,), 2))  # squares: >= 2x2, >= 0.5


def test_claims_compare_shifted_with_regular_and_the_baselines():
    m = {"shifted": {"test_accuracy": 0.95, "cross_window_influence": 0.3,
                     "swin_flops_slope": 1.0, "vit_flops_slope": 1.9},
         "regular": {"test_accuracy": 0.6, "cross_window_influence": 0.0},
         "1-NN pixels": {"test_accuracy": 0.6}, "logistic regression pixels":
             {"test_accuracy": 0.5}, "class prior": {"test_accuracy": 0.5}}
    assert verdict(CLAIMS["windows-connect"], "mini", m)["verdict"] == REPRODUCED
    assert verdict(CLAIMS["linear-attention-cost"], "mini", m)["margins"] == pytest.approx(
        {"linear": 0.05, "vit attention": 0.4})
    m["regular"]["cross_window_influence"] = 0.01
    assert verdict(CLAIMS["windows-connect"], "mini", m)["verdict"] == NOT_REPRODUCED
