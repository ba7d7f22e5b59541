"""Mask R-CNN (He, Gkioxari, Dollar, Girshick, ICCV 2017). https://arxiv.org/abs/1703.06870

Faster R-CNN with a third branch: for every RoI a small FCN predicts K binary masks of m x m, one
per class, in parallel with the class scores and box offsets (Sec. 3). Two things make the masks
good (Sec. 3, Table 2b-d): RoIAlign, which samples the feature map by bilinear interpolation at
regular points of each RoI bin instead of RoIPool's rounding of the RoI and its bins to the map's
grid (Fig. 3), so that the features stay pixel-aligned with the RoI; and a per-class sigmoid with
a binary cross-entropy on the ground-truth class's mask only (L_mask), so that classes do not
compete for a pixel as under a per-pixel softmax.

Presets:
- `paper`: Mask R-CNN ResNet-50-FPN (Fig. 4 right) with torchvision's COCO conventions (91 class
  outputs, background included): 44,454,513 parameters = torchvision
  `maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)`, whose randomly
  initialised mask head loads into `MaskHead` and gives the same masks (tests). Backbone + FPN
  (P2-P6) are `reproductions.retinanet`'s (`paper-fpn`, torchvision's stride-in-3x3 ResNet-50);
  the RPN is torchvision's `RegionProposalNetwork` + `RPNHead` used as a building block; the
  2-fc box head, the RoIAlign pooler (FPN's level assignment) and the mask head are written here.
- `mini` (Table 2c in miniature): generated 64x64 scenes of squares, discs and triangles
  (`common.detection_data.draw_shapes`, this project's code, no licence issue), each object's mask
  drawn again alone with the same geometry (`object_masks`); one small conv trunk with a single
  stride-8 map (a C4-style head, as Table 2c), the box and mask heads fed by RoIAlign vs by RoIPool
  (torchvision.ops.roi_align / roi_pool) in one run, plus a per-pixel softmax control (Table 2b).
  Mask IoU in image pixels against two trivial masks scored the same way: the proposal box filled,
  and the training set's mean mask of the object's class.
- `tiny`: a smoke test.

Deviations from the paper
- No RPN in `mini`/`tiny`: the proposals are the ground-truth boxes jittered (centre shifted by up
  to `jitter` x size, sides scaled by up to exp(+-jitter)), every RoI positive, so the comparison
  isolates how RoI features are extracted; masks are scored with the ground-truth class's output
  (the box branch's class is reported as `class_accuracy`). The paper's RoIs come from the RPN,
  are sampled 1:3 positive:negative and the masks use the box branch's class (Sec. 3.1).
- `training_step` never runs the RPN (no end-to-end Sec. 3.1 training, no COCO loader): in
  `paper` it is built for the count and `MaskRCNN.propose`. No ImageNet pre-training.
- `paper` has 91 mask/class outputs (torchvision's COCO ids, background included); the paper's
  K is 80. RoIAlign in `paper` samples without the half-pixel offset (as torchvision's pooler);
  `mini` uses the half-pixel-aligned RoIAlign (`aligned=True`) of the authors' later code.
- The miniature trains with Adam (lr 2e-3), the paper with SGD lr 0.02, momentum 0.9, weight
  decay 1e-4, 160k iterations of 16 images (Sec. 3.1).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import box_convert, roi_align, roi_pool

from reproductions import rcnn, retinanet
from reproductions.common import detection_data
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError
from reproductions.common.detection_data import SHAPES
from reproductions.common.trainer import sgd_with_steps

PAPER = "mask-rcnn"


# --- masks and boxes ------------------------------------------------------------------------------
def object_masks(target: dict, size: int) -> torch.Tensor:
    """(G, S, S) bool: each object of a `draw_shapes` target drawn alone, with the same PIL calls
    and the geometry its box gives (box = [x0, y0, x0 + side, y0 + side] / S)."""
    from PIL import Image, ImageDraw

    out = []
    for box, label in zip(target["boxes"].tolist(), target["labels"].tolist(), strict=True):
        x0, y0, x2, _ = (round(v * size) for v in box)
        img = Image.new("L", (size, size), 0)
        detection_data.draw_shape(ImageDraw.Draw(img), label - 1, x0, y0, x2 - x0, 255)
        out.append(torch.from_numpy(np.array(img) > 0))
    return torch.stack(out) if out else torch.zeros(0, size, size, dtype=torch.bool)


def jitter(boxes: torch.Tensor, amount: float, size: int, gen=None) -> torch.Tensor:
    """Proposals around ground-truth boxes (N, 4) xyxy pixels: centre moved by up to `amount` x
    the side, each side scaled by up to exp(+-amount); clipped to the image."""
    c, wh = box_convert(boxes, "xyxy", "cxcywh").split(2, 1)
    c = c + amount * wh * (2 * torch.rand(c.shape, generator=gen) - 1)
    wh = wh * torch.exp(amount * (2 * torch.rand(wh.shape, generator=gen) - 1))
    return box_convert(torch.cat([c, wh], 1), "cxcywh", "xyxy").clamp(0, size)


def mask_targets(masks: torch.Tensor, rois: torch.Tensor, m: int) -> torch.Tensor:
    """Sec. 3.1: "the mask target is the intersection between an RoI and its associated
    ground-truth mask", resampled to m x m: masks (R, S, S) bool, rois (R, 4) -> (R, m, m) float."""
    idx = torch.arange(len(rois), dtype=rois.dtype, device=rois.device)[:, None]
    out = roi_align(masks[:, None].float(), torch.cat([idx, rois], 1), m, 1.0, 2, aligned=True)
    return (out[:, 0] >= 0.5).float()  # (R, m, m)


