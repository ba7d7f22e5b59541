"""Long Short-Term Memory (Hochreiter & Schmidhuber, 1997), with the recurrent-net papers around
it: Bengio, Simard & Frasconi (1994), Cho et al. (2014, the GRU), Pascanu, Mikolov & Bengio
(2013, gradient clipping) and Schuster & Paliwal (1997, bidirectional RNNs).

https://doi.org/10.1162/neco.1997.9.8.1735 (LSTM), https://doi.org/10.1109/72.279181 (1994),
https://arxiv.org/abs/1406.1078 (GRU), https://arxiv.org/abs/1211.5063 (clipping),
https://doi.org/10.1109/78.650093 (BRNN)

LSTM (Sec. 4): a memory cell's state s_c is a constant error carousel (CEC), s_c(t) =
s_c(t-1) + y_in(t) g(net_c(t)); a multiplicative input gate y_in guards it from irrelevant
inputs and an output gate y_out guards the rest of the net from it, y_c = y_out h(s_c). Cells
sharing their gates form a cell block. Since ds_c(t)/ds_c(t-1) = 1, error flows back over
long lags without decaying (Sec. 3.2), where in a tanh RNN it shrinks exponentially (Sec. 3.1;
Bengio et al. 1994).

Presets (which serves which paper):
- `paper` (lstm): Exp. 4, the adding problem (Sec. 5.4): 2 inputs, 2 cell blocks of size 2, one
  output unit; every hidden unit (cell or gate) gets the inputs, the cells and the gates, the
  output unit only the cells: 8 x (2 + 8 + 1) + (4 + 1) = 93 weights. T = 100, SGD lr 0.5.
- `mini` (lstm): the adding problem at T = 100 (minimal lag 50, Sec. 5.4's placement): the 1997
  LSTM (4 blocks of 2 cells, no forget gate, 313 weights; input and output gate biases -2,
  Sec. 4's remedies for drift and abuse) against a tanh RNN with as many weights (16 units,
  321) and the mean predictor (a net that learned nothing), 1,500 Adam steps each. The LSTM
  sits on the mean predictor's plateau for 300-1,100 steps before it finds the markers.
- `mini-1994` (bengio-1994): ||dL/dh_t|| of a trained tanh RNN against the lag T - t: a straight
  line in log scale (exponential decay), where the LSTM's ||dL/ds_t|| does not decay.
- `mini-gru` (gru): GRU (Cho et al. Sec. 2.3, 12 units, 565 weights), forget-gate LSTM (10
  cells, 531) and tanh RNN (22 units, 573) on the adding problem at T = 100, 600 Adam steps
  each. The GRU's update gate z and the LSTM's forget gate start with bias 2 (`gate_bias`):
  at bias 0 (z ~ 0.5) the state halves every step and no gated net left the plateau in
  1,000 steps.
- `mini-pascanu` (pascanu): a tanh RNN initialised with large recurrent weights (spectral radius
  about 1.5: exploding gradients), trained by SGD at lr 0.15 with and without norm clipping
  (Algorithm 1), same seed and rate (at lr 0.1 the unclipped run of seed 3 did not diverge).
- `mini-birnn` (birnn): per-step targets y_t = x_{t-1} + x_{t+1}: a bidirectional tanh RNN
  (Sec. II-B, 2 x 32 units) against a forward-only one with as many weights (47 units) and the
  majority class. (A forward net whose output is delayed by one step, Sec. II-A, would also
  solve it; it is not trained here.)
- `tiny`: a seconds-long smoke run.

Data: generated sequences (no download, no licence).

Deviations from the paper:
- Trained by full back-propagation through time with Adam (`mini*`), not the paper's truncated
  gradient (Sec. 4, Appendix A.1) with online SGD; `paper` keeps SGD at lr 0.5.
- Sequences have a fixed length T (the paper draws it in [T, T + T/10]) so they batch.
- The output unit is linear with a squared error (the paper's is a sigmoid); weights start
  uniform in [-0.1, 0.1] and gate biases at 0 (our choice, not the paper's per-experiment
  biases).
- `mini-gru` starts the gates with bias 2 (our choice; Cho et al. give no gate biases).
- `lstm` / `gru` / `tanh` cells are the modern forms: the LSTM with a forget gate (Gers et al.,
  2000, as torch.nn.LSTM), the GRU as Cho et al.'s Eq. 5-8 (`reset_after=False`) or as
  torch.nn.GRU (reset gate applied after U h, `reset_after=True`, the `mini-gru` default).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "lstm"
CELLS = ("lstm1997", "lstm", "gru", "tanh")


# --- cells ---------------------------------------------------------------------------------
# Each cell: `start(B)` -> state, `step(xw_t, state)` -> (output (B, H_out), state), where
# xw_t = the input projection of x_t, computed for all steps at once (`project`).


class LSTM1997Cell(nn.Module):
    """The 1997 memory cell blocks (Sec. 4): no forget gate, g in [-2, 2], h in [-1, 1]
    (Appendix A.1). The recurrent signal is every hidden unit's output: cells and gates."""

    def __init__(self, n_in: int, blocks: int, block_size: int):
        super().__init__()
        self.blocks, self.size = blocks, block_size
        self.cells = blocks * block_size
        units = self.cells + 2 * blocks  # net_c per cell, net_in and net_out per block
        self.out_features = self.cells
        self.x = nn.Linear(n_in, units)  # inputs -> every hidden unit (with its bias)
        self.h = nn.Linear(units, units, bias=False)  # cells and gates -> every hidden unit

    def project(self, x):  # (B, T, I) -> (B, T, units)
        return self.x(x)

    def start(self, b: int, like: torch.Tensor):
        y = like.new_zeros(b, self.cells + 2 * self.blocks)  # last outputs of cells and gates
        return y, like.new_zeros(b, self.cells)  # s_c: the CEC

    def step(self, xw, state):
        y, s = state
        net = xw + self.h(y)  # (B, units)
        net_c, net_in, net_out = net.split([self.cells, self.blocks, self.blocks], dim=-1)
        y_in, y_out = torch.sigmoid(net_in), torch.sigmoid(net_out)  # (B, blocks)
        g = 4 * torch.sigmoid(net_c) - 2  # (B, cells)
        B = len(g)
        s = s + (y_in[:, :, None] * g.view(B, self.blocks, self.size)).view(B, -1)  # the CEC
        y_c = (y_out[:, :, None] * (2 * torch.sigmoid(s) - 1).view(B, self.blocks, self.size)
               ).view(B, -1)  # (B, cells): the block's output gate scales its cells
        return y_c, (torch.cat([y_c, y_in, y_out], -1), s)


