"""Adam: A Method for Stochastic Optimization (Kingma & Ba, ICLR 2015).

https://arxiv.org/abs/1412.6980

Adam keeps exponential moving averages of the gradient (m, first moment) and of its square
(v, second raw moment), corrects both for their bias towards the zero they start from, and
steps by alpha * m_hat / (sqrt(v_hat) + eps) (Algorithm 1). AdaMax (Sec. 7.1, Algorithm 2)
replaces the L2 norm of v by the L-infinity norm: u = max(beta2 u, |g|).

Presets: `paper` = the multi-layer network of Sec. 6.2 / Fig. 2: 784-1000-1000-10 with ReLU and
dropout, minibatches of 128, trained by Adam on MNIST (1,796,010 parameters; `data_root`);
`mini`: Fig. 1-2 and 4 in one run on MNIST-5k (4,000 training digits, the same split for every
seed), every net trained for the same 300 steps: logistic regression by Adam, SGD with Nesterov
momentum and AdaGrad with alpha / sqrt(t) (Fig. 1), a 784-256-256-10 ReLU MLP with dropout
(269,322 parameters) by those and RMSProp (Fig. 2a), each method at three learning rates (its
best of the three is the one compared), and Adam with beta2 = 0.9999 with and without the bias
correction for 100 steps (Fig. 4); `tiny`.

Deviations from the paper:
- MNIST-5k instead of MNIST's 60,000, 784-256-256-10 instead of 1000-1000 hidden units, 300 steps
  (~10 epochs) instead of 200 epochs, a grid of 3 learning rates per optimizer instead of the
  paper's dense search; the logistic regression has no L2 term (the paper's is unstated).
- The training loss compared is the cross-entropy of the whole training set after training with
  dropout off (Fig. 2 plots the training cost over epochs); `figures` draws the logged curves.
- Fig. 4's ablation trains a variational auto-encoder; here the same MLP, at the top of Adam's
  grid (3.2e-3), beta1 = 0.9 and beta2 = 0.9999 (the paper's "beta2 close to 1"). As in Fig. 4
  the harm grows with the rate: at 1e-3 the uncorrected early loss was ~1.5x, not ~5x, higher.
- AdaMax adds eps to |g| inside the max (as torch.optim.Adamax does), so a parameter whose
  gradient has always been 0 does not divide by 0; Algorithm 2 has no eps.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "adam"


# --- optimizers ----------------------------------------------------------------------------


class Adam(torch.optim.Optimizer):
    """Algorithm 1; `bias_correction=False` is Fig. 4's ablation (m_hat = m, v_hat = v)."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, bias_correction: bool = True):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, bias_correction=bias_correction))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            (b1, b2), lr, eps = group["betas"], group["lr"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # m_0 = 0, v_0 = 0, t = 0
                    state |= {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)}
                state["step"] += 1
                t, m, v, g = state["step"], state["m"], state["v"], p.grad
                m.mul_(b1).add_(g, alpha=1 - b1)  # m_t = b1 m_{t-1} + (1 - b1) g_t
                v.mul_(b2).addcmul_(g, g, value=1 - b2)  # v_t = b2 v_{t-1} + (1 - b2) g_t^2
                m_hat, v_hat = m, v
                if group["bias_correction"]:  # Sec. 3: E[v_t] = E[g_t^2] (1 - b2^t) + zeta
                    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
                p.addcdiv_(m_hat, v_hat.sqrt().add_(eps), value=-lr)  # theta_t
        return loss


