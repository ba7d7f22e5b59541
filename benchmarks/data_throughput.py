"""Images per second of the reproductions' real-data loaders against a plain loop, same data.

    python benchmarks/data_throughput.py [--images 480] [--epochs 2] [--workers N]

Writes a folder of real JPEG files (smooth random colours and drawn shapes, 4 classes, 320x240
to 500x375 like ImageNet's and VOC's photos) and a VOC-style folder (JPEGImages/, Annotations/
with boxes, ImageSets/Main/trainval.txt), then times whole epochs (worker start-up included):

- ImageFolder: `reproductions.common.data.image_folder_loaders`' training loader (random
  resized crop 224, flip, normalise; `loader_settings`: worker processes, prefetch, persistent
  workers) against `DataLoader(ImageFolder(root, same transforms), shuffle=True)`, the plain
  torchvision loop;
- VOC with boxes: `reproductions.common.detection_data.loaders` over `VOCBoxes` (SSD's 300x300
  input, flips) against the same dataset in a plain single-process DataLoader.

Each row prints images/s and the ratio to its plain loop measured in the same run (goal >= 1.0).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _photo(rng: random.Random, size: tuple[int, int]):
    """A JPEG-like picture: a smooth colour gradient with a few filled shapes."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = size
    base = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    tint = Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3)))
    img = Image.blend(base, tint, 0.6)
    draw = ImageDraw.Draw(img)
    boxes = []
    for _ in range(rng.randint(1, 4)):
        x0, y0 = rng.randrange(w - 40), rng.randrange(h - 40)
        x1, y1 = rng.randint(x0 + 20, min(w - 1, x0 + w // 2)), rng.randint(y0 + 20, min(h - 1, y0 + h // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
        boxes.append((x0 + 1, y0 + 1, x1 + 1, y1 + 1))
    return img.filter(ImageFilter.GaussianBlur(1)), boxes


def make_image_folder(root: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for part, count in (("train", n), ("val", max(8, n // 10))):
        for k in range(count):
            folder = root / part / f"class{k % 4}"
            folder.mkdir(parents=True, exist_ok=True)
            img, _ = _photo(rng, rng.choice([(320, 240), (500, 375), (400, 300)]))
            img.save(folder / f"{k:05d}.jpeg", quality=90)


def make_voc(root: Path, n: int, seed: int) -> None:
    from reproductions.common.detection_data import VOC_CLASSES

    rng = random.Random(seed)
    voc = root / "VOCdevkit" / "VOC2007"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    ids = []
    for k in range(n):
        name = f"{k:06d}"
        img, boxes = _photo(rng, rng.choice([(500, 375), (375, 500), (500, 333)]))
        img.save(voc / "JPEGImages" / f"{name}.jpg", quality=90)
        objects = "".join(
            f"<object><name>{rng.choice(VOC_CLASSES)}</name><difficult>0</difficult><bndbox>"
            f"<xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax>"
            f"</bndbox></object>" for b in boxes)
        (voc / "Annotations" / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.jpg</filename><size><width>{img.width}</width>"
            f"<height>{img.height}</height><depth>3</depth></size>{objects}</annotation>")
        ids.append(name)
    (voc / "ImageSets" / "Main" / "trainval.txt").write_text("\n".join(ids) + "\n")


def images_per_second(loader, epochs: int) -> float:
    """Whole epochs, the loader's worker start-up included, images counted from the batches."""
    started, images = time.perf_counter(), 0
    for _ in range(epochs):
        for batch in loader:
            images += len(batch[0])
    return images / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=480)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, help="worker processes (default: loader_settings)")
    args = parser.parse_args(argv)

    import torch
    import torchvision.transforms as T
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    from reproductions.common import data as D
    from reproductions.common import detection_data as DD

    torch.set_num_threads(1)  # as under `reproductions run --threads 1`; workers add processes
    settings = D.loader_settings(args.workers)
    print(f"{os.cpu_count()} cores; loader settings: {settings}; {args.images} images, "
          f"{args.epochs} epochs, batch {args.batch_size}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder, voc = Path(tmp) / "imagenet-like", Path(tmp) / "voc"
        make_image_folder(folder, args.images, seed=0)
        make_voc(voc, args.images, seed=1)

        train, _ = D.image_folder_loaders(folder, args.batch_size, seed=0, workers=args.workers)
        plain_tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                              T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
        plain = DataLoader(ImageFolder(str(folder / "train"), plain_tf), args.batch_size,
                           shuffle=True, drop_last=True)
        reference = images_per_second(plain, args.epochs)
        ours = images_per_second(train, args.epochs)
        rows.append(("ImageFolder JPEG, crop 224 + flip", ours, reference))

        dataset = DD.VOCBoxes(str(voc), "2007", "trainval", 300, train=True)
        voc_train, _ = DD.loaders(dataset, dataset, args.batch_size, seed=0, workers=args.workers)
        voc_plain = DataLoader(dataset, args.batch_size, shuffle=True, collate_fn=DD.collate)
        reference = images_per_second(voc_plain, args.epochs)
        ours = images_per_second(voc_train, args.epochs)
        rows.append(("VOC JPEG + XML boxes, 300x300 + flip", ours, reference))

    print("\n| loader | ours (images/s) | plain loop (images/s) | ratio | goal >= 1.0 |")
    print("|---|---|---|---|---|")
    for name, ours, reference in rows:
        ratio = ours / reference
        print(f"| {name} | {ours:.0f} | {reference:.0f} | {ratio:.2f}x | "
              f"{'met' if ratio >= 1.0 else 'missed'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
