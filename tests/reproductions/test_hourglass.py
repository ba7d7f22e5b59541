"""Stacked hourglass: the paper network maps 256x256 to 64x64 heatmaps per stack (Sec. 3.2), an
hourglass keeps the resolution and sees the whole input (Sec. 3.1), the final-only control
supervises one stack, heatmaps decode back to their keypoints, and the claims' margins."""

from __future__ import annotations

import pytest
import torch

from reproductions import hourglass
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

TINY = hourglass.PRESETS["tiny"]
CLAIMS = {c.id: c for c in hourglass.CLAIMS}


def test_the_paper_network_predicts_16_heatmaps_at_64x64_after_each_of_8_stacks():
    with torch.device("meta"):
        out = hourglass.build_model(hourglass.PRESETS["paper"])(torch.empty(1, 3, 256, 256))
    assert out.shape == (1, 8, 16, 64, 64)


def test_an_hourglass_output_depends_on_the_far_side_of_its_input():
    hg = hourglass.Hourglass(levels=3, f=8).eval()
    x = torch.randn(1, 8, 16, 16, requires_grad=True)
    hg(x)[0, :, 0, 0].sum().backward()
    assert hg(x).shape == x.shape
    assert x.grad[0, :, 12:, 12:].abs().sum() > 0  # 2x2 at the bottom: the whole input


def test_heatmaps_decode_back_to_their_keypoints():
    points = torch.tensor([[[4.5, 10.5], [20.5, 2.5], [30.5, 30.5]]])  # (1, 3, 2)
    maps = hourglass.heatmaps((points - 0.5) / 2, 16, sigma=1.0)
    assert torch.equal(hourglass.decode(maps), points)


def test_final_only_supervises_the_last_stack_and_intermediate_all():
    runs = hourglass.variants(hourglass.PRESETS["mini"])
    assert list(runs) == ["intermediate", "final-only"]
    torch.manual_seed(0)
    net = hourglass.build_model(TINY).eval()
    x, target, _ = next(iter(hourglass.build_data(TINY)[0]))
    mse = ((net(x) - target[:, None]) ** 2).mean((0, 2, 3, 4))  # (stacks,)
    both = hourglass.training_step(net, (x, target, torch.ones(len(x))))["loss"]
    last = hourglass.training_step(net, (x, target, torch.zeros(len(x))))["loss"]
    torch.testing.assert_close(both, mse.sum())  # Sec. 3.4: a loss after every hourglass
    torch.testing.assert_close(last, mse[-1])


def test_figures_are_seeded_and_keypoints_inside():
    x, p = hourglass.arm_figures(10, 32, seed=1)
    assert x.shape == (10, 3, 32, 32) and p.shape == (10, 3, 2)
    assert p.min() >= 2 and p.max() <= 29
    assert torch.equal(p, hourglass.arm_figures(10, 32, seed=1)[1])


def test_claims_compare_with_final_only_and_the_mean_keypoint():
    m = {"intermediate": {"pck": 0.9, "pck_0.05": 0.6}, "final-only": {"pck_0.05": 0.5},
         "mean keypoint": {"pck": 0.1}}
    assert verdict(CLAIMS["intermediate-supervision"], "mini", m)["margins"] == pytest.approx(
        {"final-only": 0.1})
    assert verdict(CLAIMS["beats-mean-keypoint"], "mini", m)["margins"] == pytest.approx(
        {"mean keypoint": 0.9 - 0.1 - 0.4})
    assert verdict(CLAIMS["beats-mean-keypoint"], "mini", m)["verdict"] == REPRODUCED
    m["intermediate"]["pck"] = 0.4
    assert verdict(CLAIMS["beats-mean-keypoint"], "mini", m)["verdict"] == NOT_REPRODUCED
