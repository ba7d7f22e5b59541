"""AnoGAN: the z search of Sec. 2.2 (lowers its loss, touches neither G nor D, stays in the prior's
support), the score of Sec. 2.3, the split (no anomaly in training), and the claims' margins."""

from __future__ import annotations

import dataclasses

import torch

from reproductions import anogan, ganomaly
from reproductions.common.claims import (
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)

TINY = anogan.PRESETS["tiny"]
CLAIMS = {c.id: c for c in anogan.CLAIMS}


def test_split_trains_on_normals_only_and_tests_both_kinds():
    cfg = dataclasses.replace(TINY, num_test=0)
    x_train, x_test, y_test = anogan.split(cfg)
    assert x_train.shape[1:] == (1, 16, 16) and len(x_train) > 1000
    assert 0 < int(y_test.sum()) < len(y_test)
    # no training image is a test image (the held-out part and the training part's anomalies)
    assert torch.cdist(x_test.flatten(1), x_train.flatten(1)).min() > 0


def test_search_lowers_the_loss_and_leaves_g_and_d_alone():
    torch.manual_seed(0)
    model = anogan.build_model(TINY)
    x = anogan.split(TINY)[1][:6]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg0, cfg = dataclasses.replace(TINY, gamma=0), dataclasses.replace(TINY, gamma=30, z_lr=0.1)
    _, r0, d0 = anogan.search_z(model, x, cfg0, torch.Generator().manual_seed(0))
    z, r, d = anogan.search_z(model, x, cfg, torch.Generator().manual_seed(0))
    loss = lambda r, d: ((1 - cfg.lam) * r + cfg.lam * d).sum()  # noqa: E731
    assert loss(r, d) < loss(r0, d0)
    assert z.abs().max() <= 1  # the prior's support
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.requires_grad for p in model.parameters())


def test_score_is_the_weighted_sum_of_the_last_losses():
    torch.manual_seed(0)
    model = anogan.build_model(TINY)
    x = anogan.split(TINY)[1][:4]
    _, r, d = anogan.search_z(model, x, TINY, torch.Generator().manual_seed(1))
    score = anogan.anomaly_score(model, x, TINY, torch.Generator().manual_seed(1))
    assert torch.allclose(score, 0.9 * r + 0.1 * d)  # lambda = 0.1 (Sec. 3)
    assert anogan.PRESETS["paper"].lam == 0.1 and anogan.PRESETS["paper"].gamma == 500


def test_ganomaly_variant_uses_ganomalys_networks():
    found = anogan.variants(anogan.PRESETS["mini"])
    assert set(found) == {"main", "untrained", "ganomaly"} and found["untrained"].steps == 0
    assert isinstance(anogan.build_model(found["ganomaly"]), ganomaly.GANomaly)


def test_evaluate_times_and_scores_both_methods():
    loader, eval_data = anogan.build_data(TINY)
    for cfg in anogan.variants(TINY).values():
        out = anogan.evaluate(anogan.build_model(cfg), eval_data, cfg)
        assert 0 <= out["auroc"] <= 1 and out["ms_per_image"] > 0


def metrics(ano=0.8, untrained=0.5, gano=0.7, nn=0.95, mean=0.75, ms=(5.0, 0.02)):
    return {"main": {"auroc": ano, "ms_per_image": ms[0]},
            "untrained": {"auroc": untrained, "ms_per_image": ms[0]},
            "ganomaly": {"auroc": gano, "ms_per_image": ms[1]},
            "nearest normal pixels": {"auroc": nn}, "mean normal pixels": {"auroc": mean}}


def test_claims_margins():
    ids = [c.id for c in anogan.CLAIMS if c.margins is not None]
    assert "mini-slow" in ids
    assert verdict(CLAIMS["mini-slow"], "mini", metrics())["verdict"] == REPRODUCED
    fast = metrics(ms=(0.5, 0.02))  # only 25x slower
    assert verdict(CLAIMS["mini-slow"], "mini", fast)["verdict"] == NOT_REPRODUCED
    for c in anogan.CLAIMS:
        if c.margins is not None and not c.expected:
            assert verdict(c, "mini", metrics(ano=0.0))["verdict"] == NOT_REPRODUCED_IN_MINIATURE
