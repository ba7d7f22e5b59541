"""Signature Verification using a "Siamese" Time Delay Neural Network (Bromley et al., 1993),
and FaceNet: A Unified Embedding for Face Recognition and Clustering (Schroff et al., 2015).

https://papers.nips.cc/paper/1993/hash/288cc0ff022877bd3df94bc9360b9c5d-Abstract.html
https://arxiv.org/abs/1503.03832

One line of work: a network maps an input to a feature vector, two inputs are "the same" when
their vectors are close, and the network is trained on pairs (Bromley) or triplets (FaceNet) so
that closeness means identity, for identities never seen in training (a new signer, a new face).

Bromley et al.: two copies of one sub-network (shared weights) read two signatures; the cosine
of the angle between their feature vectors is trained towards +1 for a genuine pair and towards
a negative target for a genuine-forgery pair; a signature is accepted when its vector is close
enough to the signer's stored one. FaceNet: an L2-normalised 128-d embedding trained with the
triplet loss [||f(a) - f(p)||^2 - ||f(a) - f(n)||^2 + alpha]_+ (Eq. 1-2), alpha = 0.2, on
negatives chosen online in the mini-batch: semi-hard ones, farther than the positive but inside
the margin (Eq. 4, Sec. 3.2), because the hardest negatives "can ... result in a collapsed
model (i.e. f(x) = 0)" (Sec. 3.2). Verification is scored as VAL at a fixed FAR (Sec. 4).

Presets: `paper` = the signature TDNN half of the siamese pair as the paper describes it (input
8 features x 200 time steps, 12 x 64 units with 8 x 11 receptive fields, then 16 x 19 units with
12 x 10 receptive fields, i.e. stride 3: 3,004 parameters, computed; the paper gives no total) on 8 x 200 signature
trajectories (data not shipped). `paper-facenet` = FaceNet's NN1 (Table 1: the Zeiler & Fergus
network with 1x1 convolutions, 220x220 input, maxout fully connected layers, 128-d output):
140,025,664 parameters with biases, 140M in Table 1 (weights only, checked per layer by a test).
`mini` (Bromley): a small CNN trained with the cosine-target loss on generated glyph identities
(below) against the same net untrained and distances between pixels, verification on 100
identities unseen in training. `mini-facenet`: the same CNN trained with the triplet loss and
semi-hard, random or hardest negatives, same batches and steps. `tiny`.

Data (generated, no licence needed): each identity is a random 12x12 binary glyph (a 5x5
uniform field upsampled and thresholded at its median); an image of it is the glyph at a random
place in a 20x20 canvas, times a random contrast in [0.6, 1.4], plus N(0, 0.3^2) noise. The
nuisances (place, contrast, noise) are what a pixel distance cannot ignore and a learned
embedding can: the role pose and lighting play for faces, speed and size for signatures.
300 identities train, 100 others (10 images each) test.

Deviations from the papers:
- Neither paper's data: no pen-tablet signature database (Bromley), no 100-200M face thumbnails
  of ~8M identities (FaceNet); generated glyph identities instead, and a 3-layer CNN instead of the TDNN or
  NN1 for the minis.
- Bromley's cosine targets: +1 for genuine pairs and -0.9 for forgeries (our reading; the
  tanh squashing is ours too); every pair
  of a mini-batch is used (different identities play the forgeries), weighted so that same and
  different pairs count equally. Adam instead of the papers' SGD / AdaGrad (Sec. 3.3).
- FaceNet's batches hold 16 identities x 4 images (the paper: ~1,800 images, 40 per identity,
  Sec. 3.2); an anchor-positive pair without a semi-hard negative takes a random negative.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "siamese"

# --- losses and measures ---------------------------------------------------------------------


def cosine_target_loss(emb: torch.Tensor, ids: torch.Tensor, targets=(1.0, -0.9)) -> torch.Tensor:
    """Bromley et al.: squared error between cos(f(x1), f(x2)) and +1 (same identity) or the
    negative target (different), over every pair of the batch, each kind weighted half."""
    e = F.normalize(emb, dim=1)  # (B, D)
    cos = e @ e.t()  # (B, B)
    same = ids[:, None] == ids[None, :]
    off = ~torch.eye(len(ids), dtype=torch.bool, device=emb.device)
    err = (cos - torch.where(same, targets[0], targets[1])) ** 2
    pos, neg = same & off, ~same
    return 0.5 * err[pos].mean() + 0.5 * err[neg].mean()


def select_negatives(d2: torch.Tensor, ids: torch.Tensor, anchor: torch.Tensor,
                     positive: torch.Tensor, margin: float, mining: str) -> torch.Tensor:
    """For each anchor-positive pair, the index of a negative (FaceNet Sec. 3.2).
    `semi-hard`: the hardest negative with ||f(a)-f(n)||^2 > ||f(a)-f(p)||^2 (Eq. 4) that still
    violates the margin, else a random one; `hardest`: argmin ||f(a)-f(n)||^2; `random`."""
    d_ap = d2[anchor, positive]  # (P,)
    d_an = d2[anchor]  # (P, B)
    negative = ids[anchor][:, None] != ids[None, :]  # (P, B)
    random = torch.where(negative, torch.rand(d_an.shape, device=d2.device), -1.0).argmax(1)
    if mining == "random":
        return random
    if mining == "hardest":
        return torch.where(negative, d_an, float("inf")).argmin(1)
    semi = negative & (d_an > d_ap[:, None]) & (d_an < d_ap[:, None] + margin)  # Eq. 4
    hardest_semi = torch.where(semi, d_an, float("inf")).argmin(1)
    return torch.where(semi.any(1), hardest_semi, random)


def triplet_loss(emb: torch.Tensor, ids: torch.Tensor, margin: float, mining: str):
    """Eq. 2 over all anchor-positive pairs of the batch (Sec. 3.2), negatives by `mining`, on
    L2-normalised embeddings (||f(x)||_2 = 1, Sec. 3); returns (loss, fraction active)."""
    e = F.normalize(emb, dim=1)  # (B, D)
    d2 = torch.cdist(e, e).pow(2)  # (B, B) squared distances
    same = ids[:, None] == ids[None, :]
    anchor, positive = (same & ~torch.eye(len(ids), dtype=torch.bool, device=e.device)).nonzero(
        as_tuple=True)
    with torch.no_grad():
        negative = select_negatives(d2, ids, anchor, positive, margin, mining)
    hinge = F.relu(d2[anchor, positive] - d2[anchor, negative] + margin)  # Eq. 2's terms
    return hinge.mean(), (hinge > 0).float().mean()


def val_at_far(emb: torch.Tensor, ids: torch.Tensor, far: float) -> float:
    """VAL(d) = |TA(d)| / |P_same| at the threshold d where FAR(d) = |FA(d)| / |P_diff| = far
    (Sec. 4), over all pairs of `emb` (N, D), squared L2 distance."""
    d = torch.cdist(emb.double(), emb.double())  # (N, N)
    i, j = torch.triu_indices(len(ids), len(ids), 1)
    dist, same = d[i, j], ids[i] == ids[j]
    diff = dist[~same].sort().values
    threshold = diff[int(far * len(diff))]  # accepts a fraction `far` of different pairs
    return (dist[same] < threshold).double().mean().item()


# --- blocks ----------------------------------------------------------------------------------


class TDNN(nn.Module):
    """One half of Bromley's siamese pair (the paper's layer sizes; tanh is ours): time-delay (1-D convolution)
    layers over 8 features x 200 time steps; the feature vector is the last layer's 16 x 19
    outputs."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv1d(8, 12, 11, stride=3), nn.Tanh(),
                                    nn.Conv1d(12, 16, 10, stride=3), nn.Tanh())

    def forward(self, x):  # (B, 8, 200)
        return self.layers(x).flatten(1)  # (B, 16 * 19)


