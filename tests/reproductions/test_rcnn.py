"""R-CNN / SPPnet / Fast R-CNN / Faster R-CNN: parameter counts against torchvision's pieces, the
Fast R-CNN head against torchvision's with the same weights, per-crop vs shared-map computation,
SPP's fixed length, RoI sampling, anchors and RPN targets, and a step of the RPN miniature.

The registry-wide checks (tiny step, gradients, --set, run folder) live in test_reproductions.py.
"""

from __future__ import annotations

import dataclasses

import torch
import torchvision
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.rpn import RPNHead

from reproductions import alexnet, rcnn
from reproductions.common.detection_data import collate, draw_shapes

TINY = rcnn.PRESETS["tiny"]


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def small(**changes) -> rcnn.Config:
    return dataclasses.replace(TINY, compare=False, **changes)


# --- paper-scale architectures -------------------------------------------------------------------
def test_fast_rcnn_vgg16_has_torchvision_pieces_parameter_count():
    with torch.device("meta"):
        ours = rcnn.build_model(rcnn.PRESETS["paper-fast"])
        vgg16 = torchvision.models.vgg16()
        reference = (n_params(vgg16.features) + n_params(vgg16.classifier[:-1])  # conv1-conv5, fc6, fc7
                     + n_params(FastRCNNPredictor(4096, 21)))  # K+1 scores, 4(K+1) offsets
    assert n_params(ours) == reference == 134_690_729


def test_faster_rcnn_rpn_is_torchvision_rpn_head_with_two_scores_per_anchor():
    with torch.device("meta"):
        ours = rcnn.build_model(rcnn.PRESETS["paper-faster"])
        head = RPNHead(512, 9)  # torchvision: one logistic score per anchor (k), the paper 2k
    assert n_params(ours.rpn) == n_params(head) + 512 * 9 + 9
    # Sec. 3.1.1: the output layers have 512 x (4 + 2) x 9 = 2.8 x 10^4 weights
    assert n_params(ours.rpn.cls) + n_params(ours.rpn.reg) == 512 * 6 * 9 + 6 * 9
    assert n_params(ours) == 137_078_239


def test_rcnn_uses_alexnet_conv_layers_and_pool5_features_on_227_crops():
    with torch.device("meta"):
        model = rcnn.build_model(rcnn.PRESETS["paper"])
        reference = alexnet.AlexNet(alexnet.PRESETS["paper"]).features
        pool5 = model.trunk(torch.zeros(1, 3, 227, 227))
    assert [tuple(p.shape) for p in model.trunk.parameters()] == \
        [tuple(p.shape) for p in reference.parameters()]
    assert pool5.shape == (1, 256, 6, 6)  # R-CNN: 9216-d pool5, fc6, fc7 (4096)
    assert model.cls.out_features == 20 and model.bbox.in_features == 9216  # SVMs; Appendix C
    assert n_params(model) == 57_687_524


def test_spp_gives_a_fixed_length_vector_for_any_image_size():
    model = rcnn.build_model(small(mode="spp", levels=(4, 2, 1)))
    box = [torch.tensor([[0.1, 0.2, 0.7, 0.9]])]
    for size in (48, 64, 96):
        assert model.region_features(torch.randn(1, 3, size, size), box).shape == (1, 16 * 21)
    with torch.device("meta"):  # SPPnet: 256 channels x 50 bins = 12,800 into fc6
        zf5 = rcnn.build_model(rcnn.PRESETS["paper-spp"])
    assert zf5.fc[0].in_features == 12_800 and n_params(zf5) == 74_046_692


# --- Fast R-CNN head against torchvision ---------------------------------------------------------
def test_fast_rcnn_head_equals_torchvision_two_mlp_head_and_predictor():
    cfg = small(levels=(7,), fc_dim=32, num_classes=21)
    ours = rcnn.build_model(cfg).eval()
    d_in = ours.fc[0].in_features
    mlp, predictor = TwoMLPHead(d_in, 32).eval(), FastRCNNPredictor(32, 21).eval()
    with torch.no_grad():
        for a, b in [(mlp.fc6, ours.fc[0]), (mlp.fc7, ours.fc[3]),
                     (predictor.cls_score, ours.cls), (predictor.bbox_pred, ours.bbox)]:
            b.weight.copy_(a.weight)
            b.bias.copy_(a.bias)
        feats = torch.randn(5, d_in)
        h = ours.fc(feats)
        scores, deltas = predictor(mlp(feats))
        torch.testing.assert_close(ours.cls(h), scores)
        torch.testing.assert_close(ours.bbox(h), deltas)


# --- per-crop vs shared map ----------------------------------------------------------------------
def test_per_crop_runs_the_net_per_region_and_shared_map_once_per_image():
    images = torch.randn(2, 3, 64, 64)
    boxes = [torch.tensor([[0.1, 0.1, 0.5, 0.5], [0.2, 0.3, 0.9, 0.8], [0.0, 0.0, 1.0, 1.0]]),
             torch.tensor([[0.4, 0.4, 0.6, 0.7]])]
    for mode, batch in (("crops", 4), ("roi", 2)):
        model = rcnn.build_model(small(mode=mode)).eval()
        seen = []
        model.trunk.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape))
        scores, deltas = model(images, boxes)
        assert seen == [torch.Size([batch, 3, TINY.crop_size if mode == "crops" else 64,
                                    TINY.crop_size if mode == "crops" else 64])]
        assert scores.shape == (4, 4) and deltas.shape == (4, 4, 4)


