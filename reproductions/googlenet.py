"""Going Deeper with Convolutions (Szegedy et al., 2015): the Inception module and GoogLeNet.

https://arxiv.org/abs/1409.4842

An Inception module runs 1x1, 3x3 and 5x5 convolutions and a 3x3 max pool side by side on the
same input and concatenates their outputs (Fig. 2a). Its "dimension reductions" (Fig. 2b, Sec. 4)
put 1x1 convolutions before the 3x3 and 5x5 ones and after the pool, so that the expensive
filters see few channels and the pooled branch does not pile its input channels onto the
output: the network gets wider and deeper "while keeping the computational budget constant".
GoogLeNet (Table 1) stacks nine such modules (3a-5b) on a convolutional stem, ends in global
average pooling, dropout 40% and one linear layer, and adds two auxiliary classifiers on 4a and
4d during training, their losses weighted by 0.3 (Sec. 5).

Presets: `paper` = GoogLeNet as published (Table 1: 5x5 branches, LRN in the stem, biases, no
batch norm, 3x3/2 max pool before 5a): 6,998,552 parameters, 13,378,280 with the two auxiliary
classifiers (Table 1's column sums to about 6.8M); `torchvision` = `torchvision.models.googlenet`
exactly (3x3 instead of 5x5 in the "5x5" branch, batch norm after every convolution and no
biases, no LRN, 2x2/2 pool before 5a, adaptive 4x4 pooling in the auxiliary heads, dropout 0.2):
6,624,904 parameters, 13,004,888 with auxiliary heads, whose weights load unchanged.
`mini`: Sec. 4's claim on the 5,000-image MNIST subset: a GoogLeNet cut to its stem and modules
3a, 3b, 4a at 1/8 width (17,486 parameters), with reductions (Fig. 2b) against the same modules
without them (Fig. 2a: 79,970), plus pixel baselines; multiply-adds and parameters are counted.

Deviations from the paper:
- Initialisation is Glorot-uniform with zero biases (the paper does not state one; the authors'
  Caffe model used Xavier initialisation).
- SGD with momentum 0.9 and the learning rate times 0.96 every `lr_decay_steps` steps (Sec. 6:
  4% every 8 epochs); no Polyak averaging, no photometric distortions or aspect-ratio crops
  (torchvision's RandomResizedCrop instead), no 144-crop or ensemble testing. The batch size is
  not in the paper.
- `mini`: 28x28 digits; a 3x3 stride-1 first convolution instead of 7x7/2 (the images are 8x
  smaller); all of Table 1's widths divided by 8; no auxiliary classifiers (they sit on 4a's and
  4d's outputs in a 22-layer net, to help gradients through its depth); 600 steps at batch 64;
  batch norm after each convolution and no LRN, as in torchvision's GoogLeNet (without batch
  norm the 1/8-width net reaches only ~0.95 in 600 steps, too close to 1-NN's 0.934).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.alexnet import LocalResponseNorm
from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "googlenet"

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj of each Inception module.
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
AUX_AFTER = {"4a": "aux1", "4d": "aux2"}  # Sec. 5: auxiliary classifiers on 4a and 4d


# --- blocks --------------------------------------------------------------------------------


class ConvBlock(nn.Module):
    """Convolution (+ bias, or + batch norm as in torchvision's `BasicConv2d`) and ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int, cfg: Config, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2,
                              bias=not cfg.batch_norm)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-3) if cfg.batch_norm else None

    def forward(self, x):  # (B, C_in, H, W)
        x = self.conv(x)  # (B, C_out, H/s, W/s)
        return F.relu(self.bn(x) if self.bn is not None else x, inplace=True)


class Inception(nn.Module):
    """Fig. 2b: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max pool -> 1x1, concatenated on channels.
    `reduce=False` is Fig. 2a's naive module: 3x3 and 5x5 on the input, the pool passed as is."""

    def __init__(self, c_in: int, widths: tuple[int, ...], cfg: Config):
        super().__init__()
        c1, c3r, c3, c5r, c5, pool_proj = widths
        k5 = cfg.branch3_kernel  # Table 1: 5x5; torchvision: 3x3 (a known slip, see presets)
        self.branch1 = ConvBlock(c_in, c1, 1, cfg)
        pool = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        if cfg.reduce:
            self.branch2 = nn.Sequential(ConvBlock(c_in, c3r, 1, cfg), ConvBlock(c3r, c3, 3, cfg))
            self.branch3 = nn.Sequential(ConvBlock(c_in, c5r, 1, cfg), ConvBlock(c5r, c5, k5, cfg))
            self.branch4 = nn.Sequential(pool, ConvBlock(c_in, pool_proj, 1, cfg))
            self.out_channels = c1 + c3 + c5 + pool_proj
        else:
            self.branch2, self.branch3 = ConvBlock(c_in, c3, 3, cfg), ConvBlock(c_in, c5, k5, cfg)
            self.branch4 = pool
            self.out_channels = c1 + c3 + c5 + c_in  # Sec. 4: the pooled channels pile up

    def forward(self, x):  # (B, C_in, H, W)
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([b(x) for b in branches], 1)  # (B, out_channels, H, W)


