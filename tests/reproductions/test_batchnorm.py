"""Batch normalization: Algorithms 1 and 2 equal torch's BatchNorm1d/2d in training and eval
mode, BN-Inception has the widths of the paper's Fig. 5, and the miniature's claims compare the
BN net with the no-BN net at the same and at its best rate, and with the pixel baselines."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
import torch.nn as nn

from reproductions import batchnorm as bn
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

CLAIMS = {c.id: c for c in bn.CLAIMS}


def pair(torch_cls, c):
    ours = bn.BatchNorm(c)
    ref = torch_cls(c)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 1.5)
        ours.bias.uniform_(-0.5, 0.5)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


@pytest.mark.parametrize(("torch_cls", "shape"), [(nn.BatchNorm1d, (16, 5)),
                                                  (nn.BatchNorm1d, (8, 5, 7)),
                                                  (nn.BatchNorm2d, (6, 4, 5, 5))])
def test_batchnorm_equals_torch_in_training_and_eval_mode(torch_cls, shape):
    torch.manual_seed(0)
    ours, ref = pair(torch_cls, shape[1])
    for _ in range(3):  # training: batch statistics, moving population statistics
        x = torch.randn(shape) * 3 + 1
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = ours(a), ref(b)
        torch.testing.assert_close(ya, yb, atol=1e-5, rtol=1e-5)
        g = torch.randn(shape)
        ya.backward(g)
        yb.backward(g)
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(ours.weight.grad, ref.weight.grad, atol=1e-4, rtol=1e-4)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(ours, name), getattr(ref, name))
    ours.eval()
    ref.eval()
    x = torch.randn(shape)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-6, rtol=1e-5)


def test_algorithm_1_normalises_each_channel_over_batch_and_locations():
    torch.manual_seed(0)
    layer = bn.BatchNorm(3)  # gamma = 1, beta = 0: y = x_hat
    x = torch.randn(4, 3, 5, 5) * torch.tensor([1.0, 10.0, 0.1]).view(1, 3, 1, 1) + 7
    y = layer(x)
    torch.testing.assert_close(y.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    v = x.var((0, 2, 3), unbiased=False)  # sigma_B^2; x_hat's variance is v / (v + eps)
    torch.testing.assert_close(y.var((0, 2, 3), unbiased=False), v / (v + layer.eps))
    m = 4 * 5 * 5  # Algorithm 2, step 10: Var[x] uses the unbiased m/(m-1) sigma_B^2
    expected = 0.9 * 1 + 0.1 * v * m / (m - 1)
    torch.testing.assert_close(layer.running_var, expected)


def test_algorithm_2_is_a_fixed_affine_map_independent_of_the_batch():
    torch.manual_seed(0)
    layer = bn.BatchNorm(3)
    for _ in range(5):
        layer(torch.randn(8, 3) * 2 + 3)
    layer.eval()
    x = torch.randn(8, 3)
    alone = torch.cat([layer(x[i:i + 1]) for i in range(8)])
    torch.testing.assert_close(layer(x), alone)
    scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
    torch.testing.assert_close(layer(x), (x - layer.running_mean) * scale + layer.bias)


def swap_in_torch_batchnorm(model):
    ref = copy.deepcopy(model)
    for name, module in list(ref.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, bn.BatchNorm):
                new = nn.BatchNorm2d(child.weight.numel())
                new.load_state_dict(child.state_dict())
                setattr(module, child_name, new)
    return ref


def test_bn_inception_with_our_batchnorm_equals_it_with_torchs():
    torch.manual_seed(0)
    model = bn.build_model(dataclasses.replace(bn.PRESETS["paper"], num_classes=10))
    ref = swap_in_torch_batchnorm(model)
    assert not any(isinstance(m, bn.BatchNorm) for m in ref.modules())
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(model(x), ref(x), atol=1e-4, rtol=1e-4)  # training mode
    model.eval()
    ref.eval()
    torch.testing.assert_close(model(x), ref(x), atol=1e-5, rtol=1e-5)


def test_bn_inception_has_the_widths_of_fig_5():
    with torch.device("meta"):
        model = bn.build_model(bn.PRESETS["paper"])
    depth = {n: b.out_channels for n, b in model.inception.named_children()}
    assert depth == {"3a": 256, "3b": 320, "3c": 576, "4a": 576, "4b": 576, "4c": 608,
                     "4d": 608, "4e": 1056, "5a": 1024, "5b": 1024}
    assert sum(isinstance(m, bn.BatchNorm) for m in model.modules()) == 69  # before every ReLU
    assert not any(isinstance(m, nn.Conv2d) and m.bias is not None for m in model.modules())
    with torch.device("meta"):
        slim = bn.build_model(dataclasses.replace(bn.PRESETS["paper"], pool_proj_4cd=96))
    assert slim.inception[5].out_channels == 576  # TF-slim's reading of the table


def test_bn_inception_maps_224_pixels_to_7x7_and_1000_logits():
    model = bn.build_model(bn.PRESETS["paper"]).eval()
    with torch.no_grad():
        feats = model.inception(model.stem(torch.randn(1, 3, 224, 224)))
        assert feats.shape == (1, 1024, 7, 7)
        assert model.fc(feats.mean((2, 3))).shape == (1, 1000)


def test_the_control_is_the_same_network_without_batchnorm():
    runs = bn.variants(bn.PRESETS["mini"])
    assert set(runs) == {"bn-lr0.3", "plain-lr0.3", "plain-lr0.1", "plain-lr0.03"}
    assert runs["bn-lr0.3"].norm and not any(c.norm for n, c in runs.items() if n != "bn-lr0.3")
    assert len({(c.steps, c.batch_size, c.widths, c.momentum) for c in runs.values()}) == 1
    plain = bn.build_model(runs["plain-lr0.3"])
    assert not any(isinstance(m, bn.BatchNorm) for m in plain.modules())
    with pytest.raises(bn.ConfigError, match="compare_lrs must contain lr"):
        bn.variants(dataclasses.replace(bn.PRESETS["mini"], lr=0.5))


def test_steps_to_target_smooths_the_logged_accuracy_and_says_when_never_reached():
    cfg = dataclasses.replace(bn.PRESETS["mini"], steps=50, smooth=2, target_accuracy=0.9)
    rows = [{"step": s, "accuracy": a} for s, a in
            [(10, 0.5), (20, 0.8), (30, 0.85), (40, 0.97), (50, 1.0)]]
    out = bn.curve_metrics(rows, cfg)
    assert out["steps_to_target"] == 40 and out["reached_target"] == 1.0  # (0.85+0.97)/2
    assert out["final_train_accuracy"] == pytest.approx(0.985)
    never = bn.curve_metrics([{"step": s, "accuracy": 0.1} for s in (10, 20)], cfg)
    assert never["steps_to_target"] == 51 and never["reached_target"] == 0.0


def metrics(bn_steps=200, bn_acc=0.97, plain=((0.3, 501, 0.10), (0.1, 400, 0.95),
                                               (0.03, 450, 0.96)), nn_acc=0.934, lr_acc=0.885):
    m = {"bn-lr0.3": {"steps_to_target": bn_steps, "test_accuracy": bn_acc,
                      "final_train_accuracy": 0.99}}
    for lr, steps, acc in plain:
        m[f"plain-lr{lr:g}"] = {"steps_to_target": steps, "test_accuracy": acc,
                                "final_train_accuracy": 0.9}
    return m | {"1-NN pixels": {"test_accuracy": nn_acc},
                "logistic regression pixels": {"test_accuracy": lr_acc}}


def test_claims_compare_with_the_same_rate_the_best_rate_and_the_baselines():
    m = metrics()
    rows = {c: verdict(CLAIMS[c], "mini", m) for c in ("higher-learning-rate", "fewer-steps",
                                                         "accuracy")}
    assert rows["higher-learning-rate"]["margins"] == pytest.approx({"plain-lr0.3": 0.97 - 0.10 - 0.5})
    assert rows["fewer-steps"]["margins"] == pytest.approx({"plain-lr0.1": 400 / 200 - 1.3})
    assert rows["accuracy"]["margins"] == pytest.approx({
        "1-NN pixels": 0.97 - 0.934 - 0.01, "logistic regression pixels": 0.97 - 0.885 - 0.01,
        "plain-lr0.1": 0.97 - 0.95 + 0.01})
    assert {r["verdict"] for r in rows.values()} == {REPRODUCED}


def test_a_bn_net_no_faster_than_the_best_plain_rate_fails_fewer_steps():
    row = verdict(CLAIMS["fewer-steps"], "mini", metrics(bn_steps=320))
    assert row["verdict"] == NOT_REPRODUCED


def test_a_plain_net_that_trains_at_the_high_rate_fails_higher_learning_rate():
    m = metrics(plain=((0.3, 300, 0.95), (0.1, 400, 0.95), (0.03, 450, 0.96)))
    assert verdict(CLAIMS["higher-learning-rate"], "mini", m)["verdict"] == NOT_REPRODUCED
    assert verdict(CLAIMS["fewer-steps"], "mini", m)["margins"] == pytest.approx(
        {"plain-lr0.3": 300 / 200 - 1.3})


def test_baselines_are_the_pixel_classifiers_on_the_same_split():
    found = bn.baselines(bn.PRESETS["mini"])
    assert found["1-NN pixels"]["test_accuracy"] == pytest.approx(0.934, abs=0.001)
    assert bn.baselines(bn.PRESETS["paper"]) == {}
