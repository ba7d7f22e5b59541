"""Image-caption pairs read from a folder: real data for contrastive image-text training (CLIP).

Layout of `data_root`: `train/captions.tsv` and `val/captions.tsv`. Each line of a captions file
is `<image file>\\t<caption>`: the image's path relative to that folder (`images/0001.jpg`), one
tab, the caption (UTF-8, no tabs). Blank lines are skipped and an optional first line
`image\\tcaption` is a header; no header is needed. An image with several captions is listed on
several lines (COCO-style). Every listed image must exist; any format PIL reads will do.

Only the captions file is read up front; `CaptionPairs` opens an image when it is asked for one,
so folders of any size work, with DataLoader workers decoding in parallel. `caption_data` builds
a run's training DataLoader and val pairs from a config's `data_root`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch

from reproductions.common.config import ConfigError

log = logging.getLogger("reproductions")
CAPTIONS_FILE = "captions.tsv"
FORMAT = "one '<image file relative to the folder>\\t<caption>' per line"
Tokenize = Callable[[list[str], int], torch.Tensor]  # (texts, context_length) -> (N, T) ids


def read_captions(folder: str | Path) -> tuple[list[Path], list[str]]:
    """`(image paths, captions)` listed in `folder/captions.tsv`, one entry per line, in order.

    Raises a one-line ConfigError for a missing folder or file, a malformed line (file:line),
    an image that does not exist, or a file without pairs."""
    folder = Path(folder)
    path = folder / CAPTIONS_FILE
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder; data_root must hold train/{CAPTIONS_FILE} "
                          f"and val/{CAPTIONS_FILE} ({FORMAT})")
    if not path.is_file():
        raise ConfigError(f"{path} not found; each of data_root's train/ and val/ needs a "
                          f"{CAPTIONS_FILE} ({FORMAT})")
    files, captions = [], []
    try:
        with path.open(encoding="utf-8") as lines:
            for n, line in enumerate(lines, 1):
                line = line.rstrip("\r\n")
                if not line.strip() or (n == 1 and line.strip().lower() == "image\tcaption"):
                    continue
                fields = [f.strip() for f in line.split("\t")]
                problem = ("no tab between image file and caption" if len(fields) == 1 else
                           f"{len(fields) - 1} tabs (captions cannot hold tabs)" if len(fields) > 2 else
                           "empty image file name" if not fields[0] else
                           "empty caption" if not fields[1] else None)
                if problem:
                    raise ConfigError(f"{path}:{n}: {problem}; expected {FORMAT}, got {line[:80]!r}")
                image = folder / fields[0]
                if not image.is_file():
                    raise ConfigError(f"{path}:{n}: image {image} does not exist")
                files.append(image)
                captions.append(fields[1])
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text ({err}); expected {FORMAT}") from None
    if not files:
        raise ConfigError(f"{path} holds no image-caption pairs; expected {FORMAT}")
    return files, captions


def image_transform(size: int, mean, std, train: bool):
    """PIL image -> (3, size, size) normalised tensor. Resize the shorter side to `size`
    (bicubic, as OpenAI's and open_clip's preprocessing), then a random square crop when
    training (CLIP Sec. 2.3: "the only data augmentation") or the centre crop otherwise."""
    import torchvision.transforms as T

    crop = T.RandomCrop(size) if train else T.CenterCrop(size)
    return T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC), crop,
                      T.ToTensor(), T.Normalize(mean, std)])


class CaptionPairs(torch.utils.data.Dataset):
    """Item i: (image (3, H, W) from `transform`, caption token ids (T,)); files read lazily."""

    def __init__(self, files: list[Path], captions: list[str], transform, tokenize: Tokenize,
                 context_length: int):
        self.files, self.captions = files, captions
        self.transform, self.tokenize, self.context_length = transform, tokenize, context_length

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        from PIL import Image

        try:
            with Image.open(self.files[i]) as image:
                pixels = self.transform(image.convert("RGB"))  # grey, palette, RGBA -> RGB
        except OSError as err:  # PIL's UnidentifiedImageError, a truncated file, ...
            raise ConfigError(f"{self.files[i]}: cannot read the image ({err})") from None
        return pixels, self.tokenize([self.captions[i]], self.context_length)[0]


def caption_data(cfg, tokenize: Tokenize, mean, std, n_val: int):
    """(train DataLoader of (images, tokens), the first `n_val` val pairs) read from
    `cfg.data_root`; images are decoded lazily, by `cfg.num_workers`. With `cfg.shuffle_captions`
    the training captions are shuffled across images (a control). `mean`, `std`: the model's
    pixel normalisation."""
    root = Path(cfg.data_root)
    files, texts = read_captions(root / "train")
    val_files, val_texts = read_captions(root / "val")
    if cfg.batch_size > len(files):
        raise ConfigError(f"clip: batch_size {cfg.batch_size} exceeds the {len(files)} training pairs "
                          f"in {root / 'train' / CAPTIONS_FILE}; lower batch_size")
    if cfg.shuffle_captions:  # the control, as on generated data
        order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
        texts = [texts[i] for i in order]
    train = CaptionPairs(files, texts, image_transform(
        cfg.image_size, mean, std, train=True), tokenize, cfg.context_length)
    n = min(n_val, len(val_files))
    val = CaptionPairs(val_files[:n], val_texts[:n], image_transform(
        cfg.image_size, mean, std, train=False), tokenize, cfg.context_length)
    loader = torch.utils.data.DataLoader(
        train, batch_size=cfg.batch_size, shuffle=True, drop_last=True, num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0, generator=torch.Generator().manual_seed(cfg.seed))
    log.info("clip: %d training pairs, %d val pairs for retrieval from %s", len(train), n, root)
    return loader, val
