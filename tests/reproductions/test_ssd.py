"""SSD: SSD300's architecture and default boxes against torchvision, matching, the loss with hard
negative mining, inference, mAP@0.5 by hand, the generated shapes and a VOC folder on disk.

The registry-wide checks (tiny step, gradients, --set, run folder) live in test_reproductions.py.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import box_convert

from reproductions import ssd
from reproductions.common.claims import REPRODUCED
from reproductions.common.config import ConfigError
from reproductions.common.detection_data import SHAPES, VOC_CLASSES, VOCBoxes, draw_shapes
from reproductions.common.detection_metrics import (
    average_precision,
    eleven_point_average_precision,
    evaluate_detector,
    mean_average_precision,
)
from reproductions.common.runner import run

PAPER = ssd.PRESETS["paper"]


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- SSD300 against torchvision -----------------------------------------------------------------
def test_ssd300_has_torchvision_parameter_count():
    with torch.device("meta"):
        ours = ssd.build_model(PAPER)
        reference = torchvision.models.detection.ssd300_vgg16(num_classes=21, weights_backbone=None)
    assert n_params(ours) == n_params(reference) == 26_285_486


def test_ssd300_predicts_8732_boxes_from_six_maps():
    with torch.device("meta"):  # shapes only: no memory, no compute
        model = ssd.build_model(PAPER)
        loc, conf, defaults = model(torch.zeros(2, 3, 300, 300))
        maps = model.feature_maps(torch.zeros(1, 3, 300, 300))
    assert [m.shape[-1] for m in maps] == [38, 19, 10, 5, 3, 1]
    assert [m.shape[1] for m in maps] == [512, 1024, 512, 256, 256, 256]
    assert [len(wh) for wh in model.shapes] == [4, 6, 6, 6, 4, 4]
    assert loc.shape == (2, 8732, 4) and conf.shape == (2, 8732, 21) and defaults.shape == (8732, 4)


def test_default_boxes_equal_torchvision_ssd300_anchor_generator():
    ours = ssd.default_boxes((38, 19, 10, 5, 3, 1), ssd.box_shapes(PAPER.scales, PAPER.aspect_ratios),
                             300, PAPER.steps_px)
    generator = DefaultBoxGenerator([list(r) for r in PAPER.aspect_ratios], scales=list(PAPER.scales),
                                    steps=list(PAPER.steps_px))
    maps = [torch.zeros(1, 1, s, s) for s in (38, 19, 10, 5, 3, 1)]
    reference = generator(ImageList(torch.zeros(1, 3, 300, 300), [(300, 300)]), maps)[0]  # pixels
    assert ours.shape == reference.shape == (8732, 4)
    torch.testing.assert_close(box_convert(ours, "cxcywh", "xyxy") * 300, reference)


def test_eq4_scales_and_paper_centres():
    assert ssd.eq4_scales(6) == pytest.approx((0.2, 0.34, 0.48, 0.62, 0.76, 0.9, 1.0))
    boxes = ssd.default_boxes((2,), [[(0.5, 0.5)]], 64)  # centres (i + 0.5) / |f_k|
    assert boxes[:, :2].tolist() == [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]


@pytest.mark.slow
def test_ssd300_with_torchvision_weights_gives_torchvision_head_outputs():
    torch.manual_seed(0)
    reference = torchvision.models.detection.ssd300_vgg16(num_classes=21, weights_backbone=None).eval()
    ours = ssd.build_model(PAPER).eval()
    ref = dict(reference.named_parameters())
    groups = [  # (our prefix, torchvision prefix): same layers in the same order
        ("first.", "backbone.features."), ("l2norm.", "backbone.scale_weight"),
        ("stages.", "backbone.extra."), ("loc.", "head.regression_head."),
        ("conf.", "head.classification_head."),
    ]
    state = {}
    for mine, theirs in groups:
        names = [n for n in ours.state_dict() if n.startswith(mine)]
        values = [v for n, v in ref.items() if n.startswith(theirs)]
        assert [v.shape for v in values] == [ours.state_dict()[n].shape for n in names]
        state.update(zip(names, values, strict=True))
    ours.load_state_dict(state)
    x = torch.randn(1, 3, 300, 300) * 50
    with torch.no_grad():
        expected = reference.head(list(reference.backbone(x).values()))
        loc, conf, _ = ours(x)
    torch.testing.assert_close(loc, expected["bbox_regression"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(conf, expected["cls_logits"], rtol=1e-4, atol=1e-4)


# --- matching, encoding, loss -------------------------------------------------------------------
def _cxcywh(*boxes):
    return box_convert(torch.tensor(boxes, dtype=torch.float32), "xyxy", "cxcywh")


def test_matching_takes_each_truths_best_box_and_every_box_above_half():
    defaults = _cxcywh([0.0, 0.0, 0.5, 0.5],  # IoU 1 with truth 0
                       [0.0, 0.0, 0.5, 0.375],  # IoU 0.75 with truth 0: > 0.5, matched too
                       [0.0, 0.0, 0.5, 0.25],  # IoU 0.5 exactly: not > 0.5, background
                       [0.75, 0.75, 1.0, 1.0],  # IoU 0.25 with truth 1, its best box: matched
                       [0.5, 0.0, 1.0, 0.125])  # overlaps nothing
    truths = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    labels, boxes = ssd.match(truths, torch.tensor([2, 3]), defaults, threshold=0.5)
    assert labels.tolist() == [2, 2, 0, 3, 0]
    assert torch.equal(boxes[3], truths[1]) and torch.equal(boxes[1], truths[0])


def test_matching_an_image_without_objects_gives_all_background():
    defaults = _cxcywh([0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0])
    labels, boxes = ssd.match(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), defaults)
    assert labels.tolist() == [0, 0]
    assert torch.equal(ssd.encode(boxes, defaults), torch.zeros(2, 4))


def test_encode_follows_eq2_with_variances_and_decode_inverts_it():
    defaults = _cxcywh([0.2, 0.2, 0.6, 0.6])  # centre 0.4, size 0.4
    truth = torch.tensor([[0.3, 0.2, 0.7, 1.0]])  # centre (0.5, 0.6), size (0.4, 0.8)
    offsets = ssd.encode(truth, defaults)
    expected = [(0.5 - 0.4) / 0.4 / 0.1, (0.6 - 0.4) / 0.4 / 0.1, 0.0, math.log(2) / 0.2]
    assert offsets[0].tolist() == pytest.approx(expected, abs=1e-5)
    torch.testing.assert_close(ssd.decode(offsets, defaults), truth)


def test_hard_negative_mining_keeps_the_three_hardest_negatives_per_positive():
    torch.manual_seed(0)
    conf_loss = torch.rand(3, 40)
    positive = torch.zeros(3, 40, dtype=torch.bool)
    positive[0, :2] = True  # 2 positives -> 6 negatives
    positive[1, :12] = True  # 12 positives -> 36 wanted, only 28 negatives exist
    negative = ssd.hard_negatives(conf_loss, positive, ratio=3)  # image 2: no positive -> none
    assert negative.sum(1).tolist() == [6, 28, 0]
    assert not (negative & positive).any()
    hardest = conf_loss[0, 2:].topk(6).indices + 2
    assert set(torch.nonzero(negative[0]).flatten().tolist()) == set(hardest.tolist())


def test_multibox_loss_is_eq1_by_hand():
    conf = torch.tensor([[[0.0, 2.0], [1.0, 0.0], [0.0, 1.0], [0.0, 3.0], [2.0, 0.0]]])  # (1, 5, 2)
    labels = torch.tensor([[1, 0, 0, 0, 0]])  # one positive, four negatives
    loc = torch.tensor([[[0.5, 0.0, 0.0, 2.0]] + [[9.0] * 4] * 4])
    target = torch.zeros(1, 5, 4)
    ce = F.cross_entropy(conf[0], torch.tensor([1, 0, 0, 0, 0]), reduction="none")
    smooth_l1 = 0.5 * 0.5**2 + (2.0 - 0.5)  # |0.5| < 1 -> 0.5 x^2; |2| >= 1 -> |x| - 0.5
    # 3:1 -> the three negatives of highest loss: boxes 3, 2 and 1 (not box 4, the easiest)
    loss, l_conf, l_loc = ssd.multibox_loss(loc, conf, target, labels, alpha=1.0, neg_pos_ratio=3)
    assert l_loc.item() == pytest.approx(smooth_l1)
    assert l_conf.item() == pytest.approx((ce[0] + ce[3] + ce[2] + ce[1]).item())
    assert loss.item() == pytest.approx(l_conf.item() + smooth_l1)  # N = 1
    _, all_negatives, _ = ssd.multibox_loss(loc, conf, target, labels, neg_pos_ratio=None)
    assert all_negatives.item() == pytest.approx(ce.sum().item())


def test_multibox_loss_is_zero_without_matched_boxes():
    loss, _, _ = ssd.multibox_loss(torch.randn(2, 6, 4), torch.randn(2, 6, 3), torch.zeros(2, 6, 4),
                                   torch.zeros(2, 6, dtype=torch.long), neg_pos_ratio=None)
    assert loss.item() == 0.0  # "If N = 0, we set the loss to 0" (Eq. 1)


# --- inference ----------------------------------------------------------------------------------
def test_postprocess_suppresses_overlaps_within_a_class_only():
    defaults = _cxcywh([0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.52, 0.5], [0.6, 0.6, 0.9, 0.9])
    logit = 6.0
    conf = torch.tensor([[[0, logit, 0], [0, logit - 1, 0], [0, 0, logit - 2]],  # class 1, 1, 2
                         [[0, logit, 0], [0, 0, logit - 1], [logit, 0, 0]]])  # class 1, 2, bg
    cfg = dataclasses.replace(PAPER, num_classes=3, score_threshold=0.5)
    out = ssd.postprocess(torch.zeros(2, 3, 4), conf, defaults, cfg)
    assert out[0]["labels"].tolist() == [1, 2]  # the weaker class-1 box is suppressed
    assert out[1]["labels"].tolist() == [1, 2]  # the same overlap across classes survives
    torch.testing.assert_close(out[0]["boxes"][0], torch.tensor([0.1, 0.1, 0.5, 0.5]))


# --- mAP@0.5, VOC all-point interpolation, by hand ---------------------------------------------
def _det(boxes, scores, labels):
    return {"boxes": torch.tensor(boxes, dtype=torch.float32), "scores": torch.tensor(scores),
            "labels": torch.tensor(labels)}


def _gt(boxes, labels, difficult=None):
    out = {"boxes": torch.tensor(boxes, dtype=torch.float32), "labels": torch.tensor(labels)}
    if difficult is not None:
        out["difficult"] = torch.tensor(difficult)
    return out


A, B, C = [0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]


def test_average_precision_uses_the_precision_envelope_at_every_recall_step():
    # recall 0.5 at precision 1, 0.5 and recall 1 at 2/3: AP = 0.5 x 1 + 0.5 x 2/3
    assert average_precision([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3]) == pytest.approx(5 / 6)
    # the envelope lifts an early dip: p = 0.5 at r = 0.5, then 1.0 at r = 1.0 -> AP = 1
    assert average_precision([0.5, 1.0], [0.5, 1.0]) == pytest.approx(1.0)


@pytest.mark.parametrize(("dets", "gts", "expected"), [
    ([_det([A, B], [0.9, 0.8], [1, 1])], [_gt([A, B], [1, 1])], 1.0),  # every object found
    # TP, FP, TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> 1/2 + 1/2 x 2/3
    ([_det([A, C, B], [0.9, 0.8, 0.7], [1, 1, 1])], [_gt([A, B], [1, 1])], 5 / 6),
    # a duplicate of a found object is a false positive; B is never found
    ([_det([A, A], [0.9, 0.8], [1, 1])], [_gt([A, B], [1, 1])], 0.5),
    # IoU exactly 0.5 is not > 0.5 (VOC devkit)
    ([_det([[0, 0, 10, 5]], [0.9], [1])], [_gt([A], [1])], 0.0),
    # detections are pooled over images and ranked by score: FP (image 2) above TP (image 1)
    ([_det([A], [0.5], [1]), _det([C], [0.9], [1])], [_gt([A], [1]), _gt([B], [1])], 0.25),
    # the wrong class is a false positive of its own class and misses this one
    ([_det([A], [0.9], [2])], [_gt([A], [1])], 0.0),
])
def test_class_ap_matches_hand_computed_cases(dets, gts, expected):
    assert mean_average_precision(dets, gts, num_classes=2)["ap_1"] == pytest.approx(expected)


def test_difficult_objects_neither_count_nor_penalise():
    dets = [_det([B, C, A], [0.95, 0.92, 0.9], [1, 1, 1])]  # on the difficult B, FP, TP
    assert mean_average_precision(dets, [_gt([A, B], [1, 1], [False, True])], 2)["ap_1"] == \
        pytest.approx(0.5)  # ignored, FP (p 0), TP (p 1/2) at recall 1
    assert mean_average_precision(dets, [_gt([A, B], [1, 1])], 2)["ap_1"] == pytest.approx(5 / 6)


def test_map_averages_over_the_classes_that_have_objects():
    dets = [_det([A, B, C], [0.9, 0.9, 0.8], [1, 2, 3])]
    gts = [_gt([A, B], [1, 2])]  # class 2's box is found; class 3 has no object at all
    result = mean_average_precision(dets, gts, num_classes=4)
    assert result["ap_1"] == result["ap_2"] == 1.0 and "ap_3" not in result
    assert result["map"] == 1.0
    result = mean_average_precision([_det([A], [0.9], [1])], gts, num_classes=4)
    assert result["map"] == pytest.approx(0.5)  # class 2 missed entirely: AP 0


# --- data ---------------------------------------------------------------------------------------
def test_generated_shapes_have_tight_boxes_and_are_reproducible():
    images = draw_shapes(20, 64, seed=3)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(images, draw_shapes(20, 64, seed=3),
                                                       strict=True))
    for x, target in images:
        assert x.shape == (3, 64, 64) and 1 <= len(target["labels"]) <= 3
        assert set(target["labels"].tolist()) <= {1, 2, 3}
        for (x1, y1, x2, y2), label in zip((target["boxes"] * 64).round().int().tolist(),
                                           target["labels"].tolist(), strict=True):
            bright = x[:, y1:y2, x1:x2].max(0).values > 0.41  # shapes >= 120/255, background <= 90
            assert bright.any(0)[[0, -1]].all() and bright.any(1)[[0, -1]].all(), \
                "the shape touches all four sides of its box"
            if SHAPES[label - 1] == "square":
                assert bright.float().mean() > 0.9


def _write_voc(root, names_and_objects, split):
    base = root / "VOCdevkit" / "VOC2007"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for name, (w, h), objects in names_and_objects:
        Image.new("RGB", (w, h), (90, 120, 150)).save(base / "JPEGImages" / f"{name}.jpg")
        xml = "".join(
            f"<object><name>{cls}</name><difficult>{int(diff)}</difficult><bndbox>"
            f"<xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax>"
            "</bndbox></object>" for cls, b, diff in objects)
        (base / "Annotations" / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.jpg</filename><size><width>{w}</width>"
            f"<height>{h}</height><depth>3</depth></size>{xml}</annotation>")
    (base / "ImageSets" / "Main" / f"{split}.txt").write_text(
        "".join(f"{n}\n" for n, _, _ in names_and_objects))


def test_voc_folder_is_read_through_torchvision_vocdetection(tmp_path):
    _write_voc(tmp_path, [("000001", (200, 100), [("dog", (11, 21, 110, 80), False),
                                                   ("person", (151, 1, 200, 100), True)]),
                          ("000002", (120, 160), [("car", (1, 1, 60, 40), False)])], "trainval")
    _write_voc(tmp_path, [("000002", (120, 160), [("car", (1, 1, 60, 40), False)])], "test")
    cfg = dataclasses.replace(ssd.PRESETS["tiny"], data_root=str(tmp_path), num_classes=21,
                              batch_size=2)
    train, test = ssd.build_data(cfg)
    dataset = train.dataset
    dataset.train = False  # no random flip for the exact check below
    x, target = dataset[0]
    assert x.shape == (3, 64, 64)
    assert target["labels"].tolist() == [VOC_CLASSES.index("dog") + 1,
                                         VOC_CLASSES.index("person") + 1]
    torch.testing.assert_close(target["boxes"][0], torch.tensor([0.05, 0.2, 0.55, 0.8]))
    assert target["difficult"].tolist() == [False, True]
    images, targets = next(iter(test))
    assert images.shape == (1, 3, 64, 64) and targets[0]["labels"].tolist() == [7]
    model = ssd.build_model(cfg)
    out = ssd.training_step(model, next(iter(train)))
    assert torch.isfinite(out["loss"])
    metrics = ssd.evaluate(model.eval(), test, cfg)
    assert 0.0 <= metrics["map50"] <= 1.0 and "ap_car" in metrics


def test_voc_batches_from_worker_processes_equal_those_read_in_this_process(tmp_path):
    """A worker sends a batch's targets as one tensor per key (not three per image): the main
    process must still get one dict per image, an image without objects included."""
    from reproductions.common.detection_data import collate, loaders

    _write_voc(tmp_path, [("000001", (200, 100), [("dog", (11, 21, 110, 80), False),
                                                   ("person", (151, 1, 200, 100), True)]),
                          ("000002", (120, 160), []),
                          ("000003", (120, 160), [("car", (1, 1, 60, 40), False)])], "test")
    voc = VOCBoxes(str(tmp_path), "2007", "test", 64, train=False)
    _, in_workers = loaders(voc, voc, batch_size=3, seed=0, workers=2)
    images, targets = next(iter(in_workers))
    here_images, here = collate([voc[i] for i in range(3)])
    assert type(targets) is list and len(targets) == 3
    torch.testing.assert_close(images, here_images)
    for got, want in zip(targets, here, strict=True):
        assert set(got) == set(want) == {"boxes", "labels", "difficult"}
        for key in want:
            torch.testing.assert_close(got[key], want[key])
    assert targets[1]["boxes"].shape == (0, 4) and targets[2]["labels"].tolist() == [7]


def test_voc_flip_mirrors_the_boxes(tmp_path):
    _write_voc(tmp_path, [("000001", (100, 100), [("cat", (11, 21, 40, 80), False)])], "trainval")
    voc = VOCBoxes(str(tmp_path), "2007", "trainval", 64, train=True)
    torch.manual_seed(0)
    seen = {tuple(round(v, 4) for v in voc[0][1]["boxes"][0].tolist()) for _ in range(30)}
    assert seen == {(0.1, 0.2, 0.4, 0.8), (0.6, 0.2, 0.9, 0.8)}  # as is, and mirrored


def test_a_missing_voc_folder_is_a_one_line_config_error(tmp_path):
    cfg = dataclasses.replace(ssd.PRESETS["tiny"], data_root=str(tmp_path), num_classes=21)
    with pytest.raises(ConfigError, match="VOC2007 trainval not found under") as err:
        ssd.build_data(cfg)
    assert "\n" not in str(err.value)


# --- trivial baselines and the claims -----------------------------------------------------------
def test_colour_threshold_detector_finds_the_shapes_but_knows_only_the_class_prior():
    train = [(x - 0.5, t) for x, t in draw_shapes(30, 64, seed=1)]
    test = [(x - 0.5, t) for x, t in draw_shapes(20, 64, seed=2)]
    detect = ssd.colour_threshold_detector(train)
    found = detect(torch.stack([x for x, _ in test]))
    best = []
    for d, (_, t) in zip(found, test, strict=True):
        assert d["labels"].tolist() == [1, 2, 3] * (len(d["labels"]) // 3)  # each region 3 times
        best += torchvision.ops.box_iou(t["boxes"], d["boxes"]).max(1).values.tolist()
    assert sum(iou > 0.8 for iou in best) >= 0.9 * len(best)  # localised by colour alone
    labels = torch.cat([t["labels"] for _, t in train])
    prior = {c: (labels == c).float().mean().item() for c in (1, 2, 3)}
    assert {c: s for c, s in zip(found[0]["labels"].tolist(), found[0]["scores"].tolist(),
                                 strict=True)} == pytest.approx(prior)


def test_mean_box_detector_gives_every_image_the_same_box_per_class():
    train = [(torch.zeros(3, 64, 64), {"boxes": torch.tensor([[0.0, 0.0, 0.2, 0.2]]),
                                       "labels": torch.tensor([1])}),
             (torch.zeros(3, 64, 64), {"boxes": torch.tensor([[0.2, 0.2, 0.4, 0.4],
                                                              [0.5, 0.5, 1.0, 1.0]]),
                                       "labels": torch.tensor([1, 2])})]
    a, b = ssd.mean_box_detector(train)(torch.zeros(2, 3, 64, 64))
    torch.testing.assert_close(a["boxes"], torch.tensor([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 1.0, 1.0]]))
    assert a["labels"].tolist() == [1, 2] and a["scores"].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert torch.equal(a["boxes"], b["boxes"])


def test_baselines_score_the_trivial_detectors_on_the_runs_test_images():
    cfg = dataclasses.replace(ssd.PRESETS["mini"], num_train=60, num_test=40)
    found = ssd.baselines(cfg)
    assert set(found) == {"mean box per class", "colour threshold"}
    assert found["mean box per class"]["map50"] < 0.1  # shapes are anywhere, of any size
    assert 0.2 < found["colour threshold"]["map50"] < 0.5  # boxes right, classes a guess
    assert ssd.baselines(dataclasses.replace(PAPER, data_root="VOC")) == {}  # VOC: none run


def mini_metrics(main=0.95, no_hard_negatives=0.90, single_scale=0.90, colour=0.35, mean_box=0.0):
    return {"main": {"map50": main}, "no_hard_negatives": {"map50": no_hard_negatives},
            "single_scale": {"map50": single_scale}, "colour threshold": {"map50": colour},
            "mean box per class": {"map50": mean_box}}


def test_mini_claims_compare_the_variants_and_the_trivial_detectors():
    from reproductions.common.claims import verdicts

    rows = {r["id"]: r for r in verdicts(ssd.CLAIMS, "mini", mini_metrics(no_hard_negatives=0.94))}
    assert rows["mini-map"]["verdict"] == REPRODUCED
    assert rows["mini-map"]["compared_with"] == ["mean box per class", "colour threshold"]
    assert rows["mini-map"]["margin"] == pytest.approx(0.95 - 0.35 - 0.3)
    assert rows["mini-hard-negatives"]["verdict"] != REPRODUCED  # a 0.01 gap is within noise
    assert rows["mini-hard-negatives"]["compared_with"] == ["no_hard_negatives"]
    assert rows["mini-multi-scale"]["verdict"] == REPRODUCED
    assert rows["mini-multi-scale"]["compared_with"] == ["single_scale"]
    assert "no_hard_negatives 0.940" in rows["mini-map"]["measured"]
    assert "colour threshold 0.350" in rows["mini-map"]["measured"]
    assert rows["voc2007"]["verdict"] == "not applicable"


def test_a_detector_no_better_than_colour_thresholding_does_not_reproduce_mini_map():
    from reproductions.common.claims import NOT_EVALUATED, NOT_REPRODUCED, verdicts

    rows = {r["id"]: r for r in verdicts(ssd.CLAIMS, "mini", mini_metrics(main=0.6))}
    assert rows["mini-map"]["verdict"] == NOT_REPRODUCED
    assert rows["mini-map"]["margins"]["colour threshold"] == pytest.approx(-0.05)
    without = {k: v for k, v in mini_metrics().items() if k != "colour threshold"}
    assert {r["id"]: r for r in verdicts(ssd.CLAIMS, "mini", without)}["mini-map"]["verdict"] == \
        NOT_EVALUATED


@pytest.mark.slow
def test_mini_claims_hold_for_at_least_4_of_5_seeds(tmp_path):
    held = {c.id: 0 for c in ssd.CLAIMS if c.margins is not None and c.expected}
    for seed in range(5):
        cfg = dataclasses.replace(ssd.PRESETS["mini"], seed=seed)
        result = run(ssd, cfg, "mini", tmp_path / f"seed{seed}", name="ssd")
        for row in result["claims"]:
            if row["id"] in held:
                held[row["id"]] += row["verdict"] == REPRODUCED
    assert all(n >= 4 for n in held.values()), held


def test_voc2007_eleven_point_ap_is_the_mean_of_the_best_precision_at_11_recall_levels():
    # recall 0.5 at precision 1, recall 1 at 2/3: levels 0-0.5 (six) see 1, 0.6-1.0 (five) 2/3
    assert eleven_point_average_precision([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3]) == \
        pytest.approx((6 * 1 + 5 * 2 / 3) / 11)
    # never reaching recall 1: the levels above the highest recall count 0
    assert eleven_point_average_precision([0.25], [1.0]) == pytest.approx(3 / 11)


def test_detector_evaluation_reports_the_all_point_and_the_voc2007_map_from_one_ranking():
    gts = [_gt([A, B], [1, 1])]
    dets = [_det([A, C, B], [0.9, 0.8, 0.7], [1, 1, 1])]  # hit, miss, hit: r 0.5/0.5/1, p 1/.5/.67
    out = evaluate_detector(lambda images: dets, [(torch.zeros(1, 3, 8, 8), gts)], 2, ["thing"],
                            "cpu")
    assert out["map50"] == pytest.approx(5 / 6) and out["ap_thing"] == pytest.approx(5 / 6)
    assert out["map50_voc07"] == pytest.approx((6 + 5 * 2 / 3) / 11)
