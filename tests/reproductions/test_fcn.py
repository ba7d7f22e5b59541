"""FCN: a VGG classifier cast into convolutions computes the same numbers (Sec. 3.1), the
deconvolution upsamplers start as bilinear interpolation (Sec. 3.3), the skip nets produce
full-resolution scores (Fig. 3), Sec. 5's metrics on a hand-counted confusion matrix, and the
claims read the right variants and baselines."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from reproductions import fcn, vgg
from reproductions.common import segmentation as S
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

TINY = fcn.PRESETS["tiny"]
CLAIMS = {c.id: c for c in fcn.CLAIMS}


def test_a_vgg_classifier_cast_into_convolutions_gives_the_same_fc7_at_the_centre():
    torch.manual_seed(0)
    widths = (4, 4, 8, 8, 8)
    classifier = vgg.VGG(vgg.Config(configuration="A", widths=widths, fc_dim=16,
                                    num_classes=10, image_size=224)).eval()
    net = fcn.FCN(fcn.Config(configuration="A", widths=widths, fc_dim=16, num_classes=21,
                             image_size=224)).eval()
    fcn.convolutionalize(classifier, net)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        pool5 = net.to_pool5(net.to_pool4(net.to_pool3(x)))  # (2, 8, 7, 7)
        fc7 = F.relu(net.fc7(F.relu(net.fc6(pool5))))  # (2, 16, 7, 7)
        theirs = classifier.classifier[:5](torch.flatten(classifier.features(x), 1))  # (2, 16)
    # the centre unit's 7x7 window is the whole pool5 map: no padding enters it
    torch.testing.assert_close(fc7[:, :, 3, 3], theirs, rtol=1e-5, atol=1e-5)


def test_the_upsampling_deconvolution_starts_as_bilinear_interpolation():
    x = torch.randn(1, 3, 6, 6)
    for factor in (2, 8, 32):
        up = fcn.upsampler(3, factor, learned=False)
        with torch.no_grad():
            ours = up(x)
        ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
        assert ours.shape == ref.shape
        inner = slice(factor, -factor)  # away from the border, where the padding differs
        torch.testing.assert_close(ours[..., inner, inner], ref[..., inner, inner])


@pytest.mark.parametrize("skips", ["32s", "16s", "8s"])
def test_each_skip_net_scores_every_pixel_and_starts_its_new_layers_at_zero(skips):
    net = fcn.build_model(dataclasses.replace(TINY, skips=skips))
    out = net(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, TINY.num_classes, 64, 64)
    for name in ("score_pool4", "score_pool3"):
        if hasattr(net, name):
            assert not getattr(net, name).weight.any()  # Sec. 4.2: fusing starts as the coarser net
    assert not net.upscore.weight.requires_grad  # the final upsampling stays bilinear
    opt, _ = fcn.build_optimizer(net, TINY)
    owned = {id(p) for g in opt.param_groups for p in g["params"]}
    assert id(net.upscore.weight) not in owned


def test_the_mini_run_trains_one_variant_per_stride_on_the_same_scenes():
    runs = fcn.variants(fcn.PRESETS["mini"])
    assert list(runs) == ["fcn-32s", "fcn-16s", "fcn-8s"]
    assert {c.skips for c in runs.values()} == {"32s", "16s", "8s"}
    cfg = dataclasses.replace(TINY, train_size=6, test_size=3)
    a, b = fcn.scenes(cfg), fcn.scenes(dataclasses.replace(cfg, skips="32s"))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_scenes_are_seeded_and_label_every_shape_class():
    x, y = S.shape_scenes(20, 64, seed=3)
    assert x.shape == (20, 3, 64, 64) and y.shape == (20, 64, 64)
    assert 0 <= x.min() and x.max() <= 1
    assert set(y.unique().tolist()) == {0, 1, 2, 3}
    assert torch.equal(y, S.shape_scenes(20, 64, seed=3)[1])


def test_metrics_follow_section_5_on_a_hand_counted_confusion_matrix():
    target = torch.tensor([0, 0, 0, 1, 1, 2])
    pred = torch.tensor([0, 0, 1, 1, 2, 2])
    n = S.confusion(pred, target, 3)
    assert n.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    m = S.scores(n)
    assert m["pixel_accuracy"] == pytest.approx(4 / 6)
    assert m["mean_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    iou = [2 / 3, 1 / 3, 1 / 2]  # n_ii / (t_i + sum_j n_ji - n_ii)
    assert m["mean_iou"] == pytest.approx(sum(iou) / 3)
    assert m["fw_iou"] == pytest.approx((3 * iou[0] + 2 * iou[1] + 1 * iou[2]) / 6)


def metrics(m32=0.30, m16=0.40, m8=0.65, bar=(0.0, 0.35), threshold=0.41):
    row = lambda miou, b: {"mean_iou": miou, "iou_1": b}  # noqa: E731
    return {"fcn-32s": row(m32, bar[0]), "fcn-16s": row(m16, 0.05), "fcn-8s": row(m8, bar[1]),
            "majority": row(0.23, 0.0), "threshold": row(threshold, 0.0)}


def test_claims_measure_margins_over_the_coarser_nets_and_the_baselines():
    m = metrics()
    assert verdict(CLAIMS["skips-refine"], "mini", m)["margins"] == pytest.approx(
        {"fcn-32s": 0.40 - 0.30 - 0.05, "fcn-16s": 0.65 - 0.40 - 0.05})
    assert verdict(CLAIMS["beats-trivial"], "mini", m)["margins"] == pytest.approx(
        {"majority": 0.65 - 0.23 - 0.15, "threshold": 0.65 - 0.41 - 0.15})
    for cid in ("skips-refine", "thin-structures", "beats-trivial"):
        assert verdict(CLAIMS[cid], "mini", m)["verdict"] == REPRODUCED, cid


def test_an_8s_net_no_better_than_16s_fails_the_skip_claim():
    m = metrics(m8=0.42)
    assert verdict(CLAIMS["skips-refine"], "mini", m)["verdict"] == NOT_REPRODUCED
    assert verdict(CLAIMS["beats-trivial"], "mini", m)["verdict"] == NOT_REPRODUCED