class Maxout(nn.Module):
    """A fully connected maxout layer with p = 2 pieces (FaceNet Table 1, Goodfellow et al.)."""

    def __init__(self, d_in: int, d_out: int, pieces: int = 2):
        super().__init__()
        self.fc, self.pieces = nn.Linear(d_in, d_out * pieces), pieces

    def forward(self, x):  # (B, d_in)
        return self.fc(x).view(len(x), -1, self.pieces).amax(-1)  # (B, d_out)


def conv(c_in, c_out, k, stride=1):
    return [nn.Conv2d(c_in, c_out, k, stride, padding=k // 2), nn.ReLU(inplace=True)]


class NN1(nn.Module):
    """FaceNet Table 1: 220x220x3 -> 128, layer by layer (conv1, pool1, rnorm1, conv2a, conv2,
    rnorm2, pool2, conv3a, conv3, pool3, conv4a, conv4, conv5a, conv5, conv6a, conv6, pool4,
    fc1, fc2, fc7128, L2)."""

    def __init__(self, cfg: Config):
        super().__init__()
        pool, norm = (lambda: nn.MaxPool2d(3, 2, padding=1)), (lambda: nn.LocalResponseNorm(5))
        self.features = nn.Sequential(
            *conv(3, 64, 7, 2), pool(), norm(),  # 110x110x64, 55x55x64
            *conv(64, 64, 1), *conv(64, 192, 3), norm(), pool(),  # 55x55x192, 28x28x192
            *conv(192, 192, 1), *conv(192, 384, 3), pool(),  # 28x28x384, 14x14x384
            *conv(384, 384, 1), *conv(384, 256, 3), *conv(256, 256, 1), *conv(256, 256, 3),
            *conv(256, 256, 1), *conv(256, 256, 3), pool())  # 7x7x256
        self.fc = nn.Sequential(Maxout(7 * 7 * 256, 32 * 128), Maxout(32 * 128, 32 * 128),
                                nn.Linear(32 * 128, cfg.embed_dim))  # fc1, fc2, fc7128

    def forward(self, x):  # (B, 3, 220, 220)
        return self.fc(self.features(x).flatten(1))  # (B, 128)


class GlyphNet(nn.Module):
    """The minis' embedding net: three 3x3 conv layers with max pooling, a global max pool (the
    place of the glyph should not matter) and a linear map to `embed_dim`."""

    def __init__(self, cfg: Config):
        super().__init__()
        c1, c2, c3 = cfg.channels
        self.features = nn.Sequential(*conv(1, c1, 3), nn.MaxPool2d(2), *conv(c1, c2, 3),
                                      nn.MaxPool2d(2), *conv(c2, c3, 3), nn.AdaptiveMaxPool2d(1))
        self.head = nn.Linear(c3, cfg.embed_dim)

    def forward(self, x):  # (B, 1, H, W)
        return self.head(self.features(x).flatten(1))  # (B, D)


# --- config ----------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 300
    batch_size: int = 64  # images per batch: batch_size / per_identity identities
    lr: float = 1e-3
    data_root: str | None = None  # paper presets: signature / face data (not shipped)
    arch: Literal["tdnn", "nn1", "glyph"] = "glyph"
    loss: Literal["cosine", "triplet"] = "cosine"  # Bromley's cosine targets | FaceNet Eq. 2
    mining: Literal["semi-hard", "random", "hardest"] = "semi-hard"  # FaceNet Sec. 3.2
    margin: float = 0.2  # FaceNet Sec. 3.1: alpha = 0.2
    embed_dim: int = 128  # FaceNet Sec. 3: a 128-d embedding
    channels: tuple[int, int, int] = (16, 32, 64)  # GlyphNet widths
    per_identity: int = 4  # images of each identity in a batch (FaceNet Sec. 3.2: 40)
    train_identities: int = 300
    test_identities: int = 100
    images_per_identity: int = 10
    image_size: int = 20
    glyph_size: int = 12
    compare_mining: tuple[str, ...] = ()  # mini-facenet: one variant per negative selection
    compare_untrained: bool = False  # mini: also the same net at initialisation


# --- model -----------------------------------------------------------------------------------


class SiameseNet(nn.Module):
    """The shared sub-network; both members of a pair (or all three of a triplet) go through
    the same weights, so one module is the whole siamese network (Bromley et al., Abstract)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.net = {"tdnn": TDNN, "nn1": NN1, "glyph": GlyphNet}[cfg.arch](cfg)

    def forward(self, x):
        return F.normalize(self.net(x), dim=1)  # cosine = dot product; FaceNet's L2 layer


def build_model(cfg: Config) -> nn.Module:
    return SiameseNet(cfg)


# --- presets ---------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(arch="tdnn", loss="cosine"),  # 3,004 (computed from the paper's layer sizes)
    "paper-facenet": Config(arch="nn1", loss="triplet", batch_size=1800, per_identity=40,
                            lr=0.05),  # NN1: 140,025,664 (Table 1: 140M = 140,006,592 weights); AdaGrad 0.05
    "mini": Config(steps=400, compare_untrained=True),  # GlyphNet 31,616
    "mini-facenet": Config(loss="triplet", steps=300,
                           compare_mining=("semi-hard", "random", "hardest")),
    "tiny": Config(steps=3, batch_size=8, per_identity=2, channels=(4, 4, 4), embed_dim=8,
                   train_identities=8, test_identities=4, images_per_identity=4),
}


def variants(cfg: Config) -> dict[str, Config]:
    base = dataclasses.replace(cfg, compare_mining=(), compare_untrained=False)
    out = {m: dataclasses.replace(base, mining=m) for m in cfg.compare_mining} or {"main": base}
    if cfg.compare_untrained:
        out["untrained"] = dataclasses.replace(base, steps=0)
    return out


# --- data ------------------------------------------------------------------------------------


def glyph_identities(n: int, per: int, cfg: Config, seed: int):
    """`per` images of each of `n` random glyph identities: `(x (n*per, 1, S, S), ids (n*per,))`."""
    g = torch.Generator().manual_seed(seed)
    field = torch.rand(n, 1, 5, 5, generator=g)
    glyph = F.interpolate(field, size=(cfg.glyph_size,) * 2, mode="bilinear", align_corners=False)
    glyph = (glyph > glyph.flatten(1).median(1).values.view(-1, 1, 1, 1)).float()  # (n, 1, g, g)
    ids = torch.arange(n).repeat_interleave(per)
    x = torch.zeros(len(ids), 1, cfg.image_size, cfg.image_size)
    place = torch.randint(0, cfg.image_size - cfg.glyph_size + 1, (len(ids), 2), generator=g)
    for i, (dy, dx) in enumerate(place.tolist()):
        x[i, :, dy:dy + cfg.glyph_size, dx:dx + cfg.glyph_size] = glyph[ids[i]]
    contrast = 0.6 + 0.8 * torch.rand(len(ids), 1, 1, 1, generator=g)
    return x * contrast + 0.3 * torch.randn(x.shape, generator=g), ids


def glyph_split(cfg: Config):
    """Training identities and disjoint test identities (another draw: unseen in training)."""
    xtr, ytr = glyph_identities(cfg.train_identities, cfg.images_per_identity, cfg, 2 * cfg.seed)
    xte, yte = glyph_identities(cfg.test_identities, cfg.images_per_identity, cfg,
                                2 * cfg.seed + 1)
    return xtr, ytr, xte, yte


class IdentityBatches:
    """Epochs of batches of `batch_size / per_identity` identities x `per_identity` images each
    (FaceNet Sec. 3.2); epoch e is shuffled by seed (cfg.seed, e), so a fresh object replays."""

    def __init__(self, x, ids, cfg: Config):
        self.x, self.ids, self.cfg = x, ids, cfg
        self.n_ids, self.per_id = int(ids.max()) + 1, cfg.images_per_identity
        self.k = cfg.per_identity
        self.p = cfg.batch_size // self.k
        if self.p < 2 or self.k < 2 or self.p > self.n_ids or self.k > self.per_id:
            raise ConfigError("a batch needs >= 2 identities of >= 2 images each")
        self.epoch = 0

    def __iter__(self):
        g = torch.Generator().manual_seed(self.cfg.seed * 100_003 + self.epoch)
        self.epoch += 1
        order = torch.randperm(self.n_ids, generator=g)
        for b in range(self.n_ids // self.p):
            who = order[b * self.p:(b + 1) * self.p]  # (P,)
            pick = torch.stack([torch.randperm(self.per_id, generator=g)[:self.k] for _ in who])
            idx = (who[:, None] * self.per_id + pick).flatten()  # (P * K,)
            yield self.x[idx], self.ids[idx]


def build_data(cfg: Config):
    if cfg.arch != "glyph":
        raise ConfigError(f"arch={cfg.arch} needs pen-tablet signature (Bromley) or face "
                          "(FaceNet) data, which is not shipped; use mini or mini-facenet")
    xtr, ytr, xte, yte = glyph_split(cfg)
    return IdentityBatches(xtr, ytr, cfg), {"test": (xte, yte)}


def verification_metrics(emb: torch.Tensor, ids: torch.Tensor) -> dict[str, float]:
    pair = torch.pdist(emb.double())
    return {"val_far_1e-3": val_at_far(emb, ids, 1e-3), "val_far_1e-2": val_at_far(emb, ids, 1e-2),
            "mean_distance": pair.mean().item() / emb.double().norm(dim=1).mean().item()}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """Verification by the L2 distance and by the cosine between raw pixels, same test pairs."""
    if cfg.arch != "glyph":
        return {}
    _, _, xte, yte = glyph_split(cfg)
    flat = xte.flatten(1)
    return {"pixel L2": verification_metrics(flat, yte),
            "pixel cosine": verification_metrics(F.normalize(flat, dim=1), yte)}


# --- training --------------------------------------------------------------------------------


def training_step(model: nn.Module, batch) -> dict:
    x, ids = batch  # (B, 1, H, W), (B,)
    emb = model(x)  # (B, D), unit norm
    if model.cfg.loss == "cosine":
        return {"loss": cosine_target_loss(emb, ids)}
    loss, active = triplet_loss(emb, ids, model.cfg.margin, model.cfg.mining)
    return {"loss": loss, "active_triplets": active}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    x, ids = eval_data["test"]
    emb = torch.cat([model(x[i:i + 512]) for i in range(0, len(x), 512)])  # (N, D)
    return verification_metrics(emb.float().cpu(), ids)


# --- claims ----------------------------------------------------------------------------------

_PIXELS = ("pixel L2", "pixel cosine")


def _val(m, name, far="1e-2"):
    return m[name][f"val_far_{far}"]


CLAIMS = [
    Claim(
        id="learned-distance",
        text="Trained on pairs of 300 identities with Bromley's cosine targets, the siamese "
        "net verifies 100 unseen identities better than the same net untrained and than L2 or "
        "cosine distances between pixels: VAL at FAR = 0.01 higher by at least 0.2.",
        paper="Signatures closer to this stored representation than a chosen threshold are "
        "accepted, all other signatures are rejected as forgeries",
        source="Abstract",
        margins=lambda m: {v: _val(m, "main") - _val(m, v) - 0.2
                           for v in ("untrained", *_PIXELS)},
        measured=lambda m: "VAL at FAR 0.01: siamese " + f"{_val(m, 'main'):.3f}, untrained "
        f"{_val(m, 'untrained'):.3f}, pixel L2 {_val(m, 'pixel L2'):.3f}, pixel cosine "
        f"{_val(m, 'pixel cosine'):.3f}",
    ),
    Claim(
        id="signatures",
        text="On the signature database the siamese TDNN separates genuine signatures from "
        "forgeries.",
        paper="verification of signatures written on a pen-input tablet by a siamese TDNN",
        source="Abstract",
        needs="preset paper on the paper's pen-tablet signature database (not public)",
    ),
    Claim(
        id="semi-hard-beats-pixels",
        text="The triplet loss with semi-hard negatives verifies unseen identities far better "
        "than L2 or cosine distances between pixels: VAL at FAR = 0.001 higher by at least 0.2.",
        paper="VAL at FAR 10^-3 of 87.9% (NN1) on the hold-out set of 1M images, unseen "
        "identities",
        source="Sec. 3.2, Table 3",
        margins=lambda m: {v: _val(m, "semi-hard", "1e-3") - _val(m, v, "1e-3") - 0.2
                           for v in _PIXELS},
        measured=lambda m: "VAL at FAR 0.001: semi-hard " + f"{_val(m, 'semi-hard', '1e-3'):.3f}"
        f", pixel L2 {_val(m, 'pixel L2', '1e-3'):.3f}, pixel cosine "
        f"{_val(m, 'pixel cosine', '1e-3'):.3f}",
        presets=("mini-facenet",),
    ),
    Claim(
        id="semi-hard-vs-random",
        text="Semi-hard negatives beat random negatives (same batches and steps) by at least "
        "0.02 VAL at FAR = 0.01: random triplets mostly satisfy the margin already and teach "
        "little.",
        paper="it is crucial to select hard triplets, that are active and can therefore "
        "contribute to improving the model",
        source="Sec. 3.2",
        margins=lambda m: {"random": _val(m, "semi-hard") - _val(m, "random") - 0.02},
        measured=lambda m: f"semi-hard {_val(m, 'semi-hard'):.3f}, random "
        f"{_val(m, 'random'):.3f}",
        presets=("mini-facenet",),
    ),
    Claim(
        id="hardest-collapses",
        text="Always taking the hardest negative collapses the embedding: its VAL at FAR = 0.01 "
        "ends at least 0.3 below semi-hard's, and its images crowd together (mean pairwise "
        "distance below a quarter of semi-hard's).",
        paper="selecting the hardest negatives can in practice lead to bad local minima early "
        "on in training, specifically it can result in a collapsed model (i.e. f(x) = 0)",
        source="Sec. 3.2",
        margins=lambda m: {
            "semi-hard VAL": _val(m, "semi-hard") - _val(m, "hardest") - 0.3,
            "semi-hard spread": m["semi-hard"]["mean_distance"] / 4
            - m["hardest"]["mean_distance"]},
        measured=lambda m: f"VAL at FAR 0.01: hardest {_val(m, 'hardest'):.3f}, semi-hard "
        f"{_val(m, 'semi-hard'):.3f}; mean distance {m['hardest']['mean_distance']:.3f} vs "
        f"{m['semi-hard']['mean_distance']:.3f}",
        presets=("mini-facenet",),
    ),
    Claim(
        id="lfw",
        text="FaceNet's NN-series embeddings verify LFW pairs at near-human accuracy.",
        paper="99.63% +- 0.09 on LFW with face alignment, 98.87% with a fixed centre crop",
        source="Sec. 5.6",
        needs="preset paper-facenet trained on ~100M-200M face thumbnails (not public), "
        "LFW's 6,000 pairs (data_root)",
    ),
]
