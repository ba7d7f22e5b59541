"""Group Normalization (Wu and He, 2018) and Layer Normalization (Ba, Kiros and Hinton, 2016):
normalising over features of one example, so the batch does not matter.

https://arxiv.org/abs/1803.08494 (GN), https://arxiv.org/abs/1607.06450 (LN)

GN (Eq. 1-2, 6-7): the C channels of an example are split into G groups; each group is
normalised by the mean and standard deviation of its (C/G) x H x W values, then every channel
gets its own gamma, beta. LN (Ba et al., Eq. 4) is the same with one group over all hidden
units of a layer. Neither uses other examples of the batch, so training and inference compute
the same thing, for any batch size. The GN paper's claim (Fig. 1, Table 2): as the batch per
worker shrinks to 2, BN's error rises sharply (inaccurate batch statistics) while GN's stays
flat. LN's (Sec. 3, Fig. 6): the output for an example does not depend on the batch, and at a
batch of 4 an LN network trains faster than one without normalisation (and than BN).

Presets (GN paper, `PAPER = "group-norm"`): `paper` = ResNet-50 with GN (32 groups) in place of
every BN, 25,557,032 parameters (GN has BN's gamma and beta: ResNet-50's count), built as
torchvision's `resnet50(norm_layer=...)` so its state_dict loads into one with
`torch.nn.GroupNorm`; `mini`: a small CNN (16/32/64/64 channels, the last map 1x1) on scikit-learn's
8x8 digits with BN and with GN (8 groups) trained at batch 32 and at batch 2 for the same
epochs (learning rate scaled linearly with the batch), 1-NN / logistic regression on pixels
on the same split; `tiny`.
Presets (LN paper): `paper-ln` = the permutation-invariant MNIST model of Fig. 6, a
784-1000-1000-10 MLP with LN on both hidden layers (1,800,010 parameters); `mini-ln`: a
64-256x5-10 MLP on digits at batch 4 with LN, BN and no normalisation, each with Adam at
three rates; `batch_dependence` measures how much an example's output changes with its batch.

Deviations from the papers:
- `paper` keeps torchvision's ResNet-50 layout (stride on the 3x3 convolution) and its
  zero-initialised last gamma of each block (GN paper Sec. 4: "gamma initialized by 0" for each
  block's last normalisation layer). No ImageNet run here.
- `mini` uses 8 groups (2-8 channels each) instead of 32, since its layers have 16-64 channels,
  and a CNN whose last feature map is 1x1 (ImageNet's ResNet ends at 7x7): at batch 2, BN
  then estimates each statistic from 2-8 values, as the paper's small batches do from few.
- `paper-ln` and `mini-ln` train with Adam as the paper's Fig. 6 experiments do; `mini-ln` on
  8x8 digits, not MNIST; its MLP is deeper (five hidden layers) so that normalisation matters
  within 600 steps.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "group-norm"


# --- the normalisations --------------------------------------------------------------------


class GroupNorm(nn.Module):
    """GN (Wu and He, Eq. 1-2, 6-7) on (B, C, H, W) or (B, C); names as torch.nn.GroupNorm."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5):
        super().__init__()
        if num_channels % num_groups:
            raise ConfigError(f"{num_channels} channels do not split into {num_groups} groups")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight = nn.Parameter(torch.ones(num_channels))  # gamma, per channel (Eq. 6)
        self.bias = nn.Parameter(torch.zeros(num_channels))  # beta

    def forward(self, x):  # (B, C, *)
        shape = x.shape
        g = x.reshape(shape[0], self.num_groups, -1)  # (B, G, C/G * H * W): S_i of Eq. 7
        mu = g.mean(-1, keepdim=True)  # Eq. 2: mean over S_i
        sigma = torch.sqrt(g.var(-1, unbiased=False, keepdim=True) + self.eps)  # Eq. 2
        x_hat = ((g - mu) / sigma).reshape(shape)  # Eq. 1, back to (B, C, *)
        view = (1, -1) + (1,) * (x.ndim - 2)
        return self.weight.view(view) * x_hat + self.bias.view(view)  # Eq. 6


