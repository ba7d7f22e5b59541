"""Deep Residual Learning for Image Recognition (He, Zhang, Ren, Sun, 2015).

https://arxiv.org/abs/1512.03385

A residual block learns F(x) and outputs y = relu(F(x) + x) (Eq. 1); a "plain" network is the
same stack without the "+ x". The paper's claim (Fig. 1, Fig. 6): plain nets get *worse* with
depth, on the training set (the degradation problem), and residual nets do not.

Presets: the ImageNet nets of Table 1 (`resnet18` ... `resnet152`, `paper` = ResNet-50, option B
shortcuts), the CIFAR-10 nets of Sec. 4.2 (`resnet20/56/110`: 6n+2 layers, option A
shortcuts), and `mini`: plain vs residual nets of 20 and 56 layers on scikit-learn's 8x8 digits.

Deviations from the paper:
- The downsampling bottleneck has its stride on the first 1x1 convolution as in the paper;
  `stride_in_3x3=True` moves it to the 3x3 ("ResNet v1.5" of torchvision/timm; same parameter
  count, different outputs and FLOPs), so their weights load for the equivalence test.
- The paper divides the learning rate by 10 "when the error plateaus" (Sec. 3.4); we divide it
  at fixed fractions of training (50% and 75%), as its CIFAR schedule does (Sec. 4.2).
- ImageNet augmentation is torchvision's RandomResizedCrop rather than the paper's
  scale augmentation (shorter side in [256, 480]) plus colour augmentation; no 10-crop testing.
- `mini` trains CIFAR-style nets of half the CIFAR width (8/16/32 channels) on 8x8 digits with
  the paper's SGD recipe for 240 steps (23 epochs) instead of 64k, and measures the degradation
  on the whole training set after training rather than as curves (Fig. 6). Its claims compare the
  variants' *training* loss, as Fig. 6 does; it makes no test-accuracy claim, since on 8x8
  digits 1-NN on the pixels already reaches 0.982 (logistic regression 0.969), about what the
  nets reach. `baselines` records both on the same split, so a reader can see it.

Identity Mappings in Deep Residual Networks (He, Zhang, Ren, Sun, ECCV 2016;
https://arxiv.org/abs/1603.05027) is served by the `*-preact` presets: the full pre-activation
unit (BN-ReLU-conv twice, nothing after the addition, Fig. 1b / Fig. 4e, `PreActBlock`) keeps
a clean identity path x_L = x_l + sum_i F(x_i) (Eq. 4), and deep nets optimise more easily
(Fig. 6). Presets: `paper-preact` = ResNet-1001 on CIFAR-10 (bottleneck units, 10,327,706
parameters; Table 5: 10.2M, which matches the count without BN's 149,216 scale/shift
parameters: 10,178,490), `resnet164-preact` (1,703,258; 1.7M), and `mini-preact`: original
(post-activation) vs pre-activation ResNet-110 (basic units, widths 8/16/32) on the digits,
compared by training loss. Deviations: the projection shortcuts of the bottleneck presets are
1x1 convolutions without BN and the stride sits on the first 1x1, as in the authors' released
code; `mini-preact` uses basic units (the paper's ResNet-110 in Table 2 does too) at half the
CIFAR width for 160 steps (15 epochs) instead of 1001 layers for 64k iterations, at the
learning rate of 0.1 from the start: He et al. (2015, Sec. 4.2) warmed the original ResNet-110
up at 0.01 because 0.1 was "slightly too large to start converging"; the pre-activation unit
needs no warm-up, and the miniature shows exactly that difference.
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

PAPER = "resnet"

# What this paper changed in the networks of papers it cites, block by block: (their module's
# block, this module's block, what changed). The Paper page shows each pair side by side.
LINEAGE = {
    "vgg": [
        ("VGG", "ResNet", "An identity shortcut adds the input of each pair of 3x3 convolutions "
         "to their output (Eq. 1, Fig. 2); batch normalisation after every convolution "
         "(Sec. 3.4); stride-2 convolutions downsample, and one global average pool with a "
         "single FC layer replaces VGG's max pools and three FC layers (Sec. 3.3, Fig. 3): "
         "34 layers at 3.6 GFLOPs, 18% of VGG-19's"),
    ],
}


# --- helpers -------------------------------------------------------------------------------


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride, padding=1, bias=False)  # BN follows: no bias


def conv1x1(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 1, stride, bias=False)


class ShortcutA(nn.Module):
    """Option A (Sec. 3.3): identity, subsampled by `stride`, zero-padded to `c_out` channels.

    Parameter-free, used for the CIFAR nets (Sec. 4.2)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.extra, self.stride = c_out - c_in, stride

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]  # (B, C, H/s, W/s)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))  # (B, C_out, H/s, W/s): zeros appended


