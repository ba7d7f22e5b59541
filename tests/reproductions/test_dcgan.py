"""DCGAN: Fig. 1's generator layer by layer, the guidelines of Sec. 3 (where batch norm goes, which
units), Sec. 4's optimizer, the judge's scores, and the claims' margins."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from reproductions import dcgan
from reproductions.common.claims import (
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)

CLAIMS = {c.id: c for c in dcgan.CLAIMS}
TINY = dcgan.PRESETS["tiny"]


def count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_paper_generator_follows_fig_1():
    with torch.device("meta"):
        model = dcgan.build_model(dcgan.PRESETS["paper"])
    convs = [m for m in model.generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (100, 1024), (1024, 512), (512, 256), (256, 128), (128, 3)]
    assert [c.stride for c in convs] == [(1, 1)] + [(2, 2)] * 4  # fractionally-strided
    assert count(model.generator) == 12_658_432 and count(model.discriminator) == 11_036_160


def test_shapes_of_the_paper_networks():
    model = dcgan.build_model(dataclasses.replace(dcgan.PRESETS["paper"], nf=8))
    x = model.sample(2)
    assert x.shape == (2, 3, 64, 64) and x.abs().max() <= 1  # Tanh output
    assert model.critic(x).shape == (2,)


def test_batch_norm_everywhere_but_g_output_and_d_input():
    model = dcgan.build_model(TINY)
    g, d = list(model.generator.main), list(model.discriminator.main)
    assert isinstance(g[-1], nn.Tanh) and isinstance(g[-2], nn.ConvTranspose2d)  # no BN at output
    assert isinstance(d[1], nn.LeakyReLU) and d[1].negative_slope == 0.2  # no BN on D's input layer
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g) == 2  # 16x16: every hidden layer
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d) == 1
    assert all(not isinstance(m, (nn.Linear, nn.MaxPool2d)) for m in model.modules())
    no_bn = dcgan.build_model(dataclasses.replace(TINY, bn_g=False))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in no_bn.generator.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in no_bn.discriminator.modules())


def test_adam_of_sec_4_one_per_player():
    model = dcgan.build_model(TINY)
    (opt_g, opt_d), _ = dcgan.build_optimizer(model, dcgan.PRESETS["paper"])
    assert opt_g.defaults["lr"] == 2e-4 and opt_g.defaults["betas"] == (0.5, 0.999)
    assert {id(p) for g in opt_g.param_groups for p in g["params"]} == \
        {id(p) for p in model.generator.parameters()}
    assert {id(p) for g in opt_d.param_groups for p in g["params"]} == \
        {id(p) for p in model.discriminator.parameters()}


def test_mini_variants_have_about_the_same_size():
    sizes = {k: count(dcgan.build_model(c)) for k, c in dcgan.variants(dcgan.PRESETS["mini"]).items()}
    assert sizes["main"] == 100_672 and sizes["mlp"] == 103_297
    assert sizes["no-bn-g"] < sizes["main"]


def test_judge_scores_real_digits_high_and_one_image_at_one():
    _, _, xte, _ = dcgan.digits16()
    real = dcgan.judge_scores(xte, iters=10)
    one = dcgan.judge_scores(xte[:1].expand(200, -1, -1, -1), iters=10)
    assert real["inception_like"] > 4 and one["inception_like"] == pytest.approx(1.0, abs=1e-4)
    assert one["frechet"] > real["frechet"]


def metrics(main=(6.2, 25.0), mlp=(2.0, 150.0), nobn=(1.0, 500.0), gauss=(6.2, 6.0)):
    pair = lambda v: {"inception_like": v[0], "frechet": v[1]}  # noqa: E731
    return {"main": pair(main), "mlp": pair(mlp), "no-bn-g": pair(nobn),
            "pixel Gaussian": pair(gauss), "mean image": pair((1.0, 190.0)),
            "real digits": pair((9.4, 1.7))}


def test_claims_margins():
    assert verdict(CLAIMS["mini-guidelines"], "mini", metrics())["verdict"] == REPRODUCED
    close = metrics(mlp=(5.0, 40.0))  # MLP nearly as good: the margin is not met
    assert verdict(CLAIMS["mini-guidelines"], "mini", close)["verdict"] == NOT_REPRODUCED
    assert verdict(CLAIMS["mini-bn-collapse"], "mini", metrics())["verdict"] == REPRODUCED
    learns = metrics(nobn=(4.0, 60.0))
    assert verdict(CLAIMS["mini-bn-collapse"], "mini", learns)["verdict"] == NOT_REPRODUCED
    assert verdict(CLAIMS["mini-beats-pixel-gaussian"], "mini", metrics())["verdict"] == \
        NOT_REPRODUCED_IN_MINIATURE
