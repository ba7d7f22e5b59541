"""An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale (Dosovitskiy et
al., 2020): the Vision Transformer (ViT).

https://arxiv.org/abs/2010.11929

The image is cut into P x P patches, each flattened and linearly projected to D dimensions; a
learnable [class] token is prepended and learned position embeddings are added (Eq. 1). A
standard pre-norm Transformer encoder follows (Eq. 2, 3), and the class token's final state,
layer-normalised, is classified by a linear head (Eq. 4).

The paper's claim about data (Sec. 1, 4.2-4.3, Fig. 3-4): lacking a CNN's inductive biases
(locality, translation equivariance), a ViT loses to ResNets of comparable cost on small data
and closes the gap, then overtakes, as the pre-training set grows ("large scale training trumps
inductive bias").

Presets: `paper` = ViT-B/16 (86,567,656 parameters with a 1000-class head; Table 1), `vit-l16`
(304,326,632) and `vit-h14` (632,045,800), all with `timm.create_model("vit_base_patch16_224")`'s
parameter names so its weights load; `mini`: Fig. 4 in miniature on scikit-learn's 8x8 digits:
a ViT with 2x2 patches (77,530 parameters) and a CIFAR-style ResNet-8 from `reproductions.resnet`
(75,002), same steps, batch, optimizer and schedule, each trained on a random 100-image subset
and on all 1,347 training digits, plus a ViT without position embeddings; the pixel baselines
(1-NN, logistic regression) fitted on the same training images; `tiny`.

Deviations from the paper:
- The classification head is a single linear layer, as the paper uses when fine-tuning
  (Sec. 3.1) and as timm's `vit_base_patch16_224` has; pre-training used an MLP with one hidden
  layer.
- Weight init follows timm (truncated normal, std 0.02) rather than the paper's JAX defaults.
- `mini` trains from scratch on 100 and 1,347 digits where the paper pre-trains on 1.3M to 300M
  images and reports fine-tuned or few-shot accuracy: it shows the trend of Fig. 4 (the CNN wins
  on little data, the ViT gains more from more data), not the crossover, which needs ~100M
  images; trained from scratch on 1,347 digits the ViT does not beat 1-NN on pixels (a claim
  expected not to hold). The CNN control is trained with the ViT's AdamW recipe, not BiT's SGD,
  so that only the architecture differs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions import resnet
from reproductions.common import baselines as B
from reproductions.common import data as D
from reproductions.common.claims import Claim, PaperNumber
from reproductions.common.config import ConfigError

PAPER = "vit"

# What this paper changed in the networks of papers it cites, block by block: (their module's
# block, this module's block, what changed). The Paper page shows each pair side by side.
LINEAGE = {
    "transformer": [
        ("EncoderLayer", "Block", "The Transformer's encoder layer, with LayerNorm before each "
         "sublayer instead of after the residual sum (pre-norm, Eq. 2-3) and a GELU MLP "
         "(Sec. 3.1)"),
        ("MultiHeadAttention", "Attention", "The same scaled dot-product multi-head attention "
         "(Appendix A, Eq. 5-8), with one projection making q, k and v together"),
    ],
    "resnet": [
        ("ResNet", "VisionTransformer", "No convolution past the patch embedding: 16x16 "
         "patches, linearly projected, with a class token and learned position embeddings "
         "(Eq. 1), go through Transformer blocks, and the class token's final state is "
         "classified (Eq. 4)"),
        ("BasicBlock", "Block", "Both add a branch to their input; ViT's branch is attention "
         "over all patches or an MLP per patch, not two 3x3 convolutions over a "
         "neighbourhood: less inductive bias (Sec. 3.1)"),
    ],
}


# --- blocks --------------------------------------------------------------------------------


class PatchEmbed(nn.Module):
    """x_p^i E for every patch i (Eq. 1): a P x P convolution with stride P is the same linear
    map applied to each flattened patch."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.proj = nn.Conv2d(cfg.in_channels, cfg.dim, cfg.patch_size, stride=cfg.patch_size)

    def forward(self, x):  # (B, C, H, W)
        x = self.proj(x)  # (B, D, H/P, W/P)
        return x.flatten(2).transpose(1, 2)  # (B, N, D), N = HW / P^2


