"""Rethinking Atrous Convolution for Semantic Image Segmentation (DeepLabv3; Chen, Papandreou,
Schroff & Adam, 2017), https://arxiv.org/abs/1706.05587, and Semantic Image Segmentation with
Deep Convolutional Nets and Fully Connected CRFs (DeepLab-v1; Chen et al., ICLR 2015),
https://arxiv.org/abs/1412.7062.

Atrous (dilated) convolution y[i] = sum_k x[i + r k] w[k] (DeepLabv3 Eq. 1) samples its input
every r pixels: a classification net whose last strides are removed and whose later filters
are dilated by the removed factor computes the same filters densely, at output stride 8 or 16
instead of 32, without more parameters and without shrinking the field of view (v1 Sec. 3.1,
the "hole algorithm"; v3 Sec. 3.1). DeepLabv3 puts Atrous Spatial Pyramid Pooling on top
(Sec. 3.3, Fig. 5): a 1x1 convolution, three 3x3 convolutions with rates (6, 12, 18) at output
stride 16, and image-level features (global average pooling, 1x1 convolution, bilinear
upsampling), all with 256 filters and batch normalisation, concatenated, fused by a 1x1
convolution, then the 1x1 classifier; logits are upsampled bilinearly to the image.

Presets (`paper` and `mini` serve DeepLabv3, `paper-v1` DeepLab-v1, which links to `mini`):
- `paper`: DeepLabv3 on ResNet-50 as Sec. 3.3 describes it for PASCAL's 21 classes, output
  stride 16, multi-grid (1, 2, 4) in block4 (Sec. 3.2): 39,048,533 parameters (computed; the
  paper prints none). `torchvision`: the same with torchvision's head (an extra 3x3 conv + BN
  and dropout after ASPP) at output stride 8, rates (12, 24, 36): 39,638,869 parameters, equal
  to `torchvision.models.segmentation.deeplabv3_resnet50(aux_loss=False)`, whose weights load.
- `paper-v1`: DeepLab-LargeFOV (v1 Sec. 3.2, Table 2): VGG-16 with pool4/pool5 at stride 1,
  conv5 dilated by 2, fc6 a 3x3 convolution of 1,024 filters at rate 12, fc7 1x1 1,024:
  20,505,429 parameters (Table 2: 20.5M).
- `mini`: generated 40x40 scenes of squares and discs 7-22 px wide, told apart by shape only
  (interiors look alike, so large objects need a large field of view and small ones need a
  dense output). A CIFAR-style ResNet-10 (16-48 channels) + ASPP (117,923 parameters) trained
  twice, same parameters and recipe: `atrous` (the strides of layer3/4 replaced by rates 2/4:
  output stride 2, ASPP rates 4, 8, 12) and `strided` (the same net with its strides: output
  stride 8, logits upsampled bilinearly); baselines: per-pixel majority and a brightness
  threshold (`common.segmentation`). `--set compare="('atrous', 'no-atrous')"` adds a dense
  net with every rate 1; at this scale its field of view already covers the objects and it is
  not worse (one seed: mean IU 0.87 vs 0.85), so no claim is made about it.

Deviations from the paper:
- The ResNet backbone is `reproductions.resnet.ResNet` with the stride in the 3x3 convolution
  (torchvision's "v1.5"; the count is the same) and torchvision's dilation pattern (the first
  block of a dilated stage keeps the previous rate) unless `multi_grid` is set.
- No ImageNet pre-training, no CRF (v1 Sec. 4 post-processes with a fully connected CRF), no
  multi-scale or flipped inputs at test time (v3 Table 6).
- `mini` trains with Adam and the "poly" schedule (v3 Sec. 4: SGD, lr 0.007, power 0.9) on
  generated scenes (no download, no licence), 250 steps of batch 16.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions import resnet, vgg
from reproductions.common import segmentation as S
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "deeplabv3"


# --- blocks -------------------------------------------------------------------------------------
def set_rate(block: nn.Module, rate: int) -> None:
    """Sec. 3.1: a block's 3x3 convolutions sample every `rate` pixels and lose their stride
    (padding = rate keeps the map size); its projection shortcut loses its stride too."""
    convs = [block.conv2] if isinstance(block, resnet.Bottleneck) else [block.conv1, block.conv2]
    for conv in convs:
        conv.stride, conv.dilation, conv.padding = (1, 1), (rate, rate), (rate, rate)
    if isinstance(block.downsample, nn.Sequential):
        block.downsample[0].stride = (1, 1)


def atrous_backbone(net: resnet.ResNet, stem_stride: int, output_stride: int,
                    multi_grid: tuple[int, ...] | None, dilate: bool = True) -> None:
    """Remove the strides of layer2..4 that would take the map below 1/`output_stride` and
    dilate instead (Sec. 3.1, Fig. 3b). `multi_grid`: the last stage's unit rates are its rate
    times these (Sec. 3.2); else torchvision's pattern (first block keeps the previous rate).
    `dilate=False`: the control, same resolution but every rate 1."""
    stride, rate = stem_stride, 1
    for i, name in enumerate(("layer2", "layer3", "layer4")):
        layer = getattr(net, name)
        if stride * 2 <= output_stride:
            stride *= 2
            continue
        previous, rate = rate, rate * 2
        for j, block in enumerate(layer):
            if not dilate:
                set_rate(block, 1)
            elif multi_grid and i == 2:
                set_rate(block, rate * multi_grid[j % len(multi_grid)])
            else:
                set_rate(block, previous if j == 0 else rate)


class ASPP(nn.Module):
    """Sec. 3.3, Fig. 5: 1x1 conv, 3x3 convs at `rates`, image pooling; concat; 1x1 conv.
    Attribute names follow torchvision (`convs`, `project`) so its weights load."""

    def __init__(self, c_in: int, c: int, rates: tuple[int, ...], dropout: float):
        super().__init__()
        branch = lambda k, r: nn.Sequential(  # noqa: E731
            nn.Conv2d(c_in, c, k, padding=r if k == 3 else 0, dilation=r, bias=False),
            nn.BatchNorm2d(c), nn.ReLU())
        pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, c, 1, bias=False),
                             nn.BatchNorm2d(c), nn.ReLU())  # image-level features (Fig. 5b)
        self.convs = nn.ModuleList([branch(1, 1), *[branch(3, r) for r in rates], pool])
        self.project = nn.Sequential(nn.Conv2d(c * (len(rates) + 2), c, 1, bias=False),
                                     nn.BatchNorm2d(c), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, x):  # (B, C_in, h, w)
        outs = [m(x) for m in self.convs[:-1]]  # each (B, c, h, w)
        pooled = self.convs[-1](x)  # (B, c, 1, 1)
        outs.append(F.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=False))
        return self.project(torch.cat(outs, 1))  # (B, c, h, w)


# --- config -------------------------------------------------------------------------------------
@dataclass
class Config:
    seed: int = 0
    steps: int = 30_000  # Sec. 4: 30K iterations on PASCAL VOC 2012 trainaug
    batch_size: int = 16  # Sec. 4: batch size 16 (large, for batch normalisation)
    lr: float = 0.007  # Sec. 4: initial learning rate 0.007, "poly" policy, power 0.9
    weight_decay: float = 1e-4
    optimizer: Literal["sgd", "adam"] = "sgd"
    data_root: str | None = None  # unused: PASCAL VOC is not read by this module (see CLAIMS)
    arch: Literal["resnet", "vgg"] = "resnet"  # vgg: DeepLab-v1 (LargeFOV)
    image_size: int = 513  # Sec. 4: crop size 513
    num_classes: int = 21
    stem: Literal["imagenet", "cifar"] = "imagenet"
    block: Literal["basic", "bottleneck"] = "bottleneck"
    layers: tuple[int, ...] = (3, 4, 6, 3)  # ResNet-50
    widths: tuple[int, ...] = (64, 128, 256, 512)
    output_stride: int = 16  # Sec. 3.1: 16 for training (Table 1: 8 is better, slower)
    multi_grid: tuple[int, ...] | None = (1, 2, 4)  # Sec. 3.2, Table 5: block4 unit rates
    aspp_rates: tuple[int, ...] = (6, 12, 18)  # Sec. 3.3: at output stride 16, doubled at 8
    aspp_stride: int = 16  # the output stride `aspp_rates` are given for
    aspp_channels: int = 256  # Sec. 3.3: "all with 256 filters and batch normalization"
    head_conv: bool = False  # torchvision's extra 3x3 conv + BN after ASPP (not in the paper)
    dropout: float = 0.0  # torchvision: 0.5 after ASPP's projection
    atrous: bool = True  # False: every rate 1 (the no-atrous control: small field of view)
    compare: tuple[str, ...] = ()  # mini: "atrous", "strided" (or "no-atrous"), same recipe
    fc_dim: int = 1024  # v1: fc6 / fc7 channels of DeepLab-LargeFOV (Table 2)
    fc6_rate: int = 12  # v1 Table 2: LargeFOV, 3x3 kernel, input stride 12
    train_size: int = 800
    test_size: int = 200


# --- model --------------------------------------------------------------------------------------
class DeepLabV3(nn.Module):
    """`backbone` (ResNet conv1 .. layer4, dilated) -> `classifier` (ASPP, 1x1 logits) ->
    bilinear upsampling to the input size."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.backbone = resnet.ResNet(resnet.Config(
            stem=cfg.stem, block=cfg.block, layers=cfg.layers, widths=cfg.widths, in_channels=3,
            shortcut="B", stride_in_3x3=True))
        del self.backbone.fc  # torchvision's backbone has no classifier either
        stem_stride = 4 if cfg.stem == "imagenet" else 1
        scale = cfg.aspp_stride / cfg.output_stride  # Sec. 3.3: rates double when it halves
        rates = tuple(max(1, round(r * scale)) if cfg.atrous else 1 for r in cfg.aspp_rates)
        atrous_backbone(self.backbone, stem_stride, cfg.output_stride, cfg.multi_grid,
                        dilate=cfg.atrous)
        c_last = cfg.widths[-1] * (4 if cfg.block == "bottleneck" else 1)
        head = [ASPP(c_last, cfg.aspp_channels, rates, cfg.dropout)]
        if cfg.head_conv:
            head += [nn.Conv2d(cfg.aspp_channels, cfg.aspp_channels, 3, padding=1, bias=False),
                     nn.BatchNorm2d(cfg.aspp_channels), nn.ReLU()]
        self.classifier = nn.Sequential(*head, nn.Conv2d(cfg.aspp_channels, cfg.num_classes, 1))

    def forward(self, x):  # (B, 3, H, W)
        b = self.backbone
        h = b.maxpool(F.relu(b.bn1(b.conv1(x))))  # (B, c0, H/s0, W/s0)
        h = b.layer4(b.layer3(b.layer2(b.layer1(h))))  # (B, c4, H/os, W/os)
        logits = self.classifier(h)  # (B, K, H/os, W/os)
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


