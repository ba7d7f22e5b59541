"""The shattered-gradients miniature: the nets are the architectures the paper describes (LL init
makes a CReLU net exactly affine), the gradient is each input's own derivative, the statistics
mean what their names say, and the claims compare what they name."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from reproductions import shattered as S
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

CLAIMS = {c.id: c for c in S.CLAIMS}
SMALL = dataclasses.replace(S.PRESETS["mini"], width=32, n_inputs=64, compare=False)


def test_parameter_counts_follow_from_the_described_architecture():
    def count(cfg):
        with torch.device("meta"):
            return sum(p.numel() for p in S.build_model(cfg).parameters())

    # stem 1->W (2W), per layer BN (2W) + W x W linear (W^2 + W), head BN (2W) + W->1 (W + 1)
    for preset in ("paper", "feedforward24"):
        cfg = S.PRESETS[preset]
        w = cfg.width
        assert count(cfg) == 2 * w + cfg.depth * (w * w + 3 * w) + 3 * w + 1
    assert count(S.PRESETS["paper"]) == 2_031_001
    assert count(S.PRESETS["feedforward24"]) == 975_401


def test_looks_linear_layer_computes_w0_h_at_initialisation():
    torch.manual_seed(0)
    cfg = dataclasses.replace(SMALL, arch="looks-linear", depth=3, batch_norm=False)
    net = S.build_model(cfg)
    layer = net.layers[0]
    w = layer.linear.weight  # (W, 2W) = [W0, -W0]
    w0 = w[:, : cfg.width]
    assert torch.equal(w[:, cfg.width:], -w0)
    h = torch.randn(5, cfg.width)
    assert torch.allclose(layer(h), h @ w0.T + layer.linear.bias, atol=1e-5)


def test_looks_linear_net_has_one_gradient_everywhere_and_a_plain_net_does_not():
    torch.manual_seed(0)
    x = S.grid(SMALL)
    ll = S.input_gradients(S.build_model(dataclasses.replace(SMALL, arch="looks-linear", depth=8)), x)
    plain = S.input_gradients(S.build_model(dataclasses.replace(SMALL, arch="feedforward", depth=8)), x)
    assert torch.allclose(ll, ll[0].expand_as(ll), rtol=1e-4)
    assert plain.std() > 0.1 * plain.abs().mean()
    assert S.lag1_autocorrelation(ll) == 1.0


def test_input_gradients_are_each_inputs_own_derivative_with_the_grids_bn_statistics():
    torch.manual_seed(0)
    net = S.build_model(dataclasses.replace(SMALL, arch="resnet", depth=4)).double()
    x = S.grid(SMALL).double()
    before = [b.clone() for b in net.buffers()]
    g = S.input_gradients(net, x)
    assert all(torch.equal(a, b) for a, b in zip(before, net.buffers(), strict=True))  # a copy
    calibrated = S.build_model(dataclasses.replace(SMALL, arch="resnet", depth=4)).double()
    calibrated.load_state_dict(net.state_dict())
    for m in calibrated.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        calibrated.train()(x)
        calibrated.eval()
        eps = 1e-6  # each input alone, central differences: no coupling through batch statistics
        fd = torch.stack([(calibrated(xi.view(1, 1) + eps) - calibrated(xi.view(1, 1) - eps))[0, 0]
                          / (2 * eps) for xi in x[:, 0]])
    # a ReLU kink between x +- eps would differ; almost every point has none
    assert (torch.isclose(g, fd, rtol=1e-5, atol=1e-6)).float().mean() > 0.95


def test_residual_and_feedforward_nets_differ_only_by_the_skip():
    torch.manual_seed(0)
    res = S.build_model(dataclasses.replace(SMALL, arch="resnet", depth=3))
    ff = S.build_model(dataclasses.replace(SMALL, arch="feedforward", depth=3))
    ff.load_state_dict(res.state_dict())
    x = S.grid(SMALL)
    assert not torch.allclose(res.eval()(x), ff.eval()(x))
    res0 = S.build_model(dataclasses.replace(SMALL, arch="resnet", depth=0))
    ff0 = S.build_model(dataclasses.replace(SMALL, arch="feedforward", depth=0))
    ff0.load_state_dict(res0.state_dict())
    assert torch.equal(res0.eval()(x), ff0.eval()(x))


def test_lag1_autocorrelation_of_known_sequences():
    g = torch.Generator().manual_seed(0)
    white = torch.randn(64, 256, generator=g)
    assert abs(float(S.lag1_autocorrelation(white).mean())) < 0.02
    assert float(S.lag1_autocorrelation(white.cumsum(1)).mean()) > 0.9
    alternating = torch.tensor([1.0, -1.0] * 128)
    assert float(S.lag1_autocorrelation(alternating)) == pytest.approx(-255 / 256)
    assert float(S.lag1_autocorrelation(torch.full((10,), 3.0))) == 1.0


def test_ensemble_correlation_is_one_for_shared_gradients_and_zero_for_independent_ones():
    g = torch.Generator().manual_seed(0)
    per_net = torch.randn(500, 1, generator=g)
    assert S.ensemble_correlation(per_net.expand(500, 16)) == pytest.approx(1.0, abs=1e-6)
    assert abs(S.ensemble_correlation(torch.randn(500, 16, generator=g))) < 0.02


def test_evaluate_fits_the_slope_of_log2_correlation_over_the_fit_depths():
    cfg = dataclasses.replace(S.PRESETS["tiny"], probe_nets=6, fit_nets=6)
    torch.manual_seed(0)
    m = S.evaluate(S.build_model(cfg).eval(), S.build_data(cfg)[1], cfg)
    assert {"trained_acf1", "acf1_L0", "corr_L0", "acf1_L2", "corr_L2"} <= set(m)
    d = [x for x in cfg.fit_depths if m[f"corr_L{x}"] > 0]
    if len(d) >= 2:
        assert m["slope_log2_corr"] == pytest.approx(
            S.slope(d, [math.log2(m[f"corr_L{x}"]) for x in d]))
    again = S.evaluate(S.build_model(cfg).eval(), S.build_data(cfg)[1], cfg)
    assert {k: v for k, v in again.items() if k != "trained_acf1"} == \
        {k: v for k, v in m.items() if k != "trained_acf1"}  # the probe draws are seeded


def metrics(ff24=0.0, res50=0.65, white=0.0, brown=0.97, ff_slope=-1.2, res_slope=-0.5,
            ll50=1.0, ff50=0.0):
    return {"feedforward": {"acf1_L24": ff24, "slope_log2_corr": ff_slope, "corr_L50": ff50},
            "resnet": {"acf1_L50": res50, "slope_log2_corr": res_slope, "corr_L1": 0.3,
                       "corr_L50": 0.005},
            "looks-linear": {"corr_L50": ll50},
            "white noise": {"acf1": white}, "brown noise": {"acf1": brown}}


def test_claims_measure_their_margins_over_what_they_name():
    m = metrics()
    assert verdict(CLAIMS["white-noise"], "mini", m)["margins"] == pytest.approx(
        {"white noise": 0.15, "brown noise": 0.97 - 0.5, "resnet": 0.65 - 0.4})
    assert verdict(CLAIMS["exponential-decay"], "mini", m)["margins"] == pytest.approx(
        {"2^-L": 0.5 - 0.2, "resnet": -0.5 + 1.2 - 0.4})
    assert verdict(CLAIMS["looks-linear"], "mini", m)["margins"] == pytest.approx(
        {"feedforward": 0.1})
    for cid in ("white-noise", "exponential-decay", "looks-linear"):
        assert verdict(CLAIMS[cid], "mini", m)["verdict"] == REPRODUCED


@pytest.mark.parametrize(("cid", "change"), [
    ("white-noise", {"res50": 0.2}),  # a resnet that shatters too
    ("white-noise", {"ff24": 0.5}),  # a feedforward net that keeps structure
    ("exponential-decay", {"ff_slope": -0.3}),  # too slow a decay for 2^-L
    ("exponential-decay", {"res_slope": -1.1}),  # the resnet decays as fast
    ("looks-linear", {"ll50": 0.5}),  # the LL net shatters
])
def test_a_miniature_without_the_effect_fails_the_claim(cid, change):
    assert verdict(CLAIMS[cid], "mini", metrics(**change))["verdict"] == NOT_REPRODUCED
