"""OverFeat: the fast model's layers (Table 1), dense evaluation equal to per-window evaluation
(Sec. 3.5, Fig. 5) and where it is not (zero padding), the canvases, and what each miniature
claim compares."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import overfeat
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

MINI = overfeat.PRESETS["mini"]
CLAIMS = {c.id: c for c in overfeat.CLAIMS}


def test_fast_model_layers_follow_table_1():
    cfg = overfeat.PRESETS["paper"]
    with torch.device("meta"):
        model = overfeat.build_model(cfg)
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0], c.padding[0]) for c in convs] == [
        (96, 11, 4, 0), (256, 5, 1, 0), (512, 3, 1, 1), (1024, 3, 1, 1), (1024, 3, 1, 1)]
    linears = [m for m in model.classifier if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (1024 * 6 * 6, 3072), (3072, 4096), (4096, 1000)]
    assert model.side == 6 and model.stride(cfg) == 32  # 4 x 2 x 2 x 2
    assert sum(p.numel() for p in model.parameters()) == 145_920_872


def _net(padding: int = 0) -> tuple[overfeat.OverFeat, overfeat.Config]:
    cfg = dataclasses.replace(MINI, paddings=(0, padding, padding))
    torch.manual_seed(0)
    return overfeat.build_model(cfg).eval(), cfg


def test_dense_map_is_the_net_applied_to_every_window():
    model, cfg = _net()
    x = torch.randn(2, 1, 44, 44, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        dense = model.dense(x)  # (2, 10, 5, 5)
        assert dense.shape == (2, 10, 5, 5)
        for i, j in [(0, 0), (2, 3), (4, 4)]:
            crop = x[:, :, 4 * i:4 * i + 28, 4 * j:4 * j + 28]
            torch.testing.assert_close(dense[:, :, i, j], model(crop), rtol=1e-5, atol=1e-5)
        per_window = model(overfeat.windows(x, 28, 4))  # (2 * 25, 10), row-major
        torch.testing.assert_close(dense.permute(0, 2, 3, 1).reshape(-1, 10), per_window,
                                   rtol=1e-5, atol=1e-5)


def test_zero_padding_breaks_the_equality_at_window_borders():
    """Why `mini` has no padding (Deviations): a padded window sees zeros where the big image
    has its neighbours' pixels."""
    model, _ = _net(padding=1)
    model.side = overfeat.OverFeat.feature_side(dataclasses.replace(MINI, paddings=(0, 1, 1)))
    x = torch.randn(1, 1, 44, 44, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        dense = model.dense(x)
        assert not torch.allclose(dense[:, :, 1, 1], model(x[:, :, 4:32, 4:32]), atol=1e-3)


def test_paste_puts_every_digit_whole_inside_the_canvas_at_fixed_places():
    digits = torch.rand(6, 1, 28, 28) + 1.0  # ink > background everywhere
    a, b = overfeat.paste(digits, 44, seed=3), overfeat.paste(digits, 44, seed=3)
    assert torch.equal(a, b) and a.shape == (6, 1, 44, 44)
    assert torch.allclose(a.sum((1, 2, 3)) - a.amin() * (44 * 44 - 28 * 28), digits.sum((1, 2, 3)))
    shifted = overfeat.random_shift(digits, 2)
    assert shifted.shape == digits.shape


def test_evaluate_reports_equality_speed_and_both_views():
    cfg = overfeat.PRESETS["tiny"]
    model = overfeat.build_model(cfg).eval()
    _, data = overfeat.build_data(cfg)
    with torch.no_grad():
        out = overfeat.evaluate(model, data, cfg)
    assert out["dense_vs_windows_max_abs_diff"] < 1e-4
    assert {"canvas_accuracy", "centre_view_accuracy", "dense_speedup", "test_accuracy"} <= set(out)
    assert out["windows_timed"] == 9  # one 36x36 image: 3 x 3 windows of 28 at stride 4


def _m(dense=0.80, centre=0.50, nn=0.66, logreg=0.21, diff=1e-6, speedup=10.0):
    return {"main": {"canvas_accuracy": dense, "centre_view_accuracy": centre, "test_accuracy": 0.97,
                     "dense_vs_windows_max_abs_diff": diff, "output_scale": 20.0,
                     "dense_speedup": speedup, "dense_seconds": 0.1, "windows_seconds": 1.0,
                     "windows_timed": 1156.0},
            "1-NN pixels": {"canvas_accuracy": nn},
            "logistic regression pixels": {"canvas_accuracy": logreg}}


def test_claims_compare_dense_evaluation_with_windows_the_centre_view_and_pixels():
    row = verdict(CLAIMS["dense-equals-sliding-windows"], "mini", _m())
    assert row["margins"] == pytest.approx({"sliding windows": overfeat.EQUAL_TO - 1e-6})
    assert verdict(CLAIMS["dense-equals-sliding-windows"], "mini", _m(diff=1e-2))["verdict"] \
        == NOT_REPRODUCED
    row = verdict(CLAIMS["dense-is-faster"], "mini", _m(speedup=2.0))
    assert row["margin"] == pytest.approx(2.0 - overfeat.SPEEDUP) and row["verdict"] == NOT_REPRODUCED
    row = verdict(CLAIMS["dense-beats-centre-view"], "mini", _m())
    assert row["margins"] == pytest.approx({"centre view": 0.80 - 0.50 - 0.2,
                                            "1-NN pixels": 0.80 - 0.66 - 0.05,
                                            "logistic regression pixels": 0.80 - 0.21 - 0.05})
    assert row["verdict"] == REPRODUCED
    assert verdict(CLAIMS["dense-beats-centre-view"], "mini", _m(nn=0.78))["verdict"] == NOT_REPRODUCED


def test_paper_scale_claims_say_what_they_need():
    for claim in overfeat.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id
