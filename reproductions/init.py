"""Weight initialisation for deep plain networks, two papers of one line of work.

1. Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet Classification
   (He, Zhang, Ren, Sun, 2015): PReLU and "He" initialisation. https://arxiv.org/abs/1502.01852
2. Understanding the difficulty of training deep feedforward neural networks (Glorot, Bengio,
   2010): the "normalized" ("Xavier") initialisation.
   https://proceedings.mlr.press/v9/glorot10a.html

With zero biases and i.i.d. weights, the response y_l = W_l x_l of layer l has
Var[y_l] = n_l Var[w_l] E[x_l^2] (He Eq. 7), n_l = k^2 c the fan-in. For ReLU E[x_l^2] =
Var[y_{l-1}] / 2 (Eq. 8), so Var[y_L] = Var[y_1] prod_l (n_l Var[w_l] / 2) (Eq. 9): "He" init
(1/2) n_l Var[w_l] = 1 (Eq. 10) keeps it constant, the linear-unit rule n_l Var[w_l] = 1
("Xavier", Glorot Eq. 16 for equal fan-in and fan-out) halves it at every ReLU layer. For tanh
near 0 (linear), Glorot's "standard" U[-1/sqrt(n), 1/sqrt(n)] (Eq. 1) has n Var[w] = 1/3 and
shrinks activations going up and back-propagated gradients going down (Eq. 12-13, Fig. 6-7);
Eq. 16 keeps both roughly constant. Both papers' conditions and PReLU (He Eq. 1) are here.

Presets (which paper each serves):
- he-init (`PAPER`): `paper` = the 30-layer ReLU net of Sec. 2.3 / Fig. 3 (27 conv + 3 fc: the
  14-layer model of Table 1 with sixteen more 2x2, 256-filter conv layers; 79,192,296
  parameters); `model-a` = model A of Table 3 (19 layers, PReLU: 178,032,072); `table1` = the
  14-layer PReLU model of Table 1 (75,004,200). The paper prints no parameter counts: these are
  counted from its tables (the spatial pyramid pooling makes them independent of padding).
  `mini`: Fig. 3 in miniature on scikit-learn's 8x8 digits: a 30-layer plain ReLU net
  (29 fully connected hidden layers of 128 units + the classifier; 471,946 parameters)
  initialised by Eq. 10 ("he") and by Glorot's Eq. 16 ("xavier", the paper's control), same
  SGD, same 400 steps.
- xavier-init: `paper-xavier` = the 5-hidden-layer, 1000-unit tanh net with a softmax output
  (Sec. 2.3, 3.3) on MNIST's 784 inputs (4,799,010 parameters); `mini-xavier` = the same depth
  at width 256 on digits (282,378 parameters), normalized (Eq. 16, "xavier") vs standard
  (Eq. 1) init, same plain SGD, same 300 steps.
- `tiny`: a smoke test.

Deviations from the papers:
- He et al.'s 30-layer net adds its sixteen extra conv layers at the end of the conv3 stage
  ("we add up to sixteen conv layers with 256 2x2 filters in the model in Table 1"; where is not
  said). 2x2 convolutions use "same" padding (PyTorch pads right/bottom); padding does not
  change the parameter count.
- `mini` is fully connected, not convolutional: on 8x8 maps the zero padding of 3x3 convs
  loses variance at the borders at every layer (-4.6 decades over 27 layers with He init, where
  the paper's 56-224 pixel maps lose little), which would test padding, not Eq. 10; Eq. 7-10
  hold for fc layers with n_l = fan-in. No dropout; 400 SGD steps at a constant lr of 0.003
  (0.01 and more diverge for some seeds without normalisation), not 30+ ImageNet epochs; it
  compares training loss as Fig. 3 compares error. The "xavier" control is Glorot's Eq. 16
  (= torch's `xavier_uniform_`); the paper's Caffe "xavier" filler has n_l Var[w_l] = 1, the
  same for the hidden layers, whose fan-in equals their fan-out.
- Glorot & Bengio's Fig. 6-7 use Shapeset-3x2 (not distributed in a standard form); the
  miniature measures the same statistics on digits. Their training used SGD with mini-batches
  of 10 and tuned rates; `mini-xavier` uses batch 32 and one rate (0.02) for both inits.
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

from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "he-init"
Init = Literal["he", "xavier", "standard"]


# --- initialisation ------------------------------------------------------------------------


def fans(w: torch.Tensor) -> tuple[int, int]:
    """(n_l, n_hat_l): fan-in k^2 c and fan-out k^2 d of a conv (d, c, k, k) or linear (d, c)."""
    receptive = w[0, 0].numel()
    return w.shape[1] * receptive, w.shape[0] * receptive


@torch.no_grad()
def init_weight_(w: torch.Tensor, method: Init, a: float = 0.0) -> torch.Tensor:
    """Fill `w` in place by one of the papers' rules (biases are set to 0 by the caller)."""
    fan_in, fan_out = fans(w)
    if method == "he":  # He Eq. 10 (ReLU, a=0) / Eq. 15 (PReLU): 1/2 (1 + a^2) n_l Var[w] = 1
        return w.normal_(0.0, math.sqrt(2.0 / (1.0 + a * a)) / math.sqrt(fan_in))
    if method == "xavier":  # Glorot Eq. 16: W ~ U[-sqrt(6 / (n_j + n_{j+1})), +sqrt(...)]
        bound = math.sqrt(3.0) * math.sqrt(2.0 / (fan_in + fan_out))
        return w.uniform_(-bound, bound)
    if method == "standard":  # Glorot Eq. 1: W ~ U[-1/sqrt(n), 1/sqrt(n)], n = fan-in
        return w.uniform_(-1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in))
    raise ConfigError(f"unknown init '{method}'; use he, xavier or standard")


