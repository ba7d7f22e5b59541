"""CLIP: "Learning Transferable Visual Models From Natural Language Supervision"
(Radford et al., 2021), arXiv:2103.00020.

An image encoder and a text encoder are trained jointly so that the embeddings of an image and
of its caption are close (Fig. 1): in a batch of N pairs, the N x N cosine similarities, scaled
by a learned temperature, are classified both ways, image -> caption and caption -> image
(the symmetric cross-entropy of Fig. 3). A classifier for any label set is then written in
words: embed "a photo of a {label}." for each label and pick the most similar (Sec. 3.1.2),
averaging the embeddings of several such prompts (prompt ensembling, Sec. 3.1.4).

The towers come from the papers CLIP builds on: the image tower is a ViT (Sec. 2.4, blocks of
`reproductions.vit`) or a modified ResNet-50; the text tower is a Transformer (Sec. 2.4, blocks of
`reproductions.transformer`) used as a decoder-only language model: pre-LN, causal mask, the
end-of-text token's feature is the text's embedding.

The miniature trains on generated pictures of coloured shapes with captions ("a picture of a red
circle"). Four colour-shape combinations never appear in training; the prompt templates used
for zero-shot classification never appear either.

Real data: `--set data_root=DIR` trains on image-caption pairs listed in `DIR/train/captions.tsv`
and `DIR/val/captions.tsv`, one `<image file>\t<caption>` per line (`common.captions`), and
evaluates image <-> text retrieval recall@1 and @5 on the first 1,000 val pairs (the paper's
Flickr30k and MSCOCO retrieval, Appendix E). Use the BPE tokenizer for real captions:
`--preset paper --set data_root=DIR`, or `--set tokenizer=bpe --set vocab_size=49408` on a
smaller preset.

Deviations from the paper:
- Activations are exact GELU, as in `open_clip`'s "ViT-B-32" (and ViT); OpenAI's released
  weights were trained with QuickGELU, x * sigmoid(1.702 x): same parameters, slightly different
  outputs (`open_clip`'s "-quickgelu" models).
- The image tower's patch projection has no bias and a LayerNorm precedes the blocks (OpenAI's
  ViT, Sec. 2.4); its blocks are ViT's with CLIP's LayerNorm epsilon (1e-5; timm's ViT: 1e-6).
- Under torchrun the contrastive loss uses each process's own batch as negatives (the paper
  gathers features across all workers: 32,768 pairs per batch).
- The miniature's text tokenizer is a word-level one (`WordTokenizer`); the `paper` presets use
  CLIP's byte-pair encoding with the vocabulary file shipped inside `open_clip` (no download).
- No mixed-precision tricks, gradient checkpointing or sharded similarity computation (Sec. 2.5).
"""

from __future__ import annotations

import logging
import math
import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from reproductions import vit
from reproductions.common.captions import (
    CAPTIONS_FILE,
    CaptionPairs,
    image_transform,
    read_captions,
)
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError
from reproductions.transformer import EncoderLayer

PAPER = "clip"
log = logging.getLogger("reproductions")

# the miniature's world: four colours x five shapes, captions from six templates
COLOURS = {"red": (0.9, 0.1, 0.1), "green": (0.1, 0.8, 0.2), "blue": (0.15, 0.25, 0.95),
           "yellow": (0.95, 0.85, 0.1)}
SHAPES = ("circle", "square", "triangle", "cross", "ring")
CLASSES = [f"{c} {s}" for c in COLOURS for s in SHAPES]  # 20 classes, index = c * 5 + s
UNSEEN = [c * len(SHAPES) + c for c in range(len(COLOURS))]  # red circle, green square, ...:
# each colour and each shape is seen in training, never these four combinations
TRAIN_TEMPLATES = ("a {c} {s}", "a picture of a {c} {s}", "an image showing a {c} {s}",
                   "there is a {c} {s}", "the {s} is {c}", "a {s} coloured {c}")
