"""SSD: Single Shot MultiBox Detector (Liu et al., ECCV 2016). https://arxiv.org/abs/1512.02325

One network predicts, at every location of several feature maps, class scores and box offsets
for a fixed set of default boxes of different scales and aspect ratios (Fig. 2). Training
matches default boxes to ground truth (Sec. 2.2), minimises confidence + alpha * localisation
loss over the matched boxes (Eq. 1-3) with hard negative mining at 3:1, and inference keeps the
confident boxes after per-class non-maximum suppression (Sec. 3).

`paper` is SSD300 on VGG-16 for VOC (21 classes): conv4_3 (L2-normalised, Sec. 3.1), fc7 and the
extra layers conv8_2..conv11_2 predict 4/6/6/6/4/4 boxes per location on 38/19/10/5/3/1 maps,
8,732 default boxes, 26,285,486 parameters (= torchvision's `ssd300_vgg16(num_classes=21)`).

Deviations from the paper
- Default boxes follow the authors' released SSD300 (and torchvision): scales 0.07..1.05 and
  centres at (i + 0.5) * step / 300 with steps 8..300, not Eq. 4's 0.2..0.9 and (i + 0.5)/|f_k|;
  `steps_px=None` and `scales` from `eq4_scales` give the paper's formulas.
- Offsets are encoded with the authors' variances (0.1 for centres, 0.2 for sizes), i.e. Eq. 2
  divided by (0.1, 0.1, 0.2, 0.2).
- No ImageNet pre-training (nothing is downloaded) and, for real data, only horizontal flips:
  the paper's patch-sampling augmentation is worth 8.8 mAP (Table 2).
- `mini`: a small convolutional backbone (with BatchNorm) on generated 64x64 images of shapes,
  four maps (8/4/2/1), 340 default boxes, Adam; the matching, loss, hard negative mining and NMS
  are the paper's. Both datasets (shapes, VOC) are read by `common.detection_data`. Its
  `baselines` are two trivial detectors on the same test images (mean box per class; bright
  regions with the class prior), which the mini-map claim must beat.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms, box_convert, box_iou

from reproductions.common import detection_data
from reproductions.common.claims import Claim, PaperNumber
from reproductions.common.detection_data import SHAPES, VOC_CLASSES
from reproductions.common.detection_metrics import evaluate_detector
from reproductions.common.trainer import sgd_with_steps

PAPER = "ssd"
VARIANCES = (0.1, 0.2)  # authors' code: centre and size offsets are divided by these


# --- default boxes, matching, loss --------------------------------------------------------------
def eq4_scales(m: int, s_min: float = 0.2, s_max: float = 0.9) -> tuple[float, ...]:
    """Eq. 4: s_k = s_min + (s_max - s_min)(k - 1)/(m - 1), k = 1..m, plus s_{m+1} = 1 for s'_m."""
    return tuple(round(s_min + (s_max - s_min) * k / (m - 1), 4) for k in range(m)) + (1.0,)


def box_shapes(scales, aspect_ratios) -> list[list[tuple[float, float]]]:
    """Per map k, the (w, h) of its default boxes (Sec. 2.2, "Choosing scales and aspect ratios").

    (s_k, s_k), (s'_k, s'_k) with s'_k = sqrt(s_k s_{k+1}), then for each ratio a in the map's
    list, (s_k sqrt(a), s_k / sqrt(a)) and its transpose (ratio 1/a).
    """
    shapes = []
    for k, ratios in enumerate(aspect_ratios):
        s, s_next = scales[k], math.sqrt(scales[k] * scales[k + 1])
        wh = [(s, s), (s_next, s_next)]
        for a in ratios:
            wh += [(s * math.sqrt(a), s / math.sqrt(a)), (s / math.sqrt(a), s * math.sqrt(a))]
        shapes.append(wh)
    return shapes


