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
circle", `common.shapes_captions`). Four colour-shape combinations never appear in training (red
and green circles and squares: each shares its colour with one and its shape with another, so
colour alone or shape alone names at most half of them); the prompt templates used for
zero-shot classification never appear either. The run compares zero-shot accuracy with
attribute-only predictors on the same test images (`baselines`), with k-shot linear probes on
the same image features (Fig. 6), and with the same model trained on shuffled captions.

Real data: `--set data_root=DIR` trains on image-caption pairs listed in `DIR/train/captions.tsv`
and `DIR/val/captions.tsv`, one `<image file>\t<caption>` per line (`common.captions`), and
evaluates image <-> text retrieval recall@1 and @5 on the first 1,000 val pairs (the paper's
Flickr30k and MSCOCO retrieval, Appendix E; `common.retrieval`). Use the BPE tokenizer for real
captions: `--preset paper --set data_root=DIR`, or `--set tokenizer=bpe --set vocab_size=49408`
on a smaller preset.

Deviations from the paper:
- Activations are exact GELU, as in `open_clip`'s "ViT-B-32" (and ViT); OpenAI's released
  weights were trained with QuickGELU, x * sigmoid(1.702 x): same parameters, slightly different
  outputs (`open_clip`'s "-quickgelu" models).
- The image tower's patch projection has no bias and a LayerNorm precedes the blocks (OpenAI's
  ViT, Sec. 2.4); its blocks are ViT's with CLIP's LayerNorm epsilon (1e-5; timm's ViT: 1e-6).
- Under torchrun the contrastive loss uses each process's own batch as negatives (the paper
  gathers features across all workers: 32,768 pairs per batch).
- The miniature's text tokenizer is a word-level one (`common.text_tokenizers`); the `paper` presets use
  CLIP's byte-pair encoding with the vocabulary file shipped inside `open_clip` (no download).
- No mixed-precision tricks, gradient checkpointing or sharded similarity computation (Sec. 2.5).
- The miniature's linear probes (Fig. 6) read the unit image embeddings zero-shot reads, with a
  fixed L2 strength (PROBE_C); the paper probes the encoder's features and sweeps C.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from reproductions import vit
from reproductions.common import shapes_captions as shapes
from reproductions.common.captions import caption_data
from reproductions.common.claims import Claim
from reproductions.common.retrieval import retrieval_metrics
from reproductions.common.text_tokenizers import tokenizer_for
from reproductions.transformer import EncoderLayer

PAPER = "clip"

# What this paper changed in the networks of papers it cites, block by block: (their module's
# block, this module's block, what changed). The Paper page shows each pair side by side.
LINEAGE = {
    "vit": [
        ("VisionTransformer", "VisionTransformer", "ViT's image tower with one more LayerNorm "
         "on the patch and position embeddings before the Transformer (Sec. 2.4); its output "
         "is projected into the joint image-text space instead of classified"),
    ],
    "resnet": [
        ("Bottleneck", "Bottleneck", "ResNet-D downsampling: a stride-2 block average-pools "
         "before its last 1x1 convolution and on the shortcut (Sec. 2.4)"),
        ("ResNet", "ModifiedResNet", "Three stem convolutions and an average pool instead of "
         "one 7x7 convolution and a max pool, and attention pooling instead of global average "
         "pooling (Sec. 2.4)"),
    ],
}
log = logging.getLogger("reproductions")

# Sec. 3.1.4: "A photo of a {label}." and an ensemble; templates never used in training, whose
# key words ("photo", "drawing", ...) the miniature's tokenizer does not even know
ZERO_SHOT_TEMPLATES = ("a photo of a {}.", "a drawing of a {}.", "a rendering of one {}.",
                       "itap of my {}.")
# real images: OpenAI's released preprocessing normalises with these (open_clip's OPENAI_DATASET_*)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
PROBE_K = (1, 2, 4, 8, 16)  # Fig. 6: linear probes with 1 to 16 labelled examples per class
PROBE_DRAWS = 10  # draws of the k examples, averaged
PROBE_C = 10.0  # inverse L2 strength (the paper sweeps it); 1 to 1000 probe alike on `mini`
BASELINE_FIT = 4000  # training images the attribute-only baselines learn colour / shape from
RETRIEVAL_PAIRS = 1000  # retrieval is scored on the first 1,000 val pairs: a bounded (N, N) cost


# --- helpers --------------------------------------------------------------------------------
def contrastive_loss(image_emb, text_emb, logit_scale):
    """Fig. 3: logits = exp(t) * norm(I) norm(T)^T (N, N); labels = arange(N);
    loss = (CE(logits, labels) + CE(logits^T, labels)) / 2."""
    image_emb, text_emb = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    logits = logit_scale * image_emb @ text_emb.t()  # (N, N): image i vs caption j
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


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
    return CLIP(cfg)  # open_clip / OpenAI weights: `common.open_clip_weights`


