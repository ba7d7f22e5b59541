"""Stacked Hourglass Networks for Human Pose Estimation (Newell, Yang & Deng, ECCV 2016).

https://arxiv.org/abs/1603.06937

An hourglass pools the features down to a very low resolution and upsamples them back
(nearest neighbour), adding at each resolution a branch of residual modules that skips the
lower levels (Sec. 3.1, Fig. 3), so every output location sees the whole image and its own
neighbourhood. Hourglasses are stacked end to end; each predicts a heatmap per joint, and the
heatmaps are supervised by a mean-squared error against 2-D Gaussians at the joints after
every hourglass, not only the last ("intermediate supervision", Sec. 3.4, Fig. 4), and mapped
back by 1x1 convolutions into the features the next hourglass refines.

Presets: `paper` = the 8-stack network for MPII's 16 joints (256 features, 4 levels from 64x64
to 4x4, pre-activation bottleneck residual modules as in the authors' code; a 256x256 input):
25,434,112 parameters (computed; the paper prints no count). `mini`: generated 32x32 images of
a two-segment "arm" (a base disc, an elbow, a free tip: three keypoints told apart only by the
figure's structure) with clutter; a 2-stack hourglass of 32 features and 2 levels (64,422
parameters) trained with intermediate supervision (`intermediate`) and with the loss on the
last stack only (`final-only`), the same steps and data; PCK (a keypoint within 0.1 of the
image side) against the trivial baseline that predicts each keypoint at its mean training
position.

Deviations from the paper:
- `mini` uses Adam (the paper: RMSprop, lr 2.5e-4, Sec. 4), images of 32 px with heatmaps at
  16 px and Gaussians of sigma 1, no augmentation (the paper rotates and scales, Sec. 4).
- PCK normalised by the image side, since the figures have no head; MPII's PCKh normalises by
  the head size (Sec. 4).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common.claims import Claim

PAPER = "hourglass"


# --- blocks -------------------------------------------------------------------------------------
class Residual(nn.Module):
    """Fig. 4 (left): BN-ReLU-1x1 (f/2), BN-ReLU-3x3 (f/2), BN-ReLU-1x1 (f), plus the input
    (a 1x1 convolution when the channels change)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        mid = c_out // 2
        layer = lambda a, b, k: [nn.BatchNorm2d(a), nn.ReLU(), nn.Conv2d(a, b, k, padding=k // 2)]  # noqa: E731
        self.body = nn.Sequential(*layer(c_in, mid, 1), *layer(mid, mid, 3), *layer(mid, c_out, 1))
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x):  # (B, C_in, H, W)
        return self.body(x) + self.skip(x)  # (B, C_out, H, W)


class Hourglass(nn.Module):
    """Sec. 3.1, Fig. 3: out = up1(x) + upsample(low3(inner(low1(pool(x))))), `levels` deep."""

    def __init__(self, levels: int, f: int):
        super().__init__()
        self.up1, self.low1, self.low3 = Residual(f, f), Residual(f, f), Residual(f, f)
        self.inner = Hourglass(levels - 1, f) if levels > 1 else Residual(f, f)

    def forward(self, x):  # (B, f, H, W)
        low = self.low3(self.inner(self.low1(F.max_pool2d(x, 2))))  # (B, f, H/2, W/2)
        return self.up1(x) + F.interpolate(low, scale_factor=2, mode="nearest")


# --- config -------------------------------------------------------------------------------------
@dataclass
class Config:
    seed: int = 0
    steps: int = 150_000  # Sec. 4: trained for about 3 days on MPII
    batch_size: int = 6  # Sec. 4
    lr: float = 2.5e-4  # Sec. 4: RMSprop, 2.5e-4
    data_root: str | None = None  # unused: MPII / FLIC are not read by this module (see CLAIMS)
    image_size: int = 256  # Sec. 3.2: 256x256 input, heatmaps at 64x64
    joints: int = 16  # MPII
    features: int = 256  # Sec. 3.1: 256 features throughout the hourglass
    levels: int = 4  # Sec. 3.1: from 64x64 down to 4x4
    stacks: int = 8  # Sec. 3.4: eight hourglasses
    intermediate: bool = True  # Sec. 3.4: a loss after every hourglass; False: the last only
    compare: bool = False  # mini: train with and without intermediate supervision
    sigma: float = 1.0  # Gaussian at each joint, in heatmap pixels (Sec. 3.4)
    train_size: int = 1000
    test_size: int = 300


# --- model --------------------------------------------------------------------------------------
class StackedHourglass(nn.Module):
    """Stem (7x7/2 conv, residuals, 2x2 pool at the paper's size) -> `stacks` x (hourglass,
    residual, 1x1 conv-BN-ReLU, 1x1 heatmaps; between stacks the features and the heatmaps
    mapped back by 1x1 convolutions are added to the stack's input, Fig. 4 right)."""

    def __init__(self, cfg: Config):
        super().__init__()
        f, k = cfg.features, cfg.joints
        if cfg.image_size >= 128:  # Sec. 3.2: 256 -> 64 before the first hourglass
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3), nn.BatchNorm2d(64), nn.ReLU(),
                                      Residual(64, 128), nn.MaxPool2d(2), Residual(128, 128),
                                      Residual(128, f))
        else:  # mini: 32 -> 16
            self.stem = nn.Sequential(nn.Conv2d(3, f, 3, 2, 1), nn.BatchNorm2d(f), nn.ReLU(),
                                      Residual(f, f))
        self.hourglasses = nn.ModuleList([Hourglass(cfg.levels, f) for _ in range(cfg.stacks)])
        self.features = nn.ModuleList([nn.Sequential(
            Residual(f, f), nn.Conv2d(f, f, 1), nn.BatchNorm2d(f), nn.ReLU())
            for _ in range(cfg.stacks)])
        self.heads = nn.ModuleList([nn.Conv2d(f, k, 1) for _ in range(cfg.stacks)])
        self.merge_features = nn.ModuleList([nn.Conv2d(f, f, 1) for _ in range(cfg.stacks - 1)])
        self.merge_heatmaps = nn.ModuleList([nn.Conv2d(k, f, 1) for _ in range(cfg.stacks - 1)])

    def forward(self, x):  # (B, 3, H, W)
        h = self.stem(x)  # (B, f, H/4 or H/2, ...)
        heatmaps = []
        for i, hourglass in enumerate(self.hourglasses):
            feat = self.features[i](hourglass(h))  # (B, f, h, w)
            heatmaps.append(self.heads[i](feat))  # (B, K, h, w)
            if i < len(self.merge_features):
                h = h + self.merge_features[i](feat) + self.merge_heatmaps[i](heatmaps[-1])
        return torch.stack(heatmaps, 1)  # (B, stacks, K, h, w)