# Sec. 3.1.4: "A photo of a {label}." and an ensemble; templates never used in training, whose
# key words ("photo", "drawing", ...) the miniature's tokenizer does not even know
ZERO_SHOT_TEMPLATES = ("a photo of a {}.", "a drawing of a {}.", "a rendering of one {}.",
                       "itap of my {}.")
MINI_WORDS = sorted({*COLOURS, *SHAPES, *re.sub(r"\{\w\}", " ", " ".join(TRAIN_TEMPLATES)).split()})
# real images: OpenAI's released preprocessing normalises with these (open_clip's OPENAI_DATASET_*)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RETRIEVAL_PAIRS = 1000  # retrieval is scored on the first 1,000 val pairs: a bounded (N, N) cost


# --- helpers --------------------------------------------------------------------------------
def contrastive_loss(image_emb, text_emb, logit_scale):
    """Fig. 3: logits = exp(t) * norm(I) norm(T)^T (N, N); labels = arange(N);
    loss = (CE(logits, labels) + CE(logits^T, labels)) / 2."""
    image_emb, text_emb = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    logits = logit_scale * image_emb @ text_emb.t()  # (N, N): image i vs caption j
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


class WordTokenizer:
    """The miniature's tokenizer: lower-case words; unknown words become <unk>.

    Ids: <pad> 0, <unk> 1, <sot> 2, the words, and <eot> last, so that, as in CLIP's BPE
    vocabulary, the end-of-text token has the largest id (its position is `argmax`)."""

    def __init__(self, words: list[str]):
        names = ["<pad>", "<unk>", "<sot>", *sorted(set(words)), "<eot>"]
        self.ids = {w: i for i, w in enumerate(names)}
        self.vocab_size = len(names)

    def __call__(self, texts: list[str], context_length: int) -> torch.Tensor:
        out = torch.zeros(len(texts), context_length, dtype=torch.long)  # (N, T)
        for i, text in enumerate(texts):
            words = [self.ids.get(w, 1) for w in re.findall(r"[a-z]+", text.lower())]
            ids = [self.ids["<sot>"], *words][: context_length - 1] + [self.ids["<eot>"]]
            out[i, : len(ids)] = torch.tensor(ids)
        return out


def bpe_tokenizer():
    """CLIP's byte-pair encoding (49,152 merges + specials = 49,408 tokens), read from the
    vocabulary file inside the `open_clip` package: (texts, context_length) -> (N, 77).
    The tokenizer object itself, not a lambda: DataLoader workers may need to pickle it."""
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer()


# --- blocks ---------------------------------------------------------------------------------
class VisionTransformer(nn.Module):
    """Sec. 2.4: a ViT with "an additional layer normalization to the combined patch and position
    embeddings before the transformer". (B, 3, H, W) -> (B, E)."""

    def __init__(self, cfg: Config):
        super().__init__()
        w, scale = cfg.vision_width, cfg.vision_width**-0.5
        n_patches = (cfg.image_size // cfg.patch_size) ** 2
        self.conv1 = nn.Conv2d(3, w, cfg.patch_size, cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(w))
        self.positional_embedding = nn.Parameter(scale * torch.randn(n_patches + 1, w))
        self.ln_pre = nn.LayerNorm(w)
        block = vit.Config(dim=w, heads=cfg.vision_heads, mlp_dim=4 * w, dropout=0.0)
        self.blocks = nn.Sequential(*(vit.Block(block) for _ in range(cfg.vision_layers)))
        for m in self.blocks.modules():
            if isinstance(m, nn.LayerNorm):
                m.eps = 1e-5  # CLIP's (PyTorch's default)
        self.ln_post = nn.LayerNorm(w)
        self.proj = nn.Parameter(scale * torch.randn(w, cfg.embed_dim))  # no bias

    def forward(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)  # (B, N, W): one token per patch
        cls = self.class_embedding.expand(x.size(0), 1, -1)  # (B, 1, W)
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding)  # (B, N+1, W)
        x = self.blocks(x)  # (B, N+1, W)
        return self.ln_post(x[:, 0]) @ self.proj  # (B, E): the class token's output


