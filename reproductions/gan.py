"""Generative Adversarial Nets (Goodfellow et al., 2014), with Conditional GANs (Mirza & Osindero,
2014) on the same core; the Wasserstein GAN (Arjovsky et al., 2017) is `reproductions.wgan`.

https://arxiv.org/abs/1406.2661 -- https://arxiv.org/abs/1411.1784

A generator G maps noise z ~ p_z to a sample; a discriminator D gives the probability that a
sample came from the data. They play min_G max_D V(D, G) (Eq. 1) by alternating gradient steps
(Algorithm 1, k = 1), G maximising log D(G(z)) instead of minimising log(1 - D(G(z))) (Sec. 3).
For G fixed the best D is p_data / (p_data + p_g) (Prop. 1, Eq. 2), which is 1/2 everywhere when
p_g = p_data (Theorem 1, Prop. 2). The conditional GAN feeds a label y to both players as an
extra input (Mirza Sec. 3.2).

Presets:
- `paper` (Goodfellow): the authors' MNIST networks (their released `mnist.yaml`; the paper says
  only "a mixture of rectifier linear and sigmoid" units in G and "maxout" in D with dropout,
  Sec. 5): G 100-1200-1200-784 (ReLU, ReLU, sigmoid), D 784-240x5-240x5-1 (two maxout layers of
  240 units with 5 pieces, sigmoid), 2,503,984 + 1,231,441 = 3,735,425 parameters; SGD with
  momentum 0.5, lr 0.1, batch 100.
- `mini` (Goodfellow): a 2-D mixture of 8 Gaussians (sd 0.1) on a circle of radius 2
  (generated), G 2-128-128-2 (ReLU), D 2-128-128-1 (LeakyReLU, dropout 0.3 as Sec. 5 applies
  dropout in D), 3,000 steps of 128: G's samples land on the modes and cover them, against the
  same G untrained (the control) and a single Gaussian fitted to the data (the trivial
  baseline); D's output tends to 1/2 on real and generated points (Prop. 2), against the same
  D trained as long against a G that does not learn (`fixed-g`).
- `mini-cgan` (Mirza): a conditional MLP GAN on scikit-learn's 8x8 digits (ship with
  scikit-learn, BSD licence); a logistic regression fitted on real training digits reads the
  generated digits' class: it agrees with the requested label far above chance (0.1) and above
  the same GAN trained with shuffled labels.
- `tiny`: a seconds-long smoke run.

Deviations from the paper:
- Both players' losses come from one forward pass and their steps are taken together (the
  trainer steps every optimizer once per step); Algorithm 1 updates D first and then G against
  the updated D with fresh noise.
- `mini` uses Adam (lr 1e-3, beta1 0.5 as Radford et al.) and LeakyReLU units in D instead of
  SGD with momentum and maxout: on a 2-D toy the paper's MNIST recipe is not what is tested, the
  game is. Without D's dropout (on modes of sd 0.05) the same nets covered 1 to 8 of the 8
  modes depending on the seed (mode collapse, which the paper does not discuss).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from reproductions.common.claims import Claim

PAPER = "gan"


# --- blocks ------------------------------------------------------------------------------------
class Maxout(nn.Module):
    """h_i = max_j (x W_ij + b_ij) over `pieces` linear pieces (Goodfellow et al. 2013)."""

    def __init__(self, d_in: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(d_in, units * pieces)

    def forward(self, x):  # (B, d_in)
        return self.linear(x).view(len(x), self.units, self.pieces).amax(-1)  # (B, units)


def mlp(d_in: int, hidden: tuple[int, ...], d_out: int, unit: str, pieces: int = 5,
        dropout: float = 0.0) -> nn.Sequential:
    """Fully connected layers `d_in -> hidden... -> d_out`; `unit` is the hidden non-linearity."""
    layers: list[nn.Module] = []
    for h in hidden:
        if dropout:  # Sec. 5: dropout in D (on each layer's input)
            layers.append(nn.Dropout(dropout))
        if unit == "maxout":
            layers.append(Maxout(d_in, h, pieces))
        else:
            layers += [nn.Linear(d_in, h), nn.ReLU() if unit == "relu" else nn.LeakyReLU(0.2)]
        d_in = h
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(d_in, d_out))


# --- config ------------------------------------------------------------------------------------
@dataclass
class Config:
    seed: int = 0
    steps: int = 50_000  # optimizer steps (the paper gives no count)
    batch_size: int = 100  # authors' mnist.yaml
    lr: float = 0.1  # authors' mnist.yaml: SGD, lr 0.1
    data_root: str | None = None  # torchvision MNIST folder (dataset=mnist)
    dataset: Literal["mnist", "ring", "digits"] = "mnist"  # ring: 8 Gaussians (generated)
    optimizer: Literal["sgd", "adam"] = "sgd"  # Sec. 4: "We used momentum"
    momentum: float = 0.5  # sgd: authors' mnist.yaml (rising to 0.7 there; kept fixed here)
    beta1: float = 0.5  # adam: Radford et al. Sec. 4
    nz: int = 100  # noise dimension (authors' mnist.yaml: nvis 100)
    g_hidden: tuple[int, ...] = (1200, 1200)  # G's ReLU layers (authors' mnist.yaml)
    d_hidden: tuple[int, ...] = (240, 240)  # D's units (authors' mnist.yaml)
    d_unit: Literal["maxout", "leaky_relu", "relu"] = "maxout"  # Sec. 5: maxout in D
    d_pieces: int = 5  # maxout pieces (authors' mnist.yaml)
    d_dropout: float = 0.0  # Sec. 5: dropout in D (authors: keep 0.8 input, 0.5 hidden)
    conditional: bool = False  # Mirza Sec. 3.2: y fed to G and D as an extra input
    shuffle_labels: bool = False  # cgan control: labels carry no information about x
    ring_sd: float = 0.05  # ring: each Gaussian's standard deviation (radius 2)
    num_samples: int = 2000  # generated samples per evaluation
    compare: bool = False  # mini: also the untrained G and a G that never learns (fixed-g)
    g_lr_scale: float = 1.0  # 0: G never moves (the fixed-g control of Prop. 1)
    lr_decay: bool = False  # linear decay of both rates to 0


def data_dim(cfg: Config) -> int:
    return {"ring": 2, "digits": 64, "mnist": 784}[cfg.dataset]


# --- model -------------------------------------------------------------------------------------
class GAN(nn.Module):
    """G and D; labels enter both as one-hot inputs when conditional."""

    def __init__(self, cfg: Config):
        super().__init__()
        dim, k = data_dim(cfg), 10 if cfg.conditional else 0
        self.cfg = cfg
        self.generator = mlp(cfg.nz + k, cfg.g_hidden, dim, "relu")
        self.discriminator = mlp(dim + k, cfg.d_hidden, 1, cfg.d_unit, cfg.d_pieces, cfg.d_dropout)
        self.squash = cfg.dataset != "ring"  # Sec. 5: sigmoid output units for pixels in [0, 1]

    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """n samples G(z), z ~ U(-1, 1)^nz (the paper leaves p_z open); (n, dim)."""
        device = next(self.parameters()).device
        z = torch.rand(n, self.cfg.nz, device=device) * 2 - 1  # (n, nz)
        if self.cfg.conditional:
            z = torch.cat([z, F.one_hot(labels, 10).float()], 1)  # (n, nz + 10)
        x = self.generator(z)
        return torch.sigmoid(x) if self.squash else x

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's logit; (n,)."""
        if self.cfg.conditional:
            x = torch.cat([x, F.one_hot(labels, 10).float()], 1)  # (n, dim + 10)
        return self.discriminator(x).squeeze(1)


