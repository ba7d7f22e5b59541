"""VGG: torchvision's vgg11-19 (and _bn) weights give torchvision's logits in our nets, Table 1's
configurations have the paper's layer counts, Sec. 2.3's receptive field and weight counts are
measured, and the miniature's claims compare what they say (pure functions of a metrics dict)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn as nn
import torchvision

from reproductions import vgg
from reproductions.alexnet import LocalResponseNorm
from reproductions.common.claims import (
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)

MINI = vgg.PRESETS["mini"]
CLAIMS = {c.id: c for c in vgg.CLAIMS}


@pytest.mark.parametrize(("preset", "reference"), [
    ("vgg11", "vgg11"), ("vgg13", "vgg13"), ("vgg16", "vgg16"), ("vgg19", "vgg19"),
    ("vgg11-bn", "vgg11_bn"), ("vgg16-bn", "vgg16_bn")])
def test_torchvision_weights_give_torchvisions_logits(preset, reference):
    torch.manual_seed(0)
    ref = getattr(torchvision.models, reference)().eval()
    for m in ref.modules():  # randomise BN statistics so eval mode exercises them
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    with torch.device("meta"):  # 138M parameters: take the reference's tensors, no init
        ours = vgg.build_model(vgg.PRESETS[preset])
    ours.load_state_dict(ref.state_dict(), assign=True)  # strict: every name and shape
    ours.eval()
    x = torch.randn(2, 3, 32, 32)  # adaptive pooling to 7x7 makes a small image enough
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert expected.std() > 0
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)


def test_table1_configurations_have_11_to_19_weight_layers():
    layers = {}
    for letter in vgg.CONFIGURATIONS:
        with torch.device("meta"):
            model = vgg.build_model(dataclasses.replace(vgg.PRESETS["paper"], configuration=letter))
        layers[letter] = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
    assert layers == {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}


def test_c_has_1x1_layers_and_a_lrn_normalises_after_the_first_layer():
    with torch.device("meta"):
        c = vgg.build_model(vgg.PRESETS["vgg13-1x1"])
        a_lrn = vgg.build_model(vgg.PRESETS["vgg11-lrn"])
    assert [conv.kernel_size[0] for conv in vgg.stages(c)[2]] == [3, 3, 1]
    assert isinstance(a_lrn.features[2], LocalResponseNorm)
    assert sum(isinstance(m, LocalResponseNorm) for m in a_lrn.modules()) == 1


def test_fusing_b_gives_the_papers_shallow_net_of_five_5x5_layers():
    """Sec. 4.1: "replacing each pair of 3x3 conv. layers with a single 5x5 conv. layer"."""
    assert vgg.stage_kernels("B", 5, fuse=True) == [(5,)] * 5
    assert vgg.stage_kernels("C", 5, fuse=True)[2] == (5, 1)  # the 1x1 layer is kept
    assert vgg.stage_kernels("E", 3, fuse=True) == [(5,), (5,), (9,)]


def test_three_3x3_layers_see_7x7_with_27c2_weights_against_49c2():
    """Sec. 2.3, measured on real layers."""
    c = 16
    stack = [nn.Conv2d(c, c, 3, padding=1, bias=False) for _ in range(3)]
    single = [nn.Conv2d(c, c, 7, padding=3, bias=False)]
    assert vgg.receptive_field(stack) == vgg.receptive_field(single) == 7
    assert vgg.receptive_field(stack[:2]) == 5
    assert sum(m.weight.numel() for m in stack) == 27 * c * c
    assert sum(m.weight.numel() for m in single) == 49 * c * c


def test_mini_trains_d_its_fused_control_and_configurations_a_and_e_the_same_way():
    runs = vgg.variants(MINI)
    assert set(runs) == {"main", "fused", "A", "E"}
    assert {n: (c.configuration, c.fuse_stacks) for n, c in runs.items()} == {
        "main": ("D", False), "fused": ("D", True), "A": ("A", False), "E": ("E", False)}
    assert len({(c.steps, c.batch_size, c.lr, c.widths) for c in runs.values()}) == 1
    models = {n: vgg.build_model(c) for n, c in runs.items()}
    assert sum(p.numel() for p in models["main"].parameters()) == 47_474
    assert sum(p.numel() for p in models["fused"].parameters()) == 52_346
    metrics = {n: vgg.evaluate(m.eval(), {"test": (torch.randn(4, 1, 28, 28),
                                                   torch.arange(4))}, runs[n])
               for n, m in models.items()}
    assert metrics["main"]["last_stage_receptive_field"] == 7 == \
        metrics["fused"]["last_stage_receptive_field"]
    assert (metrics["main"]["last_stage_weights_per_c2"],
            metrics["fused"]["last_stage_weights_per_c2"]) == (27, 49)


def metrics(main=0.965, fused=0.972, a=0.965, e=0.962, rf=(7, 7), w=(27, 49)):
    net = lambda acc, r=7, c2=27: {"test_accuracy": acc, "last_stage_receptive_field": r,  # noqa: E731
                                   "last_stage_weights_per_c2": c2}
    return {"main": net(main, rf[0], w[0]), "fused": net(fused, rf[1], w[1]), "A": net(a),
            "E": net(e), "1-NN pixels": {"test_accuracy": 0.934},
            "logistic regression pixels": {"test_accuracy": 0.885}}


def row(claim_id, m):
    return verdict(CLAIMS[claim_id], "mini", m)


def test_claims_measure_their_margins_over_the_named_control_or_baseline():
    m = metrics()
    assert row("stack-sees-as-far-with-fewer-weights", m)["margins"] == pytest.approx(
        {"fused receptive field": 0.5, "fused weights": 1 - 27 / 49 - 0.4})
    assert row("beats-pixel-baselines", m)["margins"] == pytest.approx(
        {"1-NN pixels": 0.965 - 0.934 - 0.01, "logistic regression pixels": 0.965 - 0.885 - 0.01})
    assert row("stack-at-least-as-accurate", m)["margins"] == pytest.approx({"fused": -0.007})
    assert row("deeper-is-better", m)["margins"] == pytest.approx({"A": -0.003})
    assert [row(c, m)["verdict"] for c in ("stack-sees-as-far-with-fewer-weights",
                                           "beats-pixel-baselines", "stack-at-least-as-accurate",
                                           "deeper-is-better")] == [
        REPRODUCED, REPRODUCED, NOT_REPRODUCED_IN_MINIATURE, NOT_REPRODUCED_IN_MINIATURE]


def test_a_different_receptive_field_or_no_weight_saving_fails_the_stack_claim():
    claim = "stack-sees-as-far-with-fewer-weights"
    assert row(claim, metrics(rf=(5, 7)))["verdict"] == NOT_REPRODUCED
    assert row(claim, metrics(w=(22.5, 24.5)))["verdict"] == NOT_REPRODUCED  # C/2 -> C inputs


def test_a_net_no_better_than_1nn_on_pixels_fails():
    assert row("beats-pixel-baselines", metrics(main=0.94))["verdict"] == NOT_REPRODUCED


def test_paper_scale_claims_say_what_they_need():
    for claim in vgg.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id


def test_baselines_are_computed_on_the_mini_split_only():
    assert vgg.baselines(vgg.PRESETS["paper"]) == {}