def default_boxes(map_sizes, shapes, image_size: int, steps_px=None) -> torch.Tensor:
    """(N, 4) default boxes (cx, cy, w, h) in [0, 1], map by map, location-major, shape-minor.

    Centre of cell (i, j) on map k: ((j + 0.5) / f_k, (i + 0.5) / f_k), f_k = image_size / step_k
    with the authors' steps, else f_k = the map size (Sec. 2.2). Sizes are clipped to [0, 1].
    """
    boxes = []
    for k, (size, wh) in enumerate(zip(map_sizes, shapes, strict=True)):
        f_k = image_size / steps_px[k] if steps_px else size
        centres = (torch.arange(size, dtype=torch.float32) + 0.5) / f_k
        cy, cx = torch.meshgrid(centres, centres, indexing="ij")
        cxcy = torch.stack([cx.flatten(), cy.flatten()], 1)  # (f*f, 2)
        wh_t = torch.tensor(wh, dtype=torch.float32).clamp(0, 1)  # (A, 2)
        grid = torch.cat([cxcy[:, None].expand(-1, len(wh), 2),
                          wh_t[None].expand(len(cxcy), -1, 2)], 2)  # (f*f, A, 4)
        boxes.append(grid.reshape(-1, 4))
    return torch.cat(boxes)


def encode(boxes_xyxy: torch.Tensor, defaults: torch.Tensor) -> torch.Tensor:
    """Eq. 2 (with variances): ((g_cx - d_cx) / d_w / 0.1, ..., log(g_w / d_w) / 0.2, ...)."""
    g = box_convert(boxes_xyxy, "xyxy", "cxcywh")
    centre = (g[:, :2] - defaults[:, :2]) / defaults[:, 2:] / VARIANCES[0]
    size = torch.log(g[:, 2:] / defaults[:, 2:]) / VARIANCES[1]
    return torch.cat([centre, size], 1)


def decode(offsets: torch.Tensor, defaults: torch.Tensor) -> torch.Tensor:
    """Inverse of `encode`: (..., N, 4) offsets -> (..., N, 4) boxes (x1, y1, x2, y2)."""
    centre = defaults[..., :2] + offsets[..., :2] * VARIANCES[0] * defaults[..., 2:]
    size = defaults[..., 2:] * torch.exp(offsets[..., 2:] * VARIANCES[1])
    return box_convert(torch.cat([centre, size], -1), "cxcywh", "xyxy")


