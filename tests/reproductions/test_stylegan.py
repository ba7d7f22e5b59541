"""StyleGAN: the paper-size generators' parameter counts (Sec. 2), AdaIN (Eq. 1), noise inputs,
style mixing and truncation, the Sec. 4 measurements, and the claims' margins."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from reproductions import stylegan as S
from reproductions.common.claims import (
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)

TINY = S.PRESETS["tiny"]
CLAIMS = {c.id: c for c in S.CLAIMS}


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_paper_generators_have_the_parameter_counts_of_sec_2():
    with torch.device("meta"):
        style = S.build_model(S.PRESETS["paper"])
        traditional = S.build_model(S.PRESETS["paper-traditional"])
    assert count(style.generator) == 26_219_627  # "26.2M"
    assert count(style.generator.mapping) == 8 * (512 * 512 + 512)
    assert count(traditional.generator) == 23_079_115  # "23.1M"
    assert count(style.discriminator) == count(traditional.discriminator) == 23_087_249
    g = style.generator
    assert g.num_layers == 18 and tuple(g.synthesis.const.shape) == (1, 512, 4, 4)
    assert S.widths(S.PRESETS["paper"]) == [512, 512, 512, 512, 256, 128, 64, 32, 16]
    assert "w_avg" in dict(g.named_buffers()) and "w_avg" not in dict(g.named_parameters())


def test_adain_gives_each_channel_the_style_mean_and_std():
    layer = S.AdaIN(channels=3, w_dim=4)
    x, w = torch.randn(2, 3, 8, 8) * 5 + 2, torch.randn(2, 4)
    y_s, y_b = layer.affine(w).chunk(2, dim=1)  # (2, 3) each
    out = layer(x, w)
    assert torch.allclose(out.mean((2, 3)), y_b, atol=1e-4)
    assert torch.allclose(out.std((2, 3), unbiased=False), y_s.abs(), atol=1e-3)


def test_noise_is_one_image_scaled_per_channel_and_starts_switched_off():
    noise_in = S.NoiseInput(3)
    x, noise = torch.zeros(2, 3, 4, 4), torch.randn(2, 1, 4, 4)
    assert torch.equal(noise_in(x, noise), x)  # B = 0 at initialisation
    with torch.no_grad():
        noise_in.weight.copy_(torch.tensor([1.0, 2.0, -1.0]))
    out = noise_in(x, noise)
    assert torch.allclose(out[:, 1], 2 * noise[:, 0]) and torch.allclose(out[:, 2], -noise[:, 0])


def built(cfg=TINY):
    torch.manual_seed(0)
    model = S.build_model(dataclasses.replace(cfg, generator="style")).eval()
    for p in model.generator.parameters():  # noise scales away from 0, so noise matters
        if p.ndim == 1 and p.numel() < 64:
            torch.nn.init.normal_(p, std=0.5)
    return model


def test_truncation_psi_0_maps_every_latent_to_the_average_w():
    g = built().generator
    w = g.mapping(torch.randn(5, TINY.z_dim))
    ws = g.styles(w, psi=0.0)
    assert torch.allclose(ws, g.w_avg.expand(5, g.num_layers, -1))
    assert torch.equal(g.styles(w), w[:, None].expand(-1, g.num_layers, -1))


def test_mixed_styles_change_only_the_layers_after_the_crossover():
    g = built().generator
    w_a, w_b = g.mapping(torch.randn(4, TINY.z_dim)), g.mapping(torch.randn(4, TINY.z_dim))
    noise = S.fixed_noise(g, 4)
    s_a, s_b = g.styles(w_a), g.styles(w_b)
    x_a = g.synthesis(s_a, noise)
    assert torch.allclose(g.synthesis(s_a.clone(), noise), x_a)  # fixed noise: deterministic
    for cut in (2, 4):  # after the 4x4 layers, after the 8x8 layers
        assert not torch.allclose(g.synthesis(torch.cat([s_a[:, :cut], s_b[:, cut:]], 1), noise),
                                  x_a)
        hooked = {}
        handle = g.synthesis.layers[cut - 1].register_forward_hook(
            lambda mod, inp, out: hooked.setdefault(len(hooked), out))
        g.synthesis(s_a, noise)
        g.synthesis(torch.cat([s_a[:, :cut], s_b[:, cut:]], 1), noise)
        handle.remove()
        assert torch.equal(hooked[0], hooked[1])  # layers before the crossover see A's styles only


def test_training_step_mixes_styles_and_skips_r1_without_gradients():
    model = built()
    model.train()
    x = torch.randn(8, 1, 16, 16)
    out = S.training_step(model, (x, torch.zeros(8, dtype=torch.long)))
    assert out["r1"] > 0 and len(out["losses"]) == 2
    with torch.no_grad():
        assert S.training_step(model, (x, torch.zeros(8, dtype=torch.long)))["r1"] == 0


def test_separability_is_1_for_linearly_separable_classes_and_higher_for_noise():
    torch.manual_seed(0)
    labels = torch.arange(200) % 10
    proba = torch.nn.functional.one_hot(labels, 10).float() * 0.9 + 0.01
    separable = torch.nn.functional.one_hot(labels, 10).double() * 10 + torch.randn(200, 10) * 0.1
    assert S.separability(separable, proba) == pytest.approx(1.0)
    assert S.separability(torch.randn(200, 2), proba) > 2.0  # 2-d noise: no plane separates


def test_slerp_stays_on_the_sphere_and_hits_its_ends():
    a, b = torch.randn(3, 8), torch.randn(3, 8)
    mid = S.slerp(a, b, torch.full((3, 1), 0.3))
    assert torch.allclose(mid.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.allclose(S.slerp(a, b, torch.zeros(3, 1)), torch.nn.functional.normalize(a, dim=1),
                          atol=1e-5)


def metrics(coarse=0.8, fine=0.1, sep=(2.0, 4.0, 3.0), path=(0.5, 2.0, 2.5)):
    style = {"mix_follows_coarse": coarse, "mix_follows_fine": fine, "separability_w": sep[0],
             "separability_z": sep[1], "path_length_w": path[0], "path_length_z": path[1],
             "noise_keeps_class": 0.5, "noise_pixel_change_ratio": 0.7, "precision": 0.1}
    return {"style": style, "traditional": {"separability_z": sep[2], "path_length_z": path[2],
                                            "precision": 0.1},
            "Gaussian pixels": {"precision": 0.25}}


def test_claims_measure_their_margins_against_the_named_controls():
    m = metrics()
    mixing = verdict(CLAIMS["mini-style-mixing"], "mini", m)
    assert mixing["margins"] == pytest.approx({"fine source": 0.8 - 0.1 - 0.3})
    assert mixing["verdict"] == REPRODUCED
    paths = verdict(CLAIMS["mini-path-length"], "mini", m)
    assert paths["margins"] == pytest.approx({"path length in Z": math.log(4.0) - math.log(1.2)})
    assert paths["verdict"] == REPRODUCED
    assert verdict(CLAIMS["mini-separability"], "mini", m)["margins"] == pytest.approx(
        {"separability in Z": math.log(2.0) - math.log(1.2)})
    assert verdict(CLAIMS["mini-quality"], "mini", m)["verdict"] == NOT_REPRODUCED_IN_MINIATURE
    assert verdict(CLAIMS["mini-style-mixing"], "mini", metrics(coarse=0.4, fine=0.3))[
        "verdict"] == NOT_REPRODUCED_IN_MINIATURE
    assert verdict(CLAIMS["mini-path-length"], "mini", metrics(path=(1.0, 1.1, 2.0)))[
        "verdict"] == NOT_REPRODUCED


def test_mini_trains_both_generators_against_the_same_discriminator():
    runs = S.variants(S.PRESETS["mini"])
    assert {n: c.generator for n, c in runs.items()} == {"style": "style",
                                                          "traditional": "traditional"}
    style, traditional = runs["style"], runs["traditional"]
    assert dataclasses.replace(traditional, generator="style") == style
    models = {n: S.build_model(c) for n, c in runs.items()}
    assert count(models["style"].discriminator) == count(models["traditional"].discriminator)


def test_paper_presets_need_ffhq():
    from reproductions.common.config import ConfigError

    with pytest.raises(ConfigError, match="FFHQ"):
        S.build_data(S.PRESETS["paper"])
