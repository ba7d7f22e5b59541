"""Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift
(Ioffe and Szegedy, 2015).

https://arxiv.org/abs/1502.03167

Each activation x of a layer is normalised over the mini-batch, x_hat = (x - mu_B) /
sqrt(sigma_B^2 + eps), then scaled and shifted by learned gamma, beta (Algorithm 1). At
inference the mini-batch statistics are replaced by population statistics, E[x] and
m/(m-1) E_B[sigma_B^2] (Algorithm 2), so BN becomes a fixed affine map. For convolutions the
statistics are taken per feature map, over the batch and all locations (Sec. 3.2). The claim
(Sec. 4.2.1, Fig. 2-3): a BN network trains at a learning rate the un-normalised one cannot use,
and reaches the un-normalised network's accuracy in far fewer steps (14x on ImageNet).

Presets: `paper` = BN-Inception, the Inception variant of the Appendix (Fig. 5) with BN before
every ReLU (11,285,224 parameters as built here with a 1000-class head; see Deviations);
`mini`: on MNIST-5k, a 6-layer ReLU CNN with BN at a high learning rate, the same CNN without
BN at that rate, and without BN at lower rates (the no-BN net's best rate is taken from this
grid in the same run), with SGD + momentum and the same steps; the number of steps each needs to
reach 95% training accuracy; 1-NN and logistic regression on pixels on the same split; `tiny`.

Deviations from the paper:
- `BatchNorm` keeps the population statistics as moving averages (the paper: "using moving
  averages instead, we can track the accuracy of a model as it trains", Sec. 3.1) with torch's
  convention (momentum 0.1, unbiased variance m/(m-1) sigma_B^2), so its state_dict and outputs
  equal `torch.nn.BatchNorm1d/2d`.
- BN-Inception: Fig. 5 lists inception (4c) and (4d) with "avg + 128" pool projections but an
  output depth of 576; the branches then sum to 608. We keep the listed branch widths (608, as
  the Caffe port of BN-Inception does); `pool_proj_4cd=96` gives TF-slim's 576. The first 7x7
  convolution is a plain convolution (TF-slim uses a depthwise-separable one by default; the
  paper's table marks it with an unexplained asterisk). Convolutions before BN have no bias
  (Sec. 3.2: "the bias b can be ignored"). The paper quotes 13.6M parameters (Appendix); the
  table's widths give 11.3M with the 1000-way classifier: we could not find the difference.
- ImageNet training (`paper`): linear learning-rate decay to 0 instead of the paper's
  accelerated exponential decay; RandomResizedCrop augmentation (the paper: reduced photometric
  distortions); no ensembles, single crop.
- `mini` uses a small plain CNN, not a miniature Inception, on 28x28 digits, SGD with momentum
  0.9 and linear decay; it measures training accuracy per logged batch (smoothed), where Fig. 2
  plots validation accuracy. The paper's speed-up is 14x at ImageNet scale; in miniature it is
  1.6-2.2x over five seeds (the claim asks for 1.3x).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "batchnorm"


# --- the transform ------------------------------------------------------------------------


class BatchNorm(nn.Module):
    """BN_{gamma,beta}(x) for (B, C) or (B, C, H, W) inputs, one (gamma, beta) per channel.

    Parameter and buffer names are torch's (`weight` = gamma, `bias` = beta, `running_mean`,
    `running_var`, `num_batches_tracked`), so either state_dict loads into the other."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))  # gamma
        self.bias = nn.Parameter(torch.zeros(num_features))  # beta
        self.register_buffer("running_mean", torch.zeros(num_features))  # E[x]
        self.register_buffer("running_var", torch.ones(num_features))  # Var[x]
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):  # (B, C) or (B, C, H, W)
        dims = [0, *range(2, x.ndim)]  # Sec. 3.2: a feature map's m = B*H*W values together
        shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcast a (C,) vector over x
        if not self.training:  # Algorithm 2, step 11: y = gamma/sqrt(Var+eps) x + (beta - ...)
            scale = self.weight / torch.sqrt(self.running_var + self.eps)
            return x * scale.view(shape) + (self.bias - self.running_mean * scale).view(shape)
        mu = x.mean(dims)  # Algorithm 1: mini-batch mean
        var = x.var(dims, unbiased=False)  # mini-batch variance sigma_B^2
        with torch.no_grad():  # Algorithm 2, step 10, as moving averages (Sec. 3.1)
            m = x.numel() // x.shape[1]
            self.running_mean.lerp_(mu, self.momentum)
            self.running_var.lerp_(var * m / max(m - 1, 1), self.momentum)  # unbiased: m/(m-1)
            self.num_batches_tracked += 1
        x_hat = (x - mu.view(shape)) / torch.sqrt(var.view(shape) + self.eps)  # normalize
        return self.weight.view(shape) * x_hat + self.bias.view(shape)  # scale and shift


