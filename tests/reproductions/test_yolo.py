"""YOLO: the network of Fig. 3 (24 convs + 2 fc, 7x7x30), Eq. 3 by hand, decoding (Eq. 1), the
error profile of Sec. 4.2, the claims.

The registry-wide checks (tiny step, gradients, --set, run folder) live in test_reproductions.py.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import yolo as Y
from reproductions.common.claims import (
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdicts,
)

MINI = Y.PRESETS["mini"]


def test_paper_network_has_24_convs_2_fc_and_a_7x7x30_output():
    with torch.device("meta"):
        model = Y.build_model(Y.PRESETS["paper"])
        out = model(torch.zeros(2, 3, 448, 448))
        maps = model.features(torch.zeros(1, 3, 448, 448))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(convs) == 24 and len(linears) == 2
    assert maps.shape == (1, 1024, 7, 7) and out.shape == (2, 7, 7, 30)
    assert [c.kernel_size[0] for c in convs[:3]] == [7, 3, 1] and convs[0].stride == (2, 2)
    assert sum(p.numel() for p in model.parameters()) == 271_703_550
    assert isinstance(model.fc[3], torch.nn.Dropout) and model.fc[3].p == 0.5


def test_cell_boxes_put_the_centre_in_its_cell_and_square_w_h():
    cfg = dataclasses.replace(MINI, num_classes=1)
    out = torch.zeros(1, 7, 7, 11)
    out[0, 2, 3, :5] = torch.tensor([0.5, 0.5, 0.4, 0.2, 0.9])  # row 2, column 3, predictor 0
    box = Y.cell_boxes(out, cfg)[0, 2, 3, 0]
    cx, cy = 3.5 / 7, 2.5 / 7
    torch.testing.assert_close(box, torch.tensor([cx - 0.08, cy - 0.02, cx + 0.08, cy + 0.02]))


def _one_object_target(box=(0.1, 0.1, 0.3, 0.5), label=2):
    return [{"boxes": torch.tensor([box]), "labels": torch.tensor([label])}]


def test_targets_give_the_object_to_the_cell_holding_its_centre():
    has, boxes, labels = Y.build_targets(_one_object_target(), MINI, "cpu")
    assert has.sum() == 1 and has[0, 2, 1]  # centre (0.2, 0.3): column 1, row 2
    assert labels[0, 2, 1] == 1 and torch.equal(boxes[0, 2, 1], torch.tensor([0.1, 0.1, 0.3, 0.5]))


def test_loss_is_eq3_by_hand():
    cfg = dataclasses.replace(MINI, num_classes=3)
    out = torch.zeros(1, 7, 7, 13)
    # the object: centre (0.2, 0.3) -> cell (row 2, column 1), offsets (0.4, 0.1), w 0.2, h 0.4
    p = torch.tensor([0.5, 0.2, 0.5, 0.6, 0.7])  # predictor 0: close to it
    out[0, 2, 1, :5] = p
    out[0, 2, 1, 5:10] = torch.tensor([0.5, 0.5, 0.1, 0.1, 0.3])  # predictor 1: tiny box
    out[0, 0, 0, 4] = 0.2  # a confidence where no object is
    out[0, 2, 1, 10:] = torch.tensor([0.1, 0.6, 0.2])
    loss = Y.yolo_loss(out, _one_object_target(), cfg)
    pred = Y.cell_boxes(out, cfg)[0, 2, 1, 0]
    iou = Y._pairwise_iou(pred, torch.tensor([0.1, 0.1, 0.3, 0.5])).item()
    coord = (0.5 - 0.4) ** 2 + (0.2 - 0.1) ** 2 + (0.5 - 0.2**0.5) ** 2 + (0.6 - 0.4**0.5) ** 2
    obj = (0.7 - iou) ** 2
    noobj = 0.3**2 + 0.2**2  # the other predictor of the cell, and the empty cell
    cls = 0.1**2 + (0.6 - 1) ** 2 + 0.2**2
    assert loss["loss_coord"].item() == pytest.approx(coord, abs=1e-6)
    assert loss["loss"].item() == pytest.approx(5 * coord + obj + 0.5 * noobj + cls, abs=1e-6)


def test_detection_score_is_class_probability_times_confidence():
    cfg = dataclasses.replace(MINI, score_threshold=0.1)
    out = torch.zeros(1, 7, 7, 13)
    out[0, 3, 3, :5] = torch.tensor([0.5, 0.5, 0.5, 0.5, 0.8])
    out[0, 3, 3, 10:] = torch.tensor([0.1, 0.9, 0.0])
    det = Y.postprocess(out, cfg)[0]
    assert det["labels"].tolist() == [2] and det["scores"].tolist() == pytest.approx([0.72])


def _box(x1, y1, x2, y2):
    return [float(x1), float(y1), float(x2), float(y2)]


def test_error_profile_sorts_top_n_detections_into_the_types_of_fig_4():
    truths = [{"boxes": torch.tensor([_box(0, 0, 10, 10), _box(20, 20, 30, 30)]),
               "labels": torch.tensor([1, 2])},
              {"boxes": torch.tensor([_box(0, 0, 10, 10), _box(50, 50, 60, 60)]),
               "labels": torch.tensor([1, 1])}]
    dets = [{"boxes": torch.tensor([_box(0, 0, 10, 10), _box(0, 0, 10, 10), _box(40, 40, 45, 45),
                                    _box(20, 20, 30, 30), _box(20, 20, 30, 30)]),
             "scores": torch.tensor([0.9, 0.8, 0.7, 0.6, 0.9]),
             "labels": torch.tensor([1, 1, 1, 1, 2])},
            {"boxes": torch.tensor([_box(0, 0, 10, 16)]), "scores": torch.tensor([0.5]),
             "labels": torch.tensor([1])}]
    # class 1 (3 objects): its top 3 of 5 detections are correct, a duplicate (localization)
    # and background; class 2 (1 object): correct
    assert Y.error_profile(dets, truths, 3) == pytest.approx(
        {"share_correct": 0.5, "share_localization": 0.25, "share_other": 0.0,
         "share_background": 0.25})
    dets[0]["scores"] = torch.tensor([0.9, 0.1, 0.1, 0.95, 0.9])  # class 1 on the class-2 object
    profile = Y.error_profile(dets, truths, 3)  # class 1: other, correct, correct (IoU 0.625)
    assert profile["share_correct"] == pytest.approx(0.75)
    assert profile["share_other"] == pytest.approx(0.25)


def test_speed_is_milliseconds_per_image():
    model = Y.build_model(Y.PRESETS["tiny"]).eval()
    assert 0 < Y.speed_ms(model.detect, torch.zeros(2, 3, 56, 56), repeats=1) < float("inf")


def fake(loc=0.5, other=0.1, background=0.1, map50=0.8):
    return {"main": {"map50": map50, "share_correct": 1 - loc - other - background,
                     "share_localization": loc, "share_other": other,
                     "share_background": background, "ms_per_image": 1.0},
            "colour threshold": {"map50": 0.35}, "mean box per class": {"map50": 0.0}}


def test_mini_claims():
    rows = {r["id"]: r for r in verdicts(Y.CLAIMS, "mini", fake())}
    assert rows["mini-map"]["verdict"] == REPRODUCED
    assert rows["mini-map"]["margin"] == pytest.approx(0.8 - 0.0 - 0.1)
    assert rows["mini-beats-colour"]["margin"] == pytest.approx(0.8 - 0.35)
    assert rows["mini-few-background-errors"]["margin"] == pytest.approx(0.5 - 0.1 - 0.05)
    assert rows["mini-localization-errors"]["margin"] == pytest.approx(0.3)
    rows = {r["id"]: r for r in verdicts(Y.CLAIMS, "mini", fake(loc=0.1, background=0.2, map50=0.2))}
    assert rows["mini-few-background-errors"]["verdict"] == NOT_REPRODUCED
    assert rows["mini-beats-colour"]["verdict"] == NOT_REPRODUCED_IN_MINIATURE
    assert rows["voc2007"]["verdict"] == "not applicable"
