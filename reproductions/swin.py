"""Swin Transformer: Hierarchical Vision Transformer using Shifted Windows (Liu et al., 2021).

https://arxiv.org/abs/2103.14030

Self-attention is computed inside non-overlapping M x M windows of patches (W-MSA), so its
cost grows linearly with the number of patches hw (Eq. 2) rather than quadratically (Eq. 1);
consecutive blocks alternate regular and shifted window partitions (SW-MSA, Fig. 2), which
connects neighbouring windows, computed as a cyclic shift with an attention mask (Fig. 4).
Patch merging layers halve the resolution and double the width between stages (Sec. 3.1,
Fig. 3); attention adds a learned relative position bias B (Eq. 4).

Presets: `paper` = Swin-T (C = 96, layers {2, 2, 6, 2}, heads {3, 6, 12, 24}, M = 7; Sec. 3.3),
28,288,354 parameters with a 1000-class head (Table 1: 28M), with timm's
`swin_tiny_patch4_window7_224` parameter names so its weights load (a test checks equal
outputs); `mini`: Table 4's shifted-vs-regular windows on generated 16x16 images (a red or
green 4x4 square in each of two of the four 8x8-pixel windows; the label says whether the two
have the same colour, so information must cross a window border), one stage of 4 blocks
(C = 32, 4x4 patches, a 4x4 map of 2x2 windows, 52,650 parameters) trained with and without
shifting, pixel baselines on the same split, how far a change in one window reaches the
opposite one, and the attention's FLOPs counted on 8x8 to 64x64 maps against
`reproductions.vit`'s global attention; `tiny`. The images are generated here (no licence
involved).

Deviations from the paper:
- When a stage's feature map is no larger than a window (Swin-T's last stage: 7x7, M = 7) one
  window covers it and it is not shifted, as the authors' code and timm do.
- The mask value for pairs of patches from different sub-windows is -100 (the authors' code);
  the paper only says such pairs are masked (Sec. 3.2, Fig. 4).
- `mini` has one stage (no patch merging): after a merge a later stage's window could cover
  the whole map and hide the effect of shifting. Its windows are 2x2 patches (M = 2, shift 1),
  not 7x7: on a 4x4 map the shifted net learns the task in a few hundred steps. It trains 800
  steps on 4,000 images, not 300 ImageNet epochs; on 2 of 5 seeds the shifted net is still on
  the chance plateau after 800 steps, so the accuracy claims are `expected=False`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions import vit
from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "swin"
MASKED = -100.0  # added to the logits of masked pairs (authors' code; Sec. 3.2 "masking")


# --- helpers -------------------------------------------------------------------------------


def window_partition(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, M*M, C): the non-overlapping M x M windows (Sec. 3.2)."""
    b, h, w, c = x.shape
    x = x.view(b, h // m, m, w // m, m, c)  # (B, H/M, M, W/M, M, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, m * m, c)  # (B * nW, M*M, C)


def window_reverse(windows: torch.Tensor, m: int, h: int, w: int) -> torch.Tensor:
    """(B * nW, M*M, C) -> (B, H, W, C), the inverse of `window_partition`."""
    c = windows.shape[-1]
    x = windows.view(-1, h // m, w // m, m, m, c)  # (B, H/M, W/M, M, M, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


def relative_position_index(m: int) -> torch.Tensor:
    """(M*M, M*M) index into the (2M-1)^2 table B-hat (Eq. 4): the relative offset of two
    patches of a window along each axis lies in [-M+1, M-1]."""
    yy, xx = torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")
    coords = torch.stack([yy.flatten(), xx.flatten()])  # (2, M*M)
    rel = coords[:, :, None] - coords[:, None, :] + (m - 1)  # (2, M*M, M*M) in [0, 2M-2]
    return rel[0] * (2 * m - 1) + rel[1]


def shift_mask(h: int, w: int, m: int, s: int) -> torch.Tensor:
    """(nW, M*M, M*M) additive mask of the cyclically shifted partition (Fig. 4): after rolling
    by s, a window may hold patches from up to four sub-windows that are not adjacent in the
    image; attention between two of them is masked out."""
    region = torch.zeros(1, h, w, 1)
    cuts = (slice(0, -m), slice(-m, -s), slice(-s, None))
    for i, (hs, ws) in enumerate((a, b) for a in cuts for b in cuts):
        region[:, hs, ws] = i
    ids = window_partition(region, m)[..., 0]  # (nW, M*M)
    return (ids[:, None, :] != ids[:, :, None]).float() * MASKED


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth (Sec. 4.1: 0.2 for Swin-T): drop a sample's whole residual branch."""
    if p == 0.0 or not training:
        return x
    keep = x.new_empty(x.shape[0], *([1] * (x.ndim - 1))).bernoulli_(1 - p)
    return x * keep / (1 - p)


# --- blocks --------------------------------------------------------------------------------


class WindowAttention(nn.Module):
    """Attention(Q, K, V) = SoftMax(Q K^T / sqrt(d) + B) V in each window (Eq. 4), B taken
    from a learned (2M-1) x (2M-1) table per head."""

    def __init__(self, dim: int, heads: int, m: int):
        super().__init__()
        self.nh, self.scale = heads, (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * m - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("index", relative_position_index(m), persistent=False)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x, mask=None):  # (B * nW, N, C), N = M*M; mask (nW, N, N)
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.nh, c // self.nh).permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)  # (B * nW, nh, N, N)
        bias = self.relative_position_bias_table[self.index.flatten()]  # (N*N, nh)
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1)  # + B (Eq. 4)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b // nw, nw, self.nh, n, n) + mask[None, :, None]  # (B, nW, nh, N, N)
            attn = attn.view(b, self.nh, n, n)
        x = attn.softmax(-1) @ v  # (B * nW, nh, N, hs)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    """2-layer MLP with GELU in between (Sec. 3.1), hidden width 4C."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class SwinBlock(nn.Module):
    """z^ = (S)W-MSA(LN(z)) + z;  z = MLP(LN(z^)) + z^ (Eq. 3). `shift` = floor(M/2) for the
    second block of each pair (Sec. 3.2), 0 when one window covers the map."""

    def __init__(self, dim: int, heads: int, resolution: int, m: int, shift: int, cfg: Config,
                 drop: float):
        super().__init__()
        if resolution <= m:  # deviation (see docstring): one window, nothing to shift
            m, shift = resolution, 0
        self.m, self.shift, self.drop = m, shift, drop
        self.norm1, self.attn = nn.LayerNorm(dim), WindowAttention(dim, heads, m)
        self.norm2, self.mlp = nn.LayerNorm(dim), Mlp(dim, int(dim * cfg.mlp_ratio))
        mask = shift_mask(resolution, resolution, m, shift) if shift else None
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):  # (B, H, W, C)
        b, h, w, c = x.shape
        y = self.norm1(x)
        if self.shift:  # cyclic shift toward the top-left (Fig. 4)
            y = torch.roll(y, (-self.shift, -self.shift), dims=(1, 2))
        y = self.attn(window_partition(y, self.m), self.mask)  # (B * nW, M*M, C)
        y = window_reverse(y, self.m, h, w)  # (B, H, W, C)
        if self.shift:
            y = torch.roll(y, (self.shift, self.shift), dims=(1, 2))
        x = x + drop_path(y, self.drop, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop, self.training)