# --- blocks --------------------------------------------------------------------------------


class PReLU(nn.Module):
    """f(y_i) = max(0, y_i) + a_i min(0, y_i) (He Eq. 1), one learned a_i per channel
    ("channel-wise", Sec. 2.1), a_i = 0.25 at the start. Same parameter name as nn.PReLU."""

    def __init__(self, channels: int, init: float = 0.25):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), init))

    def forward(self, y):  # (B, C) or (B, C, H, W)
        a = self.weight.view(1, -1, *([1] * (y.ndim - 2)))  # broadcast over B, H, W
        return F.relu(y) + a * torch.clamp(y, max=0.0)


def activation(cfg: Config, channels: int) -> nn.Module:
    if cfg.activation == "prelu":
        return PReLU(channels, cfg.prelu_init)
    return nn.ReLU() if cfg.activation == "relu" else nn.Tanh()


class SpatialPyramidPool(nn.Module):
    """Max pooling into n x n bins for each pyramid level n, concatenated (He Sec. 3: "spp",
    after SPP-net): the output size is C * sum(n^2) for any input size."""

    def __init__(self, levels: tuple[int, ...]):
        super().__init__()
        self.levels = levels

    def forward(self, x):  # (B, C, H, W)
        return torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in self.levels], 1)


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 600_000  # Sec. 3.1: ~80 epochs of ImageNet at batch 128
    batch_size: int = 128  # Sec. 3.1
    lr: float = 0.01  # Sec. 3.1: 1e-2, divided by 10 twice
    momentum: float = 0.9  # Sec. 3.1
    weight_decay: float = 5e-4  # Sec. 3.1; not on the PReLU coefficients (Sec. 2.1)
    grad_clip: float | None = None
    data_root: str | None = None  # real data: ImageNet folders (train/, val/) or MNIST's folder
    download: bool = False  # let torchvision download MNIST into data_root
    dataset: Literal["imagenet", "mnist", "digits"] = "imagenet"
    in_channels: int = 3
    image_size: int = 224  # Sec. 3.1: 224x224 crops; the fully connected net's input is flattened
    num_classes: int = 1000
    imagenet_stem: bool = True  # conv1 7x7 stride 2 then a 3x3 stride-3 max pool (Tables 1, 3)
    kernels: tuple[int, ...] = (7, 2, 2)  # conv kernel of each stage; () = fully connected only
    widths: tuple[int, ...] = (64, 128, 256)  # filters of each stage
    layers: tuple[int, ...] = (1, 4, 22)  # conv layers per stage; 2x2 max pool between stages
    spp_levels: tuple[int, ...] = (6, 3, 2, 1)  # Table 1: {6, 3, 2, 1}; Table 3: {7, 3, 2, 1}
    hidden: tuple[int, ...] = (4096, 4096)  # fc1, fc2 (then the K-way classifier)
    dropout: float = 0.5  # Sec. 3.1: on fc1 and fc2
    activation: Literal["relu", "prelu", "tanh"] = "relu"  # Fig. 3 uses ReLU
    prelu_init: float = 0.25  # Sec. 2.1: a_i = 0.25 at the start
    init: Init = "he"  # he: Eq. 10 (Eq. 15 with PReLU); xavier: Glorot Eq. 16; standard: Eq. 1
    control_init: Literal["none", "he", "xavier", "standard"] = "none"  # mini: also train this
    probe_size: int = 512  # training images on which per-layer variances are measured


