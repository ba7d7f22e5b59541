"""Unsupervised Representation Learning with Deep Convolutional Generative Adversarial Networks
(Radford, Metz & Chintala, ICLR 2016): DCGAN.

https://arxiv.org/abs/1511.06434

A GAN (Goodfellow et al. 2014, `reproductions.gan`) whose two players are all-convolutional
networks built by the architecture guidelines of Sec. 3: no pooling (strided convolutions in D,
fractionally-strided ones in G), batch normalisation in both players except G's output and D's
input layers, no fully connected hidden layers, ReLU in G with Tanh at its output, LeakyReLU in
D. Sec. 4 trains them with Adam (lr 2e-4, beta1 0.5), mini-batches of 128, weights drawn from
N(0, 0.02), LeakyReLU slope 0.2, images scaled to Tanh's range [-1, 1].

Presets:
- `paper`: the LSUN generator of Fig. 1, z (100, uniform) projected to 1024x4x4 and upsampled
  by 4x4 stride-2 fractionally-strided convolutions through 512x8x8, 256x16x16 and 128x32x32 to
  3x64x64; D mirrors it (3x64x64 -> 128 -> 256 -> 512 -> 1024x4x4 -> one logit): G 12,658,432 +
  D 11,036,160 = 23,694,592 parameters. The blocks are `reproductions.ganomaly`'s DCGAN
  Encoder / Decoder, imported.
- `mini`: the guidelines tested on scikit-learn's 8x8 digits (shipped with scikit-learn, BSD
  licence) upsampled to 16x16: a DCGAN (z 32 -> 64x4x4 -> 32x8x8 -> 1x16x16; D 16 -> 8 -> 4 ->
  logit; 100,672 parameters) against an MLP GAN of about the same size (`mlp`: G 32-128-128-256,
  D 256-128-128-1 as in `reproductions.gan`; 103,297 parameters) and the DCGAN without batch
  norm in G (`no-bn-g`, the guideline's ablation), all with the same optimizer, steps and batch.
  Samples are judged by a one-hidden-layer classifier fitted to real training digits: an
  inception-score-like figure (exp E KL(p(y|x) || p(y)): confident and class-balanced samples
  score high, at most 10) and the Frechet distance between generated and held-out real digits in
  the classifier's hidden features. Trivial baselines on the same judge: a Gaussian fitted to the
  training pixels' mean and covariance, and the mean training image.
- `tiny`: a seconds-long smoke run.

Deviations from the paper:
- Fig. 1 describes the first layer of G as a projection (a matrix multiplication) reshaped to
  1024x4x4; here it is a 4x4 transposed convolution of the 1x1 noise "image", which is the same
  linear map (no bias: every layer but G's output feeds a batch norm). The paper gives no
  layer widths for D; it mirrors G, as GANomaly's and the common DCGAN code do.
- Both players' losses come from one forward pass and are applied together (as in
  `reproductions.gan`), G maximising log D(G(z)).
- `mini` trains on 1,347 16x16 digits for 800 steps of 64 where the paper trains on 3M LSUN
  bedrooms; the MLP control keeps PyTorch's default initialisation (N(0, 0.02) is applied to the
  convolutional players only, as Sec. 4 describes for DCGAN).
- The paper judges its GAN by the features D learns (Sec. 5.1, Table 1: 82.8% on CIFAR-10) and by
  samples (Fig. 2-3), not by a classifier's score of the samples; the score here is ours.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reproductions import gan
from reproductions.common.claims import Claim
from reproductions.ganomaly import Decoder, Encoder, dcgan_init

PAPER = "dcgan"


# --- config ------------------------------------------------------------------------------------
@dataclass
class Config:
    seed: int = 0
    steps: int = 3_000_000 // 128 * 5  # Sec. 4.1: 5 epochs over ~3M LSUN bedrooms (Fig. 3)
    batch_size: int = 128  # Sec. 4
    lr: float = 2e-4  # Sec. 4: Adam, lr 0.0002
    beta1: float = 0.5  # Sec. 4: momentum term beta1 0.5 (0.9 oscillated)
    data_root: str | None = None  # an image folder (LSUN bedrooms); mini generates its data
    dataset: Literal["lsun", "digits"] = "lsun"
    arch: Literal["dcgan", "mlp"] = "dcgan"  # mlp: the control of `mini` (reproductions.gan)
    image_size: int = 64  # Fig. 1: 64x64
    channels: int = 3
    nz: int = 100  # Fig. 1: 100-d uniform z
    nf: int = 128  # Fig. 1: 128 maps at 32x32 (ngf; D mirrors it with ndf = nf)
    mlp_hidden: int = 128  # mlp: two hidden layers in each player
    bn_g: bool = True  # Sec. 3: batch norm in G (off: the ablation)
    num_samples: int = 1000  # generated samples per evaluation
    judge_iters: int = 300  # the judge's training epochs (tiny: a few, to stay fast)
    compare: bool = False  # mini: also the MLP GAN and the DCGAN without BN in G


# --- model -------------------------------------------------------------------------------------
class DCGAN(nn.Module):
    """G: z (B, nz) -> images (B, C, S, S) in [-1, 1]; D: images -> logits (B,)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        S, C = cfg.image_size, cfg.channels
        if cfg.arch == "mlp":  # the control: fully connected players of `reproductions.gan`
            self.generator = gan.mlp(cfg.nz, (cfg.mlp_hidden,) * 2, C * S * S, "relu")
            self.discriminator = gan.mlp(C * S * S, (cfg.mlp_hidden,) * 2, 1, "leaky_relu")
            return
        # Fig. 1: fractionally-strided convolutions, BN + ReLU, Tanh output (Sec. 3)
        self.generator = Decoder(S, cfg.nz, C, cfg.nf)
        # Sec. 3: strided convolutions, LeakyReLU 0.2, BN on every layer but the input one;
        # the last 4x4 map is flattened into a single output (Sec. 3), a 4x4 convolution to 1
        self.discriminator = Encoder(S, 1, C, cfg.nf)
        if not cfg.bn_g:  # the ablation: G without batch norm
            main = self.generator.main
            for i, m in enumerate(main):
                if isinstance(m, nn.BatchNorm2d):
                    main[i] = nn.Identity()
        self.apply(dcgan_init)  # Sec. 4: weights ~ N(0, 0.02)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if cfg.arch == "mlp":
            x = torch.tanh(self.generator(z))
            return x.view(len(z), cfg.channels, cfg.image_size, cfg.image_size)
        return self.generator(z[:, :, None, None])  # (B, C, S, S), Tanh inside

    def sample(self, n: int) -> torch.Tensor:
        """n images G(z), z ~ U(-1, 1)^nz (Sec. 3: "a uniform noise distribution Z")."""
        device = next(self.parameters()).device
        return self.generate(torch.rand(n, self.cfg.nz, device=device) * 2 - 1)

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        """D's logit (the sigmoid is inside the loss); (B,)."""
        return self.discriminator(x.flatten(1) if self.cfg.arch == "mlp" else x).flatten()