class LSTMCell(nn.Module):
    """The LSTM with a forget gate, gate order (i, f, g, o) as torch.nn.LSTM: c = f c + i g,
    h = o tanh(c); one bias (torch's b_ih + b_hh)."""

    def __init__(self, n_in: int, hidden: int):
        super().__init__()
        self.out_features = hidden
        self.x, self.h = nn.Linear(n_in, 4 * hidden), nn.Linear(hidden, 4 * hidden, bias=False)

    def project(self, x):  # (B, T, I) -> (B, T, 4H)
        return self.x(x)

    def start(self, b, like):
        z = like.new_zeros(b, self.out_features)
        return z, z

    def step(self, xw, state):
        h, c = state
        i, f, g, o = (xw + self.h(h)).chunk(4, -1)  # each (B, H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class GRUCell(nn.Module):
    """Cho et al. Sec. 2.3: r = sigma(W_r x + U_r h) (Eq. 5), z = sigma(W_z x + U_z h) (Eq. 6),
    h~ = tanh(W x + U (r * h)) (Eq. 8), h = z h + (1 - z) h~ (Eq. 7). `reset_after`: torch.nn.GRU's
    form h~ = tanh(W x + r * (U h + b)), equal when r = 1."""

    def __init__(self, n_in: int, hidden: int, reset_after: bool = False):
        super().__init__()
        self.out_features, self.reset_after = hidden, reset_after
        self.x = nn.Linear(n_in, 3 * hidden)  # W_r, W_z, W (gate order r, z, n as torch)
        self.rz = nn.Linear(hidden, 2 * hidden, bias=False)  # U_r, U_z
        self.u = nn.Linear(hidden, hidden, bias=reset_after)  # U

    def project(self, x):  # (B, T, I) -> (B, T, 3H)
        return self.x(x)

    def start(self, b, like):
        return like.new_zeros(b, self.out_features)

    def step(self, xw, h):
        xr, xz, xn = xw.chunk(3, -1)  # each (B, H)
        ur, uz = self.rz(h).chunk(2, -1)
        r, z = torch.sigmoid(xr + ur), torch.sigmoid(xz + uz)
        n = torch.tanh(xn + (r * self.u(h) if self.reset_after else self.u(r * h)))
        h = z * h + (1 - z) * n
        return h, h


