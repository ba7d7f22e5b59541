"""Deformable Convolutional Networks (Dai, Qi, Xiong, Li, Zhang, Hu & Wei, ICCV 2017).

https://arxiv.org/abs/1703.06211

A regular convolution samples its input on a fixed grid R around each output location p0,
y(p0) = sum_n w(p_n) x(p0 + p_n) (Eq. 1). A deformable convolution adds a learned offset to
every sampling point, y(p0) = sum_n w(p_n) x(p0 + p_n + dp_n) (Eq. 2); the fractional
locations are read by bilinear interpolation, x(p) = sum_q G(q, p) x(q) with
G(q, p) = g(q_x, p_x) g(q_y, p_y), g(a, b) = max(0, 1 - |a - b|) (Eq. 3-4). The offsets come
from a plain convolution over the same input, with 2N output channels: a (dy, dx) per kernel
point and output location (Sec. 2.1, Fig. 2), so the sampling grid, and with it the receptive
field, adapts to the content: larger on large objects (Sec. 3, Fig. 5, Table 2).

Presets: `paper` = ResNet-101 whose three 3x3 convolutions in res5 (res5a, res5b, res5c) are
deformable, the best setting of Table 1, with res5's stride removed and its 3x3 convolutions
dilated by 2 (output stride 16, Sec. 2.3), and the 1000-class ImageNet head kept: 44,798,046
parameters (computed: `resnet`'s resnet101, 44,549,160, plus three 3x3 offset convolutions of
512 -> 18 channels, 82,962 each; the paper's Table 4 counts whole detection/segmentation
systems, not this backbone). `mini`: segmentation of generated rotated squares and discs whose
width varies 9-fold, 6-56 px in 64 px images (`scale_scenes`; every object is filled with the
same kind of colour and noise, so only its outline tells the class, and a pixel inside a large
object needs a receptive field as large as the object: Sec. 3's geometric variation in scale).
The net: three 3x3 convolutions down to stride 4, then three 3x3 layers whose last two are
deformable (like res5b,c in Table 1: `deformable`, width 32, 45,815 parameters) or plain
(`plain`, width 38: 47,681, more than the deformable net, so the offsets' parameters are not
what it lacks), a 1x1 classifier and x4 bilinear upsampling, trained the same way; baselines:
per-pixel majority and a brightness threshold. The plain net's receptive field is 33 px, less
than the large objects; the deformable layers' offsets can widen it where it is needed.
Generated with torch from the seed: no download, no licence.

Deviations from the paper:
- `deform_conv2d` is Eq. 2-4 written out with `gather`; it equals
  `torchvision.ops.deform_conv2d` (tested) and is about 5x faster on a CPU, where `DeformConv2d`
  runs it (torchvision's compiled kernel on a GPU); one offset group, no deformable RoI pooling
  (Sec. 2.2) since nothing here is detected.
- The backbone uses the stride on the first 1x1 as in `reproductions.resnet`'s paper layout.
- `mini` trains from scratch with AdamW at one learning rate (the paper scales the offset
  layers' learning rate and starts from ImageNet weights), 400 steps of batch 16; two of its
  three last layers are deformable (in a 48 px trial, seed 0, three scored mean IU 0.79, two
  0.85, and cost more CPU).
- The gain needs objects larger than the plain net's receptive field: in trials with objects
  5-40 px in 48 px images, mostly inside its 33 px field, the plain net matched or beat the
  deformable one (seed 0: 0.86 vs 0.79-0.86).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.ops as tv_ops

from reproductions import resnet
from reproductions.common import segmentation as S
from reproductions.common.claims import Claim

PAPER = "deformable-conv"


# --- Eq. 2-4 ------------------------------------------------------------------------------------
def deform_conv2d(x, offset, weight, bias=None, stride: int = 1, padding: int = 0,
                  dilation: int = 1) -> torch.Tensor:
    """y(p0) = sum_n w(p_n) x(p0 + p_n + dp_n) (Eq. 2). `offset` (B, 2N, Ho, Wo) holds (dy, dx)
    per kernel point n, row-major, as torchvision lays it out; x outside the map is 0."""
    B, C, H, W = x.shape  # (B, C, H, W)
    c_out, _, kh, kw = weight.shape
    n = kh * kw
    ho, wo = offset.shape[-2:]
    ky, kx = torch.meshgrid(torch.arange(kh, device=x.device) * dilation,
                            torch.arange(kw, device=x.device) * dilation, indexing="ij")
    base_y = (torch.arange(ho, device=x.device) * stride - padding)[None, :, None] \
        + ky.reshape(n, 1, 1)  # (N, Ho, 1): p0 + p_n, rows
    base_x = (torch.arange(wo, device=x.device) * stride - padding)[None, None, :] \
        + kx.reshape(n, 1, 1)  # (N, 1, Wo)
    off = offset.view(B, n, 2, ho, wo)  # (B, N, 2, Ho, Wo)
    py, px = base_y + off[:, :, 0], base_x + off[:, :, 1]  # (B, N, Ho, Wo): p0 + p_n + dp_n
    y0, x0 = py.floor(), px.floor()
    flat = x.reshape(B, C, H * W)
    cols = x.new_zeros(B, C, n * ho * wo)
    for qy in (y0, y0 + 1):  # Eq. 3: G(q, p) is non-zero only for the four integer neighbours
        for qx in (x0, x0 + 1):
            g = (1 - (qy - py).abs()) * (1 - (qx - px).abs())  # Eq. 4: g(q_y, p_y) g(q_x, p_x)
            inside = (qy >= 0) & (qy < H) & (qx >= 0) & (qx < W)
            idx = (qy.clamp(0, H - 1) * W + qx.clamp(0, W - 1)).long().view(B, 1, -1)
            cols += flat.gather(2, idx.expand(B, C, -1)) * (g * inside).view(B, 1, -1)
    cols = cols.view(B, C * n, ho * wo)  # (B, C*N, Ho*Wo): channel-major, like weight.view
    y = torch.matmul(weight.reshape(c_out, C * n), cols)  # (B, C_out, Ho*Wo)
    if bias is not None:
        y = y + bias[None, :, None]
    return y.view(B, c_out, ho, wo)


class DeformConv2d(nn.Module):
    """A 3x3 convolution whose sampling grid is shifted by offsets that a plain convolution of
    the same size, stride and dilation predicts from the same input (Sec. 2.1, Fig. 2); the
    offset convolution starts at zero, so training starts from the regular grid."""

    def __init__(self, c_in: int, c_out: int, k: int = 3, stride: int = 1, padding: int = 1,
                 dilation: int = 1, bias: bool = False):
        super().__init__()
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = nn.Parameter(torch.empty(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
        self.offset = nn.Conv2d(c_in, 2 * k * k, k, stride, padding, dilation)  # 2N channels
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)

    def forward(self, x):  # (B, C, H, W)
        offset = self.offset(x)  # (B, 2N, Ho, Wo)
        # the same numbers (tested): torchvision's compiled kernel on a GPU; on a CPU it is
        # about 5x slower than the gathers of Eq. 2-4 below
        f = tv_ops.deform_conv2d if x.is_cuda else deform_conv2d
        return f(x, offset, self.weight, self.bias, stride=self.stride, padding=self.padding,
                 dilation=self.dilation)


def sampling_spread(layer: DeformConv2d, x: torch.Tensor) -> torch.Tensor:
    """(B, Ho, Wo) mean distance between horizontally or vertically adjacent sampling points
    divided by their distance on the regular grid: 1 for a plain convolution, above 1 where the
    offsets spread the grid out (the "effective dilation" of Table 2)."""
    k = layer.weight.shape[-1]
    off = layer.offset(x)  # (B, 2N, Ho, Wo)
    off = off.view(len(x), k, k, 2, *off.shape[-2:])  # (B, k, k, 2, Ho, Wo)
    grid = torch.stack(torch.meshgrid(torch.arange(k), torch.arange(k), indexing="ij"),
                       -1).float() * layer.dilation  # (k, k, 2): p_n
    pos = off + grid[None, :, :, :, None, None]  # (B, k, k, 2, Ho, Wo): p_n + dp_n
    dv = (pos[:, 1:] - pos[:, :-1]).norm(dim=3).mean((1, 2))  # vertical neighbours
    dh = (pos[:, :, 1:] - pos[:, :, :-1]).norm(dim=3).mean((1, 2))  # horizontal neighbours
    return (dv + dh) / (2 * layer.dilation)


# --- config -------------------------------------------------------------------------------------
@dataclass
class Config:
    seed: int = 0
    steps: int = 30_000  # Sec. 4.1: DeepLab on VOC, 30k iterations (the detectors train longer)
    batch_size: int = 4
    lr: float = 1e-3
    data_root: str | None = None  # unused: VOC / COCO are not read by this module (see CLAIMS)
    arch: Literal["resnet", "mini"] = "resnet"
    layers: tuple[int, ...] = (3, 4, 23, 3)  # ResNet-101
    num_classes: int = 1000
    deformable: bool = True  # False: the plain control (same layers, no offsets)
    deformable_layers: int = 2  # mini: how many of the three 3x3 layers, the last ones
    compare: bool = False  # mini: train the deformable and the plain net the same way
    width: int = 32  # mini: channels of the three 3x3 layers at stride 4
    plain_width: int = 38  # mini: the plain control's, for at least as many parameters
    image_size: int = 64
    min_width: float = 6.0  # mini: object widths, log-uniform between these (px)
    max_width: float = 56.0
    train_size: int = 800
    test_size: int = 200


# --- models -------------------------------------------------------------------------------------
def deformable_resnet(cfg: Config) -> resnet.ResNet:
    """Sec. 2.3 and Table 1 (res5a,b,c): res5's 3x3 convolutions become deformable, its stride
    is removed and the 3x3 convolutions dilated by 2 (output stride 16)."""
    net = resnet.ResNet(dataclasses.replace(
        resnet.PRESETS["resnet101"], layers=cfg.layers, num_classes=cfg.num_classes))
    net.layer4[0].conv1.stride = (1, 1)
    net.layer4[0].downsample[0].stride = (1, 1)
    for block in net.layer4:
        c = block.conv2.in_channels
        block.conv2 = DeformConv2d(c, c, 3, 1, 2, 2) if cfg.deformable \
            else nn.Conv2d(c, c, 3, 1, 2, 2, bias=False)
    return net


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class MiniNet(nn.Module):
    """3x3 -> 3x3 stride 2 -> 3x3 stride 2 -> three 3x3 layers, the last `deformable_layers`
    deformable -> 1x1 -> x4: receptive field 9 px after the stem, 33 px after three plain 3x3
    layers at stride 4."""

    def __init__(self, cfg: Config):
        super().__init__()
        c = cfg.width
        deform = range(3 - cfg.deformable_layers, 3) if cfg.deformable else ()
        self.stem = nn.Sequential(*_conv_bn(3, 16), *_conv_bn(16, 16, 2), *_conv_bn(16, c, 2))
        self.layers = nn.ModuleList([DeformConv2d(c, c) if i in deform
                                     else nn.Conv2d(c, c, 3, padding=1, bias=False)
                                     for i in range(3)])
        self.norms = nn.ModuleList([nn.BatchNorm2d(c) for _ in range(3)])
        self.classifier = nn.Conv2d(c, 3, 1)

    def features(self, x, upto: int = 3):  # (B, 3, H, W) -> (B, c, H/4, W/4)
        h = self.stem(x)
        for conv, norm in zip(self.layers[:upto], self.norms[:upto], strict=True):
            h = F.relu(norm(conv(h)))
        return h

    def forward(self, x):  # (B, 3, H, W)
        logits = self.classifier(self.features(x))  # (B, 3, H/4, W/4)
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


def build_model(cfg: Config) -> nn.Module:
    return MiniNet(cfg) if cfg.arch == "mini" else deformable_resnet(cfg)


# --- presets ------------------------------------------------------------------------------------
_MINI = Config(arch="mini", num_classes=3, steps=400, batch_size=16, lr=3e-3)
PRESETS = {
    "paper": Config(),  # 44,798,046 (computed)
    "mini": dataclasses.replace(_MINI, compare=True),  # 45,815 (plain, width 38: 47,681)
    "tiny": dataclasses.replace(_MINI, steps=3, batch_size=4, width=8, plain_width=8,
                                image_size=24, min_width=4.0, max_width=16.0, train_size=8,
                                test_size=4),
}


def variants(cfg: Config) -> dict[str, Config]:
    base = dataclasses.replace(cfg, compare=False)
    if cfg.compare:
        return {"deformable": base,
                "plain": dataclasses.replace(base, deformable=False, width=cfg.plain_width)}
    return {"main": base}


# --- data ---------------------------------------------------------------------------------------
def scale_scenes(n: int, size: int, seed: int, min_width: float, max_width: float):
    """`segmentation.outline_scenes` (rotated squares and discs told apart by their outline)
    with 1-3 objects of log-uniform width in [min_width, max_width]: images, labels and each
    pixel's object width (0 on the background)."""
    def half_width(gen: torch.Generator) -> float:
        return min_width * (max_width / min_width) ** float(torch.rand((), generator=gen)) / 2

    return S.outline_scenes(n, size, seed, half_width)


