"""U-Net: Fig. 1's map sizes (572 in, 388 out), copy-and-crop with unpadded convolutions, the
no-skip control has the same parameters, Eq. 2's weight map stresses the gap between touching
blobs, the elastic deformation keeps image and labels aligned, and the claims' margins."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import unet
from reproductions.common import segmentation as S
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

TINY = unet.PRESETS["tiny"]
CLAIMS = {c.id: c for c in unet.CLAIMS}


def test_the_paper_network_maps_a_572_tile_to_a_388_segmentation():
    with torch.device("meta"):
        net = unet.build_model(unet.PRESETS["paper"])
        out = net(torch.empty(1, 1, 572, 572))
    assert out.shape == (1, 2, 388, 388)  # Fig. 1


def test_unpadded_convolutions_crop_the_labels_to_the_output():
    cfg = dataclasses.replace(TINY, padding=0, augment=False)
    net = unet.build_model(cfg)
    x, y, w = next(iter(unet.build_data(cfg)[0]))
    assert net(x).shape[-1] == 16  # 32 -> 28 -> 14 -> 10 -> 20 -> 16
    out = unet.training_step(net, (x, y, w))
    assert torch.isfinite(out["loss"])


def test_the_no_skip_control_has_the_same_parameters_and_ignores_the_copies():
    with_skip = unet.build_model(TINY)
    without = unet.build_model(dataclasses.replace(TINY, skip=False))
    without.load_state_dict(with_skip.state_dict())  # same names and shapes
    assert list(unet.variants(unet.PRESETS["mini"])) == ["unet", "no-skip"]
    x = torch.randn(2, 1, 32, 32)
    assert not torch.allclose(with_skip(x), without(x))


def test_the_weight_map_is_largest_in_the_gap_between_two_close_blobs():
    labels = torch.zeros(1, 32, 32, dtype=torch.long)
    instances = torch.zeros_like(labels)
    instances[0, 8:24, 4:14], instances[0, 8:24, 16:28] = 1, 2  # a 2-pixel gap at columns 14-15
    labels[instances > 0] = 1
    w = unet.weight_map(labels, instances, TINY, torch.tensor([1.0, 3.0]))
    assert w[0, 16, 14] > 1 + 0.8 * TINY.border_weight  # d1 + d2 = 3 pixels: near w0
    assert w[0, 2, 2] < 1.5  # far from both: w_c only
    assert w[0, 16, 8] == 3.0  # foreground: w_c only


def test_elastic_deformation_moves_image_and_labels_together():
    _, y, _ = S.texture_scenes(4, 32, seed=0)
    x = y[:, None].float()  # an image equal to its labels
    gen = torch.Generator().manual_seed(0)
    xw, yw, _ = unet.elastic(x, y, torch.ones(4, 32, 32), gen)
    assert set(yw.unique().tolist()) <= {0, 1}
    assert ((xw[:, 0] > 0.5).long() == yw).float().mean() > 0.97


def test_texture_scenes_cannot_be_thresholded():
    x, y, _ = S.texture_scenes(10, 64, seed=1)
    fg, bg = x[:, 0][y == 1], x[:, 0][y == 0]
    assert abs(fg.mean() - bg.mean()) < 0.02 and abs(fg.std() - bg.std()) < 0.03


def metrics(unet_b=0.70, noskip_b=0.58, iou=0.64):
    return {"unet": {"boundary_iou": unet_b, "iou": iou},
            "no-skip": {"boundary_iou": noskip_b, "iou": 0.54},
            "majority": {"iou": 0.0}, "threshold": {"iou": 0.01}}


def test_claims_compare_with_the_no_skip_net_and_the_baselines():
    m = metrics()
    assert verdict(CLAIMS["skips-localise"], "mini", m)["margins"] == pytest.approx(
        {"no-skip": 0.70 - 0.58 - 0.05})
    assert verdict(CLAIMS["few-images"], "mini", m)["margins"] == pytest.approx(
        {"majority": 0.64 - 0.3, "threshold": 0.64 - 0.01 - 0.3})
    assert verdict(CLAIMS["skips-localise"], "mini", m)["verdict"] == REPRODUCED
    assert verdict(CLAIMS["skips-localise"], "mini", metrics(noskip_b=0.68))["verdict"] \
        == NOT_REPRODUCED
