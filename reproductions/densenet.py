"""Densely Connected Convolutional Networks (Huang, Liu, van der Maaten, Weinberger, CVPR 2017).

https://arxiv.org/abs/1608.06993

Inside a dense block the l-th layer sees the concatenation of all earlier feature maps,
x_l = H_l([x_0, x_1, ..., x_{l-1}]) (Eq. 2), and adds k new ones (the growth rate, Sec. 3).
H_l is BN-ReLU-Conv(3x3); DenseNet-B puts a BN-ReLU-Conv(1x1) bottleneck with 4k outputs first,
DenseNet-C lets the transition layers between blocks (BN, 1x1 conv, 2x2 average pool) keep only
a fraction theta = 0.5 of the channels, and DenseNet-BC does both (Sec. 3, "Compression").
The claim of Sec. 4.3 / Fig. 4: DenseNets reach a ResNet's accuracy with far fewer parameters
("a DenseNet-BC with 0.8M parameters is as accurate as a 1001-layer pre-activation ResNet with
10.2M", Fig. 4 right).

Presets: `paper` = DenseNet-121 (ImageNet, k=32, blocks 6-12-24-16: 7,978,856 parameters,
torchvision's `densenet121`, whose weights load unchanged), `densenet169` (14,149,480),
`densenet201` (20,013,928), `densenet161` (k=48: 28,681,000); `cifar-bc100`: the CIFAR-10
DenseNet-BC with L=100, k=12 of Table 2 (769,162; "0.8M"); `mini`: Fig. 4 in miniature on
MNIST-5k downsampled to 14x14: a DenseNet-BC (L=28, k=8: 46,362 parameters) against
`reproductions.resnet`'s CIFAR-style ResNet-14 (widths 12/24/48: 97,198, 2.1x more), same SGD
recipe and steps, plus 1-NN and logistic regression on the same pixels; `tiny`.

Deviations from the paper:
- `mini` trains 400 steps (batch 64, ~6 epochs) on 4,000 MNIST digits averaged down to 14x14
  instead of 300 epochs on CIFAR; the nets are far smaller (L=28, k=8). It shows the parameter
  efficiency at equal accuracy, not CIFAR error rates. The ResNet control is the original
  (post-activation) ResNet with option A shortcuts of He et al. Sec. 4.2, trained with the
  DenseNet recipe (Sec. 4.2: SGD, Nesterov momentum 0.9, weight decay 1e-4, lr 0.1 divided by
  10 at 50% and 75% of training) so that only the architecture differs.
- No dropout (the paper uses 0.2 only on C10/C100/SVHN without augmentation).
- ImageNet augmentation is torchvision's RandomResizedCrop; no 10-crop testing (Table 3 uses
  single-crop and 10-crop).
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions import resnet
from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError
from reproductions.common.trainer import sgd_with_drops

PAPER = "densenet"


# --- blocks --------------------------------------------------------------------------------


class DenseLayer(nn.Module):
    """H_l (Sec. 3, "Composite function" and "Bottleneck layers"): BN-ReLU-Conv(1x1, 4k)-
    BN-ReLU-Conv(3x3, k) for DenseNet-B, BN-ReLU-Conv(3x3, k) without the bottleneck. Names
    follow torchvision (`norm1, conv1, norm2, conv2`)."""

    def __init__(self, c_in: int, cfg: Config):
        super().__init__()
        k, c_mid = cfg.growth_rate, cfg.bn_size * cfg.growth_rate
        if cfg.bottleneck:
            self.norm1, self.relu1 = nn.BatchNorm2d(c_in), nn.ReLU(inplace=True)
            self.conv1 = nn.Conv2d(c_in, c_mid, 1, bias=False)
            c_in = c_mid
        self.norm2, self.relu2 = nn.BatchNorm2d(c_in), nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_in, k, 3, padding=1, bias=False)
        self.drop_rate = cfg.drop_rate

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)  # (B, c_0 + l k, H, W): [x_0, ..., x_{l-1}] (Eq. 2)
        if hasattr(self, "conv1"):
            x = self.conv1(self.relu1(self.norm1(x)))  # (B, 4k, H, W)
        x = self.conv2(self.relu2(self.norm2(x)))  # (B, k, H, W)
        return F.dropout(x, self.drop_rate, self.training) if self.drop_rate else x


class DenseBlock(nn.ModuleDict):
    """`n` dense layers; returns all their outputs and the block's input, concatenated."""

    def __init__(self, n: int, c_in: int, cfg: Config):
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", DenseLayer(c_in + i * cfg.growth_rate, cfg))

    def forward(self, x):  # (B, c_0, H, W)
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)  # (B, c_0 + n k, H, W)


