"""Rectified Linear Units Improve Restricted Boltzmann Machines (Nair & Hinton, ICML 2010).

https://www.cs.toronto.edu/~hinton/absps/reluICML.pdf

A binary hidden unit of an RBM can be replaced by infinitely many copies with the same weights
and biases offset by -0.5, -1.5, -2.5, ... ("stepped sigmoid units", Sec. 2). Their summed
activity is approximated by a noisy rectified linear unit (NReLU, Sec. 2.1):
h = max(0, x + N(0, sigmoid(x))), x = v W + b_h, and the model is still trained with
contrastive divergence (CD-1, Eq. 1): dW = lr (<v h>_data - <v h>_recon). The claim (Sec. 4-5,
Tables 1-2 on NORB, Tables 3-4 on Labeled Faces in the Wild): features learned by an RBM with
NReLU hidden units are better for recognition than those of the same RBM with binary hidden
units.

Presets: `paper` = the NORB model of Sec. 4.1: Gaussian visible units for the 32x32x2 stereo
pairs of jittered-cluttered NORB (2,048 pixels) and 4,000 NReLU hidden units (8,198,048
parameters: W, visible and hidden biases), features fed to multinomial logistic regression;
`mini`: the same comparison on MNIST-5k averaged down to 14x14 (196 Gaussian visible units),
an RBM with 256 binary hidden units against one with 256 NReLU hidden units, same CD-1 steps,
learning rate and initialisation, then logistic regression on each RBM's features against
logistic regression (and 1-NN) on the pixels; `tiny`.

Deviations from the paper:
- The paper's NORB data (and LFW) need a download and preprocessing; `paper` reads them from
  `data_root` as an `.npz` with `x_train, y_train, x_test, y_test` (images flattened), which we
  do not ship. The NORB hyper-parameters here (lr, momentum, weight decay, batch 100) follow
  Hinton's practical guide for Gaussian-visible RBMs, not numbers stated in the paper.
- Reconstructions of the Gaussian visible units are their means (no sampling noise), and
  positive/negative statistics use the hidden units' noise-free means (sigmoid(x) for binary,
  max(0, x) for NReLU), the usual CD-1 practice; the reconstruction is driven by sampled hidden
  states. Features for the classifier are the noise-free means, as in Sec. 4.
- The classifier is scikit-learn's multinomial logistic regression on standardised features
  (the paper trains a softmax layer on top of the features).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "relu"


# --- model ---------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 100_000  # CD-1 updates (about 340 epochs of 291,600 NORB images at batch 100)
    batch_size: int = 100
    lr: float = 1e-3  # Gaussian visible units need a small rate (Hinton's practical guide)
    momentum: float = 0.9
    weight_decay: float = 1e-4  # L2 on W
    data_root: str | None = None  # paper: an .npz with x_train, y_train, x_test, y_test
    dataset: Literal["npz", "mnist5k"] = "npz"
    image_size: int = 14  # mnist5k: images averaged down from 28x28 to this size
    n_visible: int = 2048  # Sec. 4.1: 32x32 stereo pairs of NORB, 2 x 1024 Gaussian units
    n_hidden: int = 4000  # Sec. 4.1: 4000 hidden units (Table 1)
    hidden: Literal["nrelu", "binary"] = "nrelu"  # Sec. 2: NReLU vs binary stochastic units
    init_std: float = 0.01  # W ~ N(0, 0.01^2), biases 0
    compare_hidden: bool = False  # mini: train the binary and the NReLU RBM in the same run


class RBM(nn.Module):
    """Gaussian visible units (unit variance, Sec. 4.1) and binary or NReLU hidden units.
    `forward(v)` gives the noise-free hidden means, the features a classifier sees."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.W = nn.Parameter(torch.randn(cfg.n_visible, cfg.n_hidden) * cfg.init_std)
        self.b_v = nn.Parameter(torch.zeros(cfg.n_visible))
        self.b_h = nn.Parameter(torch.zeros(cfg.n_hidden))
        self.hidden = cfg.hidden

    def mean_hidden(self, x):  # x = v W + b_h, (B, n_hidden)
        return torch.sigmoid(x) if self.hidden == "binary" else F.relu(x)

    def sample_hidden(self, x):  # (B, n_hidden)
        if self.hidden == "binary":
            return torch.bernoulli(torch.sigmoid(x))
        return F.relu(x + torch.randn_like(x) * torch.sigmoid(x).sqrt())  # max(0, x + N(0, s(x)))

    def forward(self, v):  # (B, n_visible)
        return self.mean_hidden(v @ self.W + self.b_h)  # (B, n_hidden)

    def cd1(self, v0):
        """One step of contrastive divergence (Eq. 1): the data statistics, a reconstruction
        from sampled hidden states, and its statistics; all without gradient."""
        with torch.no_grad():
            x0 = v0 @ self.W + self.b_h
            v1 = self.sample_hidden(x0) @ self.W.T + self.b_v  # mean of the Gaussian visibles
            h0, h1 = self.mean_hidden(x0), self.mean_hidden(v1 @ self.W + self.b_h)
        return h0, v1, h1

    def neg_energy(self, v, h):  # -E(v, h) = -|v - b_v|^2 / 2 + b_h h + v W h, per example
        return -0.5 * ((v - self.b_v) ** 2).sum(1) + h @ self.b_h + ((v @ self.W) * h).sum(1)


