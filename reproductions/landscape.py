"""Visualizing the Loss Landscape of Neural Nets (Li, Xu, Taylor, Studer, Goldstein,
NeurIPS 2018).

https://arxiv.org/abs/1712.09913

Around a trained network's parameters theta*, plot the loss along one random direction d,
L(theta* + alpha d) (1-D), or on the plane of two, L(theta* + alpha d + beta e) (2-D contours).
Raw random directions mislead: a net with batch normalisation computes the same function after
its filters are scaled by any c > 0, yet the plot along a fixed direction gets c times wider. Sec. 4's
*filter normalisation* rescales each filter of the direction to the norm of the matching filter
of theta*, d_ij <- d_ij / ||d_ij|| * ||theta_ij|| (i: layer, j: filter; a fully connected layer's
filter is one output unit's row), and gives biases and BN parameters a zero direction (the
authors' `--xignore biasbn`). Sec. 6 (Fig. 5, Fig. 7): with filter-normalised 2-D plots,
ResNet-56 without skip connections has a chaotic, non-convex landscape, while ResNet-56 is
nearly convex around its minimum; the principal curvatures' ratio |lambda_min / lambda_max| maps
where the surface is non-convex.

Presets: `paper` = ResNet-56 on CIFAR-10 (853,018 parameters, He et al. Table 6's count, from
`reproductions.resnet`), `paper-noshort` = ResNet-56-noshort (the same 853,018: option A
shortcuts have no parameters); `mini`: a 16-block fully connected net with BN on scikit-learn's
8x8 digits, with skip connections (`residual`) and without (`plain`), each trained 300 Adam
steps, then a filter-normalised 1-D slice along 3 directions and a 21 x 21 2-D slice on
[-1, 1]^2 around each minimum, and Sec. 4's rescaling test on the plain net.

Deviations from the paper:
- `mini` uses fully connected nets (BN -> ReLU -> Linear blocks, 64 wide), not convolutional
  ResNet-56s: on 8x8 digits and 300 steps a 56-layer plain CNN does not train at all (loss 2.2,
  the degradation problem), nor does a 40-block plain MLP (2.2); at 16 blocks the plain MLP still
  fits the training set (loss 0.06-0.13; at 24 blocks 0.6), so both nets sit at a minimum. The paper's own
  Fig. 5 shows the same pattern in depth: ResNet-20-noshort is nearly convex, 56 is chaotic.
- Adam (lr 1e-3, no weight decay) for 300 steps instead of SGD with momentum for 300 epochs.
- Non-convexity is measured on the 2-D slice itself: at each interior grid point the 2 x 2
  Hessian of the plotted surface by central differences, its eigenvalues lambda_min <= lambda_max,
  and the fraction of points within 0.5 of the minimum with lambda_min < -0.1 |lambda_max|
  (farther out the cross-entropy saturates and every slice bends down). The paper computes the full
  Hessian's extreme eigenvalues at each point (Fig. 7); a negative curvature of the slice
  implies a negative eigenvalue of the full Hessian, so this fraction is a lower bound.
- Losses are the training loss on 512 training digits, in eval mode (BN running statistics),
  as the authors' `eval_loss` does (`net.eval()`).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions import resnet
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "loss-landscape"


# --- filter normalisation (Sec. 4) ---------------------------------------------------------


def random_direction(model: nn.Module, generator: torch.Generator,
                     norm: Literal["filter", "none"] = "filter") -> list[torch.Tensor]:
    """One Gaussian direction per parameter. `filter`: each filter d_ij (slice j along the output
    dimension of a weight of 2+ dimensions) rescaled to ||theta_ij|| (Sec. 4); biases and BN
    parameters (1-D) get 0. `none`: the raw Gaussian direction, 1-D parameters 0 as well."""
    out = []
    for p in model.parameters():
        d = torch.randn(p.shape, generator=generator).to(p.device, p.dtype)
        if p.dim() <= 1:
            out.append(torch.zeros_like(p))  # `--xignore biasbn`
        elif norm == "filter":
            d_norm = d.flatten(1).norm(dim=1)  # ||d_ij|| per filter j, (C_out,)
            p_norm = p.detach().flatten(1).norm(dim=1)  # ||theta_ij||, (C_out,)
            out.append(d * (p_norm / (d_norm + 1e-10)).view(-1, *[1] * (p.dim() - 1)))
        else:
            out.append(d)
    return out


class Slice:
    """Evaluates L(theta* + alpha d + beta e) on a copy of a trained model (eval mode)."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor):
        self.model = copy.deepcopy(model).eval()
        self.theta = [p.detach().clone() for p in self.model.parameters()]
        self.x, self.y = x, y

    @torch.no_grad()
    def loss(self, dirs: list[list[torch.Tensor]] = (), coords: tuple[float, ...] = ()) -> float:
        for i, p in enumerate(self.model.parameters()):
            p.copy_(self.theta[i])
            for d, c in zip(dirs, coords, strict=True):
                p.add_(d[i], alpha=c)
        return float(F.cross_entropy(self.model(self.x).float(), self.y))

    def line(self, d, alphas: torch.Tensor) -> torch.Tensor:
        return torch.tensor([self.loss([d], (float(a),)) for a in alphas])  # (K,)

    def plane(self, d, e, alphas: torch.Tensor) -> torch.Tensor:
        return torch.tensor([[self.loss([d, e], (float(a), float(b))) for b in alphas]
                             for a in alphas])  # (K, K): rows alpha, columns beta