class Transition(nn.Sequential):
    """Between blocks (Sec. 3, "Pooling layers"): BN, ReLU, 1x1 conv to floor(theta m)
    channels (compression), 2x2 average pool."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(OrderedDict(norm=nn.BatchNorm2d(c_in), relu=nn.ReLU(inplace=True),
                                     conv=nn.Conv2d(c_in, c_out, 1, bias=False),
                                     pool=nn.AvgPool2d(2, 2)))


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 450_000  # Sec. 4.2: ImageNet 90 epochs at batch 256
    batch_size: int = 256  # Sec. 4.2: 64 on CIFAR and SVHN, 256 on ImageNet
    lr: float = 0.1  # Sec. 4.2: SGD from 0.1, divided by 10 at 50% and 75% (CIFAR)
    momentum: float = 0.9  # Sec. 4.2: Nesterov momentum 0.9 without dampening
    weight_decay: float = 1e-4  # Sec. 4.2
    data_root: str | None = None  # real data: an ImageFolder (train/, val/) or CIFAR-10's folder
    download: bool = False  # let torchvision download CIFAR-10 into data_root
    dataset: Literal["imagenet", "cifar10", "mnist5k"] = "imagenet"
    stem: Literal["imagenet", "cifar"] = "imagenet"  # 7x7/2 conv + 3x3/2 max pool, or one 3x3 conv
    growth_rate: int = 32  # k (Sec. 3); Table 1: 32 for DenseNet-121/169/201
    block_config: tuple[int, ...] = (6, 12, 24, 16)  # dense layers per block (Table 1)
    num_init_features: int = 64  # Sec. 3: 2k output channels of the first convolution
    bn_size: int = 4  # "each 1x1 convolution produce[s] 4k feature-maps" (Sec. 3)
    bottleneck: bool = True  # DenseNet-B
    compression: float = 0.5  # theta (Sec. 3): 1.0 = no compression (DenseNet without C)
    drop_rate: float = 0.0  # Sec. 4.2: 0.2 after each conv only without data augmentation
    in_channels: int = 3
    num_classes: int = 1000
    image_size: int = 14  # mnist5k: images averaged down from 28x28 to this size
    arch: Literal["densenet", "resnet"] = "densenet"  # resnet: the control of Fig. 4
    resnet_widths: tuple[int, ...] = (16, 32, 64)  # arch=resnet: planes per stage (CIFAR-style)
    resnet_layers: tuple[int, ...] = (2, 2, 2)  # arch=resnet: blocks per stage (ResNet-14)
    compare_resnet: bool = False  # mini: also train the ResNet control in the same run


# --- model ---------------------------------------------------------------------------------


class DenseNet(nn.Module):
    """Stem, dense blocks joined by transitions, BN-ReLU, global average pool, linear. Names
    follow torchvision (`features.conv0 ... features.norm5`, `classifier`), so its
    `densenet121/161/169/201` state_dicts load unchanged."""

    def __init__(self, cfg: Config):
        super().__init__()
        if not 0 < cfg.compression <= 1:
            raise ConfigError("compression (theta) must be in (0, 1]")
        c = cfg.num_init_features
        if cfg.stem == "imagenet":  # Table 1: 7x7 conv, stride 2; 3x3 max pool, stride 2
            stem = [("conv0", nn.Conv2d(cfg.in_channels, c, 7, 2, 3, bias=False)),
                    ("norm0", nn.BatchNorm2d(c)), ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(3, 2, 1))]
        else:  # Sec. 3, "Implementation Details": one 3x3 conv with 16 (or 2k for BC) outputs
            stem = [("conv0", nn.Conv2d(cfg.in_channels, c, 3, padding=1, bias=False))]
        self.features = nn.Sequential(OrderedDict(stem))
        for i, n in enumerate(cfg.block_config):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(n, c, cfg))
            c += n * cfg.growth_rate
            if i < len(cfg.block_config) - 1:
                c_out = math.floor(cfg.compression * c)  # theta m (Sec. 3, "Compression")
                self.features.add_module(f"transition{i + 1}", Transition(c, c_out))
                c = c_out
        self.features.add_module(f"norm{len(cfg.block_config) + 1}", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, cfg.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He init, as the authors' Torch code
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x):  # (B, C, H, W)
        x = F.relu(self.features(x))  # (B, C_last, H', W')
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))  # (B, K)


def build_model(cfg: Config) -> nn.Module:
    """The DenseNet, or for `arch="resnet"` the control: `reproductions.resnet.ResNet` with the
    CIFAR 3x3 stem and option A shortcuts (He et al., Sec. 4.2)."""
    if cfg.arch == "resnet":
        return resnet.ResNet(resnet.Config(
            widths=cfg.resnet_widths, layers=cfg.resnet_layers, in_channels=cfg.in_channels,
            num_classes=cfg.num_classes, stem="cifar", shortcut="A"))
    return DenseNet(cfg)


# --- presets -------------------------------------------------------------------------------

_CIFAR = Config(dataset="cifar10", stem="cifar", growth_rate=12, block_config=(16, 16, 16),
                num_init_features=24, num_classes=10, batch_size=64, steps=234_300)  # 300 epochs
PRESETS = {
    "paper": Config(),  # DenseNet-121: 7,978,856
    "densenet169": Config(block_config=(6, 12, 32, 32)),  # 14,149,480
    "densenet201": Config(block_config=(6, 12, 48, 32)),  # 20,013,928
    "densenet161": Config(growth_rate=48, block_config=(6, 12, 36, 24),
                          num_init_features=96),  # 28,681,000
    "cifar-bc100": _CIFAR,  # DenseNet-BC L=100, k=12: 769,162 (Table 2: 0.8M)
    "mini": Config(dataset="mnist5k", stem="cifar", growth_rate=8, block_config=(4, 4, 4),
                   num_init_features=16, in_channels=1, num_classes=10, batch_size=64,
                   steps=400, resnet_widths=(12, 24, 48),
                   compare_resnet=True),  # L=28, k=8: 46,362 vs ResNet-14 97,198
    "tiny": Config(dataset="mnist5k", stem="cifar", growth_rate=4, block_config=(1, 1),
                   num_init_features=8, in_channels=1, num_classes=10, batch_size=16, steps=3),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`densenet` and, with `compare_resnet`, `resnet`: the same data, steps and recipe."""
    base = dataclasses.replace(cfg, compare_resnet=False)
    if not cfg.compare_resnet:
        return {"main": base}
    return {"densenet": base, "resnet": dataclasses.replace(base, arch="resnet")}


