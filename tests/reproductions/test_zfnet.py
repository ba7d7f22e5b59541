"""ZFNet: the Fig. 3 layout (map sizes, parameter count), the Sec. 4.1 control (only conv1
differs), the claims as pure functions of a metrics dict, and the Fig. 6 filter figure.

The registry-wide checks (tiny step, gradients, --set, run folder) live in test_reproductions.py.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import zfnet
from reproductions.common.claims import (
    NOT_APPLICABLE,
    NOT_EVALUATED,
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)

MINI = zfnet.PRESETS["mini"]
CLAIM = {c.id: c for c in zfnet.CLAIMS}


def test_paper_preset_has_the_map_sizes_of_fig3():
    assert zfnet.feature_sides(zfnet.PRESETS["paper"]) == [110, 55, 26, 13, 13, 6]


def test_paper_preset_is_dense_with_fig3_filters():
    with torch.device("meta"):
        model = zfnet.build_model(zfnet.PRESETS["paper"])
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0], c.groups) for c in convs] == [
        (96, 7, 2, 1), (256, 5, 2, 1), (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1)]
    assert [m.out_features for m in model.classifier if isinstance(m, torch.nn.Linear)] == [
        4096, 4096, 1000]
    assert sum(p.numel() for p in model.parameters()) == 62_357_608


def test_the_control_differs_only_in_the_first_layer():
    runs = zfnet.variants(MINI)
    assert set(runs) == {"main", "alexnet-conv1"}
    diff = {f.name for f in dataclasses.fields(zfnet.Config)
            if getattr(runs["main"], f.name) != getattr(runs["alexnet-conv1"], f.name)}
    assert diff == {"conv1_kernel", "conv1_stride", "conv1_padding"}
    a, b = (zfnet.build_model(c) for c in runs.values())
    assert a.features[0].weight.shape[-1] == 7 and b.features[0].weight.shape[-1] == 11
    # same classifier whatever conv1 is (the adaptive pool fixes fc6's input)
    assert [p.shape for p in a.classifier.parameters()] == [p.shape for p in b.classifier.parameters()]
    x = torch.randn(2, 1, MINI.image_size, MINI.image_size)
    assert a(x).shape == b(x).shape == (2, 10)


def test_mini_data_is_mnist_upscaled():
    _, ev = zfnet.build_data(MINI)
    x, y = ev["test"]
    assert x.shape == (1000, 1, 56, 56) and y.shape == (1000,)


def metrics(zf=0.95, alex=0.94, nn=0.934, lr=0.885) -> dict:
    return {"main": {"test_accuracy": zf}, "alexnet-conv1": {"test_accuracy": alex},
            "1-NN pixels": {"test_accuracy": nn}, "logistic regression pixels": {"test_accuracy": lr}}


def test_conv1_claim_is_the_accuracy_gap_to_the_alexnet_layer():
    row = verdict(CLAIM["smaller-conv1-stride"], "mini", metrics(0.95, 0.94))
    assert row["margin"] == pytest.approx(0.01 - zfnet.CONV1_MARGIN)
    assert row["verdict"] == REPRODUCED
    assert verdict(CLAIM["smaller-conv1-stride"], "mini", metrics(0.94, 0.95))["verdict"] == (
        NOT_REPRODUCED_IN_MINIATURE)


def test_accuracy_claim_is_the_margin_over_each_pixel_baseline():
    row = verdict(CLAIM["mini-accuracy"], "mini", metrics(zf=0.95))
    assert row["margins"] == pytest.approx({"1-NN pixels": 0.016, "logistic regression pixels": 0.065})
    assert verdict(CLAIM["mini-accuracy"], "mini", metrics(zf=0.93))["verdict"] == NOT_REPRODUCED


def test_a_run_without_the_control_evaluates_nothing():
    m = metrics()
    del m["alexnet-conv1"]
    assert verdict(CLAIM["smaller-conv1-stride"], "mini", m)["verdict"] == NOT_EVALUATED
    assert verdict(CLAIM["imagenet-error"], "mini", m)["verdict"] == NOT_APPLICABLE
    assert "preset paper" in CLAIM["imagenet-error"].needs


def test_figure_shows_both_first_layers(tmp_path):
    runs = zfnet.variants(dataclasses.replace(MINI, channels=(4, 4, 4, 4, 4), fc_dim=8))
    models = {v: zfnet.build_model(c) for v, c in runs.items()}
    figs = zfnet.figures(tmp_path, MINI, models, metrics())
    assert [f["file"] for f in figs] == ["conv1_filters.png"]
    assert (tmp_path / "conv1_filters.png").stat().st_size > 0