class PatchMerging(nn.Module):
    """Concatenate each 2x2 group of neighbouring patches (4C) and project to 2C (Sec. 3.1)."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm, self.reduction = nn.LayerNorm(4 * dim), nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x):  # (B, H, W, C)
        b, h, w, c = x.shape
        x = x.view(b, h // 2, 2, w // 2, 2, c)  # (B, H/2, dy, W/2, dx, C)
        x = x.permute(0, 1, 3, 4, 2, 5).reshape(b, h // 2, w // 2, 4 * c)  # order (dx, dy)
        return self.reduction(self.norm(x))  # (B, H/2, W/2, 2C)


class Stage(nn.Module):
    """Patch merging (stages 2-4) then `depth` blocks alternating W-MSA and SW-MSA (Fig. 3b)."""

    def __init__(self, i: int, resolution: int, cfg: Config, drops: list[float]):
        super().__init__()
        dim = cfg.dim * 2 ** i
        self.downsample = PatchMerging(dim // 2) if i else nn.Identity()
        shift = cfg.window_size // 2 if cfg.shifted else 0
        self.blocks = nn.Sequential(*[
            SwinBlock(dim, cfg.heads[i], resolution, cfg.window_size, shift * (j % 2), cfg,
                      drops[j]) for j in range(cfg.depths[i])])

    def forward(self, x):  # (B, H, W, C)
        return self.blocks(self.downsample(x))


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 375_000  # Sec. 4.1: 300 epochs of ImageNet-1K at batch 1024
    batch_size: int = 1024  # Sec. 4.1
    lr: float = 1e-3  # Sec. 4.1: AdamW, cosine decay, 20 epochs of linear warm-up
    weight_decay: float = 0.05  # Sec. 4.1
    warmup: float = 20 / 300  # fraction of steps (Sec. 4.1: 20 of 300 epochs)
    data_root: str | None = None  # an ImageNet-style folder (train/, val/) for `paper`
    dataset: str = "imagenet"  # or "pairs": the generated same-colour task of `mini`
    image_size: int = 224
    patch_size: int = 4  # Sec. 3.1: 4x4 patches, 48 = 4*4*3 features each
    in_channels: int = 3
    num_classes: int = 1000
    dim: int = 96  # Sec. 3.3: C = 96 for Swin-T
    depths: tuple[int, ...] = (2, 2, 6, 2)  # Sec. 3.3: layer numbers {2, 2, 6, 2}
    heads: tuple[int, ...] = (3, 6, 12, 24)  # Sec. 3.3: head dimension 32
    window_size: int = 7  # Sec. 3.3: M = 7
    mlp_ratio: float = 4.0  # Sec. 3.3: alpha = 4
    drop_path: float = 0.2  # Sec. 4.1: stochastic depth 0.2 for Swin-T
    shifted: bool = True  # False: every block uses the regular partition (Table 4 "w/o shifting")
    compare_shift: bool = False  # mini: also train the same net without shifting
    train_size: int = 4000  # pairs: generated training images (test: 1,000)
    flop_sides: tuple[int, ...] = ()  # mini: count attention FLOPs on these feature-map sides


# --- model ---------------------------------------------------------------------------------


class SwinTransformer(nn.Module):
    """Patch partition + linear embedding -> 4 stages -> LN -> average pool -> linear head
    (Fig. 3a); parameter names follow timm (`patch_embed.proj`, `layers.i.blocks.j.attn`,
    `layers.i.downsample.reduction`, `norm`, `head.fc`)."""

    def __init__(self, cfg: Config):
        super().__init__()
        side = cfg.image_size // cfg.patch_size
        if cfg.image_size % cfg.patch_size or side % (2 ** (len(cfg.depths) - 1)):
            raise ConfigError("image_size / patch_size must be divisible by 2^(stages - 1)")
        self.patch_embed = nn.Module()  # Sec. 3.1: a linear embedding of each 4x4 patch
        self.patch_embed.proj = nn.Conv2d(cfg.in_channels, cfg.dim, cfg.patch_size,
                                          stride=cfg.patch_size)
        self.patch_embed.norm = nn.LayerNorm(cfg.dim)
        n = sum(cfg.depths)
        drops = [cfg.drop_path * i / max(1, n - 1) for i in range(n)]  # linear in depth
        starts = [sum(cfg.depths[:i]) for i in range(len(cfg.depths))]
        self.layers = nn.Sequential(*[
            Stage(i, side // 2 ** i, cfg, drops[starts[i]:starts[i] + d])
            for i, d in enumerate(cfg.depths)])
        self.norm = nn.LayerNorm(cfg.dim * 2 ** (len(cfg.depths) - 1))
        self.head = nn.Module()
        self.head.fc = nn.Linear(self.norm.normalized_shape[0], cfg.num_classes)
        for mod in self.modules():
            if isinstance(mod, nn.Linear):
                nn.init.trunc_normal_(mod.weight, std=0.02)
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)

    def features(self, x):  # (B, C, H, W)
        x = self.patch_embed.proj(x).permute(0, 2, 3, 1)  # (B, H/P, W/P, C)
        return self.norm(self.layers(self.patch_embed.norm(x)))  # (B, H', W', 8C)

    def forward(self, x):  # (B, C, H, W)
        return self.head.fc(self.features(x).mean((1, 2)))  # (B, K): average pool, linear


def build_model(cfg: Config) -> SwinTransformer:
    return SwinTransformer(cfg)


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # Swin-T: 28,288,354 = timm swin_tiny_patch4_window7_224 (Table 1: 28M)
    "mini": Config(
        dataset="pairs", image_size=16, patch_size=4, num_classes=2, dim=32, depths=(4,),
        heads=(2,), window_size=2, drop_path=0.0, steps=800, batch_size=64, lr=3e-3,
        compare_shift=True, flop_sides=(8, 16, 32, 64)),  # 59,010 parameters
    "tiny": Config(
        dataset="pairs", image_size=16, patch_size=2, num_classes=2, dim=16, depths=(2, 2),
        heads=(2, 2), window_size=2, drop_path=0.1, steps=3, batch_size=16, train_size=64),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`shifted` and (with `compare_shift`) `regular`: the same net without shifting."""
    base = dataclasses.replace(cfg, compare_shift=False)
    out = {"shifted": base}
    if cfg.compare_shift:
        out["regular"] = dataclasses.replace(base, shifted=False, flop_sides=())
    return out