class DeepLabV1(nn.Module):
    """v1 Sec. 3.1-3.2: VGG-16 whose pool4 and pool5 keep the resolution (3x3, stride 1, as in
    the authors' model), conv5 at rate 2, fc6 3x3 at rate 12 (LargeFOV), fc7, fc8; the stride-8
    scores are upsampled bilinearly (Sec. 3.1)."""

    def __init__(self, cfg: Config):
        super().__init__()
        features = vgg.VGG(vgg.Config(configuration="D", image_size=32, fc_dim=1,
                                      num_classes=1)).features
        pools = [i for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)]
        for i in pools[:3]:
            features[i] = nn.MaxPool2d(3, 2, padding=1)
        for i in pools[3:]:
            features[i] = nn.MaxPool2d(3, 1, padding=1)  # "skip subsampling" (Sec. 3.1)
        for m in features[pools[3] + 1:pools[4]]:
            if isinstance(m, nn.Conv2d):  # conv5 sees pool4's map, now twice as dense
                m.dilation, m.padding = (2, 2), (2, 2)
        self.features = features
        r = cfg.fc6_rate
        self.fc6 = nn.Conv2d(512, cfg.fc_dim, 3, padding=r, dilation=r)
        self.fc7 = nn.Conv2d(cfg.fc_dim, cfg.fc_dim, 1)
        self.fc8 = nn.Conv2d(cfg.fc_dim, cfg.num_classes, 1)
        self.drop = nn.Dropout2d(0.5)

    def forward(self, x):  # (B, 3, H, W)
        h = self.drop(F.relu(self.fc6(self.features(x))))  # (B, fc, H/8, W/8)
        logits = self.fc8(self.drop(F.relu(self.fc7(h))))  # (B, K, H/8, W/8)
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


