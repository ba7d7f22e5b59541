"""Segmentation core: generated scenes with per-pixel labels, the FCN paper's metrics, and the
trivial per-pixel baselines a segmentation miniature must beat.

- `shape_scenes(n, size, seed)`: (N, 3, S, S) images in [0, 1] of a noisy dark background with
  2-5 bright objects of three classes told apart by *shape*, not colour (every object draws its
  colour from the same range): 1 = thin bar (3-4 px wide), 2 = small square (5-8 px), 3 = large
  disc; labels (N, S, S) int64, 0 = background, a later object painting over an earlier one.
  Small and thin objects are what a stride-32 prediction cannot place (FCN, Sec. 4.2).
- `outline_scenes(n, size, seed, half_width)`: 1-3 objects per image, 1 = rotated square and
  2 = disc, every object filled with the same kind of colour and noise so only the outline tells
  the class; `half_width(gen)` draws each object's half width (DeepLab's and the deformable
  convolution's scenes differ only there). Returns images, labels and each pixel's object width.
- `texture_scenes(n, size, seed)`: binary "cells": blobs filled with one texture on a
  background of another texture at the *same* mean brightness, so that thresholding intensity
  cannot separate them and their borders must be found from local structure (U-Net's setting).
- `confusion(pred, target, k)` and `scores(confusion)`: pixel accuracy, mean accuracy, mean IU
  and frequency-weighted IU exactly as Long et al. define them (FCN paper, Sec. 5, "Metrics").
- `boundary_band(labels, width)`: the pixels within `width` of a label change, where boundary
  IoU is measured.
- `majority_baseline`, `threshold_baseline`: per-pixel majority class; brightness threshold
  (fitted on the training images) with the most frequent foreground class; `pixel_baselines`
  both at once, as a module's `baselines` returns them.
- `scene_loaders(scenes, batch_size, seed)`: a module's `build_data` from its scenes (images
  normalised as (x - 0.5) / 0.25); `predict(model, x)`: per-pixel classes, in batches.

Everything is generated from a seed with torch: no download, no licence to carry.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SHAPE_CLASSES = ("background", "thin bar", "small square", "disc")


# --- generated scenes ---------------------------------------------------------------------------
def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                            torch.arange(size, dtype=torch.float32), indexing="ij")
    return ys, xs  # (S, S) each: pixel centres' row and column


def _bar(ys, xs, gen, size) -> torch.Tensor:
    """A segment 0.3-0.7 S long at a random angle, 3-4 px wide."""
    length = size * (0.3 + 0.4 * torch.rand((), generator=gen))
    angle = math.pi * torch.rand((), generator=gen)
    cy, cx = (size * (0.15 + 0.7 * torch.rand(2, generator=gen))).unbind()
    dy, dx = torch.sin(angle), torch.cos(angle)
    along = (ys - cy) * dy + (xs - cx) * dx  # signed distance along the bar
    across = ((ys - cy) * dx - (xs - cx) * dy).abs()
    width = 1.5 + float(torch.rand((), generator=gen) < 0.5) * 0.5  # half-width: 3 or 4 px wide
    return (along.abs() <= length / 2) & (across < width)


def _square(ys, xs, gen, size) -> torch.Tensor:
    side = int(torch.randint(5, 9, (), generator=gen))
    y0, x0 = torch.randint(0, size - side, (2,), generator=gen).tolist()
    return (ys >= y0) & (ys < y0 + side) & (xs >= x0) & (xs < x0 + side)


def _disc(ys, xs, gen, size) -> torch.Tensor:
    r = size * (0.1 + 0.1 * torch.rand((), generator=gen))
    cy, cx = (size * (0.15 + 0.7 * torch.rand(2, generator=gen))).unbind()
    return (ys - cy) ** 2 + (xs - cx) ** 2 <= r ** 2


def shape_scenes(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` images (n, 3, S, S) in [0, 1] and labels (n, S, S) in 0..3 (`SHAPE_CLASSES`)."""
    gen = torch.Generator().manual_seed(seed)
    ys, xs = _grid(size)
    draw = (_bar, _square, _disc)
    images = torch.empty(n, 3, size, size)
    labels = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        img = 0.35 * torch.rand(3, 1, 1, generator=gen) + 0.08 * torch.randn(
            3, size, size, generator=gen)  # a dark background with pixel noise
        for _ in range(int(torch.randint(2, 6, (), generator=gen))):
            kind = int(torch.randint(0, 3, (), generator=gen))
            mask = draw[kind](ys, xs, gen, size)
            colour = 0.55 + 0.45 * torch.rand(3, 1, 1, generator=gen)
            img = torch.where(mask, colour + 0.08 * torch.randn(3, size, size, generator=gen), img)
            labels[i][mask] = kind + 1
        images[i] = img.clamp(0, 1)
    return images, labels