# --- data ----------------------------------------------------------------------------------

PALETTE = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # red, green
SQUARE = 4  # the largest square's side in pixels


def colour_pairs(n: int, cfg: Config, seed: int):
    """`n` images (N, 3, S, S): two squares (side 2-4 pixels, brightness 0.5-1), each inside a
    different one of the four window-sized quadrants, on a noisy black background; label 1 when
    both are red or both green (half the images). A network that sums per-window evidence (no
    shifting) can at best score 3/4 (say "different" unless both are, say, red); so can a
    linear model on pixels, which is additive too."""
    g = torch.Generator().manual_seed(seed)
    side, cell = cfg.image_size, cfg.window_size * cfg.patch_size  # a window's side in pixels
    per_row = side // cell
    x = 0.1 * torch.randn(n, 3, side, side, generator=g)
    y = (torch.rand(n, generator=g) < 0.5).long()
    first = torch.randint(0, 2, (n,), generator=g)
    second = torch.where(y.bool(), first, 1 - first)
    cells = torch.rand(n, per_row**2, generator=g).argsort(1)[:, :2]  # 2 different windows
    sizes = torch.randint(2, SQUARE + 1, (n, 2), generator=g)
    shade = 0.5 + 0.5 * torch.rand(n, 2, generator=g)
    spots = torch.rand(n, 2, 2, generator=g)  # where in its window, as a fraction of the room
    for i in range(n):
        for j, colour in enumerate((first[i], second[i])):
            k, room = int(sizes[i, j]), cell - int(sizes[i, j]) + 1
            top = int(cells[i, j]) // per_row * cell + int(spots[i, j, 0] * room)
            left = int(cells[i, j]) % per_row * cell + int(spots[i, j, 1] * room)
            x[i, :, top:top + k, left:left + k] = shade[i, j] * PALETTE[colour].view(3, 1, 1)
    return x, y


