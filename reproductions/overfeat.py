"""OverFeat: Integrated Recognition, Localization and Detection using Convolutional Networks
(Sermanet, Eigen, Zhang, Mathieu, Fergus, LeCun, 2013).

https://arxiv.org/abs/1312.6229

The "fast" model (Table 1): five convolutional layers (96 11x11 filters at stride 4, 256 5x5,
512, 1024 and 1024 3x3), non-overlapping 2x2 max pooling after layers 1, 2 and 5, no contrast
normalisation, ReLUs, and three fully connected layers (3072, 4096, 1000) with dropout 0.5 on the
6th and 7th; 231x231 input. Sec. 3.5: a fully connected layer is a convolution whose kernel
covers its whole input (and 1x1 kernels after it), so the same weights applied to a larger image
give a map of class scores, one per window, in one pass that shares the computation of
overlapping windows: sliding-window evaluation for free (Fig. 5). Sec. 3.3 takes the spatial
maximum of each class's map.

Presets: `paper` = the fast model (145,920,872 parameters; Table 3 says 145M); `mini`: a fast-
model-shaped net (3 convolutions without padding, 2x2 pools, 3 "FC" layers, total stride 4) trained
on 4,000 MNIST-5k digits (28x28, each shifted at random by up to 2 pixels); evaluated (1) on the 1,000 test digits each pasted at a
random place in a 44x44 canvas, by dense evaluation (the class-score map of the whole canvas,
spatial max per class) against the single centred 28x28 view (the control) and against 1-NN and
logistic regression fitted on training digits pasted the same way; (2) by the maximum absolute
difference between the dense map and the net applied to every 28x28 crop at stride 4 (Fig. 5's
equality); (3) by the time of one dense pass over 92x92 canvases against the same net run on all
their crops in one batch (measured in the same run); `tiny`.

Deviations from the paper:
- `mini`'s convolutions have no zero padding: with the fast model's padding in layers 3-5 the
  dense map equals per-window evaluation only for windows whose padded border lies inside the
  image content (interior windows see their neighbours' pixels where a lone crop sees zeros).
- `mini` evaluates one scale and one offset grid (the paper: 6 scales, 3x3 pooling offsets in
  the accurate model, horizontal flips); the net is trained with Adam, not SGD with momentum 0.6
  and the (30, 50, 60, 70, 80)-epoch halvings (Sec. 3.1); its random crops are shifts of up to
  2 pixels (half the dense map's stride of 4).
- The spatial max of raw class scores is fragile here: the net never saw background or partial
  digits, so a window on part of a digit can win (seed 2: dense 0.67 against 0.80-0.82 for the
  other seeds; training longer makes it worse). `dense-beats-centre-view` held for 4 of 5 seeds.
- Weights are initialised N(0, 0.01) as in Sec. 3.1 only with `paper_init=True`; by default
  He-normal, with which the small net trains in the CPU minute.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "overfeat"


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 850_000  # Sec. 3.1: ~90 epochs of 1.2M images at batch 128
    batch_size: int = 128  # Sec. 3.1
    lr: float = 5e-2  # Sec. 3.1 (SGD); mini uses Adam (Deviations)
    momentum: float = 0.6  # Sec. 3.1
    weight_decay: float = 1e-5  # Sec. 3.1
    data_root: str | None = None  # real data: an ImageNet-style folder (train/, val/)
    dataset: Literal["imagenet", "mnist5k"] = "imagenet"
    optimizer: Literal["sgd", "adam"] = "sgd"
    image_size: int = 231  # Table 1: the fast model's input (training crops)
    in_channels: int = 3
    num_classes: int = 1000
    channels: tuple[int, ...] = (96, 256, 512, 1024, 1024)  # Table 1, layers 1-5
    kernels: tuple[int, ...] = (11, 5, 3, 3, 3)
    strides: tuple[int, ...] = (4, 1, 1, 1, 1)
    paddings: tuple[int, ...] = (0, 0, 1, 1, 1)
    pools: tuple[int, ...] = (2, 2, 0, 0, 2)  # 2x2 max pooling at stride 2 after layer i (0: none)
    fc_dims: tuple[int, ...] = (3072, 4096)  # Table 1, layers 6-7; layer 8 = num_classes
    dropout: float = 0.5  # Sec. 3.1: on layers 6 and 7
    paper_init: bool = False  # Sec. 3.1: N(0, 1e-2); default He-normal (Deviations)
    shift: int = 0  # mini: random translations of up to this many pixels (Sec. 3.1's random crops)
    canvas: int = 0  # mini: test digits pasted at random in canvas x canvas images (0: none)
    timing_canvas: int = 0  # mini: time dense vs per-window evaluation on images of this side
    timing_images: int = 4  # how many such images, evaluated together


# --- model ---------------------------------------------------------------------------------


class OverFeat(nn.Module):
    """`features` (conv layers 1-5 with ReLU and max pooling) and `classifier` (layers 6-8 as
    `nn.Linear`). `forward` takes an image of the training size and returns (B, K);
    `dense` takes any larger image and returns the (B, K, H', W') map of Sec. 3.5."""

    def __init__(self, cfg: Config):
        super().__init__()
        layers: list[nn.Module] = []
        c = (cfg.in_channels, *cfg.channels)
        for i in range(len(cfg.channels)):
            layers += [nn.Conv2d(c[i], c[i + 1], cfg.kernels[i], cfg.strides[i], cfg.paddings[i]),
                       nn.ReLU(inplace=True)]
            if cfg.pools[i]:
                layers.append(nn.MaxPool2d(cfg.pools[i]))  # non-overlapping (Table 1)
        self.features = nn.Sequential(*layers)
        self.side = self.feature_side(cfg)  # 6 in the fast model
        dims = (cfg.channels[-1] * self.side ** 2, *cfg.fc_dims)
        fc: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            fc += [nn.Linear(a, b), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout)]
        self.classifier = nn.Sequential(*fc, nn.Linear(dims[-1], cfg.num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                if cfg.paper_init:
                    nn.init.normal_(m.weight, 0.0, 1e-2)
                else:
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    @staticmethod
    def feature_side(cfg: Config) -> int:
        side = cfg.image_size
        for k, s, p, pool in zip(cfg.kernels, cfg.strides, cfg.paddings, cfg.pools, strict=True):
            side = (side + 2 * p - k) // s + 1
            side = side // pool if pool else side
        if side < 1:
            raise ConfigError(f"image_size {cfg.image_size} is too small for these layers")
        return side

    def forward(self, x):  # (B, C, H, W) at the training size
        return self.classifier(self.features(x).flatten(1))  # (B, K)

    def dense(self, x):  # (B, C, H, W), H, W >= the training size
        """Sec. 3.5: layer 6 as a convolution with its weights viewed as (3072, C5, s, s), layers
        7-8 as 1x1 convolutions: every output pixel is the classifier of one window."""
        x = self.features(x)  # (B, C5, h, w)
        linears = [m for m in self.classifier if isinstance(m, nn.Linear)]
        for i, fc in enumerate(linears):
            kernel = self.side if i == 0 else 1
            w = fc.weight.view(fc.out_features, -1, kernel, kernel)  # (out, in, k, k)
            x = F.conv2d(x, w, fc.bias)  # (B, out, h - k + 1, w - k + 1)
            if i < len(linears) - 1:
                x = F.relu(x)  # dropout is the identity in evaluation
        return x  # (B, K, H', W')

    def stride(self, cfg: Config) -> int:
        """Pixels between neighbouring windows of the dense map (32 in the fast model)."""
        out = 1
        for s, pool in zip(cfg.strides, cfg.pools, strict=True):
            out *= s * (pool or 1)
        return out


def build_model(cfg: Config) -> OverFeat:
    return OverFeat(cfg)


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # the fast model: 145,920,872 parameters (Table 3: 145M)
    "mini": Config(
        dataset="mnist5k", steps=600, batch_size=64, lr=2e-3, optimizer="adam", image_size=28,
        in_channels=1, num_classes=10, channels=(32, 64, 64), kernels=(5, 3, 3),
        strides=(1, 1, 1), paddings=(0, 0, 0), pools=(2, 0, 2), fc_dims=(128, 128), shift=2,
        canvas=44, timing_canvas=92),
    "tiny": Config(
        dataset="mnist5k", steps=3, batch_size=16, optimizer="adam", image_size=28,
        in_channels=1, num_classes=10, channels=(4, 8), kernels=(5, 3), strides=(1, 1),
        paddings=(0, 0), pools=(2, 2), fc_dims=(16,), canvas=36, timing_canvas=36,
        timing_images=1),
}


# --- data ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def mnist() -> D.Split:
    xtr, ytr, xte, yte = D.mnist_5k(seed=0)
    return D.standardize(xtr, "mnist"), ytr, D.standardize(xte, "mnist"), yte


def paste(x: torch.Tensor, side: int, seed: int) -> torch.Tensor:
    """Each (1, 28, 28) digit of `x` pasted at a random place in a `side` x `side` canvas of
    background (the standardised 0), the places drawn from `seed`."""
    n, c, h, w = x.shape
    g = torch.Generator().manual_seed(seed)
    ys, xs = (torch.randint(0, side - h + 1, (n,), generator=g) for _ in range(2))
    out = torch.full((n, c, side, side), float(x.amin()))  # (N, C, side, side)
    for i in range(n):
        out[i, :, ys[i]:ys[i] + h, xs[i]:xs[i] + w] = x[i]
    return out


def random_shift(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Each image moved by its own random offset of up to `pad` pixels (background fills in):
    Sec. 3.1 trains on random crops, so the net sees its object off-centre."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad,) * 4, value=float(x.amin()))  # (B, C, H + 2p, W + 2p)
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n)).tolist()
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def canvas_split(cfg: Config):
    """Training and test digits each pasted at random into `canvas`-sided images (fixed places:
    the same for every seed, net and baseline)."""
    xtr, ytr, xte, yte = mnist()
    return paste(xtr, cfg.canvas, 1), ytr, paste(xte, cfg.canvas, 2), yte


def build_data(cfg: Config):
    if cfg.dataset == "imagenet":
        if cfg.data_root is None:
            raise ConfigError("the ImageNet presets need --set data_root=DIR holding train/ and val/")
        train, val = D.image_folder_loaders(cfg.data_root, cfg.batch_size, cfg.seed, cfg.image_size)
        return train, {"test": val}
    xtr, ytr, xte, yte = mnist()
    data = {"test": (xte, yte)}
    if cfg.canvas:
        _, _, cte, _ = canvas_split(cfg)
        data["canvas"] = (cte, yte)
    augment = functools.partial(random_shift, pad=cfg.shift) if cfg.shift else None
    return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed, augment=augment), data


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on the canvases' pixels, fitted on the training digits pasted
    the same way (the test digits' distribution)."""
    if not cfg.canvas:
        return {}
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    xtr, ytr, xte, yte = canvas_split(cfg)
    with threadpool_limits(torch.get_num_threads()):
        return {"1-NN pixels": {"canvas_accuracy": B.nearest_neighbour_accuracy(xtr, ytr, xte, yte)},
                "logistic regression pixels": {
                    "canvas_accuracy": B.logistic_regression_accuracy(xtr, ytr, xte, yte)}}


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """Sec. 3.1: SGD, momentum 0.6, weight decay 1e-5; or Adam for the miniature."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr), None
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    return opt, None


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "error": (logits.argmax(-1) != y).float().mean()}


def windows(x: torch.Tensor, size: int, step: int) -> torch.Tensor:
    """Every size x size crop of `x` at offsets 0, step, 2 step, ...: (B * h' * w', C, size, size),
    row-major per image (the dense map's order)."""
    b, c = x.shape[:2]
    crops = x.unfold(2, size, step).unfold(3, size, step)  # (B, C, h', w', size, size)
    return crops.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, size, size)