class Bottleneck(nn.Module):
    """Sec. 2.4 / OpenAI's ResNet-D bottleneck: a stride-2 block average-pools before its last
    1x1 convolution and on the shortcut (anti-aliased downsampling, Zhang 2019).
    Module names follow OpenAI's so their state_dict loads as is."""

    def __init__(self, c_in: int, planes: int, stride: int = 1):
        super().__init__()
        c_out = planes * 4
        self.conv1, self.bn1 = nn.Conv2d(c_in, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3, self.bn3 = nn.Conv2d(planes, c_out, 1, bias=False), nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride > 1 or c_in != c_out:
            self.downsample = nn.Sequential(OrderedDict([
                ("-1", nn.AvgPool2d(stride)),  # OpenAI's key names: "0" conv, "1" BN
                ("0", nn.Conv2d(c_in, c_out, 1, bias=False)), ("1", nn.BatchNorm2d(c_out))]))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.avgpool(F.relu(self.bn2(self.conv2(out))))  # (B, planes, H/s, W/s)
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class AttentionPool2d(nn.Module):
    """Sec. 2.4: "we replace the global average pooling layer with an attention pooling
    mechanism": one multi-head attention whose query is the mean of the feature map."""

    def __init__(self, n_positions: int, width: int, n_heads: int, out_dim: int):
        super().__init__()
        self.n_heads = n_heads
        self.positional_embedding = nn.Parameter(torch.randn(n_positions + 1, width) / width**0.5)
        self.k_proj, self.q_proj = nn.Linear(width, width), nn.Linear(width, width)
        self.v_proj, self.c_proj = nn.Linear(width, width), nn.Linear(width, out_dim)

    def forward(self, x):
        x = x.flatten(2).transpose(1, 2)  # (B, HW, C)
        x = torch.cat([x.mean(1, keepdim=True), x], dim=1) + self.positional_embedding  # (B, HW+1, C)
        q = self.q_proj(x[:, :1])  # (B, 1, C): only the mean token asks
        q, k, v = (t.unflatten(-1, (self.n_heads, -1)).transpose(1, 2)  # (B, nh, T, hs)
                   for t in (q, self.k_proj(x), self.v_proj(x)))
        y = F.scaled_dot_product_attention(q, k, v)  # (B, nh, 1, hs)
        return self.c_proj(y.transpose(1, 2).flatten(1))  # (B, E)


class ModifiedResNet(nn.Module):
    """Sec. 2.4: ResNet-50 with three stem convolutions and an average pool, ResNet-D
    downsampling, and attention pooling. (B, 3, H, W) -> (B, E)."""

    def __init__(self, cfg: Config):
        super().__init__()
        w = cfg.resnet_width
        self.conv1 = nn.Conv2d(3, w // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w // 2)
        self.conv2, self.bn2 = nn.Conv2d(w // 2, w // 2, 3, padding=1, bias=False), nn.BatchNorm2d(w // 2)
        self.conv3, self.bn3 = nn.Conv2d(w // 2, w, 3, padding=1, bias=False), nn.BatchNorm2d(w)
        self.avgpool = nn.AvgPool2d(2)
        c_in, stages = w, []
        for i, n in enumerate(cfg.resnet_layers):
            planes = w * 2**i
            stages.append(nn.Sequential(*(Bottleneck(c_in if j == 0 else planes * 4, planes,
                                                     2 if i > 0 and j == 0 else 1) for j in range(n))))
            c_in = planes * 4
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.attnpool = AttentionPool2d((cfg.image_size // 32) ** 2, w * 32, w * 32 // 64, cfg.embed_dim)

    def forward(self, x):
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
            x = F.relu(bn(conv(x)))
        x = self.avgpool(x)  # (B, w, H/4, W/4)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (B, 32w, H/32, W/32)
        return self.attnpool(x)


# --- config ---------------------------------------------------------------------------------
@dataclass
class Config:
    embed_dim: int = 512  # the joint embedding space (ViT-B/32: 512; RN50: 1024)
    image_encoder: Literal["vit", "resnet"] = "vit"  # Sec. 2.4: both families were trained
    image_size: int = 224
    patch_size: int = 32  # ViT-B/32
    vision_width: int = 768
    vision_layers: int = 12
    vision_heads: int = 12
    resnet_layers: tuple[int, int, int, int] = (3, 4, 6, 3)  # RN50
    resnet_width: int = 64
    context_length: int = 77  # Sec. 2.4: "max sequence length was capped at 76" + <sot>
    vocab_size: int = 49408  # Sec. 2.4: "a 49,152 vocab size" BPE + <sot>, <eot> and 254 bytes
    text_width: int = 512  # Sec. 2.4: "a 63M-parameter 12-layer 512-wide model with 8 heads"
    text_layers: int = 12
    text_heads: int = 8
    tokenizer: Literal["bpe", "words"] = "bpe"  # "words": the miniature's WordTokenizer
    init_temperature: float = 0.07  # Sec. 2.5: tau initialised to 0.07, learned as log(1/tau)
    max_logit_scale: float = 100.0  # Sec. 2.5: "clipped to prevent scaling the logits by more than 100"
    weight_decay: float = 0.2  # Appendix F (hyper-parameter tables)
    warmup_steps: int = 2000  # Appendix F: linear warm-up iterations, then cosine decay
    n_train: int = 20000  # generated image-caption pairs (shapes of four colours, five kinds)
    n_eval_per_class: int = 40  # held-out images per class
    shuffle_captions: bool = False  # the control: captions shuffled across images
    seed: int = 0
    steps: int = 390_000  # 32 epochs of 400M pairs at 32,768 per batch (Sec. 2.5)
    batch_size: int = 32768  # Sec. 2.5
    lr: float = 5e-4  # Appendix F: ViT-B/32 and RN50
    data_root: str | None = None  # real pairs: DIR/train|val/captions.tsv, '<image>\t<caption>' lines
    num_workers: int = 8  # DataLoader processes decoding images (data_root only)


# --- model ----------------------------------------------------------------------------------
class CLIP(nn.Module):
    """encode_image (B, 3, H, W) -> (B, E); encode_text (B, T) -> (B, E);
    forward -> (image embeddings, text embeddings, logit scale exp(t))."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.visual = VisionTransformer(cfg) if cfg.image_encoder == "vit" else ModifiedResNet(cfg)
        w = cfg.text_width
        self.token_embedding = nn.Embedding(cfg.vocab_size, w)
        self.positional_embedding = nn.Parameter(torch.empty(cfg.context_length, w))  # learned
        self.transformer = nn.ModuleList(
            EncoderLayer(w, cfg.text_heads, 4 * w, 0.0, norm_first=True, activation=nn.GELU)
            for _ in range(cfg.text_layers))
        self.ln_final = nn.LayerNorm(w)
        self.text_projection = nn.Parameter(torch.empty(w, cfg.embed_dim))  # no bias
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / cfg.init_temperature)))
        self._init_text()

    def _init_text(self):
        """OpenAI's initialisation of the text tower (std W^-0.5 on attention, scaled by depth
        on the projections back into the residual stream)."""
        w, depth = self.cfg.text_width, self.cfg.text_layers
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        for block in self.transformer:
            nn.init.normal_(block.self_attn.in_proj.weight, std=w**-0.5)
            nn.init.normal_(block.self_attn.out_proj.weight, std=w**-0.5 * (2 * depth) ** -0.5)
            nn.init.normal_(block.ff.linear1.weight, std=(2 * w) ** -0.5)
            nn.init.normal_(block.ff.linear2.weight, std=w**-0.5 * (2 * depth) ** -0.5)
        nn.init.normal_(self.text_projection, std=w**-0.5)

    def encode_image(self, images):
        return self.visual(images)

    def encode_text(self, text):
        t = text.size(1)
        x = self.token_embedding(text) + self.positional_embedding[:t]  # (B, T, W)
        for block in self.transformer:
            x = block(x, causal=True)  # token t sees tokens <= t: a language model's mask
        x = self.ln_final(x)
        eot = x[torch.arange(len(x), device=x.device), text.argmax(-1)]  # (B, W): <eot> has the top id
        return eot @ self.text_projection  # (B, E)

    def forward(self, images, text):
        scale = self.logit_scale.exp().clamp(max=self.cfg.max_logit_scale)
        return self.encode_image(images), self.encode_text(text), scale


def build_model(cfg: Config) -> CLIP:
    return CLIP(cfg)


def load_open_clip_state_dict(model: CLIP, state: dict[str, torch.Tensor]) -> None:
    """Load an `open_clip` / OpenAI CLIP state_dict into `model` (their key names mapped to ours)."""
    common = [(r"\.ln_1\.", ".norm1."), (r"\.ln_2\.", ".norm2.")]
    image = [(r"^visual\.transformer\.resblocks\.", "visual.blocks."), *common,  # ViT's names
             (r"\.attn\.in_proj_", ".attn.qkv."), (r"\.attn\.out_proj\.", ".attn.proj."),
             (r"\.mlp\.c_fc\.", ".mlp.fc1."), (r"\.mlp\.c_proj\.", ".mlp.fc2.")]
    text = [(r"^transformer\.resblocks\.", "transformer."), *common,  # the Transformer's names
            (r"\.attn\.in_proj_", ".self_attn.in_proj."), (r"\.attn\.out_proj\.", ".self_attn.out_proj."),
            (r"\.mlp\.c_fc\.", ".ff.linear1."), (r"\.mlp\.c_proj\.", ".ff.linear2.")]
    mapped = {}
    for key, value in state.items():
        if key in ("input_resolution", "context_length", "vocab_size"):
            continue  # OpenAI's jit checkpoints carry these as tensors
        rules = image if key.startswith("visual.transformer.") else text if key.startswith("transformer.") else []
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        mapped[key] = value
    model.load_state_dict(mapped)


# --- presets --------------------------------------------------------------------------------
_MINI = dict(embed_dim=64, image_size=16, patch_size=4, vision_width=64, vision_layers=2,
             vision_heads=4, context_length=10, text_width=64, text_layers=2, text_heads=4,
             tokenizer="words", vocab_size=len(MINI_WORDS) + 4, weight_decay=0.1, init_temperature=0.07,
             num_workers=2)
PRESETS = {
    "paper": Config(),  # ViT-B/32: 151,277,313 parameters (image 87,849,216, text 63,428,097)
    "rn50": Config(image_encoder="resnet", embed_dim=1024, lr=5e-4),  # RN50: 102,007,137
    # 16x16 shapes, patch 4, two-layer towers 64 wide: ~20-way zero-shot on generated captions
    "mini": Config(**_MINI, warmup_steps=50, steps=350, batch_size=128, lr=2e-3),
    "tiny": Config(**{**_MINI, "vision_layers": 1, "text_layers": 1}, n_train=256,
                   n_eval_per_class=4, warmup_steps=2, steps=10, batch_size=32, lr=1e-3),
}


# --- data -----------------------------------------------------------------------------------
def draw_shapes(labels: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Images (N, 3, size, size) in [0, 1] of one coloured shape each (class = colour * 5 + shape)
    at a random position and size on a noisy grey background, with jittered colours."""
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
    background = 0.35 + 0.3 * u(n, 1, 1, 1) + 0.05 * torch.randn(n, 3, size, size, generator=generator)
    return (shape * colour + (1 - shape) * background).clamp(0, 1)


def tokenizer_for(cfg: Config):
    """(texts, context_length) -> (N, T) token ids: CLIP's BPE, or the miniature's words."""
    if cfg.tokenizer == "bpe":
        return bpe_tokenizer()
    tok = WordTokenizer(MINI_WORDS)
    if tok.vocab_size > cfg.vocab_size:
        raise ConfigError(f"vocab_size={cfg.vocab_size} is smaller than the word tokenizer's "
                          f"{tok.vocab_size} tokens; use --set vocab_size={tok.vocab_size}")
    return tok


def training_pairs(cfg: Config, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """`n_train` images of the 16 seen classes, their labels, and a caption for each from a
    random training template (shuffled across images for the control)."""
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


def build_data(cfg: Config):
    """(train DataLoader of (images, tokens), held-out images and labels) on generated shapes;
    no download. Held out: new images of the 16 seen classes, and of the 4 unseen ones.
    With `data_root`: real image-caption pairs (`caption_data`)."""
    if cfg.data_root is not None:
        return caption_data(cfg)
    gigabytes = cfg.n_train * 3 * cfg.image_size**2 * 4 / 1e9
    if gigabytes > 4:
        raise ConfigError(f"clip: {cfg.n_train} generated {cfg.image_size}x{cfg.image_size} images "
                          f"need {gigabytes:.1f} GB; lower n_train or image_size (--set n_train=2000)")
    if cfg.batch_size > cfg.n_train:
        raise ConfigError(f"clip: batch_size {cfg.batch_size} exceeds n_train {cfg.n_train}; "
                          "lower batch_size or raise n_train")
    gen = torch.Generator().manual_seed(cfg.seed)
    images, _, captions = training_pairs(cfg, gen)
    tokens = tokenizer_for(cfg)(captions, cfg.context_length)  # (N, T)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(images, tokens), batch_size=cfg.batch_size, shuffle=True,
        drop_last=True, generator=torch.Generator().manual_seed(cfg.seed))
    held_out = torch.Generator().manual_seed(cfg.seed + 1_000_003)
    seen_y = torch.tensor([k for k in range(len(CLASSES)) if k not in UNSEEN])
    seen_y = seen_y.repeat_interleave(cfg.n_eval_per_class)
    unseen_y = torch.tensor(UNSEEN).repeat_interleave(cfg.n_eval_per_class)
    eval_data = {"seen": (draw_shapes(seen_y, cfg.image_size, held_out), seen_y),
                 "unseen": (draw_shapes(unseen_y, cfg.image_size, held_out), unseen_y)}
    return loader, eval_data


def caption_data(cfg: Config):
    """(train DataLoader of (images, tokens), the first RETRIEVAL_PAIRS val pairs) read from
    `data_root` (format: `common.captions`); images are decoded lazily, by `num_workers`."""
    tokenize = tokenizer_for(cfg)
    if cfg.tokenizer == "words":
        log.warning("clip: real captions with the miniature's %d-word tokenizer; for CLIP's BPE add "
                    "--set tokenizer=bpe --set vocab_size=49408", len(MINI_WORDS))
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
        cfg.image_size, CLIP_MEAN, CLIP_STD, train=True), tokenize, cfg.context_length)
    n = min(RETRIEVAL_PAIRS, len(val_files))
    val = CaptionPairs(val_files[:n], val_texts[:n], image_transform(
        cfg.image_size, CLIP_MEAN, CLIP_STD, train=False), tokenize, cfg.context_length)
    loader = torch.utils.data.DataLoader(
        train, batch_size=cfg.batch_size, shuffle=True, drop_last=True, num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0, generator=torch.Generator().manual_seed(cfg.seed))
    log.info("clip: %d training pairs, %d val pairs for retrieval from %s", len(train), n, root)
    return loader, val


# --- step -----------------------------------------------------------------------------------
def build_optimizer(model: CLIP, cfg: Config):
    """Appendix F: AdamW (beta2 0.98, eps 1e-6), weight decay on weights but not on gains,
    biases, embeddings or the temperature; linear warm-up then cosine decay."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embedding" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": other, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)

    def schedule(i):
        if i < cfg.warmup_steps:
            return (i + 1) / cfg.warmup_steps
        return 0.5 * (1 + math.cos(math.pi * (i - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, schedule)


def training_step(model: CLIP, batch) -> dict:
    images, tokens = batch  # (B, 3, H, W), (B, T)
    image_emb, text_emb, scale = model(images, tokens)
    return {"loss": contrastive_loss(image_emb, text_emb, scale), "logit_scale": scale.detach()}


@torch.no_grad()
def zero_shot_classifier(model: CLIP, classnames: list[str], templates, tokenize) -> torch.Tensor:
    """Sec. 3.1.4: embed every prompt, average the unit embeddings per class (ensembling in
    embedding space), renormalise. (E, K)."""
    device = next(model.parameters()).device
    weights = []
    for name in classnames:
        tokens = tokenize([t.format(name) for t in templates], model.cfg.context_length)
        emb = F.normalize(model.encode_text(tokens.to(device)), dim=-1).mean(0)  # (E,)
        weights.append(F.normalize(emb, dim=0))
    return torch.stack(weights, dim=1)


@torch.no_grad()
def zero_shot_predict(model: CLIP, images: torch.Tensor, classifier: torch.Tensor) -> torch.Tensor:
    """The class whose prompt embedding is most similar (cosine) to each image: (N,)."""
    device = next(model.parameters()).device
    feats = [F.normalize(model.encode_image(x.to(device)), dim=-1) for x in images.split(512)]
    return (torch.cat(feats) @ classifier).argmax(-1).cpu()


def retrieval_recall(image_emb: torch.Tensor, text_emb: torch.Tensor, image_of: torch.Tensor,
                     ks=(1, 5)) -> dict[str, float]:
    """Recall@k both ways for I images (I, E) and N captions (N, E), caption n describing image
    `image_of[n]` (an image may have several captions): image -> text counts an image whose
    top k captions hold one of its own; text -> image a caption whose top k images hold its own."""
    image_emb, text_emb = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    sim = text_emb @ image_emb.t()  # (N, I): cosine of caption n and image i
    out = {}
    for k in ks:
        top_images = sim.topk(min(k, sim.size(1)), dim=1).indices  # (N, k)
        top_texts = sim.t().topk(min(k, sim.size(0)), dim=1).indices  # (I, k)
        own = torch.arange(sim.size(1)).unsqueeze(1)  # (I, 1)
        out[f"image_to_text_recall@{k}"] = (image_of[top_texts] == own).any(1).float().mean().item()
        out[f"text_to_image_recall@{k}"] = (top_images == image_of.unsqueeze(1)).any(1).float().mean().item()
    return out


@torch.no_grad()
def retrieval_metrics(model: CLIP, pairs: CaptionPairs, cfg: Config) -> dict[str, float]:
    """Image <-> text recall@1 and @5 over the val pairs (at most RETRIEVAL_PAIRS), embedded in
    batches; lines naming the same image file count as one image with several captions."""
    device = next(model.parameters()).device
    loader = torch.utils.data.DataLoader(pairs, batch_size=min(cfg.batch_size, 256),
                                         num_workers=cfg.num_workers)
    image_emb, text_emb = [], []
    for images, tokens in loader:  # (B, 3, H, W), (B, T)
        image_emb.append(model.encode_image(images.to(device)).float().cpu())
        text_emb.append(model.encode_text(tokens.to(device)).float().cpu())
    first: dict[Path, int] = {}
    for i, f in enumerate(pairs.files):
        first.setdefault(f, i)  # the line where each image is first listed
    column = {f: j for j, f in enumerate(first)}
    image_of = torch.tensor([column[f] for f in pairs.files])  # (N,)
    images = torch.cat(image_emb)[list(first.values())]  # (I, E)
    return retrieval_recall(images, torch.cat(text_emb), image_of)


@torch.no_grad()
def evaluate(model: CLIP, eval_data, cfg: Config) -> dict[str, float]:
    """Zero-shot accuracies with the unseen prompt templates: 20-way on held-out images of the
    seen classes (ensemble and a single prompt), and on the unseen combinations, 4-way among
    themselves and 20-way among all classes. On real data: retrieval recall (`retrieval_metrics`)."""
    model.eval()
    if cfg.data_root is not None:
        return {**retrieval_metrics(model, eval_data, cfg), "logit_scale": model.logit_scale.exp().item()}
    tokenize = tokenizer_for(cfg)
    everything = zero_shot_classifier(model, CLASSES, ZERO_SHOT_TEMPLATES, tokenize)  # (E, 20)
    single = zero_shot_classifier(model, CLASSES, ZERO_SHOT_TEMPLATES[:1], tokenize)
    (xs, ys), (xu, yu) = eval_data["seen"], eval_data["unseen"]
    unseen = torch.tensor(UNSEEN)
    acc = lambda pred, y: (pred == y).float().mean().item()  # noqa: E731
    return {
        "zero_shot_accuracy": acc(zero_shot_predict(model, xs, everything), ys),
        "zero_shot_single_prompt": acc(zero_shot_predict(model, xs, single), ys),
        "unseen_pairs_4way": acc(unseen[zero_shot_predict(model, xu, everything[:, unseen])], yu),
        "unseen_pairs_20way": acc(zero_shot_predict(model, xu, everything), yu),
        "logit_scale": model.logit_scale.exp().item(),
    }


def variants(cfg: Config) -> dict[str, Config]:
    """The model, and the control trained on captions shuffled across images; on real data
    (`data_root`) the model only (the control is `--set shuffle_captions=True`)."""
    if cfg.data_root is not None:
        return {"main": cfg}
    return {"main": cfg, "shuffled": replace(cfg, shuffle_captions=True)}


def _acc(m, variant, metric):
    return f"{variant} {metric.replace('_', ' ')} {m[variant][metric]:.3f}"


CLAIMS = [
    Claim("imagenet-zero-shot", "Zero-shot CLIP matches the original ResNet-50 on ImageNet "
          "without using any of its 1.28M training examples.",
          "76.2% top-1 zero-shot on ImageNet (ViT-L/14@336px)", "Table 1, Sec. 3.1.3"),
    Claim("prompt-ensembling", "Prompt engineering and ensembling improve zero-shot accuracy.",
          "+5 points on average over 36 datasets; +3.5% on ImageNet from ensembling", "Fig. 4, Sec. 3.1.4"),
    Claim("parameters", "OpenAI's released ViT-B/32 and RN50 CLIP models.",
          "151,277,313 and 102,007,137 parameters (context 77, vocabulary 49,408)", "Sec. 2.4, Appendix F"),
    Claim("zero-shot", "Trained only on captions, the model classifies held-out images among all "
          "20 colour-shape classes from prompt templates it never saw (chance 0.05).",
          "20-way zero-shot accuracy >= 0.7 (miniature)", "Sec. 3.1.2, 3.1.4",
          predicate=lambda m: m["main"]["zero_shot_accuracy"] >= 0.7,
          measured=lambda m: f"{_acc(m, 'main', 'zero_shot_accuracy')}, "
          f"{_acc(m, 'main', 'zero_shot_single_prompt')}"),
    Claim("unseen-combinations", "Colour and shape are learned as concepts: images of colour-shape "
          "combinations never seen in training are told apart from their prompts (chance 0.25).",
          "4-way zero-shot on unseen combinations >= 0.75 (miniature)", "Sec. 3.1",
          predicate=lambda m: m["main"]["unseen_pairs_4way"] >= 0.75,
          measured=lambda m: _acc(m, "main", "unseen_pairs_4way")),
    Claim("language-supervision", "The captions carry the signal: trained on captions shuffled "
          "across images, the same model is near chance (0.05; its untrained colour clusters can "
          "still line up with the prompts' by luck).",
          "shuffled-caption control: 20-way zero-shot <= 0.15 (miniature)", "Sec. 2.3",
          predicate=lambda m: m["shuffled"]["zero_shot_accuracy"] <= 0.15,
          measured=lambda m: _acc(m, "shuffled", "zero_shot_accuracy")),
    Claim("unseen-combinations-20way", "Ranked among all 20 classes, an unseen combination wins. "
          "The miniature cannot show it: its training never contrasts an unseen combination with "
          "the seen ones sharing its colour or shape, which it ranks higher.",
          "top-1 among 20 on unseen combinations (no threshold in the paper)", "Sec. 3.1",
          predicate=lambda m: m["main"]["unseen_pairs_20way"] >= 0.7,
          measured=lambda m: _acc(m, "main", "unseen_pairs_20way"), expected=False),
]
