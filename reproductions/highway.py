"""Highway Networks (Srivastava, Greff, Schmidhuber, 2015).

https://arxiv.org/abs/1505.00387

A highway layer computes y = H(x, W_H) T(x, W_T) + x C(x, W_C) (Eq. 2) with the carry gate
C = 1 - T (Eq. 3): y = H(x) T(x) + x (1 - T(x)). H is an affine map and a non-linearity, the
transform gate T(x) = sigmoid(W_T^T x + b_T) (Sec. 2), so the layer moves smoothly between the
identity (T = 0, Eq. 4) and a plain layer (T = 1), and its Jacobian between I and H' (Eq. 5).
Initialising b_T negative ("e.g. -1, -3", Sec. 2.2) biases every layer towards carrying its
input, so information and gradients cross many layers at the start. The paper's claim (Fig. 1):
plain nets become much harder to optimise with depth; highway nets of 50 and 100 layers still
train well.

Presets: `paper` = the 50-layer highway net of Sec. 3.1 / Fig. 1 on MNIST: a plain fully
connected first layer of 50 units, 49 highway layers of 50 blocks and a softmax output layer
(289,660 parameters); `paper-plain` = its plain control with 71 units per layer, "yielding
roughly identical numbers of parameters (~5000) per layer" (306,943); `mini`: Fig. 1 at depth
50 on scikit-learn's 8x8 digits: the 50-layer highway net (253,660 parameters), the 50-layer
plain net (71 units: 255,823) and the highway net with b_T = 0 (the gate-bias ablation), same
SGD with momentum, same 300 steps; `tiny`.

Deviations from the paper:
- Fig. 1 reports each configuration's best run of a 40-run random search over learning rate,
  momentum, decay, activation (ReLU or tanh) and b_T (-1 to -10); the miniature trains every
  variant with one setting (ReLU, b_T = -4, SGD lr 0.01, momentum 0.9, constant rate) that we
  chose for the highway net. The plain net gets the same; at lr 0.003, its best of
  0.003 / 0.01 / 0.03 on seeds 0-2, it reaches a training loss of 1.28-1.59, still far above
  the highway net's 0.07-0.19. With b_T = -2 (Sec. 2.2's range) the 50-layer highway net did not
  train in 300 steps here either: the carry path scales the signal by about (1 - T)^49.
- Weights are drawn by He et al.'s Eq. 10 (`reproductions.init.init_weight_`), a
  variance-preserving scheme, so the plain control does not fail merely by a poor init;
  the paper's text does not pin the scheme down.
- `mini` uses 8x8 digits (64 inputs) and 300 steps, not MNIST for 400 epochs, and compares the
  final training loss on the whole training set (Fig. 1 plots the training cost per epoch).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError
from reproductions.init import init_weight_

PAPER = "highway"


# --- blocks --------------------------------------------------------------------------------


def dense(d_in: int, d_out: int) -> nn.Linear:
    layer = nn.Linear(d_in, d_out)
    init_weight_(layer.weight, "he")  # He Eq. 10: Var[w] = 2 / fan-in
    nn.init.zeros_(layer.bias)
    return layer


class HighwayLayer(nn.Module):
    """y = H(x) T(x) + x (1 - T(x)) (Eq. 2-3): H(x) = g(W_H x + b_H), T(x) = sigmoid(W_T x + b_T),
    b_T initialised to `gate_bias` < 0 (Sec. 2.2). Input and output are both (B, D)."""

    def __init__(self, d: int, gate_bias: float, act: nn.Module):
        super().__init__()
        self.h, self.t, self.act = dense(d, d), dense(d, d), act
        nn.init.constant_(self.t.bias, gate_bias)

    def gate(self, x):  # (B, D) -> (B, D) in (0, 1)
        return torch.sigmoid(self.t(x))

    def forward(self, x):  # (B, D)
        t = self.gate(x)
        return self.act(self.h(x)) * t + x * (1.0 - t)


class PlainLayer(nn.Module):
    """y = H(x, W_H) (Eq. 1): the layer a highway layer generalises."""

    def __init__(self, d_in: int, d: int, act: nn.Module):
        super().__init__()
        self.h, self.act = dense(d_in, d), act

    def forward(self, x):  # (B, D)
        return self.act(self.h(x))


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 200_000  # Sec. 3.1: MNIST, 400 epochs (about 188k steps at batch 128)
    batch_size: int = 128
    lr: float = 0.01  # Sec. 3.1: found by random search per configuration
    momentum: float = 0.9  # Sec. 3.1: SGD with momentum
    data_root: str | None = None  # MNIST's folder (torchvision layout)
    download: bool = False  # let torchvision download MNIST into data_root
    dataset: Literal["mnist", "digits"] = "mnist"
    in_features: int = 784  # flattened 28x28 MNIST image (64 for 8x8 digits)
    num_classes: int = 10
    depth: int = 50  # Sec. 3.1: 1 plain layer + depth-1 highway (or plain) layers; softmax apart
    width: int = 50  # Sec. 3.1: 50 blocks per highway layer
    block: Literal["highway", "plain"] = "highway"
    activation: Literal["relu", "tanh"] = "relu"  # Sec. 3.1: chosen by the search
    gate_bias: float = -4.0  # b_T at the start; Sec. 2.2: "e.g. -1, -3"; searched in -1..-10
    compare_plain_width: int = 0  # mini: also train a plain net of this width (paper: 71)
    compare_gate_bias: float | None = None  # mini: also train the highway net with this b_T


# --- model ---------------------------------------------------------------------------------


class HighwayNetwork(nn.Module):
    """A fully connected plain first layer (to the layer width), `depth - 1` highway (or plain)
    layers and a softmax output layer (Sec. 3.1)."""

    def __init__(self, cfg: Config):
        super().__init__()
        if cfg.depth < 1:
            raise ConfigError("depth must be at least 1")
        act = nn.ReLU() if cfg.activation == "relu" else nn.Tanh()
        self.first = PlainLayer(cfg.in_features, cfg.width, act)  # the only layer changing D
        self.layers = nn.ModuleList(
            HighwayLayer(cfg.width, cfg.gate_bias, act) if cfg.block == "highway" else
            PlainLayer(cfg.width, cfg.width, act) for _ in range(cfg.depth - 1))
        self.classifier = dense(cfg.width, cfg.num_classes)  # softmax in the loss

    def forward(self, x, gates: list | None = None):  # (B, C, H, W) or (B, in_features)
        x = self.first(x.flatten(1))  # (B, D)
        for layer in self.layers:
            if gates is not None and isinstance(layer, HighwayLayer):
                gates.append(layer.gate(x))  # (B, D): T(x) of this layer
            x = layer(x)
        return self.classifier(x)  # (B, K)


def build_model(cfg: Config) -> HighwayNetwork:
    return HighwayNetwork(cfg)


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # 50 layers, highway, 50 blocks: 289,660
    "paper-plain": Config(block="plain", width=71),  # 50 plain layers of 71 units: 306,943
    "mini": Config(dataset="digits", in_features=64, steps=300, batch_size=64,
                   compare_plain_width=71, compare_gate_bias=0.0),  # 253,660 vs plain 255,823
    "tiny": Config(dataset="digits", in_features=64, depth=3, width=8, steps=3, batch_size=16,
                   compare_plain_width=8),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`highway`, `plain` (with `compare_plain_width`) and `highway-bias<b>` (with
    `compare_gate_bias`): same depth, data, optimizer and steps; else `main`."""
    base = dataclasses.replace(cfg, compare_plain_width=0, compare_gate_bias=None)
    if not cfg.compare_plain_width and cfg.compare_gate_bias is None:
        return {"main": base}
    out = {"highway": dataclasses.replace(base, block="highway")}
    if cfg.compare_plain_width:
        out["plain"] = dataclasses.replace(base, block="plain", width=cfg.compare_plain_width)
    if cfg.compare_gate_bias is not None:
        out[f"highway-bias{cfg.compare_gate_bias:g}"] = dataclasses.replace(
            base, block="highway", gate_bias=cfg.compare_gate_bias)
    return out


