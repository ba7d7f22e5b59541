"""The trivial baselines miniature claims are compared with: the audit's figures on the same
splits, and AUROC on cases whose answer is known."""

from __future__ import annotations

import pytest
import torch

from reproductions.common import baselines as B
from reproductions.common import data as D


def test_pixel_baselines_match_the_audit_on_the_miniatures_splits():
    xtr, ytr, xte, yte = D.mnist_5k(seed=0)
    assert B.nearest_neighbour_accuracy(xtr, ytr, xte, yte) == pytest.approx(0.934, abs=1e-3)
    xtr, ytr, xte, yte = D.digits(seed=0)
    assert B.nearest_neighbour_accuracy(xtr, ytr, xte, yte) == pytest.approx(0.982, abs=1e-3)
    assert B.logistic_regression_accuracy(xtr, ytr, xte, yte) == pytest.approx(0.969, abs=5e-3)


def test_distance_baselines_score_anomalies_by_how_far_they_are_from_the_normals():
    g = torch.Generator().manual_seed(0)
    normals = torch.randn(200, 1, 4, 4, generator=g)
    test = torch.cat([torch.randn(50, 1, 4, 4, generator=g),
                      torch.randn(50, 1, 4, 4, generator=g) + 4.0])  # far from every normal
    is_anomaly = torch.cat([torch.zeros(50), torch.ones(50)])
    assert B.nearest_normal_auroc(normals, test, is_anomaly) > 0.99
    assert B.mean_normal_auroc(normals, test, is_anomaly) > 0.99
    same = torch.randn(100, 1, 4, 4, generator=g)  # anomalies drawn like the normals
    assert 0.35 < B.nearest_normal_auroc(normals, same, is_anomaly) < 0.65
    assert B.auroc([0.1, 0.2, 0.9], [0, 0, 1]) == 1.0 and B.auroc([0.9, 0.2, 0.1], [0, 0, 1]) == 0.0