def slice_curvatures(z: torch.Tensor, h: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (lambda_min, lambda_max) of the 2 x 2 Hessian of a (K, K) surface at its
    interior points by central differences (step h): each (K-2, K-2)."""
    faa = (z[2:, 1:-1] - 2 * z[1:-1, 1:-1] + z[:-2, 1:-1]) / h**2
    fbb = (z[1:-1, 2:] - 2 * z[1:-1, 1:-1] + z[1:-1, :-2]) / h**2
    fab = (z[2:, 2:] - z[2:, :-2] - z[:-2, 2:] + z[:-2, :-2]) / (4 * h * h)
    mid, rad = (faa + fbb) / 2, ((faa - fbb) ** 2 / 4 + fab**2).sqrt()
    return mid - rad, mid + rad


def rescale_bn_filters(model: nn.Module, c: float) -> nn.Module:
    """A copy of a plain `MLP` computing the same function with every linear layer that feeds a
    batch normalisation scaled by c (weights, biases, and the BN's running mean by c and running
    variance by c^2): the scale invariance filter normalisation must see through (Sec. 4)."""
    if not isinstance(model, MLP) or model.residual:
        raise ConfigError("rescaling needs a plain MLP: with skips a scaled layer also scales the sum")
    model = copy.deepcopy(model)
    feeds = [model.stem] + [b[2] for b in model.blocks]  # each followed by the next BN
    bns = [b[0] for b in model.blocks] + [model.head[0]]
    with torch.no_grad():
        for linear, bn in zip(feeds, bns, strict=True):
            linear.weight.mul_(c)
            linear.bias.mul_(c)
            bn.running_mean.mul_(c)
            bn.running_var.mul_(c * c)
    return model


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 117_300  # Sec. 5: 300 epochs of CIFAR-10 at batch 128 (391 steps each)
    batch_size: int = 128  # Sec. 5
    lr: float = 0.1  # Sec. 5: SGD, lr 0.1, divided by 10 at epochs 150, 225, 275
    momentum: float = 0.9
    weight_decay: float = 5e-4  # Sec. 5
    optimizer: Literal["sgd", "adam"] = "sgd"
    data_root: str | None = None  # CIFAR-10's folder (paper presets)
    download: bool = False
    dataset: Literal["cifar10", "digits"] = "cifar10"
    arch: Literal["resnet", "mlp"] = "resnet"  # resnet: `reproductions.resnet`'s CIFAR nets
    depth: int = 56  # resnet: 6n+2 layers; mlp: hidden blocks
    width: int = 64  # mlp: units per block
    residual: bool = True  # False: the "noshort" net of Sec. 6, Fig. 5
    eval_size: int = 512  # training images the landscape's loss is computed on
    grid: int = 21  # 2-D slice: grid x grid points on [-span, span]^2 (paper: 51 x 51)
    span: float = 1.0  # Fig. 5: alpha, beta in [-1, 1]
    line_points: int = 21  # 1-D slice: points on [-span, span]
    directions: int = 3  # 1-D slices along this many random filter-normalised directions
    convex_radius: float = 0.5  # non-convexity counted within this distance of the minimum
    compare: bool = False  # mini: a plain and a residual net in one run


# --- model ---------------------------------------------------------------------------------


class MLP(nn.Module):
    """Fully connected net for the miniature: stem Linear, `depth` blocks BN -> ReLU -> Linear
    (h <- h + block(h) with skips, h <- block(h) without), BN -> ReLU -> Linear head."""

    def __init__(self, cfg: Config, in_features: int = 64, num_classes: int = 10):
        super().__init__()
        self.residual = cfg.residual
        self.stem = nn.Linear(in_features, cfg.width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.BatchNorm1d(cfg.width), nn.ReLU(), nn.Linear(cfg.width, cfg.width))
            for _ in range(cfg.depth))
        self.head = nn.Sequential(nn.BatchNorm1d(cfg.width), nn.ReLU(),
                                  nn.Linear(cfg.width, num_classes))

    def forward(self, x):  # (B, C, H, W)
        h = self.stem(x.flatten(1))  # (B, D)
        for block in self.blocks:
            h = h + block(h) if self.residual else block(h)  # (B, D)
        return self.head(h)  # (B, K)


def build_model(cfg: Config) -> nn.Module:
    """The MLP, or ResNet-(6n+2) for CIFAR (He et al. Sec. 4.2, option A shortcuts) with or
    without its skips, from `reproductions.resnet`."""
    if cfg.arch == "mlp":
        return MLP(cfg)
    if (cfg.depth - 2) % 6:
        raise ConfigError(f"depth {cfg.depth} is not 6n+2 (20, 56, 110)")
    n = (cfg.depth - 2) // 6
    return resnet.ResNet(resnet.Config(layers=(n, n, n), residual=cfg.residual, in_channels=3,
                                       dataset="cifar10", shortcut="A"))


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # ResNet-56: 853,018
    "paper-noshort": Config(residual=False),  # ResNet-56-noshort: 853,018
    "mini": Config(dataset="digits", arch="mlp", depth=16, width=64, steps=300, batch_size=64,
                   lr=1e-3, optimizer="adam", weight_decay=0.0, compare=True),  # 2 x 73,546
    "tiny": Config(dataset="digits", arch="mlp", depth=2, width=8, steps=3, batch_size=16,
                   lr=1e-3, optimizer="adam", weight_decay=0.0, eval_size=64, grid=4,
                   line_points=5, directions=1),
}


def variants(cfg: Config) -> dict[str, Config]:
    """mini: `plain` (no skips) and `residual`, otherwise identical; else `main`."""
    if not cfg.compare:
        return {"main": cfg}
    base = dataclasses.replace(cfg, compare=False)
    return {"plain": dataclasses.replace(base, residual=False),
            "residual": dataclasses.replace(base, residual=True)}


# --- data ----------------------------------------------------------------------------------


def build_data(cfg: Config):
    """Training batches; eval_data: the first `eval_size` training images (the landscape is the
    training loss, Sec. 6) and the test split."""
    if cfg.dataset == "digits":
        xtr, ytr, xte, yte = D.digits(seed=0)
        xtr, xte = D.standardize(xtr, "digits"), D.standardize(xte, "digits")
        augment = None
    else:
        if cfg.data_root is None:
            raise ConfigError("the paper presets need --set data_root=DIR (CIFAR-10's folder)")
        xtr, ytr = D.real_images("cifar10", cfg.data_root, train=True, download=cfg.download)
        xte, yte = D.real_images("cifar10", cfg.data_root, train=False, download=cfg.download)
        xtr, xte = D.standardize(xtr, "cifar10"), D.standardize(xte, "cifar10")
        augment = D.random_crop_flip
    train = D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed, augment=augment)
    return train, {"landscape": (xtr[:cfg.eval_size], ytr[:cfg.eval_size]), "test": (xte, yte)}


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """Sec. 5: SGD, momentum 0.9, weight decay 5e-4, lr / 10 at 50%, 75%, 92% of training; the
    miniature: Adam (see Deviations)."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay), None
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    marks = [int(cfg.steps * f) for f in (150 / 300, 225 / 300, 275 / 300)]
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, marks, gamma=0.1)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(-1) == y).float().mean()}


