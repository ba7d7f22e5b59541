"""Detection data: generated images of shapes (no download) and PASCAL VOC through torchvision.

Both give `(image (3, S, S), target)` pairs, target = {"boxes" (G, 4) as (x1, y1, x2, y2) in
[0, 1], "labels" (G,) with 0 kept for the background}; VOC targets also carry the `difficult`
flags that `detection_metrics` skips. `collate` batches them as (images (B, 3, S, S), [target]).
Used by SSD (`reproductions.ssd`): the miniature's shapes and its real data (`data_root`).
"""

from __future__ import annotations

import functools

import torch
from torchvision.ops import box_iou

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep",
               "sofa", "train", "tvmonitor")  # label i + 1; 0 is the background
SHAPES = ("square", "circle", "triangle")  # the generated images' classes, labels 1..3
VGG_MEAN = (0.48235, 0.45882, 0.40784)  # torchvision's SSD300: pixels in 0..255 minus the mean


# --- generated shapes ---------------------------------------------------------------------------
def draw_shape(draw, kind: int, x0: int, y0: int, side: int, fill) -> None:
    """Draw shape `kind` (an index into SHAPES) filling the `side`-pixel square at (x0, y0) with
    PIL's `draw`: its box is [x0, y0, x0 + side, y0 + side] (PIL draws both end points)."""
    x1, y1 = x0 + side - 1, y0 + side - 1
    if SHAPES[kind] == "square":
        draw.rectangle([x0, y0, x1, y1], fill=fill)
    elif SHAPES[kind] == "circle":
        draw.ellipse([x0, y0, x1, y1], fill=fill)
    else:
        draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) / 2, y0)], fill=fill)


