"""Dropout (Srivastava et al. 2014; Hinton et al. 2012): the paper's dropout is torch's inverted
dropout up to the factor p, the weight-scaling rule is exactly the normalised geometric mean of
all thinned nets for one dropout layer into a softmax, max-norm keeps each hidden unit's
weights in the ball, and the miniatures compare the same net with and without dropout on the
same images (claims as pure functions of a metrics dict)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

from reproductions import dropout
from reproductions.common.claims import NOT_APPLICABLE, NOT_REPRODUCED, REPRODUCED, verdict

MINI, MINI_2012 = dropout.PRESETS["mini"], dropout.PRESETS["mini-2012"]
CLAIMS = {c.id: c for c in dropout.CLAIMS}


def test_training_mask_is_torchs_inverted_dropout_times_p():
    x = torch.randn(64, 50)
    layer = dropout.Dropout(0.8).train()
    torch.manual_seed(3)
    ours = layer(x)
    torch.manual_seed(3)
    theirs = torch.nn.functional.dropout(x, p=0.2, training=True)
    torch.testing.assert_close(ours, theirs * 0.8)
    assert 0.7 < (ours != 0).float().mean() < 0.9


def test_the_test_time_net_is_a_plain_net_with_outgoing_weights_scaled_by_p():
    """Fig. 2: at test time W_test = p W; our eval mode multiplies the kept layer's output."""
    cfg = dataclasses.replace(dropout.PRESETS["tiny"], hidden=(7, 5), p_input=0.8, p_hidden=0.5)
    torch.manual_seed(0)
    net = dropout.build_model(cfg).eval()
    linears = [m for m in net.net if isinstance(m, torch.nn.Linear)]
    scaled = []
    for i, lin in enumerate(linears):
        copy = torch.nn.Linear(lin.in_features, lin.out_features).double()
        copy.weight.data = lin.weight.data.double() * (0.8 if i == 0 else 0.5)
        copy.bias.data = lin.bias.data.double()
        scaled += [copy, torch.nn.ReLU()]
    plain = torch.nn.Sequential(torch.nn.Flatten(), *scaled[:-1])
    x = torch.randn(9, 1, 28, 28)
    torch.testing.assert_close(net.double()(x.double()), plain(x.double()))


@pytest.mark.parametrize("p", [0.5, 0.8])
def test_weight_scaling_is_the_normalised_geometric_mean_of_all_thinned_nets(p):
    """Hinton et al. 2012: one dropout layer feeding a softmax: the mean network's prediction
    equals the (probability-weighted) normalised geometric mean over all 2^N masks."""
    cfg = dataclasses.replace(dropout.PRESETS["tiny"], hidden=(6,), p_input=1.0, p_hidden=p)
    torch.manual_seed(1)
    net = dropout.build_model(cfg).double().eval()
    for m in net.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.normal_(m.weight, std=0.5)
    x = torch.randn(4, 1, 28, 28, dtype=torch.float64)
    first, out = net.net[1], net.net[-1]
    h = torch.relu(first(x.flatten(1)))  # (B, 6)
    log_geo = 0
    for bits in itertools.product([0.0, 1.0], repeat=6):
        r = torch.tensor(bits, dtype=torch.float64)
        prob = p ** r.sum() * (1 - p) ** (6 - r.sum())
        log_geo = log_geo + prob * out(h * r).log_softmax(-1)
    torch.testing.assert_close(log_geo.log_softmax(-1), net(x).log_softmax(-1))


def test_max_norm_projects_each_hidden_units_incoming_weights_into_the_ball():
    cfg = dataclasses.replace(dropout.PRESETS["tiny"], hidden=(8, 8), max_norm=0.5, lr=50.0)
    torch.manual_seed(0)
    net = dropout.build_model(cfg)
    opt, _ = dropout.build_optimizer(net, cfg)
    small = net.hidden_layers()[0].weight.data[0].clone() * 0  # a row inside the ball stays
    net.hidden_layers()[0].weight.data[0] = small
    x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    for _ in range(3):
        opt.zero_grad()
        dropout.training_step(net, (x, y))["loss"].backward()
        opt.step()
    for layer in net.hidden_layers():
        assert layer.weight.norm(dim=1).max() <= 0.5 + 1e-6
    assert net.net[-1].weight.norm(dim=1).max() > 0.5  # the softmax layer is not constrained


def test_mc_average_samples_thinned_nets_and_restores_the_test_time_net():
    cfg = dataclasses.replace(dropout.PRESETS["tiny"], hidden=(16,))
    net = dropout.build_model(cfg).eval()
    x = torch.randn(5, 1, 28, 28)
    before = net(x)
    logp = net.mc_average(x, 7)
    assert logp.shape == (7, 5, 10)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(7, 5))
    assert not torch.allclose(logp[0], logp[1])  # different masks
    torch.testing.assert_close(net(x), before)  # back to weight scaling, deterministic


def test_evaluate_reports_weight_scaling_mc_and_one_net_on_the_test_split():
    cfg = dataclasses.replace(dropout.PRESETS["tiny"], mc_samples=3)
    net = dropout.build_model(cfg).eval()
    _, eval_data = dropout.build_data(cfg)
    with torch.no_grad():
        m = dropout.evaluate(net, eval_data, cfg)
    assert {"test_error", "train_error", "mc_error", "one_net_error", "kl_geo_to_scaled",
            "kl_geo_to_one_net"} <= set(m)
    assert m["kl_geo_to_scaled"] >= 0 and m["kl_geo_to_one_net"] >= 0