def build_model(cfg: Config) -> DCGAN:
    return DCGAN(cfg)


def build_optimizer(model: DCGAN, cfg: Config):
    """Sec. 4: Adam, lr 2e-4, beta1 0.5, one per player: [G's, D's], matching `losses`."""
    betas = (cfg.beta1, 0.999)
    return [torch.optim.Adam(model.generator.parameters(), lr=cfg.lr, betas=betas),
            torch.optim.Adam(model.discriminator.parameters(), lr=cfg.lr, betas=betas)], None


# --- presets -----------------------------------------------------------------------------------
DIGITS = dict(dataset="digits", image_size=16, channels=1, nz=32, nf=32, batch_size=64)

PRESETS: dict[str, Config] = {
    # Fig. 1: G 12,658,432 + D 11,036,160 = 23,694,592 parameters
    "paper": Config(),
    "mini": Config(**DIGITS, steps=800, compare=True),
    "tiny": Config(**{**DIGITS, "nf": 4, "nz": 8, "mlp_hidden": 8, "batch_size": 16}, steps=3,
                   num_samples=64, judge_iters=3, compare=True),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`main` (DCGAN); with `compare`: `mlp` (an MLP GAN of about the same size) and `no-bn-g`."""
    base = dataclasses.replace(cfg, compare=False)
    if not cfg.compare:
        return {"main": base}
    return {"main": base, "mlp": dataclasses.replace(base, arch="mlp"),
            "no-bn-g": dataclasses.replace(base, bn_g=False)}


# --- data --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def digits16(size: int = 16):
    """scikit-learn's digits upsampled (bilinear) to size x size, in [-1, 1]: (train x, y, test
    x, y); the same split for every seed."""
    from reproductions.common import data

    xtr, ytr, xte, yte = data.digits(seed=0)  # (N, 1, 8, 8) in [0, 1]
    up = lambda x: F.interpolate(x, size=(size, size), mode="bilinear",  # noqa: E731
                                 align_corners=False).clamp(0, 1) * 2 - 1
    return up(xtr), ytr, up(xte), yte


def build_data(cfg: Config):
    """(batches of (x, y), eval data {"real": held-out digits}); labels are not used in training."""
    from reproductions.common import data

    if cfg.dataset != "digits":
        from reproductions.common.config import ConfigError
        if cfg.data_root is None:
            raise ConfigError("dataset=lsun needs --set data_root=DIR (an image folder)")
        return data.image_folder_loaders(cfg.data_root, cfg.batch_size, cfg.seed,  # [-1, 1]
                                         size=cfg.image_size, mean_std=((0.5,) * 3, (0.5,) * 3))
    xtr, ytr, xte, yte = digits16(cfg.image_size)
    return data.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), {"real": (xte, yte)}


# --- step and evaluation -----------------------------------------------------------------------
def training_step(model: DCGAN, batch) -> dict:
    """`losses` = [G's loss, D's loss], each back-propagated into its own player only."""
    x, _ = batch  # (B, C, S, S) in [-1, 1]
    fake = model.sample(len(x))
    real_out, fake_out = model.critic(x), model.critic(fake)
    loss_d = (F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out))
              + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))
    loss_g = F.binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))
    return {"loss": loss_d, "losses": [loss_g, loss_d], "loss_g": loss_g.detach()}


@functools.lru_cache(maxsize=2)
def judge(size: int = 16, iters: int = 300):
    """A classifier with one hidden layer of 128 ReLUs fitted to the real training digits: it
    reads the samples' class (p(y|x)) and gives their features (the hidden layer)."""
    from sklearn.neural_network import MLPClassifier

    xtr, ytr, _, _ = digits16(size)
    return MLPClassifier((128,), max_iter=iters, random_state=0).fit(xtr.flatten(1).numpy(),
                                                                    ytr.numpy())