class Attention(nn.Module):
    """Multi-head self-attention (Appendix A, Eq. 5-8): softmax(q k^T / sqrt(hs)) v per head."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.nh = cfg.heads
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)  # Appendix B.1: after every dense layer but qkv

    def forward(self, x):  # (B, T, D)
        B, T, D = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.nh, D // self.nh)  # (B, T, 3, nh, hs)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, nh, T, hs)
        x = F.scaled_dot_product_attention(q, k, v)  # (B, nh, T, hs)
        x = x.transpose(1, 2).reshape(B, T, D)  # (B, T, nh * hs)
        return self.drop(self.proj(x))


class Mlp(nn.Module):
    """Two layers with a GELU non-linearity (Sec. 3.1)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(cfg.dim, cfg.mlp_dim), nn.Linear(cfg.mlp_dim, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x):  # (B, T, D)
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class Block(nn.Module):
    """z' = MSA(LN(z)) + z (Eq. 2);  z = MLP(LN(z')) + z' (Eq. 3)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(cfg.dim, eps=1e-6), Attention(cfg)
        self.norm2, self.mlp = nn.LayerNorm(cfg.dim, eps=1e-6), Mlp(cfg)

    def forward(self, x):  # (B, T, D)
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 10_000  # Table 3: ImageNet fine-tuning is 20k steps at batch 512; see mini
    batch_size: int = 512  # Table 3: 4096 for pre-training, 512 for fine-tuning
    lr: float = 3e-4  # Table 3: Adam, 1e-3 (B) to 4e-4 (L) at batch 4096
    weight_decay: float = 0.1  # Table 3: "high weight decay of 0.1"
    warmup: float = 0.05  # fraction of steps with linear warm-up, then linear decay (Sec. 4.1)
    grad_clip: float | None = 1.0  # Appendix B.1: global norm 1
    data_root: str | None = None  # real data: an ImageNet-style folder (train/, val/) or MNIST
    download: bool = False  # let torchvision download MNIST into data_root
    dataset: Literal["imagenet", "mnist", "digits"] = "imagenet"
    image_size: int = 224
    patch_size: int = 16  # "ViT-B/16": 16x16 patches
    in_channels: int = 3
    num_classes: int = 1000
    dim: int = 768  # Table 1: hidden size D
    depth: int = 12  # Table 1: layers
    heads: int = 12  # Table 1: heads (hs = D / nh = 64)
    mlp_dim: int = 3072  # Table 1: MLP size
    dropout: float = 0.0  # Table 3: 0.1 for ImageNet pre-training, 0 for fine-tuning
    position_embedding: bool = True  # False: the "no positional embedding" ablation (Table 8)
    arch: Literal["vit", "resnet"] = "vit"  # resnet: the CNN control of Fig. 3-4 (cnn_* below)
    cnn_widths: tuple[int, ...] = (16, 32, 64)  # arch=resnet: channels per stage (CIFAR-style)
    cnn_layers: tuple[int, ...] = (1, 1, 1)  # arch=resnet: blocks per stage (1 each: ResNet-8)
    train_size: int = 0  # 0: the whole training set; n: a random class-balanced subset (Fig. 4)
    compare_train_sizes: tuple[int, ...] = ()  # mini: a ViT and a ResNet per size (0 = all)
    compare_no_position: bool = False  # mini: also train a ViT without position embeddings


# --- model ---------------------------------------------------------------------------------


class VisionTransformer(nn.Module):
    """Patch embedding + [class] token + position embedding -> encoder -> LN -> head. Parameter
    names follow timm (`cls_token`, `pos_embed`, `blocks.i.attn.qkv`, `norm`, `head`)."""

    def __init__(self, cfg: Config):
        super().__init__()
        if cfg.image_size % cfg.patch_size or cfg.dim % cfg.heads:
            raise ConfigError("image_size must be a multiple of patch_size, dim of heads")
        n = (cfg.image_size // cfg.patch_size) ** 2  # N patches
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))  # x_class (Eq. 1)
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, cfg.dim) * 0.02) \
            if cfg.position_embedding else None  # E_pos (Eq. 1)
        self.pos_drop = nn.Dropout(cfg.dropout)  # Appendix B.1: "directly after adding" E_pos
        self.blocks = nn.Sequential(*[Block(cfg) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)  # Eq. 4: y = LN(z_L^0)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):  # (B, C, H, W)
        x = self.patch_embed(x)  # (B, N, D)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1)  # (B, N+1, D)
        if self.pos_embed is not None:
            x = x + self.pos_embed  # (B, T, D), T = N + 1
        x = self.norm(self.blocks(self.pos_drop(x)))  # (B, T, D)
        return self.head(x[:, 0])  # (B, K): the class token's state


def build_model(cfg: Config) -> nn.Module:
    """The ViT, or for `arch="resnet"` the CNN control: `reproductions.resnet.ResNet` with a
    CIFAR-style 3x3 stem and option A shortcuts (He et al., Sec. 4.2)."""
    if cfg.arch == "resnet":
        return resnet.ResNet(resnet.Config(
            widths=cfg.cnn_widths, layers=cfg.cnn_layers, in_channels=cfg.in_channels,
            num_classes=cfg.num_classes, stem="cifar", shortcut="A"))
    return VisionTransformer(cfg)


# --- presets -------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # ViT-B/16: 86,567,656
    "vit-l16": Config(dim=1024, depth=24, heads=16, mlp_dim=4096),  # 304,326,632
    "vit-h14": Config(patch_size=14, dim=1280, depth=32, heads=16, mlp_dim=5120),  # 632,045,800
    "mini": Config(
        dataset="digits", image_size=8, patch_size=2, in_channels=1, num_classes=10, dim=48,
        depth=4, heads=4, mlp_dim=96, steps=400, batch_size=64, lr=3e-3, weight_decay=0.05,
        compare_train_sizes=(100, 0), compare_no_position=True),  # 77,530 vs ResNet-8 75,002
    "tiny": Config(
        dataset="digits", image_size=8, patch_size=4, in_channels=1, num_classes=10, dim=16,
        depth=1, heads=2, mlp_dim=32, steps=3, batch_size=16),
}


def size_label(n: int) -> str:
    return str(n) if n else "all"


def variants(cfg: Config) -> dict[str, Config]:
    """`vit-N` and `resnet-N` for each N in `compare_train_sizes` (N = 100, ..., `all`), and
    `no-pos`: the ViT without position embeddings on `train_size` images; else `main`."""
    base = dataclasses.replace(cfg, compare_train_sizes=(), compare_no_position=False)
    out = {f"{arch}-{size_label(n)}": dataclasses.replace(base, arch=arch, train_size=n)
           for n in cfg.compare_train_sizes for arch in ("vit", "resnet")} or {"main": base}
    if cfg.compare_no_position:
        out["no-pos"] = dataclasses.replace(base, arch="vit", position_embedding=False)
    return out


# --- data ----------------------------------------------------------------------------------


def subset(x: torch.Tensor, y: torch.Tensor, n: int, seed: int):
    """`n` of the training images, drawn at random with the classes in proportion (all if n is 0):
    Fig. 4's random subsets of JFT-300M. Every variant and baseline of a run gets the same ones."""
    from sklearn.model_selection import train_test_split

    if not n or n >= len(y):
        return x, y
    if n < int(y.max()) + 1:
        raise ConfigError(f"train_size={n} is smaller than the number of classes")
    keep, _ = train_test_split(torch.arange(len(y)).numpy(), train_size=n, random_state=seed,
                               stratify=y.numpy())
    return x[keep], y[keep]


