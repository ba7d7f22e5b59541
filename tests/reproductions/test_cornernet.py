"""CornerNet: Hourglass-104's size and shapes (Sec. 3.5, 4.1), corner pooling against its
definition (Sec. 3.4), the losses by hand (Eq. 1, Sec. 3.2-3.3), decoding (Sec. 4.2), the claims.

The registry-wide checks (tiny step, gradients, --set, run folder) live in test_reproductions.py.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from reproductions import cornernet as C
from reproductions.common.claims import (
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    evaluated_for,
    verdicts,
)

MINI = C.PRESETS["mini"]


def test_paper_network_is_hourglass_104_with_201m_parameters_and_a_128x128_output():
    with torch.device("meta"):
        model = C.build_model(C.PRESETS["paper"])
        outs = model(torch.zeros(1, 3, 511, 511))
    assert sum(p.numel() for p in model.parameters()) == 201_035_212  # Sec. 4.1: 201M
    assert len(outs) == 2  # intermediate supervision: both stacks predict (Sec. 3.5)
    for k in ("tl", "br"):
        assert {m: t.shape[1] for m, t in outs[-1][k].items()} == {"heat": 80, "embed": 1,
                                                                  "offset": 2}
        assert all(t.shape[-2:] == (128, 128) for t in outs[-1][k].values())
    widths, level = [], model.hourglasses[0]
    while isinstance(level, C.Hourglass104Module):  # 5 strided reductions, Sec. 3.5
        assert level.low1[0].body[0].stride == (2, 2)
        widths.append(level.low1[0].body[0].out_channels)
        level = level.low2
    assert widths == [256, 384, 384, 384, 512] and len(level) == 4  # 4 residuals in the middle


def _direct_pool(f_t, f_l, corner):
    """Sec. 3.4 written as loops: top-left t_ij = max over rows i..H-1 of column j, l_ij = max
    over columns j..W-1 of row i; bottom-right over rows 0..i and columns 0..j."""
    out = torch.empty_like(f_t)
    _, _, h, w = f_t.shape
    for i in range(h):
        for j in range(w):
            if corner == "tl":
                t, l = f_t[:, :, i:, j].amax(-1), f_l[:, :, i, j:].amax(-1)  # noqa: E741
            else:
                t, l = f_t[:, :, :i + 1, j].amax(-1), f_l[:, :, i, :j + 1].amax(-1)  # noqa: E741
            out[:, :, i, j] = t + l
    return out


@pytest.mark.parametrize("corner", ["tl", "br"])
def test_corner_pooling_equals_its_definition(corner):
    g = torch.Generator().manual_seed(0)
    f_t, f_l = torch.randn(2, 3, 5, 7, generator=g), torch.randn(2, 3, 5, 7, generator=g)
    torch.testing.assert_close(C.corner_pool(f_t, f_l, corner), _direct_pool(f_t, f_l, corner))


def test_top_left_pooling_sees_an_object_below_and_to_the_right_only():
    f = torch.zeros(1, 1, 6, 6)
    f[0, 0, 3, 4] = 1.0  # one bright cell at row 3, column 4
    tl = C.corner_pool(f, f, "tl")[0, 0]
    assert tl[0, 4] == 1 and tl[3, 0] == 1 and tl[3, 4] == 2  # above it, left of it, on it
    assert tl[4, 4] == 0 and tl[3, 5] == 0 and tl[0, 0] == 0


def test_the_no_pooling_control_has_the_same_parameters():
    count = lambda cfg: sum(p.numel() for p in C.build_model(cfg).parameters())  # noqa: E731
    variants = C.variants(MINI)
    assert set(variants) == {"corner-pool", "no-pool"}
    assert count(variants["corner-pool"]) == count(variants["no-pool"])


def test_heatmap_loss_is_eq1_by_hand():
    logits = torch.tensor([0.5, -1.0, 2.0]).view(1, 1, 1, 3)
    gt = torch.tensor([1.0, 0.5, 0.0]).view(1, 1, 1, 3)
    p = torch.sigmoid(logits.flatten())
    pos = (1 - p[0]) ** 2 * math.log(p[0])
    neg = (1 - 0.5) ** 4 * p[1] ** 2 * math.log(1 - p[1]) + p[2] ** 2 * math.log(1 - p[2])
    torch.testing.assert_close(C.focal_heatmap_loss(logits, gt), -(pos + neg))


def test_pull_push_by_hand():
    e_tl, e_br = torch.tensor([0.0, 1.0, 5.0]), torch.tensor([0.2, 1.2, 5.0])
    image = torch.tensor([0, 0, 1])  # two objects in image 0, one in image 1
    pull, push = C.pull_push_loss(e_tl, e_br, image)
    pull0 = (2 * 0.1 ** 2 + 2 * 0.1 ** 2) / 2  # e_k = 0.1, 1.1
    torch.testing.assert_close(pull, torch.tensor((pull0 + 0.0) / 2))
    torch.testing.assert_close(push, torch.tensor(0.0))  # |0.1 - 1.1| = 1: no push at delta 1
    _, push = C.pull_push_loss(torch.tensor([0.0, 0.5]), torch.tensor([0.0, 0.5]),
                               torch.tensor([0, 0]))
    torch.testing.assert_close(push, torch.tensor(0.5))


def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = lambda x: (x[2] - x[0]) * (x[3] - x[1])  # noqa: E731
    return w * h / (area(a) + area(b) - w * h)


@pytest.mark.parametrize(("w", "h"), [(4.0, 4.0), (8.0, 3.0), (2.5, 9.0)])
def test_gaussian_radius_keeps_iou_above_the_threshold(w, h):
    r = C.gaussian_radius(w, h, 0.3)
    box = (0.0, 0.0, w, h)
    moved = lambda d: [(-d, -d, w + d, h + d), (d, d, w - d, h - d), (d, d, w + d, h + d)]  # noqa: E731
    assert min(_iou(box, m) for m in moved(r)) >= 0.3 - 1e-6
    assert min(_iou(box, m) for m in moved(1.05 * r)) < 0.3  # the largest such radius


def _scene():
    return [{"boxes": torch.tensor([[0.1, 0.2, 0.6, 0.7], [0.55, 0.05, 0.95, 0.45]]),
             "labels": torch.tensor([2, 3])}]


def test_targets_peak_at_the_corners_with_their_offsets():
    gt = C.corner_targets(_scene(), MINI, 16, "cpu")["tl"]
    assert gt["heat"].eq(1).sum() == 2 and gt["heat"][0, 1, 3, 1] == 1  # (1.6, 3.2): col 1, row 3
    torch.testing.assert_close(gt["offset"][0], torch.tensor([0.6, 0.2]))  # 1.6 - 1, 3.2 - 3
    assert gt["cell"].tolist() == [[0, 3, 1], [0, 0, 8]]
    torch.testing.assert_close(gt["shift"][0], torch.tensor([4.0, 4.0]).log())  # half of 8 x 8


def _perfect_heads(scene, cfg, size=16):
    """Heatmaps with a high logit exactly at each corner, the targets' offsets and shifts,
    one embedding per object."""
    gt, out = C.corner_targets(scene, cfg, size, "cpu"), {}
    for k in ("tl", "br"):
        out[k] = {"heat": torch.where(gt[k]["heat"].eq(1), torch.tensor(8.0), torch.tensor(-8.0)),
                  "embed": torch.zeros(1, 1, size, size), "offset": torch.zeros(1, 2, size, size),
                  "shift": torch.zeros(1, 2, size, size)}
        for obj, (n, y, x) in enumerate(gt[k]["cell"].tolist()):
            out[k]["embed"][n, 0, y, x] = 3.0 * obj
            out[k]["offset"][n, :, y, x] = gt[k]["offset"][obj]
            out[k]["shift"][n, :, y, x] = gt[k]["shift"][obj]
    return out


@pytest.mark.parametrize("match", ["embedding", "centripetal"])
def test_decoding_perfect_heads_recovers_the_boxes(match):
    scene = _scene()
    det = C.decode(_perfect_heads(scene, MINI), MINI, match)[0]
    sure = det["scores"] > 0.5  # the rest pair up background cells at sigmoid(-8)
    assert sorted(det["labels"][sure].tolist()) == [2, 3]
    order = det["labels"][sure].argsort()
    torch.testing.assert_close(det["boxes"][sure][order], scene[0]["boxes"], atol=1e-5, rtol=0)


def test_training_step_runs_and_every_parameter_gets_a_gradient():
    cfg = C.PRESETS["tiny"]
    model = C.build_model(cfg)
    images = torch.zeros(2, 3, cfg.image_size, cfg.image_size)
    loss = C.training_step(model, (images, _scene() * 2))["loss"]
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_claims_compare_pooling_with_its_ablation_and_the_mean_box():
    m = {"corner-pool": {"map50": 0.8, "map75": 0.7}, "no-pool": {"map50": 0.7, "map75": 0.6},
         "mean box per class": {"map50": 0.0, "map75": 0.0}}
    rows = {r["id"]: r for r in verdicts(C.CLAIMS, "mini", m)}
    assert rows["corner-pooling"]["verdict"] == REPRODUCED
    assert rows["beats-mean-box"]["verdict"] == REPRODUCED
    m["no-pool"] = {"map50": 0.79, "map75": 0.7}
    rows = {r["id"]: r for r in verdicts(C.CLAIMS, "mini", m)}
    assert rows["corner-pooling"]["verdict"] == NOT_REPRODUCED_IN_MINIATURE  # expected=False
    assert dataclasses.replace(MINI, compare=False).corner_pool


def test_centripetal_claims_read_both_matchings_of_one_run():
    assert evaluated_for(C.CLAIMS, "mini-centripetal") == ["centripetal-matching",
                                                          "centripetal-beats-mean-box"]
    m = {"main": {"map50": 0.84, "false_pairs": 0.16, "map50_centripetal": 1.0,
                  "false_pairs_centripetal": 0.0}, "mean box per class": {"map50": 0.0}}
    rows = {r["id"]: r for r in verdicts(C.CLAIMS, "mini-centripetal", m)}
    assert rows["centripetal-matching"]["verdict"] == REPRODUCED
    m["main"]["false_pairs"] = 0.02
    rows = {r["id"]: r for r in verdicts(C.CLAIMS, "mini-centripetal", m)}
    assert rows["centripetal-matching"]["verdict"] == NOT_REPRODUCED


def test_centripetal_matching_rejects_neighbours_that_embeddings_cannot_tell_apart():
    """Two touching squares of one class whose four corners all have the same embedding:
    CornerNet's test also accepts the box spanning both; the centripetal test (CentripetalNet
    Sec. 3.2) keeps only the two objects."""
    scene = [{"boxes": torch.tensor([[0.1, 0.3, 0.4, 0.6], [0.45, 0.3, 0.75, 0.6]]),
              "labels": torch.tensor([1, 1])}]
    out = _perfect_heads(scene, MINI)
    for k in ("tl", "br"):
        out[k]["embed"].zero_()
    spans = lambda d: bool((d["boxes"][:, 2] - d["boxes"][:, 0] > 0.5).any())  # noqa: E731
    assert spans(C.decode(out, MINI, "embedding")[0])
    det = C.decode(out, MINI, "centripetal")[0]
    assert not spans(det) and len(det["boxes"]) == 2


def test_crowded_scenes_put_one_class_in_a_row_of_close_shapes():
    for x, t in C.crowded_shapes(20, 64, seed=3):
        assert x.shape == (3, 64, 64) and 2 <= len(t["boxes"]) <= 4
        assert t["labels"].unique().numel() == 1
        b = t["boxes"] * 64
        gaps = torch.maximum(b[1:, 0] - b[:-1, 2], b[1:, 1] - b[:-1, 3])  # along the row
        assert gaps.min() >= 1 and gaps.max() <= 3