def build_model(cfg: Config) -> RBM:
    if cfg.n_visible < 1 or cfg.n_hidden < 1:
        raise ConfigError("n_visible and n_hidden must be positive")
    return RBM(cfg)


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # NORB, 2048 Gaussian visible, 4000 NReLU hidden: 8,198,048
    "paper-binary": Config(hidden="binary"),  # Table 1's binary-hidden RBM: 8,198,048
    "mini": Config(dataset="mnist5k", n_visible=196, n_hidden=256, steps=1500, batch_size=50,
                   lr=1e-3, compare_hidden=True),
    "tiny": Config(dataset="mnist5k", n_visible=196, n_hidden=8, steps=3, batch_size=16),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`binary` and `nrelu` with everything else equal, or `main`."""
    base = dataclasses.replace(cfg, compare_hidden=False)
    if not cfg.compare_hidden:
        return {"main": base}
    return {h: dataclasses.replace(base, hidden=h) for h in ("binary", "nrelu")}


# --- data ----------------------------------------------------------------------------------


def tensor_split(cfg: Config):
    """`(x_train, y_train, x_test, y_test)`, images flattened to `(N, n_visible)` and each
    pixel standardised with the training set's mean and std (unit-variance Gaussian visibles)."""
    if cfg.dataset == "mnist5k":
        xtr, ytr, xte, yte = D.mnist_5k(seed=0)
        xtr, xte = (F.adaptive_avg_pool2d(x, cfg.image_size).flatten(1) for x in (xtr, xte))
    else:
        if cfg.data_root is None:
            raise ConfigError("the NORB presets need --set data_root=FILE.npz (x_train, y_train, "
                              "x_test, y_test; 32x32x2 images flattened)")
        z = np.load(cfg.data_root)
        xtr, xte = (torch.as_tensor(z[k], dtype=torch.float32).flatten(1) for k in ("x_train", "x_test"))
        ytr, yte = (torch.as_tensor(z[k], dtype=torch.long) for k in ("y_train", "y_test"))
    if xtr.shape[1] != cfg.n_visible:
        raise ConfigError(f"the images have {xtr.shape[1]} pixels; set n_visible to that")
    mean, std = xtr.mean(0), xtr.std(0) + 0.1  # (n_visible,): + 0.1 for near-constant pixels
    return (xtr - mean) / std, ytr, (xte - mean) / std, yte