def match(gt_boxes: torch.Tensor, gt_labels: torch.Tensor, defaults: torch.Tensor,
          threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Sec. 2.2, matching strategy: (labels (N,), matched boxes (N, 4)); label 0 = background.

    Each ground-truth box gets the default box of best jaccard overlap, and every default box
    whose best overlap with any ground truth is > `threshold` is matched to that ground truth.
    """
    defaults_xyxy = box_convert(defaults, "cxcywh", "xyxy")
    if len(gt_boxes) == 0:  # all background; the boxes are placeholders that encode to 0
        return gt_labels.new_zeros(len(defaults)), defaults_xyxy
    iou = box_iou(gt_boxes, defaults_xyxy)  # (G, N)
    best_iou, best_gt = iou.max(0)  # for each default box, its best ground truth
    best_default = iou.argmax(1)  # (G,): each ground truth's best default box
    best_gt[best_default] = torch.arange(len(gt_boxes), device=gt_boxes.device)
    best_iou[best_default] = 2.0  # always matched
    labels = torch.where(best_iou > threshold, gt_labels[best_gt], torch.zeros_like(best_gt))
    return labels, gt_boxes[best_gt]


def hard_negatives(conf_loss: torch.Tensor, positive: torch.Tensor, ratio: float) -> torch.Tensor:
    """Sec. 2.2, hard negative mining: per image, the `ratio` x #positives negatives with the
    highest confidence loss. (B, N) losses and positive mask -> (B, N) negative mask."""
    loss = conf_loss.detach().masked_fill(positive, -math.inf)  # rank negatives only
    rank = loss.argsort(1, descending=True).argsort(1)  # 0 = hardest
    n_neg = (ratio * positive.sum(1, keepdim=True)).clamp(max=positive.shape[1])
    return (rank < n_neg) & ~positive


def multibox_loss(loc, conf, target_loc, target_labels, alpha: float = 1.0,
                  neg_pos_ratio: float | None = 3.0) -> tuple[torch.Tensor, ...]:
    """Eq. 1: L = (L_conf + alpha L_loc) / N, N = #matched default boxes (L = 0 when N = 0).

    L_loc (Eq. 2): smooth L1 over the positives' offsets. L_conf (Eq. 3): softmax cross-entropy
    over the positives and the negatives: the hard ones at `neg_pos_ratio`:1, or all of them
    when `neg_pos_ratio` is None. Shapes: loc (B, N, 4), conf (B, N, K), labels (B, N).
    """
    positive = target_labels > 0
    n = positive.sum()
    ce = F.cross_entropy(conf.flatten(0, 1).float(), target_labels.flatten(),
                         reduction="none").view_as(target_labels)  # (B, N)
    negative = ~positive if neg_pos_ratio is None else hard_negatives(ce, positive, neg_pos_ratio)
    l_conf = ce[positive].sum() + ce[negative].sum()
    l_loc = F.smooth_l1_loss(loc[positive].float(), target_loc[positive], reduction="sum")
    scale = (n > 0).float() / n.clamp(min=1)
    return (l_conf + alpha * l_loc) * scale, l_conf * scale, l_loc * scale


# --- blocks -------------------------------------------------------------------------------------
class L2Norm(nn.Module):
    """Sec. 3.1 (ParseNet): each location's channel vector scaled to unit norm, then by a learned
    per-channel scale initialised to 20."""

    def __init__(self, channels: int, scale: float = 20.0):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight.view(1, -1, 1, 1) * F.normalize(x, dim=1)  # (B, C, H, W)


def _convs(widths, c_in: int, ceil_last_pool: bool = False) -> list[nn.Module]:
    """VGG convolutions: an int is a 3x3 conv + ReLU, "M" a 2x2 max-pool."""
    layers: list[nn.Module] = []
    for w in widths:
        if w == "M":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=ceil_last_pool))
        else:
            layers += [nn.Conv2d(c_in, w, 3, padding=1), nn.ReLU(True)]
            c_in = w
    return layers


def vgg16_stages() -> tuple[nn.Module, list[nn.Module], list[int]]:
    """SSD300's VGG-16 (Sec. 3): (up to conv4_3, [fc7, conv8_2, .., conv11_2] stages, channels).

    pool3 rounds up (75 -> 38), pool5 becomes 3x3 stride 1, fc6/fc7 become an atrous 3x3
    (dilation 6) and a 1x1 convolution; the extra layers follow Fig. 2.
    """
    conv4_3 = nn.Sequential(*_convs([64, 64, "M", 128, 128, "M", 256, 256, 256], 3),
                            nn.MaxPool2d(2, 2, ceil_mode=True), *_convs([512, 512, 512], 256))
    fc7 = nn.Sequential(nn.MaxPool2d(2, 2), *_convs([512, 512, 512], 512),
                        nn.MaxPool2d(3, 1, padding=1),  # pool5: 3x3-s1
                        nn.Conv2d(512, 1024, 3, padding=6, dilation=6), nn.ReLU(True),  # fc6
                        nn.Conv2d(1024, 1024, 1), nn.ReLU(True))  # fc7, (B, 1024, 19, 19)

    def extra(c_in, mid, out, stride, pad):  # 1x1 reduce, then 3x3
        return nn.Sequential(nn.Conv2d(c_in, mid, 1), nn.ReLU(True),
                             nn.Conv2d(mid, out, 3, stride, pad), nn.ReLU(True))

    extras = [extra(1024, 256, 512, 2, 1),  # conv8_2: (B, 512, 10, 10)
              extra(512, 128, 256, 2, 1),  # conv9_2: (B, 256, 5, 5)
              extra(256, 128, 256, 1, 0),  # conv10_2: (B, 256, 3, 3)
              extra(256, 128, 256, 1, 0)]  # conv11_2: (B, 256, 1, 1)
    for conv in (c for c in [*conv4_3, *fc7[:-4]] if isinstance(c, nn.Conv2d)):
        nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")  # as torchvision
        nn.init.zeros_(conv.bias)
    for m in [fc7[-4:], *extras]:
        for conv in (c for c in m.modules() if isinstance(c, nn.Conv2d)):
            nn.init.xavier_uniform_(conv.weight)  # Sec. 3.1: "xavier" for the new layers
            nn.init.zeros_(conv.bias)
    return conv4_3, [fc7, *extras], [512, 1024, 512, 256, 256, 256]


def small_stages(width: int) -> tuple[nn.Module, list[nn.Module], list[int]]:
    """The miniature's backbone: 64x64 -> maps of 8, 4, 2, 1 (stride-2 3x3 convs), with BN."""

    def block(c_in, c_out, stride):
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                             nn.BatchNorm2d(c_out), nn.ReLU(True))

    w = width
    first = nn.Sequential(block(3, w // 4, 2), block(w // 4, w // 2, 2), block(w // 2, w, 2),
                          block(w, w, 1))  # (B, w, 8, 8)
    stages = [nn.Sequential(block(w, w, 2)), nn.Sequential(block(w, w, 2)),
              nn.Sequential(block(w, w, 2))]  # 4x4, 2x2, 1x1
    return first, stages, [w] * 4


# --- config -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    seed: int = 0
    steps: int = 60_000  # Sec. 3.1: 40k iterations at 1e-3, then 10k at 1e-4 and 10k at 1e-5
    batch_size: int = 32  # Sec. 3
    lr: float = 1e-3  # Sec. 3
    lr_milestones: tuple[int, ...] = (40_000, 50_000)  # Sec. 3.1: lr x 0.1 at each
    optimizer: Literal["sgd", "adam"] = "sgd"  # Sec. 3: SGD, momentum 0.9, weight decay 5e-4
    weight_decay: float = 5e-4  # Sec. 3
    data_root: str | None = None  # folder holding VOCdevkit/VOC<year>; None = generated shapes
    voc_year: str = "2007"  # VOCdevkit/VOC2007 (Table 1); "2012" for the 07+12 union's other half
    train_split: str = "trainval"  # Table 1, "07": VOC2007 trainval
    test_split: str = "test"  # Table 1: VOC2007 test
    backbone: Literal["vgg16", "small"] = "vgg16"
    width: int = 64  # channels of the small backbone
    image_size: int = 300  # SSD300
    num_classes: int = 21  # 20 VOC classes + background
    scales: tuple[float, ...] = (0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05)  # s_1..s_m, s_{m+1}
    aspect_ratios: tuple[tuple[int, ...], ...] = ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,))  # 4/6/6/6/4/4
    steps_px: tuple[int, ...] | None = (8, 16, 32, 64, 100, 300)  # authors' box centres; None: Sec. 2.2
    multi_scale: bool = True  # False: predict from one map only, all box shapes stacked (Table 3)
    single_map: int = 1  # the map kept when multi_scale is False (conv7 / fc7 in Table 3)
    iou_threshold: float = 0.5  # Sec. 2.2 matching
    alpha: float = 1.0  # Eq. 1, "set to 1 by cross validation"
    hard_negative_mining: bool = True  # Sec. 2.2; False: every negative enters L_conf
    neg_pos_ratio: float = 3.0  # Sec. 2.2: at most 3:1
    score_threshold: float = 0.01  # Sec. 3 inference: confidence filter
    nms_threshold: float = 0.45  # Sec. 3 inference: per-class NMS jaccard overlap
    max_detections: int = 200  # Sec. 3 inference: top 200 per image
    num_train: int = 2000  # generated training images (mini)
    num_test: int = 300  # generated test images (mini)
    ablations: bool = False  # also train the variants the claims compare (no HNM, single scale)


