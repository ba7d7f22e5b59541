"""DeepLab: torchvision's deeplabv3_resnet50 weights load and give the same logits, ASPP's rates
follow the output stride (Sec. 3.3), multi-grid (Sec. 3.2), the atrous and strided controls
share their parameters but not their resolution, DeepLab-v1's LargeFOV keeps stride 8, and the
claims read the right variants and baselines."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn as nn

from reproductions import deeplab
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

TINY = deeplab.PRESETS["tiny"]
CLAIMS = {c.id: c for c in deeplab.CLAIMS}


def rates(model):
    aspp = model.classifier[0]
    return [m[0].dilation[0] for m in list(aspp.convs)[1:-1]]


def test_torchvision_deeplabv3_weights_load_and_give_the_same_logits():
    from torchvision.models.segmentation import deeplabv3_resnet50

    torch.manual_seed(0)
    ref = deeplabv3_resnet50(weights=None, weights_backbone=None, aux_loss=False)
    for m in ref.modules():  # non-trivial BN statistics, so eval mode is really tested
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ours = deeplab.build_model(deeplab.PRESETS["torchvision"])
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 33, 33)
    with torch.no_grad():
        theirs, mine = ref.eval()(x)["out"], ours.eval()(x)
    assert mine.shape == (1, 21, 33, 33)
    torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-4)


def test_aspp_rates_double_when_the_output_stride_halves_and_multi_grid_sets_block4():
    with torch.device("meta"):
        paper = deeplab.build_model(deeplab.PRESETS["paper"])
        tv = deeplab.build_model(deeplab.PRESETS["torchvision"])
    assert rates(paper) == [6, 12, 18]  # Sec. 3.3, output stride 16
    assert rates(tv) == [12, 24, 36]  # output stride 8
    assert [b.conv2.dilation[0] for b in paper.backbone.layer4] == [2, 4, 8]  # 2 x (1, 2, 4)
    assert [b.conv2.stride[0] for b in paper.backbone.layer3] == [2, 1, 1, 1, 1, 1]
    assert [b.conv2.dilation[0] for b in tv.backbone.layer3] == [1, 2, 2, 2, 2, 2]
    assert [b.conv2.dilation[0] for b in tv.backbone.layer4] == [2, 4, 4]


def test_atrous_and_strided_nets_share_parameters_but_not_resolution():
    runs = deeplab.variants(deeplab.PRESETS["mini"])
    assert list(runs) == ["atrous", "strided"]
    atrous, strided = (deeplab.build_model(runs[v]) for v in ("atrous", "strided"))
    strided.load_state_dict(atrous.state_dict())  # same names and shapes
    x = torch.randn(2, 3, 40, 40)

    def features(net):
        b = net.backbone
        return b.layer4(b.layer3(b.layer2(b.layer1(torch.relu(b.bn1(b.conv1(x)))))))

    assert features(atrous).shape[-1] == 20 and features(strided).shape[-1] == 5
    assert atrous(x).shape == strided(x).shape == (2, 3, 40, 40)


def test_deeplab_v1_large_fov_scores_at_stride_8():
    with torch.device("meta"):
        net = deeplab.build_model(deeplab.PRESETS["paper-v1"])
        h = net.features(torch.empty(1, 3, 321, 321))
    assert h.shape[-1] == 41  # ceil(321 / 8): pool4 and pool5 keep the resolution
    assert net.fc6.kernel_size == (3, 3) and net.fc6.dilation == (12, 12)  # LargeFOV


def test_scenes_are_seeded_and_hold_both_shapes():
    x, y = deeplab.context_scenes(20, 40, seed=3)
    assert x.shape == (20, 3, 40, 40) and set(y.unique().tolist()) == {0, 1, 2}
    assert torch.equal(y, deeplab.context_scenes(20, 40, seed=3)[1])


def metrics(atrous=0.80, strided=0.60, b_atrous=0.9, b_strided=0.7):
    return {"atrous": {"mean_iou": atrous, "boundary_accuracy": b_atrous},
            "strided": {"mean_iou": strided, "boundary_accuracy": b_strided},
            "majority": {"mean_iou": 0.27}, "threshold": {"mean_iou": 0.50}}


def test_claims_measure_margins_over_the_strided_net_and_the_baselines():
    m = metrics()
    assert verdict(CLAIMS["atrous-vs-strided"], "mini", m)["margins"] == pytest.approx(
        {"strided": 0.80 - 0.60 - 0.05})
    assert verdict(CLAIMS["beats-trivial"], "mini", m)["margins"] == pytest.approx(
        {"majority": 0.80 - 0.27 - 0.2, "threshold": 0.80 - 0.50 - 0.2})
    for cid in ("atrous-vs-strided", "hole-algorithm-boundaries", "beats-trivial"):
        assert verdict(CLAIMS[cid], "mini", m)["verdict"] == REPRODUCED, cid
    assert verdict(CLAIMS["atrous-vs-strided"], "mini", metrics(strided=0.78))["verdict"] \
        == NOT_REPRODUCED


def test_tiny_step_trains():
    net = deeplab.build_model(TINY)
    x, y = next(iter(deeplab.build_data(dataclasses.replace(TINY))[0]))
    out = deeplab.training_step(net, (x, y))
    assert torch.isfinite(out["loss"])
