"""The Shattered Gradients Problem: If resnets are the answer, then what is the question?
(Balduzzi, Frean, Leary, Lewis, Ma, McWilliams, ICML 2017).

https://arxiv.org/abs/1702.08591

Take a rectifier net with a 1-D input and plot the derivative of its output with respect to the
input over a grid of inputs. A shallow net's derivative is piecewise constant and changes slowly
(like brown noise, Fig. 1); a deep feedforward net's derivative looks like white noise
(Fig. 1): the gradients at nearby inputs are uncorrelated ("shattered"). With skip
connections it keeps its structure (Fig. 1). Theorem 1: with He initialisation the correlation
between the gradients at two inputs decays like 2^-L in a feedforward net of depth L;
Theorems 2-3: in resnets (with batch normalisation) it decays sublinearly (like 1/sqrt(L)).
Sec. 5: a "looks linear" (LL) initialisation, CReLU units with mirrored weights W = [W0, -W0],
makes a deep net without skips exactly linear at initialisation, so nothing shatters.

The claims are about networks at initialisation, so this module *measures*: `evaluate` draws
`probe_nets` fresh nets of the variant's architecture for each depth in `probe_depths` and
computes the gradient statistics below; training (`steps`, a few SGD steps fitting a 1-D curve)
only exists because every reproduction trains: it is not part of any claim.

- `acf1_L{d}`: the lag-1 autocorrelation of df/dx over the grid, averaged over the nets (Fig. 1's
  white vs brown noise: white noise ~0, brown noise ~1).
- `corr_L{d}`: the correlation across random nets between df/dx at two inputs, averaged over all
  pairs of grid inputs (one number per depth for Theorem 1's C(i, j) / C(i)).
- `slope_log2_corr`: the least-squares slope of log2 `corr_L{d}` over `fit_depths` = 0-4
  (Theorem 1: -1 per layer, i.e. 2^-L), from `fit_nets` = 128 nets per depth.

Depth L counts the hidden W x W layers; a depth-0 net has one hidden ReLU layer. With BN the
first hidden units are relu(+-x_standardised), so at depth 0 df/dx takes one value on each side
of the grid's mean and the all-pairs correlation is 1/2; Theorem 1 then predicts 2^-(L+1).

Presets: `paper` = Fig. 1's 50-module resnet, 200 units wide (2,031,001 parameters; the paper
reports no count, this is the count of the architecture it describes), `feedforward24` = Fig. 1's
24-layer feedforward net (975,401); `mini`: feedforward, resnet and LL nets, 200 wide, measured
at depths 0-50 over 32 random draws each, plus white and brown noise as the reference points.

Deviations from the paper:
- Both the feedforward and residual nets use batch normalisation before each ReLU (the paper's
  resnets and Theorem 3 have it); the control differs only by the missing skip. Without BN a
  plain ReLU net with random biases shatters far more slowly (lag-1 autocorrelation ~0.7 at 50
  layers in our prototype): BN over the grid is what makes deep plain nets chaotic here.
- BN statistics are those of the whole 256-point grid (one pass in training mode), then held
  fixed while the gradient is taken, so df(x_i)/dx_i is each input's own derivative (in training
  mode the batch statistics would couple the inputs).
- Training is 5 SGD steps fitting sin 2x, only so that the trainer has something to do; the
  figures and claims use nets at initialisation. The trained nets' own lag-1 autocorrelation is
  recorded as `trained_acf1`: after those 5 steps the LL net's already falls from 1 to ~0.3
  (seed 0), since its mirrored weights stop cancelling; the paper makes no claim either way.
- `corr_L{d}` averages over all pairs of a 1-D grid, whose activation patterns are not the
  independent patterns Theorem 1 assumes; we fit the 2^-L rate only over depths 0-4, before the
  correlation reaches the noise floor of the draws (~0.005); deeper probes use 32 nets.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import data as D
from reproductions.common.claims import Claim

PAPER = "shattered-gradients"


# --- blocks --------------------------------------------------------------------------------


class CReLU(nn.Module):
    """Concatenated ReLU (Shang et al. 2016): x -> [relu(x), relu(-x)], doubling the width."""

    def forward(self, x):  # (B, D)
        return torch.cat([F.relu(x), F.relu(-x)], dim=-1)  # (B, 2D)


class Layer(nn.Module):
    """One hidden layer: BN -> ReLU (or CReLU) -> Linear. A feedforward net applies it as
    h <- layer(h), a resnet as h <- h + layer(h) (Sec. 3: x_{l+1} = x_l + W rho(x_l))."""

    def __init__(self, width: int, cfg: Config, out: int | None = None):
        super().__init__()
        self.bn = nn.BatchNorm1d(width) if cfg.batch_norm else nn.Identity()
        self.act = CReLU() if cfg.arch == "looks-linear" else nn.ReLU()
        self.linear = nn.Linear(2 * width if cfg.arch == "looks-linear" else width, out or width)

    def forward(self, h):  # (B, D)
        return self.linear(self.act(self.bn(h)))  # (B, D)


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 5  # a few SGD steps: the claims are about initialisation, not training
    batch_size: int = 64
    lr: float = 1e-3  # small: training must not move the nets far from initialisation
    data_root: str | None = None  # unused: the inputs are a generated 1-D grid
    arch: Literal["feedforward", "resnet", "looks-linear"] = "resnet"
    depth: int = 50  # hidden W x W layers (modules for a resnet); Fig. 1: 24 feedforward, 50 res
    width: int = 200  # Fig. 1: "200 neurons per hidden layer"
    batch_norm: bool = True  # BN before each ReLU (Theorem 3's resnets; see Deviations)
    n_inputs: int = 256  # Fig. 1: 256 inputs on a grid over [-2, 2]
    probe_depths: tuple[int, ...] = ()  # evaluate: the depths measured at initialisation
    probe_nets: int = 32  # evaluate: random nets drawn per depth
    fit_depths: tuple[int, ...] = (0, 1, 2, 3, 4)  # depths for the slope of log2 corr (Theorem 1)
    fit_nets: int = 128  # evaluate: nets drawn at each fit depth (small correlations are noisy)
    compare: bool = False  # mini: a feedforward, a resnet and an LL variant in one run


# --- model ---------------------------------------------------------------------------------


class GradientNet(nn.Module):
    """A rectifier net R -> R: a linear stem to `width` units, `depth` hidden layers (with or
    without skips), BN -> ReLU -> linear head. He initialisation (Theorem 1: variance 2/N);
    `looks-linear`: CReLU layers with mirrored weights [W0, -W0], so that at initialisation
    W . CReLU(h) = W0 relu(h) - W0 relu(-h) = W0 h and the whole net is affine (Sec. 5)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.residual = cfg.arch == "resnet"
        self.stem = nn.Linear(1, cfg.width)
        self.layers = nn.ModuleList(Layer(cfg.width, cfg) for _ in range(cfg.depth))
        self.head = Layer(cfg.width, cfg, out=1)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                if cfg.arch == "looks-linear" and m is not self.stem:
                    half = m.in_features // 2  # W0: variance 1/fan-in of the linear map it becomes
                    w0 = torch.randn(m.out_features, half) / math.sqrt(half)
                    with torch.no_grad():
                        m.weight.copy_(torch.cat([w0, -w0], dim=1))  # Sec. 5: W = [W0, -W0]
                else:
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")  # He et al.: 2/fan-in

    def forward(self, x):  # (B, 1)
        h = self.stem(x)  # (B, W)
        for layer in self.layers:
            h = h + layer(h) if self.residual else layer(h)  # (B, W)
        return self.head(h)  # (B, 1)