# --- model ---------------------------------------------------------------------------------


class PlainNet(nn.Module):
    """A plain (no shortcut, no normalisation) net: conv stages, spatial pyramid pooling and fc
    layers (He Tables 1, 3), or with `kernels=()` a fully connected net (Glorot Sec. 2.3).
    `forward(x, responses)` appends every layer's response y_l (before the non-linearity)."""

    def __init__(self, cfg: Config):
        super().__init__()
        if not (len(cfg.kernels) == len(cfg.widths) == len(cfg.layers)):
            raise ConfigError("kernels, widths and layers need one entry per stage")
        self.imagenet_stem = cfg.imagenet_stem and bool(cfg.kernels)
        self.convs, self.conv_acts, self.pool_after = nn.ModuleList(), nn.ModuleList(), set()
        c = cfg.in_channels
        for k, width, n in zip(cfg.kernels, cfg.widths, cfg.layers, strict=True):
            if len(self.convs):
                self.pool_after.add(len(self.convs) - 1)  # 2x2 max pool, stride 2, between stages
            for _ in range(n):
                stride = 2 if (self.imagenet_stem and not len(self.convs)) else 1  # conv1: /2
                pad = k // 2 if stride > 1 else "same"
                self.convs.append(nn.Conv2d(c, width, k, stride, padding=pad))
                self.conv_acts.append(activation(cfg, width))
                c = width
        self.spp = SpatialPyramidPool(cfg.spp_levels) if cfg.kernels else None
        # (B, C * sum n^2) after the pyramid, or the flattened image (B, C * H * W)
        d = c * sum(n * n for n in cfg.spp_levels) if cfg.kernels else \
            cfg.in_channels * cfg.image_size ** 2
        self.fcs, self.fc_acts = nn.ModuleList(), nn.ModuleList()
        for width in cfg.hidden:
            self.fcs.append(nn.Linear(d, width))
            self.fc_acts.append(activation(cfg, width))
            d = width
        self.drop = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(d, cfg.num_classes)  # softmax in the loss
        a = cfg.prelu_init if cfg.activation == "prelu" else 0.0
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init_weight_(m.weight, cfg.init, a)
                nn.init.zeros_(m.bias)

    def forward(self, x, responses: list | None = None):  # (B, C, H, W)
        keep = responses.append if responses is not None else (lambda y: None)
        for i, (conv, act) in enumerate(zip(self.convs, self.conv_acts, strict=True)):
            y = conv(x)  # (B, C_l, H_l, W_l): the response y_l = W_l x_l + b_l (Eq. 6)
            keep(y)
            x = act(y)
            if i == 0 and self.imagenet_stem:
                x = F.max_pool2d(x, 3, 3)  # Table 1 "pool1": 3x3, stride 3
            if i in self.pool_after:
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)  # "pool2" etc.: 2x2, stride 2
        x = self.spp(x) if self.spp is not None else x.flatten(1)  # (B, D)
        for fc, act in zip(self.fcs, self.fc_acts, strict=True):
            y = fc(x)
            keep(y)
            x = self.drop(act(y))
        y = self.classifier(x)  # (B, K)
        keep(y)
        return y


