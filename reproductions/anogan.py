"""Unsupervised Anomaly Detection with Generative Adversarial Networks to Guide Marker Discovery
(Schlegl et al., IPMI 2017): AnoGAN.

https://arxiv.org/abs/1703.05921

A DCGAN (Radford et al. 2016, `reproductions.dcgan`) is trained on normal images only
(Sec. 2.1). A query image x has no code z, so AnoGAN searches for one (Sec. 2.2): starting from a
random z_1, Gamma steps of back-propagation into z (G and D fixed) lower
L(z) = (1 - lambda) L_R(z) + lambda L_D(z), the residual loss L_R = sum |x - G(z)| plus the
discrimination loss L_D = sum |f(x) - f(G(z))| in an intermediate layer f of D (feature
matching). The anomaly score (Sec. 2.3) is A(x) = (1 - lambda) R(x) + lambda D(x), the two losses
at the last step; lambda = 0.1 and Gamma = 500 (Sec. 3).

Presets:
- `paper`: DCGAN networks for 64x64 one-channel OCT patches (Sec. 3), with the widths of the
  DCGAN reference code (G 512-256-128-64 maps, D mirrored; the paper only says "DCGAN"):
  G 3,574,656 + D 2,763,520 = 6,338,176 parameters; lambda 0.1, Gamma 500.
- `mini`: scikit-learn's digits (BSD licence) upsampled to 16x16 as in `reproductions.dcgan`,
  one digit the anomaly and the other nine normal, split as `reproductions.ganomaly` splits
  MNIST (train on the training part's normals; test on the held-out part plus the training
  part's anomalies; 150 normal and 150 anomalous test images are scored). The DCGAN of
  `dcgan`'s `mini` is trained on the normals (800 steps of 64); the z search runs Gamma = 100
  steps for every test image at once (a batch of independent searches). In the same
  run: the same AnoGAN with an untrained G and D (the control), GANomaly (Akcay et al. 2018,
  `reproductions.ganomaly`'s networks and loss, one forward pass per image) trained as long on
  the same normals, and the pixel baselines (distance to the nearest / mean normal image).
  Inference time per image is measured as CPU time of the process for each method.
- `tiny`: a seconds-long smoke run.

Deviations from the paper:
- The paper does not name the optimizer of the z search; we use Adam (lr 0.05) and clip z to
  the prior's support [-1, 1] after each step. `mini` uses Gamma = 100, not 500 (CPU budget:
  the search is what makes AnoGAN slow, and 100 steps already make the point).
- f is D's last feature map before its output layer (the paper: "an intermediate layer").
- OCT scans are not shipped; `mini` replaces them by digits with one class as the anomaly.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from reproductions import dcgan, ganomaly
from reproductions.common.claims import Claim

PAPER = "anogan"


# --- config ------------------------------------------------------------------------------------
@dataclass
class Config:
    seed: int = 0
    steps: int = 20_000  # DCGAN training steps (the paper gives none)
    batch_size: int = 64  # the paper gives none; DCGAN reference code
    lr: float = 2e-4  # DCGAN, Sec. 4 of Radford et al.
    beta1: float = 0.5
    data_root: str | None = None  # OCT patches are not public; paper preset: architecture only
    method: Literal["anogan", "ganomaly"] = "anogan"
    image_size: int = 64  # Sec. 3: 64x64 patches
    channels: int = 1  # Sec. 3: OCT B-scans (grey)
    nz: int = 100  # DCGAN's z
    nf: int = 64  # DCGAN reference code's ngf = ndf (G 512-256-128-64)
    lam: float = 0.1  # lambda, Sec. 3
    gamma: int = 500  # Gamma, back-propagation steps into z, Sec. 3
    z_lr: float = 0.05  # Adam on z (not in the paper)
    anomaly_class: int = 0  # mini: the digit held out as the anomaly
    num_test: int = 0  # mini: test images used (0: all)
    compare: bool = False  # mini: also the untrained control and GANomaly


# --- model -------------------------------------------------------------------------------------
def dcgan_config(cfg: Config) -> dcgan.Config:
    return dcgan.Config(image_size=cfg.image_size, channels=cfg.channels, nz=cfg.nz, nf=cfg.nf,
                        lr=cfg.lr, beta1=cfg.beta1, batch_size=cfg.batch_size, dataset="digits")


def ganomaly_config(cfg: Config) -> ganomaly.Config:
    return ganomaly.Config(image_size=cfg.image_size, nz=cfg.nz, nf=cfg.nf, lr=cfg.lr,
                           beta1=cfg.beta1, batch_size=cfg.batch_size)


def build_model(cfg: Config) -> nn.Module:
    """A DCGAN (`reproductions.dcgan`) for AnoGAN, GANomaly's networks for the comparison."""
    if cfg.method == "ganomaly":
        return ganomaly.build_model(ganomaly_config(cfg))
    return dcgan.build_model(dcgan_config(cfg))


