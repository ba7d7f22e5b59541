"""Trivial baselines a miniature's claim must beat, computed in the same run on the same split.

A miniature shows something about its paper only where a method with no learning in it (or
almost none) does worse: 1-NN and logistic regression on raw pixels for a classifier, the
distance to the nearest or to the mean normal image for an anomaly score. Each function takes
the split as tensors and returns one number; a module's `baselines(cfg)` names them
(`{"1-NN pixels": {"accuracy": ...}}`) and its claims' `margins` compare against them.
`fit_judge` fits the classifier on real data that scores a generative miniature's samples.
scikit-learn (already a dependency: `load_digits`) does the fitting: a well-tested logistic
regression is not this project's value.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch


def _flat(x: torch.Tensor) -> np.ndarray:
    return x.reshape(len(x), -1).double().numpy()


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances, rows of `a` to rows of `b` (blocks keep memory small)."""
    bb = (b * b).sum(1)
    out = np.empty((len(a), len(b)))
    for i in range(0, len(a), 1024):
        block = a[i:i + 1024]
        out[i:i + 1024] = (block * block).sum(1)[:, None] - 2 * block @ b.T + bb[None, :]
    return np.maximum(out, 0.0)


def nearest_neighbour_accuracy(train_x: torch.Tensor, train_y: torch.Tensor,
                               test_x: torch.Tensor, test_y: torch.Tensor) -> float:
    """Test accuracy of 1-NN on the raw values (Euclidean)."""
    nearest = _sq_distances(_flat(test_x), _flat(train_x)).argmin(1)
    return float((train_y.numpy()[nearest] == test_y.numpy()).mean())


def logistic_regression_accuracy(train_x: torch.Tensor, train_y: torch.Tensor,
                                 test_x: torch.Tensor, test_y: torch.Tensor,
                                 max_iter: int = 500) -> float:
    """Test accuracy of multinomial logistic regression on the raw values (standardised)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    with warnings.catch_warnings():  # not converging in max_iter is fine for a baseline
        warnings.simplefilter("ignore")
        model.fit(_flat(train_x), train_y.numpy())
    return float((model.predict(_flat(test_x)) == test_y.numpy()).mean())


def pixel_baselines(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                    test_y: torch.Tensor, class_prior: bool = False) -> dict[str, dict[str, float]]:
    """A classification claim's trivial baselines on the split the nets see: `{"1-NN pixels":
    {"test_accuracy"}, "logistic regression pixels": {...}}`, and with `class_prior` the
    class-prior predictor (what a net that learned nothing scores: its training cross-entropy
    and its accuracy). numpy's BLAS keeps to torch's thread count (`--threads`)."""
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    found: dict[str, dict[str, float]] = {}
    if class_prior:
        prior = torch.bincount(train_y).double() / len(train_y)
        found["class prior"] = {"train_loss": float(-(prior * prior.log()).sum()),
                                "test_accuracy": float(prior.max())}
    with threadpool_limits(torch.get_num_threads()):
        found["1-NN pixels"] = {
            "test_accuracy": nearest_neighbour_accuracy(train_x, train_y, test_x, test_y)}
        found["logistic regression pixels"] = {
            "test_accuracy": logistic_regression_accuracy(train_x, train_y, test_x, test_y)}
    return found


def auroc(scores: np.ndarray | torch.Tensor, is_anomaly: np.ndarray | torch.Tensor) -> float:
    """Area under the ROC curve of `scores` (higher = more anomalous)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(is_anomaly, dtype=int), np.asarray(scores)))


def nearest_normal_auroc(normal_train_x: torch.Tensor, test_x: torch.Tensor,
                         is_anomaly: torch.Tensor) -> float:
    """AUROC of the distance from each test image to its nearest training (normal) image."""
    scores = _sq_distances(_flat(test_x), _flat(normal_train_x)).min(1)
    return auroc(scores, is_anomaly)


def mean_normal_auroc(normal_train_x: torch.Tensor, test_x: torch.Tensor,
                      is_anomaly: torch.Tensor) -> float:
    """AUROC of the distance from each test image to the mean training (normal) image."""
    mean = _flat(normal_train_x).mean(0, keepdims=True)
    return auroc(_sq_distances(_flat(test_x), mean)[:, 0], is_anomaly)


def fit_judge(make_net, x: torch.Tensor, y: torch.Tensor, steps: int, batch_size: int,
              lr: float) -> torch.nn.Module:
    """A classifier fitted to real data with cross-entropy (Adam, `steps` batches drawn with a
    generator of seed 0, `make_net()` initialised under seed 0 without touching the global
    random state): the same judge in every run, frozen in eval mode, whose features score
    generated samples (Frechet distance, class of a sample)."""
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = make_net()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    with torch.enable_grad():  # also when called from a module's `evaluate`
        for _ in range(steps):
            idx = torch.randint(len(y), (batch_size,), generator=gen)
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval().requires_grad_(False)
