"""A checkpoint against the paper's table: `python -m reproductions evaluate NAME --weights FILE
--data DIR`.

The weights are a file the user passes (nothing is downloaded): a run's own checkpoint
(`checkpoints/VARIANT.pt`), or a reference state dict whose names our module shares
(torchvision's and timm's ImageNet classifiers for alexnet, resnet, vgg, googlenet, densenet,
resnext, vit, swin) or maps (open_clip / OpenAI CLIP: `common.open_clip_weights`). They are read
with `torch.load(weights_only=True)`: a file is data, never code.

Protocols:
- ImageNet classifiers on an ImageFolder (`DIR/val/<wnid>/*.JPEG`, or `DIR/<wnid>/...`; class
  index = the sorted folder names, ImageNet's standard order): top-1 and top-5 accuracy and
  error (%), on one centre crop (`center-crop`: the shorter side resized to `resize`, the centre
  `size` x `size` cut out) or on ten crops (`ten-crop`: the four corners and the centre, and their
  mirror images, softmax averaged: AlexNet Sec. 4.1, ResNet Table 3).
- CLIP: zero-shot top-1/top-5 on the same kind of folder with the paper's 80 ImageNet prompts
  averaged in embedding space (Sec. 3.1.4; the prompts and ImageNet class names as `open_clip`
  ships them); other folders' class names are their folder names.
- Any other module (SSD's VOC mAP, the Transformer's BLEU with its beam search): the module's own
  `evaluate` on `build_data` with `data_root = DIR`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from reproductions.common.config import ConfigError, config_from_dict
from reproductions.common.trainer import CHECKPOINT_FORMAT

IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
PROTOCOLS = ("center-crop", "ten-crop")


@dataclass(frozen=True)
class Pixels:
    """How a network's ImageNet weights expect their input: crop `size`, the shorter side first
    resized to `resize`, the interpolation and the normalisation."""

    size: int = 224
    resize: int = 256
    interpolation: str = "bilinear"
    mean_std: tuple = IMAGENET_MEAN_STD
    fixed_size: bool = False  # the network takes only its Config's image_size (fc layers,
    # position embeddings); else it pools globally and takes `size`


# The torchvision convention (resize 256, crop 224) unless the reference model says otherwise
# (timm's pretrained_cfg: crop_pct 0.9, bicubic; ViT normalises to [-1, 1]; CLIP's own).
PIXELS = {
    "alexnet": Pixels(fixed_size=True), "vgg": Pixels(fixed_size=True), "resnet": Pixels(),
    "googlenet": Pixels(), "densenet": Pixels(), "resnext": Pixels(),
    "vit": Pixels(resize=248, interpolation="bicubic", mean_std=((0.5,) * 3, (0.5,) * 3),
                  fixed_size=True),
    "swin": Pixels(resize=248, interpolation="bicubic", fixed_size=True),
    "clip": Pixels(resize=224, interpolation="bicubic", fixed_size=True,
                   mean_std=((0.48145466, 0.4578275, 0.40821073),
                             (0.26862954, 0.26130258, 0.27577711))),
}


def pixels_for(name: str, cfg, resize: int | None = None) -> Pixels | None:
    """The module's pixel convention, at the Config's image size for a network that takes only
    that size (AlexNet's 227, a small CLIP's 32; the resize scaled with it)."""
    pixels = PIXELS.get(name)
    if pixels is None:
        return None
    size = getattr(cfg, "image_size", pixels.size) if pixels.fixed_size else pixels.size
    return Pixels(size, resize or round(pixels.resize * size / pixels.size),
                  pixels.interpolation, pixels.mean_std, pixels.fixed_size)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """`(state dict, our checkpoint's header or None)` from a weights file; ConfigError with
    one line for a file that is missing, unreadable, or not a state dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--weights {path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, truncated zips, code-bearing pickles
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"--weights {path}: not a weights file torch can read safely "
                          f"({first[:160]})") from None
    header = None
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        header, obj = obj, obj["model"]
    elif isinstance(obj, dict):
        for key in ("state_dict", "model", "module"):  # common wrappers (timm, DeiT, Lightning)
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise ConfigError(f"--weights {path}: not a state dict (a mapping of names to tensors)")
    if all(k.startswith("module.") for k in obj):  # saved from a DistributedDataParallel wrapper
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj, header


