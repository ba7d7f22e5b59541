"""Dropout: A Simple Way to Prevent Neural Networks from Overfitting (Srivastava, Hinton,
Krizhevsky, Sutskever, Salakhutdinov, JMLR 2014), and its first report, Improving neural networks
by preventing co-adaptation of feature detectors (Hinton et al., 2012).

https://jmlr.org/papers/v15/srivastava14a.html and https://arxiv.org/abs/1207.0580

In training, each unit of a layer is kept with probability p (r_j ~ Bernoulli(p), y~ = r * y,
Sec. 4, Eq. in Fig. 3), so every minibatch trains one of the 2^n "thinned" networks that share
weights; at test the full network is used with each layer's outgoing weights multiplied by p
(Sec. 4, Fig. 2: the weight-scaling inference rule), which approximates averaging the
predictions of all thinned networks (Sec. 7.5; exactly their normalised geometric mean for a
softmax layer fed by one dropout layer, Hinton et al. 2012). Each hidden unit's incoming weight
vector is kept inside a ball, ||w||_2 <= c (max-norm, Sec. 5.1).

Presets, two papers:
- `paper` (Srivastava et al. 2014): the MNIST net of Table 2, 784-1024-1024-1024-10 ReLU, p = 0.8
  for the inputs and 0.5 for hidden units, max-norm c = 3 (Table 2: 1.06% test error;
  2,913,290 parameters); `mini`: Fig. 9's small-data regime (Sec. 7.4) on 2,000 MNIST-5k
  digits (a class-balanced subset drawn per seed), a 784-512-512-10 net with dropout and
  max-norm against the same net without either, 50 epochs each, and 1-NN / logistic
  regression on the same pixels.
- `paper-2012` (Hinton et al. 2012): 784-800-800-10 with 20% input and 50% hidden dropout
  (Fig. 1: ~110 test errors; 1,276,810 parameters); `mini-2012`: 784-256-256-10 on 2,000
  MNIST-5k training digits with and without dropout (75 epochs, no max-norm), and the
  weight-scaling rule against Monte-Carlo averaging of 100 sampled thinned networks on the
  same test digits.
- `tiny`: a smoke run.

Deviations from the papers:
- MNIST-5k (4,000 training, 1,000 test digits, no download) instead of MNIST, smaller nets,
  50-75 epochs of SGD with momentum 0.9 at a constant rate instead of hundreds of epochs with
  momentum rising to 0.95-0.99 and a decaying rate (App. A.2); plain N(0, 0.01) weights, no
  unsupervised pre-training.
- p is the probability of *keeping* a unit, as in Srivastava et al.; Hinton et al. speak of
  dropping 20% / 50%. Training does not rescale by 1/p (torch's "inverted" dropout does); the
  test-time network multiplies by p instead, which is the same function (tested).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.adam import Batches
from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "dropout"


# --- blocks --------------------------------------------------------------------------------


class Dropout(nn.Module):
    """Keep each unit with probability `p` (Fig. 3: r ~ Bernoulli(p), y~ = r * y); in eval mode
    multiply by p (the weight-scaling rule, Fig. 2), or, with `sample=True`, draw a thinned
    network as in training (Monte-Carlo model averaging, Sec. 7.5)."""

    def __init__(self, p: float):
        super().__init__()
        if not 0 < p <= 1:
            raise ConfigError(f"a retention probability must be in (0, 1], got {p}")
        self.p, self.sample = p, False

    def forward(self, x):
        if self.p == 1.0:
            return x
        if self.training or self.sample:
            return x * torch.empty_like(x).bernoulli_(self.p)  # r * y
        return x * self.p  # = the next layer's weights scaled by p


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 180_000  # ~300 epochs of 60,000 images at batch 100
    batch_size: int = 100  # Hinton et al. 2012: minibatches of 100
    lr: float = 0.1  # App. A.2: dropout nets want 10-100x the usual rate, with max-norm
    momentum: float = 0.95  # App. A.2: 0.95 to 0.99 with dropout
    data_root: str | None = None  # real data: MNIST's folder (torchvision layout)
    download: bool = False  # let torchvision download MNIST into data_root
    dataset: Literal["mnist", "mnist5k"] = "mnist"
    train_size: int = 0  # 0: every training image; n: a class-balanced subset (Fig. 9)
    hidden: tuple[int, ...] = (1024, 1024, 1024)  # Table 2: 3 layers of 1024 ReLUs
    p_input: float = 0.8  # probability of keeping an input pixel (Sec. 7.1 / Table 2)
    p_hidden: float = 0.5  # probability of keeping a hidden unit
    max_norm: float | None = 3.0  # c of Sec. 5.1 (App. A.3: "typical values of c range 3-4")
    compare_dropout: bool = False  # also train the same net without dropout and max-norm
    mc_samples: int = 0  # evaluate: also average this many sampled thinned nets (Sec. 7.5)


# --- model ---------------------------------------------------------------------------------


class DropoutNet(nn.Module):
    """Flatten -> Dropout(p_input) -> [Linear -> ReLU -> Dropout(p_hidden)] per hidden layer ->
    Linear -> logits (Fig. 3: dropout on the inputs of every layer)."""

    def __init__(self, cfg: Config, in_dim: int = 784, num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = [Dropout(cfg.p_input)]
        for h in cfg.hidden:
            layers += [nn.Linear(in_dim, h), nn.ReLU(), Dropout(cfg.p_hidden)]
            in_dim = h
        self.net = nn.Sequential(*layers, nn.Linear(in_dim, num_classes))
        self.max_norm = cfg.max_norm
        for m in self.modules():
            if isinstance(m, nn.Linear):  # small random weights N(0, 0.01^2), biases 0
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):  # (B, 1, 28, 28)
        return self.net(x.flatten(1))  # (B, 784) -> (B, K)

    def hidden_layers(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)][:-1]

    @torch.no_grad()
    def apply_max_norm(self) -> None:
        """Sec. 5.1: project each hidden unit's incoming weights w onto ||w||_2 <= c."""
        if self.max_norm is None:
            return
        for layer in self.hidden_layers():
            norms = layer.weight.norm(dim=1, keepdim=True)  # (out, 1): one w per hidden unit
            layer.weight.mul_(torch.clamp(self.max_norm / norms.clamp_min(1e-12), max=1.0))

    @torch.no_grad()
    def mc_average(self, x, samples: int) -> torch.Tensor:
        """Log-probabilities of `samples` sampled thinned networks (Sec. 7.5): `(S, B, K)`."""
        drops = [m for m in self.modules() if isinstance(m, Dropout)]
        for d in drops:
            d.sample = True
        try:
            return torch.stack([self(x).log_softmax(-1) for _ in range(samples)])  # (S, B, K)
        finally:
            for d in drops:
                d.sample = False


