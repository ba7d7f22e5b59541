"""Gradient-Based Learning Applied to Document Recognition (LeCun, Bottou, Bengio, Haffner,
1998): LeNet-5; and its ancestor, Backpropagation Applied to Handwritten Zip Code Recognition
(LeCun et al., 1989).

https://doi.org/10.1109/5.726791 and https://doi.org/10.1162/neco.1989.1.4.541

LeNet-5 (1998, Sec. II-B, Fig. 2): a 32x32 input, C1 (6 5x5 feature maps), S2 (2x2 subsampling:
the sum of 4 inputs times a trainable coefficient plus a trainable bias, then the squashing
function), C3 (16 maps, each connected to a subset of S2's maps by Table I), S4, C5 (120 maps of
1x1), F6 (84 units) and 10 Euclidean RBF output units (Eq. 7) whose parameter vectors are fixed
+1/-1 codes; squashing f(a) = A tanh(S a), A = 1.7159, S = 2/3 (Eq. 6, Appendix A); loss Eq. 9.
Trainable parameters 156 + 12 + 1,516 + 32 + 48,120 + 10,164 = 60,000, as the paper states;
340,908 connections (counting the RBF layer's 840). C3's partial connection table is built
exactly: one 5x5 kernel per connected (C3 map, S2 map) pair of Table I, 60 pairs.

The 1989 net ("Network Architecture", Fig. 3): a 16x16 input; H1: 12 maps of 8x8, 5x5 kernels at stride 2,
weights shared within a map but one bias per unit; H2: 12 maps of 4x4, each unit sees 5x5
windows of 8 of H1's 12 maps, shared weights, one bias per unit; H3: 30 units; 10 outputs, all
fully connected; tanh units, targets -1/+1, mean squared error. 1,256 units, 64,660 connections
and 9,760 free parameters, as the paper states.

Presets: for `lenet` (1998): `paper` = LeNet-5 (60,000 parameters) on MNIST from data_root;
`mini` = LeNet-5 against a fully connected net with the same 60k budget and the same F6, RBF
outputs, loss and training (59,970 parameters), on MNIST-5k (4,000 train / 1,000 test, no
download), plus 1-NN and logistic regression on the same pixels; `tiny`. For `lecun-1989`:
`paper-1989` = the zip code net (9,760 parameters) on MNIST downscaled to 16x16; `mini-1989` =
that net against the unconstrained net with the same 64,660 connections, every one its own free
parameter (a locally connected net: the weight sharing removed), trained on 500 MNIST-5k digits
at 16x16 (a random class-balanced subset per seed: with fewer examples per free parameter the
constraint matters more) and tested on the same 1,000, plus 1-NN and logistic regression fitted
on the same 500.

Deviations from the papers:
- Training uses Adam with a linear decay to 0, in mini-batches, not the stochastic diagonal
  Levenberg-Marquardt method with one pattern at a time (1998 Appendix C) or the 1989 paper's
  per-pattern gradient with a diagonal Hessian estimate.
- The RBF codes are fixed random +1/-1 vectors (seeded, the same in every run), not the
  stylised 7x12 bitmaps of the characters (Sec. II-B): we do not have the bitmaps; random codes
  are as far apart (Hamming ~42 of 84). The constant j of Eq. 9 is not given; we use j = 10.
- 1989: the zip code data (7,291 / 2,007 USPS digits) is not public in that form; MNIST digits
  are downscaled to 16x16 in its place. The paper does not say which 8 of H1's 12 maps each H2
  map sees, nor what lies beyond H1's edge: we use three groups of four maps (maps 0-3 see H1
  0-7, maps 4-7 see 4-11, maps 8-11 see 0-3 and 8-11, as Karpathy's 2022 reproduction does) and
  pad both the input and H1 with the background value -1.
- 1998 inputs: MNIST's 28x28 digits padded to 32x32, scaled so background is -0.1 and ink
  1.175 (Sec. III-A); no deskewing and no distortions (Sec. III-C's 0.8% error).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "lenet"

A, S = 1.7159, 2.0 / 3.0  # Eq. 6 and Appendix A: f(a) = A tanh(S a), so f(+-1) = +-1

# Table I: which of S2's 6 maps (rows) each of C3's 16 maps (columns) is connected to.
TABLE_I = ("X   XXX  XXXX XX",
           "XX   XXX  XXXX X",
           "XXX   XXX  X XXX",
           " XXX  XXXX  X XX",
           "  XXX  XXXX XX X",
           "   XXX  XXXX XXX")


def squash(a):
    return A * torch.tanh(S * a)


def full_table(out_maps: int, in_maps: int) -> list[list[int]]:
    return [list(range(in_maps)) for _ in range(out_maps)]


def table_i() -> list[list[int]]:
    """For each C3 map, the S2 maps it sees (Table I)."""
    return [[r for r in range(6) if TABLE_I[r][c] == "X"] for c in range(16)]


def table_1989() -> list[list[int]]:
    """For each H2 map, the 8 H1 maps it sees (the paper only says "8 of the 12"; see
    Deviations): three groups of four maps."""
    groups = [list(range(0, 8)), list(range(4, 12)), [0, 1, 2, 3, 8, 9, 10, 11]]
    return [groups[o // 4] for o in range(12)]


def init_uniform(t: torch.Tensor, fan_in) -> None:
    """1998 Appendix A (the 1989 net too): uniform in [-2.4/F, 2.4/F], F the unit's fan-in
    (a number, or a tensor of one per row of `t`)."""
    with torch.no_grad():
        t.uniform_(-1.0, 1.0)
        scale = 2.4 / torch.as_tensor(fan_in, dtype=t.dtype, device=t.device)
        t.mul_(scale.view(-1, *[1] * (t.ndim - 1)) if scale.ndim else scale)


# --- layers --------------------------------------------------------------------------------


class Convolution(nn.Module):
    """Feature maps of shared-weight units: output map o sums a k x k kernel over each input map
    in `table[o]` (one kernel per connection: C3's 60 of Table I). `unit_bias`: one bias per
    unit instead of one per map (the 1989 net's H1 and H2)."""

    def __init__(self, table: list[list[int]], in_maps: int, k: int, stride: int = 1,
                 pad: int = 0, unit_bias: tuple[int, int] | None = None):
        super().__init__()
        self.out_maps, self.in_maps, self.k, self.stride, self.pad = len(table), in_maps, k, stride, pad
        pairs = [(o, i) for o, ins in enumerate(table) for i in ins]
        self.register_buffer("out_idx", torch.tensor([o for o, _ in pairs], device="cpu"))
        self.register_buffer("in_idx", torch.tensor([i for _, i in pairs], device="cpu"))
        self.fan_in = [len(ins) * k * k for ins in table]  # per output map
        self.weight = nn.Parameter(torch.empty(len(pairs), k, k))  # one kernel per connection
        self.bias = nn.Parameter(torch.empty(self.out_maps, *(unit_bias or ())))
        init_uniform(self.weight, [self.fan_in[o] for o, _ in pairs])
        init_uniform(self.bias, self.fan_in)

    def kernel(self) -> torch.Tensor:
        """The dense (out_maps, in_maps, k, k) kernel, zero where Table I has no connection."""
        dense = self.weight.new_zeros(self.out_maps, self.in_maps, self.k, self.k)
        return dense.index_put((self.out_idx, self.in_idx), self.weight)

    def forward(self, x):  # (B, C_in, H, W)
        x = F.pad(x, (self.pad,) * 4, value=-1.0)  # 1989: beyond the edge is background (-1)
        x = F.conv2d(x, self.kernel(), stride=self.stride)  # (B, C_out, H', W')
        return x + (self.bias.view(1, -1, 1, 1) if self.bias.ndim == 1 else self.bias)


class LocallyConnected(Convolution):
    """The same units and connections as `Convolution` with per-unit biases, but every unit has
    its own weights: the 1989 net with its weight-sharing constraint removed. Weight (N_conn,
    L, k, k) for L output positions."""

    def __init__(self, table, in_maps, k, stride, pad, out_side: int):
        super().__init__(table, in_maps, k, stride, pad, unit_bias=(out_side, out_side))
        n_conn = len(self.weight)
        self.weight = nn.Parameter(torch.empty(n_conn, out_side * out_side, k, k))
        init_uniform(self.weight, [self.fan_in[o] for o in self.out_idx.tolist()])

    def forward(self, x):  # (B, C_in, H, W)
        x = F.pad(x, (self.pad,) * 4, value=-1.0)
        cols = F.unfold(x, self.k, stride=self.stride).permute(2, 0, 1)  # (L, B, C_in*k*k)
        n_conn, L = self.weight.shape[:2]
        dense = self.weight.new_zeros(self.out_maps, self.in_maps, L, self.k, self.k)
        dense = dense.index_put((self.out_idx, self.in_idx), self.weight)  # (C_out, C_in, L, k, k)
        dense = dense.permute(2, 1, 3, 4, 0).reshape(L, -1, self.out_maps)  # (L, C_in*k*k, C_out)
        out = torch.bmm(cols, dense).permute(1, 2, 0)  # (B, C_out, L): each position its own weights
        return out.reshape(len(x), self.out_maps, *self.bias.shape[1:]) + self.bias


class Subsampling(nn.Module):
    """S2, S4 (Sec. II-B): the four inputs of a 2x2 window are added, multiplied by a trainable
    coefficient and added to a trainable bias, one pair per map."""

    def __init__(self, maps: int):
        super().__init__()
        self.coef, self.bias = nn.Parameter(torch.empty(maps)), nn.Parameter(torch.empty(maps))
        init_uniform(self.coef, 4), init_uniform(self.bias, 4)

    def forward(self, x):  # (B, C, H, W)
        x = 4 * F.avg_pool2d(x, 2)  # (B, C, H/2, W/2): the sum of each 2x2 window
        return x * self.coef.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class Linear(nn.Linear):
    def __init__(self, n_in: int, n_out: int):
        super().__init__(n_in, n_out)
        init_uniform(self.weight, n_in), init_uniform(self.bias, n_in)


class EuclideanRBF(nn.Module):
    """Eq. 7: y_i = sum_j (x_j - w_ij)^2, with fixed +1/-1 codes w_i (not trained: a buffer),
    and Eq. 9's loss."""

    def __init__(self, n_in: int = 84, classes: int = 10, j: float = 10.0):
        super().__init__()
        g = torch.Generator().manual_seed(1998)
        codes = torch.randint(0, 2, (classes, n_in), generator=g, device="cpu").float() * 2 - 1
        self.register_buffer("codes", codes)
        self.j = j

    def forward(self, x):  # (B, 84)
        return (x.unsqueeze(1) - self.codes).square().sum(-1)  # (B, K) penalties

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Eq. 9: y_D + log(e^-j + sum_i e^-y_i), with out = -y (the negated penalties)."""
        j_term = torch.full_like(out[:, :1], -self.j)  # (B, 1): the e^-j "rubbish" term
        return (-out.gather(1, y[:, None]) + torch.logsumexp(torch.cat([j_term, out], 1), 1)).mean()


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 37_500  # 1998 Sec. III-C: 20 passes over 60,000 digits (batches of 32 here)
    batch_size: int = 32  # the papers update after every pattern; see Deviations
    lr: float = 1e-3  # Adam, decayed linearly to 0 (Deviations)
    data_root: str | None = None  # real data: torchvision's MNIST folder
    download: bool = False  # let torchvision download MNIST into data_root
    dataset: Literal["mnist", "mnist5k"] = "mnist"
    arch: Literal["lenet5", "fully-connected", "zipcode", "zipcode-local"] = "lenet5"
    image_size: int = 32  # 1998: 28x28 digits padded to 32x32; 1989: 16x16
    rbf_j: float = 10.0  # Eq. 9's constant j (not given in the paper)
    train_size: int = 0  # 0: every training digit; n: a random class-balanced subset of n
    hidden: int = 54  # fully-connected control: 1024-54-84-RBF = 59,970 parameters (~LeNet-5's)
    compare: bool = False  # mini: also train the control (fully connected / unconstrained)


# --- models --------------------------------------------------------------------------------


class LeNet5(nn.Module):
    """Fig. 2: C1 -> S2 -> C3 -> S4 -> C5 -> F6 -> RBF outputs; `forward` returns the RBF
    penalties' negatives, so a larger value is the more likely class."""

    def __init__(self, cfg: Config):
        super().__init__()
        if cfg.image_size != 32:
            raise ConfigError("LeNet-5 takes 32x32 inputs (image_size=32)")
        self.c1, self.s2 = Convolution(full_table(6, 1), 1, 5), Subsampling(6)
        self.c3, self.s4 = Convolution(table_i(), 6, 5), Subsampling(16)
        self.c5 = Convolution(full_table(120, 16), 16, 5)
        self.f6, self.rbf = Linear(120, 84), EuclideanRBF(84, 10, cfg.rbf_j)

    def forward(self, x):  # (B, 1, 32, 32)
        x = squash(self.s2(squash(self.c1(x))))  # (B, 6, 14, 14)
        x = squash(self.s4(squash(self.c3(x))))  # (B, 16, 5, 5)
        x = squash(self.c5(x)).flatten(1)  # (B, 120): C5's maps are 1x1
        return -self.rbf(squash(self.f6(x)))  # (B, 10)

    def loss(self, out, y):
        return self.rbf.loss(out, y)


class FullyConnected(nn.Module):
    """The control: input -> hidden -> F6 -> the same RBF outputs, every weight its own."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.h, self.f6 = Linear(cfg.image_size ** 2, cfg.hidden), Linear(cfg.hidden, 84)
        self.rbf = EuclideanRBF(84, 10, cfg.rbf_j)

    def forward(self, x):  # (B, 1, H, W)
        return -self.rbf(squash(self.f6(squash(self.h(x.flatten(1))))))  # (B, 10)

    def loss(self, out, y):
        return self.rbf.loss(out, y)


class ZipCodeNet(nn.Module):
    """1989, "Network Architecture", Fig. 3: H1 (12 x 8x8) -> H2 (12 x 4x4) -> H3 (30) -> 10 outputs, tanh units.
    `shared=False`: the unconstrained net with the same connections (`LocallyConnected`)."""

    def __init__(self, cfg: Config, shared: bool = True):
        super().__init__()
        if cfg.image_size != 16:
            raise ConfigError("the 1989 net takes 16x16 inputs (image_size=16)")
        if shared:
            self.h1 = Convolution(full_table(12, 1), 1, 5, 2, 2, unit_bias=(8, 8))
            self.h2 = Convolution(table_1989(), 12, 5, 2, 2, unit_bias=(4, 4))
        else:
            self.h1 = LocallyConnected(full_table(12, 1), 1, 5, 2, 2, out_side=8)
            self.h2 = LocallyConnected(table_1989(), 12, 5, 2, 2, out_side=4)
        self.h3, self.out = Linear(192, 30), Linear(30, 10)

    def forward(self, x):  # (B, 1, 16, 16)
        x = squash(self.h1(x))  # (B, 12, 8, 8)
        x = squash(self.h2(x)).flatten(1)  # (B, 192)
        return squash(self.out(squash(self.h3(x))))  # (B, 10), targets -1 / +1

    def loss(self, out, y):
        """Mean squared error to +1 for the class and -1 for the others (1989)."""
        return (out - (2 * F.one_hot(y, 10) - 1)).square().sum(1).mean()


def build_model(cfg: Config) -> nn.Module:
    if cfg.arch == "lenet5":
        return LeNet5(cfg)
    if cfg.arch == "fully-connected":
        return FullyConnected(cfg)
    return ZipCodeNet(cfg, shared=cfg.arch == "zipcode")


@torch.no_grad()
def connections(model: nn.Module, cfg: Config) -> int:
    """Connections as the papers count them: for every unit, its inputs plus its bias (S2/S4:
    4 inputs, coefficient and bias = 5; the RBF outputs count their 84 inputs each)."""
    total = 0

    def count(m, inputs, out):
        nonlocal total
        units = out[0].numel()  # one sample
        if isinstance(m, Convolution):
            total += sum(len(m.in_idx[m.out_idx == o]) * m.k ** 2 + 1 for o in range(m.out_maps)) \
                * units // m.out_maps
        elif isinstance(m, Subsampling):
            total += units * 5
        elif isinstance(m, nn.Linear):
            total += units * (m.in_features + 1)
        elif isinstance(m, EuclideanRBF):
            total += units * m.codes.shape[1]

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (Convolution, Subsampling, nn.Linear, EuclideanRBF))]
    model(torch.zeros(1, 1, cfg.image_size, cfg.image_size))
    for h in hooks:
        h.remove()
    return total


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # LeNet-5: 60,000 trainable parameters (Sec. II-B)
    "mini": Config(dataset="mnist5k", steps=2500, batch_size=32, lr=2e-3, compare=True),  # 20 passes
    "tiny": Config(dataset="mnist5k", steps=3, batch_size=16),
    # 1989: 9,760 free parameters; 23 passes over 7,291 digits ("Results")
    "paper-1989": Config(arch="zipcode", image_size=16, steps=5_240),
    "mini-1989": Config(arch="zipcode", image_size=16, dataset="mnist5k", train_size=500,
                        steps=2000, batch_size=16, lr=3e-3, compare=True),  # 64 passes
}


def variants(cfg: Config) -> dict[str, Config]:
    """The net alone, or with `compare` the net and its control: LeNet-5 and the fully
    connected net of the same budget; the 1989 net and its unconstrained twin."""
    base = dataclasses.replace(cfg, compare=False)
    if not cfg.compare:
        return {"main": base}
    if cfg.arch in ("lenet5", "fully-connected"):
        return {"lenet5": dataclasses.replace(base, arch="lenet5"),
                "fully-connected": dataclasses.replace(base, arch="fully-connected")}
    return {"constrained": dataclasses.replace(base, arch="zipcode"),
            "unconstrained": dataclasses.replace(base, arch="zipcode-local")}


# --- data ----------------------------------------------------------------------------------


def prepare(x: torch.Tensor, image_size: int) -> torch.Tensor:
    """MNIST (N, 1, 28, 28) in [0, 1] -> the paper's input: 32x32 padded, background -0.1 and
    ink 1.175 (1998 Sec. III-A); or 16x16 in [-1, 1] (1989 "Preprocessing")."""
    if image_size == 16:
        x = F.interpolate(x, size=(16, 16), mode="bilinear", antialias=True)  # (N, 1, 16, 16)
        return x.clamp(0, 1) * 2 - 1
    pad = (image_size - x.shape[-1]) // 2
    return F.pad(x, (pad,) * 4) * 1.275 - 0.1  # (N, 1, 32, 32)


def split(cfg: Config):
    """`(x_train, y_train, x_test, y_test)`: MNIST-5k (4,000 / 1,000, the same split for every
    seed) or MNIST (60,000 / 10,000) from data_root, prepared for the net; with `train_size`
    a class-balanced random subset of the training digits (drawn with `seed`)."""
    if cfg.dataset == "mnist" and cfg.data_root is None:
        raise ConfigError("dataset=mnist needs --set data_root=DIR (MNIST's folder)")
    xtr, ytr, xte, yte = _split(cfg.dataset, cfg.data_root, cfg.download, cfg.image_size)
    if cfg.train_size and cfg.train_size < len(ytr):
        from sklearn.model_selection import train_test_split

        if cfg.train_size < 10:
            raise ConfigError(f"train_size={cfg.train_size} is smaller than the number of classes")
        keep, _ = train_test_split(torch.arange(len(ytr)).numpy(), train_size=cfg.train_size,
                                   random_state=cfg.seed, stratify=ytr.numpy())
        xtr, ytr = xtr[keep], ytr[keep]
    return xtr, ytr, xte, yte


@functools.lru_cache(maxsize=2)
def _split(dataset: str, data_root: str | None, download: bool, image_size: int):
    if dataset == "mnist":
        xtr, ytr = D.real_images("mnist", data_root, train=True, download=download)
        xte, yte = D.real_images("mnist", data_root, train=False, download=download)
    else:
        xtr, ytr, xte, yte = D.mnist_5k(seed=0)
    return prepare(xtr, image_size), ytr, prepare(xte, image_size), yte


def build_data(cfg: Config):
    xtr, ytr, xte, yte = split(cfg)
    return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), {"test": (xte, yte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on the same prepared pixels and split (MNIST-5k only)."""
    if cfg.dataset != "mnist5k":
        return {}
    xtr, ytr, xte, yte = split(cfg)
    return B.pixel_baselines(xtr, ytr, xte, yte)


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / cfg.steps))


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, 1, H, W), (B,)
    out = model(x)  # (B, 10)
    return {"loss": model.loss(out, y), "error": (out.argmax(-1) != y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    x, y = eval_data["test"]
    device = next(model.parameters()).device
    out = torch.cat([model(x[i:i + 1000].to(device)) for i in range(0, len(y), 1000)]).cpu()
    return {"test_accuracy": (out.argmax(-1) == y).float().mean().item(),
            "test_loss": model.loss(out, y).item()}


# --- claims --------------------------------------------------------------------------------

PIXELS = ("1-NN pixels", "logistic regression pixels")


def _acc(m, v):
    return m[v]["test_accuracy"]


CLAIMS = [
    Claim(
        id="weight-sharing",
        text="LeNet-5 (60,000 parameters, most of its 340,908 connections sharing weights) is "
        "more accurate on 1,000 MNIST test digits than a fully connected net with the same "
        "budget (59,970), F6, RBF outputs, loss and training, by at least 0.02.",
        paper="test error: LeNet-5 0.95%; fully connected nets 4.7% (300 hidden units), 4.5% "
        "(1,000 hidden), 3.05% (300-100); convolutional nets build in shift invariance and "
        "need fewer free parameters",
        source="Sec. II-A, Sec. III-C, Fig. 9",
        margins=lambda m: {"fully-connected": _acc(m, "lenet5") - _acc(m, "fully-connected") - 0.02},
        measured=lambda m: f"LeNet-5 {_acc(m, 'lenet5'):.3f}, fully connected "
        f"{_acc(m, 'fully-connected'):.3f}",
    ),
    Claim(
        id="beats-pixel-baselines",
        text="LeNet-5 trained on 4,000 MNIST digits beats 1-NN and logistic regression on the "
        "same pixels, by at least 0.01.",
        paper="test error: LeNet-5 0.95%; K-NN Euclidean 5.0%; linear classifier 12.0%",
        source="Sec. III-C, Fig. 9",
        margins=lambda m: {b: _acc(m, "lenet5") - _acc(m, b) - 0.01 for b in PIXELS},
        measured=lambda m: f"LeNet-5 {_acc(m, 'lenet5'):.3f}, 1-NN {_acc(m, PIXELS[0]):.3f}, "
        f"logistic regression {_acc(m, PIXELS[1]):.3f}",
    ),
    Claim(
        id="mnist-error",
        text="LeNet-5 trained 20 passes on MNIST's 60,000 digits errs on 0.95% of the 10,000 "
        "test digits.",
        paper="0.95% test error (0.8% with distortions)",
        source="Sec. III-C, Fig. 9",
        needs="preset paper, MNIST (data_root, --set download=True)",
    ),
    Claim(
        id="constrained-generalises",
        text="1989: the constrained net (weights shared within each feature map, 9,760 free "
        "parameters), trained on 500 digits, is more accurate on 1,000 test digits than the "
        "unconstrained net with the same 64,660 connections, each its own parameter, trained "
        "the same way, by at least 0.01; and than 1-NN and logistic regression fitted on the "
        "same 500 16x16 images.",
        paper="'reduce the number of free parameters in the network as much as possible "
        "without overly reducing its computational power ... increases the probability of "
        "correct generalization'; 64,660 connections, 9,760 free parameters",
        source="1989 'Feature Maps and Weight Sharing', 'Network Architecture'",
        margins=lambda m: {"unconstrained": _acc(m, "constrained") - _acc(m, "unconstrained") - 0.01,
                           **{b: _acc(m, "constrained") - _acc(m, b) for b in PIXELS}},
        measured=lambda m: f"constrained {_acc(m, 'constrained'):.3f}, unconstrained "
        f"{_acc(m, 'unconstrained'):.3f}, 1-NN {_acc(m, PIXELS[0]):.3f}, logistic regression "
        f"{_acc(m, PIXELS[1]):.3f}",
        presets=("mini-1989",),
    ),
    Claim(
        id="zipcode-error",
        text="1989: after 23 passes over 7,291 zip code digits the net errs on 5.0% of the "
        "2,007 test digits (0.14% of the training digits).",
        paper="5.0% test error, 0.14% training error",
        source="1989 'Results'",
        needs="preset paper-1989 on the USPS zip code digits (not shipped; MNIST at 16x16 via "
        "data_root is the stand-in)",
        presets=("paper-1989",),
    ),
]