def judge_scores(x: torch.Tensor, size: int = 16, iters: int = 300) -> dict[str, float]:
    """`inception_like` = exp E_x KL(p(y|x) || p(y)) (1 to 10: confident, class-balanced) and
    `frechet` = Frechet distance of the judge's hidden features to those of the training digits
    (what G is fitted to; held-out digits are scored as the ceiling)."""
    from scipy import linalg

    clf = judge(size, iters)
    flat = x.detach().float().cpu().flatten(1).numpy()
    p = clf.predict_proba(flat).clip(1e-12, 1)  # (n, 10)
    kl = (p * (np.log(p) - np.log(p.mean(0, keepdims=True)))).sum(1)
    hidden = lambda a: np.maximum(a @ clf.coefs_[0] + clf.intercepts_[0], 0)  # noqa: E731
    f_gen, f_real = hidden(flat), hidden(digits16(size)[0].flatten(1).numpy())
    mu_g, mu_r = f_gen.mean(0), f_real.mean(0)
    cov_g, cov_r = np.cov(f_gen, rowvar=False), np.cov(f_real, rowvar=False)
    root = linalg.sqrtm(cov_g @ cov_r).real
    fd = ((mu_g - mu_r) ** 2).sum() + np.trace(cov_g + cov_r - 2 * root)
    return {"inception_like": float(np.exp(kl.mean())), "frechet": float(fd)}


@torch.no_grad()
def evaluate(model: DCGAN, eval_data, cfg: Config) -> dict[str, float]:
    if cfg.dataset != "digits":
        return {}
    torch.manual_seed(cfg.seed + 20_000)
    return judge_scores(model.sample(cfg.num_samples), cfg.image_size, cfg.judge_iters)


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """Scored by the same judge: held-out real digits (the ceiling, not a baseline), a Gaussian
    fitted to the training pixels' mean and covariance, and the mean training image."""
    if cfg.dataset != "digits":
        return {}
    xtr, _, xte, _ = digits16(cfg.image_size)
    flat = xtr.flatten(1).double()
    mean, cov = flat.mean(0), torch.cov(flat.T)
    gen = torch.Generator().manual_seed(cfg.seed)
    chol = torch.linalg.cholesky(cov + 1e-4 * torch.eye(len(cov), dtype=cov.dtype))
    noise = torch.randn(cfg.num_samples, len(mean), generator=gen, dtype=cov.dtype)
    gauss = (mean + noise @ chol.T).clamp(-1, 1).float().view(-1, *xtr.shape[1:])
    score = lambda x: judge_scores(x, cfg.image_size, cfg.judge_iters)  # noqa: E731
    return {"real digits": score(xte), "pixel Gaussian": score(gauss),
            "mean image": score(mean.float().expand(cfg.num_samples, -1).reshape(-1, *xtr.shape[1:]))}


