"""U-Net: Convolutional Networks for Biomedical Image Segmentation (Ronneberger, Fischer & Brox,
MICCAI 2015). https://arxiv.org/abs/1505.04597

A contracting path (two unpadded 3x3 convolutions + ReLU, then 2x2 max pooling, doubling the
channels at each step) and a symmetric expansive path (2x2 "up-convolution" halving the
channels, concatenation with the correspondingly cropped feature map of the contracting path,
two 3x3 convolutions), then a 1x1 convolution to the classes (Sec. 2, Fig. 1). The copy-and-crop
connections hand the expansive path the high-resolution features that localise borders.
Training uses few annotated images with heavy elastic-deformation augmentation (Sec. 3.1) and a
pixel-wise weighted soft-max cross-entropy (Eq. 1) whose weight map (Eq. 2) stresses the thin
background borders between touching cells.

Presets: `paper` = Fig. 1's network (572x572 in, 388x388 out, unpadded convolutions as in the
paper, 2 classes: 31,030,658 parameters; padding does not change the count). `mini`: 20
generated 64x64 training images (`common.segmentation.texture_scenes`: blobs of stripes on noise
of the same brightness, so no threshold separates them), elastic deformations, flips and
rotations; the U-Net against the same net with its copy-and-crop inputs replaced by zeros
(the same parameters, no high-resolution path), trained the same way; baselines: per-pixel
majority and a brightness threshold fitted on the training images.

Deviations from the paper:
- `mini` pads its convolutions ("same"), so output and input have one size and no overlap-tile
  strategy (Fig. 2) is needed; it has 4 levels of 8-64 channels instead of 5 of 64-1024, uses
  Adam instead of SGD with momentum 0.99 (Sec. 3), and batches of 4 images, not one large tile.
- The weight map (Eq. 2) is computed per generated image from its blob instances, with w_c the
  inverse class frequency of the training set.
- The elastic deformation follows Sec. 3.1 (random displacements on a coarse 3x3 grid, std 10
  pixels, smoothly interpolated) with bilinear rather than bicubic interpolation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import segmentation as S
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "unet"


# --- blocks -------------------------------------------------------------------------------------
def double_conv(c_in: int, c_out: int, padding: int) -> nn.Sequential:
    """Two 3x3 convolutions, each followed by a ReLU (Sec. 2); padding 0 in the paper."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=padding), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=padding), nn.ReLU(inplace=True))


def center_crop(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Fig. 1's "copy and crop": the border lost to unpadded convolutions is cut off."""
    dy, dx = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., dy:dy + h, dx:dx + w]


# --- config -------------------------------------------------------------------------------------
@dataclass
class Config:
    seed: int = 0
    steps: int = 10_000
    batch_size: int = 1  # Sec. 3: "we favor large input tiles over a large batch size"
    lr: float = 1e-2
    momentum: float = 0.99  # Sec. 3: a high momentum (0.99)
    optimizer: str = "sgd"  # "sgd" (Sec. 3) or "adam" (mini)
    data_root: str | None = None  # unused: the ISBI / PhC-U373 / DIC-HeLa data are not read
    image_size: int = 572  # Fig. 1: 572x572 input tile (388x388 output)
    in_channels: int = 1
    num_classes: int = 2
    widths: tuple[int, ...] = (64, 128, 256, 512, 1024)  # Fig. 1: channels per level
    padding: int = 0  # Fig. 1: unpadded ("valid") convolutions; 1 keeps the size
    skip: bool = True  # False: the copy-and-crop inputs are zeros (the ablation)
    compare_skip: bool = False  # mini: also train the same net without skips
    border_weight: float = 10.0  # Eq. 2: w_0
    border_sigma: float = 5.0  # Eq. 2: sigma, "approx. 5 pixels"
    train_size: int = 20
    test_size: int = 100
    augment: bool = True  # Sec. 3.1: shifts, rotations, elastic deformations
    boundary_width: int = 2  # pixels either side of a border where boundary IoU is measured


# --- model --------------------------------------------------------------------------------------
class UNet(nn.Module):
    """Fig. 1: `down[i]` (double conv) with max pooling between levels, `up[i]` (2x2 up-conv)
    and `decode[i]` (double conv on [cropped copy, upsampled]), `head` (1x1 conv)."""

    def __init__(self, cfg: Config):
        super().__init__()
        w = cfg.widths
        self.skip = cfg.skip
        self.down = nn.ModuleList(double_conv(c_in, c, cfg.padding)
                                  for c_in, c in zip((cfg.in_channels, *w[:-1]), w, strict=True))
        self.up = nn.ModuleList(nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2)
                                for i in reversed(range(len(w) - 1)))
        self.decode = nn.ModuleList(double_conv(2 * w[i], w[i], cfg.padding)
                                    for i in reversed(range(len(w) - 1)))
        self.head = nn.Conv2d(w[0], cfg.num_classes, 1)
        for m in self.modules():  # Sec. 3: Gaussian with std sqrt(2/N), N inputs of one unit
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):  # (B, C, H, W)
        copies = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))  # (B, w_i, H_i, W_i)
            copies.append(x)
        x = copies.pop()  # the bottom of the U
        for up, block in zip(self.up, self.decode, strict=True):
            x = up(x)  # (B, w_i, 2h, 2w)
            copy = center_crop(copies.pop(), *x.shape[-2:])
            x = block(torch.cat([copy if self.skip else torch.zeros_like(copy), x], 1))
        return self.head(x)  # (B, K, H_out, W_out)