def tensor_split(cfg: Config):
    """`(x_train, y_train, x_test, y_test)` of a dataset held in memory, the training side cut to
    `train_size` images."""
    if cfg.dataset == "mnist":
        if cfg.data_root is None:
            raise ConfigError("dataset=mnist needs --set data_root=DIR (MNIST's folder)")
        xtr, ytr = D.real_images("mnist", cfg.data_root, train=True, download=cfg.download)
        xte, yte = D.real_images("mnist", cfg.data_root, train=False, download=cfg.download)
        xtr, xte = D.standardize(xtr, "mnist"), D.standardize(xte, "mnist")
    else:
        xtr, ytr, xte, yte = D.digits(seed=0)
        xtr, xte = D.standardize(xtr, "digits"), D.standardize(xte, "digits")  # (N, 1, 8, 8)
    return (*subset(xtr, ytr, cfg.train_size, cfg.seed), xte, yte)


def build_data(cfg: Config):
    if cfg.dataset == "imagenet":
        if cfg.train_size:
            raise ConfigError("train_size needs dataset=digits or mnist (tensors in memory)")
        if cfg.data_root is None:
            raise ConfigError("the ImageNet presets need --set data_root=DIR holding train/ and val/")
        train, val = D.image_folder_loaders(cfg.data_root, cfg.batch_size, cfg.seed, cfg.image_size,
                                            mean_std=((0.5,) * 3, (0.5,) * 3))
        return train, {"test": val}
    xtr, ytr, xte, yte = tensor_split(cfg)
    return D.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), {"test": (xte, yte)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """1-NN and logistic regression on raw pixels, fitted on each training set the variants see
    (`test_accuracy_100`, `test_accuracy_all`, ...) and scored on the same test split; on
    scikit-learn's digits only (on MNIST's 60,000 or ImageNet they are a job of their own)."""
    if cfg.dataset != "digits":
        return {}
    out: dict[str, dict[str, float]] = {"1-NN pixels": {}, "logistic regression pixels": {}}
    for n in cfg.compare_train_sizes or (cfg.train_size,):
        xtr, ytr, xte, yte = tensor_split(dataclasses.replace(cfg, train_size=n))
        key = f"test_accuracy_{size_label(n)}"
        out["1-NN pixels"][key] = B.nearest_neighbour_accuracy(xtr, ytr, xte, yte)
        out["logistic regression pixels"][key] = B.logistic_regression_accuracy(xtr, ytr, xte, yte)
    return out


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """AdamW (Table 3: Adam, beta1 0.9, beta2 0.999, weight decay 0.1), linear warm-up, then
    linear decay to 0 (Sec. 4.1 / Appendix B.1)."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos_embed" not in n]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2 or "pos_embed" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.999))
    warm = max(1, math.ceil(cfg.warmup * cfg.steps))
    ramp = lambda s: min((s + 1) / warm, max(0.0, (cfg.steps - s) / max(1, cfg.steps - warm)))  # noqa: E731
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, ramp)


def training_step(model: nn.Module, batch) -> dict:
    x, y = batch  # (B, C, H, W), (B,)
    logits = model(x)  # (B, K)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(-1) == y).float().mean()}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    return {f"test_{k}": v for k, v in D.classification_metrics(model, eval_data["test"]).items()}


# --- claims --------------------------------------------------------------------------------


def _acc(m, v):
    return m[v]["test_accuracy"]


def _gain(m, name, metric="test_accuracy"):
    """Test accuracy on all training images minus on the 100-image subset (a variant's pair of
    runs, or a baseline's two fits)."""
    if name in ("vit", "resnet"):
        return m[f"{name}-all"][metric] - m[f"{name}-100"][metric]
    return m[name][f"{metric}_all"] - m[name][f"{metric}_100"]


def _pixels(m, name):
    return m[name]["test_accuracy_all"]


CLAIMS = [
    Claim(
        id="small-data",
        text="On a 100-image training subset the ViT loses to a ResNet of the same size trained "
        "the same way, by at least 0.15 test accuracy: without the CNN's locality and "
        "translation equivariance it overfits the few images it has.",
        paper="BiT ResNets outperform ViT when pre-trained on ImageNet; on the 9M JFT subset "
        "ViT-B/32 does much worse than ResNet50 of comparable cost",
        source="Sec. 4.3, Fig. 3-4",
        margins=lambda m: {"resnet-100": _acc(m, "resnet-100") - _acc(m, "vit-100") - 0.15},
        measured=lambda m: f"100 images: ResNet {_acc(m, 'resnet-100'):.3f}, "
        f"ViT {_acc(m, 'vit-100'):.3f}",
    ),
    Claim(
        id="data-scale",
        text="Going from 100 to all 1,347 training digits, the ViT gains at least 0.10 more test "
        "accuracy than the ResNet does (the gap closes) and than 1-NN or logistic regression "
        "on pixels fitted on the same images do (it is not just a ceiling every method reaches).",
        paper="ResNets perform better with smaller pre-training datasets but plateau sooner than "
        "ViT, which performs better with the larger pre-training",
        source="Fig. 4, Sec. 4.3",
        margins=lambda m: {
            "resnet-all": _gain(m, "vit") - _gain(m, "resnet") - 0.10,
            "1-NN pixels": _gain(m, "vit") - _gain(m, "1-NN pixels") - 0.10,
            "logistic regression pixels":
                _gain(m, "vit") - _gain(m, "logistic regression pixels") - 0.10},
        measured=lambda m: "gap to the ResNet: "
        f"{_acc(m, 'resnet-100') - _acc(m, 'vit-100'):.3f} on 100 images, "
        f"{_acc(m, 'resnet-all') - _acc(m, 'vit-all'):.3f} on all; gain from more data: "
        f"ViT {_gain(m, 'vit'):.3f}, ResNet {_gain(m, 'resnet'):.3f}, "
        f"1-NN {_gain(m, '1-NN pixels'):.3f}, "
        f"logistic regression {_gain(m, 'logistic regression pixels'):.3f}",
    ),
    Claim(
        id="position-embedding",
        text="Without position embeddings the patches are a bag of words and test accuracy on "
        "all training digits drops by at least 0.08 (on 8x8 digits a patch's place carries "
        "much of the class).",
        paper="no positional embedding 0.61382 vs 1-D positional embedding 0.64206 (5-shot "
        "linear ImageNet accuracy, ViT-B/16)",
        source="Table 8 (Appendix D.4)",
        margins=lambda m: {"no-pos": _acc(m, "vit-all") - _acc(m, "no-pos") - 0.08},
        measured=lambda m: f"with {_acc(m, 'vit-all'):.3f}, without {_acc(m, 'no-pos'):.3f}",
    ),
    Claim(
        id="beats-pixel-baselines",
        text="Not expected in miniature: trained from scratch on 1,347 digits, the ViT does not "
        "beat 1-NN or logistic regression on raw pixels (0.97-0.98 on this split); the paper's "
        "accuracies come after pre-training on 14M-300M images, which a CPU minute cannot do.",
        paper="Transformers 'do not generalize well when trained on insufficient amounts of "
        "data'; 'large scale training trumps inductive bias'",
        source="Sec. 1, Sec. 4.2",
        margins=lambda m: {"1-NN pixels": _acc(m, "vit-all") - _pixels(m, "1-NN pixels"),
                           "logistic regression pixels":
                               _acc(m, "vit-all") - _pixels(m, "logistic regression pixels")},
        measured=lambda m: f"ViT {_acc(m, 'vit-all'):.3f}, 1-NN "
        f"{_pixels(m, '1-NN pixels'):.3f}, logistic regression "
        f"{_pixels(m, 'logistic regression pixels'):.3f}",
        expected=False,
    ),
    Claim(
        id="imagenet-b16",
        text="ViT-B/16 pre-trained on ImageNet-21k reaches 83.97% top-1 on ImageNet (77.91% "
        "when pre-trained on ImageNet alone).",
        paper="ViT-B/16 top-1 83.97% (ImageNet-21k), 77.91% (ImageNet), fine-tuned at 384 px",
        source="Table 5",
        needs="preset paper pre-trained on ImageNet-21k, fine-tuned on ImageNet-1k train/val "
        "(data_root)",
        numbers=(PaperNumber("top1_accuracy", 83.97, "center-crop", note=(
            "Table 5 fine-tunes and tests at 384 px; this preset is the 224 px network, "
            "which scores lower with the same pre-training")),),
    ),
    Claim(
        id="jft-vs-bit",
        text="ViT-L/16 pre-trained on JFT-300M matches or beats BiT-L on ImageNet at less "
        "pre-training compute.",
        paper="ViT-L/16 (JFT) 87.76% vs BiT-L 87.54% ImageNet top-1; 0.68k vs 9.9k TPUv3-core-days",
        source="Table 2",
        needs="preset vit-l16 pre-trained on JFT-300M (not public), fine-tuned on ImageNet-1k "
        "train/val (data_root)",
    ),
    Claim(
        id="pretraining-size",
        text="With more pre-training data ViT overtakes ResNets of comparable cost: worse than "
        "ResNet50 on the 9M JFT subset, better on 90M+.",
        paper="ViT-B/32 much worse than ResNet50 on 9M, better on 90M+ (5-shot ImageNet)",
        source="Fig. 4",
        needs="preset paper with patch_size=32 and resnet's resnet50, pre-trained on 9M-300M "
        "image subsets (JFT-300M, not public), 5-shot linear ImageNet-1k eval (data_root)",
    ),
]