def build_model(cfg: Config) -> GradientNet:
    return GradientNet(cfg)


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # Fig. 1: 50-module resnet, 200 wide: 2,031,001
    "feedforward24": Config(arch="feedforward", depth=24),  # Fig. 1: 975,401
    "mini": Config(compare=True, probe_depths=(0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 50)),
    "tiny": Config(arch="feedforward", depth=2, width=16, n_inputs=32, steps=2, batch_size=16,
                   probe_depths=(0, 1, 2), probe_nets=4, fit_nets=4, fit_depths=(0, 1)),
}


def variants(cfg: Config) -> dict[str, Config]:
    """mini: `feedforward` (Fig. 1's 24 layers), `resnet` (Fig. 1's 50 modules), and
    `looks-linear` (Sec. 5, 50 layers, measured at depth 50 only); else `main`."""
    if not cfg.compare:
        return {"main": cfg}
    base = dataclasses.replace(cfg, compare=False)
    return {"feedforward": dataclasses.replace(base, arch="feedforward", depth=24),
            "resnet": dataclasses.replace(base, arch="resnet", depth=50),
            "looks-linear": dataclasses.replace(base, arch="looks-linear", depth=50,
                                                probe_depths=(50,), fit_depths=())}


# --- data ----------------------------------------------------------------------------------