def test_paper_presets_are_the_papers_mnist_nets():
    sizes = {p: [m.out_features for m in dropout.build_model(dropout.PRESETS[p]).modules()
                 if isinstance(m, torch.nn.Linear)] for p in ("paper", "paper-2012")}
    assert sizes == {"paper": [1024, 1024, 1024, 10], "paper-2012": [800, 800, 10]}
    for p in ("paper", "paper-2012"):
        cfg = dropout.PRESETS[p]
        assert (cfg.p_input, cfg.p_hidden) == (0.8, 0.5)  # 20% of inputs, 50% of hidden dropped
    assert dropout.PRESETS["paper"].max_norm == 3.0


def test_the_control_is_the_same_net_on_the_same_images_without_dropout_or_max_norm():
    for preset in (MINI, MINI_2012):
        runs = dropout.variants(preset)
        assert set(runs) == {"dropout", "no-dropout"}
        plain = runs["no-dropout"]
        assert (plain.p_input, plain.p_hidden, plain.max_norm) == (1.0, 1.0, None)
        same = dataclasses.replace(plain, p_input=preset.p_input, p_hidden=preset.p_hidden,
                                   max_norm=preset.max_norm, mc_samples=preset.mc_samples)
        assert same == runs["dropout"]
    x1, y1, xt, _ = dropout.split_of(dropout.variants(MINI)["dropout"])
    x2, _, xt2, _ = dropout.split_of(dropout.variants(MINI)["no-dropout"])
    assert torch.equal(x1, x2) and torch.equal(xt, xt2) and len(xt) == 1000
    assert torch.bincount(y1).tolist() == [200] * 10
    other, _, _, _ = dropout.split_of(dataclasses.replace(MINI, seed=1))
    assert not torch.equal(other, x1)
    assert len(dropout.split_of(MINI_2012)[0]) == 2000


def metrics(drop=0.06, plain=0.08, gaps=(0.25, 0.4), nn=0.92, lr=0.87, mc=0.058,
            kl=(0.002, 0.14)):
    return {
        "dropout": {"test_error": drop, "train_loss": 0.01, "test_loss": 0.01 + gaps[0],
                    "mc_error": mc, "one_net_error": 0.09, "kl_geo_to_scaled": kl[0], "kl_geo_to_one_net": kl[1]},
        "no-dropout": {"test_error": plain, "train_loss": 0.0, "test_loss": gaps[1]},
        "1-NN pixels": {"test_accuracy": nn}, "logistic regression pixels": {"test_accuracy": lr},
    }


def test_claims_measure_their_margins_over_the_control_and_the_baselines():
    m = metrics()
    assert verdict(CLAIMS["dropout-lowers-test-error"], "mini", m)["margins"] == pytest.approx(
        {"no-dropout": 0.08 - 0.06 - 0.005, "1-NN pixels": 0.94 - 0.92,
         "logistic regression pixels": 0.94 - 0.87})
    assert verdict(CLAIMS["dropout-closes-the-gap"], "mini", m)["margins"] == pytest.approx(
        {"no-dropout": 0.8 * 0.4 - 0.25})
    assert verdict(CLAIMS["weight-scaling-approximates-averaging"], "mini-2012",
                   m)["margins"] == pytest.approx({"mc-average": 0.01 - 0.002,
                                                   "one-net": 0.14 / 5 - 0.002})
    assert verdict(CLAIMS["dropout-2012-lowers-test-error"], "mini-2012",
                   m)["margins"]["no-dropout"] == pytest.approx(1 - 0.06 / 0.08 - 0.05)
    for cid, preset in (("dropout-lowers-test-error", "mini"), ("dropout-closes-the-gap", "mini"),
                        ("weight-scaling-approximates-averaging", "mini-2012"),
                        ("dropout-2012-lowers-test-error", "mini-2012")):
        assert verdict(CLAIMS[cid], preset, m)["verdict"] == REPRODUCED, cid


def test_each_paper_is_checked_by_its_own_preset():
    m = metrics()
    assert verdict(CLAIMS["weight-scaling-approximates-averaging"], "mini",
                   m)["verdict"] == NOT_APPLICABLE
    assert verdict(CLAIMS["dropout-lowers-test-error"], "mini-2012", m)["verdict"] == NOT_APPLICABLE


def test_a_pixel_baseline_as_good_as_the_dropout_net_fails_the_quality_claim():
    r = verdict(CLAIMS["dropout-lowers-test-error"], "mini", metrics(nn=0.95))
    assert r["verdict"] == NOT_REPRODUCED and r["margins"]["1-NN pixels"] < 0


def test_weight_scaling_far_from_the_mc_average_fails():
    r = verdict(CLAIMS["weight-scaling-approximates-averaging"], "mini-2012", metrics(mc=0.04))
    assert r["verdict"] == NOT_REPRODUCED


def test_paper_scale_claims_say_what_they_need():
    for claim in dropout.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id