class AdaMax(torch.optim.Optimizer):
    """Algorithm 2 (Sec. 7.1): u_t = max(b2 u_{t-1}, |g_t|), theta -= alpha/(1 - b1^t) m_t/u_t."""

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            (b1, b2), lr, eps = group["betas"], group["lr"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state |= {"step": 0, "m": torch.zeros_like(p), "u": torch.zeros_like(p)}
                state["step"] += 1
                t, m, u, g = state["step"], state["m"], state["u"], p.grad
                m.mul_(b1).add_(g, alpha=1 - b1)
                torch.maximum(u.mul_(b2), g.abs().add_(eps), out=u)  # eps: see Deviations
                p.addcdiv_(m, u, value=-lr / (1 - b1**t))
        return loss


# --- config --------------------------------------------------------------------------------

Optim = Literal["adam", "adamax", "sgd_nesterov", "adagrad", "rmsprop"]
# The methods each figure compares Adam with, and the middle of each one's learning-rate grid
# (picked in a wider search on seeds 0-1; the grid multiplies it by `lr_grid`).
BASE_LR = {
    "logreg": {"adam": 0.03, "sgd_nesterov": 0.1, "adagrad": 0.03},  # Fig. 1, alpha / sqrt(t)
    "mlp": {"adam": 1e-3, "sgd_nesterov": 0.03, "adagrad": 0.01, "rmsprop": 1e-3},  # Fig. 2a
}
HALF_DECADE = 10**0.5


@dataclass
class Config:
    seed: int = 0
    steps: int = 93_750  # Fig. 2: 200 epochs of 60,000 images at batch 128
    batch_size: int = 128  # Sec. 6: "minibatch size of 128"
    lr: float = 1e-3  # Algorithm 1: alpha = 0.001
    lr_schedule: Literal["constant", "inv_sqrt"] = "constant"  # Sec. 6.1: alpha_t = alpha / sqrt(t)
    beta1: float = 0.9  # Algorithm 1
    beta2: float = 0.999  # Algorithm 1
    eps: float = 1e-8  # Algorithm 1
    bias_correction: bool = True  # Sec. 3; False: Fig. 4's ablation
    optimizer: Optim = "adam"
    momentum: float = 0.9  # sgd_nesterov's momentum
    data_root: str | None = None  # real data: MNIST's folder (torchvision layout)
    download: bool = False  # let torchvision download MNIST into data_root
    dataset: Literal["mnist", "mnist5k"] = "mnist"
    hidden: tuple[int, ...] = (1000, 1000)  # Sec. 6.2: two hidden layers of 1000 ReLUs; () = Sec. 6.1
    dropout: float = 0.5  # Fig. 2a: "neural networks using dropout stochastic regularization"
    compare: bool = False  # mini: every optimizer x lr grid x {logreg, mlp}, and Fig. 4's pair
    lr_grid: tuple[float, ...] = (1 / HALF_DECADE, 1.0, HALF_DECADE)  # multiples of BASE_LR
    ablation_lr: float = 1e-3 * HALF_DECADE  # Fig. 4's pair: the top of Adam's MLP grid
    ablation_beta2: float = 0.9999  # Fig. 4: "beta2 close to 1"
    ablation_steps: int = 100  # Fig. 4's pair trains this long (its early steps)


# --- model ---------------------------------------------------------------------------------


class MLP(nn.Module):
    """Flatten -> [Linear -> ReLU -> Dropout] per hidden layer -> Linear (Sec. 6.2); with no
    hidden layer, multi-class logistic regression (Sec. 6.1)."""

    def __init__(self, cfg: Config, in_dim: int = 784, num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = []
        for h in cfg.hidden:
            layers += [nn.Linear(in_dim, h), nn.ReLU(), nn.Dropout(cfg.dropout)]
            in_dim = h
        self.net = nn.Sequential(*layers, nn.Linear(in_dim, num_classes))

    def forward(self, x):  # (B, 1, 28, 28)
        return self.net(x.flatten(1))  # (B, 784) -> (B, K)


def build_model(cfg: Config) -> MLP:
    return MLP(cfg)


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(dataset="mnist"),  # 784-1000-1000-10: 1,796,010 parameters
    "mini": Config(dataset="mnist5k", hidden=(256, 256), steps=300, compare=True),  # 269,322
    "tiny": Config(dataset="mnist5k", hidden=(16,), steps=3, batch_size=16),
}


def variants(cfg: Config) -> dict[str, Config]:
    """With `compare`: `<model>-<optimizer>-<lr>` for each method Fig. 1 (model `logreg`, lr
    decayed as alpha / sqrt(t)) and Fig. 2a (`mlp`, constant lr) compare, each at the `lr_grid`
    multiples of its BASE_LR; and `bias-correction` / `no-bias-correction` (Fig. 4: Adam on the
    MLP with beta2 = `ablation_beta2` for `ablation_steps`); else `main`."""
    base = dataclasses.replace(cfg, compare=False)
    if not cfg.compare:
        return {"main": base}
    out = {}
    for model, hidden, schedule in (("logreg", (), "inv_sqrt"), ("mlp", cfg.hidden, "constant")):
        for opt, mid in BASE_LR[model].items():
            for k in cfg.lr_grid:
                out[f"{model}-{opt}-{mid * k:.2g}"] = dataclasses.replace(
                    base, hidden=hidden, optimizer=opt, lr=mid * k, lr_schedule=schedule)
    fig4 = dataclasses.replace(base, optimizer="adam", lr=cfg.ablation_lr, beta2=cfg.ablation_beta2,
                               steps=cfg.ablation_steps)
    out["bias-correction"] = fig4
    out["no-bias-correction"] = dataclasses.replace(fig4, bias_correction=False)
    return out


# --- data ----------------------------------------------------------------------------------


class Batches:
    """Shuffled minibatches `(x, y)` of tensors held in memory, a new seeded permutation each
    epoch (one indexing per batch: ~10x cheaper than a DataLoader over single items, which
    matters for 25 small nets in a CPU minute). Re-iterable; the same order in every process."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        perm = torch.randperm(len(self.y), generator=self.generator)
        for i in range(0, len(perm) - self.batch_size + 1, self.batch_size):  # drop the last
            idx = perm[i : i + self.batch_size]
            yield self.x[idx], self.y[idx]


@functools.lru_cache(maxsize=1)  # read once per run, not once per variant
def mnist_split(dataset: str, data_root: str | None, download: bool):
    """Standardised `(x_train, y_train, x_test, y_test)`, `(N, 1, 28, 28)`: MNIST-5k (the same
    4,000/1,000 split for every seed) or MNIST from `data_root`."""
    if dataset == "mnist":
        if data_root is None:
            raise ConfigError("dataset=mnist needs --set data_root=DIR (MNIST's folder)")
        xtr, ytr = D.real_images("mnist", data_root, train=True, download=download)
        xte, yte = D.real_images("mnist", data_root, train=False, download=download)
    else:
        xtr, ytr, xte, yte = D.mnist_5k(seed=0)
    return D.standardize(xtr, "mnist"), ytr, D.standardize(xte, "mnist"), yte


def build_data(cfg: Config):
    """`(train_batches, {"train": ..., "test": ...})`: the whole training set is evaluated too,
    since the claims are about the training objective (Fig. 1-2)."""
    xtr, ytr, xte, yte = mnist_split(cfg.dataset, cfg.data_root, cfg.download)
    return Batches(xtr, ytr, cfg.batch_size, cfg.seed), {"train": (xtr, ytr), "test": (xte, yte)}


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """Ours (Adam, AdaMax) or torch's for the methods Adam is compared with (Sec. 6); with
    `inv_sqrt`, alpha_t = alpha / sqrt(t) for every method (Sec. 6.1)."""
    params = model.parameters()
    if cfg.optimizer == "adam":
        opt = Adam(params, cfg.lr, (cfg.beta1, cfg.beta2), cfg.eps, cfg.bias_correction)
    elif cfg.optimizer == "adamax":
        opt = AdaMax(params, cfg.lr, (cfg.beta1, cfg.beta2), cfg.eps)
    elif cfg.optimizer == "sgd_nesterov":
        opt = torch.optim.SGD(params, cfg.lr, momentum=cfg.momentum, nesterov=True)
    elif cfg.optimizer == "adagrad":
        opt = torch.optim.Adagrad(params, cfg.lr)
    else:  # Tieleman & Hinton's RMSProp: decay 0.9 of the mean square, no momentum
        opt = torch.optim.RMSprop(params, cfg.lr, alpha=0.9)
    if cfg.lr_schedule == "inv_sqrt":  # the scheduler steps after step t = s + 1
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 / math.sqrt(s + 1))
    return opt, None


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, 1, 28, 28), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(-1) == y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    out = {}
    for split, data in eval_data.items():
        m = D.classification_metrics(model, data)
        out |= {f"{split}_loss": m["loss"], f"{split}_accuracy": m["accuracy"]}
    return out


def curve_metrics(rows: list[dict], cfg: Config) -> dict[str, float]:
    """`early_loss`: the mean logged training loss of the first `ablation_steps` steps (Fig. 4:
    instability early in training); `max_early_loss`: its worst logged step."""
    early = [r["loss"] for r in rows if r["step"] <= cfg.ablation_steps] or [math.nan]
    return {"early_loss": sum(early) / len(early), "max_early_loss": max(early)}


# --- figures -------------------------------------------------------------------------------


def best_lr(m, model: str, opt: str) -> str:
    """The variant of `opt` on `model` with the lowest training loss among its grid."""
    names = [v for v in m if v.startswith(f"{model}-{opt}-")]
    if not names:
        raise KeyError(f"{model}-{opt}-*")
    return min(names, key=lambda v: m[v]["train_loss"])


def figures(out_dir, cfg: Config, models, metrics) -> list[dict]:
    """Training-loss curves of each optimizer at its best rate (Fig. 1 and 2), and the bias-
    correction pair (Fig. 4), read from the run's logged rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reproductions.common.runner import training_curve

    if not cfg.compare:
        return []
    run_dir = out_dir.parent
    panels = [("logreg", "Fig. 1: logistic regression"), ("mlp", "Fig. 2a: MLP with dropout")]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, (model, title) in zip(axes, panels, strict=False):
        for opt in BASE_LR[model]:
            v = best_lr(metrics, model, opt)
            rows = training_curve(run_dir, v)
            ax.plot([r["step"] for r in rows], [r["loss"] for r in rows],
                    label=f"{opt} lr={v.rsplit('-', 1)[1]}")
        ax.set(title=title, xlabel="step", ylabel="training loss (batch)", yscale="log")
        ax.legend(fontsize=7)
    for v in ("bias-correction", "no-bias-correction"):
        rows = training_curve(run_dir, v)
        axes[2].plot([r["step"] for r in rows], [r["loss"] for r in rows], label=v)
    axes[2].set(title="Fig. 4: beta2 = 0.9999", xlabel="step", ylabel="training loss (batch)",
                yscale="log")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "optimizers.png", dpi=100)
    plt.close(fig)
    return [{"file": "optimizers.png", "paper_figure": "Fig. 1, 2a, 4",
             "caption": "Training loss per step of each optimizer at its best learning rate of "
             "the grid, on logistic regression and the MLP with dropout (MNIST-5k), and Adam "
             "with beta2 = 0.9999 with and without bias correction."}]


