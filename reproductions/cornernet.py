"""CornerNet: Detecting Objects as Paired Keypoints (Law & Deng, ECCV 2018).
https://arxiv.org/abs/1808.01244

An object is detected as a pair of keypoints, its box's top-left and bottom-right corners, with
no anchor boxes (Sec. 3.1). For each corner type the network predicts C heatmaps (one per class),
an embedding per location, and an offset per location that restores the precision lost by the
output stride (Sec. 3.2). The heatmaps are trained with a variant of the focal loss whose
penalty for negatives falls off in a Gaussian around each corner (Eq. 1); the embeddings of one
object's two corners are pulled together and those of different objects pushed apart (Sec.
3.3, after associative embedding); the offsets are trained with smooth L1 (Sec. 3.2). Corners
often lie outside the object, so corner pooling (Sec. 3.4, Fig. 6) gives a top-left location
the maximum of a feature over everything to its right plus the maximum of another feature over
everything below it (bottom-right: to the left and above); it sits in the prediction module's
first residual block (Fig. 7). The backbone is a 2-stack hourglass, Hourglass-104 (Sec. 3.5).

CentripetalNet: Pursuing High-quality Keypoint Pairs for Object Detection (Dong et al., CVPR
2020; https://arxiv.org/abs/2003.09119) is served by `paper-centripetal` / `mini-centripetal`:
each corner also predicts a centripetal shift, the log of its distance to the box centre, and a
top-left / bottom-right pair is kept only when both corners, moved by their shifts, land in the
pair's central region (its Sec. 3.2); that replaces the embeddings' test.

Presets: `paper` = CornerNet-Hourglass-104 for COCO (80 classes, 511x511 input, 128x128 output):
the stem, two hourglass modules with channels (256, 384, 384, 384, 512) and 5 strided
reductions, and the prediction modules of both stacks (intermediate supervision, Sec. 3.5):
201,035,212 parameters as built here (Sec. 4.1 states 201M). `mini` (Table 1 in miniature):
generated 64x64 scenes of squares, circles and triangles (`common.detection_data`, drawn here;
no licence issue), a small CornerNet whose backbone is `reproductions.hourglass`'s hourglass
(1 level, 32 features; 16x16 output, stride 4; 132,364 parameters) trained with corner pooling
(`corner-pool`) and, in the same run with the same data and steps, with the pooling layers
replaced by the identity (`no-pool`: the same parameters); mAP@0.5 against the training set's
mean box per class (`reproductions.ssd`). `paper-centripetal` = `paper` plus a centripetal
shift branch per prediction module (203,397,588; computed: no cross-star deformable
convolution, no mask head). `mini-centripetal`: the `mini` net with corner pooling and the
shift branch, trained once on generated crowded scenes (`crowded_shapes`: a row of 2-4 close
shapes of one class) with all losses; its heads are decoded both ways. `tiny`: a smoke test.

Deviations from the paper
- No soft-NMS (Sec. 4.2): the paired detections are reduced by plain per-class NMS at IoU 0.5;
  no multi-scale or flipped testing; a pair whose top-left corner is not above and left of its
  bottom-right corner is rejected.
- The miniature trains with Adam at 2e-3 for 300 steps of 16 images from scratch (the paper:
  Adam, 2.5e-4, 250k iterations at batch 49, Sec. 4.1), one hourglass stack, no augmentation.
- The heatmap logits start at the focal-loss prior p = 0.1 (bias -2.19) so that the first steps
  are not swamped by the negatives; the paper does not say how it initialises them.
- CentripetalNet: the shifts are trained beside CornerNet's embeddings (CentripetalNet drops the
  embeddings) so that both matchings read the same trained heads; the central region is the
  middle 1/mu of the pair's box on each axis with mu = 2.5 and the score is weighted by
  exp(-|dx dy| / central area) of the two predicted centres (our choices of the form and
  constants); no cross-star deformable convolution and no instance mask head.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms

from reproductions import hourglass
from reproductions.common import detection_data
from reproductions.common.claims import Claim
from reproductions.common.detection_data import SHAPES
from reproductions.common.detection_metrics import mean_average_precision

PAPER = "cornernet"


# --- corner pooling (Sec. 3.4) ------------------------------------------------------------------
def corner_pool(f_t: torch.Tensor, f_l: torch.Tensor, corner: str) -> torch.Tensor:
    """Sec. 3.4: top-left: t_ij = max_{i' >= i} f_t[i', j] (the column below), l_ij =
    max_{j' >= j} f_l[i, j'] (the row to the right), output t + l; bottom-right mirrors it
    (above, to the left). Both inputs (B, C, H, W)."""
    if corner == "tl":
        t = f_t.flip(2).cummax(2).values.flip(2)  # running max from the bottom row up
        l = f_l.flip(3).cummax(3).values.flip(3)  # noqa: E741, from the right column leftwards
    else:
        t, l = f_t.cummax(2).values, f_l.cummax(3).values  # noqa: E741
    return t + l


def conv_bn(c_in: int, c_out: int, k: int, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, *([nn.ReLU()] if relu else []))


class CornerPoolModule(nn.Module):
    """Fig. 7: the first residual block of a prediction module with its first convolution
    replaced by corner pooling: two 3x3 conv-BN-ReLU (dim/2 channels: 128 of 256), pool, sum,
    3x3 conv-BN, plus a 1x1 conv-BN shortcut, ReLU, then a 3x3 conv-BN-ReLU. `pool=False` is
    Table 1's control: the same layers with the pooling left out."""

    def __init__(self, dim: int, corner: str, pool: bool = True):
        super().__init__()
        self.corner, self.pool = corner, pool
        self.p1, self.p2 = conv_bn(dim, dim // 2, 3), conv_bn(dim, dim // 2, 3)
        self.p_conv = conv_bn(dim // 2, dim, 3, relu=False)
        self.shortcut = conv_bn(dim, dim, 1, relu=False)
        self.out = conv_bn(dim, dim, 3)

    def forward(self, x):  # (B, dim, H, W)
        a, b = self.p1(x), self.p2(x)  # (B, dim/2, H, W) each
        pooled = corner_pool(a, b, self.corner) if self.pool else a + b
        return self.out(F.relu(self.p_conv(pooled) + self.shortcut(x)))  # (B, dim, H, W)


class PredictionModule(nn.Module):
    """Fig. 7: corner pooling block, then three branches (3x3 conv-ReLU, 1x1 conv): C heatmaps,
    a 1-d embedding (Sec. 3.3), 2 offsets (Sec. 3.2); with `centripetal`, CentripetalNet's
    fourth branch: the 2-d centripetal shift (log of the distance to the box centre)."""

    def __init__(self, dim: int, num_classes: int, corner: str, pool: bool = True,
                 centripetal: bool = False):
        super().__init__()
        self.block = CornerPoolModule(dim, corner, pool)
        branch = lambda n: nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1), nn.ReLU(),  # noqa: E731
                                         nn.Conv2d(dim, n, 1))
        self.heat, self.embed, self.offset = branch(num_classes), branch(1), branch(2)
        self.shift = branch(2) if centripetal else None
        nn.init.constant_(self.heat[-1].bias, -2.19)  # p = 0.1 at the start (see Deviations)

    def forward(self, x) -> dict[str, torch.Tensor]:  # (B, dim, H, W)
        h = self.block(x)
        out = {"heat": self.heat(h), "embed": self.embed(h), "offset": self.offset(h)}
        return out | ({"shift": self.shift(h)} if self.shift is not None else {})