# --- blocks --------------------------------------------------------------------------------


class ConvBN(nn.Sequential):
    """conv -> BN -> ReLU (Sec. 3.2: BN of Wu, the bias dropped); conv(+bias) -> ReLU without BN."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, norm: bool = True):
        super().__init__(nn.Conv2d(c_in, c_out, k, stride, padding=k // 2, bias=not norm),
                         BatchNorm(c_out) if norm else nn.Identity(), nn.ReLU(inplace=True))


class Inception(nn.Module):
    """One row of Fig. 5: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 (the 5x5 of GoogLeNet replaced by
    two 3x3) | pool (-> 1x1 projection), concatenated. With stride 2 the 1x1 branch is absent
    and the max-pool branch passes its input through (Fig. 5: "max + pass through")."""

    def __init__(self, c_in, n1, n3r, n3, nd3r, nd3, pool, proj, stride=1, norm=True):
        super().__init__()
        self.b1 = ConvBN(c_in, n1, 1, norm=norm) if n1 else None
        self.b3 = nn.Sequential(ConvBN(c_in, n3r, 1, norm=norm), ConvBN(n3r, n3, 3, stride, norm))
        self.bd3 = nn.Sequential(ConvBN(c_in, nd3r, 1, norm=norm), ConvBN(nd3r, nd3, 3, 1, norm),
                                 ConvBN(nd3, nd3, 3, stride, norm))
        pooling = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        self.pool = pooling(3, stride, padding=1)
        self.proj = ConvBN(c_in, proj, 1, norm=norm) if proj else None
        self.out_channels = n1 + n3 + nd3 + (proj or c_in)

    def forward(self, x):  # (B, C, H, W)
        pooled = self.pool(x)
        branches = [self.b3(x), self.bd3(x), self.proj(pooled) if self.proj else pooled]
        if self.b1 is not None:
            branches.insert(0, self.b1(x))
        return torch.cat(branches, 1)  # (B, out_channels, H/stride, W/stride)


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 2_100_000  # Fig. 3: BN-x5 reaches Inception's 72.2% after 2.1M steps
    batch_size: int = 32  # Sec. 4.2: mini-batches of 32 examples
    lr: float = 0.0075  # Sec. 4.2.2: BN-x5, Inception's 0.0015 times 5
    momentum: float = 0.9  # Sec. 4.2: SGD with momentum
    weight_decay: float = 4e-5  # Sec. 4.2.1: Inception's L2 / 5 (value unpublished; TF-slim's)
    data_root: str | None = None  # real data: an ImageNet-style folder (train/, val/)
    dataset: Literal["imagenet", "mnist5k"] = "imagenet"
    arch: Literal["bn-inception", "convnet"] = "bn-inception"
    norm: bool = True  # False: the same network without BN (the control)
    image_size: int = 224
    in_channels: int = 3
    num_classes: int = 1000
    pool_proj_4cd: int = 128  # Fig. 5: "avg + 128" (96 gives its listed 576 outputs; Deviations)
    widths: tuple[int, ...] = (16, 16, 32, 32, 64, 64)  # arch=convnet: 3x3 conv channels
    strides: tuple[int, ...] = (2, 1, 2, 1, 1, 1)  # arch=convnet: stride of each conv
    compare_lrs: tuple[float, ...] = ()  # mini: the no-BN net at each rate; cfg.lr gets BN too
    target_accuracy: float = 0.95  # mini: training accuracy whose first step is counted (Fig. 3)
    smooth: int = 8  # mini: logged batches averaged before comparing with the target


# --- model ---------------------------------------------------------------------------------


class BNInception(nn.Module):
    """Fig. 5: stem (7x7/2 conv, 3x3/2 max pool, 1x1 + 3x3 conv, 3x3/2 max pool), inception
    3a-3c (28x28), 4a-4e (14x14), 5a-5b (7x7), global average pool, softmax classifier. No
    dropout, no LRN (Sec. 4.2.1 removes both)."""

    rows = {  # name: (1x1, 3x3 reduce, 3x3, double 3x3 reduce, double 3x3, pool, proj, stride)
        "3a": (64, 64, 64, 64, 96, "avg", 32, 1), "3b": (64, 64, 96, 64, 96, "avg", 64, 1),
        "3c": (0, 128, 160, 64, 96, "max", 0, 2), "4a": (224, 64, 96, 96, 128, "avg", 128, 1),
        "4b": (192, 96, 128, 96, 128, "avg", 128, 1), "4c": (160, 128, 160, 128, 160, "avg", 128, 1),
        "4d": (96, 128, 192, 160, 192, "avg", 128, 1), "4e": (0, 128, 192, 192, 256, "max", 0, 2),
        "5a": (352, 192, 320, 160, 224, "avg", 128, 1), "5b": (352, 192, 320, 192, 224, "max", 128, 1),
    }

    def __init__(self, cfg: Config):
        super().__init__()
        n = cfg.norm
        self.stem = nn.Sequential(
            ConvBN(cfg.in_channels, 64, 7, 2, n), nn.MaxPool2d(3, 2, padding=1),  # (B, 64, 56, 56)
            ConvBN(64, 64, 1, norm=n), ConvBN(64, 192, 3, norm=n),  # (B, 192, 56, 56)
            nn.MaxPool2d(3, 2, padding=1))  # (B, 192, 28, 28)
        c, blocks = 192, {}
        for name, (*widths, pool, proj, stride) in self.rows.items():
            if name in ("4c", "4d"):
                proj = cfg.pool_proj_4cd
            blocks[name] = Inception(c, *widths, pool, proj, stride, norm=n)
            c = blocks[name].out_channels
        self.inception = nn.Sequential(OrderedDict(blocks))  # (B, 1024, 7, 7)
        self.fc = nn.Linear(c, cfg.num_classes)

    def forward(self, x):  # (B, C, H, W)
        x = self.inception(self.stem(x))  # (B, 1024, H/32, W/32)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))  # (B, K)


class ConvNet(nn.Module):
    """The miniature: 3x3 conv (-> BN) -> ReLU layers, global average pool, linear classifier."""

    def __init__(self, cfg: Config):
        super().__init__()
        c, layers = cfg.in_channels, []
        for w, s in zip(cfg.widths, cfg.strides, strict=True):
            layers.append(ConvBN(c, w, 3, s, cfg.norm))
            c = w
        self.features, self.fc = nn.Sequential(*layers), nn.Linear(c, cfg.num_classes)

    def forward(self, x):  # (B, C, H, W)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))  # (B, K)


def build_model(cfg: Config) -> nn.Module:
    model = BNInception(cfg) if cfg.arch == "bn-inception" else ConvNet(cfg)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):  # He init for both nets: the control is not starved
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return model


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # BN-Inception: 11,285,224
    "mini": Config(dataset="mnist5k", arch="convnet", image_size=28, in_channels=1,
                   num_classes=10, steps=500, batch_size=32, lr=0.3, weight_decay=0.0,
                   compare_lrs=(0.3, 0.1, 0.03)),  # 72,666 with BN, 72,442 without
    "tiny": Config(dataset="mnist5k", arch="convnet", image_size=28, in_channels=1,
                   num_classes=10, widths=(4, 8), strides=(2, 2), steps=3, batch_size=8,
                   lr=0.1),
}


def lr_label(lr: float) -> str:
    return f"{lr:g}"


def variants(cfg: Config) -> dict[str, Config]:
    """`bn-lr<cfg.lr>` and `plain-lr<r>` (no BN) for each rate r in `compare_lrs`; else `main`."""
    base = dataclasses.replace(cfg, compare_lrs=())
    if not cfg.compare_lrs:
        return {"main": base}
    if cfg.lr not in cfg.compare_lrs:
        raise ConfigError("compare_lrs must contain lr (the no-BN net at BN's rate)")
    out = {f"bn-lr{lr_label(cfg.lr)}": base}
    for lr in cfg.compare_lrs:
        out[f"plain-lr{lr_label(lr)}"] = dataclasses.replace(base, norm=False, lr=lr)
    return out


# --- data ----------------------------------------------------------------------------------


def mnist_split():
    xtr, ytr, xte, yte = D.mnist_5k()
    return D.standardize(xtr, "mnist"), ytr, D.standardize(xte, "mnist"), yte  # (N, 1, 28, 28)


def build_data(cfg: Config):
    if cfg.dataset == "mnist5k":
        xtr, ytr, xte, yte = mnist_split()
        return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), {"test": (xte, yte)}
    if cfg.data_root is None:
        raise ConfigError("the ImageNet preset needs --set data_root=DIR holding train/ and val/")
    train, val = D.image_folder_loaders(cfg.data_root, cfg.batch_size, cfg.seed, cfg.image_size)
    return train, {"test": val}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on the pixels of the MNIST-5k split the nets see."""
    if cfg.dataset != "mnist5k":
        return {}
    xtr, ytr, xte, yte = mnist_split()
    return B.pixel_baselines(xtr, ytr, xte, yte)


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """SGD with momentum (Sec. 4.2), the rate decayed linearly to 0 (see Deviations)."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / cfg.steps)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(-1) == y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    m = D.classification_metrics(model, eval_data["test"])
    return {"test_accuracy": m["accuracy"], "test_loss": m["loss"]}


def curve_metrics(rows: list[dict], cfg: Config) -> dict[str, float]:
    """`steps_to_target`: the first logged step at which the mean training accuracy of the last
    `smooth` logged batches reaches `target_accuracy` (Fig. 3's "steps to match"), or
    steps + 1 if it never does (so a ratio with it is a lower bound); `final_train_accuracy`:
    that mean at the end."""
    acc = [r["accuracy"] for r in rows]
    means = [sum(acc[max(0, i + 1 - cfg.smooth):i + 1]) / min(i + 1, cfg.smooth)
             for i in range(len(acc))]
    hit = next((r["step"] for r, a in zip(rows, means, strict=True)
                if a >= cfg.target_accuracy), cfg.steps + 1)
    return {"steps_to_target": hit, "reached_target": float(hit <= cfg.steps),
            "final_train_accuracy": means[-1] if means else float("nan")}


# --- figures -------------------------------------------------------------------------------


def figures(out_dir, cfg: Config, models, metrics) -> list[dict]:
    """Fig. 2 in miniature: smoothed training accuracy per step of every variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reproductions.common.runner import training_curve

    if not cfg.compare_lrs:
        return []
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for v in variants(cfg):
        rows = training_curve(out_dir.parent, v)
        acc = [r["accuracy"] for r in rows]
        smooth = [sum(acc[max(0, i + 1 - cfg.smooth):i + 1]) / min(i + 1, cfg.smooth)
                  for i in range(len(acc))]
        ax.plot([r["step"] for r in rows], smooth, label=v)
    ax.axhline(cfg.target_accuracy, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="step", ylabel="training accuracy (smoothed)", ylim=(0, 1))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "accuracy_vs_steps.png", dpi=100)
    plt.close(fig)
    return [{"file": "accuracy_vs_steps.png", "paper_figure": "Fig. 2",
             "caption": "Training accuracy (mean of the last logged batches) per step on "
             "MNIST-5k: the CNN with BN at a high rate, and without BN at that rate and at lower "
             "rates; the dashed line is the target whose first step Fig. 3 counts."}]