class InceptionAux(nn.Module):
    """Sec. 5: 5x5/3 average pool (4x4 output on 4a/4d), 1x1 conv 128 + ReLU, FC 1024 + ReLU,
    dropout 70%, linear classifier."""

    def __init__(self, c_in: int, cfg: Config):
        super().__init__()
        conv, fc = 128 // cfg.width_divisor, 1024 // cfg.width_divisor
        self.pool = nn.AvgPool2d(5, 3) if cfg.aux_pool == "avg5s3" else nn.AdaptiveAvgPool2d(4)
        self.conv = ConvBlock(c_in, conv, 1, cfg)
        self.fc1, self.fc2 = nn.Linear(conv * 16, fc), nn.Linear(fc, cfg.num_classes)
        self.dropout = nn.Dropout(0.7)

    def forward(self, x):  # (B, C, 14, 14)
        x = torch.flatten(self.conv(self.pool(x)), 1)  # (B, 128 * 4 * 4)
        return self.fc2(self.dropout(F.relu(self.fc1(x), inplace=True)))  # (B, K)


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 1_000_000  # not stated; ~200 epochs at batch 256
    batch_size: int = 256  # not stated in the paper
    lr: float = 0.01
    momentum: float = 0.9  # Sec. 6: "asynchronous stochastic gradient descent with 0.9 momentum"
    lr_decay_steps: int = 37_500  # Sec. 6: lr x 0.96 "every 8 epochs" (8 x 1.2M / 256)
    weight_decay: float = 2e-4  # the authors' Caffe solver (not in the paper)
    data_root: str | None = None  # real data: an ImageNet-style folder (train/, val/) or MNIST's
    download: bool = False  # let torchvision download MNIST into data_root
    dataset: Literal["imagenet", "mnist", "mnist5k"] = "imagenet"
    in_channels: int = 3
    num_classes: int = 1000
    stem: Literal["imagenet", "small"] = "imagenet"  # Table 1: 7x7/2 conv; small: 3x3/1
    modules: int = 9  # how many of Table 1's Inception modules (3a ... 5b), in order
    width_divisor: int = 1  # every width of Table 1 divided by this (mini: 8)
    reduce: bool = True  # Fig. 2b (1x1 reductions) or Fig. 2a (the naive module)
    branch3_kernel: int = 5  # Table 1: 5x5; torchvision 3 (its issue #906)
    batch_norm: bool = False  # torchvision: BN after each conv, convs without bias
    lrn: bool = True  # Table 1's stem: LRN after the first pool and after conv 3x3
    pool4_kernel: int = 3  # Table 1: 3x3/2 max pool before 5a; torchvision 2x2/2
    aux_classifiers: bool = True  # Sec. 5: on 4a and 4d, training only
    aux_pool: Literal["avg5s3", "adaptive4"] = "avg5s3"  # Sec. 5; torchvision: adaptive 4x4
    aux_weight: float = 0.3  # Sec. 5: "discount weight (0.3)"
    dropout: float = 0.4  # Table 1: dropout (40%) before the linear layer
    compare_naive: bool = False  # mini: also train the modules without reductions (Fig. 2a)


# --- model ---------------------------------------------------------------------------------