def shortcut(kind: str, c_in: int, c_out: int, stride: int) -> nn.Module | None:
    """None for identity; option A (pad) or B (1x1 projection + BN) when the shape changes."""
    if stride == 1 and c_in == c_out:
        return None
    if kind == "A":
        return ShortcutA(c_in, c_out, stride)
    return nn.Sequential(conv1x1(c_in, c_out, stride), nn.BatchNorm2d(c_out))  # option B, Eq. 2


# --- blocks --------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (Fig. 5 left): F(x) = BN(W2 relu(BN(W1 x)))."""

    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int, cfg: Config):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(c_in, planes, stride), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes), nn.BatchNorm2d(planes)
        self.residual = cfg.residual
        self.downsample = shortcut(cfg.shortcut, c_in, planes, stride) if cfg.residual else None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)  # in place: BN's backward keeps its input
        out = self.bn2(self.conv2(out))
        if self.residual:  # Eq. 1: y = F(x) + x  (Eq. 2 with a projection when shapes differ)
            out += x if self.downsample is None else self.downsample(x)
        return F.relu(out, inplace=True)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand by 4 (Fig. 5 right), for ResNet-50/101/152."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int, cfg: Config):
        super().__init__()
        s1, s3 = (1, stride) if cfg.stride_in_3x3 else (stride, 1)  # paper: stride on the 1x1
        self.conv1, self.bn1 = conv1x1(c_in, planes, s1), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes, s3), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = conv1x1(planes, planes * 4), nn.BatchNorm2d(planes * 4)
        self.residual = cfg.residual
        self.downsample = shortcut(cfg.shortcut, c_in, planes * 4, stride) if cfg.residual else None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(out))
        if self.residual:
            out += x if self.downsample is None else self.downsample(x)
        return F.relu(out, inplace=True)


