"""Deformable convolution: Eq. 2-4 written out equals torchvision.ops.deform_conv2d with the same
offsets (values and gradients), zero offsets give the plain convolution (Eq. 1), an integer
offset shifts the sampling point, the offset branch starts at zero, res5 of the paper net is
deformable at stride 16, the plain control has at least the deformable net's parameters, the
scenes' objects span the widths asked for, and the claims read the right variants and
baselines."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from reproductions import deformable
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

TINY = deformable.PRESETS["tiny"]
CLAIMS = {c.id: c for c in deformable.CLAIMS}


@pytest.mark.parametrize(("stride", "padding", "dilation"), [(1, 1, 1), (2, 1, 1), (1, 2, 2)])
def test_eq2_equals_torchvision_deform_conv2d_with_the_same_offsets(stride, padding, dilation):
    torch.manual_seed(0)
    x, w, b = torch.randn(2, 5, 9, 11), torch.randn(4, 5, 3, 3), torch.randn(4)
    ho = (9 + 2 * padding - 2 * dilation - 1) // stride + 1
    wo = (11 + 2 * padding - 2 * dilation - 1) // stride + 1
    offset = 2 * torch.randn(2, 18, ho, wo)  # some points fall outside the map
    ours = deformable.deform_conv2d(x, offset, w, b, stride, padding, dilation)
    theirs = tv_deform_conv2d(x, offset, w, b, stride=stride, padding=padding, dilation=dilation)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    zero = torch.zeros_like(offset)  # Eq. 1: no offsets, the regular grid
    torch.testing.assert_close(deformable.deform_conv2d(x, zero, w, b, stride, padding, dilation),
                               F.conv2d(x, w, b, stride, padding, dilation), rtol=1e-5, atol=1e-5)


def test_the_layer_on_a_cpu_runs_eq2_with_torchvisions_values_and_gradients():
    torch.manual_seed(0)
    layer = deformable.DeformConv2d(4, 5)
    torch.nn.init.normal_(layer.offset.weight, std=0.5)  # offsets of a pixel or two
    x = torch.randn(2, 4, 7, 8, requires_grad=True)
    ours = layer(x)
    ours.square().sum().backward()
    grads = [t.grad.clone() for t in (x, layer.weight, layer.offset.weight)]
    for t in (x, layer.weight, layer.offset.weight):
        t.grad = None
    theirs = tv_deform_conv2d(x, layer.offset(x), layer.weight, padding=1)
    theirs.square().sum().backward()
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
    for g, t in zip(grads, (x, layer.weight, layer.offset.weight), strict=True):
        torch.testing.assert_close(g, t.grad, rtol=1e-4, atol=1e-4)


def test_an_offset_of_one_row_reads_the_pixel_below():
    x = torch.arange(25.0).view(1, 1, 5, 5)
    w = torch.zeros(1, 1, 3, 3)
    w[0, 0, 1, 1] = 1  # only the centre point p_n = (0, 0)
    offset = torch.zeros(1, 18, 5, 5)
    offset[:, 2 * 4] = 1.0  # dy of the centre point
    y = deformable.deform_conv2d(x, offset, w, padding=1)
    assert torch.equal(y[0, 0, :4], x[0, 0, 1:])  # shifted up by one row
    assert torch.equal(y[0, 0, 4], torch.zeros(5))  # below the map: zeros
    offset[:, 2 * 4] = 0.5  # Eq. 3-4: halfway between two rows, the mean of both
    assert torch.allclose(deformable.deform_conv2d(x, offset, w, padding=1)[0, 0, 0],
                          (x[0, 0, 0] + x[0, 0, 1]) / 2)


def test_the_offset_branch_starts_at_zero_so_training_starts_as_a_plain_convolution():
    layer = deformable.DeformConv2d(3, 4)
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(layer(x), F.conv2d(x, layer.weight, padding=1))
    assert torch.allclose(deformable.sampling_spread(layer, x), torch.ones(2, 8, 8))


def test_the_paper_net_has_deformable_3x3s_in_res5_at_output_stride_16():
    with torch.device("meta"):
        net = deformable.build_model(deformable.PRESETS["paper"])
        x = torch.empty(1, 3, 224, 224)
        h = net.layer4(net.layer3(net.layer2(net.layer1(net.maxpool(net.conv1(x))))))
    assert [type(b.conv2).__name__ for b in net.layer4] == ["DeformConv2d"] * 3
    assert not any(isinstance(b.conv2, deformable.DeformConv2d) for b in net.layer3)
    assert h.shape[-1] == 14  # 224 / 16


def test_the_mini_nets_last_two_layers_are_deformable_and_plain_has_more_parameters():
    runs = deformable.variants(deformable.PRESETS["mini"])
    assert list(runs) == ["deformable", "plain"]
    with torch.device("meta"):
        deform, plain = (deformable.build_model(c) for c in runs.values())
    assert [type(m).__name__ for m in deform.layers] == ["Conv2d", "DeformConv2d", "DeformConv2d"]
    assert not any(isinstance(m, deformable.DeformConv2d) for m in plain.modules())
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert (count(deform), count(plain)) == (45_815, 47_681)


def test_scale_scenes_span_the_widths_and_label_every_object_pixel():
    x, y, w = deformable.scale_scenes(8, 64, seed=3, min_width=6.0, max_width=56.0)
    assert x.shape == (8, 3, 64, 64) and y.shape == w.shape == (8, 64, 64)
    assert torch.equal(w > 0, y > 0)  # a width exactly where an object is
    seen = w[w > 0]
    assert 6.0 <= float(seen.min()) and float(seen.max()) <= 56.0
    assert float(seen.max()) / float(seen.min()) > 3  # small and large objects both occur
    assert set(y.unique().tolist()) == {0, 1, 2}
    again = deformable.scale_scenes(8, 64, seed=3, min_width=6.0, max_width=56.0)
    assert all(torch.equal(a, b) for a, b in zip((x, y, w), again, strict=True))


def test_the_plain_control_is_the_same_net_without_offsets():
    deform, plain = (deformable.build_model(dataclasses.replace(TINY, deformable=d))
                     for d in (True, False))
    own = {k: v for k, v in deform.state_dict().items() if ".offset." not in k}
    plain.load_state_dict(own)  # the rest has the same names and shapes
    x = torch.randn(2, 3, 24, 24)
    torch.testing.assert_close(deform.eval()(x), plain.eval()(x))  # zero offsets at the start


def metrics(deform=0.75, plain=0.60, large=2.5, small=1.5):
    acc = {"accuracy_small": 0.6, "accuracy_large": 0.9}
    return {"deformable": {"mean_iou": deform, "spread_large": large, "spread_small": small,
                           "spread_background": 1.0} | acc,
            "plain": {"mean_iou": plain} | acc, "majority": {"mean_iou": 0.27},
            "threshold": {"mean_iou": 0.50}}


def test_claims_measure_margins_over_the_plain_net_and_the_baselines():
    m = metrics()
    assert verdict(CLAIMS["deformable-beats-plain"], "mini", m)["margins"] == pytest.approx(
        {"plain": 0.75 - 0.60 - 0.05})
    assert verdict(CLAIMS["offsets-spread"], "mini", m)["margins"] == pytest.approx(
        {"small objects": 2.5 - 1.5 - 0.3})
    for cid in ("deformable-beats-plain", "offsets-spread", "beats-trivial"):
        assert verdict(CLAIMS[cid], "mini", m)["verdict"] == REPRODUCED, cid
    assert verdict(CLAIMS["deformable-beats-plain"], "mini", metrics(plain=0.73))["verdict"] \
        == NOT_REPRODUCED
    assert verdict(CLAIMS["offsets-spread"], "mini", metrics(large=1.7))["verdict"] \
        == NOT_REPRODUCED  # wider on large objects, but not by 0.3
