"""Adam (Kingma & Ba): Algorithm 1 and AdaMax take the same steps as torch's implementations,
the bias correction does what Sec. 3 says, and the miniature compares each method at its best
rate of its grid on the same data (claims as pure functions of a metrics dict)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from reproductions import adam
from reproductions.common.claims import (
    NOT_EVALUATED,
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)

MINI = adam.PRESETS["mini"]
CLAIMS = {c.id: c for c in adam.CLAIMS}


def trajectories(ours_cls, ref_cls, steps=25, dtype=torch.float64, **kwargs):
    """Parameters after each of `steps` steps of a small MLP (two param groups, one with its own
    lr) on a fixed random regression, trained by `ours_cls` and `ref_cls` from the same start."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    net = net.to(dtype)
    x, y = torch.randn(steps, 16, 5, dtype=dtype), torch.randn(steps, 16, 3, dtype=dtype)
    out = []
    for cls in (ours_cls, ref_cls):
        model = [p.detach().clone().requires_grad_() for p in net.parameters()]
        opt = cls([{"params": model[:2]}, {"params": model[2:], "lr": 3e-3}], lr=1e-2, **kwargs)
        path = []
        for t in range(steps):
            h = torch.tanh(x[t] @ model[0].T + model[1])
            loss = ((h @ model[2].T + model[3] - y[t]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            path.append([p.detach().clone() for p in model])
        out.append(path)
    return out


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_adam_takes_the_same_steps_as_torch_adam(dtype):
    ours, ref = trajectories(adam.Adam, torch.optim.Adam, dtype=dtype, betas=(0.8, 0.99), eps=1e-6)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    for t, (a, b) in enumerate(zip(ours, ref, strict=True)):
        for p, q in zip(a, b, strict=True):
            torch.testing.assert_close(p, q, atol=tol, rtol=tol, msg=f"step {t + 1}")
    assert not torch.equal(ours[0][0], ours[-1][0])  # it moved


def test_adamax_takes_the_same_steps_as_torch_adamax():
    ours, ref = trajectories(adam.AdaMax, torch.optim.Adamax, betas=(0.9, 0.999), eps=1e-8)
    for a, b in zip(ours, ref, strict=True):
        for p, q in zip(a, b, strict=True):
            torch.testing.assert_close(p, q, atol=1e-12, rtol=1e-12)


def first_step(bias_correction, b1=0.9, b2=0.9999, lr=1e-3):
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))
    opt = adam.Adam([p], lr=lr, betas=(b1, b2), eps=1e-12, bias_correction=bias_correction)
    p.grad = torch.tensor([0.5, 4.0, -0.01], dtype=torch.float64)
    opt.step()
    return (p.detach() - torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)).tolist()


def test_corrected_first_step_is_alpha_times_the_sign_of_the_gradient():
    """Sec. 2.1: |Delta_t| <= alpha; at t = 1, m_hat / sqrt(v_hat) = g / |g|."""
    assert first_step(True) == pytest.approx([-1e-3, -1e-3, 1e-3], rel=1e-9)


def test_without_correction_the_first_step_is_inflated_by_1_minus_b1_over_sqrt_1_minus_b2():
    """Sec. 3, Fig. 4: with beta2 = 0.9999 the uncorrected first step is 0.1 / 0.01 = 10x."""
    factor = (1 - 0.9) / math.sqrt(1 - 0.9999)
    assert first_step(False) == pytest.approx([-1e-3 * factor, -1e-3 * factor, 1e-3 * factor],
                                              rel=1e-6)  # eps against sqrt(v) = 1e-4


def test_inv_sqrt_schedule_gives_alpha_over_sqrt_t_at_step_t():
    cfg = dataclasses.replace(adam.PRESETS["tiny"], lr=0.5, lr_schedule="inv_sqrt")
    opt, sched = adam.build_optimizer(adam.build_model(cfg), cfg)
    seen = []
    for _ in range(4):
        seen.append(opt.param_groups[0]["lr"])  # the rate step t uses
        opt.step()  # no gradients: a no-op, in the trainer's order
        sched.step()
    assert seen == pytest.approx([0.5 / math.sqrt(t) for t in (1, 2, 3, 4)])


def test_paper_preset_is_the_784_1000_1000_10_mlp_with_dropout():
    model = adam.build_model(adam.PRESETS["paper"])
    assert sum(p.numel() for p in model.parameters()) == 1_796_010
    assert [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)] == \
        [1000, 1000, 10]
    assert sum(isinstance(m, torch.nn.Dropout) for m in model.modules()) == 2
    assert adam.build_model(dataclasses.replace(MINI, hidden=())).net[0].in_features == 784


def test_mini_trains_every_method_of_each_figure_on_a_grid_with_the_same_budget():
    runs = adam.variants(MINI)
    grids = {}
    for name, cfg in runs.items():
        if name.startswith(("logreg-", "mlp-")):
            model, opt, _ = name.split("-")
            assert cfg.optimizer == opt
            assert cfg.hidden == (() if model == "logreg" else MINI.hidden)
            assert cfg.lr_schedule == ("inv_sqrt" if model == "logreg" else "constant")
            grids.setdefault((model, opt), []).append(cfg.lr)
            assert (cfg.steps, cfg.batch_size, cfg.dropout) == (MINI.steps, 128, MINI.dropout)
    assert {k: len(v) for k, v in grids.items()} == {
        ("logreg", "adam"): 3, ("logreg", "sgd_nesterov"): 3, ("logreg", "adagrad"): 3,
        ("mlp", "adam"): 3, ("mlp", "sgd_nesterov"): 3, ("mlp", "adagrad"): 3,
        ("mlp", "rmsprop"): 3}
    on, off = runs["bias-correction"], runs["no-bias-correction"]
    assert dataclasses.replace(on, bias_correction=False) == off
    assert (on.beta2, on.steps, on.optimizer) == (0.9999, 100, "adam") and on.bias_correction