# --- data ----------------------------------------------------------------------------------


def tensor_split(cfg: Config):
    """`(x_train, y_train, x_test, y_test)` of MNIST-5k (averaged down to `image_size`) or
    CIFAR-10, standardised; the split every variant and baseline of a run sees."""
    if cfg.dataset == "mnist5k":
        xtr, ytr, xte, yte = D.mnist_5k(seed=0)
        xtr, xte = (F.adaptive_avg_pool2d(x, cfg.image_size) for x in (xtr, xte))  # (N, 1, s, s)
        return D.standardize(xtr, "mnist"), ytr, D.standardize(xte, "mnist"), yte
    if cfg.data_root is None:
        raise ConfigError("the CIFAR-10 preset needs --set data_root=DIR (CIFAR-10's folder)")
    xtr, ytr = D.real_images("cifar10", cfg.data_root, train=True, download=cfg.download)
    xte, yte = D.real_images("cifar10", cfg.data_root, train=False, download=cfg.download)
    return D.standardize(xtr, "cifar10"), ytr, D.standardize(xte, "cifar10"), yte


def build_data(cfg: Config):
    if cfg.dataset == "imagenet":
        return D.imagenet_data(cfg)
    xtr, ytr, xte, yte = tensor_split(cfg)
    augment = D.random_crop_flip if cfg.dataset == "cifar10" else None  # Sec. 4.1, C10+
    return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed, augment=augment), \
        {"test": (xte, yte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on the very pixels the nets see (MNIST-5k only)."""
    if cfg.dataset != "mnist5k":
        return {}
    xtr, ytr, xte, yte = tensor_split(cfg)
    return B.pixel_baselines(xtr, ytr, xte, yte)


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """SGD, Nesterov momentum 0.9, weight decay 1e-4; lr / 10 at 50% and 75% (Sec. 4.2)."""
    return sgd_with_drops(model, cfg, nesterov=True)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(-1) == y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    m = D.classification_metrics(model, eval_data["test"])
    params = sum(p.numel() for p in model.parameters())
    return {"test_accuracy": m["accuracy"], "test_loss": m["loss"], "parameters": params}


# --- claims --------------------------------------------------------------------------------


def _acc(m, v):
    return m[v]["test_accuracy"]


def _params(m, v):
    return m[v]["parameters"]


CLAIMS = [
    Claim(
        id="parameter-efficiency",
        text="A DenseNet-BC with at most half a ResNet's parameters is as accurate (test "
        "accuracy no more than 0.01 below it: 10 of 1,000 test digits, about two standard "
        "errors), trained the same way in the same run, and beats 1-NN and logistic regression "
        "on the same pixels by at least 0.01.",
        paper="DenseNet-BC (0.8M) 4.51% C10+ error vs pre-act ResNet-1001 (10.2M) 4.62%; "
        "DenseNets need about 1/3 of a ResNet's parameters for the same accuracy",
        source="Sec. 4.3, Fig. 4 (middle, right), Table 2",
        margins=lambda m: {
            "resnet": _acc(m, "densenet") - _acc(m, "resnet") + 0.01,
            "resnet parameters": _params(m, "resnet") / _params(m, "densenet") - 2.0,
            "1-NN pixels": _acc(m, "densenet") - _acc(m, "1-NN pixels") - 0.01,
            "logistic regression pixels":
                _acc(m, "densenet") - _acc(m, "logistic regression pixels") - 0.01},
        measured=lambda m: f"DenseNet-BC {_acc(m, 'densenet'):.3f} "
        f"({_params(m, 'densenet'):,.0f} params), ResNet {_acc(m, 'resnet'):.3f} "
        f"({_params(m, 'resnet'):,.0f}), 1-NN {_acc(m, '1-NN pixels'):.3f}, "
        f"logistic regression {_acc(m, 'logistic regression pixels'):.3f}",
    ),
    Claim(
        id="cifar10-error",
        text="DenseNet-BC (L=100, k=12) reaches 4.51% test error on CIFAR-10 with standard "
        "augmentation.",
        paper="4.51% C10+ error, 0.8M parameters",
        source="Table 2",
        needs="preset cifar-bc100, CIFAR-10 (data_root)",
    ),
    Claim(
        id="imagenet-top1",
        text="DenseNet-121 reaches 25.02% top-1 error on ImageNet val (single crop).",
        paper="top-1 25.02% / top-5 7.71% (single-crop), 23.61% / 6.66% (10-crop)",
        source="Table 3",
        needs="preset paper, ImageNet-1k train/val (data_root)",
    ),
]