# --- model --------------------------------------------------------------------------------------
class SSD(nn.Module):
    """Backbone stages -> source maps -> 3x3 conv heads for box offsets and class scores."""

    def __init__(self, cfg: Config):
        super().__init__()
        first, stages, channels = vgg16_stages() if cfg.backbone == "vgg16" else \
            small_stages(cfg.width)
        shapes = box_shapes(cfg.scales, cfg.aspect_ratios)
        sources = list(range(len(channels))) if cfg.multi_scale else [cfg.single_map]
        if not cfg.multi_scale:  # Table 3: the other maps' boxes stacked on the remaining one
            shapes = [[wh for per_map in shapes for wh in per_map]]
        self.first = first
        self.l2norm = L2Norm(channels[0]) if 0 in sources else None  # conv4_3 (Sec. 3.1)
        self.stages = nn.ModuleList(stages[: max(sources)])  # nothing after the last source map
        self.sources = sources
        self.shapes = shapes
        self.num_classes = cfg.num_classes
        self.cfg = cfg
        self.loc = nn.ModuleList(nn.Conv2d(channels[s], len(wh) * 4, 3, padding=1)
                                 for s, wh in zip(sources, shapes, strict=True))
        self.conf = nn.ModuleList(nn.Conv2d(channels[s], len(wh) * cfg.num_classes, 3, padding=1)
                                  for s, wh in zip(sources, shapes, strict=True))
        for conv in [*self.loc, *self.conf]:
            nn.init.xavier_uniform_(conv.weight)
            nn.init.zeros_(conv.bias)
        self._defaults: dict[tuple[int, ...], torch.Tensor] = {}

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.first(x)
        maps = [self.l2norm(x) if self.l2norm is not None else x]
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return [maps[s] for s in self.sources]

    def default_boxes(self, map_sizes: tuple[int, ...], device) -> torch.Tensor:
        if map_sizes not in self._defaults:
            steps = self.cfg.steps_px and [self.cfg.steps_px[s] for s in self.sources]
            self._defaults[map_sizes] = default_boxes(map_sizes, self.shapes, self.cfg.image_size,
                                                      steps)
        return self._defaults[map_sizes].to(device)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 3, S, S) -> offsets (B, N, 4), class logits (B, N, K), default boxes (N, 4)."""
        maps = self.feature_maps(x)
        b = x.shape[0]
        loc = torch.cat([head(m).permute(0, 2, 3, 1).reshape(b, -1, 4)  # (B, H*W*A, 4)
                         for head, m in zip(self.loc, maps, strict=True)], 1)
        conf = torch.cat([head(m).permute(0, 2, 3, 1).reshape(b, -1, self.num_classes)
                          for head, m in zip(self.conf, maps, strict=True)], 1)  # (B, N, K)
        return loc, conf, self.default_boxes(tuple(m.shape[-1] for m in maps), x.device)

    @torch.no_grad()
    def detect(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """(B, 3, S, S) -> one dict of detections per image (see `postprocess`)."""
        loc, conf, defaults = self(x)
        return postprocess(loc, conf, defaults, self.cfg)


def postprocess(loc, conf, defaults, cfg: Config) -> list[dict[str, torch.Tensor]]:
    """Sec. 3 inference: scores > 0.01, per-class NMS at jaccard 0.45, the top 200 per image.

    One dict per image: boxes (M, 4) as (x1, y1, x2, y2) in [0, 1], scores (M,), labels (M,).
    """
    boxes = decode(loc.float(), defaults).clamp(0, 1)  # (B, N, 4)
    probs = conf.float().softmax(-1)[..., 1:]  # (B, N, K-1), without the background
    out = []
    for b in range(len(loc)):
        anchor, cls = torch.nonzero(probs[b] > cfg.score_threshold, as_tuple=True)
        scores = probs[b, anchor, cls]
        keep = batched_nms(boxes[b, anchor], scores, cls, cfg.nms_threshold)[: cfg.max_detections]
        out.append({"boxes": boxes[b, anchor[keep]], "scores": scores[keep],
                    "labels": cls[keep] + 1})
    return out


PRESETS: dict[str, Config] = {
    # SSD300 for VOC: 8,732 default boxes, 26,285,486 parameters (torchvision: the same)
    "paper": Config(),
    # generated 64x64 shapes; 4 boxes on maps 8/4/2/1 = 340 default boxes; + the two ablations
    "mini": Config(backbone="small", width=64, image_size=64, num_classes=len(SHAPES) + 1,
                   scales=eq4_scales(4), aspect_ratios=((2,),) * 4, steps_px=None,
                   optimizer="adam", lr=2e-3, weight_decay=0.0, steps=300, lr_milestones=(225,),
                   batch_size=32, ablations=True),
    "tiny": Config(backbone="small", width=16, image_size=64, num_classes=len(SHAPES) + 1,
                   scales=eq4_scales(4), aspect_ratios=((2,),) * 4, steps_px=None,
                   optimizer="adam", weight_decay=0.0, steps=3, lr_milestones=(), batch_size=8,
                   num_train=16, num_test=8, ablations=True),
}


def build_model(cfg: Config) -> SSD:
    return SSD(cfg)


def build_optimizer(model: SSD, cfg: Config):
    """Sec. 3: SGD (momentum 0.9, weight decay 5e-4), lr x 0.1 at each milestone."""
    return sgd_with_steps(model, cfg)


def variants(cfg: Config) -> dict[str, Config]:
    """`main`; with `ablations`: without hard negative mining, and from a single feature map."""
    if not cfg.ablations:
        return {"main": cfg}
    base = dataclasses.replace(cfg, ablations=False)
    return {"main": base,
            "no_hard_negatives": dataclasses.replace(base, hard_negative_mining=False),
            "single_scale": dataclasses.replace(base, multi_scale=False)}


# --- data ---------------------------------------------------------------------------------------
def build_data(cfg: Config):
    """(training batches, test batches); each batch is (images (B, 3, S, S), [target dict])."""
    if cfg.data_root is None:  # centred pixels; the test images come from another seed
        train = detection_data.centred_shapes(cfg.num_train, cfg.image_size, cfg.seed)
        test = detection_data.centred_shapes(cfg.num_test, cfg.image_size, cfg.seed + 10_000)
    else:
        train = detection_data.VOCBoxes(cfg.data_root, cfg.voc_year, cfg.train_split,
                                        cfg.image_size, train=True)
        test = detection_data.VOCBoxes(cfg.data_root, cfg.voc_year, cfg.test_split,
                                       cfg.image_size, train=False)
    return detection_data.loaders(train, test, cfg.batch_size, cfg.seed)


# --- trivial baselines (mini) -------------------------------------------------------------------
BRIGHT = (90 + 120) / 2 / 255 - 0.5  # draw_shapes: background channels <= 90, shapes >= 120; centred


def _class_prior(train) -> tuple[torch.Tensor, torch.Tensor]:
    """The training boxes' labels (C,) and each label's share of them (C,)."""
    labels = torch.cat([t["labels"] for _, t in train])
    classes = labels.unique()
    return classes, torch.stack([(labels == c).float().mean() for c in classes])


def mean_box_detector(train):
    """Every image gets, for each class, the training set's mean box of that class, scored by the
    class's share of the training boxes: where shapes usually are, without looking."""
    boxes = torch.cat([t["boxes"] for _, t in train])  # (G, 4)
    labels = torch.cat([t["labels"] for _, t in train])
    classes, prior = _class_prior(train)
    mean = torch.stack([boxes[labels == c].mean(0) for c in classes])  # (C, 4)
    return lambda images: [{"boxes": mean, "scores": prior, "labels": classes} for _ in images]