def build_model(cfg: Config) -> PlainNet:
    return PlainNet(cfg)


def weight_layers(model: PlainNet) -> list[nn.Module]:
    return [*model.convs, *model.fcs, model.classifier]


# --- presets -------------------------------------------------------------------------------

_DIGITS = dict(dataset="digits", in_channels=1, image_size=8, num_classes=10, imagenet_stem=False,
               dropout=0.0, weight_decay=0.0)
PRESETS = {
    "paper": Config(),  # Sec. 2.3 / Fig. 3: 27 conv + 3 fc, ReLU: 79,192,296
    "table1": Config(layers=(1, 4, 6), activation="prelu"),  # 14 layers, PReLU: 75,004,200
    "model-a": Config(kernels=(7, 3, 3, 3), widths=(96, 256, 512, 512), layers=(1, 5, 5, 5),
                      spp_levels=(7, 3, 2, 1), activation="prelu"),  # Table 3: 178,032,072
    "mini": Config(**_DIGITS, kernels=(), widths=(), layers=(), hidden=(128,) * 29, steps=400,
                   batch_size=64, lr=0.003, control_init="xavier"),  # 30 layers: 471,946
    "paper-xavier": Config(dataset="mnist", in_channels=1, image_size=28, num_classes=10,
                           kernels=(), widths=(), layers=(), hidden=(1000,) * 5, dropout=0.0,
                           activation="tanh", init="xavier", weight_decay=0.0, momentum=0.0,
                           batch_size=10, lr=0.01, steps=60_000),  # 4,799,010
    "mini-xavier": Config(**{**_DIGITS, "momentum": 0.0}, kernels=(), widths=(), layers=(),
                          hidden=(256,) * 5, activation="tanh", init="xavier",
                          control_init="standard", steps=300, batch_size=32, lr=0.02),  # 282,378
    "tiny": Config(**_DIGITS, kernels=(3,), widths=(4,), layers=(2,), spp_levels=(1,),
                   hidden=(8,), activation="prelu", steps=3, batch_size=16, probe_size=32),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`{init: cfg}` for the preset's init and, with `control_init`, its control (same data,
    steps, optimizer, seed); the name is the init's ("he", "xavier", "standard")."""
    base = dataclasses.replace(cfg, control_init="none")
    if cfg.control_init == "none":
        return {"main": base}
    if cfg.control_init == cfg.init:
        raise ConfigError("control_init must differ from init")
    return {cfg.init: base, cfg.control_init: dataclasses.replace(base, init=cfg.control_init)}


# --- data ----------------------------------------------------------------------------------


def tensor_split(cfg: Config):
    """`(x_train, y_train, x_test, y_test)` standardised: digits (no download) or MNIST."""
    if cfg.dataset == "mnist":
        if cfg.data_root is None:
            raise ConfigError("dataset=mnist needs --set data_root=DIR (MNIST's folder)")
        xtr, ytr = D.real_images("mnist", cfg.data_root, train=True, download=cfg.download)
        xte, yte = D.real_images("mnist", cfg.data_root, train=False, download=cfg.download)
        return D.standardize(xtr, "mnist"), ytr, D.standardize(xte, "mnist"), yte
    xtr, ytr, xte, yte = D.digits(seed=0)
    return D.standardize(xtr, "digits"), ytr, D.standardize(xte, "digits"), yte  # (N, 1, 8, 8)