def grid(cfg: Config) -> torch.Tensor:
    return torch.linspace(-2.0, 2.0, cfg.n_inputs).unsqueeze(1)  # (N, 1): Fig. 1's inputs


def build_data(cfg: Config):
    """Training: the grid with a smooth target (sin 2x) for the few token SGD steps;
    evaluation: the grid itself."""
    x = grid(cfg)
    return D.tensor_loader(x, torch.sin(2 * x), cfg.batch_size, cfg.seed), {"grid": x}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """Fig. 1's references on the same grid size: white noise (i.i.d. N(0, 1)) and brown
    noise (its running sum), lag-1 autocorrelation averaged over `probe_nets` draws."""
    g = torch.Generator().manual_seed(cfg.seed)
    white = torch.randn(cfg.probe_nets, cfg.n_inputs, generator=g)  # (R, N)
    return {"white noise": {"acf1": float(lag1_autocorrelation(white).mean())},
            "brown noise": {"acf1": float(lag1_autocorrelation(white.cumsum(1)).mean())}}


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """Plain SGD (no state to checkpoint): a few small steps, the nets stay near initialisation."""
    return torch.optim.SGD(model.parameters(), lr=cfg.lr), None


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, 1), (B, 1)
    return {"loss": F.mse_loss(model(x), y)}


# --- measurement ---------------------------------------------------------------------------


def input_gradients(net: nn.Module, x: torch.Tensor, keep: bool = True) -> torch.Tensor:
    """df(x_i)/dx_i at every grid point, (N,). BN uses the grid's statistics (one pass in
    training mode), then is frozen, so each input's derivative is its own (see Deviations);
    `keep`: work on a copy, leaving `net`'s BN statistics as they were."""
    net = copy.deepcopy(net) if keep else net
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm1d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: after one pass, exactly the grid's statistics
    with torch.no_grad():
        net.train()(x)
    net.eval()
    with torch.enable_grad():  # evaluate runs under no_grad
        x = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(net(x).sum(), x)
    return grad[:, 0]  # (N,)


def lag1_autocorrelation(g: torch.Tensor) -> torch.Tensor:
    """sum_i (g_i - mean)(g_{i+1} - mean) / sum_i (g_i - mean)^2 per row of (R, N); a constant
    row (an affine function, e.g. an LL net at init) counts as fully correlated: 1."""
    c = g - g.mean(-1, keepdim=True)  # (R, N)
    var = (c * c).sum(-1)
    acf = (c[..., 1:] * c[..., :-1]).sum(-1) / var.clamp_min(1e-30)
    flat = var <= 1e-10 * (g * g).sum(-1)
    return torch.where(flat, torch.ones_like(acf), acf)


def ensemble_correlation(g: torch.Tensor) -> float:
    """Mean over all pairs i != j of corr_nets(g_i, g_j): the correlation, across the R random
    nets, between the gradients at inputs x_i and x_j (Theorem 1's C(i, j) / C(i))."""
    c = g - g.mean(0, keepdim=True)  # (R, N): centred over nets
    std = c.pow(2).mean(0).sqrt().clamp_min(1e-30)  # (N,)
    corr = (c.T @ c) / len(g) / (std[:, None] * std[None, :])  # (N, N)
    n = len(corr)
    return float((corr.sum() - corr.diagonal().sum()) / (n * n - n))