def paste(probs: torch.Tensor, rois: torch.Tensor, size: int) -> torch.Tensor:
    """Sec. 3.1, Inference: the m x m mask "is resized to the RoI size": probabilities (R, m, m)
    sampled bilinearly at every image pixel's centre, zero outside the RoI -> (R, S, S)."""
    centres = torch.arange(size, dtype=probs.dtype, device=probs.device) + 0.5  # (S,)
    x1, y1, x2, y2 = rois.unbind(1)
    u = (centres - x1[:, None]) / (x2 - x1).clamp(min=1e-3)[:, None]  # (R, S) in [0, 1] inside
    v = (centres - y1[:, None]) / (y2 - y1).clamp(min=1e-3)[:, None]
    grid = torch.stack(torch.broadcast_tensors(2 * u[:, None, :] - 1, 2 * v[:, :, None] - 1), -1)
    return F.grid_sample(probs[:, None], grid, align_corners=False)[:, 0]  # (R, S, S)


def mask_iou(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """(R, S, S) bool each -> (R,) intersection over union per object."""
    inter = (pred & truth).flatten(1).sum(1)
    return inter / (pred | truth).flatten(1).sum(1).clamp(min=1)


# --- heads ----------------------------------------------------------------------------------------
class MaskHead(nn.Module):
    """Fig. 4 (right): `depth` 3x3 convs of `channels` + ReLU on the RoI's m/2 x m/2 features, a 2x2
    deconv with stride 2 + ReLU (m x m), a 1x1 conv to K mask logits: a Km^2 output per RoI
    (Sec. 3)."""

    def __init__(self, in_channels: int, channels: int, depth: int, num_classes: int):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Conv2d(in_channels if i == 0 else channels, channels, 3, padding=1),
                       nn.ReLU(inplace=True)]
        self.convs = nn.Sequential(*layers)
        self.deconv = nn.ConvTranspose2d(channels, channels, 2, stride=2)
        self.logits = nn.Conv2d(channels, num_classes, 1)
        for layer in self.modules():  # the authors' "MSRA" init, as torchvision's mask head
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (R, C, m/2, m/2)
        x = F.relu(self.deconv(self.convs(x)))  # (R, D, m, m)
        return self.logits(x)  # (R, K, m, m)