class GoogLeNet(nn.Module):
    """Stem -> Inception 3a, 3b -> pool -> 4a ... 4e -> pool -> 5a, 5b -> global average pool ->
    dropout -> linear; attributes named as in `torchvision.models.googlenet`."""

    def __init__(self, cfg: Config):
        super().__init__()
        if not 1 <= cfg.modules <= len(INCEPTION):
            raise ConfigError(f"modules must be 1 to {len(INCEPTION)}")
        w = lambda c: c // cfg.width_divisor  # noqa: E731
        small = cfg.stem == "small"
        self.conv1 = ConvBlock(cfg.in_channels, w(64), 3 if small else 7, cfg, 1 if small else 2)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = LocalResponseNorm(5, k=1.0, alpha=2e-5) if cfg.lrn else nn.Identity()  # Caffe: alpha / n
        self.conv2 = ConvBlock(w(64), w(64), 1, cfg)  # Table 1: "3x3 reduce" 64
        self.conv3 = ConvBlock(w(64), w(192), 3, cfg)
        self.lrn2 = LocalResponseNorm(5, k=1.0, alpha=2e-5) if cfg.lrn else nn.Identity()
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        c, self.names = w(192), list(INCEPTION)[: cfg.modules]
        for name in self.names:
            block = Inception(c, tuple(w(x) for x in INCEPTION[name]), cfg)
            setattr(self, f"inception{name}", block)
            if cfg.aux_classifiers and name in AUX_AFTER:
                setattr(self, AUX_AFTER[name], InceptionAux(block.out_channels, cfg))
            c = block.out_channels
        if cfg.modules > 2:
            self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        if cfg.modules > 7:
            self.maxpool4 = nn.MaxPool2d(cfg.pool4_kernel, stride=2, ceil_mode=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # Table 1: 7x7 average pool (global)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(c, cfg.num_classes)
        self.aux_weight = cfg.aux_weight  # read by `training_step`
        for m in self.modules():  # see Deviations
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):  # (B, 3, 224, 224)
        """Logits `(B, K)`; in training with auxiliary classifiers `(logits, [aux logits])`."""
        x = self.maxpool1(self.conv1(x))  # (B, 64, 56, 56)
        x = self.maxpool2(self.lrn2(self.conv3(self.conv2(self.lrn1(x)))))  # (B, 192, 28, 28)
        aux = []
        for name in self.names:
            if name == "4a":
                x = self.maxpool3(x)  # (B, 480, 14, 14)
            elif name == "5a":
                x = self.maxpool4(x)  # (B, 832, 7, 7)
            x = getattr(self, f"inception{name}")(x)
            if self.training and hasattr(self, AUX_AFTER.get(name, "-")):
                aux.append(getattr(self, AUX_AFTER[name])(x))  # (B, K)
        x = self.dropout(torch.flatten(self.avgpool(x), 1))  # (B, 1024)
        logits = self.fc(x)  # (B, K)
        return (logits, aux) if aux else logits


def build_model(cfg: Config) -> GoogLeNet:
    return GoogLeNet(cfg)


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # 6,998,552 (+ 6,379,728 in the two auxiliary classifiers)
    "paper-no-aux": Config(aux_classifiers=False),  # 6,998,552 (Table 1: ~6.8M)
    "torchvision": Config(  # 13,004,888 = torchvision.models.googlenet(aux_logits=True)
        branch3_kernel=3, batch_norm=True, lrn=False, pool4_kernel=2, aux_pool="adaptive4",
        dropout=0.2),
    "torchvision-no-aux": Config(  # 6,624,904 = torchvision.models.googlenet(aux_logits=False)
        branch3_kernel=3, batch_norm=True, lrn=False, pool4_kernel=2, aux_classifiers=False,
        dropout=0.2),
    "mini": Config(
        dataset="mnist5k", in_channels=1, num_classes=10, stem="small", modules=3,
        width_divisor=8, aux_classifiers=False, lrn=False, batch_norm=True, steps=600,
        batch_size=64, lr=0.05,
        lr_decay_steps=500, weight_decay=5e-4, compare_naive=True),
    "tiny": Config(
        dataset="mnist5k", in_channels=1, num_classes=10, stem="small", modules=3,
        width_divisor=16, aux_pool="adaptive4", steps=3, batch_size=16),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`main`; with `compare_naive` also `naive`: the same modules without reductions."""
    base = dataclasses.replace(cfg, compare_naive=False)
    runs = {"main": base}
    if cfg.compare_naive:
        runs["naive"] = dataclasses.replace(base, reduce=False)
    return runs


# --- data ----------------------------------------------------------------------------------


def build_data(cfg: Config):
    """`(train_loader, {"test": ...})`: MNIST-5k (4,000 / 1,000), MNIST, or ImageNet folders."""
    if cfg.dataset == "imagenet":
        return D.imagenet_data(cfg)
    xtr, ytr, xte, yte = D.mnist_split(cfg.dataset, cfg.data_root, cfg.download)
    return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), {"test": (xte, yte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on the pixels of the variants' split (MNIST-5k only)."""
    if cfg.dataset != "mnist5k":
        return {}
    xtr, ytr, xte, yte = D.mnist_split(cfg.dataset, cfg.data_root, cfg.download)
    return B.pixel_baselines(xtr, ytr, xte, yte)


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """SGD with momentum 0.9 (Sec. 6); lr x 0.96 every `lr_decay_steps` steps."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.StepLR(opt, cfg.lr_decay_steps, gamma=0.96)


def training_step(model: nn.Module, batch) -> dict:
    """Cross-entropy of the main classifier plus 0.3 x each auxiliary one's (Sec. 5)."""
    x, y = batch  # (B, C, H, W), (B,)
    out = model(x)
    logits, aux = out if isinstance(out, tuple) else (out, [])  # (B, K), [(B, K)]
    loss = F.cross_entropy(logits, y)
    for a in aux:
        loss = loss + model.aux_weight * F.cross_entropy(a, y)
    return {"loss": loss, "accuracy": (logits.argmax(-1) == y).float().mean()}