def _clip_names(state: dict) -> bool:
    return any(k.startswith(("visual.transformer.resblocks.", "transformer.resblocks."))
               for k in state)


def mismatch(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> str:
    """'' when `state` fits `model` name for name and shape, else what does not fit."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    parts = []
    for what, keys in (("missing", missing), ("unexpected", unexpected),
                       ("of another shape", shapes)):
        if keys:
            parts.append(f"{len(keys)} {what} (e.g. {', '.join(keys[:2])})")
    return "; ".join(parts)


def fitting_presets(module, state: dict[str, torch.Tensor]) -> list[str]:
    """The presets whose network takes `state` as it is (built on the meta device: no memory)."""
    return [preset for preset, cfg in module.PRESETS.items()
            if (model := _meta_model(module, cfg)) is not None and not mismatch(model, state)]


def _meta_model(module, cfg) -> torch.nn.Module | None:
    """The preset's network without memory; None for one that cannot be built that way (a
    network sized from its data)."""
    try:
        with torch.device("meta"):
            return module.build_model(cfg)
    except (ConfigError, RuntimeError, ValueError, TypeError, NotImplementedError, OSError):
        return None


def load_into(name: str, module, preset: str, model: torch.nn.Module,
              state: dict[str, torch.Tensor], path: Path) -> None:
    """Load `state` into `model`: CLIP's OpenAI/open_clip names are mapped; every other module
    must match name for name and shape (strict), or a ConfigError says what does not fit and
    which presets would take these weights."""
    if name == "clip" and _clip_names(state):
        from reproductions.common.open_clip_weights import load_open_clip_state_dict

        try:
            load_open_clip_state_dict(model, state)
        except RuntimeError as err:
            raise ConfigError(f"--weights {path.name} does not fit {name} --preset {preset}: "
                              f"{str(err).splitlines()[0][:200]}") from None
        return
    problem = mismatch(model, state)
    if problem:
        fits = [p for p in fitting_presets(module, state) if p != preset]
        hint = f"; it fits --preset {', '.join(fits)}" if fits else ""
        raise ConfigError(f"--weights {path.name} does not fit {name} --preset {preset}: "
                          f"{problem}{hint}")
    model.load_state_dict(state)


def image_folder(data: str | Path) -> Path:
    root = Path(data)
    root = root / "val" if (root / "val").is_dir() else root
    if not root.is_dir():
        raise ConfigError(f"--data {data}: no such folder")
    if not any(p.is_dir() for p in root.iterdir()):
        raise ConfigError(f"--data {data}: expected one folder per class (ImageNet val: "
                          "val/<wnid>/*.JPEG)")
    return root


def _transform(pixels: Pixels, protocol: str):
    import torchvision.transforms as T

    interpolation = getattr(T.InterpolationMode, pixels.interpolation.upper())
    norm = T.Compose([T.ToTensor(), T.Normalize(*pixels.mean_std)])
    resize = T.Resize(pixels.resize, interpolation=interpolation)
    if protocol == "ten-crop":  # (10, 3, S, S): corners, centre, and their mirrors
        return T.Compose([resize, T.TenCrop(pixels.size),
                          T.Lambda(lambda crops: torch.stack([norm(c) for c in crops]))])
    return T.Compose([resize, T.CenterCrop(pixels.size), norm])


def _subset(dataset, limit: int | None):
    """Every k-th image so that `limit` images still span every class (the folder is sorted)."""
    if not limit or limit >= len(dataset):
        return dataset
    step = math.ceil(len(dataset) / limit)
    return torch.utils.data.Subset(dataset, list(range(0, len(dataset), step))[:limit])


def _topk(probs_of: Callable[[torch.Tensor], torch.Tensor], loader, progress=None) -> dict:
    """Top-1 / top-5 accuracy and error in % of `probs_of(images) -> (B, classes)`."""
    top1 = top5 = n = 0
    for images, labels in loader:
        probs = probs_of(images)
        best = probs.topk(min(5, probs.shape[-1]), dim=-1).indices.cpu()
        top1 += (best[:, 0] == labels).sum().item()
        top5 += (best == labels[:, None]).any(1).sum().item()
        n += len(labels)
        if progress is not None:
            progress(n)
    if n == 0:
        raise ConfigError("the data folder holds no image")
    acc1, acc5 = 100.0 * top1 / n, 100.0 * top5 / n
    return {"top1_accuracy": acc1, "top5_accuracy": acc5, "top1_error": 100.0 - acc1,
            "top5_error": 100.0 - acc5, "images": float(n)}


def _loader(data, pixels: Pixels, protocol: str, batch_size: int, limit: int | None):
    from torchvision.datasets import ImageFolder

    from reproductions.common.data import loader_settings

    dataset = ImageFolder(str(image_folder(data)), _transform(pixels, protocol))
    settings = loader_settings()
    settings.pop("persistent_workers", None)  # one pass
    return dataset.classes, torch.utils.data.DataLoader(
        _subset(dataset, limit), batch_size=batch_size, **settings)


@torch.no_grad()
def classify(model: torch.nn.Module, data, pixels: Pixels, protocol: str = "center-crop",
             batch_size: int = 64, limit: int | None = None, progress=None) -> dict[str, float]:
    """An ImageNet classifier's top-1/top-5 on an ImageFolder, centre crop or ten crops."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"--protocol {protocol}: expected one of {', '.join(PROTOCOLS)}")
    classes, loader = _loader(data, pixels, protocol, batch_size, limit)
    device = next(model.parameters()).device
    model.eval()

    def probs_of(images):
        if images.dim() == 5:  # ten crops: average the softmax over them
            b, k = images.shape[:2]
            logits = model(images.flatten(0, 1).to(device)).float()
            out = logits.softmax(-1).view(b, k, -1).mean(1)
        else:
            out = model(images.to(device)).float().softmax(-1)
        if out.shape[-1] < len(classes):
            raise ConfigError(f"the folder has {len(classes)} classes, the network only "
                              f"{out.shape[-1]} outputs")
        return out

    return _topk(probs_of, loader, progress)