class PreActBlock(nn.Module):
    """Identity mappings (He et al. 2016b), full pre-activation unit (Fig. 1b, Fig. 4e):
    x_{l+1} = x_l + F(x_l) with F = conv(relu(BN(conv(relu(BN(x)))))) (Eq. 3): nothing after the
    addition, so the shortcut carries x_l unchanged from unit to unit (Eq. 4). Basic (two 3x3)
    or, with `cfg.block == "bottleneck"`, the 1x1-3x3-1x1 unit of ResNet-164/1001 (Sec. 5)."""

    def __init__(self, c_in: int, planes: int, stride: int, cfg: Config):
        super().__init__()
        self.bottleneck = cfg.block == "bottleneck"
        c_out = planes * (4 if self.bottleneck else 1)
        if self.bottleneck:  # the authors' code puts the stride on the first 1x1, as He et al.
            self.bn1, self.conv1 = nn.BatchNorm2d(c_in), conv1x1(c_in, planes, stride)
            self.bn2, self.conv2 = nn.BatchNorm2d(planes), conv3x3(planes, planes)
            self.bn3, self.conv3 = nn.BatchNorm2d(planes), conv1x1(planes, c_out)
        else:
            self.bn1, self.conv1 = nn.BatchNorm2d(c_in), conv3x3(c_in, planes, stride)
            self.bn2, self.conv2 = nn.BatchNorm2d(planes), conv3x3(planes, planes)
        self.downsample = None  # identity; when the shape changes: option A, or a 1x1 conv
        if stride != 1 or c_in != c_out:  # (no BN: the next unit normalises, Sec. 4.1)
            self.downsample = ShortcutA(c_in, c_out, stride) if cfg.shortcut == "A" \
                else conv1x1(c_in, c_out, stride)

    def forward(self, x):  # (B, C_in, H, W)
        out = F.relu(self.bn1(x))  # pre-activation
        # Appendix: a unit that changes the shape shares this BN-ReLU with its projection
        shortcut = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out), inplace=True))
        if self.bottleneck:
            out = self.conv3(F.relu(self.bn3(out), inplace=True))
        return out + shortcut  # Eq. 3: no ReLU after the addition


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 300  # optimizer steps
    batch_size: int = 128  # per process; Sec. 4.2: 128 on CIFAR, Sec. 3.4: 256 on ImageNet
    lr: float = 0.1  # Sec. 3.4 and 4.2: SGD from 0.1, divided by 10 twice
    momentum: float = 0.9  # Sec. 3.4
    weight_decay: float = 1e-4  # Sec. 3.4
    data_root: str | None = None  # real data: an ImageFolder (train/, val/) or CIFAR-10's folder
    download: bool = False  # let torchvision download CIFAR-10 into data_root
    dataset: Literal["imagenet", "cifar10", "digits"] = "digits"
    stem: Literal["imagenet", "cifar"] = "cifar"  # 7x7/2 conv + 3x3/2 max pool, or one 3x3 conv
    block: Literal["basic", "bottleneck"] = "basic"
    layers: tuple[int, ...] = (3, 3, 3)  # blocks per stage: Table 1; CIFAR: n each, 6n+2 layers
    widths: tuple[int, ...] = (16, 32, 64)  # planes per stage; 64-512 on ImageNet, 16-64 on CIFAR
    in_channels: int = 1
    num_classes: int = 10
    residual: bool = True  # False: the plain net of Fig. 3 (middle) and Fig. 6
    shortcut: Literal["A", "B"] = "A"  # Sec. 3.3: A zero-pads (CIFAR), B projects (ImageNet)
    stride_in_3x3: bool = False  # True: torchvision/timm "v1.5" bottleneck (see Deviations)
    augment: bool = False  # Sec. 4.2: 4-pixel padding, random 32x32 crop, horizontal flip
    compare_depths: tuple[int, ...] = ()  # mini: train plain-D and residual-D nets for each D
    preact: bool = False  # identity-mappings: full pre-activation units (He et al. 2016b, Fig. 4e)
    compare_preact: tuple[int, ...] = ()  # mini-preact: original-D and preact-D nets for each D


# --- model ---------------------------------------------------------------------------------


class ResNet(nn.Module):
    """Stem, stages of blocks (the first block of a stage halves H, W), global pool, fc.

    Attributes are named `conv1, bn1, layer1..layer4, fc` as in torchvision and timm, so their
    state_dicts load unchanged."""

    def __init__(self, cfg: Config):
        super().__init__()
        block = BasicBlock if cfg.block == "basic" else Bottleneck
        if cfg.stem == "imagenet":  # Table 1, conv1: 7x7, 64, stride 2; 3x3 max pool, stride 2
            self.conv1 = nn.Conv2d(cfg.in_channels, cfg.widths[0], 7, 2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, padding=1)
        else:  # Sec. 4.2: "The first layer is 3x3 convolutions"
            self.conv1 = conv3x3(cfg.in_channels, cfg.widths[0])
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(cfg.widths[0])
        c_in = cfg.widths[0]
        self.stages = []
        for i, (n, planes) in enumerate(zip(cfg.layers, cfg.widths, strict=True)):
            blocks = []
            for j in range(n):
                blocks.append(block(c_in, planes, 2 if (j == 0 and i > 0) else 1, cfg))
                c_in = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            self.stages.append(f"layer{i + 1}")
        self.fc = nn.Linear(c_in, cfg.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He init, Sec. 3.4 (ref. [13])
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):  # (B, C, H, W)
        x = self.maxpool(F.relu(self.bn1(self.conv1(x)), inplace=True))  # (B, 64, H/4, W/4)
        for name in self.stages:
            x = getattr(self, name)(x)  # each later stage: (B, C*2, H/2, W/2)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # (B, C_last)
        return self.fc(x)  # (B, K)


