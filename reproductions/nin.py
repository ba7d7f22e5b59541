"""Network In Network (Lin, Chen, Yan, 2014): mlpconv layers and global average pooling.

https://arxiv.org/abs/1312.4400

An mlpconv layer slides a small multilayer perceptron over the input instead of a linear filter
(Sec. 3.1, Eq. 2): a k x k convolution followed by 1x1 convolutions, each with a ReLU (the
"cascaded cross channel parametric pooling" of Sec. 3.2). The last mlpconv layer produces one
feature map per class and global average pooling replaces the fully connected classifier
(Sec. 3.2): no parameters to fit, so "overfitting is avoided at this layer", and each map is a
confidence map of its class.

Presets: `paper` = the CIFAR-10 NIN: three mlpconv layers with the widths of the authors' Caffe
model (the paper gives none): 5x5 conv 192 -> 1x1 160 -> 1x1 96, 3x3/2 max pool, dropout;
5x5 conv 192 -> 1x1 192 -> 1x1 192, 3x3/2 average pool, dropout; 3x3 conv 192 -> 1x1 192 ->
1x1 10, global average pooling: 966,986 parameters. `mini`: Table 5's comparison on the
5,000-image MNIST subset at 1/8 width: the global-average-pooling head against a fully
connected head on the same mlpconv layers (without dropout, as Table 5's "mlpconv + Fully
Connected"), and the same net with plain convolutions instead of mlpconv (the 1x1 layers
removed), plus pixel baselines.

Deviations from the paper:
- Widths, pooling and dropout follow the authors' released Caffe model; no local response
  normalisation, no ZCA whitening or data augmentation; initialisation is He-normal rather than
  Caffe's Gaussian(0.05 / 0.01), and the learning rate drops by 10 at fixed fractions of
  training instead of when the validation accuracy stops improving (Sec. 4.1, "from [AlexNet]").
- `mini`: 28x28 digits, widths divided by 8 (24 / 20 / 12 and 24 channels), no dropout (at this
  width it kept the net near 0.84 in 600 steps), 600 steps at batch 64, lr 0.05; its fully
  connected control has one hidden layer of 256 units on the last mlpconv layer's 24 maps, as
  the paper's "mlpconv + FC" replaces only the head, and trains at lr 0.02 (at 0.05 its 300k-
  parameter head stayed at chance), each net at a learning rate where it trains.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Literal

import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError
from reproductions.common.trainer import sgd_with_drops

PAPER = "nin"

# The authors' CIFAR-10 model: per mlpconv layer, (kernel, widths of the conv and its 1x1 layers);
# the last layer's last width is the number of classes K (one map per class, Sec. 3.2).
MLPCONV = ((5, (192, 160, 96)), (5, (192, 192, 192)), (3, (192, 192, 0)))


# --- blocks --------------------------------------------------------------------------------


class MLPConv(nn.Module):
    """Eq. 2: f^1 = relu(W^1 x + b^1) over a k x k patch, then f^n = relu(W^n f^{n-1} + b^n)
    for the 1x1 layers: an MLP shared by every position (`mlp=False`: the k x k conv alone)."""

    def __init__(self, c_in: int, kernel: int, widths: tuple[int, ...], relu_last: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        for i, width in enumerate(widths):
            k = kernel if i == 0 else 1  # Sec. 3.2: the 1x1 layers pool across channels
            layers.append(nn.Conv2d(c_in, width, k, padding=k // 2))
            if relu_last or i < len(widths) - 1:
                layers.append(nn.ReLU(inplace=True))
            c_in = width
        self.layers = nn.Sequential(*layers)

    def forward(self, x):  # (B, C_in, H, W)
        return self.layers(x)  # (B, widths[-1], H, W)


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 60_000  # not stated; ~120 epochs of CIFAR-10 at batch 100 (Caffe model: 120k)
    batch_size: int = 128  # not stated; the Caffe model uses 128
    lr: float = 0.1
    momentum: float = 0.9  # Caffe solver
    weight_decay: float = 1e-4  # Caffe solver
    lr_drops: tuple[float, ...] = (0.5, 0.75)  # fractions of training where lr /= 10
    data_root: str | None = None  # real data: CIFAR-10's folder or MNIST's
    download: bool = False  # let torchvision download the data into data_root
    dataset: Literal["cifar10", "mnist", "mnist5k"] = "cifar10"
    image_size: int = 32
    in_channels: int = 3
    num_classes: int = 10
    width_divisor: int = 1  # every width of MLPCONV divided by this (the class maps stay K)
    mlp: bool = True  # False: plain convolutions (each mlpconv layer's 1x1 layers removed)
    head: Literal["gap", "fc"] = "gap"  # Sec. 3.2 / Table 5: global average pooling or FC
    fc_dim: int = 256  # head=fc: the hidden layer of the fully connected head
    fc_lr: float | None = None  # compare_fc: the FC control's learning rate (None: lr)
    dropout: float = 0.5  # Sec. 4.1: dropout on the outputs of all but the last mlpconv layer
    compare_fc: bool = False  # mini: also train the fully connected head (Table 5)
    compare_conv: bool = False  # mini: also train plain convolutions instead of mlpconv


# --- model ---------------------------------------------------------------------------------


class NIN(nn.Module):
    """Three mlpconv layers (pooling and dropout between them) -> global average pooling of one
    map per class (`head="gap"`), or -> flatten -> FC -> ReLU -> FC (`head="fc"`)."""

    def __init__(self, cfg: Config):
        super().__init__()
        c, side, blocks = cfg.in_channels, cfg.image_size, []
        for i, (kernel, widths) in enumerate(MLPCONV):
            last = i == len(MLPCONV) - 1
            widths = tuple(w // cfg.width_divisor for w in widths[:-1]) if last else \
                tuple(w // cfg.width_divisor for w in widths)
            if last:  # GAP: one feature map per category (Sec. 3.2); FC: keep the width
                widths = (*widths, cfg.num_classes if cfg.head == "gap" else widths[-1])
            if not cfg.mlp:  # the k x k convolution alone (the class maps for GAP)
                widths = (widths[-1],) if last else widths[:1]
            blocks.append(MLPConv(c, kernel, widths, relu_last=not (last and cfg.head == "gap")))
            c = widths[-1]
            if not last:  # Caffe model: 3x3/2 max pool, then 3x3/2 average pool; dropout
                pool = nn.MaxPool2d if i == 0 else nn.AvgPool2d
                blocks += [pool(3, stride=2, ceil_mode=True), nn.Dropout(cfg.dropout)]
                side = -(-(side - 3) // 2) + 1
        self.features = nn.Sequential(*blocks)
        if cfg.head == "gap":
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # Sec. 3.2: no parameters
        else:  # Table 5's "mlpconv + Fully Connected"
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(c * side * side, cfg.fc_dim),
                                      nn.ReLU(inplace=True), nn.Linear(cfg.fc_dim, cfg.num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):  # (B, C, H, W)
        return self.head(self.features(x))  # (B, K, H', W') -> (B, K)


def build_model(cfg: Config) -> NIN:
    return NIN(cfg)


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # CIFAR-10 NIN: 966,986
    "mini": Config(
        dataset="mnist5k", image_size=28, in_channels=1, width_divisor=8, dropout=0.0,
        steps=600, batch_size=64, lr=0.05, fc_lr=0.02, lr_drops=(0.75,), weight_decay=5e-4,
        compare_fc=True, compare_conv=True),
    "tiny": Config(dataset="mnist5k", image_size=28, in_channels=1, width_divisor=24, steps=3,
                   batch_size=16),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`main`; `fc`: the same mlpconv layers with a fully connected head and no dropout (Table
    5's "mlpconv + Fully Connected"); `conv`: plain convolutions with the GAP head."""
    base = dataclasses.replace(cfg, compare_fc=False, compare_conv=False)
    runs = {"main": base}
    if cfg.compare_fc:
        runs["fc"] = dataclasses.replace(base, head="fc", dropout=0.0, lr=cfg.fc_lr or cfg.lr)
    if cfg.compare_conv:
        runs["conv"] = dataclasses.replace(base, mlp=False)
    return runs


