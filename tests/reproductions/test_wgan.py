"""The WGAN module: the authors' DCGAN sizes, Algorithm 1 step by step (clipping, n_critic, the
estimate), the tracked curve and its correlation, and the claims' margins."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import wgan
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict
from reproductions.common.trainer import backward_each

CLAIMS = {c.id: c for c in wgan.CLAIMS}
TINY = wgan.PRESETS["tiny"]


def test_paper_networks_have_the_authors_dcgan_sizes():
    with torch.device("meta"):
        model = wgan.build_model(wgan.PRESETS["paper"])
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # 100 -> 512x4x4 -> 256 -> 128 -> 64 -> 3x64x64, no biases, BN on all but the output
    g = 16 * (100 * 512 + 512 * 256 + 256 * 128 + 128 * 64 + 64 * 3) + 2 * (512 + 256 + 128 + 64)
    d = 16 * (3 * 64 + 64 * 128 + 128 * 256 + 256 * 512 + 512 * 1) + 2 * (128 + 256 + 512)
    assert (count(model.generator), count(model.discriminator)) == (g, d) == (3_576_704, 2_765_568)
    x = torch.zeros(2, 3, 64, 64, device="meta")
    assert model.critic(x).shape == (2,)
    assert model.generate(torch.zeros(2, 100, device="meta")).shape == (2, 3, 64, 64)


def test_algorithm_1_clips_the_critic_and_steps_g_every_n_critic_steps():
    cfg = dataclasses.replace(TINY, compare=False)
    torch.manual_seed(0)
    model = wgan.build_model(cfg)
    for p in model.discriminator.parameters():
        p.data.fill_(1.0)
    g_opt, d_opt = wgan.build_optimizer(model, cfg)[0]
    assert isinstance(g_opt, wgan.EveryNth) and isinstance(d_opt, torch.optim.RMSprop)
    assert d_opt.param_groups[0]["lr"] == 5e-5 and cfg.clip == 0.01 and cfg.n_critic == 5
    x = torch.randn(8, 2)
    before = [p.detach().clone() for p in model.generator.parameters()]
    moved = []
    for _ in range(cfg.n_critic):
        out = wgan.training_step(model, (x, torch.zeros(8, dtype=torch.long)))
        assert all(p.abs().max() <= cfg.clip for p in model.discriminator.parameters())
        backward_each(out["losses"], [g_opt, d_opt])
        g_opt.step()
        d_opt.step()
        moved.append(any(not torch.equal(a, b) for a, b in
                         zip(before, model.generator.parameters(), strict=True)))
    assert moved == [False] * (cfg.n_critic - 1) + [True]
    assert out["estimate"].item() == pytest.approx(-out["losses"][1].item())


def test_estimate_is_the_critic_mean_gap_and_g_descends_minus_f_of_its_samples():
    torch.manual_seed(0)
    model = wgan.build_model(dataclasses.replace(TINY, compare=False))
    x = torch.randn(16, 2)
    torch.manual_seed(1)
    out = wgan.training_step(model, (x, torch.zeros(16, dtype=torch.long)))
    torch.manual_seed(1)
    fake_f = model.critic(model.sample(16))
    assert out["losses"][0].item() == pytest.approx(-fake_f.mean().item(), rel=1e-5)
    assert out["estimate"].item() == pytest.approx((model.critic(x).mean() - fake_f.mean()).item(),
                                                   rel=1e-5)


def test_the_control_is_a_js_gan_on_the_same_mlps_with_as_many_generator_steps():
    v = wgan.variants(wgan.PRESETS["mini"])
    assert set(v) == {"main", "gan"}
    assert (v["gan"].loss, v["gan"].optimizer, v["gan"].hidden) == ("gan", "adam", v["main"].hidden)
    assert v["gan"].steps == v["main"].steps // v["main"].n_critic
    model = wgan.build_model(v["main"])
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def test_tracking_records_the_estimate_and_distance_every_hundredth_of_training():
    cfg = dataclasses.replace(TINY, compare=False, steps=200)
    model = wgan.build_model(cfg)
    x = torch.randn(16, 2)
    for _ in range(6):
        wgan.training_step(model, (x, torch.zeros(16, dtype=torch.long)))
    assert [h[0] for h in model.history] == [2, 4, 6]
    assert all(h[2] > 0 for h in model.history)


def test_correlation_of_a_falling_estimate_with_a_falling_distance():
    hist = [(i, 1.0 / (i + 1), 2.0 / (i + 1) + 0.01 * (i % 3)) for i in range(100)]
    out = wgan.history_metrics(hist)
    assert out["estimate_distance_rho"] > 0.95 and out["estimate_distance_r"] > 0.95
    assert out["last_distance"] < out["first_distance"]
    flat = [(i, float(i % 7), 1.0 / (i + 1)) for i in range(100)]
    assert abs(wgan.history_metrics(flat)["estimate_distance_r"]) < 0.3
    assert wgan.history_metrics(hist[:5]) == {}
    assert wgan.spearman(torch.tensor([1.0, 2, 3]), torch.tensor([10.0, 30, 20])) == pytest.approx(0.5)


def metrics(r=0.9, r_gan=0.8, ed=0.04, modes=3.0, gan_modes=8.0):
    return {"main": {"estimate_distance_r": r, "estimate_distance_rho": r, "energy_distance": ed,
                     "modes_covered": modes},
            "gan": {"estimate_distance_r": r_gan, "energy_distance": 0.03,
                    "modes_covered": gan_modes},
            "single Gaussian": {"energy_distance": 0.10, "modes_covered": 8.0}}


def test_claims_margins_and_verdicts():
    m = metrics()
    assert verdict(CLAIMS["mini-estimate-tracks-quality"], "mini", m)["margins"] == pytest.approx(
        {"r >= 0.7": 0.2})
    assert verdict(CLAIMS["mini-samples"], "mini", m)["margins"] == pytest.approx(
        {"single Gaussian": 0.10 - 0.04 - 0.02})
    assert verdict(CLAIMS["mini-samples"], "mini", m)["verdict"] == REPRODUCED
    assert verdict(CLAIMS["mini-estimate-tracks-quality"], "mini", metrics(r=0.5))["verdict"] \
        == NOT_REPRODUCED
    assert verdict(CLAIMS["mini-samples"], "mini", metrics(ed=0.09))["verdict"] == NOT_REPRODUCED
    assert not CLAIMS["mini-no-collapse"].expected and not CLAIMS["mini-js-does-not-track"].expected
    assert verdict(CLAIMS["mini-no-collapse"], "mini", metrics(modes=8, gan_modes=1))["verdict"] \
        == REPRODUCED
    assert verdict(CLAIMS["lsun-no-bn"], "mini", m)["verdict"] == "not applicable"