def build_model(cfg: Config) -> GAN:
    return GAN(cfg)


def build_optimizer(model: GAN, cfg: Config):
    """[G's optimizer, D's optimizer], matching `losses`."""
    g_lr = cfg.lr * cfg.g_lr_scale
    if cfg.optimizer == "adam":
        make = lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(cfg.beta1, 0.999))  # noqa: E731
    else:
        make = lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=cfg.momentum)  # noqa: E731
    opts = [make(model.generator.parameters(), g_lr), make(model.discriminator.parameters(), cfg.lr)]
    if not cfg.lr_decay:
        return opts, None
    ramp = lambda s: max(0.0, 1 - s / max(1, cfg.steps))  # noqa: E731
    return opts, [torch.optim.lr_scheduler.LambdaLR(o, ramp) for o in opts]


# --- presets -----------------------------------------------------------------------------------
RING = dict(dataset="ring", nz=2, g_hidden=(128, 128), d_hidden=(128, 128), d_unit="leaky_relu",
            optimizer="adam", lr=1e-3, batch_size=128)
DIGITS = dict(dataset="digits", nz=16, g_hidden=(256, 256), d_hidden=(256, 256),
              d_unit="leaky_relu", optimizer="adam", lr=1e-3, batch_size=64)

PRESETS: dict[str, Config] = {
    # G 2,503,984 + D 1,231,441 = 3,735,425 (authors' mnist.yaml; dropout there: 0.2 on the
    # input, 0.5 on hidden layers)
    "paper": Config(d_dropout=0.5),
    "mini": Config(**RING, steps=3000, ring_sd=0.1, d_dropout=0.3, compare=True),
    "mini-cgan": Config(**DIGITS, steps=2000, conditional=True, compare=True),
    "tiny": Config(**{**RING, "g_hidden": (8,), "d_hidden": (8,), "batch_size": 16}, steps=3,
                   num_samples=64, compare=True),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`main`; with `compare`: for a GAN on the ring `untrained` (steps 0) and `fixed-g` (D trained
    against a G with lr 0); for the cgan `shuffled` labels."""
    base = dataclasses.replace(cfg, compare=False)
    if not cfg.compare:
        return {"main": base}
    if cfg.conditional:
        return {"main": base, "shuffled": dataclasses.replace(base, shuffle_labels=True)}
    return {"main": base, "untrained": dataclasses.replace(base, steps=0),
            "fixed-g": dataclasses.replace(base, g_lr_scale=0.0)}


# --- data --------------------------------------------------------------------------------------
RADIUS, MODES = 2.0, 8


def ring_centres() -> torch.Tensor:
    angle = torch.arange(MODES) * 2 * math.pi / MODES
    return RADIUS * torch.stack([angle.cos(), angle.sin()], 1)  # (8, 2)


def ring(n: int, sd: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n points of the mixture of 8 Gaussians (equal weights) and their mode index."""
    k = torch.randint(MODES, (n,), generator=gen)
    return ring_centres()[k] + sd * torch.randn(n, 2, generator=gen), k


def digits_split(seed: int):
    """scikit-learn's digits flattened to (N, 64) in [0, 1]; the same split for every seed."""
    from reproductions.common import data

    xtr, ytr, xte, yte = data.digits(seed=0)
    return xtr.flatten(1), ytr, xte.flatten(1), yte


def build_data(cfg: Config):
    """(batches of (x, y), eval data); x is (B, dim), y the mode / digit class (used as the
    condition by a conditional GAN only)."""
    from reproductions.common import data

    if cfg.dataset == "ring":
        gen = torch.Generator().manual_seed(cfg.seed)
        x, y = ring(20_000, cfg.ring_sd, gen)
        return data.tensor_loader(x, y, cfg.batch_size, cfg.seed), {"real": ring(
            cfg.num_samples, cfg.ring_sd, torch.Generator().manual_seed(cfg.seed + 10_000))}
    if cfg.dataset == "digits":
        xtr, ytr, xte, yte = digits_split(cfg.seed)
    else:
        if cfg.data_root is None:
            from reproductions.common.config import ConfigError
            raise ConfigError("dataset=mnist needs --set data_root=DIR (MNIST's folder)")
        xtr, ytr = data.real_images("mnist", cfg.data_root, train=True)
        xte, yte = data.real_images("mnist", cfg.data_root, train=False)
        xtr, xte = xtr.flatten(1), xte.flatten(1)
    if cfg.shuffle_labels:
        ytr = ytr[torch.randperm(len(ytr), generator=torch.Generator().manual_seed(cfg.seed))]
    return data.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), {
        "real": (xte, yte), "train": (xtr, ytr)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """The ring: a single Gaussian fitted to the training points, scored like a generator. The
    cgan: real test digits handed out for random requested labels (what a generator that
    ignores its label at best achieves), scored by the same classifier."""
    if cfg.conditional and cfg.dataset == "digits":
        _, _, xte, _ = digits_split(cfg.seed)
        asked = torch.randint(10, (len(xte),), generator=torch.Generator().manual_seed(cfg.seed))
        pred = torch.as_tensor(label_classifier(cfg).predict(xte.numpy()))
        return {"real digits, random labels": {"label_accuracy": (pred == asked).float().mean()
                                               .item()}}
    if cfg.dataset != "ring":
        return {}
    gen = torch.Generator().manual_seed(cfg.seed)
    x, _ = ring(20_000, cfg.ring_sd, gen)
    mean, cov = x.mean(0), torch.cov(x.T)
    fake = mean + torch.randn(cfg.num_samples, 2, generator=gen) @ torch.linalg.cholesky(cov).T
    return {"single Gaussian": mode_metrics(fake, cfg)}


# --- step and evaluation -----------------------------------------------------------------------
def training_step(model: GAN, batch) -> dict:
    """`losses` = [G's loss, D's loss], each back-propagated into its own player only."""
    x, y = batch  # (B, dim), (B,)
    fake = model.sample(len(x), y)  # (B, dim)
    real_out, fake_out = model.critic(x, y), model.critic(fake, y)  # (B,), (B,)
    # D ascends log D(x) + log(1 - D(G(z))) (Algorithm 1); G ascends log D(G(z)) (Sec. 3)
    loss_d = (F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out))
              + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))
    loss_g = F.binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))
    # JS estimate: V(D, G) = -log 4 + 2 JSD at the optimal D (Theorem 1): (log 4 - loss_d) / 2
    return {"loss": loss_d, "losses": [loss_g, loss_d], "loss_g": loss_g.detach(),
            "js_estimate": ((math.log(4) - loss_d) / 2).detach()}


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """2 E|X - Y| - E|X - X'| - E|Y - Y'| between two samples (0 iff the laws are equal); used by
    `reproductions.wgan` to score samples over training."""
    a, b = a.float(), b.float()
    return 2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean()