def build_data(cfg: Config):
    """`(train_loader, eval_data)`; eval_data holds the training set (Fig. 3 plots training
    error) and a fixed probe batch of it for the per-layer statistics."""
    if cfg.dataset == "imagenet":
        if cfg.data_root is None:
            raise ConfigError("the ImageNet presets need --set data_root=DIR (train/ and val/)")
        train, val = D.image_folder_loaders(cfg.data_root, cfg.batch_size, cfg.seed)
        return train, {"test": val}
    xtr, ytr, xte, yte = tensor_split(cfg)
    probe = (xtr[: cfg.probe_size], ytr[: cfg.probe_size])
    return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), \
        {"train": (xtr, ytr), "test": (xte, yte), "probe": probe}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """The class-prior predictor's training cross-entropy (what a net that learned nothing
    scores), and 1-NN / logistic regression on pixels, on the split the variants see."""
    if cfg.dataset != "digits":
        return {}
    xtr, ytr, xte, yte = tensor_split(cfg)
    return B.pixel_baselines(xtr, ytr, xte, yte, class_prior=True)


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """SGD with momentum and weight decay, none on PReLU's a_i (Sec. 2.1, 3.1); lr / 10 at 50%
    and 75% of a paper-scale run (Sec. 3.1: "when the error plateaus"), constant in `mini`."""
    prelu = [p for m in model.modules() if isinstance(m, PReLU) for p in m.parameters()]
    rest = [p for p in model.parameters() if all(p is not q for q in prelu)]
    opt = torch.optim.SGD([{"params": rest, "weight_decay": cfg.weight_decay},
                           {"params": prelu, "weight_decay": 0.0}], lr=cfg.lr,
                          momentum=cfg.momentum)
    drops = [int(cfg.steps * 0.5), int(cfg.steps * 0.75)] if cfg.steps >= 10_000 else []
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, drops, gamma=0.1)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(-1) == y).float().mean()}


def signal_stats(model: PlainNet, x: torch.Tensor, y: torch.Tensor):
    """Per weight layer l: Var[y_l] of the responses (He Eq. 7-10; Glorot Fig. 6) and
    Var[dL/dy_l] of the back-propagated gradients (He Eq. 13-14; Glorot Fig. 7), and the
    tensors themselves (for histograms). The model's parameter gradients are not touched."""
    responses: list[torch.Tensor] = []
    with torch.enable_grad():
        loss = F.cross_entropy(model(x, responses), y)
        grads = torch.autograd.grad(loss, responses)
    ys = [r.detach() for r in responses]
    return [float(r.var()) for r in ys], [float(g.var()) for g in grads], ys, list(grads)


def initial_model(cfg: Config) -> PlainNet:
    """The model exactly as the trainer built it before step 1 (seeded with cfg.seed), without
    disturbing the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return build_model(cfg).eval()


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Training loss/accuracy (Fig. 3), test accuracy/loss, and at initialisation the log10
    variance of each layer's response and back-propagated gradient: `log10_var_y01`...,
    `forward_decades` = log10(Var[y_L] / Var[y_1]) and `backward_decades` =
    log10(Var[dL/dy_1] / Var[dL/dy_L]) (0: preserved; negative: shrinking)."""
    test = D.classification_metrics(model, eval_data["test"])
    out = {"test_accuracy": test["accuracy"], "test_loss": test["loss"]}
    if "train" not in eval_data:
        return out
    train = D.classification_metrics(model, eval_data["train"])
    out |= {"train_accuracy": train["accuracy"], "train_loss": train["loss"]}
    device = next(model.parameters()).device
    x, y = (t.to(device) for t in eval_data["probe"])
    var_y, var_dy, _, _ = signal_stats(initial_model(cfg).to(device), x, y)
    log_y, log_dy = [math.log10(v) for v in var_y], [math.log10(v) for v in var_dy]
    out |= {f"log10_var_y{i + 1:02d}": v for i, v in enumerate(log_y)}
    out |= {f"log10_var_dy{i + 1:02d}": v for i, v in enumerate(log_dy)}
    # the last hidden layer's response (the classifier's is K numbers and carries the softmax)
    return out | {"forward_decades": log_y[-2] - log_y[0],
                  "backward_decades": log_dy[0] - log_dy[-2]}


# --- figures -------------------------------------------------------------------------------


