"""Depth Anything: Unleashing the Power of Large-Scale Unlabeled Data (Yang, Kang, Huang, Xu,
Feng & Zhao, CVPR 2024). https://arxiv.org/abs/2401.10891

A DINOv2 ViT encoder and a DPT decoder predict relative depth (disparity) from one image.
Datasets disagree on the scale and shift of their depth, so the prediction and the label are
each normalised, d* = (d - t(d)) / s(d) with t the median and s the mean absolute deviation
from it (Eq. 2), and the loss is the mean absolute difference of the normalised maps (Eq. 1):
affine-invariant, so labels of any scale and shift can be mixed. The paper's other parts
(pseudo-labelling 62M unlabeled images with strong perturbations, Sec. 3.2; the semantic
feature-alignment loss, Sec. 3.3) need data and a teacher this module does not have.

Presets: `paper` = Depth-Anything-Small: timm's `vit_small_patch14_dinov2` (no download;
22,056,192 parameters) + the DPT head (features 64, channels 48/96/192/384 from blocks
3/6/9/12; 2,728,513): 24,784,705 parameters (the paper: 24.8M; DINOv2's unused mask token
adds 384 in the authors' code). `mini`: generated 32x32 scenes (a textured ground plane
receding to a horizon and 1-3 upright boards standing on it, so a board's depth is the ground's
depth at its foot: a depth cue only the context gives), each image's depth multiplied and
shifted by a random scale and shift the image does not show. A 4-block ViT (patch 8, width 64,
`vit.Block`) + a small DPT head (416,177 parameters) trained with the affine-invariant loss
(`affine`) and with a plain L1 loss on the raw depth (`raw-l1`), the same steps; all
predictions are aligned to the truth by least squares before AbsRel. Baselines (aligned the
same way): a constant map, and the ground-plane prior (each row at the ground's depth).

Deviations from the paper:
- Depth, not disparity, is predicted in `mini` (the scenes are generated in depth); the loss
  is Eq. 1-2 as written.
- `mini` trains from scratch (no DINOv2 weights, no unlabeled images) with Adam for 300 steps,
  without the head's final ReLU: with it, both minis died at a constant map on the first run
  (AbsRel 0.597 = the constant baseline's).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions import vit
from reproductions.common.claims import Claim

PAPER = "depth-anything"


# --- Eq. 1-2 ------------------------------------------------------------------------------------
def normalise(d: torch.Tensor) -> torch.Tensor:
    """Eq. 2: (d - median) / mean |d - median|, per image. d: (B, H, W)."""
    flat = d.flatten(1)  # (B, HW)
    t = flat.median(1, keepdim=True).values
    s = (flat - t).abs().mean(1, keepdim=True).clamp(min=1e-6)
    return ((flat - t) / s).view_as(d)


def affine_invariant_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 1: the mean over pixels of |d*_pred - d*_target|."""
    return (normalise(pred) - normalise(target)).abs().mean()


