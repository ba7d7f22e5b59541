"""Highway Networks (`reproductions.highway`): Eq. 2-3 computed as written, the carry and
transform extremes, the negative gate bias, the paper's widths (~5000 parameters per layer),
the miniature's variants differing only in what the claims compare, and the claims' margins."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn as nn

from reproductions import highway
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict
from reproductions.common.config import ConfigError

MINI = highway.PRESETS["mini"]
CLAIMS = {c.id: c for c in highway.CLAIMS}


def test_highway_layer_is_h_times_t_plus_x_times_one_minus_t():
    torch.manual_seed(0)
    layer = highway.HighwayLayer(6, gate_bias=-1.0, act=nn.ReLU())
    x = torch.randn(5, 6)
    h = torch.relu(x @ layer.h.weight.T + layer.h.bias)  # H(x, W_H)
    t = torch.sigmoid(x @ layer.t.weight.T + layer.t.bias)  # T(x, W_T)
    assert torch.allclose(layer(x), h * t + x * (1 - t))  # Eq. 2 with C = 1 - T (Eq. 3)


@pytest.mark.parametrize(("bias", "expect"), [(-60.0, "carry"), (60.0, "transform")])
def test_the_gate_moves_the_layer_between_identity_and_a_plain_layer(bias, expect):
    layer = highway.HighwayLayer(4, gate_bias=bias, act=nn.Tanh())
    nn.init.zeros_(layer.t.weight)  # T(x) = sigmoid(b_T), saturated
    x = torch.randn(3, 4)
    want = x if expect == "carry" else torch.tanh(layer.h(x))  # Eq. 4
    assert torch.allclose(layer(x), want, atol=1e-6)


def test_transform_gates_start_at_the_negative_bias():
    model = highway.build_model(MINI)
    biases = torch.stack([layer.t.bias for layer in model.layers])
    assert torch.all(biases == MINI.gate_bias) and MINI.gate_bias < 0  # Sec. 2.2: carry first
    x, _ = highway.build_data(MINI)[1]["train"]
    gates = []
    with torch.no_grad():
        model(x[:256], gates)
    assert len(gates) == 49
    assert torch.stack(gates).mean().item() == pytest.approx(1 / (1 + math.exp(4)), abs=0.02)


def test_paper_nets_have_50_layers_and_about_5000_parameters_per_layer():
    hw = highway.build_model(highway.PRESETS["paper"])
    plain = highway.build_model(highway.PRESETS["paper-plain"])
    assert len(hw.layers) == len(plain.layers) == 49  # + the plain first layer = 50
    assert all(isinstance(m, highway.HighwayLayer) for m in hw.layers)
    assert not any(isinstance(m, highway.HighwayLayer) for m in plain.modules())
    per_layer = [sum(p.numel() for p in net.layers[0].parameters()) for net in (hw, plain)]
    assert per_layer == [5100, 5112]  # "roughly identical numbers of parameters (~5000)"
    assert hw.first.h.in_features == 784 and hw.classifier.out_features == 10


def test_mini_trains_highway_plain_and_the_gate_bias_ablation_the_same_way():
    runs = highway.variants(MINI)
    assert set(runs) == {"highway", "plain", "highway-bias0"}
    assert (runs["plain"].block, runs["plain"].width) == ("plain", 71)
    assert (runs["highway-bias0"].block, runs["highway-bias0"].gate_bias) == ("highway", 0.0)
    assert runs["highway"].gate_bias == MINI.gate_bias
    same = {(c.depth, c.steps, c.lr, c.momentum, c.batch_size, c.activation, c.seed)
            for c in runs.values()}
    assert same == {(50, 300, 0.01, 0.9, 64, "relu", 0)}
    assert highway.variants(highway.PRESETS["paper"]) == {"main": highway.PRESETS["paper"]}


def test_evaluate_reports_gates_for_highway_nets_only():
    cfg = highway.PRESETS["tiny"]
    _, data = highway.build_data(cfg)
    for name, vcfg in highway.variants(cfg).items():
        metrics = highway.evaluate(highway.build_model(vcfg).eval(), data, vcfg)
        assert {"train_loss", "test_accuracy"} <= set(metrics)
        assert ("mean_gate" in metrics) == (name == "highway")
        if name == "highway":
            assert sorted(k for k in metrics if k.startswith("mean_gate0")) == [
                "mean_gate02", "mean_gate03"]


def test_a_wrong_input_size_is_a_config_error():
    with pytest.raises(ConfigError, match="in_features=784 but the images have 64"):
        highway.build_data(dataclasses.replace(MINI, in_features=784))
    with pytest.raises(ConfigError, match="data_root"):
        highway.build_data(highway.PRESETS["paper"])


def metrics(hw=0.1, plain=2.0, bias0=2.3):
    return {"highway": {"train_loss": hw}, "plain": {"train_loss": plain},
            "highway-bias0": {"train_loss": bias0}, "class prior": {"train_loss": 2.30}}


def test_claims_compare_with_the_plain_net_the_ablation_and_the_class_prior():
    rows = {c: verdict(CLAIMS[c], "mini", metrics()) for c in ("deep-highway-trains", "gate-bias")}
    assert rows["deep-highway-trains"]["margins"] == pytest.approx(
        {"plain": 2.0 - 0.1 - 0.75, "class prior": 2.30 - 0.1 - 1.5})
    assert rows["gate-bias"]["margins"] == pytest.approx({"highway-bias0": 2.3 - 0.1 - 1.0})
    assert all(r["verdict"] == REPRODUCED for r in rows.values())
    as_good = verdict(CLAIMS["deep-highway-trains"], "mini", metrics(plain=0.5))
    assert as_good["verdict"] == NOT_REPRODUCED
    for claim in highway.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id


def test_the_figure_reads_the_runs_training_curve(tmp_path):
    import json

    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(
        {"variant": v, "step": s, "loss": 2.3 / s}) for v in ("highway", "plain")
        for s in (1, 2, 3)))
    (tmp_path / "figures").mkdir()
    m = {"highway": {"mean_gate02": 0.1, "mean_gate03": 0.2, "mean_gate": 0.15}, "plain": {}}
    figs = highway.figures(tmp_path / "figures", MINI, {}, m)
    assert [f["file"] for f in figs] == ["training-loss.png"]
    assert (tmp_path / "figures" / "training-loss.png").read_bytes()[:4] == b"\x89PNG"
