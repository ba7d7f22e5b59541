"""FairMOT: the DLA-34 backbone equals timm's `dla34` with the same weights, the upsampling and
heads give stride-4 maps, the losses follow Eq. 2-3, the association keeps an identity through
an occlusion where IoU alone cannot, and MOTA / IDF1 count as defined."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reproductions import fairmot
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

MINI, TINY = fairmot.PRESETS["mini"], fairmot.PRESETS["tiny"]
CLAIMS = {c.id: c for c in fairmot.CLAIMS}


def test_timm_dla34_weights_load_into_the_backbone_and_give_the_same_features():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    ref = timm.create_model("dla34", pretrained=False).eval()
    cfg = fairmot.PRESETS["paper"]
    ours = fairmot.DLA(cfg.levels, cfg.channels).eval()
    ours.load_state_dict({k: v for k, v in ref.state_dict().items() if not k.startswith("fc.")})
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats, y = ours(x), ref.base_layer(x)
        for i, f in enumerate(feats):
            y = getattr(ref, f"level{i}")(y)
            assert f.shape == (2, cfg.channels[i], 64 >> i, 64 >> i)
            torch.testing.assert_close(f, y, rtol=0, atol=0)
    backbone = sum(p.numel() for p in ours.parameters())
    assert backbone == sum(p.numel() for p in ref.parameters()) - 512 * 1000 - 1000 == 15_229_104


def test_paper_network_gives_stride_4_heads_and_a_128_d_embedding():
    torch.manual_seed(0)
    model = fairmot.build_model(fairmot.PRESETS["paper"]).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 96))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "heatmap": (1, 1, 16, 24), "offset": (1, 2, 16, 24), "size": (1, 2, 16, 24),
        "reid": (1, 128, 16, 24)}
    assert model.classifier.out_features == 14_455
    assert all(isinstance(m.offset_mask, torch.nn.Conv2d) for m in model.modules()
               if isinstance(m, fairmot.DeformConv))  # Sec. 4.1: every upsampling conv


def test_deformable_conv_with_zero_offsets_and_open_masks_is_a_plain_convolution():
    torch.manual_seed(0)
    conv = fairmot.DeformConv(3, 4).eval()
    with torch.no_grad():
        conv.offset_mask.bias[18:] = 40.0  # masks sigmoid(40) = 1, offsets 0
        x = torch.randn(1, 3, 8, 8)
        plain = conv.actf(F.conv2d(x, conv.conv.weight, conv.conv.bias, padding=1))
        torch.testing.assert_close(conv(x), plain)


def test_the_upsampler_starts_as_bilinear_interpolation():
    x = torch.randn(1, 3, 6, 6)
    with torch.no_grad():
        up = fairmot.bilinear_upsampler(3, 2)(x)  # (1, 3, 12, 12)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1])


def test_focal_loss_is_eq_2_over_the_number_of_objects():
    target = torch.tensor([[[[1.0, 0.5], [0.0, 1.0]]]])
    logits = torch.tensor([[[[0.0, 1.0], [-1.0, 2.0]]]])
    p = logits.sigmoid()
    pos = (1 - p[0, 0, 0, 0]) ** 2 * p[0, 0, 0, 0].log() + (1 - p[0, 0, 1, 1]) ** 2 * p[0, 0, 1, 1].log()
    neg = sum((1 - target[0, 0, i, j]) ** 4 * p[0, 0, i, j] ** 2 * (1 - p[0, 0, i, j]).log()
              for i, j in ((0, 1), (1, 0)))
    torch.testing.assert_close(fairmot.focal_loss(logits, target), -(pos + neg) / 2)


def test_targets_put_a_peak_at_the_centre_cell_with_its_offset_size_and_identity():
    cfg = dataclasses.replace(TINY, image_height=32, image_width=32)
    hm, ind, mask, off, size, ident = fairmot.targets([(0, 7, (2.0, 6.0, 14.0, 18.0))], cfg, 2)
    # centre (8, 12) px -> (2.0, 3.0) cells; box 12 x 12 px -> 3 x 3 cells
    assert hm[0, 3, 2] == 1 and hm.max() == 1 and int(ind[0]) == 3 * 8 + 2
    assert mask.tolist() == [1.0, 0.0] and ident.tolist() == [7, -1]
    assert off[0].tolist() == [0.0, 0.0] and size[0].tolist() == [3.0, 3.0]


def test_clips_are_reproducible_and_hidden_objects_leave_the_ground_truth():
    v1, t1 = fairmot.make_clips(2, 30, MINI, seed=3)
    v2, t2 = fairmot.make_clips(2, 30, MINI, seed=3)
    assert torch.equal(v1, v2) and t1 == t2 and v1.shape == (2, 30, 3, 64, 64)
    counts = [len(f) for clip in t1 for f in clip]
    assert max(counts) == MINI.objects and min(counts) < MINI.objects  # someone gets hidden
    palette = {pid for clip in t1 for f in clip for _, pid, _ in f}
    assert palette <= set(range(MINI.num_ids))


def _occlusion_clip():
    """One object moving right 3 px a frame, hidden for frames 3-5 (no detection) while it also
    drops 12 px (off the predicted path), and a second object with another appearance at rest."""
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    dets = []
    for t in range(9):
        boxes = [[40.0, 40.0, 52.0, 52.0]]
        feats = [b]
        if t not in (3, 4, 5):
            y = 10.0 if t < 3 else 22.0
            boxes.append([3.0 * t, y, 3.0 * t + 12, y + 12])
            feats.append(a)
        dets.append((torch.tensor(boxes), torch.tensor(np.array(feats), dtype=torch.float32)))
    return dets


def test_reid_association_reidentifies_an_object_after_occlusion_where_iou_cannot():
    dets = _occlusion_clip()
    cfg = dataclasses.replace(MINI, speed=3.0)
    ids = fairmot.associate(dets, cfg, "fairmot")
    assert ids[0][1] == ids[8][1] and ids[0][0] == ids[8][0] != ids[8][1]
    iou_ids = fairmot.associate(dets, cfg, "iou", iou_threshold=0.5)
    assert iou_ids[0][1] == iou_ids[2][1] != iou_ids[6][1]  # a new track after the gap
    assert iou_ids[0][0] == iou_ids[8][0]  # the static object is kept by IoU


def test_mota_and_idf1_count_an_id_switch_as_defined():
    truth = [[(0, 0, (0.0, 0.0, 10.0, 10.0))] for _ in range(4)]
    dets = [(torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.zeros(1, 2)) for _ in range(4)]
    perfect = fairmot.summarise(fairmot.mot_counts(truth, dets, [np.array([5])] * 4))
    assert perfect["mota"] == 1 and perfect["idf1"] == 1 and perfect["idsw"] == 0
    switched = fairmot.summarise(fairmot.mot_counts(truth, dets, [np.array([i // 2]) for i in
                                                                 range(4)]))
    assert switched["idsw"] == 1 and switched["mota"] == 0.75
    assert switched["idf1"] == 2 * 2 / (4 + 4)  # the best pairing covers 2 of 4 frames


def _metrics(reid=0.95, iou=0.85, centre=0.70, random=0.20, sw_reid=10, sw_iou=30):
    return {"main": {"idf1_fairmot": reid, "idf1_iou": iou, "idf1_centre": centre,
                     "idf1_random": random, "idsw_fairmot": sw_reid, "idsw_iou": sw_iou,
                     "mota_fairmot": 0.9, "mota_iou": 0.88, "recall": 0.95, "precision": 0.98}}


def test_claims_measure_idf1_and_id_switches_against_iou_and_trivial_association():
    m = _metrics()
    row = verdict(CLAIMS["reid-beats-iou"], "mini", m)
    assert row["margins"] == pytest.approx({"iou-only": 0.95 - 0.85 - 0.05,
                                            "iou-only (ID switches)": 1 - 10 / 30 - 0.25})
    assert row["verdict"] == REPRODUCED
    trivial = verdict(CLAIMS["beats-trivial-association"], "mini", m)
    assert trivial["margins"] == pytest.approx({"nearest centre": 0.95 - 0.70 - 0.10,
                                                "random IDs": 0.95 - 0.20 - 0.30})
    assert verdict(CLAIMS["reid-beats-iou"], "mini", _metrics(iou=0.93))["verdict"] == NOT_REPRODUCED
    assert verdict(CLAIMS["reid-beats-iou"], "mini", _metrics(sw_reid=28))["verdict"] == NOT_REPRODUCED