def split(cfg: Config):
    xtr, ytr = colour_pairs(cfg.train_size, cfg, seed=cfg.seed)
    xte, yte = colour_pairs(1000, cfg, seed=10_000 + cfg.seed)
    return xtr, ytr, xte, yte


def build_data(cfg: Config):
    if cfg.dataset == "imagenet":
        if cfg.data_root is None:
            raise ConfigError("the paper preset needs --set data_root=DIR holding train/ and val/")
        train, val = D.image_folder_loaders(cfg.data_root, cfg.batch_size, cfg.seed,
                                            cfg.image_size)
        return train, {"test": val}
    xtr, ytr, xte, yte = split(cfg)
    return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), {"test": (xte, yte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on the pixels, and the class prior, on the same split."""
    if cfg.dataset != "pairs":
        return {}
    return B.pixel_baselines(*split(cfg), class_prior=True)


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """AdamW, weight decay 0.05, linear warm-up then cosine decay (Sec. 4.1); no decay on
    norms, biases and the relative position bias table."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "bias_table" not in n]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2 or "bias_table" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=cfg.lr)
    warm = max(1, math.ceil(cfg.warmup * cfg.steps))
    sched = lambda s: min((s + 1) / warm, 0.5 * (1 + math.cos(math.pi * s / cfg.steps)))  # noqa: E731
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, sched)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(-1) == y).float().mean()}