class TanhCell(nn.Module):
    """h_t = tanh(W x_t + U h_{t-1} + b): the simple recurrent net of Bengio et al. 1994."""

    def __init__(self, n_in: int, hidden: int, recurrent_scale: float = 0.0):
        super().__init__()
        self.out_features = hidden
        self.x, self.h = nn.Linear(n_in, hidden), nn.Linear(hidden, hidden, bias=False)
        if recurrent_scale:  # U ~ N(0, scale^2 / H): spectral radius about `scale`
            nn.init.normal_(self.h.weight, std=recurrent_scale / math.sqrt(hidden))

    def project(self, x):  # (B, T, I) -> (B, T, H)
        return self.x(x)

    def start(self, b, like):
        return like.new_zeros(b, self.out_features)

    def step(self, xw, h):
        h = torch.tanh(xw + self.h(h))
        return h, h


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 74_000  # Sec. 5.4: 74,000 training sequences at T = 100 (online: batch 1)
    batch_size: int = 1
    lr: float = 0.5  # Sec. 5.4
    data_root: str | None = None  # unused: all tasks are generated
    optimizer: Literal["sgd", "adam"] = "sgd"
    grad_clip: float | None = None  # Pascanu et al. Algorithm 1: rescale g when ||g|| > this
    task: Literal["adding", "future"] = "adding"
    seq_len: int = 100  # T; Sec. 5.4: the second marker lies in the first T/2 - 1 steps
    train_size: int = 20_000  # generated training sequences (fresh ones per step in the paper)
    test_size: int = 1_000
    symbols: int = 4  # task=future: alphabet size K
    cell: Literal["lstm1997", "lstm", "gru", "tanh"] = "lstm1997"
    blocks: int = 2  # lstm1997: cell blocks (Sec. 5.4: 2)
    block_size: int = 2  # lstm1997: cells per block (Sec. 5.4: 2)
    in_gate_bias: float = 0.0  # lstm1997: < 0 against internal state drift (Sec. 4)
    out_gate_bias: float = 0.0  # lstm1997: < 0 against the abuse problem (Sec. 4)
    hidden: int = 0  # lstm / gru / tanh: units (0: as many parameters as `cell` lstm1997)
    bidirectional: bool = False  # Schuster & Paliwal Sec. II-B: a forward and a backward net
    reset_after: bool = True  # gru: torch.nn.GRU's form; False: Cho et al. Eq. 8
    gate_bias: float = 0.0  # gru: update gate z's bias, lstm: forget gate's (> 0: keep h at start)
    recurrent_scale: float = 0.0  # tanh: U ~ N(0, scale^2/H) (0: U[-0.1, 0.1])
    init_range: float = 0.1  # weights uniform in [-r, r]
    compare: tuple[str, ...] = ()  # also train these cells with as many parameters as `cell`
    compare_clip: float | None = None  # mini-pascanu: train `clipped` (this threshold), `unclipped`
    compare_bidirectional: bool = False  # mini-birnn: train `bidirectional` and `forward`


# --- model ---------------------------------------------------------------------------------


def make_cell(cfg: Config, n_in: int, hidden: int) -> nn.Module:
    if cfg.cell == "lstm1997":
        return LSTM1997Cell(n_in, cfg.blocks, cfg.block_size)
    if cfg.cell == "lstm":
        return LSTMCell(n_in, hidden)
    if cfg.cell == "gru":
        return GRUCell(n_in, hidden, cfg.reset_after)
    return TanhCell(n_in, hidden, cfg.recurrent_scale)


def task_shape(cfg: Config) -> tuple[int, int]:
    """(inputs per step, outputs): adding = 2 -> 1 (Sec. 5.4); future = K one-hot -> the 2K - 1
    possible sums."""
    return (2, 1) if cfg.task == "adding" else (cfg.symbols, 2 * cfg.symbols - 1)