class PreActResNet(nn.Module):
    """Identity mappings (He et al. 2016b): a 3x3 conv, pre-activation units, then the extra
    BN-ReLU after the last addition (Appendix), global pool, fc."""

    def __init__(self, cfg: Config):
        super().__init__()
        if cfg.stem != "cifar" or not cfg.residual:
            raise ConfigError("preact=True builds the CIFAR-style residual nets of the paper")
        self.conv1 = conv3x3(cfg.in_channels, cfg.widths[0])  # no BN-ReLU: the first unit's
        expansion = 4 if cfg.block == "bottleneck" else 1
        c_in, self.stages = cfg.widths[0], []
        for i, (n, planes) in enumerate(zip(cfg.layers, cfg.widths, strict=True)):
            units = []
            for j in range(n):
                units.append(PreActBlock(c_in, planes, 2 if (j == 0 and i > 0) else 1, cfg))
                c_in = planes * expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*units))
            self.stages.append(f"layer{i + 1}")
        self.bn_final = nn.BatchNorm2d(c_in)
        self.fc = nn.Linear(c_in, cfg.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):  # (B, C, H, W)
        x = self.conv1(x)  # (B, 16, H, W)
        for name in self.stages:
            x = getattr(self, name)(x)  # each later stage: (B, C*2, H/2, W/2)
        x = F.relu(self.bn_final(x), inplace=True)  # Appendix: extra activation after the last unit
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))  # (B, K)


def build_model(cfg: Config) -> nn.Module:
    return PreActResNet(cfg) if cfg.preact else ResNet(cfg)


# --- presets -------------------------------------------------------------------------------

_IMAGENET = Config(dataset="imagenet", stem="imagenet", widths=(64, 128, 256, 512), in_channels=3,
                   num_classes=1000, shortcut="B", batch_size=256, steps=600_000)
_CIFAR = Config(dataset="cifar10", in_channels=3, augment=True, steps=64_000)  # Sec. 4.2
PRESETS = {
    "paper": dataclasses.replace(_IMAGENET, block="bottleneck", layers=(3, 4, 6, 3)),  # 25,557,032
    "resnet18": dataclasses.replace(_IMAGENET, layers=(2, 2, 2, 2)),  # 11,689,512
    "resnet34": dataclasses.replace(_IMAGENET, layers=(3, 4, 6, 3)),  # 21,797,672
    "resnet50": dataclasses.replace(_IMAGENET, block="bottleneck", layers=(3, 4, 6, 3)),  # 25,557,032
    "resnet101": dataclasses.replace(_IMAGENET, block="bottleneck", layers=(3, 4, 23, 3)),  # 44,549,160
    "resnet152": dataclasses.replace(_IMAGENET, block="bottleneck", layers=(3, 8, 36, 3)),  # 60,192,808
    "resnet50-v1.5": dataclasses.replace(_IMAGENET, block="bottleneck", layers=(3, 4, 6, 3),
                                         stride_in_3x3=True),  # timm/torchvision layout
    "resnet20": dataclasses.replace(_CIFAR, layers=(3, 3, 3)),  # 269,722 (Table 6: 0.27M)
    "resnet56": dataclasses.replace(_CIFAR, layers=(9, 9, 9)),  # 853,018 (Table 6: 0.85M)
    "resnet110": dataclasses.replace(_CIFAR, layers=(18, 18, 18)),  # 1,727,962 (Table 6: 1.7M)
    "mini": Config(widths=(8, 16, 32), steps=240, compare_depths=(20, 56)),  # 4 nets, ~60 s of one core
    "tiny": Config(widths=(4, 8, 8), layers=(1, 1, 1), steps=4, batch_size=16),
    # Identity Mappings in Deep Residual Networks (He et al. 2016b), CIFAR-10, Table 3 and 5:
    # 9n+2-layer bottleneck nets, planes 16/32/64 (outputs 64/128/256), 1x1 projections
    "paper-preact": dataclasses.replace(_CIFAR, block="bottleneck", layers=(111, 111, 111),
                                        shortcut="B", preact=True),  # ResNet-1001: 10,327,754
    "resnet164-preact": dataclasses.replace(_CIFAR, block="bottleneck", layers=(18, 18, 18),
                                            shortcut="B", preact=True),  # 1,703,258 (1.7M)
    "mini-preact": Config(widths=(8, 16, 32), steps=160, compare_preact=(110,)),  # 2 x 434,146
}