def draw_shapes(n: int, image_size: int, seed: int) -> list[tuple[torch.Tensor, dict]]:
    """`n` generated images (3, S, S) in [0, 1] with 1-3 non-overlapping filled shapes each, and
    their targets {"boxes" (G, 4) (x1, y1, x2, y2) in [0, 1], "labels" (G,) in 1..3}."""
    from PIL import Image, ImageDraw
    from torchvision.transforms.functional import pil_to_tensor

    gen = torch.Generator().manual_seed(seed)

    def randint(low: int, high: int) -> int:  # inclusive, like random.randint
        return int(torch.randint(low, high + 1, (), generator=gen))

    out = []
    for _ in range(n):
        bg = tuple(randint(0, 90) for _ in range(3))
        img = Image.new("RGB", (image_size, image_size), bg)
        draw = ImageDraw.Draw(img)
        boxes: list[list[float]] = []
        labels: list[int] = []
        for _ in range(randint(1, 3)):
            for _attempt in range(20):  # place without overlapping an earlier shape
                side = randint(image_size * 5 // 32, image_size * 9 // 16)  # 10-36 px at 64
                x0, y0 = randint(0, image_size - side), randint(0, image_size - side)
                box = [x0, y0, x0 + side, y0 + side]
                if all(box_iou(torch.tensor([box], dtype=torch.float32),
                               torch.tensor([b], dtype=torch.float32) * image_size).item() == 0
                       for b in boxes):
                    break
            else:
                continue
            kind = randint(0, len(SHAPES) - 1)
            colour = tuple(randint(120, 255) for _ in range(3))
            draw_shape(draw, kind, x0, y0, side, colour)
            boxes.append([v / image_size for v in box])
            labels.append(kind + 1)
        x = pil_to_tensor(img).float() / 255  # (3, S, S)
        x = (x + 0.03 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
        out.append((x, {"boxes": torch.tensor(boxes, dtype=torch.float32).view(-1, 4),
                        "labels": torch.tensor(labels, dtype=torch.int64)}))
    return out


@functools.lru_cache(maxsize=4)
def centred_shapes(n: int, image_size: int, seed: int) -> tuple[tuple[torch.Tensor, dict], ...]:
    """`draw_shapes` with pixels centred to [-0.5, 0.5]; cached, so a run's variants share it."""
    return tuple((x - 0.5, t) for x, t in draw_shapes(n, image_size, seed))


# --- PASCAL VOC ---------------------------------------------------------------------------------
class VOCBoxes(torch.utils.data.Dataset):
    """`torchvision.datasets.VOCDetection` as (image (3, S, S), target) pairs: boxes in [0, 1],
    labels 1..20, `difficult` flags; horizontal flips when training (SSD, Sec. 2.2). Pixels are
    0..255 minus `VGG_MEAN` * 255, as torchvision's SSD300 feeds its VGG-16."""

    def __init__(self, root: str, year: str, split: str, image_size: int, train: bool):
        from torchvision.datasets import VOCDetection

        from reproductions.common.config import ConfigError

        try:
            self.voc = VOCDetection(root, year=year, image_set=split, download=False)
        except (RuntimeError, ValueError) as err:  # not found, or an unknown year/split
            raise ConfigError(f"VOC{year} {split} not found under {root} ({err}); point "
                              "data_root at the folder holding VOCdevkit/") from None
        self.image_size, self.train = image_size, train

    def __len__(self) -> int:
        return len(self.voc)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict]:
        from torchvision.transforms.functional import pil_to_tensor, resize

        img, ann = self.voc[i]
        w, h = img.size
        objects = ann["annotation"]["object"]
        boxes = torch.tensor([[float(o["bndbox"][k]) for k in ("xmin", "ymin", "xmax", "ymax")]
                              for o in objects], dtype=torch.float32).view(-1, 4)
        boxes = (boxes - torch.tensor([1.0, 1.0, 0.0, 0.0])) / torch.tensor([w, h, w, h])  # 1-based
        target = {"boxes": boxes,
                  "labels": torch.tensor([VOC_CLASSES.index(o["name"]) + 1 for o in objects],
                                         dtype=torch.int64),
                  "difficult": torch.tensor([o.get("difficult", "0") == "1" for o in objects],
                                            dtype=torch.bool)}
        x = pil_to_tensor(resize(img, [self.image_size, self.image_size])).float()  # (3, S, S)
        x = x - torch.tensor(VGG_MEAN).view(3, 1, 1) * 255
        if self.train and torch.rand(()) < 0.5:  # SSD, Sec. 2.2: horizontal flip
            x = x.flip(-1)
            target["boxes"] = torch.stack([1 - boxes[:, 2], boxes[:, 1], 1 - boxes[:, 0],
                                           boxes[:, 3]], 1)
        return x, target


# --- batches ------------------------------------------------------------------------------------
def collate(items) -> tuple[torch.Tensor, list[dict]]:
    """[(image, target)] -> (images (B, 3, S, S), [target])."""
    return torch.stack([x for x, _ in items]), _Targets(t for _, t in items)


class _Targets(list):
    """A batch's targets, `[{"boxes": (n, 4), "labels": (n,), ...}]`, that leave a DataLoader
    worker as one tensor per key for the whole batch: each tensor crossing processes is its own
    shared-memory segment, and three per image (boxes, labels, difficult flags) cost VOC
    loading more than decoding did. The main process gets a plain list of dicts of views."""

    def __reduce__(self):
        keys = list(self[0]) if self else []
        packable = keys and all(
            list(t) == keys and all(isinstance(t[k], torch.Tensor) and t[k].dim() >= 1
                                    and len(t[k]) == len(t[keys[0]])
                                    and t[k].dtype == self[0][k].dtype for k in keys)
            for t in self)
        if not packable:
            return list, (list(self),)
        counts = [len(t[keys[0]]) for t in self]
        return _unpack_targets, (keys, counts, [torch.cat([t[k] for t in self]) for k in keys])


def _unpack_targets(keys: list[str], counts: list[int], columns: list[torch.Tensor]) -> list:
    split = [torch.split(c, counts) for c in columns]
    return [{k: split[j][i] for j, k in enumerate(keys)} for i in range(len(counts))]


def loaders(train, test, batch_size: int, seed: int, workers: int | None = None):
    """(training batches, test batches of 64 images), each (images (B, 3, S, S), [target]); the
    training batches are shuffled by `seed`, the same order in every process. VOC images are
    decoded in `data.loader_settings(workers)` processes; generated shapes are in memory."""
    from torch.utils.data import DataLoader

    from reproductions.common.data import loader_settings

    settings = loader_settings(workers) if isinstance(train, VOCBoxes) else {}
    g = torch.Generator().manual_seed(seed)
    train_batches = DataLoader(train, batch_size, shuffle=True, collate_fn=collate,
                               drop_last=len(train) >= batch_size, generator=g, **settings)
    return train_batches, DataLoader(test, 64, collate_fn=collate, **settings)