# --- Hourglass-104 (Sec. 3.5) -------------------------------------------------------------------
class Basic(nn.Module):
    """A residual module of Hourglass-104: 3x3 conv-BN-ReLU, 3x3 conv-BN, plus the input (1x1
    conv-BN when the stride or channels change), ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                                  nn.BatchNorm2d(c_out), nn.ReLU(),
                                  nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):  # (B, C_in, H, W)
        return F.relu(self.body(x) + self.skip(x))  # (B, C_out, H/stride, W/stride)


class Hourglass104Module(nn.Module):
    """Sec. 3.5: one hourglass level; strided residual down (no max pooling), 2 residual modules
    on every skip connection and before each nearest-neighbour upsampling, 4 in the middle."""

    def __init__(self, dims: tuple[int, ...], middle: int = 4):
        super().__init__()
        cur, nxt = dims[0], dims[1]
        self.up1 = nn.Sequential(Basic(cur, cur), Basic(cur, cur))
        self.low1 = nn.Sequential(Basic(cur, nxt, 2), Basic(nxt, nxt))
        self.low2 = (Hourglass104Module(dims[1:], middle) if len(dims) > 2
                     else nn.Sequential(*[Basic(nxt, nxt) for _ in range(middle)]))
        self.low3 = nn.Sequential(Basic(nxt, nxt), Basic(nxt, cur))

    def forward(self, x):  # (B, cur, H, W)
        low = self.low3(self.low2(self.low1(x)))  # (B, cur, H/2, W/2)
        return self.up1(x) + F.interpolate(low, scale_factor=2, mode="nearest")


# --- config -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    seed: int = 0
    steps: int = 250_000  # Sec. 4.1
    batch_size: int = 49  # Sec. 4.1
    lr: float = 2.5e-4  # Sec. 4.1: Adam
    data_root: str | None = None  # not read: no COCO loader here (see CLAIMS)
    backbone: str = "hourglass104"  # "hourglass104" (Sec. 3.5) | "mini" (hourglass.py's)
    image_size: int = 511  # Sec. 4.1: 511x511 crops, 128x128 output
    num_classes: int = 80  # COCO
    stacks: int = 2  # Sec. 3.5: two hourglass modules, intermediate supervision
    features: int = 256  # mini: hourglass.py's features (Hourglass-104 is fixed)
    levels: int = 1  # mini: hourglass.py's levels
    corner_pool: bool = True  # Sec. 3.4; False: Table 1's ablation
    compare: bool = False  # mini: train with and without corner pooling in one run
    iou_radius: float = 0.3  # Sec. 3.2: corners within the radius keep IoU >= 0.3
    pull_weight: float = 0.1  # Sec. 4.1: alpha
    push_weight: float = 0.1  # beta
    offset_weight: float = 1.0  # gamma
    top_k: int = 100  # Sec. 4.2: top 100 corners of each type
    embed_threshold: float = 0.5  # Sec. 4.2: pairs further apart in embedding are rejected
    centripetal: bool = False  # CentripetalNet Sec. 3.2: a centripetal shift branch
    shift_weight: float = 1.0  # its smooth L1 loss's weight
    mu: float = 2.5  # the central region: the middle 1/mu of the box on each axis (ours)
    crowded: bool = False  # mini-centripetal: rows of 2-4 touching shapes of one class
    num_train: int = 1000
    num_test: int = 300


# --- model --------------------------------------------------------------------------------------
class CornerNet(nn.Module):
    """Backbone -> per stack a top-left and a bottom-right prediction module (Fig. 4). Returns
    per stack {"tl": {"heat", "embed", "offset"[, "shift"]}, "br": {...}}, each (B, ., h, w)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        if cfg.backbone == "hourglass104":  # Sec. 3.5
            dim = 256
            self.stem = nn.Sequential(nn.Conv2d(3, 128, 7, 2, 3, bias=False), nn.BatchNorm2d(128),
                                      nn.ReLU(), Basic(128, dim, 2))  # 511 -> 128
            self.hourglasses = nn.ModuleList([
                Hourglass104Module((256, 256, 384, 384, 384, 512)) for _ in range(cfg.stacks)])
            self.after = nn.ModuleList([conv_bn(dim, dim, 3) for _ in range(cfg.stacks)])
            # between stacks: 1x1 conv-BN of the first's input and output, added, ReLU, residual
            self.merge_in = nn.ModuleList([conv_bn(dim, dim, 1, False) for _ in range(cfg.stacks - 1)])
            self.merge_out = nn.ModuleList([conv_bn(dim, dim, 1, False) for _ in range(cfg.stacks - 1)])
            self.merge = nn.ModuleList([Basic(dim, dim) for _ in range(cfg.stacks - 1)])
        else:  # mini: hourglass.py's blocks, 64 -> 16
            dim = cfg.features
            self.stem = nn.Sequential(nn.Conv2d(3, dim, 3, 2, 1), nn.BatchNorm2d(dim), nn.ReLU(),
                                      hourglass.Residual(dim, dim), nn.MaxPool2d(2))
            self.hourglasses = nn.ModuleList([hourglass.Hourglass(cfg.levels, dim)
                                              for _ in range(cfg.stacks)])
            self.after = nn.ModuleList([conv_bn(dim, dim, 3) for _ in range(cfg.stacks)])
            self.merge_in = self.merge_out = self.merge = nn.ModuleList(
                [nn.Identity() for _ in range(cfg.stacks - 1)])
        self.tl, self.br = (nn.ModuleList([
            PredictionModule(dim, cfg.num_classes, k, cfg.corner_pool, cfg.centripetal)
            for _ in range(cfg.stacks)]) for k in ("tl", "br"))

    def forward(self, x):  # (B, 3, H, W)
        h = self.stem(x)  # (B, dim, H/4, W/4)
        outs = []
        for i, hg in enumerate(self.hourglasses):
            feat = self.after[i](hg(h))  # (B, dim, h, w)
            outs.append({"tl": self.tl[i](feat), "br": self.br[i](feat)})
            if i < len(self.merge):
                h = self.merge[i](F.relu(self.merge_in[i](h) + self.merge_out[i](feat)))
        return outs

    @torch.no_grad()
    def detect(self, x: torch.Tensor, match: str = "embedding") -> list[dict[str, torch.Tensor]]:
        return decode(self(x)[-1], self.cfg, match)