def variants(cfg: Config) -> dict[str, Config]:
    """`plain-D` and `residual-D` (D = 6n+2 layers) for each D in `compare_depths`; for
    `compare_preact`, `original-D` (post-activation) and `preact-D` (full pre-activation)."""
    if cfg.compare_preact:
        return _preact_variants(cfg)
    if not cfg.compare_depths:
        return {"main": cfg}
    out = {}
    for depth in cfg.compare_depths:
        if (depth - 2) % 6:
            raise ConfigError(f"compare_depths: {depth} is not 6n+2 (20, 32, 44, 56, 110, ...)")
        n = (depth - 2) // 6
        for kind in ("plain", "residual"):
            out[f"{kind}-{depth}"] = dataclasses.replace(
                cfg, layers=(n,) * len(cfg.widths), residual=kind == "residual", compare_depths=()
            )
    return out


def _preact_variants(cfg: Config) -> dict[str, Config]:
    out = {}
    for depth in cfg.compare_preact:
        if (depth - 2) % 6:
            raise ConfigError(f"compare_preact: {depth} is not 6n+2 (20, 56, 110, ...)")
        n = (depth - 2) // 6
        for kind in ("original", "preact"):
            out[f"{kind}-{depth}"] = dataclasses.replace(
                cfg, layers=(n,) * len(cfg.widths), preact=kind == "preact", compare_preact=())
    return out


# --- data ----------------------------------------------------------------------------------