def build_model(cfg: Config) -> nn.Module:
    return DeepLabV1(cfg) if cfg.arch == "vgg" else DeepLabV3(cfg)


# --- presets ------------------------------------------------------------------------------------
_MINI = Config(
    steps=250, batch_size=16, lr=3e-3, weight_decay=0.0, optimizer="adam", image_size=40,
    num_classes=3, stem="cifar", block="basic", layers=(1, 1, 1, 1), widths=(16, 24, 32, 48),
    output_stride=2, multi_grid=None, aspp_rates=(4, 8, 12), aspp_stride=2, aspp_channels=32)
PRESETS = {
    "paper": Config(),  # 39,048,533 (computed: Sec. 3.3 head on ResNet-50)
    "torchvision": Config(output_stride=8, multi_grid=None, head_conv=True, dropout=0.5),
    "paper-v1": Config(arch="vgg", output_stride=8, lr=1e-3, batch_size=20,
                       steps=6_000),  # DeepLab-LargeFOV: 20,505,429 (v1 Table 2: 20.5M)
    "mini": dataclasses.replace(_MINI, compare=("atrous", "strided")),
    "tiny": dataclasses.replace(_MINI, steps=3, batch_size=4, widths=(4, 4, 8, 8),
                                aspp_channels=8, image_size=24, train_size=8, test_size=4),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`atrous` (dilated, dense), `strided` (the same net with its strides: output stride 8),
    `no-atrous` (dense, every rate 1) for `compare`; else `main`."""
    base = dataclasses.replace(cfg, compare=())
    kinds = {"atrous": {}, "strided": {"output_stride": 8}, "no-atrous": {"atrous": False}}
    return {k: dataclasses.replace(base, **kinds[k]) for k in cfg.compare} or {"main": base}


# --- data ---------------------------------------------------------------------------------------
def context_scenes(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, S, S) images in [0, 1], labels (n, S, S): 0 background, 1 square (rotated),
    2 disc; 1-3 objects 0.17-0.55 S wide, each filled with the same kind of colour and noise, so
    only the outline tells the class: a pixel deep inside a large object needs a field of view
    as large as the object, a small object a dense output (`segmentation.outline_scenes`)."""
    def half_width(gen: torch.Generator) -> torch.Tensor:
        return size * (0.085 + 0.19 * torch.rand((), generator=gen))

    images, labels, _ = S.outline_scenes(n, size, seed, half_width)
    return images, labels


def scenes(cfg: Config):
    """`(x_train, y_train, x_test, y_test)`, the same for every variant of a run."""
    if cfg.num_classes != 3:
        raise ConfigError("the generated scenes have 3 classes (background, square, disc)")
    xtr, ytr = context_scenes(cfg.train_size, cfg.image_size, seed=2 * cfg.seed)
    xte, yte = context_scenes(cfg.test_size, cfg.image_size, seed=2 * cfg.seed + 1)
    return xtr, ytr, xte, yte


def build_data(cfg: Config):
    return S.scene_loaders(scenes(cfg), cfg.batch_size, cfg.seed)


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """Per-pixel majority class and a brightness threshold, fitted on the training scenes."""
    return S.pixel_baselines(scenes(cfg), cfg.num_classes)


# --- training and evaluation --------------------------------------------------------------------
def build_optimizer(model: nn.Module, cfg: Config):
    """Sec. 4: SGD (momentum 0.9) with lr * (1 - step/steps)^0.9 ("poly"); Adam for `mini`."""
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9,
                              weight_decay=cfg.weight_decay)
    poly = lambda s: max(0.0, 1 - s / cfg.steps) ** 0.9  # noqa: E731
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, poly)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, 3, H, W), (B, H, W)
    logits = model(x)  # (B, K, H, W)
    return {"loss": F.cross_entropy(logits, y, ignore_index=255),
            "pixel_accuracy": (logits.argmax(1) == y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Mean IU (the papers' metric) and pixel accuracy within 2 px of a label change."""
    x, y = eval_data["test"]
    pred = S.predict(model, x)
    band = S.boundary_band(y, 2)
    return S.scores(S.confusion(pred, y, cfg.num_classes)) | {
        "boundary_accuracy": float((pred == y)[band].float().mean())}


# --- claims -------------------------------------------------------------------------------------
def _miou(m, v):
    return m[v]["mean_iou"]


CLAIMS = [
    Claim(
        id="atrous-vs-strided",
        text="Replacing the last strides by atrous convolution (output stride 2 instead of 8, the "
        "same parameters) raises mean IU by at least 0.05: the dense features place the small "
        "objects and the outlines that the strided net's upsampled logits blur.",
        paper="output stride 8: 75.18 mIOU, 16: 73.88, 32: 70.06 (ResNet-50, block7, PASCAL val)",
        source="Table 1, Sec. 3.1",
        margins=lambda m: {"strided": _miou(m, "atrous") - _miou(m, "strided") - 0.05},
        measured=lambda m: f"atrous {_miou(m, 'atrous'):.3f}, strided {_miou(m, 'strided'):.3f}",
    ),
    Claim(
        id="hole-algorithm-boundaries",
        text="DeepLab-v1's reason for the hole algorithm: dense scores are sharper at object "
        "borders; within 2 px of a label change the atrous net's pixel accuracy is at least "
        "0.05 above the strided net's.",
        paper="skip subsampling after the last two max-pooling layers and dilate the filters "
        "(stride 8 instead of 32), then bilinear interpolation (DeepLab-v1)",
        source="DeepLab-v1 Sec. 3.1",
        margins=lambda m: {"strided": m["atrous"]["boundary_accuracy"]
                           - m["strided"]["boundary_accuracy"] - 0.05},
        measured=lambda m: "boundary accuracy " + ", ".join(
            f"{v} {m[v]['boundary_accuracy']:.3f}" for v in ("atrous", "strided")),
    ),
    Claim(
        id="beats-trivial",
        text="The atrous net's mean IU beats the per-pixel majority class and a brightness "
        "threshold fitted on the training scenes by at least 0.2.",
        paper="DeepLabv3 85.7% mIOU on PASCAL VOC 2012 test",
        source="Table 7",
        margins=lambda m: {b: _miou(m, "atrous") - _miou(m, b) - 0.2
                           for b in ("majority", "threshold")},
        measured=lambda m: f"atrous {_miou(m, 'atrous'):.3f}, majority "
        f"{_miou(m, 'majority'):.3f}, threshold {_miou(m, 'threshold'):.3f}",
    ),
    Claim(
        id="voc2012-v3",
        text="DeepLabv3 (ResNet-101, ImageNet + COCO pre-training) reaches 85.7 mIOU on PASCAL "
        "VOC 2012 test.",
        paper="85.7% (Table 7)",
        source="Table 7",
        needs="preset paper with layers=(3, 4, 23, 3), ImageNet/COCO pre-training, VOC 2012 "
        "trainaug (data_root; no VOC loader in this module)",
    ),
    Claim(
        id="voc2012-v1",
        text="DeepLab-CRF-LargeFOV reaches 70.3 mean IOU on PASCAL VOC 2012 test with 20.5M "
        "parameters, as good as the 134.3M-parameter 7x7 fc6 on val.",
        paper="LargeFOV 67.64 val (7x7: 67.64) at 20.5M vs 134.3M parameters; 70.3 test",
        source="DeepLab-v1 Table 2, Table 1",
        needs="preset paper-v1 from ImageNet VGG-16, a fully connected CRF (not implemented), "
        "VOC 2012 (data_root)",
    ),
]
