"""Very Deep Convolutional Networks for Large-Scale Image Recognition (Simonyan & Zisserman,
2015): VGG.

https://arxiv.org/abs/1409.1556

Five stages of 3x3 convolutions (stride 1, padding 1, ReLU), each closed by a 2x2 max pool, then
three fully connected layers (4096, 4096, 1000) with dropout on the first two (Sec. 2.1, 2.2).
The configurations A-E of Table 1 differ only in depth: 11 to 19 weight layers. Sec. 2.3's
argument: a stack of two (three) 3x3 layers sees a 5x5 (7x7) window like one large filter, but
has more non-linearities and fewer weights: 3 (3^2 C^2) = 27 C^2 against 7^2 C^2 = 49 C^2.

Presets: `paper` = configuration D (VGG-16, 138,357,544 parameters), `vgg11`, `vgg11-lrn`,
`vgg13`, `vgg13-1x1` (configuration C), `vgg16`, `vgg19` (Table 2: 133, 133, 133, 134, 138, 144
million) and `vgg11-bn` ... `vgg19-bn` (torchvision's batch-normalised variants, not in the
paper); parameter names follow `torchvision.models.vgg*` so their weights load unchanged.
`mini`: Sec. 2.3 / 4.1's comparison of net D against its "shallow" control (each stack of n 3x3
layers fused into one (2n+1)x(2n+1) layer: same receptive field, fewer non-linearities, more
weights) and Table 3's depth ordering (A against E), on the 5,000-image MNIST subset with the
first three stages, plus pixel baselines: D has 47,474 parameters, fused 52,346.

Deviations from the paper:
- Initialisation is Glorot & Bengio's for every net, which the paper found to work without
  pre-training (Sec. 3.1), not N(0, 0.01) with the deeper nets started from net A's weights;
  `init="torchvision"` gives torchvision's (He-normal convolutions, N(0, 0.01) linear layers).
- The learning rate drops by 10 at fixed fractions of training (`lr_drops`), not when the
  validation accuracy stops improving (Sec. 3.1); no scale jittering, colour shift or
  multi-crop / dense testing (Sec. 3.1-3.2): torchvision's RandomResizedCrop instead.
- `avgpool` (torchvision's adaptive average pool to the final map size, an identity at 224x224)
  is kept so that the same network runs on smaller images.
- `mini`: 28x28 digits, three stages of 8/16/16 channels (224x224 and five stages of 64-512 in
  the paper; the last stage keeps its width so that its three 3x3 layers are C -> C as in
  Sec. 2.3's count), FC layers of 128, 600 steps of SGD at batch 64. The paper's shallow control
  is B with five 5x5 layers; ours is D with 5x5, 5x5, 7x7 layers (one per stage).
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
from reproductions.common.trainer import sgd_with_drops

PAPER = "vgg"

# What this paper changed in the networks of papers it cites, block by block: (their module's
# block, this module's block, what changed). The Paper page shows each pair side by side.
LINEAGE = {
    "alexnet": [
        ("AlexNet", "VGG", "Stacks of 3x3 convolutions at stride 1 replace the 11x11 and 5x5 "
         "filters: two 3x3 layers see 5x5, three see 7x7, with fewer weights and more ReLUs "
         "between them (Sec. 2.3); 11 to 19 weight layers; no local response normalisation, "
         "which did not help (Sec. 4.1)"),
    ],
}

# Table 1: the kernel size of each convolution, stage by stage ("conv3" = 3x3, "conv1" = 1x1).
CONFIGURATIONS = {
    "A": ((3,), (3,), (3, 3), (3, 3), (3, 3)),  # 11 weight layers
    "A-LRN": ((3,), (3,), (3, 3), (3, 3), (3, 3)),  # A + LRN after the first layer
    "B": ((3, 3), (3, 3), (3, 3), (3, 3), (3, 3)),  # 13
    "C": ((3, 3), (3, 3), (3, 3, 1), (3, 3, 1), (3, 3, 1)),  # 16, with three 1x1 layers
    "D": ((3, 3), (3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3)),  # 16
    "E": ((3, 3), (3, 3), (3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3)),  # 19
}


def stage_kernels(configuration: str, stages: int, fuse: bool) -> list[tuple[int, ...]]:
    """Each stage's kernel sizes; with `fuse`, a run of n 3x3 layers becomes one (2n+1)x(2n+1)
    layer with the same receptive field (Sec. 2.3; Sec. 4.1's "shallow net" for B: 5x5)."""
    out = []
    for kernels in CONFIGURATIONS[configuration][:stages]:
        if fuse:
            n3 = sum(k == 3 for k in kernels)
            kernels = (2 * n3 + 1,) + tuple(k for k in kernels if k != 3)
        out.append(kernels)
    return out


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 370_000  # Sec. 3.1: "stopped after 370K iterations (74 epochs)"
    batch_size: int = 256  # Sec. 3.1
    lr: float = 0.01  # Sec. 3.1: 1e-2, divided by 10 three times
    momentum: float = 0.9  # Sec. 3.1
    weight_decay: float = 5e-4  # Sec. 3.1: L2 multiplier 5e-4
    lr_drops: tuple[float, ...] = (0.5, 0.75, 0.9)  # fractions of training where lr /= 10
    data_root: str | None = None  # real data: an ImageNet-style folder (train/, val/) or MNIST's
    download: bool = False  # let torchvision download MNIST into data_root
    dataset: Literal["imagenet", "mnist", "mnist5k"] = "imagenet"
    image_size: int = 224  # Sec. 2.1: fixed-size 224x224 RGB input
    in_channels: int = 3
    num_classes: int = 1000
    configuration: Literal["A", "A-LRN", "B", "C", "D", "E"] = "D"  # Table 1; D = VGG-16
    widths: tuple[int, ...] = (64, 128, 256, 512, 512)  # Table 1: channels per stage
    fc_dim: int = 4096  # Sec. 2.1: two FC layers of 4096 channels
    dropout: float = 0.5  # Sec. 3.1: on the first two FC layers
    batch_norm: bool = False  # torchvision's vgg*_bn (BN after each conv; not in the paper)
    init: Literal["glorot", "torchvision"] = "glorot"  # Sec. 3.1: Glorot & Bengio, no pre-training
    fuse_stacks: bool = False  # Sec. 2.3 / 4.1: each stack of n 3x3 layers -> one (2n+1)^2
    compare_fused: bool = False  # mini: also train the fused ("shallow") net as a control
    compare_configurations: tuple[str, ...] = ()  # mini: also train these configurations


# --- model ---------------------------------------------------------------------------------


class VGG(nn.Module):
    """`features` (conv [BN] ReLU ..., max pool per stage) -> `avgpool` -> `classifier`, index by
    index as `torchvision.models.vgg*` lays them out."""

    def __init__(self, cfg: Config):
        super().__init__()
        if cfg.configuration not in CONFIGURATIONS:
            raise ConfigError(f"configuration must be one of {', '.join(CONFIGURATIONS)}")
        layers: list[nn.Module] = []
        c_in = cfg.in_channels
        for kernels, width in zip(stage_kernels(cfg.configuration, len(cfg.widths),
                                                cfg.fuse_stacks), cfg.widths, strict=True):
            for k in kernels:  # Sec. 2.1: stride 1, padding keeps the resolution
                layers.append(nn.Conv2d(c_in, width, k, padding=k // 2))
                layers += [nn.BatchNorm2d(width)] if cfg.batch_norm else []
                layers.append(nn.ReLU(inplace=True))
                if cfg.configuration == "A-LRN" and len(layers) == 2:  # Table 1: after conv1
                    layers.append(LocalResponseNorm())  # Sec. 2.1: Krizhevsky et al.'s LRN
                c_in = width
            layers.append(nn.MaxPool2d(2, 2))  # Sec. 2.1: 2x2 window, stride 2
        self.features = nn.Sequential(*layers)
        side = cfg.image_size >> len(cfg.widths)  # 224 / 2^5 = 7
        if side < 1:
            raise ConfigError(f"image_size {cfg.image_size} is too small for {len(cfg.widths)} pools")
        self.avgpool = nn.AdaptiveAvgPool2d(side)  # identity at the design size (torchvision)
        self.classifier = nn.Sequential(  # Sec. 2.1: FC-4096, FC-4096, FC-K (softmax in the loss)
            nn.Linear(c_in * side * side, cfg.fc_dim), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.fc_dim, cfg.fc_dim), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.fc_dim, cfg.num_classes))
        for m in self.modules():
            if not isinstance(m, (nn.Conv2d, nn.Linear)):
                continue
            if cfg.init == "glorot":  # Sec. 3.1: "the random initialisation procedure of [Glorot]"
                nn.init.xavier_uniform_(m.weight)
            elif isinstance(m, nn.Conv2d):  # torchvision: He-normal (fan out) convolutions
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:  # and N(0, 0.01) linear layers
                nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)

    def forward(self, x):  # (B, 3, 224, 224)
        x = self.avgpool(self.features(x))  # (B, 512, 7, 7)
        return self.classifier(torch.flatten(x, 1))  # (B, 25088) -> (B, K)