_cached_scenes = functools.lru_cache(maxsize=4)(scale_scenes)


def scenes(cfg: Config):
    """`(x_train, y_train, x_test, y_test, test widths)`, the same for every variant of a run
    (generated once: both variants and the baselines read them; nothing writes to them)."""
    make = lambda n, s: _cached_scenes(n, cfg.image_size, s, cfg.min_width,  # noqa: E731
                                       cfg.max_width)
    xtr, ytr, _ = make(cfg.train_size, 2 * cfg.seed)
    xte, yte, wte = make(cfg.test_size, 2 * cfg.seed + 1)
    return xtr, ytr, xte, yte, wte


def build_data(cfg: Config):
    *four, widths = scenes(cfg)
    loader, test = S.scene_loaders(four, cfg.batch_size, cfg.seed)
    return loader, test | {"widths": widths}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    return S.pixel_baselines(scenes(cfg)[:4], 3)


# --- training and evaluation --------------------------------------------------------------------
SMALL, LARGE = 12.0, 24.0  # px: objects narrower than SMALL / at least LARGE wide


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, 3, H, W), (B, H, W)
    logits = model(x)  # (B, K, H, W)
    return {"loss": F.cross_entropy(logits, y),
            "pixel_accuracy": (logits.argmax(1) == y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Mean IU on the test scenes, pixel accuracy on small (< 12 px) and large (>= 24 px)
    objects; for a deformable net also the last layer's sampling spread (Table 2's effective
    dilation) on the background and on small and large objects (Fig. 5)."""
    x, y = eval_data["test"]
    widths = eval_data["widths"]  # (N, H, W)
    pred = S.predict(model, x)
    out = S.scores(S.confusion(pred, y, 3))
    out |= _by_size("accuracy", (pred == y).float(), widths)
    if isinstance(model, MiniNet) and isinstance(model.layers[-1], DeformConv2d):
        spread = torch.cat([sampling_spread(model.layers[-1], model.features(x[i:i + 50], 2))
                            for i in range(0, len(x), 50)])  # (N, H/4, W/4)
        # the input pixel at each stride-4 output's centre
        out |= _by_size("spread", spread, widths[:, ::4, ::4], background=True)
    return out


def _by_size(name: str, values, widths, background: bool = False) -> dict[str, float]:
    """Means of `values` over small and large objects' pixels (and the background's), each
    only where the scenes have such pixels (`tiny` has no large objects)."""
    masks = {"small": (widths > 0) & (widths < SMALL), "large": widths >= LARGE}
    if background:
        masks["background"] = widths == 0
    return {f"{name}_{k}": float(values[m].mean()) for k, m in masks.items() if m.any()}


# --- claims -------------------------------------------------------------------------------------
def _miou(m, v):
    return m[v]["mean_iou"]


CLAIMS = [
    Claim(
        id="deformable-beats-plain",
        text="With the last two of its 3x3 layers at stride 4 deformable, the small net's mean "
        "IU on squares and discs 6-56 px wide is at least 0.05 above the same net with plain "
        "3x3 layers, widened to more parameters, trained the same way: the plain net's 33 px "
        "receptive field cannot see the outline of a large object from its middle.",
        paper="DeepLab mIoU 69.7 (no deformable conv) -> 75.2 (res5a,b,c deformable) on VOC "
        "2012 val",
        source="Table 1",
        margins=lambda m: {"plain": _miou(m, "deformable") - _miou(m, "plain") - 0.05},
        measured=lambda m: f"deformable {_miou(m, 'deformable'):.3f}, "
        f"plain {_miou(m, 'plain'):.3f}; accuracy on large objects "
        f"{m['deformable']['accuracy_large']:.2f} vs {m['plain']['accuracy_large']:.2f}, "
        f"small {m['deformable']['accuracy_small']:.2f} vs {m['plain']['accuracy_small']:.2f}",
    ),
    Claim(
        id="offsets-spread",
        text="The learned offsets spread the sampling grid out further on large objects than "
        "on small ones: adjacent sampling points of the last deformable layer are on average "
        "at least 0.3 (in units of the regular grid's spacing) further apart on objects 24 px "
        "wide or more than on objects under 12 px. (Unlike Table 2, the background's "
        "spread stays near 1 here: a flat background needs no context to be labelled.)",
        paper="the effective dilation of the deformable filters grows with object size (small, "
        "medium, large) and is largest on the background",
        source="Table 2, Fig. 5",
        margins=lambda m: {"small objects": m["deformable"]["spread_large"]
                           - m["deformable"]["spread_small"] - 0.3},
        measured=lambda m: f"spread: large objects {m['deformable']['spread_large']:.2f}, small "
        f"{m['deformable']['spread_small']:.2f}, background "
        f"{m['deformable']['spread_background']:.2f} (regular grid 1)",
    ),
    Claim(
        id="beats-trivial",
        text="The deformable net's mean IU beats the per-pixel majority class and a brightness "
        "threshold fitted on the training scenes by at least 0.15.",
        paper="DeepLab with deformable res5: 75.2 mIoU on VOC 2012 val",
        source="Table 1",
        margins=lambda m: {b: _miou(m, "deformable") - _miou(m, b) - 0.15
                           for b in ("majority", "threshold")},
        measured=lambda m: f"deformable {_miou(m, 'deformable'):.3f}, majority "
        f"{_miou(m, 'majority'):.3f}, threshold {_miou(m, 'threshold'):.3f}",
    ),
    Claim(
        id="voc-deeplab",
        text="Deformable convolution in res5 of ResNet-101 raises DeepLab's VOC 2012 val mIoU "
        "from 69.7 to 75.2.",
        paper="69.7 -> 75.2 mIoU@V",
        source="Table 1",
        needs="preset paper from ImageNet weights inside DeepLab (deeplab module's head), VOC "
        "2012 (data_root; no VOC loader here)",
    ),
]