def build_model(cfg: Config) -> UNet:
    return UNet(cfg)


# --- presets ------------------------------------------------------------------------------------
_MINI = Config(steps=500, batch_size=4, lr=3e-3, optimizer="adam", image_size=64,
               widths=(8, 16, 32, 64), padding=1)
PRESETS = {
    "paper": Config(),  # Fig. 1: 31,030,658
    "mini": dataclasses.replace(_MINI, compare_skip=True),  # 120,690 (with or without skips)
    "tiny": dataclasses.replace(_MINI, steps=3, widths=(4, 8), image_size=32, train_size=4,
                                test_size=4),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`unet` and `no-skip` (same net, copy-and-crop inputs zeroed) with `compare_skip`."""
    base = dataclasses.replace(cfg, compare_skip=False)
    if not cfg.compare_skip:
        return {"main": base}
    return {"unet": base, "no-skip": dataclasses.replace(base, skip=False)}


# --- data ---------------------------------------------------------------------------------------
def weight_map(labels: torch.Tensor, instances: torch.Tensor, cfg: Config,
               class_weight: torch.Tensor) -> torch.Tensor:
    """Eq. 2: w(x) = w_c(x) + w_0 exp(-(d_1(x) + d_2(x))^2 / (2 sigma^2)) on background pixels,
    d_1, d_2 the distances to the nearest and second nearest blob."""
    from scipy.ndimage import distance_transform_edt

    out = class_weight[labels].clone()  # (N, S, S): w_c
    for i in range(len(labels)):
        ids = [j for j in instances[i].unique().tolist() if j > 0]
        if len(ids) < 2:
            continue
        d = torch.stack([torch.from_numpy(distance_transform_edt((instances[i] != j).numpy()))
                         for j in ids]).float()  # (n, S, S): distance to each blob
        d1, d2 = d.topk(2, dim=0, largest=False).values  # nearest, second nearest
        border = cfg.border_weight * torch.exp(-(d1 + d2) ** 2 / (2 * cfg.border_sigma ** 2))
        out[i] += torch.where(labels[i] == 0, border, torch.zeros_like(border))
    return out


def elastic(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, gen: torch.Generator):
    """Sec. 3.1: random displacement vectors on a coarse 3x3 grid (std 10 pixels), smoothly
    interpolated to a per-pixel field; plus random flips and 90-degree rotations."""
    b, _, h, _ = x.shape
    coarse = torch.randn(b, 2, 3, 3, generator=gen) * (10 / h * 2)  # in [-1, 1] units
    flow = F.interpolate(coarse, size=(h, h), mode="bicubic", align_corners=True)  # (B, 2, H, W)
    base = F.affine_grid(torch.eye(2, 3).expand(b, 2, 3), (b, 1, h, h), align_corners=False)
    grid = base + flow.permute(0, 2, 3, 1)  # (B, H, W, 2)
    warp = lambda t, mode: F.grid_sample(t, grid, mode=mode, padding_mode="reflection",  # noqa: E731
                                         align_corners=False)
    x = warp(x, "bilinear")
    y = warp(y[:, None].float(), "nearest")[:, 0].long()
    w = warp(w[:, None], "nearest")[:, 0]
    k = int(torch.randint(0, 4, (), generator=gen))
    flip = bool(torch.randint(0, 2, (), generator=gen))
    turn = lambda t: (t.flip(-1) if flip else t).rot90(k, (-2, -1))  # noqa: E731
    return turn(x), turn(y), turn(w)


def scenes(cfg: Config):
    if cfg.num_classes != 2:
        raise ConfigError("the texture scenes are binary: num_classes=2")
    xtr, ytr, itr = S.texture_scenes(cfg.train_size, cfg.image_size, seed=2 * cfg.seed)
    xte, yte, _ = S.texture_scenes(cfg.test_size, cfg.image_size, seed=2 * cfg.seed + 1)
    return xtr, ytr, itr, xte, yte


class Augmented:
    """An endless iterable of augmented batches (x, y, weight map) drawn from the few images."""

    def __init__(self, x, y, w, cfg: Config):
        self.x, self.y, self.w, self.cfg = x, y, w, cfg
        self.gen = torch.Generator().manual_seed(cfg.seed)

    def __iter__(self):
        while True:
            idx = torch.randint(0, len(self.y), (self.cfg.batch_size,), generator=self.gen)
            batch = self.x[idx], self.y[idx], self.w[idx]
            yield elastic(*batch, self.gen) if self.cfg.augment else batch


def build_data(cfg: Config):
    xtr, ytr, itr, xte, yte = scenes(cfg)
    freq = torch.bincount(ytr.reshape(-1), minlength=2).float()
    w = weight_map(ytr, itr, cfg, freq.sum() / (2 * freq))
    return Augmented((xtr - 0.5) / 0.2, ytr, w, cfg), {"test": ((xte - 0.5) / 0.2, yte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    xtr, ytr, _, xte, yte = scenes(cfg)
    band = S.boundary_band(yte, cfg.boundary_width)
    out = {}
    for name, pred in (("majority", torch.zeros_like(yte)),
                       ("threshold", S.threshold_predict(xtr, ytr, xte))):
        out[name] = _metrics(pred, yte, band)
    return out


# --- training and evaluation --------------------------------------------------------------------
def build_optimizer(model: nn.Module, cfg: Config):
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr), None
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum), None


def training_step(model: nn.Module, batch) -> dict:
    """Eq. 1: E = sum_x w(x) log p_l(x)(x), the soft-max over the output map's channels."""
    x, y, w = batch  # (B, C, H, W), (B, H, W), (B, H, W)
    logits = model(x)  # (B, K, H', W'): smaller than H, W with unpadded convolutions
    y, w = (center_crop(t, *logits.shape[-2:]) for t in (y, w))
    loss = (w * F.cross_entropy(logits, y, reduction="none")).sum() / w.sum()
    return {"loss": loss, "pixel_accuracy": (logits.argmax(1) == y).float().mean()}


def _metrics(pred, y, band) -> dict[str, float]:
    inter = lambda m: ((pred == 1) & (y == 1) & m).sum() / (((pred == 1) | (y == 1)) & m).sum()  # noqa: E731
    return {"iou": float(inter(torch.ones_like(band))), "boundary_iou": float(inter(band)),
            "pixel_accuracy": float((pred == y).float().mean()),
            "boundary_accuracy": float((pred == y)[band].float().mean())}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Foreground IoU over all test pixels and within `boundary_width` of a border."""
    x, y = eval_data["test"]
    pred = torch.cat([model(x[i:i + 50]).argmax(1) for i in range(0, len(x), 50)])
    return _metrics(pred, y, S.boundary_band(y, cfg.boundary_width))


# --- claims -------------------------------------------------------------------------------------
CLAIMS = [
    Claim(
        id="skips-localise",
        text="Trained on 20 augmented images, the U-Net's IoU within 2 pixels of the blob borders "
        "is at least 0.05 above the same network's without copy-and-crop (its skip inputs "
        "zeroed, same parameters), trained the same way.",
        paper="high resolution features from the contracting path are combined with the "
        "upsampled output ... a successive convolution layer can then learn to assemble a more "
        "precise output",
        source="Sec. 2, Fig. 1",
        margins=lambda m: {"no-skip": m["unet"]["boundary_iou"] - m["no-skip"]["boundary_iou"]
                           - 0.05},
        measured=lambda m: f"boundary IoU: U-Net {m['unet']['boundary_iou']:.3f}, "
        f"no skips {m['no-skip']['boundary_iou']:.3f}; IoU {m['unet']['iou']:.3f} vs "
        f"{m['no-skip']['iou']:.3f}",
    ),
    Claim(
        id="few-images",
        text="From 20 training images with elastic augmentation the U-Net segments the texture "
        "blobs with an IoU at least 0.3 above the per-pixel majority and a brightness threshold "
        "fitted on the same images.",
        paper="such a network can be trained end-to-end from very few images; PhC-U373: 92.03% "
        "IOU from 35 training images, DIC-HeLa: 77.56% from 20",
        source="Table 2, Sec. 3.1",
        margins=lambda m: {b: m["unet"]["iou"] - m[b]["iou"] - 0.3
                           for b in ("majority", "threshold")},
        measured=lambda m: f"IoU: U-Net {m['unet']['iou']:.3f}, majority "
        f"{m['majority']['iou']:.3f}, threshold {m['threshold']['iou']:.3f}",
    ),
    Claim(
        id="isbi-warping",
        text="On the ISBI 2012 EM segmentation challenge the U-Net reaches a warping error of "
        "0.000353 without pre- or post-processing.",
        paper="warping error 0.0003529, Rand error 0.0382 (rank 1 of the submissions at the time)",
        source="Table 1",
        needs="preset paper (overlap-tile, Fig. 2) on the ISBI 2012 EM stacks (data_root; not "
        "read by this module)",
    ),
]