# --- figures -----------------------------------------------------------------------------------
def figures(out_dir, cfg: Config, models: dict, metrics: dict) -> list[dict]:
    """64 samples of each variant (the paper's Fig. 2-3 in miniature)."""
    if cfg.dataset != "digits":
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    S = cfg.image_size
    fig, axes = plt.subplots(1, len(models), figsize=(3 * len(models), 3.2), squeeze=False)
    for ax, (name, model) in zip(axes[0], models.items(), strict=True):
        torch.manual_seed(cfg.seed)
        with torch.no_grad():
            x = model.sample(64).float().cpu().view(8, 8, S, S)
        ax.imshow(x.permute(0, 2, 1, 3).reshape(8 * S, 8 * S), cmap="gray_r", vmin=-1, vmax=1)
        ax.set(title=f"{name}: IS-like {metrics[name].get('inception_like', 0):.1f}",
               xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(out_dir / "samples.png", dpi=100)
    plt.close(fig)
    return [{"file": "samples.png", "paper_figure": "Fig. 3",
             "caption": "64 generated digits per variant (DCGAN, MLP GAN, DCGAN without BN in G)"}]


# --- claims ------------------------------------------------------------------------------------
def _m(m, name: str, key: str) -> float:
    return m[name][key]


def _scores(m) -> str:
    return ", ".join(f"{v}: IS-like {_m(m, v, 'inception_like'):.2f}, FD {_m(m, v, 'frechet'):.1f}"
                     for v in ("main", "mlp", "no-bn-g", "pixel Gaussian", "mean image",
                               "real digits"))


CLAIMS = [
    Claim("networks", "The LSUN generator projects a 100-d uniform z to 1024x4x4 and upsamples "
          "with fractionally-strided convolutions to 3x64x64, with batch norm and ReLU, Tanh at "
          "the output; trained with Adam (2e-4, beta1 0.5) on batches of 128.",
          "G 12,658,432 parameters (counted from Fig. 1), D mirrored 11,036,160",
          "Sec. 3-4, Fig. 1"),
    Claim("cifar10-features", "DCGAN's discriminator, trained on ImageNet-1k, gives features "
          "that reach 82.8% accuracy on CIFAR-10 with a linear L2-SVM.", "82.8% (+- 0.1%)",
          "Sec. 5.1, Table 1", needs="preset paper trained on ImageNet-1k, CIFAR-10 (data_root)"),
    Claim("lsun-samples", "Trained on 3M LSUN bedrooms, G generates convincing 64x64 bedrooms "
          "after one and five epochs, without memorising the training images.",
          "samples after 1 and 5 epochs", "Sec. 4.1, Fig. 2-3",
          needs="preset paper, LSUN bedrooms (data_root), ~117k steps of 128"),
    Claim("mini-guidelines", "Built by the guidelines of Sec. 3, a DCGAN of 0.10M parameters "
          "generates digits that a classifier fitted to real digits reads confidently and evenly "
          "over the classes and whose features lie near the real ones; an MLP GAN of the same "
          "size trained with the same recipe does not (it stays near one class and is no closer "
          "to the data than the mean image: IS-like 1.0-2.1, FD 156-267), nor does the mean "
          "training image.",
          "inception-like score at least 1.5 higher and Frechet distance at least 2x lower than "
          "the MLP GAN's and the mean image's (miniature; the paper shows samples, Fig. 2-3)",
          "Sec. 3, Fig. 2-3",
          margins=lambda m: {v: min(_m(m, "main", "inception_like") - _m(m, v, "inception_like")
                                    - 1.5,
                                    math.log2(_m(m, v, "frechet") / _m(m, "main", "frechet")) - 1)
                             for v in ("mlp", "mean image")},
          measured=_scores),
    Claim("mini-bn-collapse", "Batch norm in G is what gets the deep generator to learn: without "
          "it (same N(0, 0.02) init, same recipe) G collapses all samples to one point (Sec. 3). "
          "Here the collapse is immediate: with weights of sd 0.02 and no normalisation the "
          "signal shrinks layer by layer, G's output starts near one constant image and stays.",
          "inception-like score of the DCGAN at least 3 above the one without BN in G, which "
          "stays below 1.5 (one class)", "Sec. 3",
          margins=lambda m: {"no-bn-g": min(_m(m, "main", "inception_like")
                                            - _m(m, "no-bn-g", "inception_like") - 3,
                                            1.5 - _m(m, "no-bn-g", "inception_like"))},
          measured=_scores),
    Claim("mini-beats-pixel-gaussian", "The DCGAN's digits also beat a Gaussian fitted to the "
          "training pixels' mean and covariance. Not reproduced in miniature: 8x8 digits "
          "upsampled to 16x16 are smooth and low-dimensional, and the Gaussian's samples score "
          "an inception-like 6.2-6.4 and a Frechet distance of 6.0-6.5 on this judge, where the "
          "DCGAN after 800 steps scores 6.0-6.4 and 18-26 (5 seeds).",
          "not in the paper (its samples are compared with none)", "Sec. 3, Fig. 2-3",
          margins=lambda m: {"pixel Gaussian": min(
              _m(m, "main", "inception_like") - _m(m, "pixel Gaussian", "inception_like"),
              _m(m, "pixel Gaussian", "frechet") - _m(m, "main", "frechet"))},
          measured=_scores, expected=False),
]
