"""t-SNE written from van der Maaten & Hinton (2008): Eq. 5's gradient against autograd of the
KL divergence, the perplexity search of Sec. 2, the symmetric P of Sec. 3.1, the optimiser of
Sec. 3.4, early exaggeration, and a whole run against scikit-learn's TSNE."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from reproductions import tsne as T
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict


def _random_p(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return T.joint_p(torch.randn(n, 5, generator=g), perplexity=4.0).double()


@pytest.mark.parametrize("kernel", ["student-t", "gaussian"])
def test_eq_5_gradient_equals_autograd_of_the_kl_divergence(kernel):
    p = _random_p()
    y = torch.randn(12, 2, dtype=torch.float64, requires_grad=True)
    T.kl_divergence(p, y, kernel).backward()
    assert torch.allclose(T.kl_gradient(p, y.detach(), kernel), y.grad, atol=1e-10)
    # the custom Function the trainer back-propagates gives the same
    y2 = y.detach().clone().requires_grad_(True)
    T._KL.apply(y2, p, kernel).backward()
    assert torch.allclose(y2.grad, y.grad, atol=1e-10)


def test_each_rows_bandwidth_gives_the_requested_perplexity():
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(1))
    p, beta = T.conditional_p(x, perplexity=10.0)
    entropy_bits = -(p * torch.log2(p.clamp_min(1e-300))).sum(1)
    assert torch.allclose(2 ** entropy_bits, torch.full((50,), 10.0, dtype=torch.float64),
                          rtol=1e-3)
    assert torch.allclose(p.sum(1), torch.ones(50, dtype=torch.float64))
    assert (p.diagonal() == 0).all() and (beta > 0).all()
    # Eq. 1: p_{j|i} proportional to exp(-beta_i ||x_i - x_j||^2)
    d2 = torch.cdist(x.double(), x.double()).pow(2)
    w = torch.exp(-beta[3] * d2[3])
    w[3] = 0
    assert torch.allclose(p[3], w / w.sum(), atol=1e-12)


def test_joint_p_is_symmetric_and_sums_to_one():
    p = _random_p(20)
    assert torch.allclose(p, p.t()) and p.sum().item() == pytest.approx(1.0, abs=1e-6)


def test_descent_is_algorithm_1_with_momentum_switch():
    y = torch.nn.Parameter(torch.zeros(1, 2))
    opt = T.TSNEDescent([y], lr=10.0, momentum=(0.5, 0.8), switch=2, gains=False)
    grads = [torch.tensor([[1.0, -2.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])]
    expected, prev, update = [], torch.zeros(1, 2), torch.zeros(1, 2)
    for t, g in enumerate(grads):
        update = (0.5 if t < 2 else 0.8) * update - 10.0 * g
        prev = prev + update
        expected.append(prev.clone())
    for g, want in zip(grads, expected, strict=True):
        y.grad = g.clone()
        opt.step()
        assert torch.allclose(y.data, want)


def test_gains_grow_while_the_gradient_keeps_its_sign_and_shrink_when_it_flips():
    y = torch.nn.Parameter(torch.zeros(1, 1))
    opt = T.TSNEDescent([y], lr=1.0, momentum=(0.0, 0.0))
    for _ in range(3):
        y.grad = torch.ones(1, 1)
        opt.step()
    assert opt.state[y]["gains"].item() == pytest.approx(1.6)
    y.grad = -torch.ones(1, 1)  # the last update went down; the gradient now says up
    opt.step()
    assert opt.state[y]["gains"].item() == pytest.approx(1.6 * 0.8)


def test_early_exaggeration_multiplies_p_for_the_first_iterations_only():
    cfg = dataclasses.replace(T.PRESETS["tiny"], exaggeration_steps=2)
    model = T.build_model(cfg)
    x = T.build_data(cfg)[0][0]
    losses = []
    for _ in range(3):
        model.y.grad = None
        out = T.training_step(model, x)
        out["loss"].backward()
        losses.append((out["loss"].item(), model.y.grad.clone()))
    plain = T.kl_gradient(model.p, model.y.detach(), "student-t")
    assert torch.allclose(losses[2][1], plain)
    assert torch.allclose(losses[0][1], T.kl_gradient(4 * model.p, model.y.detach(),
                                                      "student-t"))
    assert int(model.iteration) == 3


def test_a_run_on_150_digits_is_as_trustworthy_as_sklearns_tsne():
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    cfg = dataclasses.replace(T.PRESETS["mini"], n_points=150, perplexity=20.0, steps=500,
                              compare_sne=False)
    torch.manual_seed(0)
    model = T.build_model(cfg)
    opt, _ = T.build_optimizer(model, cfg)
    [x], data = T.build_data(cfg)
    for _ in range(cfg.steps):
        opt.zero_grad()
        T.training_step(model, x)["loss"].backward()
        opt.step()
    ours = T.evaluate(model, data, cfg)
    with threadpool_limits(1):  # one thread: sklearn's OpenMP spins on a busy machine
        sk = TSNE(2, perplexity=20.0, max_iter=1000, init="random", random_state=0)
        sk = sk.fit_transform(data["x"].numpy())
    theirs = T.map_quality(data["x"], torch.tensor(sk), data["labels"], cfg.neighbours)
    assert abs(ours["trustworthiness"] - theirs["trustworthiness"]) < 0.02
    assert ours["trustworthiness"] > 0.95 and ours["nn_accuracy"] > 0.9
    assert math.isfinite(ours["kl"]) and 0 < ours["kl"] < 2


def _m(ts=(0.99, 0.97, 0.55), sne=(0.98, 0.92, 0.25), pca=(0.83, 0.6, 0.0), sk=(0.99, 0.97, 0.5)):
    row = lambda v: dict(zip(("trustworthiness", "nn_accuracy", "silhouette"), v))  # noqa: E731
    return {"t-sne": row(ts), "sne": row(sne), "PCA": row(pca), "sklearn t-SNE": row(sk)}


def test_claims_measure_margins_against_pca_sne_and_sklearn():
    claims = {c.id: c for c in T.CLAIMS}
    assert verdict(claims["beats-pca"], "mini", _m())["margins"] == pytest.approx(
        {"PCA trustworthiness": 0.16 - 0.05, "PCA 1-NN": 0.37 - 0.2})
    assert verdict(claims["crowding"], "mini", _m())["margins"] == pytest.approx(
        {"sne silhouette": 0.30 - 0.1, "sne 1-NN": 0.05 - 0.02})
    for cid in ("beats-pca", "crowding", "matches-sklearn"):
        assert verdict(claims[cid], "mini", _m())["verdict"] == REPRODUCED
    assert verdict(claims["matches-sklearn"], "mini",
                   _m(sk=(0.95, 0.97, 0.5)))["verdict"] == NOT_REPRODUCED
    assert verdict(claims["crowding"], "mini", _m(sne=(0.98, 0.95, 0.5)))["verdict"] == \
        NOT_REPRODUCED