# --- presets --------------------------------------------------------------------------------
_MINI = dict(embed_dim=64, image_size=16, patch_size=4, vision_width=64, vision_layers=2,
             vision_heads=4, context_length=10, text_width=64, text_layers=2, text_heads=4,
             tokenizer="words", vocab_size=len(shapes.MINI_WORDS) + 4, weight_decay=0.1, init_temperature=0.07,
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
def build_data(cfg: Config):
    """(train DataLoader of (images, tokens), held-out images and labels) on generated shapes;
    no download. Held out: new images of the 16 seen classes, and of the 4 unseen ones.
    With `data_root`: real image-caption pairs (`common.captions`), the first RETRIEVAL_PAIRS
    val pairs held out for retrieval, images decoded lazily by `num_workers`."""
    if cfg.data_root is None:
        return shapes.generated_data(cfg)
    tokenize = tokenizer_for(cfg, shapes.MINI_WORDS)
    if cfg.tokenizer == "words":
        log.warning("clip: real captions with the miniature's %d-word tokenizer; for CLIP's BPE "
                    "add --set tokenizer=bpe --set vocab_size=49408", len(shapes.MINI_WORDS))
    return caption_data(cfg, tokenize, CLIP_MEAN, CLIP_STD, RETRIEVAL_PAIRS)


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
def image_features(model: CLIP, images: torch.Tensor) -> torch.Tensor:
    """Unit image embeddings (N, E) on the CPU: what zero-shot and the linear probe both read."""
    device = next(model.parameters()).device
    return torch.cat([F.normalize(model.encode_image(x.to(device)), dim=-1).cpu() for x in images.split(512)])


def zero_shot_predict(model: CLIP, images: torch.Tensor, classifier: torch.Tensor) -> torch.Tensor:
    """The class whose prompt embedding is most similar (cosine) to each image: (N,)."""
    return (image_features(model, images) @ classifier.cpu()).argmax(-1)


def linear_probe_accuracy(shots: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                          k: int, draws: int, seed: int) -> float:
    """Fig. 6: logistic regression (L-BFGS) on k labelled feature vectors per class, drawn from
    `shots`; test accuracy averaged over `draws` draws. C = PROBE_C (the paper sweeps it)."""
    from sklearn.linear_model import LogisticRegression

    (xs, ys), (xt, yt) = shots, test
    gen, accs = torch.Generator().manual_seed(seed), []
    for _ in range(draws):
        pick = torch.cat([torch.nonzero(ys == c)[:, 0][torch.randperm(int((ys == c).sum()), generator=gen)[:k]]
                          for c in ys.unique()])
        probe = LogisticRegression(C=PROBE_C, max_iter=1000).fit(xs[pick].numpy(), ys[pick].numpy())
        accs.append(float((probe.predict(xt.numpy()) == yt.numpy()).mean()))
    return sum(accs) / draws


@torch.no_grad()
def evaluate(model: CLIP, eval_data, cfg: Config) -> dict[str, float]:
    """Zero-shot accuracies with the unseen prompt templates: 20-way on held-out images of the
    seen classes (ensemble and a single prompt), and on the unseen combinations, 4-way among
    themselves and 20-way among all classes; k-shot linear probes on the same image features for
    the unseen 4-way task (Fig. 6), and the largest k such that zero-shot matches the probes with
    1 to k examples (0: not even 1).
    On real data: retrieval recall (`retrieval_metrics`)."""
    model.eval()
    if cfg.data_root is not None:
        return {**retrieval_metrics(model, eval_data, cfg), "logit_scale": model.logit_scale.exp().item()}
    tokenize = tokenizer_for(cfg, shapes.MINI_WORDS)
    everything = zero_shot_classifier(model, shapes.CLASSES, ZERO_SHOT_TEMPLATES, tokenize)  # (E, 20)
    single = zero_shot_classifier(model, shapes.CLASSES, ZERO_SHOT_TEMPLATES[:1], tokenize)
    (xs, ys), (xu, yu), (xk, yk) = eval_data["seen"], eval_data["unseen"], eval_data["shots"]
    unseen = torch.tensor(shapes.UNSEEN)
    acc = lambda pred, y: (pred == y).float().mean().item()  # noqa: E731
    metrics = {
        "zero_shot_accuracy": acc(zero_shot_predict(model, xs, everything), ys),
        "zero_shot_single_prompt": acc(zero_shot_predict(model, xs, single), ys),
        "unseen_4way": acc(unseen[zero_shot_predict(model, xu, everything[:, unseen])], yu),
        "unseen_20way": acc(zero_shot_predict(model, xu, everything), yu),
        "logit_scale": model.logit_scale.exp().item(),
    }
    if cfg.shuffle_captions:  # the control: the claims read its zero-shot accuracy only
        return metrics
    shots, test = (image_features(model, xk), yk), (image_features(model, xu), yu)
    probes = {k: linear_probe_accuracy(shots, test, k, PROBE_DRAWS, cfg.seed) for k in PROBE_K}
    return {**metrics, **{f"probe_{k}shot": a for k, a in probes.items()},
            "zero_shot_matches_k": float(shots_matched(metrics["unseen_4way"], probes))}


def shots_matched(zero_shot: float, probes: dict[int, float]) -> int:
    """Fig. 6-7 in one number: the largest k such that zero-shot accuracy is at least that of
    every probe with k or fewer examples per class (0: the smallest probe beats it)."""
    matched = 0
    for k in sorted(probes):
        if probes[k] > zero_shot:
            break
        matched = k
    return matched


# --- baselines ------------------------------------------------------------------------------
def _tie_split_accuracy(scores: torch.Tensor, candidates: list[int], y: torch.Tensor) -> float:
    """Accuracy of picking the top-scoring candidate class (scores (N, K) over `candidates`),
    ties split evenly: a colour-only predictor cannot tell apart the classes sharing a colour."""
    top = scores >= scores.max(1, keepdim=True).values - 1e-9  # (N, K)
    truth = torch.tensor([candidates.index(k) for k in y.tolist()])
    return (top[torch.arange(len(y)), truth].float() / top.sum(1)).mean().item()


def attribute_features(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """What an attribute-only predictor reads: "colour", the mean RGB of the shape's pixels
    (N, 3), and "shape", the shape's silhouette without its colour (N, H*W)."""
    mask = shapes.object_mask(images)  # (N, H, W)
    pixels = mask.unsqueeze(1).sum((2, 3)).clamp(min=1)  # (N, 1)
    return {"colour": (images * mask.unsqueeze(1)).sum((2, 3)) / pixels, "shape": mask.flatten(1).float()}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """Attribute-only predictors on the zero-shot test splits. Logistic regression on
    `attribute_features` of BASELINE_FIT images drawn as the training images are (seen classes) reads
    the colour, or the shape, of a test image; each candidate class is scored by its attribute's
    probability, ties split evenly. On the unseen 4-way test neither can be right more than half
    the time. "colour x shape" multiplies the two: attributes read by separate classifiers trained
    on attribute labels and composed (zero-shot by attributes, Lampert et al. 2009), a reference
    rather than a trivial baseline."""
    if cfg.data_root is not None:
        return {}
    from sklearn.linear_model import LogisticRegression

    images, labels, _ = shapes.training_pairs(replace(cfg, n_train=min(cfg.n_train, BASELINE_FIT)),
                                              torch.Generator().manual_seed(cfg.seed))
    n_shapes, held_out = len(shapes.SHAPES), shapes.held_out_for(cfg)
    train = attribute_features(images)
    test = {split: attribute_features(held_out[split][0]) for split in ("seen", "unseen")}
    probs = {}
    for name, attribute in (("colour", labels // n_shapes), ("shape", labels % n_shapes)):
        fit = LogisticRegression(max_iter=1000).fit(train[name].numpy(), attribute.numpy())
        probs[name] = {split: torch.from_numpy(fit.predict_proba(f[name].numpy())) for split, f in test.items()}
    out = {"colour only": {}, "shape only": {}, "colour x shape": {}}
    for metric, split, candidates in (("zero_shot_accuracy", "seen", list(range(len(shapes.CLASSES)))),
                                      ("unseen_4way", "unseen", shapes.UNSEEN)):
        c, y = torch.tensor(candidates), held_out[split][1]
        colour, shape = probs["colour"][split][:, c // n_shapes], probs["shape"][split][:, c % n_shapes]
        out["colour only"][metric] = _tie_split_accuracy(colour, candidates, y)
        out["shape only"][metric] = _tie_split_accuracy(shape, candidates, y)
        out["colour x shape"][metric] = _tie_split_accuracy(colour * shape, candidates, y)
    return out


def variants(cfg: Config) -> dict[str, Config]:
    """The model, and the control trained on captions shuffled across images; on real data
    (`data_root`) the model only (the control is `--set shuffle_captions=True`)."""
    if cfg.data_root is not None:
        return {"main": cfg}
    return {"main": cfg, "shuffled": replace(cfg, shuffle_captions=True)}


def _acc(m, variant, metric):
    return f"{variant} {metric.replace('_', ' ')} {m[variant][metric]:.3f}"


def _over(m, metric, against, threshold):
    """{what main is compared with: main's `metric` minus its, less `threshold`}."""
    return {name: m["main"][metric] - m[name][metric] - threshold for name in against}


def _probes(m):
    probes = ", ".join(f"{k}-shot {m['main'][f'probe_{k}shot']:.3f}" for k in PROBE_K)
    k = m["main"]["zero_shot_matches_k"]
    matched = f"the probes up to {k:.0f}-shot" if k else "no probe (the 1-shot probe beats it)"
    return f"zero-shot {m['main']['unseen_4way']:.3f}; linear probes {probes}; zero-shot matches {matched}"


NEEDS_IMAGENET = "preset paper (or rn50), a trained checkpoint (common.open_clip_weights), ImageNet-1k val (data_root)"
ATTRIBUTE_ONLY = ("colour only", "shape only")
CLAIMS = [
    Claim("imagenet-zero-shot", "Zero-shot CLIP matches the original ResNet-50 on ImageNet "
          "without using any of its 1.28M training examples.",
          "76.2% top-1 zero-shot on ImageNet (ViT-L/14@336px)", "Table 1, Sec. 3.1.3", needs=NEEDS_IMAGENET),
    Claim("prompt-ensembling", "Prompt engineering and ensembling improve zero-shot accuracy.",
          "+5 points on average over 36 datasets; +3.5% on ImageNet from ensembling", "Fig. 4, Sec. 3.1.4",
          needs=NEEDS_IMAGENET + " and the 36 datasets of Fig. 4"),
    Claim("parameters", "OpenAI's released ViT-B/32 and RN50 CLIP models.",
          "151,277,313 and 102,007,137 parameters (context 77, vocabulary 49,408)", "Sec. 2.4, Appendix F",
          needs="presets paper and rn50 (counted by tests/reproductions/test_reproductions.py; no data)"),
    Claim("zero-shot", "Trained only on captions, the model classifies held-out images among all "
          "20 colour-shape classes from prompt templates it never saw, beating attribute-only "
          "predictors (colour or shape read from the pixels: at most 0.2 / 0.25) by 0.4.",
          "20-way zero-shot accuracy (miniature; chance 0.05)", "Sec. 3.1.2, 3.1.4",
          margins=lambda m: _over(m, "zero_shot_accuracy", ATTRIBUTE_ONLY, 0.4),
          measured=lambda m: f"{_acc(m, 'main', 'zero_shot_accuracy')}, "
          f"{_acc(m, 'main', 'zero_shot_single_prompt')}; colour only "
          f"{m['colour only']['zero_shot_accuracy']:.3f}, shape only {m['shape only']['zero_shot_accuracy']:.3f}"),
    Claim("unseen-combinations", "Colour and shape are learned as concepts: four combinations never "
          "seen in training (red and green circles and squares, each sharing its colour with one and "
          "its shape with another) are told apart from their prompts, beating colour alone and shape "
          "alone (each at most 0.5) by 0.1. Attribute classifiers trained on colour and shape "
          "labels and composed by hand do better (\"colour x shape\" in the measured line): "
          "captions teach the miniature less than labels do.",
          "4-way zero-shot on unseen combinations (miniature; chance 0.25)", "Sec. 3.1",
          margins=lambda m: _over(m, "unseen_4way", ATTRIBUTE_ONLY, 0.1),
          measured=lambda m: f"{_acc(m, 'main', 'unseen_4way')}; colour only "
          f"{m['colour only']['unseen_4way']:.3f}, shape only {m['shape only']['unseen_4way']:.3f}, "
          f"colour x shape classifiers {m['colour x shape']['unseen_4way']:.3f}"),
    Claim("zero-shot-vs-few-shot", "Zero-shot classification is worth labelled examples: on the "
          "unseen combinations it beats a logistic-regression probe on the same image features "
          "trained on 1 labelled image per class (the measured line says which k it matches).",
          "zero-shot matches a 4-shot linear probe on the same features (average of 20 datasets); "
          "median 5.4 labelled examples per class", "Fig. 6, Fig. 7",
          margins=lambda m: {"1-shot linear probe": m["main"]["unseen_4way"] - m["main"]["probe_1shot"]},
          measured=_probes),
    Claim("language-supervision", "The captions carry the signal: trained on the same captions "
          "shuffled across images, the same model falls to near chance (0.05) and at least 0.5 "
          "below the model trained on the true pairs.",
          "shuffled-caption control (miniature)", "Sec. 2.3",
          margins=lambda m: _over(m, "zero_shot_accuracy", ("shuffled",), 0.5),
          measured=lambda m: f"{_acc(m, 'main', 'zero_shot_accuracy')}, {_acc(m, 'shuffled', 'zero_shot_accuracy')}"),
]