def build_model(cfg: Config) -> CornerNet:
    return CornerNet(cfg)


# --- presets ------------------------------------------------------------------------------------
_MINI = Config(backbone="mini", image_size=64, num_classes=len(SHAPES), stacks=1, features=32,
               levels=1, steps=300, batch_size=16, lr=2e-3, top_k=20)
PRESETS: dict[str, Config] = {
    "paper": Config(),  # CornerNet-Hourglass-104: 201,035,212 (Sec. 4.1: 201M)
    "mini": dataclasses.replace(_MINI, compare=True),
    "tiny": dataclasses.replace(_MINI, features=8, steps=3, batch_size=4, num_train=8,
                                num_test=4),
    # CentripetalNet without its cross-star deformable convolution and mask head (see CLAIMS)
    "paper-centripetal": Config(centripetal=True),  # 203,397,588 (computed)
    "mini-centripetal": dataclasses.replace(_MINI, centripetal=True, crowded=True),
}


def variants(cfg: Config) -> dict[str, Config]:
    base = dataclasses.replace(cfg, compare=False)
    if cfg.compare:
        return {"corner-pool": base, "no-pool": dataclasses.replace(base, corner_pool=False)}
    return {"main": base}


# --- data ---------------------------------------------------------------------------------------
def crowded_shapes(n: int, image_size: int, seed: int) -> list[tuple[torch.Tensor, dict]]:
    """`n` images (3, S, S), centred pixels, each with one row or column of 2-4 shapes of one
    class and one size, 1-3 px apart (same-class objects close together, where corner pairs
    of neighbours form plausible boxes), in `detection_data.draw_shapes`'s target format."""
    from PIL import Image, ImageDraw
    from torchvision.transforms.functional import pil_to_tensor

    gen = torch.Generator().manual_seed(seed)
    randint = lambda lo, hi: int(torch.randint(lo, hi + 1, (), generator=gen))  # noqa: E731
    out = []
    for _ in range(n):
        img = Image.new("RGB", (image_size,) * 2, tuple(randint(0, 90) for _ in range(3)))
        draw = ImageDraw.Draw(img)
        k, kind, gap = randint(2, 4), randint(0, len(SHAPES) - 1), randint(1, 3)
        side = randint(image_size * 3 // 16, min(image_size * 5 // 16, (image_size - 2) // k - gap))
        length = k * side + (k - 1) * gap
        along, across = randint(0, image_size - length), randint(0, image_size - side)
        vertical = randint(0, 1) == 1
        colour = tuple(randint(120, 255) for _ in range(3))
        boxes = []
        for i in range(k):
            a, b = along + i * (side + gap), across + randint(-1, 1) * (0 if i == 0 else 1)
            b = min(max(b, 0), image_size - side)
            x0, y0 = (b, a) if vertical else (a, b)
            detection_data.draw_shape(draw, kind, x0, y0, side, colour)
            boxes.append([x0 / image_size, y0 / image_size, (x0 + side) / image_size,
                          (y0 + side) / image_size])
        x = pil_to_tensor(img).float() / 255
        x = (x + 0.03 * torch.randn(x.shape, generator=gen)).clamp(0, 1) - 0.5
        out.append((x, {"boxes": torch.tensor(boxes), "labels": torch.full((k,), kind + 1)}))
    return out


def build_data(cfg: Config):
    """Generated shapes (centred pixels) as SSD's and YOLO's miniatures, or `crowded_shapes`;
    the test images use another seed."""
    if cfg.data_root is not None:
        from reproductions.common.config import ConfigError

        raise ConfigError("cornernet reads generated shapes only (data_root must stay unset)")
    draw = crowded_shapes if cfg.crowded else detection_data.centred_shapes
    train = draw(cfg.num_train, cfg.image_size, cfg.seed)
    test = draw(cfg.num_test, cfg.image_size, cfg.seed + 10_000)
    return detection_data.loaders(train, test, cfg.batch_size, cfg.seed)


def gaussian_radius(w: float, h: float, iou: float) -> float:
    """Sec. 3.2: the largest r such that corners moved by up to r (both out, both in, or the
    box shifted) keep IoU >= `iou` with the w x h box; from the three quadratics."""
    s, p = w + h, w * h
    r_out = (-2 * s + math.sqrt(4 * s * s - 16 * p * (1 - 1 / iou))) / 8  # (w+2r)(h+2r) = p/iou
    r_in = (2 * s - math.sqrt(max(4 * s * s - 16 * p * (1 - iou), 0.0))) / 8  # (w-2r)(h-2r) = iou p
    r_shift = (s - math.sqrt(max(s * s - 4 * p * (1 - 2 * iou / (1 + iou)), 0.0))) / 2
    return max(0.0, min(r_out, r_in, r_shift))


def corner_targets(targets: list[dict], cfg: Config, size: int, device) -> dict[str, dict]:
    """Per corner type ("tl", "br"): "heat" (B, C, s, s) unnormalised Gaussians, sigma = radius
    / 3, exactly 1 at the corner (Sec. 3.2); per object its "cell" (image, y, x), "offset"
    o_k = x_k / n - floor(x_k / n) (Sec. 3.2) and "shift", CentripetalNet's log distance from
    the corner to the box centre (Sec. 3.2 of that paper), all in output-map units."""
    b, c = len(targets), cfg.num_classes
    ys = torch.arange(size, dtype=torch.float32, device=device).view(size, 1)
    xs = torch.arange(size, dtype=torch.float32, device=device).view(1, size)
    out = {}
    for k, (ix, iy) in (("tl", (0, 1)), ("br", (2, 3))):
        heat = torch.zeros(b, c, size, size, device=device)
        cells, offsets, shifts = [], [], []
        for n, t in enumerate(targets):
            for box, label in zip(t["boxes"].tolist(), t["labels"].tolist(), strict=True):
                x, y = box[ix] * size, box[iy] * size  # the corner in output-map units
                cx, cy = min(int(x), size - 1), min(int(y), size - 1)
                r = gaussian_radius((box[2] - box[0]) * size, (box[3] - box[1]) * size,
                                    cfg.iou_radius)
                sigma = max(r, 1e-3) / 3
                g = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2))
                heat[n, label - 1] = torch.maximum(heat[n, label - 1], g)
                cells.append((n, cy, cx))
                offsets.append((x - cx, y - cy))
                half = ((box[2] - box[0]) * size / 2, (box[3] - box[1]) * size / 2)
                shifts.append((math.log(max(half[0], 1e-3)), math.log(max(half[1], 1e-3))))
        out[k] = {"heat": heat, "cell": torch.tensor(cells, dtype=torch.long, device=device).view(-1, 3),
                  "offset": torch.tensor(offsets, device=device).view(-1, 2),
                  "shift": torch.tensor(shifts, device=device).view(-1, 2)}
    return out