def colour_threshold_detector(train, min_pixels: int = 4):
    """Boxes around the connected regions brighter than any background (the generated shapes
    stand out by colour), each given every class at the class's training share: localisation
    for free, classification from the prior only."""
    from scipy import ndimage

    classes, prior = _class_prior(train)

    def detect(images: torch.Tensor) -> list[dict[str, torch.Tensor]]:  # (B, 3, S, S) centred
        out = []
        for img in images:
            regions, _ = ndimage.label((img.mean(0) > BRIGHT).numpy())
            size = img.shape[-1]
            boxes = torch.tensor([[sx.start, sy.start, sx.stop, sy.stop]
                                  for sy, sx in ndimage.find_objects(regions)
                                  if (sy.stop - sy.start) * (sx.stop - sx.start) >= min_pixels],
                                 dtype=torch.float32).view(-1, 4) / size  # (M, 4) in [0, 1]
            out.append({"boxes": boxes.repeat_interleave(len(classes), 0),
                        "scores": prior.repeat(len(boxes)), "labels": classes.repeat(len(boxes))})
        return out

    return detect


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """mAP@0.5 of the two trivial detectors above on the generated test images the variants see
    (none on VOC: its claims quote the paper)."""
    if cfg.data_root is not None:
        return {}
    train_batches, test_batches = build_data(cfg)
    train = train_batches.dataset
    return {name: {"map50": evaluate_detector(detect, test_batches, cfg.num_classes, SHAPES,
                                              "cpu")["map50"]}
            for name, detect in (("mean box per class", mean_box_detector(train)),
                                 ("colour threshold", colour_threshold_detector(train)))}