# --- data ----------------------------------------------------------------------------------

N_TRAIN_EVAL = 1000  # training images evaluated for the train/test gap (as many as test images)


@functools.lru_cache(maxsize=1)  # read once per run, not once per variant
def _split(dataset: str, data_root: str | None, download: bool):
    if dataset == "mnist5k":
        xtr, ytr, xte, yte = D.mnist_5k(seed=0)
        return D.standardize(xtr, "mnist"), ytr, D.standardize(xte, "mnist"), yte
    if data_root is None:
        raise ConfigError(f"dataset={dataset} needs --set data_root=DIR (its torchvision folder)")
    xtr, ytr = D.real_images(dataset, data_root, train=True, download=download)
    xte, yte = D.real_images(dataset, data_root, train=False, download=download)
    return D.standardize(xtr, dataset), ytr, D.standardize(xte, dataset), yte


def build_data(cfg: Config):
    """`(train_loader, {"test": ..., "train": ...})`; `train` is the first `N_TRAIN_EVAL`
    training images, to measure the train/test gap (Sec. 3.2: GAP "is itself a structural
    regularizer")."""
    xtr, ytr, xte, yte = _split(cfg.dataset, cfg.data_root, cfg.download)
    train = D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed)
    return train, {"test": (xte, yte), "train": (xtr[:N_TRAIN_EVAL], ytr[:N_TRAIN_EVAL])}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on the pixels of the variants' split (MNIST-5k only)."""
    if cfg.dataset != "mnist5k":
        return {}
    xtr, ytr, xte, yte = _split(cfg.dataset, cfg.data_root, cfg.download)
    return B.pixel_baselines(xtr, ytr, xte, yte)


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """SGD with momentum and weight decay (Sec. 4.1 follows AlexNet's recipe); lr / 10 at each
    of `lr_drops`."""
    return sgd_with_drops(model, cfg, cfg.lr_drops)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(-1) == y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Accuracy and cross-entropy on the test and training images; the head's parameters."""
    out = {}
    for split, data in eval_data.items():
        m = D.classification_metrics(model, data)
        out |= {f"{split}_accuracy": m["accuracy"], f"{split}_loss": m["loss"]}
    out["head_parameters"] = sum(p.numel() for p in model.head.parameters())
    out["parameters"] = sum(p.numel() for p in model.parameters())
    return out