def multiply_adds(model: nn.Module, image: torch.Tensor) -> dict[str, float]:
    """Multiply-adds of one forward pass of `image` `(1, C, H, W)` through every convolution and
    linear layer, counted with hooks: `total`, and `inception` (the Inception modules alone)."""
    counts = {"total": 0, "inception": 0}
    inside = {id(m) for name, block in model.named_children() if name.startswith("inception")
              for m in block.modules()}

    def hook(m, inputs, out):
        if isinstance(m, nn.Conv2d):  # each output value: C_in / groups x k x k products
            n = out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        else:
            n = out.numel() * m.in_features
        counts["total"] += n
        counts["inception"] += n if id(m) in inside else 0

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(image)
    model.train(was_training)
    for h in handles:
        h.remove()
    return {k: float(v) for k, v in counts.items()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Test accuracy and loss; parameters and multiply-adds per image (Sec. 4's budget)."""
    m = D.classification_metrics(model, eval_data["test"])
    x = eval_data["test"][0][:1] if isinstance(eval_data["test"], tuple) else \
        torch.zeros(1, cfg.in_channels, 224, 224)
    macs = multiply_adds(model, x.to(next(model.parameters()).device))
    params = lambda mods: sum(p.numel() for mod in mods for p in mod.parameters())  # noqa: E731
    return {"test_accuracy": m["accuracy"], "test_loss": m["loss"],
            "parameters": params([model]),
            "inception_parameters": params([getattr(model, f"inception{n}") for n in model.names]),
            "multiply_adds": macs["total"], "inception_multiply_adds": macs["inception"]}


# --- claims --------------------------------------------------------------------------------

PARITY = 0.02  # "the same accuracy": within 0.02 on 1,000 test digits (~2.5 standard errors)


def _acc(m, v):
    return m[v]["test_accuracy"]


def _saving(m, metric):
    return 1.0 - m["main"][metric] / m["naive"][metric]


CLAIMS = [
    Claim(
        id="reductions-cut-cost",
        text="The 1x1 reductions cut the Inception modules' multiply-adds and parameters by at "
        "least half against the same modules without them (counted on the trained nets).",
        paper="the naive module's 5x5 convolutions are prohibitively expensive on many filters, "
        "and the pooled channels make the outputs grow from stage to stage; 1x1 reductions "
        "before the expensive convolutions keep the budget constant",
        source="Sec. 4, Fig. 2",
        margins=lambda m: {"naive multiply-adds": _saving(m, "inception_multiply_adds") - 0.5,
                           "naive parameters": _saving(m, "inception_parameters") - 0.5},
        measured=lambda m: f"Inception multiply-adds per image {m['main']['inception_multiply_adds']:,.0f} "
        f"vs naive {m['naive']['inception_multiply_adds']:,.0f}; parameters "
        f"{m['main']['inception_parameters']:,.0f} vs {m['naive']['inception_parameters']:,.0f}",
    ),
    Claim(
        id="same-accuracy-cheaper",
        text=f"At that lower cost the modules with reductions are as accurate on the 1,000 test "
        f"digits as the naive ones (within {PARITY}), and beat 1-NN and logistic regression on "
        "the pixels by at least 0.01.",
        paper="the Inception architecture gives a significant quality gain at a modest increase "
        "of computation compared to shallower and less wide networks",
        source="Sec. 4, Sec. 9",
        margins=lambda m: {
            "naive": _acc(m, "main") - _acc(m, "naive") + PARITY,
            "1-NN pixels": _acc(m, "main") - _acc(m, "1-NN pixels") - 0.01,
            "logistic regression pixels":
                _acc(m, "main") - _acc(m, "logistic regression pixels") - 0.01},
        measured=lambda m: f"test accuracy with reductions {_acc(m, 'main'):.3f}, naive "
        f"{_acc(m, 'naive'):.3f}; 1-NN {_acc(m, '1-NN pixels'):.3f}, logistic regression "
        f"{_acc(m, 'logistic regression pixels'):.3f}",
    ),
    Claim(
        id="ilsvrc-2014",
        text="GoogLeNet reaches 6.67% top-5 error on the ILSVRC 2014 test set (7 models, 144 "
        "crops); a single model with one crop 10.07% top-5 on validation.",
        paper="top-5 error 6.67% (test, ensemble); 10.07% (1 model, 1 crop, validation)",
        source="Table 2, Table 3",
        needs="preset paper, ImageNet-1k train/val (data_root)",
    ),
]