def mode_metrics(fake: torch.Tensor, cfg: Config) -> dict[str, float]:
    """On the ring: `high_quality` = share of samples within 3 sd of a mode; `modes_covered` =
    modes that receive at least a quarter of their fair share (1/8) of all samples that way."""
    d = torch.cdist(fake.float(), ring_centres())  # (n, 8)
    near, which = d.min(1)
    good = near < 3 * cfg.ring_sd
    counts = torch.bincount(which[good], minlength=MODES).float()
    return {"high_quality": good.float().mean().item(),
            "modes_covered": (counts >= len(fake) / MODES / 4).sum().item()}


def label_classifier(cfg: Config):
    """Logistic regression on real training digits (the judge of the cgan's samples)."""
    from sklearn.linear_model import LogisticRegression

    xtr, ytr, _, _ = digits_split(cfg.seed)
    return LogisticRegression(max_iter=2000).fit(xtr.numpy(), ytr.numpy())


@torch.no_grad()
def evaluate(model: GAN, eval_data, cfg: Config) -> dict[str, float]:
    device = next(model.parameters()).device
    x_real, y_real = eval_data["real"]
    n = cfg.num_samples
    labels = torch.arange(n, device=device) % 10 if cfg.conditional else None
    fake = model.sample(n, labels)
    out: dict[str, float] = {}
    real_idx = torch.arange(min(n, len(x_real)))
    d_real = torch.sigmoid(model.critic(x_real[real_idx].to(device),
                                        None if labels is None else y_real[real_idx].to(device)))
    d_fake = torch.sigmoid(model.critic(fake, labels))
    out |= {"d_real": d_real.mean().item(), "d_fake": d_fake.mean().item(),
            "d_gap": (d_real.mean() - d_fake.mean()).item()}
    if cfg.dataset == "ring":
        out |= mode_metrics(fake.cpu(), cfg)
    if cfg.conditional:
        pred = torch.as_tensor(label_classifier(cfg).predict(fake.float().cpu().numpy()))
        out["label_accuracy"] = (pred == labels.cpu()).float().mean().item()
    return out