class RecurrentNet(nn.Module):
    """A recurrent layer (one cell, or a forward and a backward cell) and a linear output unit
    reading the cells' outputs: at the last step (adding) or at every step (future)."""

    def __init__(self, cfg: Config):
        super().__init__()
        n_in, n_out = task_shape(cfg)
        if cfg.cell != "lstm1997" and cfg.hidden < 1:
            raise ConfigError(f"cell={cfg.cell} needs hidden >= 1")
        self.fwd = make_cell(cfg, n_in, cfg.hidden)
        self.bwd = make_cell(cfg, n_in, cfg.hidden) if cfg.bidirectional else None
        width = self.fwd.out_features * (2 if cfg.bidirectional else 1)
        self.out = nn.Linear(width, n_out)
        self.per_step = cfg.task == "future"
        for p in self.parameters():
            nn.init.uniform_(p, -cfg.init_range, cfg.init_range)
        if cfg.cell == "lstm1997":  # biases of net_in and net_out (after the cells' net_c)
            for c in (self.fwd, self.bwd):
                if c is not None:
                    nn.init.constant_(c.x.bias[c.cells:c.cells + c.blocks], cfg.in_gate_bias)
                    nn.init.constant_(c.x.bias[c.cells + c.blocks:], cfg.out_gate_bias)
        if cfg.gate_bias and cfg.cell in ("gru", "lstm"):  # z (Eq. 7) / f: the 2nd H of x's bias
            for c in (self.fwd, self.bwd):
                if c is not None:
                    nn.init.constant_(c.x.bias[cfg.hidden:2 * cfg.hidden], cfg.gate_bias)
        if cfg.cell == "tanh" and cfg.recurrent_scale:
            for c in (self.fwd, self.bwd):
                if c is not None:
                    nn.init.normal_(c.h.weight, std=cfg.recurrent_scale / math.sqrt(cfg.hidden))

    def scan(self, cell, x, states: list | None = None):  # (B, T, I) -> (B, T, H_out)
        xw, state = cell.project(x), cell.start(len(x), x)  # (B, T, units)
        outs = []
        for t in range(x.shape[1]):
            y, state = cell.step(xw[:, t], state)
            if states is not None:  # the state whose gradient Sec. 3.1 follows back in time
                s = state[1] if isinstance(cell, LSTM1997Cell) else y
                s.retain_grad()
                states.append(s)
            outs.append(y)
        return torch.stack(outs, 1)

    def forward(self, x, states: list | None = None):  # (B, T, I)
        h = self.scan(self.fwd, x, states)  # (B, T, H)
        if self.bwd is not None:  # Sec. II-B: the backward net reads the sequence reversed
            h = torch.cat([h, self.scan(self.bwd, x.flip(1)).flip(1)], -1)  # (B, T, 2H)
        return self.out(h) if self.per_step else self.out(h[:, -1]).squeeze(-1)  # (B, T, K) | (B,)


def count(cfg: Config) -> int:
    return sum(p.numel() for p in RecurrentNet(cfg).parameters())


def matched(cfg: Config, cell: str) -> Config:
    """`cfg` with `cell` and the hidden width whose parameter count is closest to `cfg`'s."""
    if cell == "lstm1997":
        raise ConfigError("compare cells must be lstm, gru or tanh (lstm1997 has no `hidden`)")
    target = count(cfg)
    best = min(range(1, 257), key=lambda h: abs(count(dataclasses.replace(
        cfg, cell=cell, hidden=h)) - target))
    return dataclasses.replace(cfg, cell=cell, hidden=best)


def build_model(cfg: Config) -> RecurrentNet:
    return RecurrentNet(cfg)


# --- presets -------------------------------------------------------------------------------

_MINI = dict(optimizer="adam", lr=1e-2, batch_size=32, grad_clip=1.0, test_size=1_000)
PRESETS = {
    "paper": Config(),  # Exp. 4 (Sec. 5.4): 93 weights
    "mini": Config(**_MINI, blocks=4, in_gate_bias=-2.0, out_gate_bias=-2.0, steps=1500,
                   compare=("tanh",)),  # 313 weights vs tanh RNN (16 units) 321
    "mini-1994": Config(**_MINI, blocks=4, in_gate_bias=-2.0, out_gate_bias=-2.0, steps=150,
                        recurrent_scale=1.0, compare=("tanh",)),
    "mini-gru": Config(**_MINI, cell="gru", hidden=12, gate_bias=2.0, steps=600,
                       compare=("lstm", "tanh")),  # 565 weights vs LSTM 531, tanh RNN 573
    "mini-pascanu": Config(**{**_MINI, "optimizer": "sgd", "lr": 0.15, "grad_clip": None},
                           cell="tanh", hidden=32, recurrent_scale=1.5, seq_len=20, steps=1000,
                           compare_clip=1.0),
    "mini-birnn": Config(**{**_MINI, "grad_clip": None}, task="future", seq_len=20, cell="tanh",
                         hidden=32, steps=300, compare_bidirectional=True),
    "tiny": Config(optimizer="adam", lr=1e-2, batch_size=8, seq_len=12, train_size=64,
                   test_size=32, steps=3, compare=("tanh",)),
}


