"""Mask R-CNN: the paper preset is torchvision's network (count, mask head weights and outputs,
multi-level RoIAlign), the mask targets / loss / pasting of Sec. 3 and 3.1, RoIPool's rounding,
the drawn masks of the generated scenes, and the miniature's claims as functions of metrics."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

import pytest
import torch

from reproductions import mask_rcnn as M
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

TINY = M.PRESETS["tiny"]
CLAIMS = {c.id: c for c in M.CLAIMS}


def test_paper_preset_has_torchvisions_parameter_count_and_parts():
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    with torch.device("meta"):
        ours = M.build_model(M.PRESETS["paper"])
        ref = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(ours) == count(ref) == 44_454_513
    assert count(ours.body) == count(ref.backbone)
    assert count(ours.rpn) == count(ref.rpn)
    heads = ref.roi_heads
    assert count(ours.box_head) == count(heads.box_head) + count(heads.box_predictor)
    assert count(ours.mask_head) == count(heads.mask_head) + count(heads.mask_predictor)


def test_torchvisions_mask_head_loads_and_gives_the_same_masks():
    """Fig. 4 (right): 4 convs 256 -> deconv -> 1x1 to 91 masks; torchvision's randomly
    initialised MaskRCNNHeads + MaskRCNNPredictor loaded into `MaskHead`, same RoI features."""
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

    torch.manual_seed(0)
    heads, predictor = MaskRCNNHeads(256, [256] * 4, 1), MaskRCNNPredictor(256, 256, 91)
    ours = M.MaskHead(256, 256, 4, 91)
    ref_state = list(heads.state_dict().values()) + list(predictor.state_dict().values())
    state = ours.state_dict()
    assert [v.shape for v in state.values()] == [v.shape for v in ref_state]
    ours.load_state_dict(dict(zip(state, ref_state, strict=True)))
    x = torch.randn(1, 256, 14, 14)  # (R, C, 14, 14) RoI features
    with torch.no_grad():
        masks = ours(x)
        assert masks.shape == (1, 91, 28, 28)
        torch.testing.assert_close(masks, predictor(heads(x)), rtol=1e-5, atol=1e-5)


def test_multi_level_roialign_equals_torchvisions_pooler():
    """FPN's Eq. 1 level assignment + RoIAlign (2x2 samples per bin) = MultiScaleRoIAlign."""
    from torchvision.ops import MultiScaleRoIAlign

    cfg = dataclasses.replace(TINY, aligned=False, sampling_ratio=2, image_size=512)
    model = M.build_model(cfg)
    torch.manual_seed(0)
    maps = [torch.randn(1, 8, 512 // 2 ** k, 512 // 2 ** k) for k in range(2, 6)]  # P2-P5
    boxes = torch.tensor([[10.0, 20, 40, 50], [0, 0, 300, 400], [100, 100, 220, 230],
                          [5.5, 7.25, 500, 511]])  # levels 2, 4, 3, 5
    rois = torch.cat([torch.zeros(4, 1), boxes], 1)
    ref = MultiScaleRoIAlign(["0", "1", "2", "3"], 14, 2)
    expected = ref(OrderedDict((str(i), m) for i, m in enumerate(maps)), [boxes], [(512, 512)])
    torch.testing.assert_close(model.pool(maps, rois, 14), expected)
    assert M.fpn_level(boxes).tolist() == [2, 4, 3, 5]


def test_roipool_rounds_the_roi_to_the_grid_and_roialign_does_not():
    """Fig. 3: a 2 px shift of the RoI on a stride-8 map leaves RoIPool's features unchanged
    (quantised to the same cells) but moves RoIAlign's."""
    model = M.build_model(TINY)
    x = torch.randn(1, 8, 8, 8)  # (B, C, 8, 8): a 64 px image at stride 8
    a, b = torch.tensor([[0.0, 17, 17, 41, 41]]), torch.tensor([[0.0, 19, 19, 43, 43]])
    pool = dataclasses.replace(TINY, pooler="pool")
    model.cfg = pool
    assert torch.equal(model.pool([x], a, 7), model.pool([x], b, 7))
    model.cfg = TINY
    assert not torch.allclose(model.pool([x], a, 7), model.pool([x], b, 7))


def test_drawn_masks_are_the_scenes_bright_pixels():
    """Each object drawn alone with draw_shapes' geometry; together they are the shapes' pixels
    (background channels <= 90, shapes >= 120, noise 0.03)."""
    for x, t in M.scenes(20, 64, 0):
        masks = t["masks"]
        assert masks.shape == (len(t["labels"]), 64, 64)
        assert (masks.sum(0) <= 1).all()  # shapes do not overlap
        bright = (x + 0.5).mean(0) > 105 / 255
        assert (bright == masks.any(0)).float().mean() > 0.995


def test_mask_target_is_the_intersection_with_the_roi_and_pastes_back():
    """Sec. 3.1: the target is the RoI's part of the mask; a full m x m mask pastes to its box."""
    masks = torch.zeros(1, 64, 64, dtype=torch.bool)
    masks[0, 16:32, 16:32] = True
    left_half = torch.tensor([[8.0, 16, 24, 32]])  # covers x 8..24: the object from x = 16
    target = M.mask_targets(masks, left_half, 16)
    assert target.shape == (1, 16, 16)
    assert target[0, :, :8].sum() == 0 and target[0, :, 8:].all()
    pasted = M.paste(torch.ones(1, 16, 16), torch.tensor([[16.0, 16, 32, 32]]), 64) >= 0.5
    assert torch.equal(pasted, masks)
    assert M.mask_iou(pasted, masks).item() == 1.0


def test_sigmoid_mask_loss_sees_only_the_ground_truth_class():
    """L_mask (Sec. 3): other classes' masks do not contribute; under the softmax they do."""
    torch.manual_seed(0)
    logits, labels = torch.randn(2, 4, 6, 6), torch.tensor([1, 3])
    targets = (torch.rand(2, 6, 6) > 0.5).float()
    other = logits.clone()
    other[0, 2] += 5.0  # class 2 is neither RoI's class
    assert M.mask_loss(logits, labels, targets) == M.mask_loss(other, labels, targets)
    assert M.mask_loss(logits, labels, targets, "softmax") != M.mask_loss(other, labels, targets,
                                                                          "softmax")


def test_tiny_step_and_evaluation_give_finite_numbers():
    torch.manual_seed(0)
    model = M.build_model(TINY)
    batch = next(iter(M.build_data(TINY)[0]))
    out = M.training_step(model, batch)
    assert torch.isfinite(out["loss"]) and set(out) >= {"loss_cls", "loss_box", "loss_mask"}
    model.eval()
    with torch.no_grad():
        metrics = M.evaluate(model, None, TINY)
    assert 0 <= metrics["mask_iou"] <= 1 and 0 <= metrics["class_accuracy"] <= 1
    assert set(M.baselines(TINY)) == {"box as mask", "class-mean mask"}
    assert set(M.variants(M.PRESETS["mini"])) == {"roialign", "roipool", "softmax"}


def metrics(align=(0.82, 0.80), pool=(0.74, 0.46), softmax=(0.81, 0.77), mean=(0.70, 0.34),
            box=(0.63, 0.22)):
    return {name: {"mask_iou": v[0], "mask_iou75": v[1]} for name, v in
            (("roialign", align), ("roipool", pool), ("softmax", softmax),
             ("class-mean mask", mean), ("box as mask", box))}


def test_claims_read_their_margins_from_the_run():
    m = metrics()
    row = verdict(CLAIMS["mini-roialign"], "mini", m)
    assert row["verdict"] == REPRODUCED
    assert row["margins"] == pytest.approx({"roipool": 0.82 - 0.74 - 0.03,
                                            "roipool, IoU >= 0.75": 0.80 - 0.46 - 0.1})
    assert verdict(CLAIMS["mini-beats-trivial"], "mini", m)["margin"] == pytest.approx(
        0.82 - 0.70 - 0.05)
    same = metrics(pool=(0.81, 0.78))
    assert verdict(CLAIMS["mini-roialign"], "mini", same)["verdict"] == NOT_REPRODUCED
    assert verdict(CLAIMS["mini-beats-trivial"], "mini", metrics(mean=(0.80, 0.75)))[
        "verdict"] == NOT_REPRODUCED