class LayerNorm(nn.Module):
    """LN (Ba et al., Eq. 4): statistics over the H hidden units of one example, then an
    adaptive gain g and bias b per unit (Sec. 3); names as torch.nn.LayerNorm."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.normalized_shape, self.eps = (dim,), eps
        self.weight = nn.Parameter(torch.ones(dim))  # gain g
        self.bias = nn.Parameter(torch.zeros(dim))  # bias b

    def forward(self, a):  # (B, H)
        mu = a.mean(-1, keepdim=True)  # mu^l = 1/H sum_i a_i^l
        sigma = torch.sqrt(a.var(-1, unbiased=False, keepdim=True) + self.eps)  # sigma^l
        return self.weight * (a - mu) / sigma + self.bias


def norm_layer(kind: str, channels: int, groups: int) -> nn.Module:
    if kind == "gn":
        return GroupNorm(groups, channels)
    if kind == "ln":
        return LayerNorm(channels)
    if kind == "bn":  # the control; batchnorm.BatchNorm equals torch's (tests/test_batchnorm.py)
        return nn.BatchNorm2d(channels) if groups else nn.BatchNorm1d(channels)
    return nn.Identity()


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 450_000  # GN paper Sec. 4.1: 100 epochs of ImageNet at batch 8 x 32
    batch_size: int = 32  # GN paper Sec. 4.1: 32 images per GPU (Fig. 1 varies it)
    lr: float = 0.1  # GN paper Sec. 4.1: 0.1 x (batch / 256), SGD
    momentum: float = 0.9
    weight_decay: float = 1e-4  # GN paper Sec. 4.1
    optimizer: Literal["sgd", "adam"] = "sgd"  # adam: LN's Fig. 6 experiments
    data_root: str | None = None  # real data: an ImageNet-style folder (train/, val/)
    dataset: Literal["imagenet", "digits", "mnist"] = "imagenet"  # mnist: paper-ln (data_root)
    arch: Literal["resnet50", "convnet", "mlp"] = "resnet50"
    norm: Literal["gn", "bn", "ln", "none"] = "gn"
    groups: int = 32  # GN paper Sec. 3.1: G = 32 by default
    in_channels: int = 3
    num_classes: int = 1000
    widths: tuple[int, ...] = (16, 32, 64, 64)  # convnet: channels; mlp: hidden units per layer
    strides: tuple[int, ...] = (1, 2, 2, 2)  # convnet: 8x8 -> 8, 4, 2, 1
    compare_norms: tuple[str, ...] = ()  # mini: the normalisations trained side by side
    compare_batch_sizes: tuple[int, ...] = ()  # mini: each norm at each batch, same epochs
    compare_lrs: tuple[float, ...] = ()  # mini-ln: each norm at each rate (its best is used)


# --- model ---------------------------------------------------------------------------------


class ConvNet(nn.Module):
    """3x3 conv -> norm -> ReLU layers, global average pool, linear classifier."""

    def __init__(self, cfg: Config):
        super().__init__()
        c, layers = cfg.in_channels, []
        for w, s in zip(cfg.widths, cfg.strides, strict=True):
            layers += [nn.Conv2d(c, w, 3, s, 1, bias=cfg.norm == "none"),
                       norm_layer(cfg.norm, w, cfg.groups), nn.ReLU(inplace=True)]
            c = w
        self.features, self.fc = nn.Sequential(*layers), nn.Linear(c, cfg.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):  # (B, C, H, W)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))  # (B, K)


class MLP(nn.Module):
    """Linear -> norm -> ReLU hidden layers and a linear softmax layer, which LN leaves
    unnormalised (Ba et al., Sec. 6.7)."""

    def __init__(self, cfg: Config):
        super().__init__()
        c, layers = cfg.in_channels, []
        for w in cfg.widths:
            layers += [nn.Linear(c, w), norm_layer(cfg.norm, w, 0), nn.ReLU(inplace=True)]
            c = w
        self.hidden, self.out = nn.Sequential(*layers), nn.Linear(c, cfg.num_classes)

    def forward(self, x):  # (B, C, H, W) or (B, D)
        return self.out(self.hidden(torch.flatten(x, 1)))  # (B, K)


def build_model(cfg: Config) -> nn.Module:
    if cfg.arch == "resnet50":  # GN replaces every BN (Sec. 4.1), torchvision's layout
        from torchvision.models import resnet50

        return resnet50(weights=None, num_classes=cfg.num_classes, zero_init_residual=True,
                        norm_layer=lambda c: norm_layer(cfg.norm, c, cfg.groups))
    return ConvNet(cfg) if cfg.arch == "convnet" else MLP(cfg)


# --- presets -------------------------------------------------------------------------------

_DIGITS = dict(dataset="digits", in_channels=1, num_classes=10)
PRESETS = {
    "paper": Config(),  # ResNet-50, GN with 32 groups: 25,557,032
    "mini": Config(**_DIGITS, arch="convnet", groups=8, steps=252, batch_size=32, lr=0.1,
                   compare_norms=("bn", "gn"), compare_batch_sizes=(32, 2)),  # 6 epochs; 61,050
    "tiny": Config(**_DIGITS, arch="convnet", groups=2, widths=(4, 8), strides=(2, 2), steps=3,
                   batch_size=8),
    "paper-ln": Config(dataset="mnist", arch="mlp", norm="ln", in_channels=784, num_classes=10,
                       widths=(1000, 1000), optimizer="adam", lr=1e-3, batch_size=128,
                       steps=20_000, weight_decay=0.0),  # Fig. 6: 1,800,010
    "mini-ln": Config(**_DIGITS | {"in_channels": 64}, arch="mlp", norm="ln",
                      widths=(256,) * 5, optimizer="adam", batch_size=4, steps=600, lr=3e-4,
                      weight_decay=0.0, compare_norms=("ln", "none", "bn"),
                      compare_lrs=(1e-4, 3e-4, 1e-3)),  # 284,938 with LN
}


def variants(cfg: Config) -> dict[str, Config]:
    """`<norm>-b<B>` for each norm and batch size (steps and rate scaled so each sees the same
    epochs at the same rate per example: Goyal et al.'s linear rule, as the GN paper uses), or
    `<norm>-lr<r>` for each norm and rate; else `main`."""
    base = dataclasses.replace(cfg, compare_norms=(), compare_batch_sizes=(), compare_lrs=())
    out = {}
    for norm in cfg.compare_norms:
        for b in cfg.compare_batch_sizes:
            out[f"{norm}-b{b}"] = dataclasses.replace(
                base, norm=norm, batch_size=b, steps=cfg.steps * cfg.batch_size // b,
                lr=cfg.lr * b / cfg.batch_size)
        for lr in cfg.compare_lrs:
            out[f"{norm}-lr{lr:g}"] = dataclasses.replace(base, norm=norm, lr=lr)
    return out or {"main": base}


# --- data ----------------------------------------------------------------------------------


def digits_split():
    xtr, ytr, xte, yte = D.digits(seed=0)
    return D.standardize(xtr, "digits"), ytr, D.standardize(xte, "digits"), yte  # (N, 1, 8, 8)


def build_data(cfg: Config):
    if cfg.dataset == "digits":
        xtr, ytr, xte, yte = digits_split()
        return (D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed),
                {"train": (xtr, ytr), "test": (xte, yte)})
    if cfg.data_root is None:
        raise ConfigError(f"dataset={cfg.dataset} needs --set data_root=DIR (MNIST's folder, or "
                          "an ImageNet-style folder holding train/ and val/)")
    if cfg.dataset == "mnist":  # Ba et al. Fig. 6: permutation-invariant MNIST
        xtr, ytr = D.real_images("mnist", cfg.data_root, train=True)
        xte, yte = D.real_images("mnist", cfg.data_root, train=False)
        xtr, xte = D.standardize(xtr, "mnist"), D.standardize(xte, "mnist")
        return (D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed),
                {"train": (xtr, ytr), "test": (xte, yte)})
    train, val = D.image_folder_loaders(cfg.data_root, cfg.batch_size, cfg.seed)
    return train, {"test": val}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on the pixels of the digits split the nets see."""
    if cfg.dataset != "digits":
        return {}
    xtr, ytr, xte, yte = digits_split()
    return B.pixel_baselines(xtr, ytr, xte, yte)


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """SGD with momentum, rate decayed linearly to 0 (GN paper: SGD, step decay), or Adam at a
    constant rate (Ba et al., Fig. 6)."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr), None
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / cfg.steps)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(-1) == y).float().mean()}


def batch_dependence(model: nn.Module, x: torch.Tensor) -> float:
    """Largest change of an example's training-mode output when the other half of its batch of
    16 is replaced (LN, GN: 0 up to rounding; BN: batch statistics change)."""
    net = copy.deepcopy(model).train()  # training mode: BN uses the batch, not running stats
    with torch.no_grad():
        a = net(x[:16])[:8]  # (8, K)
        b = net(torch.cat([x[:8], x[16:24]]))[:8]
    return (a - b).abs().max().item()


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    test = D.classification_metrics(model, eval_data["test"])
    out = {"test_accuracy": test["accuracy"], "test_error": 1 - test["accuracy"],
           "test_loss": test["loss"]}
    if "train" in eval_data:
        x, y = eval_data["train"]
        out["train_loss"] = D.classification_metrics(model, (x, y))["loss"]
        out["batch_dependence"] = batch_dependence(model, x.to(next(model.parameters()).device))
    return out


# --- claims --------------------------------------------------------------------------------


def _err(m, v):
    return m[v]["test_error"]


def _best(m, norm):
    """The `<norm>-lr*` variant with the lowest training loss (its best rate of the grid)."""
    names = [v for v in m if v.startswith(f"{norm}-lr")]
    if not names:
        raise KeyError(f"{norm}-lr*")
    return min(names, key=lambda v: m[v]["train_loss"])


def _loss(m, norm):
    return m[_best(m, norm)]["train_loss"]


CLAIMS = [
    Claim(
        id="bn-small-batch",
        text="Going from batch 32 to batch 2 (same epochs, linearly scaled rate), BN's test "
        "error rises by at least 0.10 while GN's rises by less than 0.02, and at batch 2 GN's "
        "error is at least 0.10 lower than BN's.",
        paper="ResNet-50 ImageNet val error, batch 32 -> 2 per GPU: BN 23.6% -> 34.7%, GN "
        "24.1% -> 24.1%",
        source="Fig. 1, Table 2 (GN paper)",
        margins=lambda m: {
            "bn-b32": _err(m, "bn-b2") - _err(m, "bn-b32") - 0.10,
            "gn-b32": 0.02 - (_err(m, "gn-b2") - _err(m, "gn-b32")),
            "bn-b2": _err(m, "bn-b2") - _err(m, "gn-b2") - 0.10},
        measured=lambda m: "test error at batch 32 / 2: BN "
        f"{_err(m, 'bn-b32'):.3f} / {_err(m, 'bn-b2'):.3f}, GN {_err(m, 'gn-b32'):.3f} / "
        f"{_err(m, 'gn-b2'):.3f}",
    ),
    Claim(
        id="gn-vs-pixels",
        text="Not expected in miniature: on 8x8 digits the GN net at batch 2 does not beat 1-NN "
        "and logistic regression on pixels by 0.01 (1-NN: 0.982 on this split; GN reaches "
        "0.97-0.99): the claim is about BN vs GN, and beating pixels clearly needs harder data "
        "than a CPU minute allows at batch 2.",
        paper="GN 24.1% top-1 error at batch 2 on ImageNet",
        source="Table 2 (GN paper)",
        margins=lambda m: {b: 1 - _err(m, "gn-b2") - m[b]["test_accuracy"] - 0.01
                           for b in ("1-NN pixels", "logistic regression pixels")},
        measured=lambda m: f"GN at batch 2 {1 - _err(m, 'gn-b2'):.3f}, 1-NN "
        f"{m['1-NN pixels']['test_accuracy']:.3f}, logistic regression "
        f"{m['logistic regression pixels']['test_accuracy']:.3f}",
        expected=False,
    ),
    Claim(
        id="imagenet-batch-2",
        text="ResNet-50 with GN at 2 images per GPU has ImageNet error within 0.1 points of "
        "its error at 32, where BN's grows by 11 points.",
        paper="GN 24.1% at batch 32 and at batch 2; BN 23.6% -> 34.7%",
        source="Table 2 (GN paper)",
        needs="preset paper with --set batch_size=2 lr=0.00625 (and norm=bn for the control), "
        "ImageNet-1k train/val (data_root), 8 GPUs",
    ),
    Claim(
        id="ln-batch-independent",
        text="An LN network's output for an example does not depend on the rest of its batch "
        "(the change is below 1e-5, rounding), while BN's changes by more than 0.01.",
        paper="LN 'does not introduce any new dependencies between training cases'; same "
        "computation at training and test time",
        source="Sec. 3 (LN paper)",
        margins=lambda m: {
            "rounding (1e-5)": 1e-5 - m[_best(m, "ln")]["batch_dependence"],
            _best(m, "bn"): m[_best(m, "bn")]["batch_dependence"] - 0.01},
        measured=lambda m: "largest output change when the batch changes: LN "
        f"{m[_best(m, 'ln')]['batch_dependence']:.2g}, BN "
        f"{m[_best(m, 'bn')]['batch_dependence']:.3g}",
        presets=("mini-ln",),
    ),
    Claim(
        id="ln-small-batch-faster",
        text="At batch 4, after the same 600 Adam steps, the LN MLP's training loss is at least "
        "1.4x lower than without normalisation and than with BN (each at its best rate of the "
        "grid).",
        paper="permutation-invariant MNIST, batch 4: LN converges faster than BN and the "
        "baseline",
        source="Fig. 6 (LN paper)",
        margins=lambda m: {_best(m, n): math.log(_loss(m, n) / _loss(m, "ln")) - math.log(1.4)
                           for n in ("none", "bn")},
        measured=lambda m: "training loss at the best rate: " + ", ".join(
            f"{n} {_loss(m, n):.3f} ({_best(m, n)})" for n in ("ln", "none", "bn")),
        presets=("mini-ln",),
    ),
    Claim(
        id="ln-paper-scale",
        text="LN speeds up RNNs: the LN-LSTM order-embedding, skip-thought and attentive-reader "
        "models converge faster and to better scores than their baselines.",
        paper="e.g. order embeddings: LN converges faster, better recall (Table 2, Fig. 2)",
        source="Sec. 6 (LN paper)",
        needs="the paper's RNN models and datasets (MSCOCO, BookCorpus, CNN); not in this module",
        presets=("paper-ln",),
    ),
]