def variants(cfg: Config) -> dict[str, Config]:
    """The main cell under its name plus each `compare` cell at an equal parameter count;
    `clipped` / `unclipped` (compare_clip); `bidirectional` / `forward` (compare_bidirectional,
    the forward net as wide as the pair's parameters allow); else `main`."""
    base = dataclasses.replace(cfg, compare=(), compare_clip=None, compare_bidirectional=False)
    if cfg.compare_clip is not None:
        return {"clipped": dataclasses.replace(base, grad_clip=cfg.compare_clip),
                "unclipped": dataclasses.replace(base, grad_clip=None)}
    if cfg.compare_bidirectional:
        bi = dataclasses.replace(base, bidirectional=True)
        one = dataclasses.replace(base, bidirectional=False)
        target = count(bi)
        h = min(range(1, 257), key=lambda h: abs(count(dataclasses.replace(one, hidden=h)) - target))
        return {"bidirectional": bi, "forward": dataclasses.replace(one, hidden=h)}
    if not cfg.compare:
        return {"main": base}
    return {cfg.cell: base, **{c: matched(base, c) for c in cfg.compare}}


# --- data ----------------------------------------------------------------------------------


def adding(n: int, T: int, gen: torch.Generator):
    """Sec. 5.4: pairs (value in [-1, 1], marker); markers 1.0 on one of the first 10 steps and
    one of the first T/2 - 1, -1.0 on the first and last step where unmarked (the paper's
    convention), else 0; target 0.5 + (X1 + X2) / 4."""
    values = torch.rand(n, T, generator=gen) * 2 - 1
    first = torch.randint(0, 10, (n,), generator=gen)
    second = torch.randint(0, T // 2 - 1, (n,), generator=gen)
    second = torch.where(second == first, (second + 1) % (T // 2 - 1), second)
    marks = torch.zeros(n, T)
    marks[:, 0], marks[:, -1] = -1.0, -1.0
    rows = torch.arange(n)
    marks[rows, first], marks[rows, second] = 1.0, 1.0
    y = 0.5 + (values[rows, first] + values[rows, second]) / 4
    return torch.stack([values, marks], -1), y  # (n, T, 2), (n,)


def future(n: int, T: int, K: int, gen: torch.Generator):
    """Random symbols x_t in 0..K-1 (one-hot); target y_t = x_{t-1} + x_{t+1} (0 beyond the
    ends), one of 2K - 1 classes: half of what is needed lies in the future, which a forward
    net cannot see. A sum, not a parity: the output layer adds what the two directions know."""
    s = torch.randint(0, K, (n, T), generator=gen)
    pad = torch.zeros(n, 1, dtype=torch.long)
    y = torch.cat([pad, s[:, :-1]], 1) + torch.cat([s[:, 1:], pad], 1)
    return F.one_hot(s, K).float(), y  # (n, T, K), (n, T)


def generate(cfg: Config, n: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    return adding(n, cfg.seq_len, gen) if cfg.task == "adding" else \
        future(n, cfg.seq_len, cfg.symbols, gen)


def xy_train_targets(cfg: Config) -> torch.Tensor:
    return generate(cfg, cfg.train_size, 1000 + cfg.seed)[1].flatten()


def build_data(cfg: Config):
    """Training sequences (seeded by cfg.seed) and a test set (fixed seed): the same for every
    variant of a run."""
    if cfg.task == "adding" and cfg.seq_len < 12:
        raise ConfigError("the adding problem needs seq_len >= 12 (markers in the first 10)")
    xtr, ytr = generate(cfg, cfg.train_size, 1000 + cfg.seed)
    xte, yte = generate(cfg, cfg.test_size, 999)
    return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), \
        {"test": (xte, yte), "train_mean": float(ytr.float().mean())}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """adding: the mean predictor (the training targets' mean: a net that learned nothing);
    future: the most frequent class of the training targets."""
    _, test = build_data(cfg)
    x, y = test["test"]
    if cfg.task == "future":
        top = int(torch.bincount(xy_train_targets(cfg)).argmax())
        return {"majority class": {"test_accuracy": float((y == top).float().mean())}}
    err = test["train_mean"] - y
    return {"mean predictor": {"test_mse": float((err**2).mean()),
                               "test_accuracy": float((err.abs() < 0.04).float().mean())}}


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr), None
    return torch.optim.Adam(model.parameters(), lr=cfg.lr), None


def loss_of(model, x, y):
    out = model(x)  # (B,) or (B, T, K)
    if out.dim() == 1:
        return F.mse_loss(out, y), out
    return F.cross_entropy(out.flatten(0, 1), y.flatten()), out


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, T, I), (B,) or (B, T)
    loss, _ = loss_of(model, x, y)
    return {"loss": loss}


def gradient_by_lag(model: RecurrentNet, x, y) -> list[float]:
    """Mean over sequences of ||dL/dh_t|| (tanh RNN) or ||dL/ds_t|| (1997 LSTM: the CEC), L the
    final step's squared error, listed by lag T - t = 0, 1, ..., T - 1 (Bengio et al. Sec. IV)."""
    import copy

    model = copy.deepcopy(model).double()  # float64: the decayed gradients stay above 1e-308
    x, y = x.double(), y.double()
    states: list[torch.Tensor] = []
    with torch.enable_grad():
        out = model(x, states)
        ((out - y) ** 2).sum().backward()  # a sum: each sequence's gradient is its own
    return [float(s.grad.norm(dim=-1).mean()) for s in reversed(states)]


def log_fit(norms: list[float], skip: int = 1) -> tuple[float, float]:
    """(slope of log10 norm per step of lag, R^2) of a least-squares line from lag `skip` on."""
    ys = torch.tensor(norms, dtype=torch.float64)
    xs = torch.arange(len(norms), dtype=torch.float64)
    keep = (xs >= skip) & (ys > 0)  # an underflowed 0 has no logarithm
    xs, ys = xs[keep], ys[keep].log10()
    xc, yc = xs - xs.mean(), ys - ys.mean()
    slope = float((xc * yc).sum() / (xc**2).sum())
    resid = yc - slope * xc
    return slope, float(1 - (resid**2).sum() / (yc**2).sum().clamp_min(1e-300))


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """adding: test MSE and the fraction within 0.04 of the target (Sec. 5.4's criterion), the
    gradient's decay with the lag (log10 slope, R^2, decades lost over the sequence); future:
    per-step test accuracy."""
    x, y = eval_data["test"]
    dev = next(model.parameters()).device
    x, y = x.to(dev), y.to(dev)
    loss, out = loss_of(model, x, y)
    if cfg.task == "future":
        return {"test_loss": float(loss), "test_accuracy": float((out.argmax(-1) == y).float().mean())}
    norms = gradient_by_lag(model, x[:200], y[:200])
    slope, r2 = log_fit(norms)
    return {"test_mse": float(loss), "test_accuracy": float(((out - y).abs() < 0.04).float().mean()),
            "grad_log10_slope": slope, "grad_fit_r2": r2,
            "grad_decades": math.log10(max(norms[1], 1e-300) / max(norms[-1], 1e-300)),
            **{f"grad_lag{k:03d}": v for k, v in enumerate(norms)}}


def figures(out_dir: Path, cfg: Config, models: dict, metrics: dict) -> list[dict]:
    """adding: ||dL/d state_t|| against the lag T - t for every variant (log scale)."""
    if cfg.task != "adding":
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3))
    for i, name in enumerate(metrics):
        lags = sorted(k for k in metrics[name] if k.startswith("grad_lag"))
        ax.plot(range(len(lags)), [metrics[name][k] for k in lags], f"C{i}", label=name)
    ax.set(xlabel="lag T - t", ylabel="||dL/d state_t||", yscale="log",
           title="gradient against the time lag")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "gradient-by-lag.png", dpi=100)
    plt.close(fig)
    return [{"file": "gradient-by-lag.png", "paper_figure": "",
             "caption": "mean norm of the loss gradient in the recurrent state (tanh RNN: h_t; "
             "1997 LSTM: the cell state s_t) against the lag to the output, after training"}]


