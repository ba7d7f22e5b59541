"""You Only Look Once: Unified, Real-Time Object Detection (Redmon, Divvala, Girshick, Farhadi,
CVPR 2016). https://arxiv.org/abs/1506.02640

One network reads the whole image once and regresses, for an S x S grid, B boxes (x, y, w, h,
confidence) per cell and one set of C class probabilities per cell: an S x S x (5B + C) tensor
(Sec. 2, Fig. 2). A box's class-specific score is Pr(Class_i | Object) x confidence (Eq. 1).
Training minimises the sum-squared error of Eq. 3: coordinates weighted by lambda_coord = 5,
the confidence of boxes without an object by lambda_noobj = .5, square roots of w and h so that
a deviation matters more in a small box than in a large one (Sec. 2.2).

Presets: `paper` = the 24 convolutional + 2 fully connected layers of Fig. 3 (leaky ReLU, Eq. 2;
dropout .5 after the first fc, Sec. 2.2), 448x448 input, S = 7, B = 2, C = 20 (VOC): a 7x7x30
output, 271,703,550 parameters (counted from Fig. 3; the paper gives no count and torchvision has
no YOLO). `mini`: the same head (conv features -> fc -> dropout -> fc -> S x S x (5B + C)) on
generated 56x56 scenes of shapes (`common.detection_data`, drawn here), S = 7, B = 2, C = 3,
trained with Eq. 3 in one pass over 300 steps; measured: mAP@0.5 against the trivial detectors of
`reproductions.ssd`, the error profile of Sec. 4.2 / Fig. 4 (correct, localisation, other class,
background among each class's top-N detections), and test-time milliseconds per image.
`tiny`: a smoke test.

Deviations from the paper
- No ImageNet pre-training of the first 20 layers (Sec. 2.2), no scale/translation/exposure
  augmentation; in the miniature, Adam instead of the paper's SGD schedule and batch
  normalization after each convolution (added in YOLOv2), so that a net trained from scratch
  for a CPU minute learns to tell the shapes apart.
- An image cell holding the centres of two objects keeps the first one (Sec. 2.4 names this
  limit of the model; the loss has no rule for it).
- The "similar class" error type of Fig. 4 has no meaning for squares, circles and triangles:
  every wrong-class error with IoU > .1 counts as "other".
- No two-stage detector of the same size is trained as a control here, so the comparison of
  Fig. 4 with Fast R-CNN is reported from the paper only; the miniature checks the paper's
  statement about YOLO itself ("localization errors account for more of YOLO's errors than all
  other sources combined", Sec. 4.2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms, box_convert, box_iou

from reproductions.common import detection_data
from reproductions.common.claims import Claim
from reproductions.common.detection_data import SHAPES
from reproductions.common.detection_metrics import mean_average_precision
from reproductions.common.trainer import sgd_with_steps

PAPER = "yolo"

# Fig. 3: (kernel, filters, stride) for a conv, "M" for a 2x2/2 max-pool; 24 convs in all
DARKNET = [(7, 64, 2), "M", (3, 192, 1), "M", (1, 128, 1), (3, 256, 1), (1, 256, 1), (3, 512, 1),
           "M", *[(1, 256, 1), (3, 512, 1)] * 4, (1, 512, 1), (3, 1024, 1), "M",
           *[(1, 512, 1), (3, 1024, 1)] * 2, (3, 1024, 1), (3, 1024, 2), (3, 1024, 1), (3, 1024, 1)]
ARCHS = {"darknet": DARKNET,
         "mini": [(3, 32, 2), "M", (3, 64, 1), "M", (1, 32, 1), (3, 64, 1), (3, 128, 1)],  # 56 -> 7
         "tiny": [(3, 8, 2), "M", (3, 8, 1), "M"]}


# --- the network ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    seed: int = 0
    steps: int = 40_000  # Sec. 2.2: ~135 epochs of VOC 07+12 at batch 64
    batch_size: int = 64  # Sec. 2.2
    lr: float = 1e-2  # Sec. 2.2: 1e-3 raised to 1e-2, 75 epochs, then 1e-3 (30), 1e-4 (30)
    lr_milestones: tuple[int, ...] = (22_000, 31_000)
    optimizer: Literal["sgd", "adam"] = "sgd"  # Sec. 2.2: momentum .9, weight decay 5e-4
    weight_decay: float = 5e-4
    data_root: str | None = None  # not read: VOC needs a loader with YOLO's augmentation
    arch: Literal["darknet", "mini", "tiny"] = "darknet"  # the conv layers, ARCHS
    image_size: int = 448  # Sec. 2.2: 448x448 for detection
    grid: int = 7  # S
    boxes: int = 2  # B
    num_classes: int = 20  # C: PASCAL VOC
    fc_hidden: int = 4096  # Fig. 3
    dropout: float = 0.5  # Sec. 2.2: after the first connected layer
    leaky: float = 0.1  # Eq. 2
    batchnorm: bool = False  # mini: BN after each conv (YOLOv2's addition; see Deviations)
    lambda_coord: float = 5.0  # Sec. 2.2
    lambda_noobj: float = 0.5  # Sec. 2.2
    score_threshold: float = 0.01  # class-specific confidence kept for mAP
    nms_threshold: float = 0.5  # Sec. 2.3: non-maximal suppression
    max_detections: int = 100
    num_train: int = 2000
    num_test: int = 300


class YOLO(nn.Module):
    """Fig. 3: convolutions (leaky ReLU) -> fc -> dropout -> fc (linear) -> (B, S, S, 5B + C)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        c = 3
        for spec in ARCHS[cfg.arch]:
            if spec == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            k, out, stride = spec
            layers += [nn.Conv2d(c, out, k, stride, k // 2, bias=not cfg.batchnorm),
                       *([nn.BatchNorm2d(out)] if cfg.batchnorm else []), nn.LeakyReLU(cfg.leaky)]
            c = out
        self.features = nn.Sequential(*layers)
        s = cfg.grid
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c * s * s, cfg.fc_hidden),
                                nn.LeakyReLU(cfg.leaky), nn.Dropout(cfg.dropout),
                                nn.Linear(cfg.fc_hidden, s * s * (5 * cfg.boxes + cfg.num_classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, depth = self.cfg.grid, 5 * self.cfg.boxes + self.cfg.num_classes
        return self.fc(self.features(x)).view(-1, s, s, depth)  # (B, S, S, 5B + C)

    @torch.no_grad()
    def detect(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        return postprocess(self(x), self.cfg)


# --- boxes, targets, loss --------------------------------------------------------------------------
def cell_boxes(out: torch.Tensor, cfg: Config) -> torch.Tensor:
    """(B, S, S, 5B + C) -> (B, S, S, B, 4) boxes (x1, y1, x2, y2) in [0, 1]: (x, y) is the centre
    relative to the cell, (sqrt w, sqrt h) relative to the image (Sec. 2, 2.2)."""
    s, b = cfg.grid, cfg.boxes
    p = out[..., : 5 * b].reshape(*out.shape[:3], b, 5)  # (B, S, S, B, 5)
    j = torch.arange(s, device=out.device).view(1, 1, s, 1)  # column
    i = torch.arange(s, device=out.device).view(1, s, 1, 1)  # row
    cx, cy = (p[..., 0] + j) / s, (p[..., 1] + i) / s
    w, h = p[..., 2].square(), p[..., 3].square()
    return box_convert(torch.stack([cx, cy, w, h], -1), "cxcywh", "xyxy")


def build_targets(targets, cfg: Config, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per image and cell: does an object's centre fall in it (B, S, S), its box (B, S, S, 4)
    xyxy, its class (B, S, S) in 0..C-1; the first object of a cell wins (see Deviations)."""
    s = cfg.grid
    has = torch.zeros(len(targets), s, s, dtype=torch.bool, device=device)
    boxes = torch.zeros(len(targets), s, s, 4, device=device)
    labels = torch.zeros(len(targets), s, s, dtype=torch.long, device=device)
    for n, t in enumerate(targets):
        centres = box_convert(t["boxes"], "xyxy", "cxcywh")[:, :2]
        cells = (centres * s).long().clamp(0, s - 1)  # (G, 2): column, row
        for g in reversed(range(len(cells))):  # reversed: the first object is written last
            j, i = cells[g].tolist()
            has[n, i, j], boxes[n, i, j], labels[n, i, j] = True, t["boxes"][g], t["labels"][g] - 1
    return has, boxes, labels


def yolo_loss(out: torch.Tensor, targets, cfg: Config) -> dict[str, torch.Tensor]:
    """Eq. 3, summed over cells and averaged over images. The predictor "responsible" for an
    object is the one of its cell with the highest current IoU (Sec. 2.2); its confidence target
    is that IoU; all other predictors' confidences are pushed to 0 with weight lambda_noobj."""
    b, s = cfg.boxes, cfg.grid
    has, gt, labels = build_targets(targets, cfg, out.device)
    pred = out[..., : 5 * b].reshape(len(out), s, s, b, 5)  # (B, S, S, B, 5)
    boxes = cell_boxes(out, cfg)  # (B, S, S, B, 4)
    with torch.no_grad():
        iou = _pairwise_iou(boxes, gt[..., None, :])  # (B, S, S, B)
        best = F.one_hot(iou.argmax(-1), b).bool() & has[..., None]  # 1^obj_ij
    g = box_convert(gt, "xyxy", "cxcywh")  # (B, S, S, 4)
    j = torch.arange(s, device=out.device).view(1, 1, s)
    i = torch.arange(s, device=out.device).view(1, s, 1)
    t_xy = torch.stack([g[..., 0] * s - j, g[..., 1] * s - i], -1)[..., None, :]  # in-cell offsets
    t_wh = g[..., 2:].clamp(min=0).sqrt()[..., None, :]  # (B, S, S, 1, 2)
    l_xy = ((pred[..., :2] - t_xy) ** 2).sum(-1)[best].sum()
    l_wh = ((pred[..., 2:4] - t_wh) ** 2).sum(-1)[best].sum()
    l_obj = ((pred[..., 4] - iou) ** 2)[best].sum()
    l_noobj = (pred[..., 4] ** 2)[~best].sum()
    cls = out[..., 5 * b:]  # (B, S, S, C)
    l_cls = ((cls - F.one_hot(labels, cfg.num_classes).float()) ** 2).sum(-1)[has].sum()
    n = len(out)
    loss = (cfg.lambda_coord * (l_xy + l_wh) + l_obj + cfg.lambda_noobj * l_noobj + l_cls) / n
    return {"loss": loss, "loss_coord": (l_xy + l_wh).detach() / n,
            "loss_obj": l_obj.detach() / n, "loss_noobj": l_noobj.detach() / n,
            "loss_class": l_cls.detach() / n}


def _pairwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of boxes (..., 4) broadcast against (..., 4), elementwise."""
    lt, rb = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = lambda x: (x[..., 2:] - x[..., :2]).clamp(min=0).prod(-1)  # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp(min=1e-9)


def postprocess(out: torch.Tensor, cfg: Config) -> list[dict[str, torch.Tensor]]:
    """Eq. 1: score of class c for box j of a cell = Pr(c | Object) x confidence_j; boxes above
    the threshold, per-class NMS (Sec. 2.3)."""
    b = cfg.boxes
    boxes = cell_boxes(out.float(), cfg).clamp(0, 1).flatten(1, 3)  # (B, S*S*B, 4)
    conf = out[..., 4: 5 * b: 5].float()  # (B, S, S, B)
    scores = (conf[..., None] * out[..., None, 5 * b:].float()).flatten(1, 3)  # (B, S*S*B, C)
    result = []
    for n in range(len(out)):
        box_idx, cls = torch.nonzero(scores[n] > cfg.score_threshold, as_tuple=True)
        s = scores[n, box_idx, cls]
        keep = batched_nms(boxes[n, box_idx], s, cls, cfg.nms_threshold)[: cfg.max_detections]
        result.append({"boxes": boxes[n, box_idx[keep]], "scores": s[keep], "labels": cls[keep] + 1})
    return result


# --- presets, data, step ---------------------------------------------------------------------------
PRESETS: dict[str, Config] = {
    "paper": Config(),  # 24 convs + 2 fc, 7x7x30: 271,703,550
    "mini": Config(arch="mini", batchnorm=True, image_size=56, num_classes=len(SHAPES),
                   fc_hidden=1024, optimizer="adam", lr=1e-3, weight_decay=0.0, steps=300, lr_milestones=(240,),
                   batch_size=32),
    "tiny": Config(arch="tiny", image_size=56, num_classes=len(SHAPES),
                   fc_hidden=16, optimizer="adam", lr=1e-3, weight_decay=0.0, steps=3,
                   lr_milestones=(), batch_size=4, num_train=8, num_test=4),
}


def build_model(cfg: Config) -> YOLO:
    return YOLO(cfg)


def build_optimizer(model: YOLO, cfg: Config):
    """Sec. 2.2: SGD, momentum 0.9, weight decay 5e-4, lr steps down at the milestones."""
    return sgd_with_steps(model, cfg)


def build_data(cfg: Config):
    """Generated shapes (centred pixels), as SSD's miniature; the test images use another seed."""
    if cfg.data_root is not None:
        from reproductions.common.config import ConfigError

        raise ConfigError("yolo reads generated shapes only (data_root must stay unset)")
    train = detection_data.centred_shapes(cfg.num_train, cfg.image_size, cfg.seed)
    test = detection_data.centred_shapes(cfg.num_test, cfg.image_size, cfg.seed + 10_000)
    return detection_data.loaders(train, test, cfg.batch_size, cfg.seed)


def training_step(model: YOLO, batch) -> dict:
    images, targets = batch
    return yolo_loss(model(images), targets, model.cfg)


# --- evaluation: mAP, the error profile of Fig. 4, speed -------------------------------------------
ERRORS = ("correct", "localization", "other", "background")


def error_profile(detections, truths, num_classes: int) -> dict[str, float]:
    """Sec. 4.2 (after Hoiem et al.): for each class, its top N detections (N = its number of
    objects) are correct (right class, IoU > .5, object not yet found), localization (right
    class, .1 < IoU, or a duplicate), other (wrong class, IoU > .1) or background (IoU < .1 with
    every object); the shares over all classes' top-N detections."""
    counts = dict.fromkeys(ERRORS, 0)
    for c in range(1, num_classes):
        dets = [(float(s), i, box) for i, d in enumerate(detections)
                for s, box, lab in zip(d["scores"], d["boxes"], d["labels"], strict=True) if lab == c]
        n = sum(int((t["labels"] == c).sum()) for t in truths)
        found = [torch.zeros(int((t["labels"] == c).sum()), dtype=torch.bool) for t in truths]
        for _, i, box in sorted(dets, key=lambda d: -d[0])[:n]:
            t = truths[i]
            iou = box_iou(box[None], t["boxes"])[0] if len(t["boxes"]) else torch.zeros(0)
            same = t["labels"] == c
            if same.any() and iou[same].max() > 0.5 and not found[i][iou[same].argmax()]:
                found[i][iou[same].argmax()] = True
                counts["correct"] += 1
            elif same.any() and iou[same].max() > 0.1:
                counts["localization"] += 1
            elif (~same).any() and iou[~same].max() > 0.1:
                counts["other"] += 1
            else:
                counts["background"] += 1
    total = max(1, sum(counts.values()))
    return {f"share_{k}": v / total for k, v in counts.items()}


def speed_ms(detect, images: torch.Tensor, repeats: int = 3) -> float:
    """Test-time milliseconds per image, one image at a time (the best of `repeats` passes)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for x in images:
            detect(x[None])
        best = min(best, (time.perf_counter() - t0) / len(images))
    return 1000 * best


def detector_metrics(detect, batches, num_classes: int) -> dict[str, float]:
    dets, truths = [], []
    for images, targets in batches:
        dets += [{k: v.cpu() for k, v in d.items()} for d in detect(images)]
        truths += targets
    return {"map50": mean_average_precision(dets, truths, num_classes)["map"],
            **error_profile(dets, truths, num_classes)}


@torch.no_grad()
def evaluate(model: YOLO, eval_data, cfg: Config) -> dict[str, float]:
    out = detector_metrics(model.detect, eval_data, cfg.num_classes + 1)
    images = next(iter(eval_data))[0][:32].to(next(model.parameters()).device)
    return out | {"ms_per_image": speed_ms(model.detect, images)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """The trivial detectors of `reproductions.ssd` on the same test images."""
    from reproductions.ssd import colour_threshold_detector, mean_box_detector

    train, test = build_data(cfg)
    return {name: detector_metrics(make(train.dataset), test, cfg.num_classes + 1)
            for name, make in (("mean box per class", mean_box_detector),
                               ("colour threshold", colour_threshold_detector))}


# --- claims ----------------------------------------------------------------------------------------
def _profile(m) -> str:
    return ", ".join(f"{k} {m['main'][f'share_{k}']:.2f}" for k in ERRORS) + \
        f"; {m['main']['ms_per_image']:.1f} ms per image"


def _maps(m) -> str:
    return f"YOLO {m['main']['map50']:.3f}, colour threshold {m['colour threshold']['map50']:.3f}, " \
        f"mean box {m['mean box per class']['map50']:.3f}"


CLAIMS = [
    Claim("voc2007", "YOLO detects in real time at 45 fps with 63.4 mAP on VOC 2007 test (trained "
          "on 07+12), more than twice the mAP of other real-time systems.",
          "63.4 mAP at 45 fps; Fast YOLO 52.7 at 155 fps", "Table 1",
          needs="preset paper, ImageNet-pretrained convolutions, VOC 2007+2012 (not read here)"),
    Claim("architecture", "24 convolutional layers and 2 fully connected layers map a 448x448 "
          "image to a 7x7x30 tensor (S = 7, B = 2, C = 20).",
          "measured here 271,703,550 parameters", "Sec. 2.1, Fig. 3"),
    Claim("error-profile-voc", "YOLO makes more localization errors and fewer background errors "
          "than Fast R-CNN.", "localization 19.0% vs 8.6%; background 4.75% vs 13.6%", "Fig. 4",
          needs="a two-stage detector of the same size trained beside it (not built here)"),
    Claim("mini-map", "One pass of the network with the loss of Eq. 3 finds and classifies "
          "generated shapes far better than the training set's mean box per class.",
          "mAP@0.5 at least 0.1 above the mean-box detector (miniature)", "Sec. 2, Eq. 3",
          margins=lambda m: {"mean box per class": m["main"]["map50"]
                             - m["mean box per class"]["map50"] - 0.1},
          measured=_maps),
    Claim("mini-beats-colour", "Not expected in miniature: YOLO beats boxes drawn around bright "
          "regions and given the class prior. Colour alone localises these shapes (class-agnostic "
          "AP ~0.96); trained from scratch for 300 steps, YOLO's fully connected head has not yet "
          "learned to tell squares, circles and triangles apart (most of its top detections have "
          "the wrong class), where the paper pre-trains its convolutions on ImageNet (Sec. 2.2).",
          "63.4 mAP on VOC 2007 after ImageNet pre-training", "Sec. 2.2, Table 1",
          margins=lambda m: {"colour threshold": m["main"]["map50"] - m["colour threshold"]["map50"]},
          measured=_maps, expected=False),
    Claim("mini-few-background-errors", "Among each class's top-N detections, YOLO's localization "
          "errors outnumber its background errors by at least 0.05 of the detections: seeing the "
          "whole image, it rarely fires on background.",
          "YOLO: localization 19.0%, background 4.75% of top detections", "Fig. 4, Sec. 4.2",
          margins=lambda m: {"background": m["main"]["share_localization"]
                             - m["main"]["share_background"] - 0.05},
          measured=_profile),
    Claim("mini-localization-errors", "Not expected in miniature: localization errors outnumber all "
          "other errors together. Here the undertrained class probabilities make wrong-class "
          "errors the largest kind (see mini-beats-colour).",
          "'Localization errors account for more of YOLO's errors than all other sources "
          "combined'", "Sec. 4.2, Fig. 4",
          margins=lambda m: {"other + background": m["main"]["share_localization"]
                             - m["main"]["share_other"] - m["main"]["share_background"]},
          measured=_profile, expected=False),
]
