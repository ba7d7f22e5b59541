"""Style transfer (Gatys, Johnson, Ulyanov, Huang): the Gram matrix, AdaIN, the networks'
layouts against torchvision's VGG, instance norm's invariance, one step of each method."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn as nn

from reproductions import style as S


def small(preset: str, **kw) -> S.Config:
    """A preset cut down to a fast test size."""
    sizes = dict(image_size=16, random_widths=(4, 8, 8), net_widths=(4, 8, 8), res_blocks=1,
                 train_images=8, test_images=2)
    return dataclasses.replace(S.PRESETS[preset], **(sizes | kw))


def test_gram_is_eq_3_and_layer_loss_is_eq_4():
    torch.manual_seed(0)
    f, a = torch.randn(2, 3, 4, 5), torch.randn(1, 3, 4, 5)
    F_ = f.reshape(2, 3, 20)
    loops = torch.tensor([[[sum(F_[b, i, k] * F_[b, j, k] for k in range(20)) for j in range(3)]
                           for i in range(3)] for b in range(2)])
    assert torch.allclose(S.gram(f, normalize=False), loops, atol=1e-5)
    assert torch.allclose(S.gram(f), loops / 60, atol=1e-6)
    A = S.gram(a, normalize=False)
    expected = ((S.gram(f, normalize=False) - A) ** 2).sum((1, 2)).mean() / (4 * 9 * 20**2)
    assert torch.allclose(S.gatys_layer_loss(f, A), expected)


def test_adain_is_eq_8_and_gives_the_style_statistics():
    torch.manual_seed(0)
    x, y = torch.randn(2, 4, 6, 6) * 3 + 1, torch.randn(2, 4, 5, 7) * 0.5 - 2
    out = S.adain(x, y)
    mx, vx = x.mean((2, 3), keepdim=True), x.var((2, 3), keepdim=True, unbiased=False)
    my, vy = y.mean((2, 3), keepdim=True), y.var((2, 3), keepdim=True, unbiased=False)
    eq8 = (vy + 1e-5).sqrt() * (x - mx) / (vx + 1e-5).sqrt() + my
    assert torch.allclose(out, eq8, atol=1e-6)
    assert torch.allclose(out.mean((2, 3)), y.mean((2, 3)), atol=1e-5)
    assert torch.allclose(out.std((2, 3), unbiased=False), y.std((2, 3), unbiased=False), atol=1e-3)


def test_paper_loss_net_is_torchvision_vgg19_features_with_average_pooling():
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    ours = S.build_loss_net(S.PRESETS["paper"])
    ref = make_layers(cfgs["E"])  # torchvision vgg19().features, randomly initialised
    ours.features.load_state_dict(ref.state_dict())  # same names, same shapes
    ref = nn.Sequential(*[nn.AvgPool2d(2, 2) if isinstance(m, nn.MaxPool2d) else m for m in ref])
    x = torch.rand(1, 3, 32, 32)
    taps = ours(x)
    with torch.no_grad():
        for i, m in enumerate(ref):
            x = m(x)
            if i in taps:
                assert torch.allclose(taps[i], x, atol=1e-5), i
    assert sorted(taps) == [1, 6, 11, 20, 29]  # conv1_1 ... conv5_1 (after ReLU)


def test_paper_networks_have_the_computed_parameter_counts():
    with torch.device("meta"):
        johnson = S.build_model(S.PRESETS["paper-johnson"])
        adain = S.build_model(S.PRESETS["paper-adain"])
        ulyanov = S.build_model(S.PRESETS["paper-in"])
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(johnson.net) == count(ulyanov.net) == 1_679_235
    assert count(johnson.loss_net) == 7_635_264  # VGG-16 conv1_1 ... conv4_3
    assert count(adain.loss_net) == 3_505_728 and count(adain.decoder) == 3_505_219
    assert isinstance(ulyanov.net.body[1], nn.InstanceNorm2d)


def test_adain_decoder_mirrors_the_encoder_back_to_image_size():
    torch.manual_seed(0)
    model = S.build_model(small("mini-adain"))
    c, s = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    out, t = model(c, s)
    assert out.shape == c.shape and t.shape[1] == 8
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in model.decoder)


def test_instance_norm_network_ignores_contrast_and_brightness_batch_norm_does_not():
    torch.manual_seed(0)
    x = torch.rand(3, 3, 16, 16)
    changes = {}
    for norm in ("instance", "batch"):
        net = S.build_model(small("mini-in", norm=norm, net_widths=(16, 32, 64))).net
        net.train()
        net(torch.rand(8, 3, 16, 16))  # give BN running statistics other than the defaults
        net.eval()
        with torch.no_grad():
            changes[norm] = (net(x) - net(0.3 * x + 0.2)).abs().max().item()
    assert changes["instance"] < 1e-3 < changes["batch"]


@pytest.mark.parametrize("preset", ["mini", "mini-johnson", "mini-adain"])
def test_one_step_trains_only_what_the_method_trains(preset):
    cfg = small(preset, batch_size=2)
    torch.manual_seed(0)
    model = S.build_model(cfg)
    batches, _ = S.build_data(cfg)
    out = S.training_step(model, batches[0])
    assert torch.isfinite(out["loss"]) and out["loss"] > 0
    out["loss"].backward()
    assert all(p.grad is None for p in model.loss_net.parameters())  # the loss net is fixed
    trained = [n for n, p in model.named_parameters() if p.grad is not None]
    assert trained and all(n.split(".")[0] in ("image", "net", "decoder") for n in trained)


def test_textures_are_deterministic_and_oriented():
    cols = S.STYLE_COLOURS
    a = S.texture(32, 0.0, 6.0, cols, seed=1)
    assert torch.equal(a, S.texture(32, 0.0, 6.0, cols, seed=1))
    assert a.min() >= 0 and a.max() <= 1
    # stripes of constant x-phase (angle 0: the wave runs along x): gradients point along x
    h = S.orientation_histogram(a)
    assert h[0] + h[-1] > 0.5


def test_paper_presets_refuse_to_run_without_pretrained_weights():
    with pytest.raises(ValueError):
        S.build_data(S.PRESETS["paper"])