# --- claims --------------------------------------------------------------------------------



def _m(m, v, k):
    return m[v][k]


def _removed(m, v, other):
    """The fraction of `other`'s test squared error that `v` removes (a diverged run, NaN or
    above twice `other`'s error, counts as -1)."""
    r = 1 - m[v]["test_mse"] / m[other]["test_mse"]
    return max(r, -1.0) if math.isfinite(r) else -1.0


CLAIMS = [
    # --- Hochreiter & Schmidhuber 1997 (`mini`) ---
    Claim(
        id="long-lag",
        text="On the adding problem with T = 100 (minimal lag 50), the 1997 LSTM (4 blocks of 2 "
        "cells, 313 weights) removes at least 80% of the squared error of a tanh RNN with as "
        "many weights (16 units, 321) and of the mean predictor; the tanh RNN removes less "
        "than 20% of the mean predictor's.",
        paper="LSTM solves the adding problem for T = 100, 500, 1000 (minimal lags 50-500); "
        "no other algorithm had solved such long-lag continuous tasks",
        source="Sec. 5.4",
        margins=lambda m: {"tanh": _removed(m, "lstm1997", "tanh") - 0.8,
                           "mean predictor": _removed(m, "lstm1997", "mean predictor") - 0.8,
                           "tanh vs mean predictor": 0.2 - _removed(m, "tanh", "mean predictor")},
        measured=lambda m: f"test MSE: LSTM {_m(m, 'lstm1997', 'test_mse'):.4f}, tanh RNN "
        f"{_m(m, 'tanh', 'test_mse'):.4f}, mean predictor {_m(m, 'mean predictor', 'test_mse'):.4f}",
    ),
    Claim(
        id="adding-accuracy",
        text="By the paper's criterion (absolute error below 0.04), the LSTM gets at least 0.3 "
        "more test sequences right than the tanh RNN and than the mean predictor (~0.15).",
        paper="average test-set error below 0.04 on all but 1 of 2,560 sequences (T = 100)",
        source="Sec. 5.4",
        margins=lambda m: {v: _m(m, "lstm1997", "test_accuracy") - _m(m, v, "test_accuracy") - 0.3
                           for v in ("tanh", "mean predictor")},
        measured=lambda m: f"fraction within 0.04: LSTM {_m(m, 'lstm1997', 'test_accuracy'):.3f}, "
        f"tanh RNN {_m(m, 'tanh', 'test_accuracy'):.3f}, mean predictor "
        f"{_m(m, 'mean predictor', 'test_accuracy'):.3f}",
    ),
    Claim(
        id="adding-1000",
        text="The 93-weight LSTM of Exp. 4 solves the adding problem at T = 100, 500 and 1000 "
        "with online SGD (74k, 209k, 853k training sequences).",
        paper="T = 100 / 500 / 1000: 74,000 / 209,000 / 853,000 sequences; 1 / 0 / 1 of 2,560 "
        "test sequences wrong",
        source="Sec. 5.4",
        needs="preset paper with --set seq_len=100/500/1000 and steps to match (hours of CPU "
        "per run at batch 1)",
    ),
    # --- Bengio, Simard & Frasconi 1994 (`mini-1994`) ---
    Claim(
        id="vanishing-gradient",
        text="After 150 steps on the adding problem (T = 100), a tanh RNN's ||dL/dh_t|| falls "
        "exponentially with the lag T - t: a line in log scale (R^2 >= 0.9) losing at least "
        "0.02 decades per step (2 decades over the sequence).",
        paper="the gradient with respect to states far in the past vanishes exponentially "
        "with the time lag once the network latches information robustly",
        source="Abstract, Sec. 1",
        margins=lambda m: {"no decay": -_m(m, "tanh", "grad_log10_slope") - 0.02,
                           "exponential fit": _m(m, "tanh", "grad_fit_r2") - 0.9},
        measured=lambda m: f"tanh RNN: log10 slope {_m(m, 'tanh', 'grad_log10_slope'):.3f} per "
        f"step, R^2 {_m(m, 'tanh', 'grad_fit_r2'):.3f}, "
        f"{_m(m, 'tanh', 'grad_decades'):.1f} decades lost",
        presets=("mini-1994",),
    ),
    Claim(
        id="cec-no-decay",
        text="Trained the same way, the 1997 LSTM's ||dL/ds_t|| (the CEC) loses at most 0.5 "
        "decades over the same lags, at least 3 decades fewer than the tanh RNN's gradient.",
        paper="constant error flow through the CEC (LSTM Sec. 3.2), the remedy for the decay "
        "Bengio et al. prove",
        source="Abstract",
        margins=lambda m: {"tanh": _m(m, "tanh", "grad_decades")
                           - _m(m, "lstm1997", "grad_decades") - 3.0,
                           "flat": 0.5 - abs(_m(m, "lstm1997", "grad_decades"))},
        measured=lambda m: f"decades lost over lags 1-{lstm_lags(m)}: LSTM cell state "
        f"{_m(m, 'lstm1997', 'grad_decades'):.2f}, tanh RNN {_m(m, 'tanh', 'grad_decades'):.1f}",
        presets=("mini-1994",),
    ),
    # --- Cho et al. 2014 (`mini-gru`) ---
    Claim(
        id="gru-gating",
        text="On the adding problem (T = 100, minimal lag 50), a GRU (12 units, 565 weights, "
        "update gate z started with bias 2) trained 600 Adam steps removes at least 80% of the "
        "squared error of a tanh RNN with as many weights (22 units, 573) trained the same way "
        "and of the mean predictor; the tanh RNN stays at the mean predictor's error.",
        paper="'it is crucial to use this new unit with gating units. We were not able to get "
        "meaningful result with an oft-used tanh unit without any gating'",
        source="Sec. 2.3",
        margins=lambda m: {"tanh": _removed(m, "gru", "tanh") - 0.8,
                           "mean predictor": _removed(m, "gru", "mean predictor") - 0.8},
        measured=lambda m: f"test MSE: GRU {_m(m, 'gru', 'test_mse'):.4f}, LSTM "
        f"{_m(m, 'lstm', 'test_mse'):.4f}, tanh RNN {_m(m, 'tanh', 'test_mse'):.4f}, mean "
        f"predictor {_m(m, 'mean predictor', 'test_mse'):.4f}",
        presets=("mini-gru",),
    ),
    Claim(
        id="gru-vs-lstm",
        text="The GRU beats the forget-gate LSTM of the same size (10 cells, 531 weights, forget "
        "gate started with bias 2, same steps) by at least 0.1 of the mean predictor's error. "
        "Not claimed (expected=False): Cho et al. do not compare the two and Chung et al. "
        "(2014) found neither consistently better; here the LSTM has not yet left the plateau "
        "after 600 steps, which says how fast each starts, not what each can learn.",
        paper="the GRU is 'motivated by the LSTM unit but is much simpler to compute and "
        "implement'",
        source="Sec. 2.3",
        margins=lambda m: {"lstm": _removed(m, "gru", "mean predictor")
                           - _removed(m, "lstm", "mean predictor") - 0.1},
        measured=lambda m: f"error removed vs the mean predictor: GRU "
        f"{_removed(m, 'gru', 'mean predictor'):.3f}, LSTM "
        f"{_removed(m, 'lstm', 'mean predictor'):.3f}",
        expected=False,
        presets=("mini-gru",),
    ),
    # --- Pascanu, Mikolov & Bengio 2013 (`mini-pascanu`) ---
    Claim(
        id="clipping-rescues",
        text="A tanh RNN whose recurrent weights start with spectral radius ~1.5 (exploding "
        "gradients), trained by SGD at lr 0.15 on the adding problem (T = 20): with norm "
        "clipping at 1 it removes at least 15% of the mean predictor's squared error; without "
        "(same seed, same rate) it diverges or removes at least 0.15 less.",
        paper="clipping the gradient's norm (Algorithm 1) deals with exploding gradients; "
        "without it SGD jumps off the cliffs of the error surface",
        source="Sec. 3.2, Algorithm 1",
        margins=lambda m: {"mean predictor": _removed(m, "clipped", "mean predictor") - 0.15,
                           "unclipped": _removed(m, "clipped", "mean predictor")
                           - _removed(m, "unclipped", "mean predictor") - 0.15},
        measured=lambda m: f"test MSE: clipped {_m(m, 'clipped', 'test_mse'):.4f}, unclipped "
        f"{_m(m, 'unclipped', 'test_mse'):.4g}, mean predictor "
        f"{_m(m, 'mean predictor', 'test_mse'):.4f}",
        presets=("mini-pascanu",),
    ),
    # --- Schuster & Paliwal 1997 (`mini-birnn`) ---
    Claim(
        id="bidirectional",
        text="When the target at t needs the input at t + 1 (y_t = x_{t-1} + x_{t+1}, 4 symbols), "
        "a bidirectional tanh RNN's per-step test accuracy beats a forward-only one with as many "
        "weights by at least 0.3 and the majority class (~0.25) by at least 0.5.",
        paper="the BRNN uses all available input information in the past and future of a "
        "frame and beats forward-only and delayed RNNs",
        source="Sec. II-B",
        margins=lambda m: {
            "forward": _m(m, "bidirectional", "test_accuracy") - _m(m, "forward", "test_accuracy")
            - 0.3,
            "majority class": _m(m, "bidirectional", "test_accuracy")
            - _m(m, "majority class", "test_accuracy") - 0.5},
        measured=lambda m: f"per-step accuracy: bidirectional "
        f"{_m(m, 'bidirectional', 'test_accuracy'):.3f}, forward "
        f"{_m(m, 'forward', 'test_accuracy'):.3f}, majority class "
        f"{_m(m, 'majority class', 'test_accuracy'):.3f}",
        presets=("mini-birnn",),
    ),
]


def lstm_lags(m) -> int:
    return sum(1 for k in m["lstm1997"] if k.startswith("grad_lag")) - 1