def build_model(cfg: Config) -> StackedHourglass:
    return StackedHourglass(cfg)


# --- presets ------------------------------------------------------------------------------------
_MINI = Config(steps=300, batch_size=16, lr=2e-3, image_size=32, joints=3, features=32,
               levels=2, stacks=2)
PRESETS = {
    "paper": Config(),  # 25,434,112 (computed)
    "mini": dataclasses.replace(_MINI, compare=True),  # 64,422
    "tiny": dataclasses.replace(_MINI, steps=3, batch_size=4, features=8, levels=1,
                                train_size=8, test_size=4),
}


def variants(cfg: Config) -> dict[str, Config]:
    base = dataclasses.replace(cfg, compare=False)
    if cfg.compare:
        return {"intermediate": base, "final-only": dataclasses.replace(base, intermediate=False)}
    return {"main": base}


# --- data ---------------------------------------------------------------------------------------
def arm_figures(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, S, S) images and (n, 3, 2) keypoints (y, x) in pixels: base (the centre of a
    disc), elbow, tip of a two-segment arm of one colour, on a noisy background with a
    distractor bar."""
    gen = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                            torch.arange(size, dtype=torch.float32), indexing="ij")

    def segment(a, b, width):
        d = b - a
        t = (((ys - a[0]) * d[0] + (xs - a[1]) * d[1]) / d.pow(2).sum()).clamp(0, 1)
        return (ys - a[0] - t * d[0]) ** 2 + (xs - a[1] - t * d[1]) ** 2 <= width ** 2

    images, points = torch.empty(n, 3, size, size), torch.empty(n, 3, 2)
    for i in range(n):
        while True:
            base = size * (0.2 + 0.6 * torch.rand(2, generator=gen))
            a1, a2 = 2 * math.pi * torch.rand(2, generator=gen)
            l1, l2 = size * (0.25 + 0.15 * torch.rand(2, generator=gen))
            elbow = base + l1 * torch.stack([torch.sin(a1), torch.cos(a1)])
            tip = elbow + l2 * torch.stack([torch.sin(a2), torch.cos(a2)])
            pts = torch.stack([base, elbow, tip])
            if pts.min() >= 2 and pts.max() <= size - 3 and (tip - base).norm() > 0.2 * size:
                break
        img = 0.3 * torch.rand(3, 1, 1, generator=gen) + 0.08 * torch.randn(
            3, size, size, generator=gen)
        c, d = (size * torch.rand(2, 2, generator=gen)).unbind()
        img = torch.where(segment(c, d, 0.8), 0.4 + 0.4 * torch.rand(3, 1, 1, generator=gen), img)
        mask = (ys - base[0]) ** 2 + (xs - base[1]) ** 2 <= (0.09 * size) ** 2
        mask |= segment(base, elbow, 1.2) | segment(elbow, tip, 1.2)
        img = torch.where(mask, 0.6 + 0.4 * torch.rand(3, 1, 1, generator=gen), img)
        images[i], points[i] = img.clamp(0, 1), pts
    return images, points


def heatmaps(points: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """(N, K, s, s) 2-D Gaussians (peak 1) at the keypoints, on a grid `size` pixels wide whose
    pixel i covers image pixels [i * stride, (i + 1) * stride)."""
    ys = torch.arange(size, dtype=torch.float32).view(1, 1, size, 1)
    xs = torch.arange(size, dtype=torch.float32).view(1, 1, 1, size)
    py, px = points[..., 0, None, None], points[..., 1, None, None]  # (N, K, 1, 1)
    return torch.exp(-((ys - py) ** 2 + (xs - px) ** 2) / (2 * sigma ** 2))


def scenes(cfg: Config):
    xtr, ptr = arm_figures(cfg.train_size, cfg.image_size, seed=2 * cfg.seed)
    xte, pte = arm_figures(cfg.test_size, cfg.image_size, seed=2 * cfg.seed + 1)
    return xtr, ptr, xte, pte


def build_data(cfg: Config):
    xtr, ptr, xte, pte = scenes(cfg)
    stride = 2
    target = heatmaps((ptr - (stride - 1) / 2) / stride, cfg.image_size // stride, cfg.sigma)
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset((xtr - 0.5) / 0.25, target,
                                       torch.full((len(xtr),), float(cfg.intermediate))),
        batch_size=cfg.batch_size, shuffle=True, generator=gen, drop_last=True)
    return loader, {"test": ((xte - 0.5) / 0.25, pte)}


def pck(pred: torch.Tensor, points: torch.Tensor, size: int, alpha: float = 0.1) -> float:
    """Fraction of keypoints within alpha * image side of the truth (PCK, Sec. 4)."""
    return float(((pred - points).norm(dim=-1) <= alpha * size).float().mean())


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """Every keypoint at its mean position over the training figures."""
    _, ptr, _, pte = scenes(cfg)
    return {"mean keypoint": {"pck": pck(ptr.mean(0).expand_as(pte), pte, cfg.image_size)}}


# --- training and evaluation --------------------------------------------------------------------
def training_step(model: nn.Module, batch) -> dict:
    x, target, intermediate = batch  # (B, 3, H, W), (B, K, h, w), (B,)
    out = model(x)  # (B, stacks, K, h, w)
    per_stack = ((out - target[:, None]) ** 2).mean((0, 2, 3, 4))  # (stacks,): MSE (Sec. 3.4)
    loss = per_stack.sum() if bool(intermediate[0]) else per_stack[-1]
    return {"loss": loss, "final_mse": per_stack[-1]}


def decode(out: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """(N, K, 2) image coordinates of each heatmap's maximum."""
    n, k, h, w = out.shape
    idx = out.reshape(n, k, h * w).argmax(-1)
    return torch.stack([idx // w, idx % w], -1).float() * stride + (stride - 1) / 2


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """PCK@0.1 and PCK@0.05 of the last stack's heatmaps (and of the first's)."""
    x, points = eval_data["test"]
    out = torch.cat([model(x[i:i + 100]) for i in range(0, len(x), 100)])  # (N, stacks, K, h, w)
    last, first = decode(out[:, -1]), decode(out[:, 0])
    return {"pck": pck(last, points, cfg.image_size),
            "pck_0.05": pck(last, points, cfg.image_size, 0.05),
            "pck_first_stack": pck(first, points, cfg.image_size)}


# --- claims -------------------------------------------------------------------------------------
CLAIMS = [
    Claim(
        id="intermediate-supervision",
        text="Not expected in miniature: with a loss after each of the two hourglasses, the last "
        "stack's PCK@0.05 is higher than when only the last stack is supervised (same net, "
        "steps and data). On one seed both reached 0.83 (0.827 vs 0.833): two shallow stacks "
        "trained for 300 steps leave no vanishing-gradient problem for the intermediate loss "
        "to solve, and the paper's gain is a few points after days of training.",
        paper="intermediate supervision improves validation accuracy over supervising only the "
        "final output, for 2-, 4- and 8-stack networks",
        source="Sec. 5.2",
        margins=lambda m: {"final-only": m["intermediate"]["pck_0.05"]
                           - m["final-only"]["pck_0.05"]},
        measured=lambda m: f"PCK@0.05 intermediate {m['intermediate']['pck_0.05']:.3f}, "
        f"final-only {m['final-only']['pck_0.05']:.3f}",
        expected=False,
    ),
    Claim(
        id="beats-mean-keypoint",
        text="The stacked hourglass's PCK@0.1 beats predicting each keypoint at its mean "
        "training position by at least 0.4.",
        paper="PCKh@0.5 of 90.9% on MPII test (8 stacks)",
        source="Table 2",
        margins=lambda m: {"mean keypoint": m["intermediate"]["pck"]
                           - m["mean keypoint"]["pck"] - 0.4},
        measured=lambda m: f"hourglass {m['intermediate']['pck']:.3f}, mean keypoint "
        f"{m['mean keypoint']['pck']:.3f}",
    ),
    Claim(
        id="mpii",
        text="The 8-stack hourglass reaches PCKh@0.5 of 90.9% on the MPII test set.",
        paper="90.9 PCKh@0.5 total (MPII)",
        source="Table 2",
        needs="preset paper trained on MPII Human Pose (data_root; no MPII loader here)",
    ),
]