# --- step and evaluation ------------------------------------------------------------------------
def training_step(model: SSD, batch) -> dict:
    """Match (Sec. 2.2), encode (Eq. 2), and the multibox loss with hard negatives (Eq. 1)."""
    images, targets = batch
    loc, conf, defaults = model(images)  # (B, N, 4), (B, N, K), (N, 4)
    matched = [match(t["boxes"], t["labels"], defaults, model.cfg.iou_threshold) for t in targets]
    labels = torch.stack([m[0] for m in matched])  # (B, N)
    target_loc = torch.stack([encode(m[1], defaults) for m in matched])  # (B, N, 4)
    ratio = model.cfg.neg_pos_ratio if model.cfg.hard_negative_mining else None
    loss, l_conf, l_loc = multibox_loss(loc, conf, target_loc, labels, model.cfg.alpha, ratio)
    return {"loss": loss, "loss_conf": l_conf.detach(), "loss_loc": l_loc.detach(),
            "positives": (labels > 0).sum(1).float().mean()}


# `python -m reproductions evaluate ssd`: the module's own evaluate, whose `map50_voc07` is the
# VOC2007 11-point mAP the paper's tables report (the authors' evaluation scripts)
EVAL_PROTOCOL = "voc07-11-point"


@torch.no_grad()
def evaluate(model: SSD, eval_data, cfg: Config) -> dict[str, float]:
    """mAP@0.5 (VOC, all-point interpolation; and VOC2007's 11-point mAP, `map50_voc07`) and the
    AP of each class on the test batches."""
    names = VOC_CLASSES if cfg.data_root is not None else SHAPES
    return evaluate_detector(model.detect, eval_data, cfg.num_classes, names,
                             next(model.parameters()).device)

