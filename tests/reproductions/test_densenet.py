"""DenseNet: torchvision's densenet121 weights give our DenseNet-121 the same outputs, dense
connectivity and compression are the paper's, and the miniature's claim compares the DenseNet
with the ResNet control and the pixel baselines (a pure function of a metrics dict)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torchvision

from reproductions import densenet
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

CLAIM = {c.id: c for c in densenet.CLAIMS}["parameter-efficiency"]


def test_torchvision_densenet121_weights_give_the_same_outputs():
    torch.manual_seed(0)
    reference = torchvision.models.densenet121().eval()  # random init, nothing downloaded
    ours = densenet.build_model(densenet.PRESETS["paper"]).eval()
    ours.load_state_dict(reference.state_dict())  # strict: every name and shape matches
    x = torch.randn(2, 3, 32, 32)  # 32 -> 8 after the stem, 1x1 in the last block
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("preset", "builder"), [("densenet169", "densenet169"),
                                                 ("densenet201", "densenet201"),
                                                 ("densenet161", "densenet161")])
def test_larger_presets_have_torchvisions_names_and_shapes(preset, builder):
    with torch.device("meta"):
        ours = densenet.build_model(densenet.PRESETS[preset]).state_dict()
        reference = getattr(torchvision.models, builder)().state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in reference.items()}


def test_each_dense_layer_sees_every_earlier_feature_map_and_adds_k():
    cfg = dataclasses.replace(densenet.PRESETS["cifar-bc100"], growth_rate=12)
    model = densenet.build_model(cfg)
    block = model.features.denseblock1
    x = torch.randn(2, 24, 8, 8)  # 2k channels from the first convolution
    assert block.denselayer5.norm1.num_features == 24 + 4 * 12  # [x_0, ..., x_4] (Eq. 2)
    assert block.denselayer5.conv1.out_channels == 4 * 12  # bottleneck: 4k (DenseNet-B)
    assert block(x).shape == (2, 24 + 16 * 12, 8, 8)
    assert torch.equal(block(x)[:, :24], x)  # the block's input is passed on unchanged


def test_transitions_compress_by_theta_and_halve_the_resolution():
    model = densenet.build_model(densenet.PRESETS["cifar-bc100"])
    t = model.features.transition1
    assert (t.conv.in_channels, t.conv.out_channels) == (24 + 16 * 12, (24 + 16 * 12) // 2)
    assert t(torch.randn(1, 216, 8, 8)).shape == (1, 108, 4, 4)
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 10)


def test_mini_densenet_has_at_most_half_the_resnet_controls_parameters():
    nets = {v: densenet.build_model(c) for v, c in densenet.variants(densenet.PRESETS["mini"]).items()}
    counts = {v: sum(p.numel() for p in m.parameters()) for v, m in nets.items()}
    assert counts == {"densenet": 46_362, "resnet": 97_198}


def metrics(dense=0.975, res=0.974, nn=0.945, logreg=0.89, dense_params=46_362, res_params=97_198):
    return {"densenet": {"test_accuracy": dense, "parameters": dense_params},
            "resnet": {"test_accuracy": res, "parameters": res_params},
            "1-NN pixels": {"test_accuracy": nn}, "logistic regression pixels": {"test_accuracy": logreg}}


def test_parameter_efficiency_margins_name_the_control_and_the_baselines():
    row = verdict(CLAIM, "mini", metrics())
    assert row["verdict"] == REPRODUCED
    assert row["margins"] == pytest.approx({
        "resnet": 0.975 - 0.974 + 0.01, "resnet parameters": 97_198 / 46_362 - 2,
        "1-NN pixels": 0.975 - 0.945 - 0.01, "logistic regression pixels": 0.975 - 0.89 - 0.01})


@pytest.mark.parametrize("bad", [dict(dense=0.96, res=0.975),  # clearly worse than the ResNet
                                 dict(dense=0.95),  # no better than 1-NN on pixels
                                 dict(res_params=80_000)])  # the ResNet is not twice as big
def test_parameter_efficiency_fails_when_one_comparison_fails(bad):
    assert verdict(CLAIM, "mini", metrics(**bad))["verdict"] == NOT_REPRODUCED


def test_nets_and_baselines_see_mnist_5k_averaged_down_to_14x14():
    xtr, ytr, xte, yte = densenet.tensor_split(densenet.PRESETS["mini"])
    assert (xtr.shape, xte.shape) == ((4000, 1, 14, 14), (1000, 1, 14, 14))
    assert abs(float(xtr.mean())) < 0.2  # standardised with MNIST's statistics
    assert densenet.baselines(densenet.PRESETS["paper"]) == {}  # ImageNet: none computed