def test_batches_are_seeded_reiterable_epochs_of_distinct_samples():
    x, y = torch.arange(10.0).view(10, 1), torch.arange(10)
    a, b = adam.Batches(x, y, 4, seed=3), adam.Batches(x, y, 4, seed=3)
    first, second = [yb.tolist() for _, yb in a], [yb.tolist() for _, yb in a]
    assert first == [yb.tolist() for _, yb in b]  # same seed, same order
    assert len(first) == 2 and all(len(set(e)) == 4 for e in first)  # the last 2 dropped
    assert first != second  # a new permutation each epoch
    assert len(set(sum(first, []))) == 8


def metrics(logreg=None, mlp=None, early=(0.6, 3.0)):
    """A mini run's metrics: `{model: {optimizer: [train loss per grid rate]}}`."""
    logreg = logreg or {"adam": [0.4, 0.17, 0.2], "sgd_nesterov": [0.3, 0.2, 0.25],
                        "adagrad": [0.5, 0.33, 0.4]}
    mlp = mlp or {"adam": [0.2, 0.068, 0.07], "sgd_nesterov": [0.1, 0.05, 0.08],
                  "adagrad": [0.2, 0.085, 0.1], "rmsprop": [0.2, 0.073, 0.075]}
    m = {}
    for model, losses in (("logreg", logreg), ("mlp", mlp)):
        for opt, values in losses.items():
            for i, v in enumerate(values):
                m[f"{model}-{opt}-{i}"] = {"train_loss": v}
    m["bias-correction"] = {"early_loss": early[0], "max_early_loss": 2.0}
    m["no-bias-correction"] = {"early_loss": early[1], "max_early_loss": 20.0}
    return m


def row(claim_id, m):
    return verdict(CLAIMS[claim_id], "mini", m)


def test_each_method_is_compared_at_its_best_rate_as_a_log_ratio():
    m = metrics()
    assert adam.best_lr(m, "mlp", "sgd_nesterov") == "mlp-sgd_nesterov-1"
    assert row("logreg-faster-than-adagrad", m)["margins"] == pytest.approx(
        {"logreg-adagrad": math.log(0.33 / 0.17) - math.log(1.5)})
    assert row("logreg-like-sgd-nesterov", m)["margins"] == pytest.approx(
        {"logreg-sgd_nesterov": math.log(1.5) - abs(math.log(0.2 / 0.17))})
    assert row("mlp-faster-than-adagrad", m)["margins"] == pytest.approx(
        {"mlp-adagrad": math.log(0.085 / 0.068) - math.log(1.1)})
    assert row("bias-correction", m)["margins"] == pytest.approx(
        {"no-bias-correction": math.log(3.0 / 0.6) - math.log(2.0)})
    verdicts = {c: row(c, m)["verdict"] for c in CLAIMS if CLAIMS[c].margins}
    assert verdicts == {"logreg-faster-than-adagrad": REPRODUCED,
                        "logreg-like-sgd-nesterov": REPRODUCED,
                        "mlp-faster-than-adagrad": REPRODUCED,
                        "mlp-adam-fastest": NOT_REPRODUCED_IN_MINIATURE,
                        "bias-correction": REPRODUCED}


def test_sgd_far_ahead_of_adam_on_logistic_regression_breaks_the_tie_claim():
    m = metrics(logreg={"adam": [0.3], "sgd_nesterov": [0.1], "adagrad": [0.6]})
    assert row("logreg-like-sgd-nesterov", m)["verdict"] == NOT_REPRODUCED


def test_a_harmless_missing_bias_correction_fails_the_ablation_claim():
    assert row("bias-correction", metrics(early=(0.6, 0.9)))["verdict"] == NOT_REPRODUCED


def test_a_run_without_an_optimizers_grid_leaves_its_claims_not_evaluated():
    m = {k: v for k, v in metrics().items() if not k.startswith("mlp-adagrad")}
    assert row("mlp-faster-than-adagrad", m)["verdict"] == NOT_EVALUATED


def test_paper_scale_claims_say_what_they_need():
    for claim in adam.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id


def test_figures_draw_each_methods_best_curve_and_the_bias_correction_pair(tmp_path):
    import json

    m = metrics()
    with open(tmp_path / "metrics.jsonl", "w") as f:
        for v in m:
            for step in (1, 50, 100):
                f.write(json.dumps({"variant": v, "step": step, "loss": 2.0 / step}) + "\n")
    (tmp_path / "figures").mkdir()
    figs = adam.figures(tmp_path / "figures", MINI, {}, m)
    assert [f["file"] for f in figs] == ["optimizers.png"]
    assert (tmp_path / "figures" / "optimizers.png").stat().st_size > 1000
    assert adam.figures(tmp_path / "figures", adam.PRESETS["tiny"], {}, m) == []