class BoxHead(nn.Module):
    """FPN's 2-fc head (Fig. 4 right, top): fc6, fc7 (ReLU), then Faster R-CNN's sibling layers:
    K class scores and 4K class-specific box offsets."""

    def __init__(self, in_features: int, hidden: int, num_classes: int):
        super().__init__()
        self.fc6, self.fc7 = nn.Linear(in_features, hidden), nn.Linear(hidden, hidden)
        self.cls, self.box = nn.Linear(hidden, num_classes), nn.Linear(hidden, 4 * num_classes)

    def forward(self, x: torch.Tensor):  # (R, C, s, s)
        x = F.relu(self.fc7(F.relu(self.fc6(x.flatten(1)))))  # (R, hidden)
        return self.cls(x), self.box(x)  # (R, K), (R, 4K)


def fpn_level(rois: torch.Tensor, low: int = 2, high: int = 5) -> torch.Tensor:
    """FPN (Lin et al., Eq. 1): an RoI of w x h goes to P_k, k = floor(4 + log2(sqrt(wh) / 224))."""
    area = (rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1])
    return torch.floor(4 + torch.log2(area.sqrt() / 224) + 1e-6).clamp(low, high).long()


# --- config ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    seed: int = 0
    steps: int = 160_000  # Sec. 3.1: 160k iterations, lr / 10 at 120k
    batch_size: int = 16  # Sec. 3.1: 8 GPUs x 2 images
    lr: float = 0.02  # Sec. 3.1
    lr_milestones: tuple[int, ...] = (120_000,)
    optimizer: Literal["sgd", "adam"] = "sgd"  # Sec. 3.1: momentum 0.9, weight decay 1e-4
    weight_decay: float = 1e-4
    grad_clip: float | None = None
    data_root: str | None = None  # must stay None: no COCO loader here
    backbone: Literal["resnet50-fpn", "small"] = "resnet50-fpn"  # Fig. 4 right: ResNet-50-FPN
    width: int = 32  # small trunk: channels
    small_top: int = 3  # small trunk: its one map is C_top, stride 2^top (C4-style head)
    num_classes: int = 91  # torchvision's COCO outputs, background included (the paper: K = 80)
    rpn: bool = True  # paper: torchvision's RPN on P2-P6; False: jittered ground truth only
    pooler: Literal["align", "pool"] = "align"  # Sec. 3, Fig. 3: RoIAlign; "pool": RoIPool
    aligned: bool = False  # half-pixel offset in RoIAlign (torchvision's pooler: False)
    sampling_ratio: int = 2  # Fig. 3: 4 sampling points (2 x 2) per bin
    box_roi_size: int = 7  # Fig. 4: 7x7 RoI features for the box head
    mask_roi_size: int = 14  # Fig. 4: 14x14 RoI features, m = 28 masks
    box_hidden: int = 1024  # Fig. 4 right: fc 1024, 1024
    mask_channels: int = 256  # Fig. 4 right: 256-channel convs
    mask_depth: int = 4  # Fig. 4 right: "x4"
    mask_loss: Literal["sigmoid", "softmax"] = "sigmoid"  # Sec. 3; softmax: Table 2b's control
    jitter: float = 0.15  # mini: proposals around the ground truth (see the docstring)
    image_size: int = 800  # Sec. 3.1: shorter side 800
    num_train: int = 1000
    num_test: int = 300
    compare: Literal["none", "roipool", "roipool+softmax"] = "none"


