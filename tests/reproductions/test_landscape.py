"""The loss-landscape miniature: filter normalisation exactly as Sec. 4 defines it (per filter,
biases and BN parameters zero), the rescaling it must see through, the slice's curvature, and
claims that compare what they name."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import landscape as L
from reproductions import resnet
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

CLAIMS = {c.id: c for c in L.CLAIMS}
SMALL = dataclasses.replace(L.PRESETS["mini"], depth=3, width=12, compare=False, residual=False)


def trained_like(cfg=SMALL, seed=0):
    """A small MLP with non-trivial BN statistics (a few batches in training mode)."""
    torch.manual_seed(seed)
    model = L.build_model(cfg)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(32, 1, 8, 8) * 2 + 0.5)
    return model.eval()


def test_filter_normalised_direction_matches_each_filters_norm_and_skips_bias_and_bn():
    model = trained_like()
    dirs = L.random_direction(model, torch.Generator().manual_seed(0))
    for (name, p), d in zip(model.named_parameters(), dirs, strict=True):
        if p.dim() <= 1:  # biases and BN weights/biases: `--xignore biasbn`
            assert torch.count_nonzero(d) == 0, name
        else:  # Sec. 4: ||d_ij|| = ||theta_ij|| for every filter j (a row of a linear layer)
            assert torch.allclose(d.flatten(1).norm(dim=1), p.flatten(1).norm(dim=1), rtol=1e-5)


def test_filter_normalisation_of_a_conv_net_is_per_output_filter():
    torch.manual_seed(0)
    net = resnet.ResNet(resnet.Config(widths=(4, 8, 8), layers=(1, 1, 1)))
    dirs = L.random_direction(net, torch.Generator().manual_seed(1))
    conv, d = net.conv1.weight.detach(), dirs[0]  # (C_out, C_in, 3, 3)
    for j in range(conv.shape[0]):
        assert float(d[j].norm()) == pytest.approx(float(conv[j].norm()), rel=1e-5)
    raw = L.random_direction(net, torch.Generator().manual_seed(1), norm="none")
    assert torch.allclose(d[0] / d[0].norm(), raw[0][0] / raw[0][0].norm())  # same draw, rescaled


def test_rescaling_filters_that_feed_batch_norm_keeps_the_function():
    model = trained_like()
    scaled = L.rescale_bn_filters(model, 10.0)
    x = torch.randn(16, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model(x), scaled(x), atol=1e-4, rtol=1e-4)
    assert torch.allclose(scaled.stem.weight, 10 * model.stem.weight)
    with pytest.raises(Exception, match="plain MLP"):
        L.rescale_bn_filters(trained_like(dataclasses.replace(SMALL, residual=True)), 10.0)


def test_filter_normalised_sharpness_is_invariant_to_the_rescaling_and_raw_sharpness_is_not():
    model = trained_like()
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    out = L.rescaling_test(model, x, y, SMALL)
    assert out["rescaled_sharpness_ratio_filter"] == pytest.approx(1.0, abs=2e-3)
    assert out["rescaled_sharpness_ratio_raw"] < 0.5


def test_slice_moves_along_the_directions_and_restores_theta():
    model = trained_like()
    x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
    s = L.Slice(model, x, y)
    d = L.random_direction(s.model, torch.Generator().manual_seed(0))
    moved = L.Slice(model, x, y)
    with torch.no_grad():
        for p, t in zip(moved.model.parameters(), d, strict=True):
            p.add_(t, alpha=0.3)
        expected = float(torch.nn.functional.cross_entropy(moved.model(x), y))
    assert s.loss([d], (0.3,)) == pytest.approx(expected, rel=1e-5)
    with torch.no_grad():
        at_theta = float(torch.nn.functional.cross_entropy(model(x), y))
    assert s.loss() == pytest.approx(at_theta, rel=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), s.theta, strict=True))


def test_slice_curvatures_are_the_eigenvalues_of_a_quadratic_surfaces_hessian():
    g = torch.linspace(-1, 1, 11, dtype=torch.float64)
    a, b = torch.meshgrid(g, g, indexing="ij")
    hessian = torch.tensor([[2.0, 1.5], [1.5, -1.0]], dtype=torch.float64)  # indefinite
    z = 0.5 * (hessian[0, 0] * a**2 + 2 * hessian[0, 1] * a * b + hessian[1, 1] * b**2)
    lo, hi = L.slice_curvatures(z, float(g[1] - g[0]))
    eig = torch.linalg.eigvalsh(hessian)
    assert torch.allclose(lo, eig[0].expand_as(lo)) and torch.allclose(hi, eig[1].expand_as(hi))
    bowl = a**2 + 0.5 * b**2
    cfg = dataclasses.replace(SMALL, convex_radius=0.5)
    assert L.nonconvexity({"grid": g, "plane": bowl}, cfg)["nonconvex_fraction"] == 0.0
    assert L.nonconvexity({"grid": g, "plane": z}, cfg)["nonconvex_fraction"] == 1.0


def test_plain_and_residual_variants_differ_only_by_the_skips():
    mini = L.PRESETS["mini"]
    runs = L.variants(mini)
    assert set(runs) == {"plain", "residual"}
    assert dataclasses.replace(runs["plain"], residual=True) == runs["residual"]
    torch.manual_seed(0)
    plain = L.build_model(runs["plain"])
    torch.manual_seed(0)
    res = L.build_model(runs["residual"])
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(),
                                                 res.state_dict().values(), strict=True))


def metrics(plain_nc=0.35, res_nc=0.02, plain_loss=0.08, res_loss=0.01, plain_sharp=2.4,
            res_sharp=0.5, ratio_filter=1.0002, ratio_raw=0.008):
    return {"plain": {"nonconvex_fraction": plain_nc, "train_loss": plain_loss,
                      "sharpness_1d": plain_sharp,
                      "rescaled_sharpness_ratio_filter": ratio_filter,
                      "rescaled_sharpness_ratio_raw": ratio_raw},
            "residual": {"nonconvex_fraction": res_nc, "train_loss": res_loss,
                         "sharpness_1d": res_sharp}}


def test_claims_measure_their_margins_over_what_they_name():
    m = metrics()
    assert verdict(CLAIMS["skips-convexity"], "mini", m)["margins"] == pytest.approx(
        {"residual": 0.35 - 0.02 - 0.15, "plain fits": 0.12, "residual fits": 0.19})
    assert verdict(CLAIMS["skips-flatness"], "mini", m)["margins"] == pytest.approx(
        {"residual": 2.4 / 0.5 - 2})
    assert verdict(CLAIMS["scale-invariance"], "mini", m)["margins"] == pytest.approx(
        {"exact rescaling": 0.01 - 0.0002, "raw direction": 0.5 - 0.008})
    for cid in ("skips-convexity", "skips-flatness", "scale-invariance"):
        assert verdict(CLAIMS[cid], "mini", m)["verdict"] == REPRODUCED


@pytest.mark.parametrize(("cid", "change"), [
    ("skips-convexity", {"res_nc": 0.3}),  # the residual slice as non-convex
    ("skips-convexity", {"plain_loss": 1.5}),  # the plain net is not at a minimum
    ("skips-flatness", {"res_sharp": 2.0}),  # equally sharp
    ("scale-invariance", {"ratio_filter": 0.9}),  # filter normalisation fooled by the scale
    ("scale-invariance", {"ratio_raw": 0.9}),  # raw directions not fooled: nothing to show
])
def test_a_miniature_without_the_effect_fails_the_claim(cid, change):
    assert verdict(CLAIMS[cid], "mini", metrics(**change))["verdict"] == NOT_REPRODUCED