# --- data ----------------------------------------------------------------------------------


def tensor_split(cfg: Config):
    """`(x_train, y_train, x_test, y_test)` standardised: digits (no download) or MNIST."""
    if cfg.dataset == "mnist":
        if cfg.data_root is None:
            raise ConfigError("the MNIST presets need --set data_root=DIR (MNIST's folder)")
        xtr, ytr = D.real_images("mnist", cfg.data_root, train=True, download=cfg.download)
        xte, yte = D.real_images("mnist", cfg.data_root, train=False, download=cfg.download)
        return D.standardize(xtr, "mnist"), ytr, D.standardize(xte, "mnist"), yte
    xtr, ytr, xte, yte = D.digits(seed=0)
    return D.standardize(xtr, "digits"), ytr, D.standardize(xte, "digits"), yte  # (N, 1, 8, 8)


def build_data(cfg: Config):
    """`(train_loader, eval_data)`; eval_data holds the training set: Fig. 1 plots its cost."""
    xtr, ytr, xte, yte = tensor_split(cfg)
    if xtr[0].numel() != cfg.in_features:
        raise ConfigError(f"in_features={cfg.in_features} but the images have {xtr[0].numel()}")
    return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), \
        {"train": (xtr, ytr), "test": (xte, yte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """The class-prior predictor's training cross-entropy (a net that learned nothing), and
    1-NN / logistic regression on pixels, on the digits split the variants see."""
    if cfg.dataset != "digits":
        return {}
    xtr, ytr, xte, yte = tensor_split(cfg)
    return B.pixel_baselines(xtr, ytr, xte, yte, class_prior=True)


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """SGD with momentum (Sec. 3.1), constant rate."""
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum), None


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(-1) == y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Training loss/accuracy (Fig. 1), test accuracy/loss, and for highway nets the mean
    transform gate output T(x) over the training set, per layer and overall (Fig. 2)."""
    train = D.classification_metrics(model, eval_data["train"])
    test = D.classification_metrics(model, eval_data["test"])
    out = {"train_loss": train["loss"], "train_accuracy": train["accuracy"],
           "test_loss": test["loss"], "test_accuracy": test["accuracy"]}
    if cfg.block == "highway":
        x = eval_data["train"][0].to(next(model.parameters()).device)
        gates: list[torch.Tensor] = []
        with torch.no_grad():
            model(x, gates)
        means = [float(g.mean()) for g in gates]
        out |= {f"mean_gate{i + 2:02d}": m for i, m in enumerate(means)}
        out["mean_gate"] = sum(means) / len(means)
    return out


def figures(out_dir: Path, cfg: Config, models: dict, metrics: dict) -> list[dict]:
    """Training loss per step of every variant (Fig. 1), read from the run's metrics.jsonl, and
    the mean transform gate output per layer after training (Fig. 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reproductions.common.runner import training_curve

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for i, name in enumerate(metrics):
        rows = training_curve(out_dir.parent, name)
        axes[0].plot([r["step"] for r in rows], [r["loss"] for r in rows], f"C{i}", label=name)
        gates = [v for k, v in sorted(metrics[name].items()) if k[:9] == "mean_gate" and k[9:]]
        if gates:
            axes[1].plot(range(2, len(gates) + 2), gates, f"C{i}", marker=".", label=name)
    axes[0].set(xlabel="step", ylabel="training loss (batch)", yscale="log",
                title=f"{cfg.depth}-layer nets")
    axes[1].set(xlabel="layer", ylabel="mean T(x)", title="transform gates after training")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "training-loss.png", dpi=100)
    plt.close(fig)
    return [{"file": "training-loss.png", "paper_figure": "Fig. 1, Fig. 2",
             "caption": "training loss of the highway and plain nets of the same depth, same "
             "SGD and steps; mean transform gate output per layer"}]


# --- claims --------------------------------------------------------------------------------


def _loss(m, v):
    return m[v]["train_loss"]


CLAIMS = [
    Claim(
        id="deep-highway-trains",
        text="With the same SGD for the same 300 steps, the 50-layer highway net ends with a "
        "training loss at least 0.75 nat below the 50-layer plain net's (71 units per layer, as "
        "many parameters) and 1.5 nats below the class prior's (a net that learned nothing).",
        paper="plain networks become much harder to optimize with increasing depth, while "
        "highway networks with up to 100 layers can still be optimized well",
        source="Fig. 1, Sec. 3.1",
        margins=lambda m: {"plain": _loss(m, "plain") - _loss(m, "highway") - 0.75,
                           "class prior": _loss(m, "class prior") - _loss(m, "highway") - 1.5},
        measured=lambda m: f"training loss: highway {_loss(m, 'highway'):.3f}, plain "
        f"{_loss(m, 'plain'):.3f}, class prior {_loss(m, 'class prior'):.3f}",
    ),
    Claim(
        id="gate-bias",
        text="Starting the transform gates at b_T = -4 (carry) rather than 0 lowers the 50-layer "
        "highway net's training loss after the same 300 steps by at least 1.0 nat: with T = 1/2 "
        "at every layer the 50-layer net stalls like the plain one.",
        paper="b_T initialised negative (e.g. -1, -3) biases the network towards carry "
        "behaviour; this was found to help deep networks",
        source="Sec. 2.2",
        margins=lambda m: {"highway-bias0": _loss(m, "highway-bias0") - _loss(m, "highway") - 1.0},
        measured=lambda m: f"training loss: b_T=-4 {_loss(m, 'highway'):.3f}, b_T=0 "
        f"{_loss(m, 'highway-bias0'):.3f}",
    ),
    Claim(
        id="mnist-depth",
        text="On MNIST, highway nets of 10 to 100 layers all reach low training cost, while plain "
        "nets of 50 and 100 layers stay far above.",
        paper="Fig. 1: training cost vs epochs for depths 10, 20, 50, 100 (best of 40 runs each)",
        source="Fig. 1",
        needs="presets paper and paper-plain with --set depth=10/20/50/100, MNIST (data_root), "
        "a random search over lr, momentum and b_T per configuration",
    ),
]