# --- figures -----------------------------------------------------------------------------------
def figures(out_dir, cfg: Config, models: dict, metrics: dict) -> list[dict]:
    """The ring: real points and each variant's samples (Goodfellow Fig. 1's picture in 2-D);
    the cgan: one row of generated digits per requested label (Mirza Fig. 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if cfg.conditional:
        return label_grid(out_dir, cfg, models, plt)
    if cfg.dataset != "ring":
        return []

    real, _ = ring(cfg.num_samples, cfg.ring_sd, torch.Generator().manual_seed(cfg.seed))
    fig, axes = plt.subplots(1, len(models), figsize=(3 * len(models), 3), squeeze=False)
    for ax, (name, model) in zip(axes[0], models.items(), strict=True):
        with torch.no_grad():
            fake = model.sample(cfg.num_samples).float().cpu()
        ax.scatter(real[:, 0], real[:, 1], s=2, c="k", alpha=0.3, label="data")
        ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:green", alpha=0.5, label="G(z)")
        ax.set(title=f"{name}: {metrics[name].get('modes_covered', 0):.0f}/8 modes",
               xlim=(-3, 3), ylim=(-3, 3), aspect="equal")
    axes[0][0].legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "samples.png", dpi=100)
    plt.close(fig)
    return [{"file": "samples.png", "paper_figure": "Fig. 1",
             "caption": "data (black) and generated samples (green) per variant"}]


def label_grid(out_dir, cfg: Config, models: dict, plt) -> list[dict]:
    fig, axes = plt.subplots(1, len(models), figsize=(3 * len(models), 3), squeeze=False)
    labels = torch.arange(10).repeat_interleave(10)  # (100,): ten samples per label
    for ax, (name, model) in zip(axes[0], models.items(), strict=True):
        device = next(model.parameters()).device
        with torch.no_grad():
            x = model.sample(100, labels.to(device)).float().cpu().view(10, 10, 8, 8)
        ax.imshow(x.permute(0, 2, 1, 3).reshape(80, 80), cmap="gray_r")  # (10*8, 10*8)
        ax.set(title=name, xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(out_dir / "samples-per-label.png", dpi=100)
    plt.close(fig)
    return [{"file": "samples-per-label.png", "paper_figure": "Mirza Fig. 2",
             "caption": "generated digits, one row per requested label 0-9, per variant"}]


# --- claims ------------------------------------------------------------------------------------
def _m(m, name: str, key: str) -> float:
    return m[name][key]


def _ring(m) -> str:
    return ", ".join(f"{v}: {_m(m, v, 'modes_covered'):.0f} modes, "
                     f"{_m(m, v, 'high_quality'):.2f} near a mode"
                     for v in ("main", "untrained", "single Gaussian"))


def _prop2(m) -> str:
    return ", ".join(f"{v}: D(x) {_m(m, v, 'd_real'):.2f}, D(G(z)) {_m(m, v, 'd_fake'):.2f}"
                     for v in ("main", "fixed-g"))


def _half(m) -> float:
    return max(abs(_m(m, "main", "d_real") - 0.5), abs(_m(m, "main", "d_fake") - 0.5))


CLAIMS = [
    Claim("parzen-mnist", "Adversarial nets reach a Parzen-window log-likelihood of 225 on "
          "MNIST test digits, above a DBN, a stacked CAE and a deep GSN.",
          "225 +- 2 (DBN 138, stacked CAE 121, deep GSN 214)", "Table 1",
          needs="preset paper, MNIST (data_root), a Parzen window fitted to 10k samples"),
    Claim("mini-modes", "Trained by Algorithm 1 with the non-saturating G loss, G's samples fall "
          "on the modes of a mixture of 8 Gaussians and cover them; the same G untrained and a "
          "single Gaussian fitted to the data do neither.",
          "p_g converges to p_data (Theorem 1, Prop. 2)", "Sec. 4, Algorithm 1",
          margins=lambda m: {
              v: min(_m(m, "main", "modes_covered") - _m(m, v, "modes_covered") - 5,
                     10 * (_m(m, "main", "high_quality") - _m(m, v, "high_quality") - 0.4))
              for v in ("untrained", "single Gaussian")},
          measured=_ring),
    Claim("mini-d-half", "At the end of the game D's mean output on real and on generated points "
          "is within 0.1 of 1/2 (D cannot tell them apart), while the same D trained as long "
          "against a G that does not learn separates them (gap of D(x) - D(G(z)) larger by 0.5).",
          "D*(x) = 1/2 when p_g = p_data", "Prop. 1, Eq. 2, Prop. 2",
          margins=lambda m: {"1/2": 0.1 - _half(m), "fixed-g": _m(m, "fixed-g", "d_gap")
                             - abs(_m(m, "main", "d_gap")) - 0.5},
          measured=_prop2),
    Claim("cgan-mnist", "A conditional adversarial net reaches a Parzen log-likelihood of 132 on "
          "MNIST, generating digits of the requested class.", "132 +- 1.8", "Mirza Table 1",
          presets=("mini-cgan",), needs="conditional preset on MNIST (data_root), Parzen window"),
    Claim("mini-cgan-labels", "Conditioned on a label, the conditional GAN generates digits of "
          "that class: a logistic regression fitted on real digits agrees with the requested label "
          "at least 0.5 more often than for real digits handed out for random labels (chance) "
          "and than for the same GAN trained with shuffled labels.",
          "digits generated per requested label (one row per label)", "Mirza Sec. 4.1, Fig. 2",
          margins=lambda m: {"real digits, random labels": _m(m, "main", "label_accuracy")
                             - _m(m, "real digits, random labels", "label_accuracy") - 0.5,
                             "shuffled": _m(m, "main", "label_accuracy")
                             - _m(m, "shuffled", "label_accuracy") - 0.5},
          measured=lambda m: f"label accuracy {_m(m, 'main', 'label_accuracy'):.3f}, shuffled "
          f"{_m(m, 'shuffled', 'label_accuracy'):.3f}, real digits for random labels "
          f"{_m(m, 'real digits, random labels', 'label_accuracy'):.3f}",
          presets=("mini-cgan",)),
]