def align(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Least-squares scale and shift per image, s pred + t closest to target (evaluation)."""
    p, g = pred.flatten(1), target.flatten(1)  # (B, HW)
    pc, gc = p - p.mean(1, keepdim=True), g - g.mean(1, keepdim=True)
    s = (pc * gc).sum(1, keepdim=True) / pc.pow(2).sum(1, keepdim=True).clamp(min=1e-12)
    return (s * pc + g.mean(1, keepdim=True)).view_as(pred)


def abs_rel(pred: torch.Tensor, target: torch.Tensor) -> float:
    """AbsRel = mean |d - d_gt| / d_gt after alignment (Sec. 4, Table 2)."""
    return float(((align(pred, target) - target).abs() / target).mean())


# --- DPT head -----------------------------------------------------------------------------------
class ResidualConvUnit(nn.Module):
    def __init__(self, f: int):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(f, f, 3, padding=1), nn.Conv2d(f, f, 3, padding=1)

    def forward(self, x):  # (B, f, h, w)
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    """DPT's fusion: add the refined skip, refine, upsample x2 (or to `size`), 1x1 conv."""

    def __init__(self, f: int):
        super().__init__()
        self.res1, self.res2, self.out_conv = ResidualConvUnit(f), ResidualConvUnit(f), \
            nn.Conv2d(f, f, 1)

    def forward(self, x, skip=None, size=None):  # (B, f, h, w)
        if skip is not None:
            x = x + self.res1(skip)
        x = self.res2(x)
        x = F.interpolate(x, size=size, scale_factor=None if size else 2, mode="bilinear",
                          align_corners=True)
        return self.out_conv(x)


class DPTHead(nn.Module):
    """Four token maps (from blocks 3, 6, 9, 12) -> 1x1 projections -> resized to 4x, 2x, 1x,
    1/2x the patch grid -> 3x3 to `f` channels -> fused coarse to fine -> depth (ReLU >= 0)."""

    def __init__(self, dim: int, f: int, channels: tuple[int, ...], output_relu: bool = True):
        super().__init__()
        self.projects = nn.ModuleList([nn.Conv2d(dim, c, 1) for c in channels])
        self.resize = nn.ModuleList([
            nn.ConvTranspose2d(channels[0], channels[0], 4, 4),
            nn.ConvTranspose2d(channels[1], channels[1], 2, 2), nn.Identity(),
            nn.Conv2d(channels[3], channels[3], 3, 2, 1)])
        self.rn = nn.ModuleList([nn.Conv2d(c, f, 3, padding=1, bias=False) for c in channels])
        self.fuse = nn.ModuleList([FusionBlock(f) for _ in channels])
        # the coarsest fusion has no skip: DPT builds its first residual unit anyway and never
        # calls it; kept (frozen) so the parameter count is the authors' 24.8M
        self.fuse[3].res1.requires_grad_(False)
        self.out1 = nn.Conv2d(f, f // 2, 3, padding=1)
        self.out2 = nn.Sequential(nn.Conv2d(f // 2, 32, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(32, 1, 1), nn.ReLU() if output_relu else nn.Identity())

    def forward(self, tokens: list[torch.Tensor], grid: tuple[int, int], out_size):
        maps = []
        for i, t in enumerate(tokens):  # each (B, N, D)
            x = t.transpose(1, 2).reshape(len(t), -1, *grid)  # (B, D, gh, gw)
            maps.append(self.rn[i](self.resize[i](self.projects[i](x))))  # (B, f, ...)
        x = self.fuse[3](maps[3], size=maps[2].shape[-2:])
        x = self.fuse[2](x, maps[2], size=maps[1].shape[-2:])
        x = self.fuse[1](x, maps[1], size=maps[0].shape[-2:])
        x = self.fuse[0](x, maps[0])  # (B, f, 8 gh, 8 gw)
        x = F.interpolate(self.out1(x), size=out_size, mode="bilinear", align_corners=True)
        return self.out2(x).squeeze(1)  # (B, H, W)


# --- config -------------------------------------------------------------------------------------
@dataclass
class Config:
    seed: int = 0
    steps: int = 20_000  # Sec. 4.1: 20 epochs on the labeled sets
    batch_size: int = 8
    lr: float = 5e-6  # Sec. 4.1: encoder 5e-6, decoder 10x larger
    data_root: str | None = None  # unused: the 1.5M labeled / 62M unlabeled images are not read
    encoder: Literal["dinov2-s", "mini"] = "dinov2-s"
    image_size: int = 518  # Sec. 4.1: 518x518 crops
    dim: int = 384  # mini: ViT width
    depth: int = 4  # mini: ViT blocks (tokens taken after each quarter)
    patch_size: int = 4  # mini
    features: int = 64  # DPT features of Depth-Anything-Small
    channels: tuple[int, ...] = (48, 96, 192, 384)
    loss: Literal["affine", "raw-l1"] = "affine"  # raw-l1: the control, L1 on raw depth
    output_relu: bool = True  # DPT's final ReLU (disparity >= 0); mini: off, see Deviations
    compare: bool = False  # mini: train with both losses
    train_size: int = 1000
    test_size: int = 200


# --- model --------------------------------------------------------------------------------------
class DepthAnything(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        if cfg.encoder == "dinov2-s":
            import timm  # an optional dependency; nothing is downloaded (pretrained=False)

            self.encoder = timm.create_model("vit_small_patch14_dinov2", pretrained=False,
                                             dynamic_img_size=True)
            self.taps, self.patch = (2, 5, 8, 11), 14
        else:
            vcfg = vit.Config(dim=cfg.dim, depth=cfg.depth, heads=4, mlp_dim=2 * cfg.dim)
            self.patch_embed = nn.Conv2d(3, cfg.dim, cfg.patch_size, cfg.patch_size)
            n = (cfg.image_size // cfg.patch_size) ** 2
            self.pos_embed = nn.Parameter(torch.randn(1, n, cfg.dim) * 0.02)
            self.blocks = nn.ModuleList([vit.Block(vcfg) for _ in range(cfg.depth)])
            self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
            self.taps, self.patch = tuple(range(cfg.depth // 4 - 1, cfg.depth, cfg.depth // 4)), \
                cfg.patch_size
        self.head = DPTHead(cfg.dim, cfg.features, cfg.channels, cfg.output_relu)

    def tokens(self, x):  # (B, 3, H, W) -> 4 x (B, N, D), normalised by the final LayerNorm
        if hasattr(self, "encoder"):
            outs = self.encoder.get_intermediate_layers(x, n=self.taps, norm=True)
            return [o.flatten(2).transpose(1, 2) if o.ndim == 4 else o for o in outs]
        h = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embed  # (B, N, D)
        outs = []
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in self.taps:
                outs.append(self.norm(h))
        return outs

    def forward(self, x):  # (B, 3, H, W)
        grid = (x.shape[-2] // self.patch, x.shape[-1] // self.patch)
        return self.head(self.tokens(x), grid, x.shape[-2:])  # (B, H, W)


def build_model(cfg: Config) -> DepthAnything:
    return DepthAnything(cfg)


# --- presets ------------------------------------------------------------------------------------
_MINI = Config(encoder="mini", image_size=32, dim=64, depth=4, patch_size=8, features=32,
               channels=(16, 32, 64, 64), steps=300, batch_size=16, lr=1e-3, output_relu=False)
PRESETS = {
    "paper": Config(),  # Depth-Anything-Small: 24,784,705 (paper: 24.8M)
    "mini": dataclasses.replace(_MINI, compare=True),  # 416,177
    "tiny": dataclasses.replace(_MINI, steps=3, batch_size=4, dim=16, features=8,
                                channels=(4, 8, 8, 8), train_size=8, test_size=4),
}


def variants(cfg: Config) -> dict[str, Config]:
    base = dataclasses.replace(cfg, compare=False)
    if cfg.compare:
        return {"affine": base, "raw-l1": dataclasses.replace(base, loss="raw-l1")}
    return {"main": base}


# --- data ---------------------------------------------------------------------------------------
def ground_depth(size: int, horizon: torch.Tensor) -> torch.Tensor:
    """(S,) depth of the ground plane at each row: camera height / angle below the horizon."""
    rows = torch.arange(size, dtype=torch.float32) + 0.5
    return 8.0 / (rows - horizon).clamp(min=0.8)


def depth_scenes(n: int, size: int, seed: int):
    """(n, 3, S, S) images, (n, S, S) depth in units of a random per-image scale and shift
    (scale 0.5-2, shift 0-3: the image does not show them), (n, S, S) the ground prior."""
    gen = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                            torch.arange(size, dtype=torch.float32), indexing="ij")
    images, depths, priors = torch.empty(n, 3, size, size), torch.empty(n, size, size), \
        torch.empty(n, size, size)
    for i in range(n):
        horizon = size * (0.2 + 0.2 * torch.rand((), generator=gen))
        ground = ground_depth(size, horizon)[:, None].expand(size, size).clone()
        depth = torch.where(ys < horizon, torch.full_like(ground, 8.0 / 0.8), ground)
        tex = 0.5 + 0.25 * torch.sin(6.0 * (xs - size / 2) / ground) * torch.sin(3.0 / ground)
        img = torch.rand(3, 1, 1, generator=gen) * tex + 0.05 * torch.randn(
            3, size, size, generator=gen)
        img = torch.where(ys < horizon, 0.7 + 0.3 * torch.rand(3, 1, 1, generator=gen), img)
        feet = sorted((horizon + 2 + (size - horizon - 2) * torch.rand(
            int(torch.randint(1, 4, (), generator=gen)), generator=gen)).tolist())
        for foot in feet:  # far boards first, near ones paint over them
            d = float(ground_depth(size, horizon)[int(foot)])
            h, w = 24.0 / d, 12.0 / d  # nearer boards look larger
            x0 = float((size - w) * torch.rand((), generator=gen))
            board = (ys <= foot) & (ys > foot - h) & (xs >= x0) & (xs < x0 + w)
            depth = torch.where(board, torch.full_like(depth, d), depth)
            img = torch.where(board, torch.rand(3, 1, 1, generator=gen) * (
                0.8 + 0.2 * torch.randn(size, size, generator=gen)), img)
        scale = 0.5 + 1.5 * torch.rand((), generator=gen)
        shift = 3 * torch.rand((), generator=gen)
        images[i], depths[i] = img.clamp(0, 1), scale * depth + shift
        priors[i] = scale * torch.where(ys < horizon, 8.0 / 0.8, ground) + shift
    return images, depths, priors


def scenes(cfg: Config):
    xtr, dtr, _ = depth_scenes(cfg.train_size, cfg.image_size, seed=2 * cfg.seed)
    xte, dte, pte = depth_scenes(cfg.test_size, cfg.image_size, seed=2 * cfg.seed + 1)
    return xtr, dtr, xte, dte, pte


def build_data(cfg: Config):
    xtr, dtr, xte, dte, _ = scenes(cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset((xtr - 0.5) / 0.25, dtr,
                                       torch.full((len(xtr),), float(cfg.loss == "affine"))),
        batch_size=cfg.batch_size, shuffle=True, generator=gen, drop_last=True)
    return loader, {"test": ((xte - 0.5) / 0.25, dte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """A constant map and the ground-plane prior (the truth without the boards), aligned."""
    _, _, _, dte, pte = scenes(cfg)
    flat = torch.ones_like(dte) + 1e-3 * torch.randn(dte.shape, generator=torch.Generator())
    return {"constant": {"abs_rel": abs_rel(flat, dte)},
            "ground prior": {"abs_rel": abs_rel(pte, dte)}}


# --- training and evaluation --------------------------------------------------------------------
def training_step(model: nn.Module, batch) -> dict:
    x, depth, affine = batch  # (B, 3, H, W), (B, H, W), (B,)
    pred = model(x)  # (B, H, W)
    if bool(affine[0]):
        return {"loss": affine_invariant_loss(pred, depth)}  # Eq. 1-2
    return {"loss": (pred - depth).abs().mean()}  # the control: raw depth, scale and shift unseen


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    x, depth = eval_data["test"]
    pred = torch.cat([model(x[i:i + 100]) for i in range(0, len(x), 100)])
    return {"abs_rel": abs_rel(pred, depth)}


# --- claims -------------------------------------------------------------------------------------
def _ar(m, v):
    return m[v]["abs_rel"]


CLAIMS = [
    Claim(
        id="affine-invariant-learns-relative-depth",
        text="Trained with the affine-invariant loss on labels of unknown scale and shift, the "
        "net's AbsRel after alignment is at least 0.02 below the ground-plane prior's and "
        "0.05 below a constant map's: it has learned where the boards stand.",
        paper="Depth-Anything-Small zero-shot AbsRel 0.080 on KITTI, 0.053 on NYUv2",
        source="Table 2, Eq. 1-2",
        margins=lambda m: {"ground prior": _ar(m, "ground prior") - _ar(m, "affine") - 0.02,
                           "constant": _ar(m, "constant") - _ar(m, "affine") - 0.05},
        measured=lambda m: f"AbsRel affine {_ar(m, 'affine'):.3f}, raw-l1 "
        f"{_ar(m, 'raw-l1'):.3f}, ground prior {_ar(m, 'ground prior'):.3f}, constant "
        f"{_ar(m, 'constant'):.3f}",
    ),
    Claim(
        id="affine-vs-raw",
        text="The affine-invariant loss beats an L1 loss on the raw labels (whose scale and "
        "shift the image does not show) by at least 0.01 AbsRel after alignment.",
        paper="the affine-invariant loss lets labels of different scales and shifts be mixed",
        source="Sec. 3.1, Eq. 1",
        margins=lambda m: {"raw-l1": _ar(m, "raw-l1") - _ar(m, "affine") - 0.01},
        measured=lambda m: f"AbsRel affine {_ar(m, 'affine'):.3f}, raw-l1 {_ar(m, 'raw-l1'):.3f}",
    ),
    Claim(
        id="zero-shot",
        text="Depth-Anything-Small, trained on 1.5M labeled and 62M pseudo-labeled images, "
        "reaches AbsRel 0.080 on KITTI zero-shot.",
        paper="0.080 KITTI, 0.053 NYUv2 (ViT-S)",
        source="Table 2",
        needs="preset paper with DINOv2 weights, the 1.5M + 62M image training sets "
        "(data_root; not read here)",
    ),
]