def attention_flops(module: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward of an attention layer, counted by torch's FLOP counter (matrix
    products; SDPA through its math path so that Q K^T and A V are counted)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad(), \
            sdpa_kernel(SDPBackend.MATH):
        module(x)
    return counter.get_total_flops()


def flop_scaling(cfg: Config) -> dict[str, float]:
    """Attention FLOPs of a (shifted) window attention layer and of ViT's global attention
    (`reproductions.vit.Attention`) of the same width on h x h patch maps, h in `flop_sides`,
    and the slope of log FLOPs against log hw: ~1 is linear (Eq. 2), ~2 quadratic (Eq. 1)."""
    dim, nh, m = cfg.dim, cfg.heads[0], cfg.window_size
    glob = vit.Attention(vit.Config(dim=dim, heads=nh)).eval()
    out, logs = {}, {"swin": [], "vit": []}
    for h in cfg.flop_sides:
        block = SwinBlock(dim, nh, h, m, m // 2, cfg, 0.0).eval()
        x = torch.zeros(1, h, h, dim)
        windows = window_partition(x, block.m)  # (nW, M*M, C)
        counts = {"swin": attention_flops(lambda w, b=block: b.attn(w, b.mask), windows),
                  "vit": attention_flops(glob, x.view(1, h * h, dim))}
        for k, v in counts.items():
            out[f"{k}_attention_gflops_{h}x{h}"] = v / 1e9
            logs[k].append(math.log(v))
    span = math.log(cfg.flop_sides[-1] ** 2) - math.log(cfg.flop_sides[-2] ** 2)
    for k, v in logs.items():  # slope between the two largest maps
        out[f"{k}_flops_slope"] = (v[-1] - v[-2]) / span
    return out


def cross_window_influence(model: SwinTransformer, x: torch.Tensor) -> float:
    """How much the output features of the top-left window's patches change when the pixels of
    the bottom-right window are replaced by noise, relative to their size: exactly 0 when no
    block connects windows (regular partitions only), > 0 once shifted windows do (Fig. 2)."""
    cell = x.shape[-1] // 2
    other = x.clone()
    other[:, :, cell:, cell:] = torch.randn_like(other[:, :, cell:, cell:])
    a, b = model.features(x), model.features(other)  # (B, H', W', C)
    h = a.shape[1] // 2
    return float((a[:, :h, :h] - b[:, :h, :h]).abs().mean() / a[:, :h, :h].abs().mean())


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    m = D.classification_metrics(model, eval_data["test"])
    out = {"test_accuracy": m["accuracy"], "test_loss": m["loss"]}
    if cfg.dataset == "pairs" and len(cfg.depths) == 1 and cfg.window_size * 2 == \
            cfg.image_size // cfg.patch_size:  # a 2 x 2 grid of windows
        out["cross_window_influence"] = cross_window_influence(model, eval_data["test"][0][:256])
    if len(cfg.flop_sides) >= 2:
        out |= flop_scaling(cfg)
    return out


# --- claims --------------------------------------------------------------------------------


def _acc(m, v):
    return m[v]["test_accuracy"]


CLAIMS = [
    Claim(
        id="windows-connect",
        text="Replacing the pixels of one window changes the output features of the opposite "
        "window's patches by at least 1% of their size with shifted windows, and not at all "
        "(exactly 0) with regular windows only: shifting is what connects the windows.",
        paper="the shifted window partitioning approach introduces connections between "
        "neighboring non-overlapping windows in the previous layer",
        source="Sec. 3.2, Fig. 2",
        margins=lambda m: {"regular": m["shifted"]["cross_window_influence"] - 0.01
                           - 100 * m["regular"]["cross_window_influence"]},
        measured=lambda m: f"relative change: shifted {m['shifted']['cross_window_influence']:.4f}"
        f", regular {m['regular']['cross_window_influence']:.2e}",
    ),
    Claim(
        id="shifted-windows",
        text="With shifted windows the net tells whether two squares in different windows have "
        "the same colour at least 0.15 more accurately than the same net with regular windows "
        "only, which cannot connect the windows (at most 0.75: it sums per-window evidence).",
        paper="w/o shifting 80.2 vs shifted windows 81.3 top-1 (Swin-T, ImageNet-1K)",
        source="Table 4, Sec. 3.2",
        margins=lambda m: {"regular": _acc(m, "shifted") - _acc(m, "regular") - 0.15},
        measured=lambda m: f"shifted {_acc(m, 'shifted'):.3f}, regular {_acc(m, 'regular'):.3f}",
    ),
    Claim(
        id="beats-baselines",
        text="The shifted-window net beats 1-NN and logistic regression on the pixels and the "
        "class prior by at least 0.15 test accuracy on the same split.",
        paper="Swin-T 81.3% top-1 on ImageNet-1K",
        source="Table 1",
        margins=lambda m: {b: _acc(m, "shifted") - _acc(m, b) - 0.15 for b in
                           ("1-NN pixels", "logistic regression pixels", "class prior")},
        measured=lambda m: f"Swin {_acc(m, 'shifted'):.3f}, 1-NN {_acc(m, '1-NN pixels'):.3f}, "
        f"logistic regression {_acc(m, 'logistic regression pixels'):.3f}, class prior "
        f"{_acc(m, 'class prior'):.3f}",
    ),
    Claim(
        id="linear-attention-cost",
        text="Counted FLOPs of (shifted) window attention grow linearly with the number of "
        "patches hw (log-log slope below 1.05 between 32x32 and 64x64 maps) while ViT's global "
        "attention of the same width grows at least 0.5 faster (towards quadratic).",
        paper="Omega(MSA) = 4hwC^2 + 2(hw)^2 C; Omega(W-MSA) = 4hwC^2 + 2M^2 hwC",
        source="Eq. 1, Eq. 2, Sec. 3.2",
        margins=lambda m: {"linear": 1.05 - m["shifted"]["swin_flops_slope"],
                           "vit attention": m["shifted"]["vit_flops_slope"]
                           - m["shifted"]["swin_flops_slope"] - 0.5},
        measured=lambda m: f"slope: window {m['shifted']['swin_flops_slope']:.3f}, global "
        f"{m['shifted']['vit_flops_slope']:.3f}",
    ),
    Claim(
        id="imagenet-top1",
        text="Swin-T reaches 81.3% top-1 on ImageNet-1K at 224x224 with 28M parameters and "
        "4.5G FLOPs.",
        paper="Swin-T: 28M params, 4.5G FLOPs, 81.3% top-1",
        source="Table 1",
        needs="preset paper trained 300 epochs on ImageNet-1K train, evaluated on val (data_root)",
    ),
]