def build_optimizer(model: nn.Module, cfg: Config):
    if cfg.method == "ganomaly":
        return ganomaly.build_optimizer(model, ganomaly_config(cfg))
    return dcgan.build_optimizer(model, dcgan_config(cfg))


def training_step(model: nn.Module, batch) -> dict:
    """Sec. 2.1: an ordinary DCGAN step on normal images (or GANomaly's step, Eq. 9 there)."""
    if isinstance(model, ganomaly.GANomaly):
        return ganomaly.training_step(model, batch)
    return dcgan.training_step(model, batch)


# --- presets -----------------------------------------------------------------------------------
PRESETS: dict[str, Config] = {
    # DCGAN reference widths on 64x64x1: G 3,574,656 + D 2,763,520 = 6,338,176
    "paper": Config(),
    "mini": Config(image_size=16, nz=32, nf=32, steps=800, gamma=100, num_test=300,
                   compare=True),
    "tiny": Config(image_size=16, nz=8, nf=4, steps=3, batch_size=16, gamma=3, num_test=24,
                   compare=True),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`main` (AnoGAN); with `compare`: `untrained` (steps 0) and `ganomaly` (same steps)."""
    base = dataclasses.replace(cfg, compare=False)
    if not cfg.compare:
        return {"main": base}
    return {"main": base, "untrained": dataclasses.replace(base, steps=0),
            "ganomaly": dataclasses.replace(base, method="ganomaly")}


# --- data --------------------------------------------------------------------------------------
def split(cfg: Config):
    """(normal training images, test images, 1 = anomaly), ganomaly.py's protocol on the digits:
    train on the training part's normals; test on the held-out part and the training part's
    anomalies."""
    xtr, ytr, xte, yte = dcgan.digits16(cfg.image_size)  # in [-1, 1]
    anomalous = ytr == cfg.anomaly_class
    x_test = torch.cat([xte, xtr[anomalous]])
    y_test = torch.cat([(yte == cfg.anomaly_class).long(), torch.ones(int(anomalous.sum()),
                                                                       dtype=torch.long)])
    if cfg.num_test:  # tiny: a few of each kind
        pick = torch.cat([torch.nonzero(y_test == k).flatten()[:cfg.num_test // 2] for k in (0, 1)])
        x_test, y_test = x_test[pick], y_test[pick]
    return xtr[~anomalous], x_test, y_test


def build_data(cfg: Config):
    from reproductions.common import data

    if cfg.data_root is not None or cfg.image_size != 16:
        from reproductions.common.config import ConfigError
        raise ConfigError("the OCT scans of the paper are not public: run preset mini")
    x_train, x_test, y_test = split(cfg)
    return data.tensor_loader(x_train, torch.zeros(len(x_train), dtype=torch.long),
                              cfg.batch_size, cfg.seed), (x_test, y_test)


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """AUROC of the pixel distance to the nearest and to the mean training normal."""
    from reproductions.common import baselines as B

    x_train, x_test, y_test = split(cfg)
    return {"nearest normal pixels": {"auroc": B.nearest_normal_auroc(x_train, x_test, y_test)},
            "mean normal pixels": {"auroc": B.mean_normal_auroc(x_train, x_test, y_test)}}


# --- the z search and the score ---------------------------------------------------------------
def features(model: dcgan.DCGAN, x: torch.Tensor) -> torch.Tensor:
    """f(x): D's last feature map before its output layer (Sec. 2.2, feature matching)."""
    return model.discriminator.main[:-1](x)


def search_z(model: dcgan.DCGAN, x: torch.Tensor, cfg: Config, gen: torch.Generator | None = None):
    """Sec. 2.2: Gamma steps of back-propagation into z (G, D fixed) from a random z_1 ~ U(-1, 1),
    lowering (1 - lambda) L_R + lambda L_D for each image of x independently. Returns
    (z_Gamma, R(x), D(x)), the last two the per-image losses at the last step (B,)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    z = (torch.rand(len(x), cfg.nz, generator=gen) * 2 - 1).to(x.device).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=cfg.z_lr)
    with torch.no_grad():
        f_x = features(model, x)
    for step in range(cfg.gamma + 1):
        g = model.generate(z)
        residual = (x - g).abs().flatten(1).sum(1)  # L_R(z) = sum |x - G(z)|
        discrimination = (f_x - features(model, g)).abs().flatten(1).sum(1)  # L_D, feature matching
        if step == cfg.gamma:  # the losses at the last step are the scores (Sec. 2.3)
            break
        loss = ((1 - cfg.lam) * residual + cfg.lam * discrimination).sum()  # each z on its own
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            z.clamp_(-1, 1)
    for p in model.parameters():
        p.requires_grad_(True)
    return z.detach(), residual.detach(), discrimination.detach()


def anomaly_score(model: dcgan.DCGAN, x: torch.Tensor, cfg: Config, gen=None) -> torch.Tensor:
    """Sec. 2.3: A(x) = (1 - lambda) R(x) + lambda D(x); (B,)."""
    _, r, d = search_z(model, x, cfg, gen)
    return (1 - cfg.lam) * r + cfg.lam * d


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """AUROC of the anomaly score and the CPU seconds per test image of computing it."""
    from reproductions.common.baselines import auroc

    x_test, y_test = eval_data
    device = next(model.parameters()).device
    x = x_test.to(device)
    model.eval()
    t0 = time.process_time()
    if isinstance(model, ganomaly.GANomaly):
        with torch.no_grad():
            scores = model.anomaly_score(x)  # one forward pass (GANomaly's Eq. 10)
    else:
        with torch.enable_grad():
            scores = anomaly_score(model, x, cfg, torch.Generator().manual_seed(cfg.seed))
    seconds = (time.process_time() - t0) / len(x)
    return {"auroc": auroc(scores.float().cpu().numpy(), y_test.numpy()),
            "ms_per_image": 1000 * seconds}


# --- claims ------------------------------------------------------------------------------------
def _m(m, name: str, key: str) -> float:
    return m[name][key]


def _measured(m) -> str:
    return ", ".join([f"AUROC {v} {_m(m, v, 'auroc'):.3f}" for v in
                      ("main", "untrained", "ganomaly", "nearest normal pixels",
                       "mean normal pixels")] + [
        f"ms/image AnoGAN {_m(m, 'main', 'ms_per_image'):.2f}, GANomaly "
        f"{_m(m, 'ganomaly', 'ms_per_image'):.3f}"])


CLAIMS = [
    Claim("oct", "Trained on healthy OCT patches, AnoGAN's anomaly score detects retinal fluid "
          "and hyperreflective foci in unseen scans, above an adversarial convolutional "
          "autoencoder and GAN variants scored by the residual or D alone.",
          "AUC 0.89 (aCAE 0.73, GAN_R 0.82, P_D 0.72)", "Table 1, Sec. 4",
          needs="preset paper on the authors' OCT scans (not public)"),
    Claim("mini-slow", "AnoGAN has no encoder: scoring one image takes Gamma steps of "
          "back-propagation through G and D, where GANomaly (which cites this cost) scores it "
          "with one forward pass; at Gamma = 100 AnoGAN is at least 50x slower per image.",
          "Gamma = 500 back-propagation steps per query image", "Sec. 2.2, Sec. 3",
          margins=lambda m: {"ganomaly": _m(m, "main", "ms_per_image")
                             / _m(m, "ganomaly", "ms_per_image") / 50 - 1},
          measured=_measured),
    Claim("mini-learned-score", "Trained on normal digits only, the score A(x) of Sec. 2.3 ranks "
          "the anomalous digit above the normal ones, at least 0.1 AUROC above the same search "
          "through an untrained G and D and above the distance to the mean normal image.",
          "AnoGAN marks anomalous OCT patches (AUC 0.89)", "Sec. 2.3, Table 1",
          margins=lambda m: {v: _m(m, "main", "auroc") - _m(m, v, "auroc") - 0.1
                             for v in ("untrained", "mean normal pixels")},
          measured=_measured),
    Claim("mini-beats-pixel-distance", "AnoGAN's score also beats the distance to the nearest "
          "training normal in pixels. Not reproduced in miniature: on 16x16 digits 1-NN in "
          "pixels is near perfect (AUROC 0.999 with digit 0 the anomaly) where AnoGAN reaches "
          "0.84-0.93 and GANomaly 0.91-0.95 (5 seeds); the paper compares with neither.",
          "not in the paper", "Sec. 2.3 (not in the paper)",
          margins=lambda m: {"nearest normal pixels": _m(m, "main", "auroc")
                             - _m(m, "nearest normal pixels", "auroc")},
          measured=_measured, expected=False),
]