def build_data(cfg: Config):
    """`(train_loader, eval_data)`; eval_data holds the training set too (Fig. 6 plots it)."""
    if cfg.dataset == "digits":
        xtr, ytr, xte, yte = D.digits(seed=0)
        xtr, xte = D.standardize(xtr, "digits"), D.standardize(xte, "digits")
    elif cfg.dataset == "cifar10":
        if cfg.data_root is None:
            raise ConfigError("the CIFAR-10 presets need --set data_root=DIR (CIFAR-10's folder)")
        xtr, ytr = D.real_images("cifar10", cfg.data_root, train=True, download=cfg.download)
        xte, yte = D.real_images("cifar10", cfg.data_root, train=False, download=cfg.download)
        xtr, xte = D.standardize(xtr, "cifar10"), D.standardize(xte, "cifar10")
    else:
        return _imagenet(cfg)
    augment = D.random_crop_flip if cfg.augment else None
    train = D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed, augment=augment)
    return train, {"train": (xtr, ytr), "test": (xte, yte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on the raw pixels of the digits split the nets see (none for
    CIFAR-10 or ImageNet: no claim there compares with a baseline)."""
    if cfg.dataset != "digits":
        return {}
    xtr, ytr, xte, yte = D.digits(seed=0)  # the split of `build_data`
    return B.pixel_baselines(xtr, ytr, xte, yte)


def _imagenet(cfg: Config):
    if cfg.data_root is None:
        raise ConfigError("the ImageNet presets need --set data_root=DIR holding train/ and val/")
    train, val = D.image_folder_loaders(cfg.data_root, cfg.batch_size, cfg.seed)
    return train, {"test": val}


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """SGD with momentum and weight decay (Sec. 3.4); lr / 10 at 50% and 75% of training."""
    return sgd_with_drops(model, cfg)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    loss = F.cross_entropy(logits, y)
    return {"loss": loss, "accuracy": (logits.argmax(-1) == y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Test accuracy/loss and, when available, the training-set loss/accuracy (Fig. 6)."""
    out = {}
    for split in ("test", "train"):  # accuracy, loss, and top-5 with more than five classes
        if split in eval_data:
            out |= {f"{split}_{k}": v
                    for k, v in D.classification_metrics(model, eval_data[split]).items()}
    return out


# --- claims --------------------------------------------------------------------------------


def _loss(m, v):
    return m[v]["train_loss"]


def _acc(m, v):
    return m[v]["train_accuracy"]


def _preact_margin(m, depth):
    """Training loss of the original unit minus twice that of the pre-activation unit."""
    return m[f"original-{depth}"]["train_loss"] - 2 * m[f"preact-{depth}"]["train_loss"]


CLAIMS = [
    Claim(
        id="degradation",
        text="A deeper plain net has higher training loss than a shallower one; the residual net "
        "of the same depth trains far better (the degradation problem, solved).",
        paper="plain-56 has higher training error than plain-20 on CIFAR-10; ResNet-56 lower",
        source="Fig. 1, Fig. 6",
        margins=lambda m: {"plain-20": _loss(m, "plain-56") - _loss(m, "plain-20"),
                           "residual-56": _loss(m, "plain-56") - 5 * _loss(m, "residual-56")},
        measured=lambda m: ", ".join(f"{v} train loss {_loss(m, v):.3f}"
                                     for v in ("plain-20", "residual-20", "plain-56", "residual-56")),
    ),
    Claim(
        id="residual-depth",
        text="With residual connections the 56-layer net fits the training set as well as the "
        "20-layer one (training accuracy within 2 points), which the plain 56-layer net cannot.",
        paper="ResNet-56 6.97% vs ResNet-20 8.75% test error; deeper ResNets have lower "
        "training error",
        source="Table 6, Fig. 6 (middle)",
        margins=lambda m: {"residual-20": _acc(m, "residual-56") - _acc(m, "residual-20") + 0.02},
        measured=lambda m: f"training accuracy: residual-20 {_acc(m, 'residual-20'):.3f}, "
        f"residual-56 {_acc(m, 'residual-56'):.3f}, plain-56 {_acc(m, 'plain-56'):.3f}",
    ),
    Claim(
        id="imagenet-top1",
        text="ResNet-50 reaches 22.85% top-1 error on ImageNet val with 10-crop testing "
        "(20.74% single-model with multi-scale testing, Table 4).",
        paper="top-1 / top-5 err. 22.85% / 6.71% (ResNet-50), 21.75% / 6.05% (ResNet-101), "
        "21.43% / 5.71% (ResNet-152), 10-crop testing",
        source="Table 3",
        needs="preset paper, ImageNet-1k train/val (data_root)",
        numbers=tuple(
            PaperNumber(metric, value, "ten-crop", presets)
            for presets, top1, top5 in (
                (("paper", "resnet50", "resnet50-v1.5"), 22.85, 6.71),
                (("resnet101",), 21.75, 6.05), (("resnet152",), 21.43, 5.71))
            for metric, value in (("top1_error", top1), ("top5_error", top5))),
    ),
    Claim(
        id="cifar-params",
        text="The CIFAR nets with option A shortcuts have 0.27M / 0.85M / 1.7M parameters.",
        paper="ResNet-20 0.27M, ResNet-56 0.85M, ResNet-110 1.7M",
        source="Table 6",
    ),
    Claim(
        id="preact-optimisation",
        text="identity-mappings: at 110 layers the net of full pre-activation units reaches at "
        "most half the training loss of the same net with the original (post-activation) "
        "units, same steps and recipe: the clean identity path eases optimisation.",
        paper="ResNet-1001 on CIFAR-10: the original unit's training loss falls slowly at first "
        "and stays higher; pre-activation trains easily (test error 7.61% vs 4.92%)",
        source="Identity Mappings (He et al. 2016b), Fig. 6 (right), Table 3",
        margins=lambda m: {"original-110": _preact_margin(m, 110)},
        measured=lambda m: f"train loss: original-110 {m['original-110']['train_loss']:.3f}, "
        f"preact-110 {m['preact-110']['train_loss']:.3f}",
        presets=("mini-preact",),
    ),
    Claim(
        id="preact-cifar10",
        text="identity-mappings: pre-activation ResNet-1001 reaches 4.62% test error on "
        "CIFAR-10 with 10.2M parameters (batch 64); ResNet-164 5.46%.",
        paper="ResNet-1001 4.92% (batch 128), 4.62% (batch 64); ResNet-164 5.46%; original "
        "ResNet-1001 7.61%",
        source="Identity Mappings (He et al. 2016b), Table 3, Table 5",
        needs="preset paper-preact, CIFAR-10 (data_root)",
        presets=("paper-preact",),
    ),
]