def build_data(cfg: Config):
    xtr, ytr, xte, yte = tensor_split(cfg)
    return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), \
        {"train": (xtr, ytr), "test": (xte, yte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """Logistic regression and 1-NN on the standardised pixels the RBMs see."""
    if cfg.dataset != "mnist5k":
        return {}
    xtr, ytr, xte, yte = tensor_split(cfg)
    return {"logistic regression pixels": {
                "test_accuracy": B.logistic_regression_accuracy(xtr, ytr, xte, yte)},
            "1-NN pixels": {"test_accuracy": B.nearest_neighbour_accuracy(xtr, ytr, xte, yte)}}


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """SGD with momentum; weight decay on W only. SGD on the surrogate loss below moves W by
    lr (<v h>_data - <v h>_recon), the CD-1 rule (Eq. 1)."""
    return torch.optim.SGD([{"params": [model.W], "weight_decay": cfg.weight_decay},
                            {"params": [model.b_v, model.b_h], "weight_decay": 0.0}],
                           lr=cfg.lr, momentum=cfg.momentum), None


def training_step(model: RBM, batch) -> dict:
    v0, _ = batch  # (B, n_visible); labels are not used: the RBM learns without them
    h0, v1, h1 = model.cd1(v0)
    # d(loss)/dW = -(<v0 h0> - <v1 h1>): the negative CD-1 update, so an SGD step applies it
    loss = (model.neg_energy(v1, h1) - model.neg_energy(v0, h0)).mean()
    return {"loss": loss, "reconstruction_error": ((v0 - v1) ** 2).mean()}


def features_accuracy(model: RBM, eval_data) -> float:
    """Test accuracy of logistic regression on the RBM's features (Sec. 4.1)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    device = model.W.device
    (xtr, ytr), (xte, yte) = eval_data["train"], eval_data["test"]
    ftr, fte = (model(x.to(device)).double().cpu().numpy() for x in (xtr, xte))
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    with warnings.catch_warnings():  # not converging in max_iter is fine here too
        warnings.simplefilter("ignore")
        clf.fit(ftr, ytr.numpy())
    return float((clf.predict(fte) == yte.numpy()).mean())


def evaluate(model: RBM, eval_data, cfg: Config) -> dict[str, float]:
    xte = eval_data["test"][0].to(model.W.device)
    torch.manual_seed(cfg.seed)
    _, v1, _ = model.cd1(xte)
    return {"test_accuracy": features_accuracy(model, eval_data),
            "test_reconstruction_error": float(((xte - v1) ** 2).mean()),
            "active_fraction": float((model(xte) > 0.5 if cfg.hidden == "binary"
                                      else model(xte) > 0).float().mean())}


# --- claims --------------------------------------------------------------------------------


def _acc(m, v):
    return m[v]["test_accuracy"]


CLAIMS = [
    Claim(
        id="nrelu-features",
        text="Logistic regression on the features of an RBM with NReLU hidden units is more "
        "accurate than on those of the same RBM with binary hidden units (same CD-1 steps, rate "
        "and initialisation), by at least 0.01, and than logistic regression on the pixels.",
        paper="NReLU hidden units give lower NORB test error than binary hidden units with 4000 "
        "units in one layer (Table 1) and in two layers (Table 2), and higher face-verification "
        "accuracy on LFW (Tables 3-4)",
        source="Sec. 4.1-4.2, Tables 1-4",
        margins=lambda m: {"binary": _acc(m, "nrelu") - _acc(m, "binary") - 0.01,
                           "logistic regression pixels":
                               _acc(m, "nrelu") - _acc(m, "logistic regression pixels") - 0.01},
        measured=lambda m: f"NReLU features {_acc(m, 'nrelu'):.3f}, binary features "
        f"{_acc(m, 'binary'):.3f}, logistic regression on pixels "
        f"{_acc(m, 'logistic regression pixels'):.3f}, 1-NN on pixels {_acc(m, '1-NN pixels'):.3f}",
    ),
    Claim(
        id="norb-error",
        text="With 4000 NReLU hidden units on 32x32x2 jittered-cluttered NORB the features give "
        "a lower test error than with 4000 binary hidden units.",
        paper="Table 1: NReLU below binary at 4000 hidden units (one layer)",
        source="Table 1",
        needs="presets paper and paper-binary, NORB as .npz (data_root)",
    ),
]