def _series(metrics: dict[str, float], key: str) -> list[float]:
    return [v for k, v in sorted(metrics.items()) if k.startswith(key) and k[len(key):].isdigit()]


def figures(out_dir: Path, cfg: Config, models: dict, metrics: dict) -> list[dict]:
    """Per-layer variance at initialisation of every variant; for `mini` (ReLU) the training
    curves from metrics.jsonl (He Fig. 3), for `mini-xavier` (tanh) histograms of activations and
    back-propagated gradients per layer (Glorot Fig. 6-7)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reproductions.common.runner import training_curve

    if not any("log10_var_y01" in m for m in metrics.values()):
        return []
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for name, m in metrics.items():
        for ax, key in zip(axes, ("log10_var_y", "log10_var_dy"), strict=True):
            ax.plot(range(1, len(_series(m, key)) + 1), _series(m, key), marker=".", label=name)
    axes[0].set(xlabel="layer l", ylabel="log10 Var[y_l]", title="responses at init")
    axes[1].set(xlabel="layer l", ylabel="log10 Var[dL/dy_l]", title="gradients at init")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out_dir / "variance-per-layer.png", dpi=100)
    plt.close(fig)
    out = [{"file": "variance-per-layer.png", "paper_figure": "He Eq. 9-10, 14; Glorot Fig. 6-7",
            "caption": "log10 variance of each layer's response and back-propagated gradient at "
            "initialisation, per init (flat = preserved)."}]
    if cfg.activation != "tanh":
        fig, ax = plt.subplots(figsize=(4, 3))
        for name in metrics:
            rows = training_curve(out_dir.parent, name)
            ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], label=name)
        depth = sum(cfg.layers) + len(cfg.hidden) + 1
        ax.set(xlabel="step", ylabel="training loss", title=f"{depth}-layer ReLU net")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "training-loss.png", dpi=100)
        plt.close(fig)
        return out + [{"file": "training-loss.png", "paper_figure": "He Fig. 3",
                       "caption": "training loss of the same plain ReLU net, He (Eq. 10) vs "
                       "Xavier init, same SGD"}]
    fig, axes = plt.subplots(len(models), 2, figsize=(8, 2.6 * len(models)), squeeze=False)
    x, y = build_data(cfg)[1]["probe"]
    for row, name in enumerate(models):
        _, _, ys, grads = signal_stats(initial_model(dataclasses.replace(cfg, init=name)), x, y)
        for col, (values, what) in enumerate(((ys, "activation tanh(y)"),
                                              (grads, "gradient dL/dy"))):
            for layer, v in enumerate(values[:-1]):
                v = torch.tanh(v) if col == 0 else v
                axes[row, col].hist(v.flatten().numpy(), bins=60, histtype="step", density=True,
                                    label=f"layer {layer + 1}")
            axes[row, col].set(title=f"{name} init: {what}", yscale="log")
            axes[row, col].ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out_dir / "histograms.png", dpi=100)
    plt.close(fig)
    return out + [{"file": "histograms.png", "paper_figure": "Glorot Fig. 6-7",
                   "caption": "normalized histograms of activations and back-propagated gradients "
                   "per hidden layer at initialisation, per init"}]


# --- claims --------------------------------------------------------------------------------


def _v(m, variant, key):
    return m[variant][key]


def _variance_claim(cid, key, paper_init, control, preset, text, paper, source, gap):
    """Decades of variance lost across the layers at init: the paper's init loses at least `gap`
    decades fewer than the control, and at most one decade itself."""
    return Claim(
        id=cid, text=text, paper=paper, source=source, presets=(preset,),
        margins=lambda m: {control: _v(m, paper_init, key) - _v(m, control, key) - gap,
                           "constant variance (ratio 1)": 1.0 - abs(_v(m, paper_init, key))},
        measured=lambda m: f"log10 variance ratio across the hidden layers: {paper_init} "
        f"{_v(m, paper_init, key):+.2f}, {control} {_v(m, control, key):+.2f}",
    )


def _fits(m, v):
    return _v(m, v, "train_loss")


CLAIMS = [
    # --- He et al. 2015 (`mini`) ---
    _variance_claim(
        "he-forward-variance", "forward_decades", "he", "xavier", "mini",
        text="At initialisation of a 30-layer plain ReLU net, Eq. 10 keeps the variance of the "
        "responses within a factor 10 from the first to the last hidden layer, while the "
        "linear-unit rule ('Xavier') loses at least 5 decades more (it halves at every ReLU).",
        paper="Var[y_L] = Var[y_1] prod_l (1/2) n_l Var[w_l] (Eq. 9): Eq. 10 makes the product "
        "1; with n_l Var[w_l] = 1 it is 2^-(L-1)",
        source="Sec. 2.2, Eq. 7-10", gap=5.0),
    _variance_claim(
        "he-backward-variance", "backward_decades", "he", "xavier", "mini",
        text="The back-propagated gradient dL/dy_l keeps its variance from the last hidden layer "
        "down to the first with He init (within a factor 10) and vanishes with Xavier init (at "
        "least 5 decades more).",
        paper="Var[dx_2] = Var[dx_{L+1}] prod_l (1/2) n_hat_l Var[w_l] (Eq. 13); 'we also verify "
        "that its gradients are all diminishing' (Xavier, 30 layers)",
        source="Sec. 2.2, Eq. 13-14; Fig. 3 caption", gap=5.0),
    Claim(
        id="he-deep-relu-trains",
        text="Trained with the same SGD for the same 400 steps, the 30-layer plain ReLU net with "
        "He init ends at least 1.5 nats of training loss below the same net with Xavier init, "
        "which stalls at the class prior's loss, and 1.5 below the class prior itself.",
        paper="30-layer model: 'Our initialization is able to make it converge. But Xavier "
        "completely stalls'",
        source="Fig. 3, Sec. 2.3",
        margins=lambda m: {"xavier": _fits(m, "xavier") - _fits(m, "he") - 1.5,
                           "class prior": _fits(m, "class prior") - _fits(m, "he") - 1.5},
        measured=lambda m: f"training loss: he {_fits(m, 'he'):.3f}, xavier "
        f"{_fits(m, 'xavier'):.3f}, class prior {_fits(m, 'class prior'):.3f}",
    ),
    Claim(
        id="he-beats-pixel-baselines",
        text="Not expected in miniature: after 400 steps the 30-layer He-initialised net does not "
        "reach the test accuracy of 1-NN or logistic regression on the digits' pixels; the paper "
        "makes no accuracy claim for its 30-layer net (deeper was not better on ImageNet).",
        paper="the 30-layer model converges but is not more accurate than shallower ones",
        source="Sec. 2.3",
        margins=lambda m: {b: _v(m, "he", "test_accuracy") - _v(m, b, "test_accuracy")
                           for b in ("1-NN pixels", "logistic regression pixels")},
        measured=lambda m: f"test accuracy: he {_v(m, 'he', 'test_accuracy'):.3f}, 1-NN "
        f"{_v(m, '1-NN pixels', 'test_accuracy'):.3f}, logistic regression "
        f"{_v(m, 'logistic regression pixels', 'test_accuracy'):.3f}",
        expected=False,
    ),
    Claim(
        id="he-30-layer-imagenet",
        text="On ImageNet the 30-layer ReLU net converges with Eq. 10 and stalls with Xavier init.",
        paper="Fig. 3: top-1 error falls with 'ours', stays at chance with 'Xavier'",
        source="Fig. 3",
        needs="preset paper (and --set init=xavier), ImageNet-1k train/val (data_root)",
    ),
    Claim(
        id="prelu-vs-relu",
        text="Channel-wise PReLU lowers the 14-layer model's ImageNet top-1 error by about 1.2 "
        "points at the cost of one parameter per channel.",
        paper="top-1 error 33.82% (ReLU) vs 32.64% (PReLU, channel-wise), 10-view testing",
        source="Table 2",
        needs="preset table1 and table1 with --set activation=relu, ImageNet-1k (data_root)",
    ),
    Claim(
        id="imagenet-top5",
        text="An ensemble of PReLU nets reaches 4.94% top-5 test error on ImageNet 2012.",
        paper="4.94% top-5 test error (26% relative improvement over GoogLeNet's 6.66%)",
        source="Abstract, Table 7",
        needs="presets model-a (and the wider models B, C of Table 3), multi-scale and multi-view "
        "testing, ImageNet-1k (data_root)",
    ),
    # --- Glorot & Bengio 2010 (`mini-xavier`) ---
    _variance_claim(
        "xavier-activations", "forward_decades", "xavier", "standard", "mini-xavier",
        text="In a 5-hidden-layer tanh net at initialisation, the normalized init (Eq. 16) keeps "
        "the variance of the responses within a factor 10 from the first to the last hidden "
        "layer; the standard init (Eq. 1, n Var[W] = 1/3) loses at least one decade more.",
        paper="with standard init the activations' 0-peak increases for higher layers; with "
        "normalized init the histograms stay similar across layers",
        source="Sec. 4.2.2, Fig. 6, Eq. 12", gap=1.0),
    _variance_claim(
        "xavier-gradients", "backward_decades", "xavier", "standard", "mini-xavier",
        text="The back-propagated gradients dCost/ds keep their variance from the top hidden "
        "layer down to the first with normalized init (within a factor 10); with the standard "
        "init they shrink going down by at least one decade more.",
        paper="standard init: back-propagated gradients get smaller going down; normalized: "
        "roughly the same at every layer",
        source="Sec. 4.2.2, Fig. 7, Eq. 13-14", gap=1.0),
    Claim(
        id="xavier-trains-faster",
        text="With the same SGD for the same 300 steps, the normalized init reaches a training "
        "loss at least 0.3 nats below the standard init's and 1.5 below the class prior's.",
        paper="normalized initialization: faster convergence and lower error (e.g. tanh N "
        "1.64% vs tanh 1.76% MNIST test error)",
        source="Sec. 4.2.2, Fig. 11, Table 1",
        presets=("mini-xavier",),
        margins=lambda m: {"standard": _fits(m, "standard") - _fits(m, "xavier") - 0.3,
                           "class prior": _fits(m, "class prior") - _fits(m, "xavier") - 1.5},
        measured=lambda m: f"training loss: normalized {_fits(m, 'xavier'):.3f}, standard "
        f"{_fits(m, 'standard'):.3f}, class prior {_fits(m, 'class prior'):.3f}",
    ),
    Claim(
        id="xavier-test-accuracy",
        text="Not expected in miniature: the normalized-init net's test accuracy beats the "
        "standard init's (by 0.05) but not 1-NN or logistic regression on the pixels, which "
        "300 steps on 1,347 digits do not reach.",
        paper="tanh N 1.64% vs tanh 1.76% MNIST test error; Shapeset-3x2 15.60% vs 27.15%",
        source="Table 1",
        presets=("mini-xavier",),
        margins=lambda m: {"standard": _v(m, "xavier", "test_accuracy")
                           - _v(m, "standard", "test_accuracy") - 0.05,
                           **{b: _v(m, "xavier", "test_accuracy") - _v(m, b, "test_accuracy")
                              for b in ("1-NN pixels", "logistic regression pixels")}},
        measured=lambda m: f"test accuracy: normalized {_v(m, 'xavier', 'test_accuracy'):.3f}, "
        f"standard {_v(m, 'standard', 'test_accuracy'):.3f}, 1-NN "
        f"{_v(m, '1-NN pixels', 'test_accuracy'):.3f}, logistic regression "
        f"{_v(m, 'logistic regression pixels', 'test_accuracy'):.3f}",
        expected=False,
    ),
    Claim(
        id="xavier-mnist",
        text="The 5-hidden-layer, 1000-unit tanh net reaches a lower MNIST test error with the "
        "normalized init than with the standard init.",
        paper="tanh 1.76% vs tanh N 1.64% test error",
        source="Table 1",
        needs="preset paper-xavier (and --set init=standard), MNIST (data_root)",
    ),
]
