"""Detection metrics: PASCAL VOC average precision with all-point interpolation (mAP@0.5).

The VOC devkit's evaluation (VOC2010 onwards, and the protocol SSD's Table 1 reports), written
out so that a student can check it by hand:

1. Per class, pool the detections of every image and sort them by score, highest first.
2. Walk down the list. A detection is a true positive if its IoU with the best-overlapping
   ground-truth box of that class in the same image is > `iou_threshold` and that box has not
   been claimed by a higher-scoring detection; otherwise it is a false positive. A detection
   whose best box is marked `difficult` counts as neither; difficult boxes are not counted in
   the number of positives.
3. recall_k = TP_k / n_pos, precision_k = TP_k / (TP_k + FP_k) after the k-th detection.
4. AP = sum_k (r_k - r_{k-1}) * p_interp(r_k), with p_interp(r) = max_{r' >= r} p(r') (the
   precision envelope; "all-point interpolation").
5. mAP = the mean of AP over the classes that have at least one (non-difficult) ground truth.

Boxes are `(x1, y1, x2, y2)` in continuous coordinates (no +1 pixel convention).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchvision.ops import box_iou


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolated AP: sum_k (r_k - r_{k-1}) * max_{j >= k} p_j, with r_0 = 0."""
    r = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64)])
    p = np.concatenate([[0.0], np.asarray(precision, dtype=np.float64)])
    p = np.maximum.accumulate(p[::-1])[::-1]  # the precision envelope, right to left
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


def eleven_point_average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC2007's AP (the devkit's `VOCap` before 2010, and SSD's published VOC07 numbers): the
    mean over t = 0, 0.1, ..., 1 of the highest precision at recall >= t (0 where none)."""
    r, p = np.asarray(recall, dtype=np.float64), np.asarray(precision, dtype=np.float64)
    return float(np.mean([p[r >= t].max() if (r >= t).any() else 0.0
                          for t in np.linspace(0, 1, 11)]))


def _boxes(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float32).reshape(-1, 4)


def _vector(x, dtype) -> torch.Tensor:
    return torch.as_tensor(x, dtype=dtype).reshape(-1)


def class_average_precision(detections: Sequence[dict], ground_truths: Sequence[dict],
                            label: int, iou_threshold: float = 0.5) -> float | None:
    """AP of one class (all-point); None when the class has no non-difficult ground-truth box."""
    curve = class_pr_curve(detections, ground_truths, label, iou_threshold)
    return None if curve is None else average_precision(*curve)


def class_pr_curve(detections: Sequence[dict], ground_truths: Sequence[dict], label: int,
                   iou_threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray] | None:
    """(recall, precision) down one class's ranked detections; None when the class has no
    non-difficult ground-truth box.

    `detections[i]`: {"boxes" (M, 4), "scores" (M,), "labels" (M,)} for image i;
    `ground_truths[i]`: {"boxes" (G, 4), "labels" (G,), optional "difficult" (G,) bool}.
    """
    scores, image_of, boxes = [], [], []
    gt_boxes, gt_difficult, claimed = [], [], []
    n_pos = 0
    for i, (det, gt) in enumerate(zip(detections, ground_truths, strict=True)):
        keep = _vector(det["labels"], torch.int64) == label
        scores.append(_vector(det["scores"], torch.float32)[keep])
        boxes.append(_boxes(det["boxes"])[keep])
        image_of += [i] * int(keep.sum())
        is_label = _vector(gt["labels"], torch.int64) == label
        difficult = _vector(gt.get("difficult", torch.zeros(len(is_label))), torch.bool)
        gt_boxes.append(_boxes(gt["boxes"])[is_label])
        gt_difficult.append(difficult[is_label])
        claimed.append(torch.zeros(int(is_label.sum()), dtype=torch.bool))
        n_pos += int((~difficult[is_label]).sum())
    if n_pos == 0:
        return None
    all_scores = torch.cat(scores)
    all_boxes = torch.cat(boxes)
    order = torch.argsort(all_scores, descending=True, stable=True)
    tp = np.zeros(len(order))
    fp = np.zeros(len(order))
    for k, d in enumerate(order.tolist()):
        img = image_of[d]
        gts = gt_boxes[img]
        if len(gts) == 0:
            fp[k] = 1
            continue
        ious = box_iou(all_boxes[d : d + 1], gts)[0]  # (G,)
        best = int(ious.argmax())
        if ious[best] > iou_threshold:
            if gt_difficult[img][best]:
                continue  # neither TP nor FP
            if not claimed[img][best]:
                claimed[img][best] = True
                tp[k] = 1
            else:
                fp[k] = 1  # a duplicate detection of an already found object
        else:
            fp[k] = 1
    tp_cum, fp_cum = np.cumsum(tp), np.cumsum(fp)
    recall = tp_cum / n_pos
    precision = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
    return recall, precision


def mean_average_precision(detections: Sequence[dict], ground_truths: Sequence[dict],
                           num_classes: int, iou_threshold: float = 0.5) -> dict[str, float]:
    """`{"map": mean AP, "ap_<label>": AP per class}` over labels 1..num_classes-1 (0 = background)."""
    result: dict[str, float] = {}
    for label in range(1, num_classes):
        ap = class_average_precision(detections, ground_truths, label, iou_threshold)
        if ap is not None:
            result[f"ap_{label}"] = ap
    aps = list(result.values())
    return {"map": float(np.mean(aps)) if aps else 0.0, **result}


@torch.no_grad()
def evaluate_detector(detect, batches, num_classes: int, class_names: Sequence[str],
                      device) -> dict[str, float]:
    """mAP@0.5 of `detect` (images (B, 3, S, S) -> one dict of "boxes", "scores", "labels" per
    image) over (images, [target]) batches: {"map50": mAP (all-point), "map50_voc07": mAP with
    VOC2007's 11-point AP, "ap_<name>": all-point AP of each class that has a ground truth},
    class_names[i] naming label i + 1."""
    detections, truths = [], []
    for images, targets in batches:
        detections += [{k: v.cpu() for k, v in d.items()} for d in detect(images.to(device))]
        truths += targets
    per_class, eleven = {}, []
    for label in range(1, num_classes):
        curve = class_pr_curve(detections, truths, label)
        if curve is not None:
            per_class[f"ap_{class_names[label - 1]}"] = average_precision(*curve)
            eleven.append(eleven_point_average_precision(*curve))
    return {"map50": float(np.mean(list(per_class.values()))) if per_class else 0.0,
            "map50_voc07": float(np.mean(eleven)) if eleven else 0.0, **per_class}