def build_model(cfg: Config) -> DropoutNet:
    return DropoutNet(cfg)


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # Table 2, 3 x 1024 + max-norm: 2,913,290 parameters
    "mini": Config(dataset="mnist5k", train_size=2000, hidden=(512, 512), steps=1000,
                   batch_size=100, lr=0.05, momentum=0.9, compare_dropout=True),
    "paper-2012": Config(hidden=(800, 800), max_norm=None),  # Hinton et al. Fig. 1: 1,276,810
    "mini-2012": Config(dataset="mnist5k", train_size=2000, hidden=(256, 256), steps=1500,
                        lr=0.1, momentum=0.9, max_norm=None, compare_dropout=True,
                        mc_samples=100),
    "tiny": Config(dataset="mnist5k", train_size=100, hidden=(16,), steps=3, batch_size=16,
                   mc_samples=2),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`dropout` and, with `compare_dropout`, `no-dropout`: the same net with every unit kept
    and no max-norm (the control of Table 2 / Fig. 1); else `main`."""
    base = dataclasses.replace(cfg, compare_dropout=False)
    if not cfg.compare_dropout:
        return {"main": base}
    return {"dropout": base,
            "no-dropout": dataclasses.replace(base, p_input=1.0, p_hidden=1.0, max_norm=None,
                                              mc_samples=0)}


# --- data ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)  # read once per run, not once per variant and baseline
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


def split_of(cfg: Config):
    """The split of `cfg`, its training side cut to a random class-balanced `train_size` drawn
    with `cfg.seed` (all if 0): the same images for every variant and baseline of a run."""
    from sklearn.model_selection import train_test_split

    xtr, ytr, xte, yte = mnist_split(cfg.dataset, cfg.data_root, cfg.download)
    if cfg.train_size and cfg.train_size < len(ytr):
        keep, _ = train_test_split(torch.arange(len(ytr)).numpy(), train_size=cfg.train_size,
                                   random_state=cfg.seed, stratify=ytr.numpy())
        xtr, ytr = xtr[keep], ytr[keep]
    return xtr, ytr, xte, yte


def build_data(cfg: Config):
    """`(train_batches, {"train": ..., "test": ...})`: the train/test gap needs both."""
    xtr, ytr, xte, yte = split_of(cfg)
    return Batches(xtr, ytr, cfg.batch_size, cfg.seed), {"train": (xtr, ytr), "test": (xte, yte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on the pixels of the same training images and test split."""
    xtr, ytr, xte, yte = split_of(cfg)
    return B.pixel_baselines(xtr, ytr, xte, yte)


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: DropoutNet, cfg: Config):
    """SGD with momentum; after every step the max-norm projection (Sec. 5.1)."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    opt.register_step_post_hook(lambda *_: model.apply_max_norm())
    return opt, None


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, 1, 28, 28), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "error": (logits.argmax(-1) != y).float().mean()}


def evaluate(model: DropoutNet, eval_data, cfg: Config) -> dict[str, float]:
    """Loss and error on train and test with the weight-scaling rule; with `mc_samples`, the
    test error of the Monte-Carlo average of that many thinned nets (Sec. 7.5), of one thinned
    net, and the mean KL divergence from the MC normalised geometric mean to each prediction."""
    out = {}
    for split, data in eval_data.items():
        m = D.classification_metrics(model, data)
        out |= {f"{split}_loss": m["loss"], f"{split}_error": 1 - m["accuracy"]}
    if cfg.mc_samples:
        x, y = (t.to(next(model.parameters()).device) for t in eval_data["test"])
        logp = model.mc_average(x, cfg.mc_samples)  # (S, B, K)
        log_geo = logp.mean(0).log_softmax(-1)  # (B, K): the normalised geometric mean
        scaled = model(x).log_softmax(-1)  # the weight-scaling rule
        kl = lambda logq: (log_geo.exp() * (log_geo - logq)).sum(-1).mean().item()  # noqa: E731
        out |= {"mc_error": (logp.exp().mean(0).argmax(-1) != y).float().mean().item(),
                "one_net_error": (logp[0].argmax(-1) != y).float().mean().item(),
                "kl_geo_to_scaled": kl(scaled), "kl_geo_to_one_net": kl(logp[0])}
    return out


# --- claims --------------------------------------------------------------------------------


def _gap(m, v) -> float:
    return m[v]["test_loss"] - m[v]["train_loss"]


def _acc(m, v) -> float:
    return 1 - m[v]["test_error"]


def _over_pixels(m, by: float) -> dict[str, float]:
    return {b: _acc(m, "dropout") - m[b]["test_accuracy"] - by
            for b in ("1-NN pixels", "logistic regression pixels")}


def _errors(m) -> str:
    return (f"test error: dropout {m['dropout']['test_error']:.3f}, without "
            f"{m['no-dropout']['test_error']:.3f}; 1-NN pixels "
            f"{1 - m['1-NN pixels']['test_accuracy']:.3f}, logistic regression "
            f"{1 - m['logistic regression pixels']['test_accuracy']:.3f}")


MINI_2012 = ("mini-2012",)
CLAIMS = [
    Claim(
        id="dropout-lowers-test-error",
        text="On 2,000 training digits, where the plain net reaches zero training error, dropout "
        "(with max-norm) lowers the test error of the same 784-512-512-10 net by at least "
        "0.005, and the dropout net beats 1-NN and logistic regression on the same pixels.",
        paper="MNIST test error: standard net 1.60%, dropout NN 1.35%, dropout + max-norm 1.06% "
        "(3 x 1024); from 1K training images on, dropout helps (Fig. 9)",
        source="Table 2, Fig. 9 (Sec. 7.4)",
        margins=lambda m: {"no-dropout": m["no-dropout"]["test_error"]
                           - m["dropout"]["test_error"] - 0.005, **_over_pixels(m, 0.0)},
        measured=_errors,
    ),
    Claim(
        id="dropout-closes-the-gap",
        text="Dropout shrinks the net's test minus train cross-entropy on those 2,000 digits by "
        "at least 20% (both nets fit the training digits almost perfectly).",
        paper="dropout prevents overfitting: a smaller gap between training and test "
        "performance (Fig. 9)",
        source="Sec. 7.4, Fig. 9; Sec. 1",
        margins=lambda m: {"no-dropout": 0.8 * _gap(m, "no-dropout") - _gap(m, "dropout")},
        measured=lambda m: f"test - train cross-entropy: dropout {_gap(m, 'dropout'):.3f}, "
        f"without {_gap(m, 'no-dropout'):.3f}",
    ),
    Claim(
        id="mnist-table-2",
        text="On MNIST the 3 x 1024 ReLU net with dropout and max-norm reaches 1.06% test error.",
        paper="Dropout NN + max-norm, ReLU, 3 layers 1024 units: 1.06%",
        source="Table 2",
        needs="preset paper on MNIST (data_root), ~3000 epochs",
    ),
    Claim(
        id="weight-scaling-approximates-averaging",
        text="The weight-scaling rule (one pass through the net with weights times p) predicts "
        "the test digits as well as the Monte-Carlo average of 100 sampled thinned nets, "
        "within 0.01 error, and its prediction is at least 5x closer (KL) to their normalised "
        "geometric mean than one thinned net's is.",
        paper="the mean network's predictions approximate the geometric mean of the 2^N "
        "dropout networks (exactly for one hidden layer and a softmax); Srivastava Fig. 11: "
        "MC averaging of ~50 nets matches weight scaling",
        source="Hinton et al. 2012, p. 2; Srivastava et al. Sec. 7.5, Fig. 11",
        margins=lambda m: {
            "mc-average": 0.01 - abs(m["dropout"]["test_error"] - m["dropout"]["mc_error"]),
            "one-net": m["dropout"]["kl_geo_to_one_net"] / 5 - m["dropout"]["kl_geo_to_scaled"]},
        measured=lambda m: f"test error: weight scaling {m['dropout']['test_error']:.4f}, "
        f"MC average {m['dropout']['mc_error']:.4f}, one thinned net "
        f"{m['dropout']['one_net_error']:.4f}; KL from the geometric mean: scaled "
        f"{m['dropout']['kl_geo_to_scaled']:.4f}, one net {m['dropout']['kl_geo_to_one_net']:.4f}",
        presets=MINI_2012,
    ),
    Claim(
        id="dropout-2012-lowers-test-error",
        text="With 20% input and 50% hidden dropout the 784-256-256-10 net, trained 75 epochs on "
        "2,000 digits, makes at least 5% fewer test errors than without, and beats 1-NN and "
        "logistic regression on the same pixels.",
        paper="MNIST test errors: ~160 with standard backprop, ~110 with 20% input and 50% "
        "hidden dropout",
        source="Hinton et al. 2012, Fig. 1",
        margins=lambda m: {"no-dropout": 1 - m["dropout"]["test_error"]
                           / m["no-dropout"]["test_error"] - 0.05, **_over_pixels(m, 0.0)},
        measured=_errors,
        presets=MINI_2012,
    ),
    Claim(
        id="mnist-2012-errors",
        text="On MNIST the 784-800-800-10 net with 20% / 50% dropout makes about 110 test errors.",
        paper="~110 errors (1.1%) vs ~160 without dropout",
        source="Hinton et al. 2012, Fig. 1",
        needs="preset paper-2012 on MNIST (data_root), ~3000 epochs",
        presets=("paper-2012",),
    ),
]