# --- claims --------------------------------------------------------------------------------


def _loss(m, model, opt):
    return m[best_lr(m, model, opt)]["train_loss"]


def _advantage(m, model, opt, ratio):
    """log(L_opt / L_adam) - log(ratio): positive when Adam's training loss is more than
    `ratio` times lower than `opt`'s (each at its best rate of the grid)."""
    return math.log(_loss(m, model, opt) / _loss(m, model, "adam")) - math.log(ratio)


def _losses(m, model):
    return ", ".join(f"{o} {_loss(m, model, o):.4f} (lr {best_lr(m, model, o).rsplit('-', 1)[1]})"
                     for o in BASE_LR[model])


CLAIMS = [
    Claim(
        id="logreg-faster-than-adagrad",
        text="On logistic regression (alpha / sqrt(t) for every method, as in Sec. 6.1), after "
        "the same 300 steps Adam's training loss is more than 1.5x lower than AdaGrad's (each "
        "at its best of three learning rates; margins are log-ratios).",
        paper="Adam and SGD with Nesterov momentum both converge faster than AdaGrad on MNIST "
        "logistic regression",
        source="Fig. 1 (left), Sec. 6.1",
        margins=lambda m: {"logreg-adagrad": _advantage(m, "logreg", "adagrad", 1.5)},
        measured=lambda m: "training loss at the best lr: " + _losses(m, "logreg"),
    ),
    Claim(
        id="logreg-like-sgd-nesterov",
        text="On the same logistic regression Adam and SGD with Nesterov momentum converge "
        "alike: their training losses are within a factor 1.5 of each other, either way.",
        paper="Adam yields similar convergence as SGD with momentum on MNIST logistic regression",
        source="Fig. 1 (left), Sec. 6.1",
        margins=lambda m: {"logreg-sgd_nesterov":
                           math.log(1.5) - abs(_advantage(m, "logreg", "sgd_nesterov", 1.0))},
        measured=lambda m: "training loss at the best lr: " + _losses(m, "logreg"),
    ),
    Claim(
        id="mlp-faster-than-adagrad",
        text="On the 784-256-256-10 ReLU MLP with dropout, after the same 300 steps Adam's "
        "training loss is more than 10% lower than AdaGrad's (each at its best rate).",
        paper="Adam shows better convergence than AdaGrad, RMSProp, SGD-Nesterov and AdaDelta "
        "on a 1000-1000 ReLU MLP with dropout on MNIST",
        source="Fig. 2a, Sec. 6.2",
        margins=lambda m: {"mlp-adagrad": _advantage(m, "mlp", "adagrad", 1.1)},
        measured=lambda m: "training loss at the best lr: " + _losses(m, "mlp"),
    ),
    Claim(
        id="mlp-adam-fastest",
        text="Not expected in miniature: on the same MLP Adam's training loss is more than 10% "
        "lower than RMSProp's and SGD-Nesterov's too. After 300 steps (10 epochs, not the "
        "paper's 200) RMSProp ties with Adam (ahead in some seeds, behind in others) and a "
        "tuned SGD with Nesterov momentum is ahead in most seeds.",
        paper="Adam shows better convergence than RMSProp and SGD-Nesterov (Fig. 2a)",
        source="Fig. 2a, Sec. 6.2",
        margins=lambda m: {f"mlp-{o}": _advantage(m, "mlp", o, 1.1)
                           for o in ("rmsprop", "sgd_nesterov")},
        measured=lambda m: "training loss at the best lr: " + _losses(m, "mlp"),
        expected=False,
    ),
    Claim(
        id="bias-correction",
        text="With beta2 = 0.9999 and Adam's largest grid rate on the MLP, Adam without the "
        "bias correction is unstable early: its mean training loss over the first 100 steps "
        "is at least 2x that with the correction.",
        paper="without bias correction, with beta2 close to 1, training is unstable, "
        "especially in the first epochs; bias correction is as good or better everywhere",
        source="Fig. 4, Sec. 6.4",
        margins=lambda m: {"no-bias-correction": math.log(
            m["no-bias-correction"]["early_loss"] / m["bias-correction"]["early_loss"])
            - math.log(2.0)},
        measured=lambda m: "mean loss over the first 100 steps: with correction "
        f"{m['bias-correction']['early_loss']:.3f}, without "
        f"{m['no-bias-correction']['early_loss']:.3f} (worst logged step "
        f"{m['bias-correction']['max_early_loss']:.2f} vs "
        f"{m['no-bias-correction']['max_early_loss']:.2f})",
    ),
    Claim(
        id="cifar-cnn",
        text="On the CNN c64-c64-c128-1000 on CIFAR-10, Adam converges faster than SGD with "
        "Nesterov momentum and AdaGrad.",
        paper="Adam and SGD eventually converge considerably faster than AdaGrad for CNNs",
        source="Fig. 3, Sec. 6.3",
        needs="a CIFAR-10 CNN c64-c64-c128-1000 (not built here) and CIFAR-10 (data_root)",
    ),
    Claim(
        id="mnist-mlp",
        text="On MNIST's 60,000 digits, the paper's 1000-1000 MLP with dropout trains faster "
        "with Adam than with the other methods over 200 epochs.",
        paper="Fig. 2a: Adam's training cost lowest throughout 200 epochs",
        source="Fig. 2a",
        needs="preset paper (one run per optimizer: --set optimizer=...) on MNIST (data_root)",
    ),
]