# --- claims --------------------------------------------------------------------------------


def _acc(m, v):
    return m[v]["test_accuracy"]


def _gap(m, v):
    return m[v]["test_loss"] - m[v]["train_loss"]


CLAIMS = [
    Claim(
        id="gap-head-regularises",
        text="Global average pooling has no parameters where the fully connected head of the "
        "same mlpconv layers has thousands, and its net overfits less: a smaller test minus "
        "train cross-entropy (1,000 images each).",
        paper="CIFAR-10 test error: mlpconv + GAP 10.41%, mlpconv + FC 11.59%, "
        "mlpconv + FC + dropout 10.88%; GAP 'is itself a structural regularizer'",
        source="Sec. 3.2, Sec. 4.6, Table 5",
        margins=lambda m: {"fc": _gap(m, "fc") - _gap(m, "main"),
                           "fc head parameters": m["fc"]["head_parameters"]
                           - m["main"]["head_parameters"] - 1000},
        measured=lambda m: f"test - train cross-entropy: GAP {_gap(m, 'main'):.3f}, FC "
        f"{_gap(m, 'fc'):.3f}; head parameters {m['main']['head_parameters']:.0f} vs "
        f"{m['fc']['head_parameters']:.0f}; test accuracy {_acc(m, 'main'):.3f} vs "
        f"{_acc(m, 'fc'):.3f}",
    ),
    Claim(
        id="beats-pixel-baselines",
        text="The NIN with its global-average-pooling head is more accurate on the 1,000 test "
        "digits than 1-NN and logistic regression on the same pixels.",
        paper="NIN: 0.47% MNIST test error, 10.41% CIFAR-10 (without augmentation)",
        source="Table 1, Table 4",
        margins=lambda m: {b: _acc(m, "main") - _acc(m, b)
                           for b in ("1-NN pixels", "logistic regression pixels")},
        measured=lambda m: f"test accuracy {_acc(m, 'main'):.3f}; 1-NN "
        f"{_acc(m, '1-NN pixels'):.3f}, logistic regression "
        f"{_acc(m, 'logistic regression pixels'):.3f}",
    ),
    Claim(
        id="mlpconv-beats-conv",
        text="mlpconv layers (a k x k convolution followed by two 1x1 layers) are more accurate "
        "than plain k x k convolutions with the same global-average-pooling head. Not expected "
        "in miniature: on 28x28 digits at 1/8 width in 600 steps the two are often level (0.948 "
        "each at lr 0.02; -0.001 on one seed at lr 0.05) and the plain net's wins come from its "
        "runs that train badly at lr 0.05; the paper's gain is on CIFAR-10 at 192 wide.",
        paper="NIN 10.41% vs a CNN of comparable depth with GAP ... (Table 5: GAP on a plain "
        "CNN is 'less effective'); Sec. 3.1: mlpconv abstracts better than a linear filter",
        source="Sec. 3.1, Sec. 4.6",
        margins=lambda m: {"conv": _acc(m, "main") - _acc(m, "conv")},
        expected=False,
        measured=lambda m: f"test accuracy mlpconv {_acc(m, 'main'):.3f}, plain conv "
        f"{_acc(m, 'conv'):.3f}",
    ),
    Claim(
        id="cifar10-error",
        text="NIN reaches 10.41% test error on CIFAR-10 without data augmentation (8.81% with).",
        paper="NIN + Dropout 10.41%; NIN + Dropout + Data Augmentation 8.81%",
        source="Table 1",
        needs="preset paper, CIFAR-10 (data_root)",
    ),
]