def best_of(fn, repeats: int = 3) -> float:
    """The fastest of `repeats` timed calls (a loaded machine only ever adds time)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def evaluate(model: OverFeat, eval_data, cfg: Config) -> dict[str, float]:
    if cfg.dataset == "imagenet":
        return {"test_accuracy": D.classification_metrics(model, eval_data["test"])["accuracy"]}
    device = next(model.parameters()).device
    out = {"test_accuracy": D.classification_metrics(model, eval_data["test"])["accuracy"]}
    if "canvas" not in eval_data:
        return out
    x, y = (t.to(device) for t in eval_data["canvas"])
    s, step = cfg.image_size, model.stride(cfg)
    dense = model.dense(x)  # (N, K, h', w')
    off = (cfg.canvas - s) // 2
    centre = model(x[:, :, off:off + s, off:off + s])  # (N, K): the single centred view
    out["canvas_accuracy"] = (dense.amax((2, 3)).argmax(1) == y).float().mean().item()  # Sec. 3.3
    out["centre_view_accuracy"] = (centre.argmax(1) == y).float().mean().item()
    # Fig. 5: the dense map is the net applied to every window
    few = x[:16]
    per_window = model(windows(few, s, step))  # (16 * h' * w', K)
    dense_few = model.dense(few).permute(0, 2, 3, 1).reshape(-1, cfg.num_classes)
    out["dense_vs_windows_max_abs_diff"] = (dense_few - per_window).abs().max().item()
    out["output_scale"] = per_window.abs().max().item()
    # Sec. 3.5: one pass over big images against a batch of all their windows
    g = torch.Generator().manual_seed(0)
    big = torch.randn(cfg.timing_images, cfg.in_channels, cfg.timing_canvas, cfg.timing_canvas,
                      generator=g).to(device)
    crops = windows(big, s, step)
    out["windows_timed"] = float(len(crops))
    out["dense_seconds"] = best_of(lambda: model.dense(big))
    out["windows_seconds"] = best_of(lambda: model(crops))
    out["dense_speedup"] = out["windows_seconds"] / out["dense_seconds"]
    return out


# --- claims --------------------------------------------------------------------------------

EQUAL_TO = 1e-4  # max |dense - per window| on logits of size ~10-50: float32 rounding
SPEEDUP = 3.0  # dense at least 3x faster than the batch of 289 windows per 92x92 image


def _m(m, k):
    return m["main"][k]


CLAIMS = [
    Claim(
        id="dense-equals-sliding-windows",
        text="Applying the net's convolutions (layers 6-8 as convolutions) once to a larger image "
        "gives exactly the class scores of the net applied to every window at the net's stride: "
        f"max absolute difference below {EQUAL_TO:g}.",
        paper="applying a ConvNet to a larger image in a sliding fashion: the fully connected "
        "layers become 1x1 convolutions and the output is a spatial map of class predictions",
        source="Sec. 3.5, Fig. 5",
        margins=lambda m: {"sliding windows": EQUAL_TO - _m(m, "dense_vs_windows_max_abs_diff")},
        measured=lambda m: f"max |dense - per window| {_m(m, 'dense_vs_windows_max_abs_diff'):.2g} "
        f"on outputs up to {_m(m, 'output_scale'):.1f}",
    ),
    Claim(
        id="dense-is-faster",
        text=f"One dense pass over 92x92 images is at least {SPEEDUP:g}x faster than running the "
        "net on all their 289 overlapping 28x28 windows in one batch (timed in the same run, "
        "best of 3): the overlapping windows share their computation.",
        paper="ConvNets are inherently efficient when applied in a sliding fashion because they "
        "naturally share computations common to overlapping regions",
        source="Sec. 3.5",
        margins=lambda m: {"sliding windows": _m(m, "dense_speedup") - SPEEDUP},
        measured=lambda m: f"dense {_m(m, 'dense_seconds') * 1e3:.1f} ms, windows "
        f"{_m(m, 'windows_seconds') * 1e3:.1f} ms ({_m(m, 'windows_timed'):.0f} windows): "
        f"{_m(m, 'dense_speedup'):.1f}x",
    ),
    Claim(
        id="dense-beats-centre-view",
        text="Test digits pasted at random places in 44x44 images: the net trained on 28x28 "
        "digits (shifted by up to 2 pixels), evaluated densely (spatial max of each class's "
        "score map), is more accurate than the same net on the single centred view by at least 0.2, and than 1-NN "
        "and logistic regression fitted on training digits pasted the same way by at least 0.05.",
        paper="dense multi-scale evaluation beats the single centred view and 10-view "
        "averaging: top-5 error 16.39% (1 fast model, 6 scales) vs 18.2% (Krizhevsky et al.)",
        source="Sec. 3.3, Table 2",
        margins=lambda m: {"centre view": _m(m, "canvas_accuracy") - _m(m, "centre_view_accuracy") - 0.2,
                           **{b: _m(m, "canvas_accuracy") - m[b]["canvas_accuracy"] - 0.05
                              for b in ("1-NN pixels", "logistic regression pixels")}},
        measured=lambda m: f"dense {_m(m, 'canvas_accuracy'):.3f}, centred view "
        f"{_m(m, 'centre_view_accuracy'):.3f}, 1-NN {m['1-NN pixels']['canvas_accuracy']:.3f}, "
        f"logistic regression {m['logistic regression pixels']['canvas_accuracy']:.3f} "
        f"(centred test digits: {_m(m, 'test_accuracy'):.3f})",
    ),
    Claim(
        id="imagenet-error",
        text="The fast model, evaluated densely at 6 scales, has 16.39% top-5 error on the "
        "ILSVRC-2012 validation set.",
        paper="1 fast model, scales 1-6, fine stride: top-1 38.57%, top-5 16.39%",
        source="Table 2",
        needs="preset paper trained on ImageNet-1k (data_root), with multi-scale dense evaluation",
    ),
]