def outline_scenes(n: int, size: int, seed: int, half_width
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(n, 3, S, S) images in [0, 1], labels (n, S, S) (0 background, 1 rotated square, 2 disc)
    and the width of the object at each pixel (0 on the background); see the module docstring."""
    gen = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                            torch.arange(size, dtype=torch.float32), indexing="ij")
    images, labels = torch.empty(n, 3, size, size), torch.zeros(n, size, size, dtype=torch.long)
    widths = torch.zeros(n, size, size)
    for i in range(n):
        img = 0.35 * torch.rand(3, 1, 1, generator=gen) + 0.08 * torch.randn(
            3, size, size, generator=gen)  # a dark background with pixel noise
        for _ in range(int(torch.randint(1, 4, (), generator=gen))):
            half = half_width(gen)
            cy, cx = (half + (size - 2 * half) * torch.rand(2, generator=gen)).unbind()
            kind = int(torch.randint(1, 3, (), generator=gen))
            if kind == 1:
                a = math.pi / 2 * torch.rand((), generator=gen)
                u = (ys - cy) * torch.cos(a) + (xs - cx) * torch.sin(a)
                v = (xs - cx) * torch.cos(a) - (ys - cy) * torch.sin(a)
                mask = torch.maximum(u.abs(), v.abs()) <= half * 0.886  # the disc's area
            else:
                mask = (ys - cy) ** 2 + (xs - cx) ** 2 <= half ** 2
            colour = 0.55 + 0.45 * torch.rand(3, 1, 1, generator=gen)
            img = torch.where(mask, colour + 0.08 * torch.randn(3, size, size, generator=gen), img)
            labels[i][mask], widths[i][mask] = kind, 2 * half
        images[i] = img.clamp(0, 1)
    return images, labels, widths


def texture_scenes(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` grey images (n, 1, S, S), binary labels (n, S, S) and blob instances (n, S, S), 0 =
    background: 3-6 blobs (unions of two discs) of fine stripes at a random angle on a
    background of isotropic noise with the same mean and standard deviation; some touch."""
    gen = torch.Generator().manual_seed(seed)
    ys, xs = _grid(size)
    images = torch.empty(n, 1, size, size)
    labels = torch.zeros(n, size, size, dtype=torch.long)
    instances = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        mask = torch.zeros(size, size, dtype=torch.bool)
        for j in range(int(torch.randint(3, 7, (), generator=gen))):
            r = size * (0.07 + 0.07 * torch.rand((), generator=gen))
            cy, cx = (size * (0.1 + 0.8 * torch.rand(2, generator=gen))).unbind()
            oy, ox = (r * (torch.rand(2, generator=gen) - 0.5)).unbind()
            blob = ((ys - cy) ** 2 + (xs - cx) ** 2 <= r ** 2) | (
                (ys - cy - oy) ** 2 + (xs - cx - ox) ** 2 <= (0.8 * r) ** 2)
            instances[i][blob] = j + 1
            mask |= blob
        angle = math.pi * torch.rand((), generator=gen)
        phase = 2 * math.pi * torch.rand((), generator=gen)
        stripes = torch.sin(1.6 * (ys * torch.sin(angle) + xs * torch.cos(angle)) + phase)
        stripes = stripes + 0.25 * torch.randn(size, size, generator=gen)
        noise = torch.randn(size, size, generator=gen)
        stripes, noise = (t / t.std() for t in (stripes - stripes.mean(), noise))
        images[i, 0] = 0.5 + 0.2 * torch.where(mask, stripes, noise)
        labels[i] = mask.long()
    return images.clamp(0, 1), labels, instances


# --- metrics (FCN paper, Sec. 5) ----------------------------------------------------------------
def confusion(pred: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """(k, k) counts n_ij of pixels of class i predicted as class j."""
    idx = target.reshape(-1) * k + pred.reshape(-1)
    return torch.bincount(idx, minlength=k * k).reshape(k, k).double()


def scores(n: torch.Tensor) -> dict[str, float]:
    """Sec. 5: with t_i = sum_j n_ij pixels of class i, pixel accuracy sum_i n_ii / sum_i t_i,
    mean accuracy (1/n_cl) sum_i n_ii / t_i, mean IU (1/n_cl) sum_i n_ii / (t_i + sum_j n_ji -
    n_ii), frequency weighted IU (sum_k t_k)^-1 sum_i t_i n_ii / (t_i + sum_j n_ji - n_ii); classes
    absent from both prediction and target are left out of the means. Also `iou_<i>` per class."""
    t, diag, predicted = n.sum(1), n.diag(), n.sum(0)
    union = t + predicted - diag
    seen = union > 0
    iou = diag / union.clamp(min=1)
    out = {"pixel_accuracy": float(diag.sum() / t.sum()),
           "mean_accuracy": float((diag[t > 0] / t[t > 0]).mean()),
           "mean_iou": float(iou[seen].mean()),
           "fw_iou": float((t * iou).sum() / t.sum())}
    return out | {f"iou_{i}": float(v) for i, v in enumerate(iou)}


def boundary_band(labels: torch.Tensor, width: int) -> torch.Tensor:
    """(N, S, S) bool: pixels within `width` pixels (Chebyshev) of a pixel of another label."""
    x = labels.unsqueeze(1).float()  # (N, 1, S, S)
    k = 2 * width + 1
    hi = F.max_pool2d(x, k, 1, width)
    lo = -F.max_pool2d(-x, k, 1, width)
    return (hi != lo).squeeze(1)


# --- trivial baselines --------------------------------------------------------------------------
def majority_baseline(train_y: torch.Tensor, test_y: torch.Tensor, k: int) -> dict[str, float]:
    """Every pixel gets the training set's most frequent class."""
    return scores(confusion(torch.full_like(test_y, int(torch.bincount(train_y.reshape(-1)).argmax())),
                            test_y, k))


def threshold_predict(train_x, train_y, test_x) -> torch.Tensor:
    """Foreground where the brightness (mean over channels) passes the threshold that best
    separates foreground from background on the training images; foreground pixels get the most
    frequent foreground class of the training set."""
    bright, fg = train_x.mean(1).reshape(-1), train_y.reshape(-1) > 0
    grid = torch.quantile(bright[::7], torch.linspace(0.02, 0.98, 49))
    acc = torch.stack([((bright > g) == fg).float().mean() for g in grid])
    fg_class = int(torch.bincount(train_y.reshape(-1))[1:].argmax()) + 1
    return torch.where(test_x.mean(1) > grid[acc.argmax()], fg_class, 0)


def threshold_baseline(train_x, train_y, test_x, test_y, k: int) -> dict[str, float]:
    """Sec. 5's scores of `threshold_predict`."""
    return scores(confusion(threshold_predict(train_x, train_y, test_x), test_y, k))


def pixel_baselines(scenes, k: int) -> dict[str, dict[str, float]]:
    """`majority` and `threshold` on `scenes` = (x_train, y_train, x_test, y_test)."""
    xtr, ytr, xte, yte = scenes
    return {"majority": majority_baseline(ytr, yte, k),
            "threshold": threshold_baseline(xtr, ytr, xte, yte, k)}


# --- a module's data and prediction -------------------------------------------------------------
def scene_loaders(scenes, batch_size: int, seed: int):
    """`(train loader, {"test": (x, y)})` from (x_train, y_train, x_test, y_test): images
    normalised as (x - 0.5) / 0.25, the training scenes shuffled by `seed` (the same order for
    every variant of a run), a last short batch dropped unless it is the only one."""
    xtr, ytr, xte, yte = scenes
    gen = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset((xtr - 0.5) / 0.25, ytr),
                                         batch_size=batch_size, shuffle=True, generator=gen,
                                         drop_last=len(ytr) >= batch_size)
    return loader, {"test": ((xte - 0.5) / 0.25, yte)}


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 50) -> torch.Tensor:
    """(N, H, W) per-pixel classes of images `x` (N, C, H, W), `batch_size` at a time."""
    device = next(model.parameters()).device
    return torch.cat([model(x[i:i + batch_size].to(device)).argmax(1).cpu()
                      for i in range(0, len(x), batch_size)])
