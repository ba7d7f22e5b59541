"""RetinaNet and FPN: torchvision's weights give the same outputs, parameter counts per part, the
focal loss against torchvision.ops.sigmoid_focal_loss, the pi = .01 prior, anchors, assignment,
the loss's normalisation, the FPN block against torchvision.ops.FeaturePyramidNetwork, claims.

The registry-wide checks (tiny step, gradients, --set, run folder) live in test_reproductions.py.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torchvision
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.ops import FeaturePyramidNetwork, sigmoid_focal_loss

from reproductions import retinanet as R
from reproductions.common.claims import (
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdicts,
)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def torchvision_retinanet(device=None):
    return torchvision.models.detection.retinanet_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=80)


# --- against torchvision --------------------------------------------------------------------------
def test_parameter_counts_per_part_equal_torchvision_retinanet():
    with torch.device("meta"):
        ours, paper = R.build_model(R.PRESETS["torchvision"]), R.build_model(R.PRESETS["paper"])
        ref = torchvision_retinanet()
    assert n_params(ours.body) == n_params(ref.backbone.body) == 23_508_032
    assert n_params(ours.fpn) == n_params(ref.backbone.fpn)
    assert n_params(ours.cls_subnet) == n_params(ref.head.classification_head)
    assert n_params(ours.box_subnet) == n_params(ref.head.regression_head)
    assert n_params(ours) == n_params(ref) == 33_839_924
    # the paper's P6 is a 3x3/2 conv on C5 (2048 channels), torchvision's on P5 (256)
    assert n_params(paper) - n_params(ours) == (2048 - 256) * 256 * 9 == 4_128_768


def test_paper_fpn_is_torchvision_resnet50_fpn_backbone():
    with torch.device("meta"):
        ours = R.build_model(R.PRESETS["paper-fpn"])
        ref = resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=5,
                                  norm_layer=torch.nn.BatchNorm2d)
        maps = ours(torch.zeros(1, 3, 256, 256))
    assert n_params(ours) == n_params(ref) == 26_852_416
    assert [m.shape[-1] for m in maps] == [64, 32, 16, 8, 4]  # P2-P6, P6 = P5 subsampled
    assert all(m.shape[1] == 256 for m in maps)


@pytest.mark.slow
def test_torchvision_weights_give_torchvision_outputs():
    torch.manual_seed(0)
    ref = torchvision_retinanet().eval()
    ours = R.build_model(R.PRESETS["torchvision"]).eval()
    theirs = ref.state_dict()
    groups = [("body.", "backbone.body."), ("fpn.lateral.", "backbone.fpn.inner_blocks."),
              ("fpn.output.", "backbone.fpn.layer_blocks."), ("fpn.extra.", "backbone.fpn.extra_blocks."),
              ("cls_subnet.", "head.classification_head."), ("box_subnet.", "head.regression_head.")]
    state = {}
    for mine, prefix in groups:
        names = [n for n in ours.state_dict() if n.startswith(mine)]
        values = [v for n, v in theirs.items() if n.startswith(prefix)]
        assert [v.shape for v in values] == [ours.state_dict()[n].shape for n in names], mine
        state.update(zip(names, values, strict=True))
    ours.load_state_dict(state)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        expected = ref.head(list(ref.backbone(x).values()))
        cls, box, anchors, counts = ours(x)
    assert counts == [16 * 16 * 9, 8 * 8 * 9, 4 * 4 * 9, 2 * 2 * 9, 1 * 9]  # P3-P7
    torch.testing.assert_close(cls, expected["cls_logits"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(box, expected["bbox_regression"], rtol=1e-4, atol=1e-4)


def test_fpn_top_down_equals_torchvision_feature_pyramid_network():
    torch.manual_seed(0)
    ours = R.FPN([8, 16, 32], 12, extra=0, extra_from="p5")
    ref = FeaturePyramidNetwork([8, 16, 32], 12)
    ours.load_state_dict(dict(zip(ours.state_dict(), ref.state_dict().values(), strict=True)))
    feats = [torch.randn(2, 8, 16, 16), torch.randn(2, 16, 8, 8), torch.randn(2, 32, 4, 4)]
    expected = ref({str(i): f for i, f in enumerate(feats)})
    for a, b in zip(ours(feats), expected.values(), strict=True):
        torch.testing.assert_close(a, b)
    lateral_only = R.FPN([8, 16, 32], 12, extra=0, extra_from="p5", top_down=False)
    lateral_only.load_state_dict(ours.state_dict())
    top = lateral_only(feats)[-1]
    torch.testing.assert_close(top, ours(feats)[-1])  # the coarsest level has nothing above it
    assert not torch.allclose(lateral_only(feats)[0], ours(feats)[0])


# --- focal loss and the prior -----------------------------------------------------------------
@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (0.75, 0.0), (-1, 2.0), (0.5, 0.5)])
def test_focal_loss_equals_torchvision_sigmoid_focal_loss(alpha, gamma):
    torch.manual_seed(0)
    logits, targets = torch.randn(50, 7) * 3, (torch.rand(50, 7) < 0.2).float()
    torch.testing.assert_close(R.focal_loss(logits, targets, alpha, gamma),
                               sigmoid_focal_loss(logits, targets, alpha, gamma, reduction="none"))


def test_focal_loss_down_weights_easy_examples_as_sec_3_2_says():
    def ratio(p_t):  # CE / FL for one positive with probability p_t, gamma 2
        logit = torch.tensor([math.log(p_t / (1 - p_t))])
        one = torch.ones(1)
        return (R.focal_loss(logit, one, -1, 0.0) / R.focal_loss(logit, one, -1, 2.0)).item()

    assert ratio(0.9) == pytest.approx(100)  # "100x lower loss"
    assert ratio(0.968) == pytest.approx(1000, rel=0.03)  # "1000x lower loss"


def test_classifier_starts_at_the_prior_probability():
    cfg = R.PRESETS["tiny"]
    model = R.build_model(cfg)
    assert torch.allclose(model.cls_subnet[-1].bias, torch.tensor(-math.log(99.0)))
    cls, *_ = model(torch.zeros(2, 3, 64, 64))
    assert torch.sigmoid(cls).mean().item() == pytest.approx(0.01, abs=2e-3)


# --- anchors, assignment, loss ------------------------------------------------------------------
def test_nine_anchors_per_location_with_the_papers_areas_and_ratios():
    shapes = R.anchor_shapes([32, 32 * 2 ** (1 / 3), 32 * 2 ** (2 / 3)], [0.5, 1.0, 2.0])
    areas = (shapes[:, 0] * shapes[:, 1]).view(3, 3)
    torch.testing.assert_close(areas[0], torch.full((3,), 32.0**2))
    torch.testing.assert_close(shapes[:3, 1] / shapes[:3, 0], torch.tensor([0.5, 1.0, 2.0]))
    boxes = R.grid_anchors((2, 3), 8.0, shapes)
    assert boxes.shape == (2 * 3 * 9, 4)
    torch.testing.assert_close(((boxes[:9, :2] + boxes[:9, 2:]) / 2), torch.full((9, 2), 4.0))


def test_assignment_uses_half_and_0_4_with_an_ignored_band():
    anchors = torch.tensor([[0.0, 0.0, 0.5, 0.5],  # IoU 1
                            [0.0, 0.0, 0.5, 0.3],  # IoU 0.6: positive
                            [0.0, 0.0, 0.5, 0.225],  # IoU 0.45: ignored
                            [0.0, 0.0, 0.5, 0.1],  # IoU 0.2: background
                            [0.75, 0.75, 1.0, 1.0]])  # IoU 0.25 with box 2, its best: positive
    truths = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    labels, boxes = R.assign(truths, torch.tensor([3, 1]), anchors)
    assert labels.tolist() == [3, 3, -1, 0, 1]
    assert torch.equal(boxes[4], truths[1])
    labels, _ = R.assign(truths, torch.tensor([3, 1]), anchors, best_for_each=False)
    assert labels.tolist() == [3, 3, -1, 0, 0]
    labels, _ = R.assign(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), anchors)
    assert labels.tolist() == [0] * 5


def test_encode_decode_round_trip():
    anchors = torch.tensor([[0.1, 0.1, 0.3, 0.5]])
    truth = torch.tensor([[0.15, 0.0, 0.45, 0.4]])
    offsets = R.encode(truth, anchors)
    assert offsets[0].tolist() == pytest.approx([0.5, -0.25, math.log(1.5), 0.0], abs=1e-6)
    torch.testing.assert_close(R.decode(offsets, anchors), truth)


def test_loss_sums_over_all_anchors_and_divides_by_the_positives():
    torch.manual_seed(0)
    cls, box, target = torch.randn(1, 5, 2), torch.randn(1, 5, 4), torch.zeros(1, 5, 4)
    labels = torch.tensor([[2, 0, -1, 0, 1]])  # two positives, one ignored anchor
    loss, l_cls, l_box = R.detection_loss(cls, box, labels, target, 0.25, 2.0)
    onehot = torch.tensor([[0, 1], [0, 0], [0, 0], [1, 0]], dtype=torch.float32)
    keep = [0, 1, 3, 4]
    expected = sigmoid_focal_loss(cls[0, keep], onehot, 0.25, 2.0, reduction="sum") / 2
    assert l_cls.item() == pytest.approx(expected.item())
    l1 = torch.nn.functional.smooth_l1_loss(box[0, [0, 4]], target[0, [0, 4]], beta=1 / 9,
                                            reduction="sum") / 2
    assert l_box.item() == pytest.approx(l1.item())
    assert loss.item() == pytest.approx(l_cls.item() + l_box.item())


# --- miniature ----------------------------------------------------------------------------------
def test_mini_has_dense_anchors_and_the_top_map_control_the_same_backbone():
    fpn, top = R.variants(R.PRESETS["mini-fpn"]).values()
    a, b = R.build_model(fpn), R.build_model(top)
    cls_a, _, anchors_a, counts_a = a(torch.zeros(1, 3, 64, 64))
    cls_b, _, anchors_b, counts_b = b(torch.zeros(1, 3, 64, 64))
    assert counts_a == [16 * 16 * 9, 8 * 8 * 9]
    assert counts_b == [8 * 8 * 18]  # both levels' sizes on the stride-8 map
    assert n_params(a.body) == n_params(b.body)
    assert {round(w) for w in (anchors_b[:, 2] - anchors_b[:, 0]).mul(64).tolist()} >= \
        {round(w) for w in (anchors_a[:, 2] - anchors_a[:, 0]).mul(64).tolist()}
    assert sum(R.build_model(R.PRESETS["mini"])(torch.zeros(1, 3, 64, 64))[3]) == 3024
    focal, ce = R.variants(R.PRESETS["mini"]).values()
    assert (focal.gamma, focal.alpha, ce.gamma, ce.alpha) == (2.0, 0.25, 0.0, 0.75)


def test_small_only_marks_large_objects_difficult():
    truths = [{"boxes": torch.tensor([[0.0, 0.0, 0.2, 0.25], [0.0, 0.0, 0.3, 0.1]]),
               "labels": torch.tensor([1, 2])}]
    assert R.small_only(truths, 0.25)[0]["difficult"].tolist() == [False, True]


def fake_metrics(focal=0.9, ce=0.85):
    shares = {"neg_loss_hardest1pct_gamma0": 0.2, "neg_loss_hardest1pct_gamma2": 0.7,
              "easy_neg_loss_share_gamma0": 0.5, "easy_neg_loss_share_gamma2": 0.01,
              "initial_cls_loss_prior": 1.0, "initial_cls_loss_uniform": 40.0}
    return {"focal": {"map50": focal, **shares}, "ce": {"map50": ce, **shares},
            "colour threshold": {"map50": 0.35}, "mean box per class": {"map50": 0.0}}


def test_mini_claims_read_the_variants_and_the_trivial_detectors():
    rows = {r["id"]: r for r in verdicts(R.CLAIMS, "mini", fake_metrics())}
    assert rows["mini-focal-beats-ce"]["verdict"] == REPRODUCED
    assert rows["mini-focal-beats-ce"]["margin"] == pytest.approx(0.05)
    assert rows["mini-easy-negatives"]["margin"] == pytest.approx(0.19)
    assert rows["mini-prior"]["margin"] == pytest.approx(math.log10(40 / 5))
    assert rows["mini-beats-trivial"]["compared_with"] == ["colour threshold", "mean box per class"]
    assert rows["mini-fpn-small"]["verdict"] == "not applicable"
    rows = {r["id"]: r for r in verdicts(R.CLAIMS, "mini", fake_metrics(ce=0.95))}
    assert rows["mini-focal-beats-ce"]["verdict"] == NOT_REPRODUCED_IN_MINIATURE
    rows = {r["id"]: r for r in verdicts(R.CLAIMS, "mini", fake_metrics(focal=0.6))}
    assert rows["mini-beats-trivial"]["verdict"] == NOT_REPRODUCED


def test_tiny_detects_a_list_of_boxes_per_image():
    cfg = dataclasses.replace(R.PRESETS["tiny"], score_threshold=0.0, topk_per_level=20)
    out = R.build_model(cfg).eval().detect(torch.zeros(2, 3, 64, 64))
    assert len(out) == 2 and out[0]["boxes"].shape[1] == 4
    assert len(out[0]["boxes"]) <= cfg.max_detections
    assert set(out[0]["labels"].tolist()) <= {1, 2, 3}
