"""The GAN module: the authors' MNIST networks, Algorithm 1's two losses reaching only their own
player, the ring's scores, and the claims' margins (WGAN: test_wgan.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from reproductions import gan
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict
from reproductions.common.trainer import _params, backward_each

CLAIMS = {c.id: c for c in gan.CLAIMS}
TINY = gan.PRESETS["tiny"]


def test_paper_networks_have_the_authors_sizes():
    with torch.device("meta"):
        model = gan.build_model(gan.PRESETS["paper"])
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model.generator) == 100 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 784 + 784
    assert count(model.discriminator) == 1_231_441  # two maxout layers of 240 x 5, one sigmoid
    assert count(model) == 3_735_425


def test_maxout_takes_the_largest_of_its_linear_pieces():
    torch.manual_seed(0)
    layer = gan.Maxout(6, units=4, pieces=3)
    x = torch.randn(5, 6)
    pieces = (x @ layer.linear.weight.T + layer.linear.bias).view(5, 4, 3)
    assert torch.equal(layer(x), pieces.max(-1).values)


def test_each_players_loss_reaches_only_its_own_parameters():
    torch.manual_seed(0)
    model = gan.build_model(TINY)
    opts, _ = gan.build_optimizer(model, TINY)
    batch = gan.ring(16, 0.05, torch.Generator().manual_seed(0))
    out = gan.training_step(model, batch)
    g_loss, d_loss = out["losses"]
    # G's loss alone (D's times 0): gradients in G, none in D
    backward_each([g_loss, d_loss * 0], opts)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in _params(opts[0]))
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in _params(opts[1]))
    assert set(map(id, _params(opts[0]))) == set(map(id, model.generator.parameters()))


def test_generator_maximises_log_d_of_its_samples_not_minimises_log_one_minus_d():
    torch.manual_seed(0)
    model = gan.build_model(TINY)
    x, y = gan.ring(16, 0.05, torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    out = gan.training_step(model, (x, y))
    torch.manual_seed(1)
    fake_logit = model.critic(model.sample(16))
    assert out["losses"][0].item() == pytest.approx(-F.logsigmoid(fake_logit).mean().item(), rel=1e-5)
    # D's loss is -(log D(x) + log(1 - D(G(z)))) averaged (Algorithm 1's ascent, negated)
    real_logit = model.critic(x)
    d_loss = -(F.logsigmoid(real_logit).mean() + F.logsigmoid(-fake_logit).mean())
    assert out["losses"][1].item() == pytest.approx(d_loss.item(), rel=1e-5)
    assert out["js_estimate"].item() == pytest.approx((math.log(4) - d_loss.item()) / 2, rel=1e-5)


def test_ring_scores_data_as_covered_and_a_point_mass_as_not():
    cfg = gan.PRESETS["mini"]
    x, _ = gan.ring(4000, cfg.ring_sd, torch.Generator().manual_seed(0))
    assert gan.mode_metrics(x, cfg)["modes_covered"] == 8
    assert gan.mode_metrics(x, cfg)["high_quality"] > 0.98
    one_mode = gan.ring_centres()[:1].expand(100, 2)
    assert gan.mode_metrics(one_mode, cfg) == {"high_quality": 1.0, "modes_covered": 1}
    assert gan.mode_metrics(torch.zeros(100, 2), cfg)["high_quality"] == 0.0


def test_conditional_generator_takes_the_label_as_an_input():
    cfg = dataclasses.replace(gan.PRESETS["mini-cgan"], g_hidden=(8,), d_hidden=(8,))
    model = gan.build_model(cfg)
    assert model.generator[0].in_features == cfg.nz + 10
    assert model.discriminator[0].in_features == 64 + 10
    torch.manual_seed(0)
    a = model.sample(3, torch.tensor([0, 0, 0]))
    torch.manual_seed(0)
    b = model.sample(3, torch.tensor([1, 1, 1]))
    assert a.shape == (3, 64) and not torch.equal(a, b)


def ring_metrics(modes=8.0, hq=0.8, d_real=0.52, d_fake=0.47):
    return {"main": {"modes_covered": modes, "high_quality": hq, "d_real": d_real,
                     "d_fake": d_fake, "d_gap": d_real - d_fake},
            "untrained": {"modes_covered": 0.0, "high_quality": 0.0, "d_real": 0.5,
                          "d_fake": 0.5, "d_gap": 0.0},
            "fixed-g": {"modes_covered": 0.0, "high_quality": 0.0, "d_real": 1.0,
                        "d_fake": 0.0, "d_gap": 1.0},
            "single Gaussian": {"modes_covered": 0.0, "high_quality": 0.02}}


def test_ring_claims_hold_for_a_covering_generator_and_fail_for_a_collapsed_one():
    m = ring_metrics()
    assert verdict(CLAIMS["mini-modes"], "mini", m)["margins"] == pytest.approx(
        {"untrained": min(8 - 0 - 5, 10 * (0.8 - 0.4)), "single Gaussian": min(3, 10 * (0.78 - 0.4))})
    assert verdict(CLAIMS["mini-d-half"], "mini", m)["margins"] == pytest.approx(
        {"1/2": 0.1 - 0.03, "fixed-g": 1.0 - 0.05 - 0.5})
    assert verdict(CLAIMS["mini-modes"], "mini", ring_metrics(modes=2))["verdict"] == NOT_REPRODUCED
    assert verdict(CLAIMS["mini-d-half"], "mini", ring_metrics(d_real=0.8))["verdict"] \
        == NOT_REPRODUCED
    assert verdict(CLAIMS["mini-d-half"], "mini", m)["verdict"] == REPRODUCED


def test_cgan_claim_compares_label_accuracy_with_chance_and_shuffled_labels():
    m = {"main": {"label_accuracy": 0.9}, "shuffled": {"label_accuracy": 0.12},
         "real digits, random labels": {"label_accuracy": 0.09}}
    row = verdict(CLAIMS["mini-cgan-labels"], "mini-cgan", m)
    assert row["margins"] == pytest.approx({"real digits, random labels": 0.9 - 0.09 - 0.5,
                                            "shuffled": 0.9 - 0.12 - 0.5})
    assert verdict(CLAIMS["mini-cgan-labels"], "mini", m)["verdict"] == "not applicable"


def test_energy_distance_is_zero_for_one_sample_against_itself_and_grows_with_a_shift():
    x = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
    assert gan.energy_distance(x, x).item() == pytest.approx(0.0, abs=1e-5)
    assert gan.energy_distance(x, x + 1).item() > gan.energy_distance(x, x + 0.1).item() > 0