# --- losses (Sec. 3.2-3.3) ----------------------------------------------------------------------
def focal_heatmap_loss(logits: torch.Tensor, gt: torch.Tensor, alpha: float = 2.0,
                       beta: float = 4.0) -> torch.Tensor:
    """Eq. 1: -1/N sum { (1-p)^a log p at y = 1; (1-y)^b p^a log(1-p) elsewhere }, N objects."""
    p = torch.sigmoid(logits)
    pos = gt.eq(1).float()
    pos_loss = (1 - p) ** alpha * F.logsigmoid(logits) * pos
    neg_loss = (1 - gt) ** beta * p ** alpha * F.logsigmoid(-logits) * (1 - pos)
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


def pull_push_loss(e_tl: torch.Tensor, e_br: torch.Tensor, image: torch.Tensor,
                   delta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sec. 3.3, per image, averaged over images: pull = 1/N sum_k (e_tk - e_k)^2 + (e_bk -
    e_k)^2, push = 1/(N(N-1)) sum_k sum_{j != k} max(0, delta - |e_k - e_j|), e_k the mean."""
    pulls, pushes = [], []
    for n in image.unique():
        t, b = e_tl[image == n], e_br[image == n]  # (N,)
        e = (t + b) / 2
        pulls.append(((t - e) ** 2 + (b - e) ** 2).mean())
        if len(e) > 1:
            gap = F.relu(delta - (e[:, None] - e[None, :]).abs())  # (N, N)
            pushes.append((gap.sum() - gap.diagonal().sum()) / (len(e) * (len(e) - 1)))
    zero = e_tl.sum() * 0
    return (torch.stack(pulls).mean() if pulls else zero,
            torch.stack(pushes).mean() if pushes else zero)


def _at_corners(out: dict, gt: dict, k: str, m: str) -> torch.Tensor:
    """(N, .): map `m` of corner type `k` read at the objects' corner cells."""
    cell = gt[k]["cell"]  # (N, 3): image, y, x
    return out[k][m][cell[:, 0], :, cell[:, 1], cell[:, 2]]


def cornernet_loss(outs, targets, cfg: Config) -> dict[str, torch.Tensor]:
    """L = L_det + alpha L_pull + beta L_push + gamma L_off (Sec. 4.1), summed over the stacks
    (intermediate supervision, Sec. 3.5); with `centripetal`, + the shifts' smooth L1."""
    size = outs[0]["tl"]["heat"].shape[-1]
    gt = corner_targets(targets, cfg, size, outs[0]["tl"]["heat"].device)
    image, n_obj = gt["tl"]["cell"][:, 0], max(len(gt["tl"]["cell"]), 1)
    total, parts = 0.0, {}
    for out in outs:
        at = functools.partial(_at_corners, out, gt)
        l_det = focal_heatmap_loss(out["tl"]["heat"], gt["tl"]["heat"]) + \
            focal_heatmap_loss(out["br"]["heat"], gt["br"]["heat"])
        l_pull, l_push = pull_push_loss(at("tl", "embed")[:, 0], at("br", "embed")[:, 0], image)
        l_off = sum(F.smooth_l1_loss(at(k, "offset"), gt[k]["offset"], reduction="sum") / n_obj
                    for k in ("tl", "br"))
        total = total + l_det + cfg.pull_weight * l_pull + cfg.push_weight * l_push + \
            cfg.offset_weight * l_off
        parts = {"loss_det": l_det, "loss_pull": l_pull, "loss_push": l_push, "loss_off": l_off}
        if cfg.centripetal:
            l_cs = sum(F.smooth_l1_loss(at(k, "shift"), gt[k]["shift"], reduction="sum") / n_obj
                       for k in ("tl", "br"))
            total = total + cfg.shift_weight * l_cs
            parts["loss_shift"] = l_cs
    return {"loss": total, **{k: v.detach() for k, v in parts.items()}}


def training_step(model: CornerNet, batch) -> dict:
    images, targets = batch
    return cornernet_loss(model(images), targets, model.cfg)


# --- decoding (Sec. 4.2) ------------------------------------------------------------------------
def top_corners(heat: torch.Tensor, k: int):
    """3x3 max-pooling NMS on sigmoid heatmaps (B, C, h, w), then the top k over classes and
    places: scores, classes, ys, xs, each (B, k)."""
    p = torch.sigmoid(heat)
    p = p * (F.max_pool2d(p, 3, 1, 1) == p)
    b, c, h, w = p.shape
    scores, idx = p.view(b, -1).topk(min(k, c * h * w))
    return scores, idx // (h * w), (idx % (h * w)) // w, idx % w


def decode(out: dict, cfg: Config, match: str = "embedding") -> list[dict[str, torch.Tensor]]:
    """Sec. 4.2: the top-k corners of each type moved by their offsets; every (tl, br) pair of
    one class with tl above-left of br, then either CornerNet's test (embeddings at most
    `embed_threshold` apart, score = mean corner score) or CentripetalNet's (Sec. 3.2 there:
    both corners moved by their centripetal shifts land in the pair's central region, score
    weighted by how close the two centres are); per-class NMS (see Deviations). Boxes (x1,
    y1, x2, y2) in [0, 1]."""
    size = out["tl"]["heat"].shape[-1]
    results = []
    for n in range(len(out["tl"]["heat"])):
        c = {}
        for k in ("tl", "br"):
            s, cls, y, x = (v[0] for v in top_corners(out[k]["heat"][n:n + 1], cfg.top_k))
            o = out[k]["offset"][n, :, y, x]  # (2, k)
            c[k] = {"s": s, "c": cls, "x": x + o[0], "y": y + o[1],
                    "e": out[k]["embed"][n, 0, y, x]}
            if match == "centripetal":  # the centre each corner points at (Sec. 3.2 there)
                d = out[k]["shift"][n, :, y, x].exp() * (1 if k == "tl" else -1)
                c[k] |= {"gx": c[k]["x"] + d[0], "gy": c[k]["y"] + d[1]}
        results.append(_pair_corners(c["tl"], c["br"], cfg, match, size))
    return results


def _pair_corners(tl: dict, br: dict, cfg: Config, match: str, size: int) -> dict:
    """One image's detections from its top-k corners of each type (see `decode`)."""
    pair = lambda f: (tl[f][:, None], br[f][None, :])  # noqa: E731 (k, 1), (1, k)
    (x1, x2), (y1, y2) = pair("x"), pair("y")
    ok = (tl["c"][:, None] == br["c"][None]) & (x1 < x2) & (y1 < y2)  # (k, k)
    score = (tl["s"][:, None] + br["s"][None]) / 2
    if match == "embedding":
        ok &= (tl["e"][:, None] - br["e"][None]).abs() <= cfg.embed_threshold
    else:  # central region: the middle 1/mu of the box on each axis
        hw, hh = (x2 - x1) / (2 * cfg.mu), (y2 - y1) / (2 * cfg.mu)
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        (gx1, gx2), (gy1, gy2) = pair("gx"), pair("gy")
        inside = lambda gx, gy: ((gx - mx).abs() <= hw) & ((gy - my).abs() <= hh)  # noqa: E731
        ok &= inside(gx1, gy1) & inside(gx2, gy2)
        score = score * torch.exp(-(gx2 - gx1).abs() * (gy2 - gy1).abs()
                                  / (4 * hw * hh).clamp(min=1e-6))
    i, j = ok.nonzero(as_tuple=True)
    boxes = (torch.stack([x1[i, 0], y1[i, 0], x2[0, j], y2[0, j]], 1) / size).clamp(0, 1)
    keep = batched_nms(boxes, score[i, j], tl["c"][i], 0.5)[:100]
    return {"boxes": boxes[keep], "scores": score[i, j][keep], "labels": tl["c"][i][keep] + 1}


# --- evaluation ---------------------------------------------------------------------------------
def false_pairs(dets, truths) -> float:
    """Among each image's top-N detections (N = its objects), the share matching no object at
    IoU 0.5: pairs of corners from different objects (or misplaced corners)."""
    from torchvision.ops import box_iou

    bad = total = 0
    for d, t in zip(dets, truths, strict=True):
        top = d["boxes"][d["scores"].argsort(descending=True)[:len(t["boxes"])]]
        if len(top):
            bad += int((box_iou(top, t["boxes"]).amax(1) <= 0.5).sum())
        total += len(t["boxes"])
    return bad / max(total, 1)


def detector_metrics(detect, batches, num_classes: int, tag: str = "") -> dict[str, float]:
    dets, truths = [], []
    for images, targets in batches:
        dets += [{k: v.cpu() for k, v in d.items()} for d in detect(images)]
        truths += targets
    return {f"map50{tag}": mean_average_precision(dets, truths, num_classes + 1)["map"],
            f"map75{tag}": mean_average_precision(dets, truths, num_classes + 1, 0.75)["map"],
            f"false_pairs{tag}": false_pairs(dets, truths)}


@torch.no_grad()
def evaluate(model: CornerNet, eval_data, cfg: Config) -> dict[str, float]:
    out = detector_metrics(model.detect, eval_data, cfg.num_classes)
    if cfg.centripetal:  # the same trained heads, CentripetalNet's matching
        out |= detector_metrics(lambda x: model.detect(x, "centripetal"), eval_data,
                                cfg.num_classes, "_centripetal")
    return out


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """`reproductions.ssd`'s mean box per class (where shapes usually are, class prior scores)."""
    from reproductions.ssd import mean_box_detector

    train, test = build_data(cfg)
    return {"mean box per class": detector_metrics(mean_box_detector(train.dataset), test,
                                                   cfg.num_classes)}


# --- claims -------------------------------------------------------------------------------------
def _maps(m) -> str:
    return ", ".join(f"{v} {m[v]['map50']:.3f} (AP75 {m[v]['map75']:.3f})"
                     for v in ("corner-pool", "no-pool", "mean box per class") if v in m)


CLAIMS = [
    Claim("coco", "CornerNet (Hourglass-104) reaches 42.2 AP on COCO test-dev with multi-scale "
          "testing, above all one-stage detectors of its time.", "42.2 AP (multi-scale)",
          "Table 6", needs="preset paper trained on COCO (no COCO loader here)"),
    Claim("corner-pooling-coco", "Corner pooling improves AP on COCO validation by about 2 "
          "points, most on large objects.", "38.4 AP with, 36.5 without", "Table 1",
          needs="preset paper with and without corner pooling on COCO"),
    Claim("corner-pooling", "Not expected in miniature: the same small CornerNet trained with "
          "corner pooling reaches an mAP@0.5 at least 0.02 higher than with the pooling layers "
          "left out (same parameters, data and steps; Table 1 in miniature). It held on 3 of 5 "
          "seeds (pooling 0.757-0.819, without 0.716-0.835; seed 1 reversed, 0.757 vs 0.835): "
          "after 300 steps from scratch the run-to-run spread of mAP (about 0.1) is larger than "
          "the pooling's effect, and the hourglass already sees the whole 16x16 map, so the "
          "circles' and triangles' off-shape corners can be found without pooling.",
          "+2.0 AP on COCO val (38.4 vs 36.5)", "Table 1, Sec. 3.4",
          margins=lambda m: {"no-pool": m["corner-pool"]["map50"] - m["no-pool"]["map50"] - 0.02},
          measured=_maps, expected=False),
    Claim("beats-mean-box", "Both CornerNets (with and without corner pooling) beat the training "
          "set's mean box per class by at least 0.2 mAP@0.5.",
          "anchor-free corner pairs detect objects", "Sec. 3.1",
          margins=lambda m: {"mean box per class": min(m[v]["map50"] for v in ("corner-pool",
                                                                                "no-pool"))
                             - m["mean box per class"]["map50"] - 0.2},  # the weaker net's
          measured=_maps),
    Claim("architecture", "Hourglass-104 (two hourglass modules, 5 strided reductions with 256, "
          "384, 384, 384, 512 channels) with both stacks' prediction modules has 201M "
          "parameters.", "201M; measured here 201,035,212", "Sec. 3.5, Sec. 4.1"),
]


def _centripetal(m) -> str:
    x, b = m["main"], m["mean box per class"]
    return (f"centripetal mAP@0.5 {x['map50_centripetal']:.3f} (false pairs "
            f"{x['false_pairs_centripetal']:.3f}), embedding {x['map50']:.3f} ("
            f"{x['false_pairs']:.3f}), mean box {b['map50']:.3f}")


CENTRIPETAL_CLAIMS = [
    Claim("centripetalnet-coco", "CentripetalNet (Hourglass-104, centripetal shift, cross-star "
          "deformable convolution) reaches 48.0 AP on COCO test-dev.", "48.0 AP", "abstract",
          needs="paper-centripetal plus the cross-star deformable convolution (not built), COCO",
          presets=("mini-centripetal",)),
    Claim("centripetal-matching", "On crowded scenes (rows of 2-4 close shapes of one class), "
          "the same trained heads paired by centripetal shifts reach an mAP@0.5 at least 0.05 "
          "higher, and put at least 0.05 fewer wrong boxes among each image's top-N, than paired "
          "by CornerNet's 1-d embeddings: corners of neighbours form plausible boxes whose "
          "embeddings the push loss separates only partly.",
          "centripetal shift yields higher-quality corner pairs than associative embedding",
          "Sec. 3.2", presets=("mini-centripetal",),
          margins=lambda m: {"embedding": m["main"]["map50_centripetal"] - m["main"]["map50"]
                             - 0.05,
                             "embedding (false pairs)": m["main"]["false_pairs"]
                             - m["main"]["false_pairs_centripetal"] - 0.05},
          measured=_centripetal),
    Claim("centripetal-beats-mean-box", "With centripetal matching the detector beats the "
          "training set's mean box per class by at least 0.2 mAP@0.5 on the crowded scenes.",
          "anchor-free corner pairs detect objects", "Sec. 3.2", presets=("mini-centripetal",),
          margins=lambda m: {"mean box per class": m["main"]["map50_centripetal"]
                             - m["mean box per class"]["map50"] - 0.2},
          measured=_centripetal),
]
CLAIMS = CLAIMS + CENTRIPETAL_CLAIMS