def slope(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((a - mx) * (b - my) for a, b in zip(xs, ys, strict=True)) / \
        sum((a - mx) ** 2 for a in xs)


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """The trained net's own lag-1 autocorrelation, then for each probe depth `probe_nets` fresh
    nets at initialisation: `acf1_L{d}`, `corr_L{d}` and the fitted `slope_log2_corr`."""
    x = eval_data["grid"].to(next(model.parameters()).device)
    # not a claim: after `steps` SGD steps (the LL net's mirror symmetry is already broken)
    out = {"trained_acf1": float(lag1_autocorrelation(input_gradients(model, x)))}
    gen_state = torch.get_rng_state()
    for d in cfg.probe_depths:
        torch.manual_seed(cfg.seed * 100_003 + d)  # the same draws whatever else the run did
        nets = max(cfg.probe_nets, cfg.fit_nets if d in cfg.fit_depths else 0)
        probe = dataclasses.replace(cfg, depth=d)
        g = torch.stack([input_gradients(build_model(probe).to(x.device), x, keep=False)
                         for _ in range(nets)])  # (R, N)
        out[f"acf1_L{d}"] = float(lag1_autocorrelation(g).mean())
        out[f"corr_L{d}"] = ensemble_correlation(g)
    torch.set_rng_state(gen_state)
    fit = [d for d in cfg.fit_depths if out.get(f"corr_L{d}", 0.0) > 0]
    if len(fit) >= 2:
        out["slope_log2_corr"] = slope(fit, [math.log2(out[f"corr_L{d}"]) for d in fit])
    return out


# --- figures -------------------------------------------------------------------------------


def figures(out_dir, cfg: Config, models, metrics) -> list[dict]:
    """Fig. 1 redrawn at initialisation (df/dx over the grid: a 1-hidden-layer net, each
    variant's architecture, brown and white noise; the trained nets are not drawn, since a few
    SGD steps already break the LL net's mirror symmetry) and the correlation against depth on
    a log scale (Theorems 1-3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = grid(cfg)
    torch.manual_seed(cfg.seed)
    nets = {"1-layer feedforward": dataclasses.replace(cfg, arch="feedforward", depth=0)}
    for name, vcfg in variants(cfg).items():
        label = {"feedforward": f"{vcfg.depth}-layer feedforward",
                 "resnet": f"{vcfg.depth}-module resnet",
                 "looks-linear": f"{vcfg.depth}-layer LL-init (no skips)"}.get(name, name)
        nets[label] = vcfg
    noise = torch.randn(cfg.n_inputs, generator=torch.Generator().manual_seed(cfg.seed))
    panels = [(k, input_gradients(build_model(c), x, keep=False)) for k, c in nets.items()]
    panels += [("brown noise", noise.cumsum(0)), ("white noise", noise)]
    fig, axes = plt.subplots(2, 3, figsize=(9, 4.5))
    for ax, (title, g) in zip(axes.flat, panels, strict=False):
        ax.plot(x[:, 0], g.detach(), lw=0.8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "gradients.png", dpi=100)
    plt.close(fig)
    out = [{"file": "gradients.png", "paper_figure": "Fig. 1",
            "caption": "df/dx over 256 inputs in [-2, 2] at initialisation: deep feedforward "
                       "gradients look like white noise, resnet gradients keep their structure, "
                       "the LL-initialised net is affine (a constant gradient)"}]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, m in metrics.items():
        ds = sorted(int(k[6:]) for k in m if k.startswith("corr_L") and m[k] > 0)
        if len(ds) > 1:
            ax.semilogy(ds, [m[f"corr_L{d}"] for d in ds], "o-", label=name)
    ax.semilogy(range(0, 9), [0.5 ** (d + 1) for d in range(0, 9)], "k--", lw=0.8,
                label="2^-(L+1) (Theorem 1)")
    ax.set_xlabel("depth L")
    ax.set_ylabel("gradient correlation (all pairs)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "correlation_vs_depth.png", dpi=100)
    plt.close(fig)
    return out + [{"file": "correlation_vs_depth.png", "paper_figure": "Theorems 1-3",
                   "caption": "correlation between gradients at two inputs, averaged over pairs "
                              "of grid inputs and over random nets, against depth"}]


# --- claims --------------------------------------------------------------------------------


def _acf(m, v, d):
    return m[v][f"acf1_L{d}"]


CLAIMS = [
    Claim(
        id="white-noise",
        text="At initialisation the 24-layer feedforward net's df/dx over 256 inputs is white "
        "noise: its lag-1 autocorrelation is within 0.15 of white noise's and at least 0.5 below "
        "brown noise's, while the 50-module resnet's is at least 0.4 higher (it keeps structure).",
        paper="gradients of a 24-layer feedforward net resemble white noise; those of a 50-layer "
        "resnet resemble brown noise",
        source="Fig. 1, Sec. 2",
        margins=lambda m: {
            "white noise": 0.15 - abs(_acf(m, "feedforward", 24) - m["white noise"]["acf1"]),
            "brown noise": m["brown noise"]["acf1"] - _acf(m, "feedforward", 24) - 0.5,
            "resnet": _acf(m, "resnet", 50) - _acf(m, "feedforward", 24) - 0.4},
        measured=lambda m: f"lag-1 autocorrelation: feedforward-24 {_acf(m, 'feedforward', 24):.3f}, "
        f"resnet-50 {_acf(m, 'resnet', 50):.3f}, white noise {m['white noise']['acf1']:.3f}, "
        f"brown noise {m['brown noise']['acf1']:.3f}",
    ),
    Claim(
        id="exponential-decay",
        text="In the feedforward net the correlation between gradients at two inputs falls like "
        "2^-L: the slope of log2(correlation) against depth over 0-4 layers is within 0.5 of -1, "
        "and at least 0.4 per layer steeper than the resnet's over the same depths.",
        paper="Theorem 1: C_fnn(i, j) = 1 / 2^L for He-initialised rectifier nets",
        source="Theorem 1, Sec. 3",
        margins=lambda m: {"2^-L": 0.5 - abs(m["feedforward"]["slope_log2_corr"] + 1),
                           "resnet": m["resnet"]["slope_log2_corr"]
                           - m["feedforward"]["slope_log2_corr"] - 0.4},
        measured=lambda m: f"slope of log2 corr per layer: feedforward "
        f"{m['feedforward']['slope_log2_corr']:.2f}, resnet {m['resnet']['slope_log2_corr']:.2f}",
    ),
    Claim(
        id="sqrt-decay",
        text="Not expected in miniature: Theorem 3's 1/sqrt(L) rate for resnets with BN (here: "
        "the all-pairs correlation at 50 modules at least 1/sqrt(50) of that at 1). On a 1-D "
        "grid the pairs' activation patterns are not the independent ones the theorem assumes, "
        "and the resnet's all-pairs correlation falls to about 0 by 50 modules, although its "
        "lag-1 autocorrelation stays near 0.7 (the white-noise claim).",
        paper="Theorem 3: with batch normalisation, resnet gradient correlation decays as "
        "1/sqrt(L)",
        source="Theorem 3, Sec. 4",
        margins=lambda m: {"1/sqrt(L)": m["resnet"]["corr_L50"]
                           - m["resnet"]["corr_L1"] / math.sqrt(50)},
        measured=lambda m: f"resnet all-pairs correlation: depth 1 {m['resnet']['corr_L1']:.3f}, "
        f"depth 50 {m['resnet']['corr_L50']:.3f}",
        expected=False,
    ),
    Claim(
        id="looks-linear",
        text="With the LL initialisation a 50-layer CReLU net without skips does not shatter: "
        "the correlation between its gradients at any two inputs is at least 0.9 above the "
        "50-layer feedforward net's (the LL net is affine at initialisation).",
        paper="LL initialisation prevents shattering: the network is linear at initialisation",
        source="Sec. 5",
        margins=lambda m: {"feedforward": m["looks-linear"]["corr_L50"]
                           - m["feedforward"]["corr_L50"] - 0.9},
        measured=lambda m: f"all-pairs correlation at depth 50: LL {m['looks-linear']['corr_L50']:.3f}, "
        f"feedforward {m['feedforward']['corr_L50']:.3f}",
    ),
    Claim(
        id="ll-trains-deep",
        text="LL-initialised CReLU nets train to ~200 layers on CIFAR-10 without skip "
        "connections, competitive with resnets, where plain nets of that depth fail.",
        paper="preliminary experiments: LL-init allows very deep nets to train without skips",
        source="Sec. 5, Sec. 6",
        needs="convolutional LL-init CReLU nets of ~200 layers trained on CIFAR-10 (data_root); "
        "this module's nets are fully connected with 1-D inputs",
    ),
]
