"""He et al. 2015 and Glorot & Bengio 2010 (`reproductions.init`): the initialisation rules
draw exactly what torch.nn.init draws, PReLU is torch's PReLU, the per-layer statistics are
measured on the model as the trainer built it, and the claims compare the right variants."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn as nn

from reproductions import init
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict
from reproductions.common.config import ConfigError
from reproductions.common.trainer import seed_everything

CLAIMS = {c.id: c for c in init.CLAIMS}
SHAPES = [(64, 32, 3, 3), (256, 128, 2, 2), (100, 300)]  # conv (d, c, k, k) and linear (d, c)


def draw(fill, shape, seed=0):
    torch.manual_seed(seed)
    return fill(torch.empty(shape))


@pytest.mark.parametrize("shape", SHAPES)
def test_he_init_draws_what_kaiming_normal_draws(shape):
    ours = draw(lambda w: init.init_weight_(w, "he"), shape)
    ref = draw(lambda w: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"), shape)
    assert torch.allclose(ours, ref, rtol=1e-6, atol=0)
    fan_in = math.prod(shape[1:])
    assert ours.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.03)  # Eq. 10


def test_he_init_for_prelu_is_eq_15_kaimings_leaky_relu_gain():
    shape = (128, 64, 3, 3)
    ours = draw(lambda w: init.init_weight_(w, "he", a=0.25), shape)
    ref = draw(lambda w: nn.init.kaiming_normal_(w, a=0.25, nonlinearity="leaky_relu"), shape)
    assert torch.allclose(ours, ref, rtol=1e-6, atol=0)


@pytest.mark.parametrize("shape", SHAPES)
def test_normalized_init_draws_what_xavier_uniform_draws(shape):
    ours = draw(lambda w: init.init_weight_(w, "xavier"), shape)
    ref = draw(nn.init.xavier_uniform_, shape)
    assert torch.allclose(ours, ref, rtol=1e-6, atol=0)
    fan_in, fan_out = init.fans(ours)
    assert ours.abs().max().item() <= math.sqrt(6 / (fan_in + fan_out))  # Eq. 16


@pytest.mark.parametrize("shape", SHAPES)
def test_standard_init_is_u_of_one_over_sqrt_fan_in_as_torchs_default_linear(shape):
    ours = draw(lambda w: init.init_weight_(w, "standard"), shape)
    ref = draw(lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5)), shape)  # nn.Linear's default
    assert torch.allclose(ours, ref, rtol=1e-6, atol=0)
    assert ours.var().item() == pytest.approx(1 / (3 * math.prod(shape[1:])), rel=0.05)  # Eq. 1


def test_an_unknown_init_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown init"):
        init.init_weight_(torch.empty(3, 3), "orthogonal")


def test_prelu_is_eq_1_and_matches_torchs_prelu_with_its_gradients():
    ours, ref = init.PReLU(8), nn.PReLU(8, init=0.25)
    ours.weight.data.uniform_(-0.5, 1.0)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(4, 8, 5, 5, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    out, out_ref = ours(x), ref(x_ref)
    assert torch.allclose(out, out_ref)
    out.square().sum().backward()
    out_ref.square().sum().backward()
    assert torch.allclose(x.grad, x_ref.grad) and torch.allclose(ours.weight.grad, ref.weight.grad)
    a = ours.weight.view(1, -1, 1, 1)
    assert torch.equal(out, torch.where(x > 0, x, a * x))  # max(0, y) + a min(0, y)
    flat = torch.randn(2, 8)  # (B, C) after a fully connected layer
    assert torch.allclose(ours(flat), ref(flat))


def test_paper_presets_have_the_published_depths_and_pyramid():
    depth = {p: len(init.weight_layers(init.build_model(dataclasses.replace(
        init.PRESETS[p], hidden=(8, 8) if p != "paper-xavier" else (8,) * 5)))) for p in
        ("table1", "paper-xavier")}
    assert depth == {"table1": 14, "paper-xavier": 6}
    with torch.device("meta"):
        paper = init.build_model(init.PRESETS["paper"])
        model_a = init.build_model(init.PRESETS["model-a"])
    assert (len(paper.convs), len(paper.fcs) + 1) == (27, 3)  # Sec. 2.3: 27 conv + 3 fc
    assert len(init.weight_layers(model_a)) == 19  # Table 3: model A, depth 19
    assert paper.fcs[0].in_features == 256 * (36 + 9 + 4 + 1)  # spp {6, 3, 2, 1} of 256 maps
    assert model_a.fcs[0].in_features == 512 * (49 + 9 + 4 + 1)  # spp {7, 3, 2, 1} of 512 maps
    assert sum(isinstance(m, init.PReLU) for m in model_a.modules()) == 18  # all but the output


def test_the_paper_net_runs_on_a_small_image_and_the_pyramid_fixes_the_fc_input():
    cfg = dataclasses.replace(init.PRESETS["table1"], widths=(4, 4, 8), hidden=(16, 16),
                              num_classes=5)
    model = init.build_model(cfg).eval()
    for size in (64, 100):
        responses = []
        assert model(torch.randn(2, 3, size, size), responses).shape == (2, 5)
        assert len(responses) == 14


def test_mini_compares_he_with_xavier_and_mini_xavier_normalized_with_standard():
    runs = init.variants(init.PRESETS["mini"])
    assert {n: c.init for n, c in runs.items()} == {"he": "he", "xavier": "xavier"}
    assert all(c.activation == "relu" for c in runs.values())
    assert len(init.weight_layers(init.build_model(runs["he"]))) == 30
    glorot = init.variants(init.PRESETS["mini-xavier"])
    assert {n: c.init for n, c in glorot.items()} == {"xavier": "xavier", "standard": "standard"}
    assert all(c.activation == "tanh" and len(c.hidden) == 5 for c in glorot.values())
    for pair in (runs, glorot):  # same data, optimizer and budget: only the init differs
        a, b = pair.values()
        assert dataclasses.replace(a, init=b.init) == b
    with pytest.raises(ConfigError, match="must differ"):
        init.variants(dataclasses.replace(init.PRESETS["mini"], control_init="he"))


def test_initial_model_is_the_trainers_model_before_step_1_and_leaves_the_rng_alone():
    cfg = init.PRESETS["tiny"]
    seed_everything(cfg.seed)
    built = init.build_model(cfg)
    state = torch.get_rng_state()
    again = init.initial_model(cfg)
    assert torch.equal(torch.get_rng_state(), state)
    for (k, a), b in zip(built.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_signal_stats_measure_every_layer_without_touching_parameter_gradients():
    cfg = init.PRESETS["mini"]
    model = init.initial_model(cfg)
    x, y = init.build_data(cfg)[1]["probe"]
    var_y, var_dy, ys, grads = init.signal_stats(model, x, y)
    assert len(var_y) == len(var_dy) == len(ys) == len(grads) == 30
    assert all(p.grad is None for p in model.parameters())
    assert ys[0].shape == (len(x), 128) and grads[-1].shape == (len(x), 10)
    # Eq. 10: each hidden ReLU layer keeps the response variance (within noise of width 128)
    ratios = [b / a for a, b in zip(var_y[1:-2], var_y[2:-1], strict=True)]
    assert 0.8 < math.exp(sum(math.log(r) for r in ratios) / len(ratios)) < 1.2


def test_prelu_coefficients_get_no_weight_decay():
    cfg = dataclasses.replace(init.PRESETS["tiny"], weight_decay=5e-4)
    model = init.build_model(cfg)
    opt, _ = init.build_optimizer(model, cfg)
    decay = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    prelu = [m.weight for m in model.modules() if isinstance(m, init.PReLU)]
    assert prelu and all(decay[id(p)] == 0.0 for p in prelu)
    assert decay[id(model.classifier.weight)] == 5e-4
    assert len(decay) == len(list(model.parameters()))


def metrics(he_fwd=-0.5, xav_fwd=-9.0, he_bwd=-0.2, xav_bwd=-8.5, he_loss=0.1, xav_loss=2.30):
    return {"he": {"forward_decades": he_fwd, "backward_decades": he_bwd, "train_loss": he_loss,
                   "test_accuracy": 0.95},
            "xavier": {"forward_decades": xav_fwd, "backward_decades": xav_bwd,
                       "train_loss": xav_loss, "test_accuracy": 0.1},
            "class prior": {"train_loss": 2.30, "test_accuracy": 0.1},
            "1-NN pixels": {"test_accuracy": 0.98},
            "logistic regression pixels": {"test_accuracy": 0.97}}


def test_he_claims_compare_with_xavier_the_class_prior_and_a_constant_variance():
    m = metrics()
    rows = {c: verdict(CLAIMS[c], "mini", m) for c in ("he-forward-variance",
                                                       "he-deep-relu-trains")}
    assert rows["he-forward-variance"]["margins"] == pytest.approx(
        {"xavier": -0.5 + 9.0 - 5.0, "constant variance (ratio 1)": 0.5})
    assert rows["he-deep-relu-trains"]["margins"] == pytest.approx(
        {"xavier": 2.30 - 0.1 - 1.5, "class prior": 2.30 - 0.1 - 1.5})
    assert all(r["verdict"] == REPRODUCED for r in rows.values())
    # He init that lets the variance drift by 100x fails, even though Xavier is far worse
    drift = verdict(CLAIMS["he-forward-variance"], "mini", metrics(he_fwd=-2.0))
    assert drift["verdict"] == NOT_REPRODUCED
    stalled = verdict(CLAIMS["he-deep-relu-trains"], "mini", metrics(he_loss=1.5))
    assert stalled["verdict"] == NOT_REPRODUCED
    # a claim about mini is not applicable to the Glorot miniature and vice versa
    assert verdict(CLAIMS["he-deep-relu-trains"], "mini-xavier", m)["verdict"] == "not applicable"
    assert CLAIMS["xavier-trains-faster"].presets == ("mini-xavier",)


def test_paper_scale_claims_say_what_they_need():
    for claim in init.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id


def test_mini_figures_are_drawn(tmp_path):
    cfg = dataclasses.replace(init.PRESETS["mini-xavier"], hidden=(16,) * 5, probe_size=64)
    x, y = init.build_data(cfg)[1]["probe"]
    models, metrics_ = {}, {}
    for name, vcfg in init.variants(cfg).items():
        models[name] = init.initial_model(vcfg)
        var_y, _, _, _ = init.signal_stats(models[name], x, y)
        metrics_[name] = {f"log10_var_y{i + 1:02d}": math.log10(v) for i, v in enumerate(var_y)}
        metrics_[name] |= {f"log10_var_dy{i + 1:02d}": -1.0 for i in range(len(var_y))}
    figs = init.figures(tmp_path, cfg, models, metrics_)
    assert [f["file"] for f in figs] == ["variance-per-layer.png", "histograms.png"]
    assert all((tmp_path / f["file"]).read_bytes()[:4] == b"\x89PNG" for f in figs)
