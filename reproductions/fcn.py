"""Fully Convolutional Networks for Semantic Segmentation (Long, Shelhamer & Darrell, CVPR 2015).

https://arxiv.org/abs/1411.4038

A classification net becomes fully convolutional by casting its fully connected layers as
convolutions (Sec. 3.1, Fig. 2): it then maps an image of any size to a coarse map of class
scores. In-network upsampling by backwards-strided convolution ("deconvolution", Sec. 3.3),
initialised to bilinear interpolation, brings the scores back to pixels. The skip architecture
(Sec. 4.2, Fig. 3) fuses the coarse, semantic stride-32 predictions with finer ones scored from
pool4 and pool3: FCN-32s -> FCN-16s -> FCN-8s, each finer net segmenting more detail
(Table 2: 59.4 -> 62.4 -> 62.7 mean IU; Fig. 4).

Presets: `paper` = FCN-8s on VGG-16 for PASCAL's 21 classes (134,489,759 parameters, counted
as the authors' Caffe model has them: fc6 a 7x7 convolution, bias-free deconvolutions, the last
one fixed to bilinear; Table 1 gives 134M for FCN-VGG16); `paper-32s`, `paper-16s`. `mini`:
Table 2 / Fig. 4 in miniature on generated 64x64 scenes (`common.segmentation.shape_scenes`: thin
bars, small squares, discs, told apart by shape, not colour) with a VGG-11-shaped backbone of
8-32 channels (stride 32 leaves a 2x2 map): FCN-32s, -16s and -8s trained the same way in one
run; the trivial baselines (per-pixel majority, brightness threshold) on the same test images.

Deviations from the paper:
- No ImageNet initialisation (nothing is downloaded): every net trains from scratch, and the
  16s / 8s nets are trained directly, not initialised from the coarser net (Sec. 4.2 trains in
  stages; its "at-once" variant trains FCN-8s in one go, as here).
- 'Same' padding in fc6 and no 100-pixel input padding with crop layers: every map stays
  aligned at stride 2^s, so skip fusion needs no crop offsets.
- `mini` uses Adam and BatchNorm in the small backbone (SGD with momentum, Sec. 4.3, is the
  `paper` preset's optimizer) and a 3x3 fc6 on its 2x2 pool5 map.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions import vgg
from reproductions.common import segmentation as S
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "fcn"
IGNORE = 255  # PASCAL's "void" label (object borders), left out of loss and scores


# --- blocks -------------------------------------------------------------------------------------
def bilinear_kernel(channels: int, factor: int) -> torch.Tensor:
    """(C, C, 2f, 2f) weights of a deconvolution that upsamples by `factor` with bilinear
    interpolation, channel by channel (Sec. 3.3: "a deconvolution filter ... initialized to
    bilinear interpolation")."""
    k = 2 * factor
    centre = (k - 1) / 2
    ramp = 1 - (torch.arange(k, dtype=torch.float32) - centre).abs() / factor  # (k,)
    weight = torch.zeros(channels, channels, k, k)
    weight[range(channels), range(channels)] = ramp[:, None] * ramp[None, :]
    return weight


def upsampler(channels: int, factor: int, learned: bool) -> nn.ConvTranspose2d:
    """Backwards-strided convolution, stride f, output exactly f times the input (Sec. 3.3)."""
    up = nn.ConvTranspose2d(channels, channels, 2 * factor, factor, factor // 2, bias=False)
    with torch.no_grad():
        up.weight.copy_(bilinear_kernel(channels, factor))
    up.weight.requires_grad_(learned)  # Sec. 4.3: the final upsampling stays bilinear
    return up


# --- config -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    seed: int = 0
    steps: int = 100_000  # Sec. 4.3 trains to convergence; 175 epochs of SBD for FCN-32s
    batch_size: int = 20  # Sec. 4.3: "minibatch size 20 images"
    lr: float = 1e-4  # Sec. 4.3: "fixed learning rates of ... 10^-4 ... for FCN-VGG16"
    momentum: float = 0.9  # Sec. 4.3
    weight_decay: float = 5e-4  # Sec. 4.3: "weight decay of 5^-4 or 2^-4" (read 5e-4)
    optimizer: Literal["sgd", "adam"] = "sgd"
    data_root: str | None = None  # unused: PASCAL VOC is not read by this module (see CLAIMS)
    image_size: int = 224  # scenes generated at this side (PASCAL images are up to 500x500)
    num_classes: int = 21  # PASCAL VOC: 20 classes + background
    configuration: str = "D"  # vgg.CONFIGURATIONS: D = VGG-16 (Sec. 3.1, Table 1)
    widths: tuple[int, ...] = (64, 128, 256, 512, 512)  # VGG-16's channels per stage
    fc_dim: int = 4096  # fc6 / fc7 as convolutions (Sec. 3.1)
    fc6_kernel: int = 7  # VGG's fc6 sees pool5's 7x7 map: a 7x7 convolution
    dropout: float = 0.5  # Sec. 4.3: kept where the classifier net had it (fc6, fc7)
    batch_norm: bool = False
    skips: Literal["32s", "16s", "8s"] = "8s"  # Sec. 4.2, Fig. 3: the finest layer fused
    compare_skips: tuple[str, ...] = ()  # mini: one variant per stride, trained the same way
    train_size: int = 1000  # generated training scenes
    test_size: int = 200  # generated test scenes


STRIDE = {"32s": 32, "16s": 16, "8s": 8}


# --- model --------------------------------------------------------------------------------------
class FCN(nn.Module):
    """VGG `features` split at pool3 / pool4 / pool5 -> fc6, fc7 as convolutions -> class scores;
    `score_pool4`, `score_pool3` and the 2x upsamplers fuse the finer layers (Fig. 3)."""

    def __init__(self, cfg: Config):
        super().__init__()
        if len(cfg.widths) != 5 or cfg.image_size % 32:
            raise ConfigError("FCN needs five VGG stages (stride 32) and image_size % 32 == 0")
        features = vgg.VGG(vgg.Config(configuration=cfg.configuration, widths=cfg.widths,
                                      batch_norm=cfg.batch_norm, image_size=32, fc_dim=1,
                                      num_classes=1)).features
        pools = [i for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)]
        self.to_pool3 = features[:pools[2] + 1]  # stride 8
        self.to_pool4 = features[pools[2] + 1:pools[3] + 1]  # stride 16
        self.to_pool5 = features[pools[3] + 1:]  # stride 32
        k, c5 = cfg.num_classes, cfg.widths[4]
        self.fc6 = nn.Conv2d(c5, cfg.fc_dim, cfg.fc6_kernel, padding=cfg.fc6_kernel // 2)
        self.fc7 = nn.Conv2d(cfg.fc_dim, cfg.fc_dim, 1)
        self.drop = nn.Dropout2d(cfg.dropout)
        self.score_fr = nn.Conv2d(cfg.fc_dim, k, 1)
        self.skips = cfg.skips
        if cfg.skips in ("16s", "8s"):
            self.score_pool4 = nn.Conv2d(cfg.widths[3], k, 1)
            self.upscore2 = upsampler(k, 2, learned=True)  # Sec. 4.2: bilinear, then learned
        if cfg.skips == "8s":
            self.score_pool3 = nn.Conv2d(cfg.widths[2], k, 1)
            self.upscore_pool4 = upsampler(k, 2, learned=True)
        for m in (getattr(self, n, None) for n in ("score_pool4", "score_pool3")):
            if m is not None:  # Sec. 4.2: new layers start at zero, so fusing starts as 32s
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
        self.upscore = upsampler(k, STRIDE[cfg.skips], learned=False)

    def forward(self, x):  # (B, C, H, W)
        pool3 = self.to_pool3(x)  # (B, c3, H/8, W/8)
        pool4 = self.to_pool4(pool3)  # (B, c4, H/16, W/16)
        h = self.drop(F.relu(self.fc6(self.to_pool5(pool4))))  # (B, fc, H/32, W/32)
        score = self.score_fr(self.drop(F.relu(self.fc7(h))))  # (B, K, H/32, W/32)
        if self.skips in ("16s", "8s"):  # Fig. 3: 2x upsample, sum with pool4's scores
            score = self.upscore2(score) + self.score_pool4(pool4)  # (B, K, H/16, W/16)
        if self.skips == "8s":
            score = self.upscore_pool4(score) + self.score_pool3(pool3)  # (B, K, H/8, W/8)
        return self.upscore(score)  # (B, K, H, W)


def convolutionalize(classifier: vgg.VGG, fcn: FCN) -> None:
    """Sec. 3.1 / Fig. 2: copy a VGG classifier's fc6 and fc7 into the FCN's 7x7 and 1x1
    convolutions (same numbers, reshaped) and its convolutions into the FCN's backbone."""
    fc6, fc7 = classifier.classifier[0], classifier.classifier[3]
    with torch.no_grad():
        backbone = [*fcn.to_pool3, *fcn.to_pool4, *fcn.to_pool5]
        for mine, theirs in zip(backbone, classifier.features, strict=True):
            if isinstance(mine, (nn.Conv2d, nn.BatchNorm2d)):
                mine.load_state_dict(theirs.state_dict())
        fcn.fc6.weight.copy_(fc6.weight.view_as(fcn.fc6.weight))  # (4096, 512*7*7) -> 7x7 conv
        fcn.fc6.bias.copy_(fc6.bias)
        fcn.fc7.weight.copy_(fc7.weight[:, :, None, None])
        fcn.fc7.bias.copy_(fc7.bias)


def build_model(cfg: Config) -> FCN:
    return FCN(cfg)


# --- presets ------------------------------------------------------------------------------------
_MINI = Config(
    steps=250, batch_size=16, lr=1e-2, weight_decay=0.0, optimizer="adam", image_size=64,
    num_classes=4, configuration="A", widths=(8, 16, 32, 32, 32), fc_dim=64, fc6_kernel=3,
    dropout=0.0, batch_norm=True, train_size=1000, test_size=200)
PRESETS = {
    "paper": Config(),  # FCN-8s VGG-16: 134,489,759 (Table 1: 134M)
    "paper-16s": Config(skips="16s"),  # 134,815,994 (a fixed 32x32 bilinear upsampler)
    "paper-32s": Config(skips="32s"),  # 136,152,917 (a fixed 64x64 bilinear upsampler)
    "mini": dataclasses.replace(_MINI, compare_skips=("32s", "16s", "8s")),  # 80,492 (8s)
    "tiny": dataclasses.replace(_MINI, steps=3, batch_size=4, widths=(4, 4, 8, 8, 8), fc_dim=8,
                                image_size=32, train_size=8, test_size=4),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`fcn-32s`, `fcn-16s`, `fcn-8s` for `compare_skips` (Table 2's rows); else `main`."""
    base = dataclasses.replace(cfg, compare_skips=())
    return {f"fcn-{s}": dataclasses.replace(base, skips=s) for s in cfg.compare_skips} \
        or {"main": base}


# --- data ---------------------------------------------------------------------------------------
def scenes(cfg: Config):
    """`(x_train, y_train, x_test, y_test)`: generated shape scenes; every variant of a run and
    the baselines see the same ones (seeded by `cfg.seed`, test scenes from another stream)."""
    if cfg.num_classes < len(S.SHAPE_CLASSES):
        raise ConfigError(f"the shape scenes have {len(S.SHAPE_CLASSES)} classes")
    xtr, ytr = S.shape_scenes(cfg.train_size, cfg.image_size, seed=2 * cfg.seed)
    xte, yte = S.shape_scenes(cfg.test_size, cfg.image_size, seed=2 * cfg.seed + 1)
    return xtr, ytr, xte, yte


def build_data(cfg: Config):
    return S.scene_loaders(scenes(cfg), cfg.batch_size, cfg.seed)


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """Per-pixel majority class and a brightness threshold, fitted on the training scenes."""
    return S.pixel_baselines(scenes(cfg), cfg.num_classes)


# --- training and evaluation --------------------------------------------------------------------
def build_optimizer(model: nn.Module, cfg: Config):
    """Sec. 4.3: SGD, momentum 0.9, weight decay (`paper`); Adam for `mini`."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay), None
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay), None


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B, H, W)
    logits = model(x)  # (B, K, H, W)
    loss = F.cross_entropy(logits, y, ignore_index=IGNORE)  # Sec. 3: per-pixel multinomial loss
    return {"loss": loss, "pixel_accuracy": (logits.argmax(1) == y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Sec. 5's four metrics and each class's IU on the test scenes."""
    x, y = eval_data["test"]
    return S.scores(S.confusion(S.predict(model, x), y, cfg.num_classes))


def figures(out_dir, cfg: Config, models, metrics) -> list[dict]:
    """Fig. 4 redrawn: test scenes, their labels, and each variant's segmentation."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, _, x, y = scenes(cfg)
    x, y = x[:4], y[:4]
    cols = [("image", None), ("ground truth", y)] + [
        (name, S.predict(m.eval(), (x - 0.5) / 0.25)) for name, m in models.items()]
    fig, axes = plt.subplots(len(x), len(cols), figsize=(1.6 * len(cols), 1.6 * len(x)))
    for r in range(len(x)):
        for c, (title, maps) in enumerate(cols):
            ax = axes[r, c]
            ax.imshow((x[r].permute(1, 2, 0) if maps is None else maps[r]).numpy(),
                      vmin=0, vmax=cfg.num_classes - 1, cmap=None if maps is None else "tab10",
                      interpolation="nearest")
            ax.set_axis_off()
            if r == 0:
                ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "skips.png", dpi=100)
    plt.close(fig)
    return [{"file": "skips.png", "paper_figure": "Fig. 4",
             "caption": "Test scenes (thin bars, small squares, discs), their labels and the "
             "segmentations of FCN-32s, -16s and -8s: finer skips recover the thin and small "
             "shapes the stride-32 net smears."}]


# --- claims -------------------------------------------------------------------------------------
def _miou(m, v):
    return m[v]["mean_iou"]


CLAIMS = [
    Claim(
        id="skips-refine",
        text="Fusing finer layers improves the segmentation: mean IU rises from FCN-32s to "
        "FCN-16s and from FCN-16s to FCN-8s, each by at least 0.05, all three "
        "trained the same way on the same scenes.",
        paper="mean IU 59.4 (FCN-32s), 62.4 (FCN-16s), 62.7 (FCN-8s) on a subset of PASCAL VOC "
        "2011 val",
        source="Table 2, Sec. 4.2",
        margins=lambda m: {"fcn-32s": _miou(m, "fcn-16s") - _miou(m, "fcn-32s") - 0.05,
                           "fcn-16s": _miou(m, "fcn-8s") - _miou(m, "fcn-16s") - 0.05},
        measured=lambda m: "mean IU " + ", ".join(
            f"{v} {_miou(m, v):.3f}" for v in ("fcn-32s", "fcn-16s", "fcn-8s")),
    ),
    Claim(
        id="thin-structures",
        text="The detail the skips add is in the thin and small shapes: FCN-8s's IU on thin bars "
        "is at least 0.15 above FCN-32s's and the brightness threshold's (which scores none).",
        paper="Refining fully convolutional nets by fusing information from layers with "
        "different strides improves segmentation detail",
        source="Fig. 4",
        margins=lambda m: {"fcn-32s": m["fcn-8s"]["iou_1"] - m["fcn-32s"]["iou_1"] - 0.15,
                           "threshold": m["fcn-8s"]["iou_1"] - m["threshold"]["iou_1"] - 0.15},
        measured=lambda m: "thin-bar IU " + ", ".join(
            f"{v} {m[v]['iou_1']:.3f}" for v in ("fcn-32s", "fcn-16s", "fcn-8s", "threshold")),
    ),
    Claim(
        id="beats-trivial",
        text="FCN-8s's mean IU beats the per-pixel majority class and a brightness threshold "
        "fitted on the training scenes by at least 0.15.",
        paper="FCN-8s: 62.2 mean IU on PASCAL VOC 2012 test (a 20% relative improvement over "
        "the previous best, SDS)",
        source="Table 3",
        margins=lambda m: {b: _miou(m, "fcn-8s") - _miou(m, b) - 0.15
                           for b in ("majority", "threshold")},
        measured=lambda m: f"FCN-8s {_miou(m, 'fcn-8s'):.3f}, majority "
        f"{_miou(m, 'majority'):.3f}, threshold {_miou(m, 'threshold'):.3f}",
    ),
    Claim(
        id="voc2012",
        text="FCN-8s reaches 62.2 mean IU on PASCAL VOC 2012 test.",
        paper="FCN-8s 62.2 mean IU (VOC2012 test), 62.7 (VOC2011 test)",
        source="Table 3",
        needs="preset paper initialised from ImageNet VGG-16 (convolutionalize), trained on "
        "SBD + VOC 2011 train; a VOC loader (not in this module) and data_root",
    ),
]