def build_model(cfg: Config) -> VGG:
    return VGG(cfg)


# --- presets -------------------------------------------------------------------------------

_IMAGENET = Config()
PRESETS = {
    "paper": _IMAGENET,  # D = VGG-16: 138,357,544 (Table 2: 138M)
    "vgg11": dataclasses.replace(_IMAGENET, configuration="A"),  # 132,863,336 (133M)
    "vgg11-lrn": dataclasses.replace(_IMAGENET, configuration="A-LRN"),  # 132,863,336 (133M)
    "vgg13": dataclasses.replace(_IMAGENET, configuration="B"),  # 133,047,848 (133M)
    "vgg13-1x1": dataclasses.replace(_IMAGENET, configuration="C"),  # 133,638,952 (134M)
    "vgg16": dataclasses.replace(_IMAGENET, configuration="D"),  # 138,357,544 (138M)
    "vgg19": dataclasses.replace(_IMAGENET, configuration="E"),  # 143,667,240 (144M)
    "vgg11-bn": dataclasses.replace(_IMAGENET, configuration="A", batch_norm=True),  # 132,868,840
    "vgg13-bn": dataclasses.replace(_IMAGENET, configuration="B", batch_norm=True),  # 133,053,736
    "vgg16-bn": dataclasses.replace(_IMAGENET, configuration="D", batch_norm=True),  # 138,365,992
    "vgg19-bn": dataclasses.replace(_IMAGENET, configuration="E", batch_norm=True),  # 143,678,248
    "mini": Config(
        dataset="mnist5k", image_size=28, in_channels=1, num_classes=10, configuration="D",
        widths=(8, 16, 16), fc_dim=128, steps=600, batch_size=64, lr=0.02, lr_drops=(0.75,),
        compare_fused=True, compare_configurations=("A", "E")),
    "tiny": Config(
        dataset="mnist5k", image_size=28, in_channels=1, num_classes=10, configuration="B",
        widths=(4, 8), fc_dim=16, steps=3, batch_size=16),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`main` (the preset's configuration); with `compare_fused`, `fused`: the same net with
    each 3x3 stack fused into one large filter (Sec. 4.1); one variant per entry of
    `compare_configurations`, named by its letter (Table 3's depths)."""
    base = dataclasses.replace(cfg, compare_fused=False, compare_configurations=())
    runs = {"main": base}
    if cfg.compare_fused:
        runs["fused"] = dataclasses.replace(base, fuse_stacks=True)
    for letter in cfg.compare_configurations:
        runs[letter] = dataclasses.replace(base, configuration=letter)
    return runs


# --- data ----------------------------------------------------------------------------------


def build_data(cfg: Config):
    """`(train_loader, {"test": ...})`: MNIST-5k (4,000 / 1,000), MNIST, or ImageNet folders."""
    if cfg.dataset == "imagenet":
        return D.imagenet_data(cfg, cfg.image_size)
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
    """SGD, momentum 0.9, weight decay 5e-4 (Sec. 3.1); lr / 10 at each of `lr_drops`."""
    return sgd_with_drops(model, cfg, cfg.lr_drops)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(-1) == y).float().mean()}


def stages(model: VGG) -> list[list[nn.Conv2d]]:
    """The convolutions of each stage (the layers between two max pools)."""
    out: list[list[nn.Conv2d]] = [[]]
    for m in model.features:
        if isinstance(m, nn.MaxPool2d):
            out.append([])
        elif isinstance(m, nn.Conv2d):
            out[-1].append(m)
    return [s for s in out if s]


def receptive_field(convs: list[nn.Conv2d]) -> int:
    """Side of the input window one output unit of the stacked `convs` sees, measured: a unit
    impulse pushed through all-ones kernels of the same sizes, its non-zero support counted."""
    k_sum = sum(c.kernel_size[0] for c in convs)
    x = torch.zeros(1, 1, 2 * k_sum + 1, 2 * k_sum + 1)
    x[0, 0, k_sum, k_sum] = 1.0  # (1, 1, S, S): one impulse at the centre
    for c in convs:
        k = c.kernel_size[0]
        x = F.conv2d(x, torch.ones(1, 1, k, k), padding=k // 2)
    return int((x[0, 0, k_sum] > 0).sum())


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Test accuracy and loss; the last stage's receptive field and weights (Sec. 2.3: three
    C -> C 3x3 layers see 7x7 with 27 C^2 weights, one 7x7 layer 49 C^2)."""
    m = D.classification_metrics(model, eval_data["test"])
    last = stages(model)[-1]
    width = last[-1].out_channels
    return {"test_accuracy": m["accuracy"], "test_loss": m["loss"],
            "last_stage_receptive_field": receptive_field(last),
            "last_stage_weights_per_c2": sum(c.weight.numel() for c in last) / width**2,
            "parameters": sum(p.numel() for p in model.parameters())}


# --- claims --------------------------------------------------------------------------------

PAPER_SCALE = "ImageNet-1k train/val (data_root)"


def _acc(m, v):
    return m[v]["test_accuracy"]


def _field_and_weights(m) -> dict[str, float]:
    """Equal receptive fields (0.5 - |difference| in pixels) and the stack's weight saving
    (1 - 27/49 = 0.45 for C -> C layers) over the fused layer, less 0.4."""
    rf = abs(m["main"]["last_stage_receptive_field"] - m["fused"]["last_stage_receptive_field"])
    ratio = m["main"]["last_stage_weights_per_c2"] / m["fused"]["last_stage_weights_per_c2"]
    return {"fused receptive field": 0.5 - rf, "fused weights": 1.0 - ratio - 0.4}


CLAIMS = [
    Claim(
        id="stack-sees-as-far-with-fewer-weights",
        text="In the trained nets, the last stage's stack of three 3x3 layers (C -> C) sees the "
        "same 7x7 window of its input as the fused control's single 7x7 layer, with 27 C^2 "
        "weights against 49 C^2 (at least 40% fewer), both measured on the models.",
        paper="a stack of three 3x3 conv. layers has an effective receptive field of 7x7 and "
        "3 (3^2 C^2) = 27 C^2 weights, a single 7x7 layer 7^2 C^2 = 49 C^2 (81% more)",
        source="Sec. 2.3",
        margins=_field_and_weights,
        measured=lambda m: f"receptive field {m['main']['last_stage_receptive_field']:.0f} vs "
        f"{m['fused']['last_stage_receptive_field']:.0f} pixels; weights "
        f"{m['main']['last_stage_weights_per_c2']:.0f} C^2 vs "
        f"{m['fused']['last_stage_weights_per_c2']:.0f} C^2",
    ),
    Claim(
        id="beats-pixel-baselines",
        text="Net D (three stages of stacked 3x3 layers) is more accurate on the 1,000 test "
        "digits than 1-NN and logistic regression on the same pixels, by at least 0.01.",
        paper="VGG's ConvNets beat the previous generation of ILSVRC entries and the "
        "non-network methods before them: D 25.6% top-1 error against AlexNet's 38.1%",
        source="Table 3, Table 7",
        margins=lambda m: {
            "1-NN pixels": _acc(m, "main") - _acc(m, "1-NN pixels") - 0.01,
            "logistic regression pixels":
                _acc(m, "main") - _acc(m, "logistic regression pixels") - 0.01},
        measured=lambda m: f"test accuracy D {_acc(m, 'main'):.3f}; 1-NN "
        f"{_acc(m, '1-NN pixels'):.3f}, logistic regression "
        f"{_acc(m, 'logistic regression pixels'):.3f}",
    ),
    Claim(
        id="stack-at-least-as-accurate",
        text="Not expected in miniature: with its extra non-linearities net D is at least as "
        "accurate as its fused control (each stack of n 3x3 layers replaced by one "
        "(2n+1)x(2n+1) layer, same receptive field). On 4,000 MNIST digits the fused net, "
        "shallower and easier to train in 600 steps, is as good or about 0.01 better; the "
        "paper's 7% gap is on ImageNet's 1,000 classes, where a more discriminative decision "
        "function pays.",
        paper="the shallow net (B with each pair of 3x3 layers replaced by one 5x5) has 7% "
        "higher top-1 error than B",
        source="Sec. 2.3, Sec. 4.1",
        margins=lambda m: {"fused": _acc(m, "main") - _acc(m, "fused")},
        measured=lambda m: f"test accuracy D {_acc(m, 'main'):.3f}, fused {_acc(m, 'fused'):.3f}",
        expected=False,
    ),
    Claim(
        id="deeper-is-better",
        text="Not expected in miniature: the deepest configuration E is more accurate than the "
        "shallowest A (Table 3's ordering), each cut to its first three stages. On 4,000 MNIST "
        "digits every depth reaches about 0.97; the paper's 2-4% differences are on ImageNet.",
        paper="top-1 val. error 29.6% (A, 11 layers), 28.7% (B), 27.0% (D), 27.3% (E, 19 layers) "
        "at single scale 256; with scale jittering E 25.5% vs D 25.6%",
        source="Table 3, Sec. 4.1",
        margins=lambda m: {"A": _acc(m, "E") - _acc(m, "A")},
        measured=lambda m: f"test accuracy A {_acc(m, 'A'):.3f}, D {_acc(m, 'main'):.3f}, "
        f"E {_acc(m, 'E'):.3f}",
        expected=False,
    ),
    Claim(
        id="imagenet-error",
        text="VGG-16 (configuration D) reaches about 25.6% top-1 / 8.1% top-5 single-net "
        "validation error on ILSVRC-2012 with scale jittering and single-scale test.",
        paper="D: 25.6% top-1, 8.1% top-5 (train scale [256, 512], test scale 384)",
        source="Table 3",
        needs=f"preset paper, {PAPER_SCALE}",
    ),
    Claim(
        id="lrn-does-not-help",
        text="Local response normalisation does not improve configuration A.",
        paper="A-LRN 29.7% top-1 vs A 29.6%",
        source="Table 3, Sec. 4.1",
        needs=f"presets vgg11-lrn and vgg11, {PAPER_SCALE}",
    ),
]