# --- evaluation ----------------------------------------------------------------------------


def _directions(cfg: Config, model: nn.Module, n: int, norm="filter"):
    g = torch.Generator().manual_seed(10_007 * cfg.seed + 1)  # the same draws for every variant
    return [random_direction(model, g, norm) for _ in range(n)]


def landscape(model: nn.Module, eval_data, cfg: Config) -> dict[str, torch.Tensor]:
    """The 1-D slices `(directions, line_points)` and the 2-D slice `(grid, grid)`."""
    device = next(model.parameters()).device
    x, y = (t[:cfg.eval_size].to(device) for t in eval_data["landscape"])
    s = Slice(model, x, y)
    dirs = _directions(cfg, s.model, cfg.directions + 2)
    line = torch.linspace(-cfg.span, cfg.span, cfg.line_points)
    plane = torch.linspace(-cfg.span, cfg.span, cfg.grid)
    return {"alphas": line, "lines": torch.stack([s.line(d, line) for d in dirs[:-2]]),
            "grid": plane, "plane": s.plane(dirs[-2], dirs[-1], plane)}


def _sharpness(s: Slice, d, alpha: float) -> float:
    """Mean loss increase at +-alpha along d: [L(+alpha) + L(-alpha)] / 2 - L(0)."""
    return (s.loss([d], (alpha,)) + s.loss([d], (-alpha,))) / 2 - s.loss()


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Training loss at the minimum, test accuracy; from the filter-normalised slices: the loss
    increase at alpha = +-0.5 (mean over the 1-D directions), the 2-D slice's non-convex
    fraction and mean |lambda_min / lambda_max| where lambda_min < 0; for a plain MLP also
    Sec. 4's rescaling test: the sharpness of the rescaled net over the original's, with
    filter-normalised and with raw directions."""
    device = next(model.parameters()).device
    test = D.classification_metrics(model, eval_data["test"])
    x, y = (t.to(device) for t in eval_data["landscape"])
    out = {"train_loss": Slice(model, x, y).loss(), "test_accuracy": test["accuracy"]}
    ls = landscape(model, eval_data, cfg)
    mid = cfg.line_points // 2
    half = min(range(cfg.line_points), key=lambda i: abs(float(ls["alphas"][i]) - cfg.span / 2))
    lines = ls["lines"]  # (n, K)
    out["sharpness_1d"] = float(((lines[:, half] + lines[:, -1 - half]) / 2 - lines[:, mid]).mean())
    out |= nonconvexity(ls, cfg)
    if isinstance(model, MLP) and not model.residual:
        out |= rescaling_test(model, x, y, cfg)
    return out


def nonconvexity(ls: dict[str, torch.Tensor], cfg: Config) -> dict[str, float]:
    """Over the 2-D slice's interior points within `convex_radius` of the minimum: the fraction
    where lambda_min < -0.1 |lambda_max| (non-convex, Fig. 7's |lambda_min / lambda_max| map),
    and the mean of max(0, -lambda_min / |lambda_max|). Farther out the cross-entropy saturates
    and bends down (concave) along every direction, for skips or not."""
    a = ls["grid"][1:-1]
    inside = (a[:, None] ** 2 + a[None, :] ** 2).sqrt() <= cfg.convex_radius + 1e-6  # (K-2, K-2)
    lo, hi = slice_curvatures(ls["plane"], float(ls["grid"][1] - ls["grid"][0]))
    ratio = (lo / hi.abs().clamp_min(1e-12))[inside]
    return {"nonconvex_fraction": float((ratio < -0.1).float().mean()),
            "negative_curvature_ratio": float((-ratio).clamp_min(0).mean())}


def rescaling_test(model: nn.Module, x, y, cfg: Config, c: float = 10.0) -> dict[str, float]:
    """Sharpness (loss increase at +-alpha) of `rescale_bn_filters(model, c)` divided by the
    original's, along a filter-normalised direction (alpha 0.5) and along one raw Gaussian
    direction scaled to the whole model's norm (alpha 0.1), drawn the same for both nets."""
    scaled = rescale_bn_filters(model, c)
    out = {}
    for norm, alpha in (("filter", 0.5), ("none", 0.1)):
        sharp = []
        for net in (model, scaled):
            s = Slice(net, x, y)
            (d,) = _directions(cfg, s.model, 1, norm)
            if norm == "none":  # one fixed absolute size for both nets: ||d|| = ||theta_original||
                size = torch.cat([p.detach().flatten() for p in model.parameters()]).norm()
                total = torch.cat([t.flatten() for t in d]).norm()
                d = [t * size / total for t in d]
            sharp.append(_sharpness(s, d, alpha))
        out[f"rescaled_sharpness_ratio_{'filter' if norm == 'filter' else 'raw'}"] = \
            sharp[1] / max(sharp[0], 1e-12)
    return out


# --- figures -------------------------------------------------------------------------------


def figures(out_dir, cfg: Config, models, metrics) -> list[dict]:
    """Fig. 3-style 1-D slices and Fig. 5-style 2-D contours (log10 loss) of each variant, with
    the non-convex points of Fig. 7 marked, from the same filter-normalised directions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = variants(cfg)
    slices = {v: landscape(m, build_data(runs[v])[1], runs[v]) for v, m in models.items()}
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for (v, ls), colour in zip(slices.items(), ("C3", "C0", "C2", "C1"), strict=False):
        for i, line in enumerate(ls["lines"]):
            ax.semilogy(ls["alphas"], line, color=colour, lw=1, label=v if i == 0 else None)
    ax.set_xlabel("alpha (filter-normalised direction)")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "slices_1d.png", dpi=100)
    plt.close(fig)
    fig, axes = plt.subplots(1, len(slices), figsize=(4.2 * len(slices), 3.8), squeeze=False)
    for ax, (v, ls) in zip(axes[0], slices.items(), strict=True):
        g, z = ls["grid"], ls["plane"].clamp_min(1e-6).log10()
        cs = ax.contour(g, g, z.T, levels=torch.linspace(-2, 3, 21).tolist(), linewidths=0.8)
        ax.clabel(cs, fontsize=6)
        lo, hi = slice_curvatures(ls["plane"], float(g[1] - g[0]))
        bad = (lo / hi.abs().clamp_min(1e-12) < -0.1).nonzero() + 1
        ax.plot(g[bad[:, 0]], g[bad[:, 1]], "r.", ms=3)
        ax.set_title(f"{v}: log10 loss (red: non-convex)", fontsize=9)
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(out_dir / "contours_2d.png", dpi=100)
    plt.close(fig)
    return [{"file": "slices_1d.png", "paper_figure": "Fig. 3",
             "caption": "training loss along random filter-normalised directions around each "
                        "minimum: the net without skips is sharper"},
            {"file": "contours_2d.png", "paper_figure": "Fig. 5, Fig. 7",
             "caption": "filter-normalised 2-D slices (log10 training loss); red dots: points "
                        "where the slice's curvature is negative (non-convex)"}]


# --- claims --------------------------------------------------------------------------------


def _m(m, v, k):
    return m[v][k]


CLAIMS = [
    Claim(
        id="skips-convexity",
        text="Without skip connections the filter-normalised 2-D slice around the minimum is "
        "non-convex: within 0.5 of the minimum the fraction of points with negative curvature "
        "(lambda_min < -0.1 |lambda_max|) is at least 0.15 higher than with skips, while both "
        "nets fit the training set (training loss below 0.2).",
        paper="ResNet-56-noshort's landscape is chaotic and non-convex, ResNet-56's nearly "
        "convex; non-convex regions show as large |lambda_min / lambda_max|",
        source="Sec. 6, Fig. 5, Fig. 7",
        margins=lambda m: {
            "residual": _m(m, "plain", "nonconvex_fraction")
            - _m(m, "residual", "nonconvex_fraction") - 0.15,
            "plain fits": 0.2 - _m(m, "plain", "train_loss"),
            "residual fits": 0.2 - _m(m, "residual", "train_loss")},
        measured=lambda m: "non-convex fraction within 0.5: plain "
        f"{_m(m, 'plain', 'nonconvex_fraction'):.2f}, residual "
        f"{_m(m, 'residual', 'nonconvex_fraction'):.2f}; training loss plain "
        f"{_m(m, 'plain', 'train_loss'):.3f}, residual {_m(m, 'residual', 'train_loss'):.3f}",
    ),
    Claim(
        id="skips-flatness",
        text="Without skip connections the minimum is sharper: the loss increase at alpha = "
        "+-0.5 along filter-normalised directions is at least twice that with skips.",
        paper="skip connections prevent the transition to chaotic, sharply non-convex "
        "landscapes as depth grows",
        source="Sec. 6, Fig. 5",
        margins=lambda m: {"residual": _m(m, "plain", "sharpness_1d")
                           / _m(m, "residual", "sharpness_1d") - 2},
        measured=lambda m: f"loss increase at +-0.5: plain {_m(m, 'plain', 'sharpness_1d'):.3f}, "
        f"residual {_m(m, 'residual', 'sharpness_1d'):.3f}",
    ),
    Claim(
        id="scale-invariance",
        text="Filter normalisation sees through the scale invariance of BN nets: scaling every "
        "filter that feeds a BN by 10 (the same function) leaves the filter-normalised sharpness "
        "unchanged (ratio within 1% of 1), whereas along a raw direction of fixed size it looks "
        "at least 2x flatter (what weight decay does to apparent sharpness).",
        paper="without filter normalisation, small weights (weight decay) make minimisers "
        "appear sharper and sharpness comparisons misleading; with it, sharpness is comparable",
        source="Sec. 4, Fig. 1 vs Fig. 3",
        margins=lambda m: {
            "exact rescaling": 0.01 - abs(_m(m, "plain", "rescaled_sharpness_ratio_filter") - 1),
            "raw direction": 0.5 - _m(m, "plain", "rescaled_sharpness_ratio_raw")},
        measured=lambda m: "sharpness of the rescaled net over the original: filter-normalised "
        f"{_m(m, 'plain', 'rescaled_sharpness_ratio_filter'):.4f}, raw "
        f"{_m(m, 'plain', 'rescaled_sharpness_ratio_raw'):.4f}",
    ),
    Claim(
        id="sharpness-generalisation",
        text="With filter-normalised plots, small-batch minimisers are wider than large-batch "
        "ones and generalise better, with and without weight decay.",
        paper="VGG-9 on CIFAR-10: batch 128 vs 8192, weight decay 0 or 5e-4: the flatter "
        "(filter-normalised) minimiser has the lower test error in each pair",
        source="Sec. 5, Fig. 3",
        needs="VGG-9 trained on CIFAR-10 (data_root) with batch 128 and 8192, with and without "
        "weight decay 5e-4, 300 epochs each; this module has no VGG-9",
    ),
    Claim(
        id="noshort-cifar",
        text="ResNet-56 trained on CIFAR-10 has a nearly convex filter-normalised landscape and "
        "lower test error than ResNet-56-noshort, whose landscape is chaotic.",
        paper="ResNet-56 vs ResNet-56-noshort on CIFAR-10: convex vs chaotic 2-D slices; the "
        "noshort net has clearly higher test error",
        source="Fig. 5, Table 1",
        needs="presets paper and paper-noshort on CIFAR-10 (data_root), 300 epochs each",
    ),
]
