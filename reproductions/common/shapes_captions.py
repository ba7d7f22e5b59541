"""Generated pictures of coloured shapes with captions ("a picture of a red circle"): the CLIP
miniature's world (`reproductions.clip`), no download.

Four colours x five shapes = 20 classes, class index = colour * 5 + shape. Captions come from
six training templates. Four colour-shape combinations (`UNSEEN`: red and green circles and
squares) never appear in training, though each of their colours and shapes does. They form a
2 x 2 block: each shares its colour with one other unseen class and its shape with another, so
telling the four apart needs the combination (colour alone, or shape alone, is right at most
half the time). Backgrounds are a dark grey, darker than every colour, so a shape's outline shows
in brightness whatever its colour: shape can be learned apart from colour (on the mid-grey of an
earlier version, red and green were as bright as the background and a small ViT learned shape
per colour). `generated_data(cfg)` gives the miniature's training batches and held-out
images, and a few labelled images of the unseen classes for a k-shot linear probe.
"""

from __future__ import annotations

import re

import torch

from reproductions.common.config import ConfigError
from reproductions.common.text_tokenizers import tokenizer_for

COLOURS = {"red": (0.9, 0.1, 0.1), "green": (0.1, 0.8, 0.2), "blue": (0.15, 0.25, 0.95),
           "yellow": (0.95, 0.85, 0.1)}
SHAPES = ("circle", "square", "triangle", "cross", "ring")
CLASSES = [f"{c} {s}" for c in COLOURS for s in SHAPES]  # 20 classes, index = c * 5 + s
UNSEEN = [0, 1, 5, 6]  # red circle, red square, green circle, green square: a 2 x 2 block of
# combinations; red and green are seen with triangles, crosses and rings, circles and squares in
# blue and yellow
PROBE_SHOTS = 16  # labelled images per unseen class set aside for the k-shot linear probe
TRAIN_TEMPLATES = ("a {c} {s}", "a picture of a {c} {s}", "an image showing a {c} {s}",
                   "there is a {c} {s}", "the {s} is {c}", "a {s} coloured {c}")
MINI_WORDS = sorted({*COLOURS, *SHAPES, *re.sub(r"\{\w\}", " ", " ".join(TRAIN_TEMPLATES)).split()})


def draw_shapes(labels: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Images (N, 3, size, size) in [0, 1] of one coloured shape each (class = colour * 5 + shape)
    at a random position and size on a noisy dark grey background, with jittered colours."""
    n = len(labels)
    u = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    r = size * (0.28 + 0.14 * u(n, 1, 1))  # (N, 1, 1) radius
    cy, cx = (r + (size - 2 * r) * u(n, 1, 1) for _ in range(2))
    yy, xx = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    dy, dx = yy - cy, xx - cx  # (N, size, size)
    dist = (dy**2 + dx**2).sqrt()
    masks = torch.stack([
        dist <= r,  # circle
        (dy.abs() <= 0.8 * r) & (dx.abs() <= 0.8 * r),  # square
        (dy <= 0.8 * r) & (dx.abs() <= (dy + r) * 0.55),  # triangle, pointing up
        ((dy.abs() <= r / 3) & (dx.abs() <= r)) | ((dx.abs() <= r / 3) & (dy.abs() <= r)),  # cross
        (dist <= r) & (dist >= 0.55 * r),  # ring
    ], dim=1)  # (N, 5, size, size)
    shape = masks[torch.arange(n), labels % len(SHAPES)].unsqueeze(1).float()  # (N, 1, size, size)
    colour = torch.tensor(list(COLOURS.values()))[labels // len(SHAPES)]  # (N, 3)
    colour = (colour + 0.1 * (u(n, 3) - 0.5))[:, :, None, None]  # (N, 3, 1, 1)
    background = 0.1 + 0.2 * u(n, 1, 1, 1) + 0.05 * torch.randn(n, 3, size, size, generator=generator)
    return (shape * colour + (1 - shape) * background).clamp(0, 1)


def object_mask(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, H, W) bool: the shape's pixels, told from the grey background by
    their saturation (every class colour has max - min channel >= 0.6, the noisy grey rarely 0.2)."""
    return images.amax(1) - images.amin(1) > 0.35


def training_pairs(cfg, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """`cfg.n_train` images of the 16 seen classes, their labels, and a caption for each from a
    random training template (shuffled across images for the control, `cfg.shuffle_captions`)."""
    seen = torch.tensor([k for k in range(len(CLASSES)) if k not in UNSEEN])
    labels = seen[torch.randint(len(seen), (cfg.n_train,), generator=gen)]  # (N,)
    templates = torch.randint(len(TRAIN_TEMPLATES), (cfg.n_train,), generator=gen).tolist()
    captions = []
    for k, t in zip(labels.tolist(), templates, strict=True):
        colour, shape = CLASSES[k].split()
        captions.append(TRAIN_TEMPLATES[t].format(c=colour, s=shape))
    images = draw_shapes(labels, cfg.image_size, gen)
    if cfg.shuffle_captions:  # the control: the same captions, paired with the wrong images
        captions = [captions[i] for i in torch.randperm(cfg.n_train, generator=gen).tolist()]
    return images, labels, captions


def held_out_images(n_per_class: int, size: int, seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """New images and labels, `n_per_class` of each class: {"seen": the 16 training classes,
    "unseen": the 4 combinations never shown in training}, and "shots": `PROBE_SHOTS` more of
    each unseen class, the labelled examples a k-shot linear probe may learn from."""
    gen = torch.Generator().manual_seed(seed)
    seen_y = torch.tensor([k for k in range(len(CLASSES)) if k not in UNSEEN])
    seen_y = seen_y.repeat_interleave(n_per_class)
    unseen_y = torch.tensor(UNSEEN).repeat_interleave(n_per_class)
    shots_y = torch.tensor(UNSEEN).repeat_interleave(PROBE_SHOTS)
    return {"seen": (draw_shapes(seen_y, size, gen), seen_y),
            "unseen": (draw_shapes(unseen_y, size, gen), unseen_y),
            "shots": (draw_shapes(shots_y, size, gen), shots_y)}


def held_out_for(cfg) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The held-out images of a run (`held_out_images`), drawn apart from its training images."""
    return held_out_images(cfg.n_eval_per_class, cfg.image_size, cfg.seed + 1_000_003)


def generated_data(cfg):
    """(train DataLoader of (images, tokens), held-out images and labels): `cfg.n_train` captioned
    training images (`training_pairs`, tokenized by `tokenizer_for(cfg, MINI_WORDS)`), and
    `held_out_for(cfg)`: the 16 seen classes, the 4 unseen ones, and the probe's shots."""
    gigabytes = cfg.n_train * 3 * cfg.image_size**2 * 4 / 1e9
    if gigabytes > 4:
        raise ConfigError(f"clip: {cfg.n_train} generated {cfg.image_size}x{cfg.image_size} images "
                          f"need {gigabytes:.1f} GB; lower n_train or image_size (--set n_train=2000)")
    if cfg.batch_size > cfg.n_train:
        raise ConfigError(f"clip: batch_size {cfg.batch_size} exceeds n_train {cfg.n_train}; "
                          "lower batch_size or raise n_train")
    images, _, captions = training_pairs(cfg, torch.Generator().manual_seed(cfg.seed))
    tokens = tokenizer_for(cfg, MINI_WORDS)(captions, cfg.context_length)  # (N, T)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(images, tokens), batch_size=cfg.batch_size, shuffle=True,
        drop_last=True, generator=torch.Generator().manual_seed(cfg.seed))
    return loader, held_out_for(cfg)
