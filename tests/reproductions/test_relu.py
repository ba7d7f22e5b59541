"""Nair & Hinton's RBMs: the NReLU sample is max(0, x + N(0, sigmoid(x))), one SGD step on the
surrogate loss is exactly the CD-1 update of Eq. 1, and the miniature's claim compares the
NReLU features with the binary ones and with logistic regression on the pixels."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import relu
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

CLAIM = {c.id: c for c in relu.CLAIMS}["nrelu-features"]


def small(hidden="nrelu", **kw):
    return dataclasses.replace(relu.PRESETS["tiny"], n_visible=6, n_hidden=4, hidden=hidden, **kw)


def test_paper_rbm_has_norbs_2048_visible_and_4000_hidden_units():
    with torch.device("meta"):
        model = relu.build_model(relu.PRESETS["paper"])
    assert model.W.shape == (2048, 4000)
    assert sum(p.numel() for p in model.parameters()) == 2048 * 4000 + 2048 + 4000


def test_nrelu_samples_are_rectified_with_noise_of_variance_sigmoid_x():
    torch.manual_seed(0)
    model = relu.build_model(small())
    x = torch.full((200_000, 1), 3.0)
    h = model.sample_hidden(x)
    assert (h >= 0).all()
    # far above 0 the rectification rarely acts: mean x, variance sigmoid(x) (Sec. 2.1)
    assert h.mean().item() == pytest.approx(3.0, abs=0.01)
    assert h.var().item() == pytest.approx(torch.sigmoid(torch.tensor(3.0)).item(), rel=0.02)
    assert (model.sample_hidden(torch.full((1000, 1), -20.0)) == 0).all()


def test_binary_samples_are_bernoulli_of_sigmoid_x():
    torch.manual_seed(0)
    model = relu.build_model(small("binary"))
    h = model.sample_hidden(torch.zeros(100_000, 1))
    assert set(h.unique().tolist()) == {0.0, 1.0}
    assert h.mean().item() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("hidden", ["nrelu", "binary"])
def test_sgd_on_the_surrogate_loss_is_the_cd1_update_of_eq_1(hidden):
    torch.manual_seed(0)
    cfg = small(hidden, lr=0.1, momentum=0.0, weight_decay=0.0)
    model = relu.build_model(cfg)
    v0 = torch.randn(5, 6)
    torch.manual_seed(1)
    h0, v1, h1 = model.cd1(v0)
    expected_dw = cfg.lr * (v0.T @ h0 - v1.T @ h1) / 5  # lr (<v h>_data - <v h>_recon)
    expected_dbv = cfg.lr * (v0 - v1).mean(0)
    w, bv = model.W.detach().clone(), model.b_v.detach().clone()
    opt, _ = relu.build_optimizer(model, cfg)
    torch.manual_seed(1)  # the same hidden samples
    relu.training_step(model, (v0, torch.zeros(5)))["loss"].backward()
    opt.step()
    assert torch.allclose(model.W.detach() - w, expected_dw, atol=1e-6)
    assert torch.allclose(model.b_v.detach() - bv, expected_dbv, atol=1e-6)


def test_features_are_noise_free_means():
    model = relu.build_model(small())
    v = torch.randn(3, 6)
    assert torch.equal(model(v), torch.relu(v @ model.W + model.b_h))
    model.hidden = "binary"
    assert torch.equal(model(v), torch.sigmoid(v @ model.W + model.b_h))


def test_mini_compares_two_rbms_that_differ_only_in_their_hidden_units():
    found = relu.variants(relu.PRESETS["mini"])
    assert set(found) == {"binary", "nrelu"}
    assert dataclasses.replace(found["binary"], hidden="nrelu") == found["nrelu"]


def metrics(nrelu=0.94, binary=0.91, logreg=0.89, nn=0.945):
    return {"nrelu": {"test_accuracy": nrelu}, "binary": {"test_accuracy": binary},
            "logistic regression pixels": {"test_accuracy": logreg},
            "1-NN pixels": {"test_accuracy": nn}}


def test_claim_margins_are_over_binary_features_and_pixel_logistic_regression():
    row = verdict(CLAIM, "mini", metrics())
    assert row["verdict"] == REPRODUCED
    assert row["margins"] == pytest.approx({"binary": 0.94 - 0.91 - 0.01,
                                            "logistic regression pixels": 0.94 - 0.89 - 0.01})


@pytest.mark.parametrize("bad", [dict(binary=0.935), dict(logreg=0.935)])
def test_claim_fails_when_binary_features_or_pixels_do_as_well(bad):
    assert verdict(CLAIM, "mini", metrics(**bad))["verdict"] == NOT_REPRODUCED