# --- claims --------------------------------------------------------------------------------


def _bn(m):
    return next(v for v in m if v.startswith("bn-lr"))


def _plain_same(m):
    return "plain-lr" + _bn(m)[len("bn-lr"):]


def _plain_best(m):
    """The no-BN variant that reaches the target first (its best rate of the grid)."""
    names = [v for v in m if v.startswith("plain-lr")]
    if not names:
        raise KeyError("plain-lr*")
    return min(names, key=lambda v: (m[v]["steps_to_target"], -m[v]["final_train_accuracy"]))


def _steps(m, v):
    return m[v]["steps_to_target"]


def _acc(m, v):
    return m[v]["test_accuracy"]


CLAIMS = [
    Claim(
        id="higher-learning-rate",
        text="The CNN with BN trains at a learning rate at which the same CNN without BN does "
        "not train at all: its test accuracy is at least 0.5 higher.",
        paper="BN enables higher learning rates (Sec. 3.3); BN-x5 and BN-x30 train at 5x and 30x "
        "Inception's rate",
        source="Sec. 3.3, Sec. 4.2.1-4.2.2",
        margins=lambda m: {_plain_same(m): _acc(m, _bn(m)) - _acc(m, _plain_same(m)) - 0.5},
        measured=lambda m: f"test accuracy at lr {_bn(m)[5:]}: with BN {_acc(m, _bn(m)):.3f}, "
        f"without {_acc(m, _plain_same(m)):.3f}",
    ),
    Claim(
        id="fewer-steps",
        text="With BN at its high rate the CNN reaches 95% training accuracy in at most 1/1.3 of "
        "the steps the CNN without BN needs at its best rate of the grid.",
        paper="BN-x5 reaches Inception's 72.2% in 2.1M steps, Inception in 31.0M (14x fewer); "
        "BN-Baseline in 13.3M",
        source="Fig. 2, Fig. 3",
        margins=lambda m: {_plain_best(m): _steps(m, _plain_best(m)) / _steps(m, _bn(m)) - 1.3},
        measured=lambda m: "steps to 95% training accuracy: " + ", ".join(
            f"{v} {_steps(m, v):.0f}" for v in m if v.startswith(("bn-lr", "plain-lr")))
        + f" (best without BN: {_plain_best(m)})",
    ),
    Claim(
        id="accuracy",
        text="The BN net's test accuracy beats 1-NN and logistic regression on pixels by at "
        "least 0.01 and is within 0.01 of the no-BN net at its best rate (BN does not buy speed "
        "with accuracy).",
        paper="BN-x5 max accuracy 73.0%, Inception 72.2% (single crop, ImageNet val)",
        source="Fig. 3",
        margins=lambda m: {
            "1-NN pixels": _acc(m, _bn(m)) - _acc(m, "1-NN pixels") - 0.01,
            "logistic regression pixels":
                _acc(m, _bn(m)) - _acc(m, "logistic regression pixels") - 0.01,
            _plain_best(m): _acc(m, _bn(m)) - _acc(m, _plain_best(m)) + 0.01},
        measured=lambda m: f"BN {_acc(m, _bn(m)):.3f}, best no-BN "
        f"{_acc(m, _plain_best(m)):.3f}, 1-NN {_acc(m, '1-NN pixels'):.3f}, logistic "
        f"regression {_acc(m, 'logistic regression pixels'):.3f}",
    ),
    Claim(
        id="imagenet-steps",
        text="BN-Inception (BN-x5) matches Inception's 72.2% top-1 in 14x fewer steps and ends "
        "higher (73.0%); BN-x30 reaches 74.8%.",
        paper="Inception 72.2% at 31.0M steps; BN-x5 72.2% at 2.1M, max 73.0%; BN-x30 74.8%",
        source="Fig. 3",
        needs="preset paper (and --set lr=0.045 for BN-x30), ImageNet-1k train/val (data_root); "
        "the Inception control needs --set norm=False with lr=0.0015, dropout and LRN",
    ),
    Claim(
        id="ensemble-top5",
        text="An ensemble of six BN-Inception networks reaches 4.9% top-5 validation error.",
        paper="4.9% top-5 validation error, 4.82% test (ensemble of 6, multi-crop)",
        source="Fig. 4 (Sec. 4.2.3): the paper sets this table as a figure",
        needs="six paper-preset networks trained on ImageNet-1k with multi-crop evaluation",
    ),
]
