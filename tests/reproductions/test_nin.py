"""NIN: an mlpconv layer is a k x k convolution followed by 1x1 convolutions (an MLP slid over
the image), the paper preset is the authors' CIFAR-10 network, global average pooling has no
parameters and reads one map per class, and the miniature's claims compare what they say."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn as nn

from reproductions import nin
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

MINI = nin.PRESETS["mini"]
CLAIMS = {c.id: c for c in nin.CLAIMS}


def test_a_1x1_layer_is_the_same_mlp_applied_at_every_position():
    """Sec. 3.2: cross channel parametric pooling = a fully connected layer per pixel."""
    layer = nin.MLPConv(6, 3, (8, 5, 4))
    x = torch.randn(2, 6, 7, 7)
    hidden = layer.layers[:2](x)  # (2, 8, 7, 7): the 3x3 convolution and its ReLU
    out = layer(x)  # (2, 4, 7, 7)
    conv2, conv3 = layer.layers[2], layer.layers[4]
    mlp = nn.Sequential(nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU())
    mlp[0].weight.data, mlp[0].bias.data = conv2.weight.view(5, 8), conv2.bias
    mlp[2].weight.data, mlp[2].bias.data = conv3.weight.view(4, 5), conv3.bias
    per_pixel = mlp(hidden.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # (2, 4, 7, 7)
    torch.testing.assert_close(out, per_pixel)


def test_paper_preset_is_the_authors_cifar10_nin():
    model = nin.build_model(nin.PRESETS["paper"]).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size[0], c.out_channels) for c in convs] == [
        (5, 192), (1, 160), (1, 96), (5, 192), (1, 192), (1, 192), (3, 192), (1, 192), (1, 10)]
    assert sum(p.numel() for p in model.parameters()) == 966_986
    assert not list(model.head.parameters())  # Sec. 3.2: "no parameter to optimize"
    with torch.no_grad():
        maps = model.features(torch.randn(2, 3, 32, 32))  # (2, 10, 8, 8): one map per class
        assert maps.shape == (2, 10, 8, 8)
        torch.testing.assert_close(model.head(maps), maps.mean((2, 3)))


def test_mini_trains_gap_an_fc_head_and_plain_convolutions_the_same_way():
    """Same steps and batches; only the FC control has its own (lower) learning rate."""
    runs = nin.variants(MINI)
    assert set(runs) == {"main", "fc", "conv"}
    assert {n: (c.head, c.mlp, c.dropout) for n, c in runs.items()} == {
        "main": ("gap", True, 0.0), "fc": ("fc", True, 0.0), "conv": ("gap", False, 0.0)}
    assert len({(c.steps, c.batch_size) for c in runs.values()}) == 1
    assert runs["main"].lr == runs["conv"].lr == MINI.lr and runs["fc"].lr == MINI.fc_lr
    models = {n: nin.build_model(c) for n, c in runs.items()}
    assert sum(p.numel() for p in models["main"].parameters()) == 15_858
    assert sum(p.numel() for p in models["fc"].head.parameters()) == 303_882
    assert not any(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
                   for m in models["conv"].modules())


def metrics(gap_loss=(0.10, 0.15), fc_loss=(0.01, 0.20), acc=(0.96, 0.955, 0.95)):
    def net(train, test, a, head):
        return {"train_loss": train, "test_loss": test, "test_accuracy": a, "head_parameters": head}
    return {"main": net(*gap_loss, acc[0], 0), "fc": net(*fc_loss, acc[1], 203_530),
            "conv": net(0.1, 0.2, acc[2], 0), "1-NN pixels": {"test_accuracy": 0.934},
            "logistic regression pixels": {"test_accuracy": 0.885}}


def test_claims_measure_their_margins_over_the_named_control_or_baseline():
    m = metrics()
    gap = verdict(CLAIMS["gap-head-regularises"], "mini", m)
    assert gap["margins"] == pytest.approx({"fc": 0.19 - 0.05, "fc head parameters": 202_530})
    assert gap["verdict"] == REPRODUCED
    assert verdict(CLAIMS["beats-pixel-baselines"], "mini", m)["margins"] == pytest.approx(
        {"1-NN pixels": 0.96 - 0.934, "logistic regression pixels": 0.96 - 0.885})
    assert verdict(CLAIMS["mlpconv-beats-conv"], "mini", m)["margins"] == pytest.approx(
        {"conv": 0.01})


def test_an_fc_head_that_overfits_no_more_fails_the_gap_claim():
    m = metrics(gap_loss=(0.05, 0.25), fc_loss=(0.05, 0.20))
    assert verdict(CLAIMS["gap-head-regularises"], "mini", m)["verdict"] == NOT_REPRODUCED


def test_paper_scale_claims_say_what_they_need():
    for claim in nin.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id


def test_the_paper_preset_needs_cifar10_and_the_mini_split_has_a_train_sample():
    with pytest.raises(Exception, match="data_root"):
        nin.build_data(nin.PRESETS["paper"])
    _, eval_data = nin.build_data(dataclasses.replace(MINI))
    assert len(eval_data["train"][1]) == nin.N_TRAIN_EVAL == len(eval_data["test"][1])
