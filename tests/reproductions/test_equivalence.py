"""Reference equivalence: our networks, given a reference's weights, compute its logits.

Weights are the references' random initialisation (nothing is downloaded); BatchNorm running
statistics are randomised first so that the eval-mode forward pass exercises them too.
"""

from __future__ import annotations

import dataclasses

import pytest
import timm
import torch
import torchvision

from reproductions import alexnet, resnet, vit


def _randomise_batchnorm(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)


def _assert_same_logits(ours: torch.nn.Module, reference: torch.nn.Module, x: torch.Tensor):
    ours.load_state_dict(reference.state_dict())  # strict: every name and shape must match
    ours.eval(), reference.eval()
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert expected.std() > 0  # not a degenerate comparison
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.fixture
def image():
    return torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))


def test_alexnet_torchvision_preset_gives_torchvisions_logits(image):
    torch.manual_seed(0)
    _assert_same_logits(alexnet.build_model(alexnet.PRESETS["torchvision"]),
                        torchvision.models.alexnet(), image)


def test_alexnet_lrn_is_the_papers_formula_and_equals_torchs():
    a = torch.randn(2, 16, 5, 5) * 3
    ours = alexnet.LocalResponseNorm()(a)
    # Sec. 3.3 by hand for one activation: channel 7, position (2, 3), neighbours 5..9
    by_hand = a[0, 7, 2, 3] / (2 + 1e-4 * (a[0, 5:10, 2, 3] ** 2).sum()) ** 0.75
    torch.testing.assert_close(ours[0, 7, 2, 3], by_hand)
    torch.testing.assert_close(ours, torch.nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)(a))


def test_alexnet_paper_network_produces_1000_logits_from_227_pixels():
    model = alexnet.build_model(alexnet.PRESETS["paper"]).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 227, 227)).shape == (1, 1000)


def test_resnet50_v1_5_gives_timms_logits(image):
    torch.manual_seed(0)
    reference = timm.create_model("resnet50")
    _randomise_batchnorm(reference)
    _assert_same_logits(resnet.build_model(resnet.PRESETS["resnet50-v1.5"]), reference, image[:1])


def test_resnet50_with_the_papers_stride_placement_differs_from_v1_5(image):
    torch.manual_seed(0)
    reference = timm.create_model("resnet50").eval()
    _randomise_batchnorm(reference)  # timm zero-inits each block's last BN: branches would be 0
    ours = resnet.build_model(resnet.PRESETS["resnet50"]).eval()
    ours.load_state_dict(reference.state_dict())  # same shapes: only the stride moved
    with torch.no_grad():
        assert not torch.allclose(ours(image[:1]), reference(image[:1]), atol=1e-3)


def test_resnet18_gives_torchvisions_logits(image):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18()
    _randomise_batchnorm(reference)
    _assert_same_logits(resnet.build_model(resnet.PRESETS["resnet18"]), reference, image[:1])


def test_cifar_resnet_option_a_shortcut_pads_with_zeros():
    block = resnet.ShortcutA(16, 32, stride=2)
    x = torch.randn(2, 16, 8, 8)
    y = block(x)  # (2, 32, 4, 4)
    assert y.shape == (2, 32, 4, 4)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])
    assert not y[:, 16:].any()
    assert not list(block.parameters())  # option A is parameter-free (Sec. 3.3)


def test_plain_net_has_no_shortcuts_and_the_same_weights_as_the_residual_net():
    cfg = resnet.PRESETS["resnet20"]
    residual = resnet.build_model(cfg)
    plain = resnet.build_model(dataclasses.replace(cfg, residual=False))
    assert residual.state_dict().keys() == plain.state_dict().keys()  # option A: no extra weights
    plain.load_state_dict(residual.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(plain.eval()(x), residual.eval()(x))


def test_vit_b16_gives_timms_logits(image):
    torch.manual_seed(0)
    _assert_same_logits(vit.build_model(vit.PRESETS["paper"]),
                        timm.create_model("vit_base_patch16_224"), image[:1])