@torch.no_grad()
def clip_zero_shot(model, data, pixels: Pixels, batch_size: int = 64, limit: int | None = None,
                   progress=None) -> dict[str, float]:
    """CLIP zero-shot top-1/top-5 with the paper's 80-prompt ensemble (Sec. 3.1.4)."""
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES, OPENAI_IMAGENET_TEMPLATES

    from reproductions import clip
    from reproductions.common.text_tokenizers import bpe_tokenizer

    classes, loader = _loader(data, pixels, "center-crop", batch_size, limit)
    names = (list(IMAGENET_CLASSNAMES) if len(classes) == len(IMAGENET_CLASSNAMES)
             else [c.replace("_", " ") for c in classes])
    templates = [t("{}") for t in OPENAI_IMAGENET_TEMPLATES]  # "a bad photo of a {}."
    model.eval()
    classifier = clip.zero_shot_classifier(model, names, templates, bpe_tokenizer())
    return _topk(lambda images: clip.image_features(model, images) @ classifier.cpu(),
                 loader, progress)


@torch.no_grad()
def module_metrics(module, model, cfg) -> dict[str, float]:
    """The module's own evaluation on its data (SSD's mAP, the Transformer's BLEU, ...)."""
    data = module.build_data(cfg)
    model.eval()
    return {k: float(v) for k, v in module.evaluate(model, data[1], cfg).items()}


def config_for(module, preset: str, header: dict | None, data: str | Path | None):
    """The Config to rebuild: the checkpoint's own (it says which Config built it) or the
    preset's, with `data_root` set to `data` (when given) where the Config has one."""
    import dataclasses

    cfg = (config_from_dict(module.Config, header["config"]) if header is not None
           else module.PRESETS[preset])
    if data is not None and any(f.name == "data_root" for f in dataclasses.fields(cfg)):
        cfg = dataclasses.replace(cfg, data_root=str(data))
    return cfg