def test_one_level_roi_pooling_of_a_box_is_the_max_of_its_map_cells():
    model = rcnn.build_model(small(mode="roi", levels=(1,)))
    images = torch.randn(1, 3, 64, 64)
    fmap = model.trunk(images)  # (1, C, 16, 16), stride 4
    pooled = model.region_features(images, [torch.tensor([[0.25, 0.5, 0.5, 0.75]])])  # px 16..32
    # Caffe's convention: pixels 16..31 -> cells round(16/4)=4 .. round(31/4)=8 inclusive
    torch.testing.assert_close(pooled[0], fmap[0, :, 8:13, 4:9].amax((1, 2)))


# --- boxes, sampling, anchors --------------------------------------------------------------------
def test_encode_decode_round_trip():
    boxes = torch.tensor([[0.1, 0.1, 0.4, 0.5], [0.5, 0.2, 0.9, 0.6]])
    gt = torch.tensor([[0.12, 0.08, 0.45, 0.5], [0.4, 0.3, 0.95, 0.7]])
    torch.testing.assert_close(rcnn.decode(rcnn.encode(gt, boxes), boxes), gt)


def test_sampled_rois_keep_a_quarter_foreground_and_the_ground_truth_labels():
    torch.manual_seed(0)
    gt, labels = torch.tensor([[0.1, 0.1, 0.4, 0.4], [0.6, 0.6, 0.9, 0.9]]), torch.tensor([2, 3])
    props = torch.rand(200, 2).repeat(1, 2) * torch.tensor([1, 1, 0, 0]) + \
        torch.tensor([0, 0, 0.1, 0.1])
    props = torch.cat([props, gt + 0.01, gt - 0.01]).clamp(0, 1)
    cfg = small(rois_per_image=32)
    boxes, lab, offsets = rcnn.sample_rois(props, gt, labels, cfg)
    assert len(boxes) == 32 and 1 <= int((lab > 0).sum()) <= 8  # fg_fraction 0.25 of 32
    fg = lab > 0
    best = torchvision.ops.box_iou(boxes[fg], gt).max(1)
    assert (best.values >= 0.5).all() and torch.equal(lab[fg], labels[best.indices])
    torch.testing.assert_close(rcnn.decode(offsets[fg], boxes[fg]), gt[best.indices])


def test_anchors_have_three_scales_and_three_ratios_per_location():
    a = rcnn.anchors(2, 3, 16, (128, 256, 512), (0.5, 1.0, 2.0))
    assert a.shape == (2 * 3 * 9, 4)
    w, h = a[:9, 2] - a[:9, 0], a[:9, 3] - a[:9, 1]
    torch.testing.assert_close(w * h, torch.tensor([128.0**2] * 3 + [256.0**2] * 3 + [512.0**2] * 3))
    torch.testing.assert_close(h / w, torch.tensor([0.5, 1.0, 2.0] * 3))
    torch.testing.assert_close((a[9, :2] + a[9, 2:]) / 2, torch.tensor([24.0, 8.0]))  # 2nd cell


def test_rpn_targets_mark_each_ground_truths_best_anchor_and_sample_at_most_half_positive():
    torch.manual_seed(0)
    a = rcnn.anchors(16, 16, 4, (12, 20, 32), (0.5, 1.0, 2.0))
    gt = torch.tensor([[0.1, 0.1, 0.3, 0.3], [0.5, 0.4, 0.95, 0.85]])
    labels, offsets = rcnn.rpn_targets(a, gt, 64, n=64)
    iou = torchvision.ops.box_iou(a, gt * 64)
    inside = ((a >= 0) & (a <= 64)).all(1)
    assert (labels[iou.masked_fill(~inside[:, None], -1).argmax(0)] == 1).all()
    assert (labels[~inside] == -1).all()  # Sec. 3.3: cross-boundary anchors are ignored
    assert int((labels >= 0).sum()) == 64 and int((labels == 1).sum()) <= 32


def test_rpn_miniature_step_trains_every_parameter_and_proposes_boxes():
    cfg = dataclasses.replace(rcnn.PRESETS["mini-faster"], width=8, rpn_channels=8)
    model = rcnn.build_model(cfg)
    images, targets = collate(draw_shapes(2, 64, seed=0))
    out = rcnn.training_step(model, (images, targets))
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and all(p.grad is not None for p in model.parameters())
    props = rcnn.rpn_proposals(model.eval(), images, 10)
    assert len(props) == 2 and all(p.shape[1] == 4 and len(p) <= 10 for p in props)
    assert 0 <= rcnn.recall_at(props, targets) <= 1


def test_rpn_without_regression_proposes_its_anchors():
    cfg = dataclasses.replace(rcnn.PRESETS["mini-faster"], width=8, rpn_channels=8,
                              rpn_regression=False)
    model = rcnn.build_model(cfg).eval()
    images = torch.randn(1, 3, 64, 64)
    props = rcnn.rpn_proposals(model, images, 20)[0] * 64
    anchor_boxes = rcnn.anchors(16, 16, 4, cfg.anchor_scales, cfg.anchor_ratios).clamp(0, 64)
    assert (torchvision.ops.box_iou(props, anchor_boxes).max(1).values > 0.999).all()
    assert set(rcnn.variants(rcnn.PRESETS["mini-faster"])) == {"rpn", "rpn_no_reg"}