# --- model ----------------------------------------------------------------------------------------
class MaskRCNN(nn.Module):
    """Backbone -> (RPN proposals) -> RoIAlign -> box head (classes, offsets) and mask head."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        if cfg.backbone == "resnet50-fpn":  # retinanet's ResNet-50 + FPN P2-P6 (Lin et al.)
            fpn_cfg = dataclasses.replace(retinanet.PRESETS["paper-fpn"], stride_in_3x3=True)
            self.body, channels = retinanet.RetinaNet(fpn_cfg), fpn_cfg.fpn_channels
        else:
            self.body, widths = retinanet.small_backbone(cfg.width, cfg.small_top)
            channels = widths[-1]
        self.rpn = self._rpn(channels) if cfg.rpn else None
        self.box_head = BoxHead(channels * cfg.box_roi_size ** 2, cfg.box_hidden, cfg.num_classes)
        self.mask_head = MaskHead(channels, cfg.mask_channels, cfg.mask_depth, cfg.num_classes)

    @staticmethod
    def _rpn(channels: int) -> nn.Module:
        """torchvision's RPN (Ren et al., Sec. 3.1) with FPN's anchors: one size per level, 32 on
        P2 .. 512 on P6, ratios {1:2, 1:1, 2:1}; torchvision's Mask R-CNN settings."""
        from torchvision.models.detection.anchor_utils import AnchorGenerator
        from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead

        anchors = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
        return RegionProposalNetwork(anchors, RPNHead(channels, 3), 0.7, 0.3, 256, 0.5,
                                     dict(training=2000, testing=1000),
                                     dict(training=2000, testing=1000), 0.7)

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """FPN: [P2, ..., P6] (strides 4 .. 64); small: [C_top]."""
        if isinstance(self.body, retinanet.RetinaNet):
            return self.body.pyramid(images)
        x = images
        for stage in self.body:
            x = stage(x)
        return [x]  # (B, C, S / 2^top, S / 2^top)

    def pool(self, maps: list[torch.Tensor], rois: torch.Tensor, size: int) -> torch.Tensor:
        """RoI features (R, C, size, size); rois (R, 5) = (image index, x1, y1, x2, y2) pixels.
        RoIAlign (Fig. 3): bilinear samples at regular points of each bin, no rounding; RoIPool
        (Fast R-CNN): the RoI and its bins rounded to the map's cells, then max-pooled."""
        cfg = self.cfg

        def one_map(x, r, stride):
            if cfg.pooler == "pool":
                return roi_pool(x, r, size, 1 / stride)
            return roi_align(x, r, size, 1 / stride, cfg.sampling_ratio, aligned=cfg.aligned)

        if len(maps) == 1:
            return one_map(maps[0], rois, self.cfg.image_size / maps[0].shape[-1])
        levels = fpn_level(rois[:, 1:])  # P2-P5 only (Lin et al., Sec. 4.2)
        out = maps[0].new_zeros(len(rois), maps[0].shape[1], size, size)
        for k in range(2, 6):
            pick = levels == k
            if pick.any():
                out[pick] = one_map(maps[k - 2], rois[pick], 2 ** k)
        return out

    def forward(self, images: torch.Tensor, proposals: list[torch.Tensor]):
        """images (B, 3, S, S), proposals [(n_b, 4) xyxy pixels] -> class logits (R, K), box
        offsets (R, 4K), mask logits (R, K, m, m); R = sum n_b, in image order."""
        maps = self.features(images)
        idx = torch.cat([torch.full((len(p), 1), float(b), device=images.device)
                         for b, p in enumerate(proposals)])
        rois = torch.cat([idx, torch.cat(proposals).to(idx)], 1)  # (R, 5)
        cls, box = self.box_head(self.pool(maps, rois, self.cfg.box_roi_size))
        return cls, box, self.mask_head(self.pool(maps, rois, self.cfg.mask_roi_size))

    @torch.no_grad()
    def propose(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The RPN's proposals per image (up to 1,000 after NMS at 0.7), xyxy pixels."""
        from torchvision.models.detection.image_list import ImageList

        feats = OrderedDict((str(i), m) for i, m in enumerate(self.features(images)))
        boxes, _ = self.rpn(ImageList(images, [tuple(images.shape[-2:])] * len(images)), feats)
        return boxes


def mask_loss(logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor,
              kind: str = "sigmoid") -> torch.Tensor:
    """L_mask (Sec. 3): per-pixel sigmoid and the average binary cross-entropy on the k-th mask
    only, k = the RoI's ground-truth class ("other mask outputs do not contribute to the loss").
    `softmax` (Table 2b's multinomial control): a per-pixel softmax over the K masks, the pixel's
    target class k inside the object and 0 (background) outside: classes compete."""
    if kind == "softmax":
        pixel_class = (targets * labels[:, None, None]).long()  # (R, m, m)
        return F.cross_entropy(logits, pixel_class)
    own = logits[torch.arange(len(labels)), labels]  # (R, m, m): the k-th mask of each RoI
    return F.binary_cross_entropy_with_logits(own, targets)


def mask_probabilities(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> torch.Tensor:
    """(R, K, m, m) -> (R, m, m): the probability that a pixel belongs to the class-k object."""
    p = torch.softmax(logits, 1) if kind == "softmax" else torch.sigmoid(logits)
    return p[torch.arange(len(labels)), labels]


# --- presets --------------------------------------------------------------------------------------
_MINI = Config(backbone="small", width=32, small_top=3, num_classes=len(SHAPES) + 1, rpn=False,
               aligned=True, box_roi_size=7, mask_roi_size=10, box_hidden=128, mask_channels=32,
               mask_depth=2, image_size=64, optimizer="adam", lr=2e-3, weight_decay=0.0,
               steps=400, lr_milestones=(320,), batch_size=16, num_train=1000, num_test=300)
PRESETS: dict[str, Config] = {
    "paper": Config(),  # Mask R-CNN R-50-FPN: 44,454,513 = torchvision maskrcnn_resnet50_fpn
    "mini": dataclasses.replace(_MINI, compare="roipool+softmax"),
    "tiny": dataclasses.replace(_MINI, width=8, mask_channels=8, box_hidden=16, steps=3,
                                batch_size=4, num_train=8, num_test=4, compare="roipool"),
}


def build_model(cfg: Config) -> MaskRCNN:
    return MaskRCNN(cfg)


def build_optimizer(model: MaskRCNN, cfg: Config):
    """Sec. 3.1: SGD, momentum 0.9, weight decay 1e-4, lr / 10 at each milestone (mini: Adam)."""
    return sgd_with_steps(model, cfg)


def variants(cfg: Config) -> dict[str, Config]:
    """`roialign` and `roipool` (Table 2c), and `softmax` (Table 2b) when asked; else `main`."""
    base = dataclasses.replace(cfg, compare="none")
    if cfg.compare == "none":
        return {"main": base}
    out = {"roialign": base, "roipool": dataclasses.replace(base, pooler="pool")}
    if cfg.compare == "roipool+softmax":
        out["softmax"] = dataclasses.replace(base, mask_loss="softmax")
    return out


# --- data -----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def scenes(n: int, size: int, seed: int) -> tuple[tuple[torch.Tensor, dict], ...]:
    """`draw_shapes` scenes, centred pixels, targets {"boxes" (G, 4) xyxy pixels, "labels" (G,),
    "masks" (G, S, S) bool}; cached, so a run's variants and baselines share them."""
    return tuple((x, {"boxes": t["boxes"] * size, "labels": t["labels"],
                      "masks": object_masks(t, size)})
                 for x, t in detection_data.centred_shapes(n, size, seed))


def eval_proposals(cfg: Config) -> list[torch.Tensor]:
    """One fixed set of jittered proposals per test image, the same for every variant/baseline."""
    gen = torch.Generator().manual_seed(cfg.seed + 20_000)
    return [jitter(t["boxes"], cfg.jitter, cfg.image_size, gen)
            for _, t in scenes(cfg.num_test, cfg.image_size, cfg.seed + 10_000)]


def build_data(cfg: Config):
    if cfg.data_root is not None:
        raise ConfigError("mask_rcnn has no COCO loader; the presets run on generated scenes: "
                          "leave data_root unset")
    train = scenes(cfg.num_train, cfg.image_size, cfg.seed)
    test = scenes(cfg.num_test, cfg.image_size, cfg.seed + 10_000)
    return detection_data.loaders(train, test, cfg.batch_size, cfg.seed)


# --- step, evaluation, baselines ------------------------------------------------------------------
def training_step(model: MaskRCNN, batch) -> dict:
    """Sec. 3: L = L_cls + L_box + L_mask on each RoI (here each RoI is a jittered ground truth)."""
    images, targets = batch
    cfg = model.cfg
    gt = [t["boxes"] for t in targets]
    proposals = [jitter(b.cpu(), cfg.jitter, cfg.image_size).to(b) for b in gt]
    cls, box, masks = model(images, proposals)
    labels = torch.cat([t["labels"] for t in targets])  # (R,)
    rois, gt = torch.cat(proposals), torch.cat(gt)
    l_cls = F.cross_entropy(cls, labels)
    own = box.view(len(labels), -1, 4)[torch.arange(len(labels)), labels]  # (R, 4): class k's
    l_box = F.smooth_l1_loss(own, rcnn.encode(gt, rois))  # Fast R-CNN's L_loc
    m = masks.shape[-1]
    target = mask_targets(torch.cat([t["masks"] for t in targets]), rois, m)  # (R, m, m)
    l_mask = mask_loss(masks, labels, target, cfg.mask_loss)
    return {"loss": l_cls + l_box + l_mask, "loss_cls": l_cls.detach(),
            "loss_box": l_box.detach(), "loss_mask": l_mask.detach()}


def iou_metrics(ious: torch.Tensor) -> dict[str, float]:
    """Mean mask IoU and the share of objects whose mask reaches IoU 0.5 / 0.75 (AP50 / AP75's
    thresholds, Table 2c)."""
    return {"mask_iou": float(ious.mean()), "mask_iou50": float((ious >= 0.5).float().mean()),
            "mask_iou75": float((ious >= 0.75).float().mean())}


@torch.no_grad()
def evaluate(model: MaskRCNN, eval_data, cfg: Config) -> dict[str, float]:
    """Each test object's mask predicted in its fixed jittered proposal, resized to it and
    binarised at 0.5 (Sec. 3.1, Inference), against the object's drawn mask in image pixels."""
    device = next(model.parameters()).device
    test = scenes(cfg.num_test, cfg.image_size, cfg.seed + 10_000)
    proposals = eval_proposals(cfg)
    ious, correct = [], []
    for i in range(0, len(test), 64):
        images = torch.stack([x for x, _ in test[i:i + 64]]).to(device)
        props = proposals[i:i + 64]
        cls, _, logits = model(images, [p.to(device) for p in props])
        labels = torch.cat([t["labels"] for _, t in test[i:i + 64]]).to(device)
        probs = mask_probabilities(logits.float(), labels, cfg.mask_loss)
        pred = paste(probs, torch.cat(props).to(device), cfg.image_size) >= 0.5
        truth = torch.cat([t["masks"] for _, t in test[i:i + 64]]).to(device)
        ious.append(mask_iou(pred, truth).cpu())
        correct.append((cls.argmax(1) == labels).cpu())
    accuracy = float(torch.cat(correct).float().mean())
    return iou_metrics(torch.cat(ious)) | {"class_accuracy": accuracy}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """On the same test proposals: the proposal box filled as the mask, and the mean training
    mask target of the object's class (jittered as in training, thresholded at 0.5)."""
    if cfg.data_root is not None:
        return {}
    m = 2 * cfg.mask_roi_size
    train = scenes(cfg.num_train, cfg.image_size, cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed + 30_000)
    sums = torch.zeros(cfg.num_classes, m, m)
    counts = torch.zeros(cfg.num_classes)
    for _, t in train:
        targets = mask_targets(t["masks"], jitter(t["boxes"], cfg.jitter, cfg.image_size, gen), m)
        sums.index_add_(0, t["labels"], targets)
        counts += torch.bincount(t["labels"], minlength=cfg.num_classes)
    mean_mask = (sums / counts.clamp(min=1)[:, None, None] >= 0.5).float()  # (K, m, m)
    test = scenes(cfg.num_test, cfg.image_size, cfg.seed + 10_000)
    rois = torch.cat(eval_proposals(cfg))
    labels = torch.cat([t["labels"] for _, t in test])
    truth = torch.cat([t["masks"] for _, t in test])
    out = {}
    for name, probs in (("box as mask", torch.ones(len(rois), m, m)),
                        ("class-mean mask", mean_mask[labels])):
        out[name] = iou_metrics(mask_iou(paste(probs, rois, cfg.image_size) >= 0.5, truth))
    return out


# --- claims ---------------------------------------------------------------------------------------
def _ious(m, key="mask_iou") -> str:
    return ", ".join(f"{v} {m[v][key]:.3f}" for v in ("roialign", "roipool", "softmax",
                                                      "class-mean mask", "box as mask") if v in m)


CLAIMS = [
    Claim("architecture", "Mask R-CNN ResNet-50-FPN: Faster R-CNN's RPN and 2-fc box head on an "
          "FPN, plus a mask head of four 3x3 convs (256), a 2x2 deconv and K 28x28 masks per RoI.",
          "measured here 44,454,513 parameters = torchvision maskrcnn_resnet50_fpn (91 outputs)",
          "Sec. 3, Fig. 4"),
    Claim("coco-roialign", "On COCO, RoIAlign instead of RoIPool raises mask AP by about 3 points "
          "with the C4 backbone and 7.3 with C5 (stride 32), most at AP75 (+10.5).",
          "R-50-C4 mask AP 26.9 (RoIPool) vs 30.2 (RoIAlign); R-50-C5: 23.6 vs 30.9",
          "Table 2c, Table 2d",
          needs="preset paper with an RPN trained end to end, ImageNet weights, COCO (not built)"),
    Claim("coco-sigmoid", "On COCO, per-class sigmoid masks beat a per-pixel softmax over classes "
          "by 5.5 mask AP.", "R-50-C4 mask AP 30.3 (sigmoid) vs 24.8 (softmax)", "Table 2b",
          needs="preset paper trained on COCO (not built here)"),
    Claim("mini-roialign", "With the same trunk, heads, proposals and training, masks predicted "
          "from RoIAlign features are better than from RoIPool features on a stride-8 map: mean "
          "mask IoU at least 0.03 higher and the share of objects at IoU >= 0.75 at least 0.1 "
          "higher (RoIPool's rounding misplaces the features by up to half a cell, 4 px).",
          "mask AP +3.3 (C4), +7.3 (C5); AP75 +5.4 (C4), +10.5 (C5)", "Table 2c, Table 2d",
          margins=lambda m: {
              "roipool": m["roialign"]["mask_iou"] - m["roipool"]["mask_iou"] - 0.03,
              "roipool, IoU >= 0.75": m["roialign"]["mask_iou75"] - m["roipool"]["mask_iou75"]
              - 0.1},
          measured=lambda m: "mean mask IoU: " + _ious(m) + "; IoU >= 0.75: "
          + _ious(m, "mask_iou75")),
    Claim("mini-beats-trivial", "The RoIAlign mask head beats trivial masks scored the same way on "
          "the same proposals (the proposal box filled; its class's mean training mask): mean mask "
          "IoU at least 0.05 higher and the share of objects at IoU >= 0.75 at least 0.2 higher. "
          "The proposals cut off part of some objects, so even a perfect mask averages about 0.89.",
          "the mask branch predicts each object's own layout (miniature)", "Sec. 3",
          margins=lambda m: {
              **{b: m["roialign"]["mask_iou"] - m[b]["mask_iou"] - 0.05
                 for b in ("box as mask", "class-mean mask")},
              **{f"{b}, IoU >= 0.75": m["roialign"]["mask_iou75"] - m[b]["mask_iou75"] - 0.2
                 for b in ("box as mask", "class-mean mask")}},
          measured=lambda m: "mean mask IoU: " + _ious(m) + "; IoU >= 0.75: "
          + _ious(m, "mask_iou75")),
    Claim("mini-sigmoid", "Not expected in miniature: per-class sigmoid masks beat a per-pixel "
          "softmax over the classes by at least 0.02 mean mask IoU. With three shapes that never "
          "overlap and every RoI holding one object, the softmax's competition is mostly object vs "
          "background, the same decision the sigmoid makes.",
          "mask AP 30.3 (sigmoid) vs 24.8 (softmax)", "Table 2b",
          margins=lambda m: {"softmax": m["roialign"]["mask_iou"] - m["softmax"]["mask_iou"]
                             - 0.02},
          measured=_ious, expected=False),
]
