"""ResNeXt: torchvision's resnext50_32x4d weights give our ResNeXt-50 the same outputs, the
block is Fig. 3(c) (a grouped 3x3 equals the sum of C separate paths, Eq. 3), the miniature's
two nets have the same complexity, and its claims compare what they say (pure functions of a
metrics dict)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
import torchvision

from reproductions import resnext
from reproductions.common.claims import (
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)

CLAIMS = {c.id: c for c in resnext.CLAIMS}


def test_torchvision_resnext50_32x4d_weights_give_the_same_outputs():
    torch.manual_seed(0)
    reference = torchvision.models.resnext50_32x4d().eval()  # random init, nothing downloaded
    ours = resnext.build_model(resnext.PRESETS["paper"]).eval()
    ours.load_state_dict(reference.state_dict())  # strict: every name and shape matches
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x), atol=1e-5, rtol=1e-4)


def test_resnet50_preset_is_torchvisions_resnet50_v1_5():
    with torch.device("meta"):
        ours = resnext.build_model(resnext.PRESETS["resnet50-1x64d"]).state_dict()
        reference = torchvision.models.resnet50().state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in reference.items()}


def test_grouped_convolution_is_the_sum_of_c_separate_paths():
    """Fig. 3(c) == Fig. 3(a) at the 3x3: C groups of d channels, each path seeing only its own
    d input channels, concatenated (the 1x1 after it then sums over paths, Eq. 3)."""
    torch.manual_seed(0)
    block = resnext.Block(c_in=64, planes=16, width=4 * 6, stride=1, cardinality=4)
    x = torch.randn(2, 24, 5, 5)  # (B, C*d, H, W)
    w = block.conv2.weight  # (C*d, d, 3, 3)
    paths = [F.conv2d(x[:, 6 * i:6 * (i + 1)], w[6 * i:6 * (i + 1)], padding=1) for i in range(4)]
    assert torch.allclose(block.conv2(x), torch.cat(paths, 1), atol=1e-6)


def test_width_is_cardinality_times_d_and_doubles_per_stage():
    model = resnext.build_model(resnext.PRESETS["paper"])
    assert [getattr(model, f"layer{i}")[0].conv2.groups for i in range(1, 5)] == [32] * 4
    assert [getattr(model, f"layer{i}")[0].conv2.out_channels for i in range(1, 5)] == \
        [128, 256, 512, 1024]  # Table 1: 32 x 4d = 128, then doubled
    assert model.layer2[0].conv2.stride == (2, 2)  # Sec. 4: stride on the 3x3


def test_paper_multiply_adds_are_table_1s_4_2_billion():
    model = resnext.build_model(resnext.PRESETS["paper"])
    assert resnext.multiply_adds(model, torch.zeros(1, 3, 224, 224)) == pytest.approx(4.2e9, rel=0.01)


def test_mini_nets_match_in_parameters_and_multiply_adds_within_5_percent():
    x = torch.zeros(1, 1, 14, 14)
    found = {}
    for name, cfg in resnext.variants(resnext.PRESETS["mini"]).items():
        model = resnext.build_model(cfg)
        found[name] = (sum(p.numel() for p in model.parameters()), resnext.multiply_adds(model, x))
    assert found["resnext"][0] == 123_994 and found["resnet"][0] == 128_810
    for i in (0, 1):
        assert abs(found["resnext"][i] / found["resnet"][i] - 1) < 0.05
    assert resnext.variants(dataclasses.replace(resnext.PRESETS["mini"], compare_cardinality=(0, 0))) \
        .keys() == {"main"}


def metrics(rx=0.976, rn=0.974, nn=0.945, logreg=0.89, params=(123_994, 128_810),
            macs=(4_576_000, 4_445_824)):
    return {"resnext": {"test_accuracy": rx, "test_loss": 0.08, "parameters": params[0],
                        "multiply_adds": macs[0]},
            "resnet": {"test_accuracy": rn, "test_loss": 0.09, "parameters": params[1],
                       "multiply_adds": macs[1]},
            "1-NN pixels": {"test_accuracy": nn}, "logistic regression pixels": {"test_accuracy": logreg}}


def test_claims_compare_with_the_control_and_the_baselines():
    m = metrics()
    rows = {c: verdict(CLAIMS[c], "mini", m) for c in CLAIMS}
    assert rows["equal-complexity"]["verdict"] == REPRODUCED
    assert rows["beats-pixel-baselines"]["margins"] == pytest.approx(
        {"1-NN pixels": 0.976 - 0.945 - 0.01, "logistic regression pixels": 0.976 - 0.89 - 0.01})
    assert rows["cardinality"]["margins"] == pytest.approx({"resnet": 0.002})
    assert rows["cardinality"]["verdict"] == REPRODUCED
    assert verdict(CLAIMS["cardinality"], "mini", metrics(rx=0.97))["verdict"] == \
        NOT_REPRODUCED_IN_MINIATURE  # stated beforehand: not expected at this size


def test_unequal_complexity_or_a_net_no_better_than_1nn_fails():
    assert verdict(CLAIMS["equal-complexity"], "mini",
                   metrics(params=(123_994, 200_000)))["verdict"] == NOT_REPRODUCED
    assert verdict(CLAIMS["beats-pixel-baselines"], "mini", metrics(rx=0.95))["verdict"] == \
        NOT_REPRODUCED