# --- claims -------------------------------------------------------------------------------------
def _maps(m) -> str:
    return ", ".join(f"{v} {m[v]['map50']:.3f}" for v in ("main", "no_hard_negatives",
                                                          "single_scale") if v in m)


CLAIMS = [
    Claim("voc2007", "SSD300 trained on VOC2007 trainval is more accurate than Fast R-CNN on "
          "VOC2007 test, in a single network at 46 FPS.",
          "mAP 68.0 (07), 74.3 (07+12); Fast R-CNN 66.9 / 70.0", "Table 1",
          needs="preset paper, VOC2007 trainval/test (data_root)",
          numbers=(PaperNumber("map50_voc07", 0.743, EVAL_PROTOCOL, tolerance=0.01, note=(
              "SSD300 trained on VOC2007+2012 trainval; 0.680 with VOC2007 trainval alone")),)),
    Claim("architecture", "SSD300: conv4_3 (L2-normalised), fc7, conv8_2-conv11_2 predict 4/6/6/6/4/4 "
          "boxes per location on 38/19/10/5/3/1 maps.",
          "8,732 boxes; measured here 26,285,486 parameters (= torchvision ssd300_vgg16)",
          "Fig. 2, Sec. 3.1, Table 3"),
    Claim("multi-scale-voc", "Predicting from several feature maps beats predicting from one with a "
          "similar number of boxes.", "mAP 74.3 (six maps) vs 62.4 (conv7 only)", "Table 3",
          needs="preset paper with --set multi_scale=False beside it, VOC07+12 (data_root)"),
    Claim("hard-negatives-voc", "Hard negative mining at 3:1 leads to faster optimization and more "
          "stable training than using all negatives.", "stated without a number", "Sec. 2.2",
          needs="preset paper with --set hard_negative_mining=False beside it, VOC (data_root)"),
    Claim("mini-map", "The paper's matching, loss, hard negative mining and NMS on a small backbone "
          "detect generated shapes far better than trivial detectors on the same test images: the "
          "training set's mean box per class, and boxes around bright regions (colour alone "
          "localises these shapes, class-agnostic AP 0.96, but cannot tell them apart).",
          "mAP@0.5 at least 0.3 above each trivial detector (miniature)", "Sec. 2.2, Eq. 1",
          margins=lambda m: {b: m["main"]["map50"] - m[b]["map50"] - 0.3
                             for b in ("mean box per class", "colour threshold")},
          measured=lambda m: f"{_maps(m)}; mean box per class {m['mean box per class']['map50']:.3f}, "
          f"colour threshold {m['colour threshold']['map50']:.3f}"),
    Claim("mini-hard-negatives", "With the same number of steps, hard negative mining (3:1) "
          "trains a better detector than using every negative (Sec. 2.2: faster optimisation).",
          "mAP@0.5 at least 0.015 above the all-negatives variant (miniature)", "Sec. 2.2",
          margins=lambda m: {"no_hard_negatives": m["main"]["map50"] - m["no_hard_negatives"]["map50"] - 0.015},
          measured=_maps),
    Claim("mini-multi-scale", "Predicting from four maps (8/4/2/1) beats predicting from the 4x4 "
          "map alone with every box shape stacked on it (256 vs 340 boxes), as in Table 3.",
          "mAP@0.5 at least 0.015 above the single-map variant (miniature)", "Table 3",
          margins=lambda m: {"single_scale": m["main"]["map50"] - m["single_scale"]["map50"] - 0.015},
          measured=_maps),
]
