"""Pre-trained Transformer language models: GPT-1, BERT, GPT-2, GPT-3.

- Radford et al. (2018), "Improving Language Understanding by Generative Pre-Training" (GPT-1),
  https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf
- Devlin et al. (2019), "BERT", https://arxiv.org/abs/1810.04805
- Radford et al. (2019), "Language Models are Unsupervised Multitask Learners" (GPT-2),
  https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf
- Brown et al. (2020), "Language Models are Few-Shot Learners" (GPT-3), https://arxiv.org/abs/2005.14165

One Transformer stack (the blocks of `reproductions.transformer`, by import) with a preset per
paper: GPT-1 is a 12-layer causal decoder with learned positions and post-LN blocks (Sec. 4.1),
pre-trained by next-token prediction (Eq. 1-2) and fine-tuned on the last token's state with
an auxiliary LM loss (Eq. 3-5); BERT is the same stack without the causal mask, with segment
embeddings, an embedding LayerNorm, a pooler and masked-LM pre-training (Sec. 3.1); GPT-2 moves
LayerNorm to each sub-block's input and adds a final one (Sec. 2.3); GPT-3 is GPT-2 scaled
(Table 2.1).

Presets (parameter counts as built, no task head): `paper` = GPT-1, 116,534,784 (the GPT-2
paper's Table 2 lists this size as 117M); `paper-bert` = BERT-base with MLM and NSP heads,
110,106,428 (Sec. 3: 110M); `paper-gpt2` = GPT-2 small, 124,439,808 (Table 2: "117M", a
miscount), `paper-gpt2-xl` = 1,557,611,200 (Table 2: 1542M); `paper-gpt3` = 174,604,259,328
(Table 2.1: 175.0B). Miniatures on `common.lm_corpus`'s generated reviews (no download):
`mini` (GPT-1: pre-train then fine-tune on 12 labels vs the same net from scratch),
`mini-bert` (masked-LM pre-training, same comparison), `mini-gpt2` (GPT-2: three sizes, 2,000 /
29,920 / 108,992 parameters, on the same batches: held-out loss against size, against a bigram
model, and the zero-shot probe "overall it was very good/bad" against size, Sec. 3 / Fig. 1);
`mini-gpt3` (GPT-3: one LM pre-trained on `common.lm_tasks`'s random symbol -> label mappings,
k-shot accuracy on new mappings for k = 0..8 against shuffled demo labels, Fig. 1.2); `tiny`.
Every causal model on reviews also reports the zero-shot probe of GPT-1 Sec. 5 and, with
`shots`, in-context accuracy on `lm_corpus`'s rule documents.

Deviations from the papers:
- One AdamW optimizer runs through pre-training and fine-tuning (the papers start fine-tuning
  afresh); its rate drops to `finetune_lr` at the switch and decays linearly (GPT-1 Sec. 4.1).
- The minis use pre-LN blocks (GPT-2 Sec. 2.3) even for GPT-1 and BERT: with GPT-1's post-LN
  blocks the 2-layer miniature stayed on a plateau (polarity unused, zero-shot probe at chance)
  for over 800 steps in exploration, where pre-LN at lr 6e-3 leaves it after ~450.
- Tokens are whole generated words, not BPE; BERT's mini has no next-sentence task, and its
  [CLS] token is the document's BOS. GPT-3's alternating sparse attention layers (Sec. 2.1) are
  dense here (the parameter count is the same).
- GPT-2's ladder changes width and depth together (Table 2 does too) with 16-dimensional heads;
  the sizes span 54x, the paper's 13x. GPT-3's in-context test scores only the label tokens
  (Sec. 2.4's multiple choice by likelihood), on prompts of new mappings, not natural tasks.
- GPT-3's demos are one "x=f(x)" token each (half the pre-training items too): with two-token
  "x f(x)" demos only, the 2-layer miniature (d 32 or 64, 3 layers, lr 2e-3 to 6e-3, uniform or
  bursty sequences) stayed at the most-frequent-label level for 3,000 steps (8 shots 0.42-0.45,
  shuffled labels the same): the two-layer induction circuit did not form. Pre-training
  sequences are bursty (2-8 of the 8 symbols each, Chan et al. 2022): with all 8 in every
  sequence even the one-layer lookup had not formed after 400 steps.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from reproductions.common import lm_corpus as C
from reproductions.common import lm_tasks as T
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError
from reproductions.transformer import EncoderLayer, padding_mask

PAPER = "gpt1"


# --- config ---------------------------------------------------------------------------------
@dataclass
class Config:
    vocab_size: int = 40478  # GPT-1 Sec. 4.1: a BPE vocabulary of 40,000 merges (+ base symbols)
    n_positions: int = 512  # Sec. 4.1: sequences of 512 tokens, learned position embeddings
    d_model: int = 768  # Sec. 4.1: 768-dimensional states
    n_layers: int = 12  # Sec. 4.1: 12-layer decoder-only transformer
    n_heads: int = 12
    d_ff: int = 3072  # Sec. 4.1: 3072-dimensional inner states
    dropout: float = 0.1  # Sec. 4.1: residual, embedding and attention dropout 0.1
    causal: bool = True  # False: BERT's bidirectional encoder (Sec. 3)
    pre_norm: bool = False  # GPT-2 Sec. 2.3: LayerNorm at each sub-block's input + a final one
    bert_heads: bool = False  # BERT: segment embeddings, embedding LN, pooler, MLM transform
    next_sentence: bool = False  # BERT's NSP classifier (Sec. 3.1, Task #2)
    num_classes: int = 0  # the fine-tuning head W_y (Eq. 3); 0: none (a paper-scale count)
    objective: Literal["lm", "mlm"] = "lm"  # pre-training loss: Eq. 1 or BERT's masked LM
    mask_rate: float = 0.15  # BERT Sec. 3.1: 15% of tokens, 80% [MASK] / 10% random / 10% kept
    lm_weight: float = 0.5  # GPT-1 Eq. 5: lambda of the auxiliary LM loss while fine-tuning
    pretrain_steps: int = 0  # the first steps are pre-training, the rest fine-tuning
    finetune_lr: float = 6.25e-5  # GPT-1 Sec. 4.1 (fine-tuning details)
    warmup: int = 2000  # GPT-1 Sec. 4.1: linear warm-up over 2000 updates, then cosine
    grad_clip: float | None = 1.0  # global norm (the trainer clips; GPT-1 does not say)
    seed: int = 0
    steps: int = 100_000
    batch_size: int = 64  # GPT-1 Sec. 4.1: minibatches of 64 sequences
    lr: float = 2.5e-4  # GPT-1 Sec. 4.1: max learning rate of Adam
    data_root: str | None = None  # unused: the corpus is generated (real text is paper-scale)
    # the generated corpus (common.lm_corpus)
    sentiment_words: int = 48  # synonyms per polarity
    n_pretrain: int = 20000  # unlabelled documents
    n_labels: int = 24  # labelled documents to fine-tune on
    n_test: int = 1000
    summary: float = 0.3  # fraction of pre-training reviews ending "overall it was very good/bad"
    noise: float = 0.1  # chance that a sentiment word comes from the other polarity
    rule_fraction: float = 0.0  # fraction of pre-training documents that are rule lists
    shots: tuple[int, ...] = ()  # in-context evaluation with k examples (GPT-3)
    compare: Literal["none", "pretraining", "size"] = "none"  # the mini's variants
    # GPT-2's miniature (compare=size): three models (d_model, n_layers), 4 * d_model FFN,
    # 16-dimensional heads, trained on the same batches for the same steps (Table 2's ladder)
    size_widths: tuple[int, ...] = (8, 32, 64)
    size_layers: tuple[int, ...] = (1, 2, 2)
    # GPT-3's miniature (corpus=mappings, common.lm_tasks): random symbol -> label mappings
    corpus: Literal["reviews", "mappings"] = "reviews"
    map_symbols: int = 8
    map_classes: int = 4
    map_pairs: int = 16  # pairs per pre-training sequence
    map_fused: float = 0.0  # fraction of items written as one "x=y" token (demos: all if > 0)


# --- model ----------------------------------------------------------------------------------
class GPT(nn.Module):
    """Eq. 2: h_0 = U W_e + W_p, h_l = transformer_block(h_{l-1}), P(u) = softmax(h_n W_e^T).
    forward(tokens (B, T)) -> final states (B, T, D)."""

    def __init__(self, cfg: Config):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, d)  # W_e
        self.pos = nn.Embedding(cfg.n_positions, d)  # W_p, learned (GPT-1 Sec. 4.1)
        self.seg = nn.Embedding(2, d) if cfg.bert_heads else None  # BERT Fig. 2: E_A, E_B
        self.emb_norm = nn.LayerNorm(d) if cfg.bert_heads else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            EncoderLayer(d, cfg.n_heads, cfg.d_ff, cfg.dropout, cfg.pre_norm, nn.GELU)
            for _ in range(cfg.n_layers))  # GELU: GPT-1 Sec. 4.1, BERT Sec. 3
        self.final_norm = nn.LayerNorm(d) if cfg.pre_norm else None  # GPT-2 Sec. 2.3
        if cfg.bert_heads:  # BERT's pooler (tanh on [CLS]) and MLM transform (dense, GELU, LN)
            self.pooler = nn.Sequential(nn.Linear(d, d), nn.Tanh())
            self.mlm_transform = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))
            self.mlm_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.nsp = nn.Linear(d, 2) if cfg.next_sentence else None
        self.head = nn.Linear(d, cfg.num_classes) if cfg.num_classes else None  # W_y (Eq. 3)
        for m in self.modules():  # GPT-1 Sec. 4.1: N(0, 0.02) initialisation
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, tokens):  # (B, T)
        pos = torch.arange(tokens.size(1), device=tokens.device)
        x = self.tok(tokens) + self.pos(pos)  # (B, T, D)
        mask = None
        if self.cfg.bert_heads:
            x = self.emb_norm(x + self.seg(torch.zeros_like(tokens)))  # one segment
        if not self.cfg.causal:
            mask = padding_mask(tokens)  # (B, 1, 1, T): padding is never attended
        x = self.drop(x)
        for block in self.blocks:
            x = block(x, mask=mask, causal=self.cfg.causal)
        return self.final_norm(x) if self.final_norm is not None else x  # (B, T, D)

    def lm_logits(self, h):  # (B, T, D) -> (B, T, V), the output matrix tied to W_e (Eq. 2)
        if self.cfg.bert_heads:
            return F.linear(self.mlm_transform(h), self.tok.weight, self.mlm_bias)
        return F.linear(h, self.tok.weight)

    def classify(self, h, tokens):
        """GPT-1 Eq. 3: softmax(h_l^m W_y) on the last token's state; BERT: the pooled [CLS]."""
        if self.cfg.bert_heads:
            return self.head(self.pooler(h[:, 0]))  # (B, K)
        last = (tokens != C.PAD).sum(1) - 1  # (B,): the EOS ("extract") token
        return self.head(h[torch.arange(len(h)), last])  # (B, K)


def build_model(cfg: Config) -> GPT:
    if cfg.d_model % cfg.n_heads:
        raise ConfigError("d_model must be a multiple of n_heads")
    return GPT(dataclasses.replace(cfg, vocab_size=cfg.vocab_size or _vocab_size(cfg)))


# --- presets --------------------------------------------------------------------------------
# minis: pre-LN blocks (see Deviations), 24 synonyms per polarity, 12 labelled reviews
_MINI = dict(n_positions=32, d_model=64, n_layers=2, n_heads=4, d_ff=256, dropout=0.0,
             pre_norm=True, batch_size=32, lr=6e-3, finetune_lr=2e-4, warmup=50,
             sentiment_words=24, noise=0.05, summary=0.5, n_labels=12, vocab_size=0)
_BERT = dict(vocab_size=30522, causal=False, bert_heads=True, objective="mlm")
_GPT2 = dict(vocab_size=50257, n_positions=1024, pre_norm=True, dropout=0.0)
PRESETS = {
    "paper": Config(),  # GPT-1: 116,534,784
    "paper-bert": Config(**_BERT, next_sentence=True, steps=1_000_000, batch_size=256,
                         lr=1e-4, warmup=10_000),  # BERT-base, Sec. 3 / A.2: 110,106,428
    "paper-gpt2": Config(**_GPT2, batch_size=512),  # GPT-2 small: 124,439,808
    "paper-gpt2-xl": Config(**_GPT2, d_model=1600, n_layers=48, n_heads=25, d_ff=6400,
                            batch_size=512),  # 1,557,611,200
    "paper-gpt3": Config(**{**_GPT2, "n_positions": 2048}, d_model=12288, n_layers=96, n_heads=96,
                         d_ff=4 * 12288, lr=0.6e-4),  # Table 2.1: 174,604,259,328
    "mini": Config(**_MINI, num_classes=2, pretrain_steps=1000, steps=1100,
                   compare="pretraining"),  # 108,992 parameters + a 130-parameter head
    "mini-bert": Config(**_MINI, num_classes=2, pretrain_steps=1000, steps=1100, causal=False,
                        bert_heads=True, objective="mlm", compare="pretraining"),
    # GPT-2: 3 sizes (2,000 / 29,920 / 108,992 parameters) on the same 1,200 batches of reviews
    "mini-gpt2": Config(**_MINI, steps=1200, compare="size"),
    # GPT-3: one LM pre-trained on random-mapping sequences, k-shot prompts of new mappings
    "mini-gpt3": Config(**{**_MINI, "n_positions": 34}, corpus="mappings", steps=1000,
                        shots=(0, 1, 2, 4, 8), map_fused=0.5),  # 105,216 parameters
    "tiny": Config(vocab_size=0, n_positions=48, d_model=16, n_layers=1, n_heads=2, d_ff=32,
                   num_classes=2, steps=3, batch_size=8, n_pretrain=64, n_labels=8, n_test=16,
                   shots=(0, 1), rule_fraction=0.2, warmup=1),
}


def variants(cfg: Config) -> dict[str, Config]:
    """compare=pretraining: `pretrained` (pre-train, then fine-tune) and `scratch` (the same
    fine-tuning steps on the same labels from random weights: GPT-1 Table 5 "w/o pre-training").
    compare=size: `small`, `medium`, `large` from `size_widths` x `size_layers`."""
    base = dataclasses.replace(cfg, compare="none")
    if cfg.compare == "size":  # GPT-2 Table 2: one recipe, more width and depth
        if not len(cfg.size_widths) == len(cfg.size_layers) == len(SIZES):
            raise ConfigError(f"size_widths and size_layers need {len(SIZES)} entries each")
        return {name: dataclasses.replace(base, d_model=d, n_layers=n, n_heads=max(1, d // 16),
                                          d_ff=4 * d)
                for name, d, n in zip(SIZES, cfg.size_widths, cfg.size_layers, strict=True)}
    if cfg.compare == "pretraining":
        return {"pretrained": base, "scratch": dataclasses.replace(
            base, pretrain_steps=0, steps=cfg.steps - cfg.pretrain_steps)}
    return {"main": base}


# --- data -----------------------------------------------------------------------------------
def vocab(cfg: Config) -> C.Vocab:
    return C.Vocab(cfg.sentiment_words)


def _check(cfg: Config) -> C.Vocab:
    v = vocab(cfg)
    if cfg.vocab_size not in (0, len(v)):
        raise ConfigError(f"the generated corpus has {len(v)} tokens: set vocab_size=0")
    return v


def _vocab_size(cfg: Config) -> int:
    if cfg.corpus == "reviews":
        return len(_check(cfg))
    n = T.mapping_vocab_size(cfg.map_symbols, cfg.map_classes)
    if cfg.num_classes:
        raise ConfigError("the mapping corpus has no labelled documents: set num_classes=0")
    if cfg.vocab_size not in (0, n) or cfg.n_positions < 2 * max(cfg.map_pairs, 8) + 2:
        raise ConfigError(f"the mapping corpus has {n} tokens (set vocab_size=0) and needs "
                          "n_positions >= 2 * max(map_pairs, 8) + 2")
    return n


class Phases:
    """`pretrain_steps` batches of unlabelled documents ("lm", tokens (B, T)), then endless
    batches of the labelled ones ("cls", tokens, labels), shuffled with the run's seed."""

    def __init__(self, cfg: Config, unlabelled: torch.Tensor, labelled):
        self.cfg, self.unlabelled, self.labelled = cfg, unlabelled, labelled

    def __iter__(self):
        g = torch.Generator().manual_seed(self.cfg.seed)
        b = self.cfg.batch_size
        for _ in range(self.cfg.pretrain_steps if self.cfg.num_classes else self.cfg.steps):
            yield ("lm", self.unlabelled[torch.randint(len(self.unlabelled), (b,), generator=g)])
        if not self.cfg.num_classes:  # a language model only (no labelled set: None)
            return
        x, y = self.labelled
        while True:
            i = torch.randint(len(y), (b,), generator=g)
            yield ("cls", x[i], y[i])


def labelled_split(cfg: Config, v: C.Vocab):
    """`n_labels` labelled reviews for fine-tuning (classes alternate) and `n_test` held-out
    ones, without summaries: the label must be read from the text."""
    def make(n, seed):
        rng = random.Random(seed)  # noqa: S311 (data, not secrets)
        pol = [i % 2 for i in range(n)]
        docs = [C.review(v, p, rng, rng.randint(2, 4), cfg.noise, False) for p in pol]
        return C.pad(docs, cfg.n_positions), torch.tensor(pol)
    return make(cfg.n_labels, 10_000 + cfg.seed), make(cfg.n_test, 999_331)


def held_out_mappings(cfg: Config):
    """The `n_test` mappings of the in-context test, kept out of every training sequence."""
    return T.held_out_mappings(cfg.map_symbols, cfg.map_classes, cfg.n_test, 999_331)


def mapping_prompts(cfg: Config, k: int, shuffled: bool = False):
    """GPT-3 Sec. 2: one k-shot prompt per held-out mapping (the same demos and query for
    every variant, the shuffled control included); (prompts, answers, seen)."""
    return T.mapping_prompts(held_out_mappings(cfg), k, cfg.map_symbols, cfg.map_classes,
                             seed=5000 + k, shuffle_labels=shuffled,
                             fused_demos=cfg.map_fused > 0)


def build_data(cfg: Config):
    if cfg.corpus == "mappings":
        _vocab_size(cfg)
        seqs = T.mapping_sequences(cfg.n_pretrain, cfg.map_pairs, cfg.map_symbols,
                                   cfg.map_classes, cfg.seed, set(held_out_mappings(cfg)),
                                   cfg.map_fused)
        return Phases(cfg, seqs, None), {}
    v = _check(cfg)
    docs, _ = C.corpus(v, cfg.n_pretrain, cfg.seed, summary=cfg.summary, noise=cfg.noise,
                       rule_fraction=cfg.rule_fraction)
    train, test = labelled_split(cfg, v)
    held, _ = C.corpus(v, 500, 777_777, summary=cfg.summary, noise=cfg.noise,
                       rule_fraction=cfg.rule_fraction)
    return Phases(cfg, C.pad(docs, cfg.n_positions), train), {
        "test": test, "held_out": C.pad(held, cfg.n_positions)}


# --- training -------------------------------------------------------------------------------
def mask_tokens(tokens: torch.Tensor, cfg: Config, vocab_size: int):
    """BERT Sec. 3.1: choose `mask_rate` of the real tokens (never BOS/EOS/PAD); replace 80% of
    them by [MASK], 10% by a random token, keep 10%. Returns (inputs, targets with -100 where
    nothing is predicted)."""
    real = tokens > C.SEP  # content tokens only
    chosen = real & (torch.rand(tokens.shape, device=tokens.device) < cfg.mask_rate)
    targets = tokens.masked_fill(~chosen, -100)
    r = torch.rand(tokens.shape, device=tokens.device)
    inputs = tokens.masked_fill(chosen & (r < 0.8), C.MASK)
    noise = chosen & (r >= 0.8) & (r < 0.9)
    random_tokens = torch.randint(C.SEP + 1, vocab_size, tokens.shape, device=tokens.device)
    return torch.where(noise, random_tokens, inputs), targets


def lm_loss(model: GPT, tokens: torch.Tensor, h: torch.Tensor | None = None):
    """Eq. 1: -sum_i log P(u_i | u_<i), averaged over real next tokens; for BERT the masked-LM
    loss on its 15% (then `h` must be None: the inputs are masked)."""
    if model.cfg.objective == "mlm":
        inputs, targets = mask_tokens(tokens, model.cfg, model.tok.num_embeddings)
        logits = model.lm_logits(model(inputs))  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
    h = model(tokens) if h is None else h
    logits = model.lm_logits(h[:, :-1])  # (B, T-1, V): predict token t+1 from <= t
    return F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten(), ignore_index=C.PAD)


def training_step(model: GPT, batch) -> dict:
    """("lm", tokens): pre-training (Eq. 1 or masked LM). ("cls", tokens, labels): fine-tuning,
    L3 = L2 + lambda L1 (Eq. 5; BERT fine-tunes with L2 alone)."""
    if batch[0] == "lm":
        return {"loss": lm_loss(model, batch[1])}
    _, tokens, labels = batch
    h = model(tokens)  # (B, T, D)
    cls = F.cross_entropy(model.classify(h, tokens), labels)  # Eq. 4
    if model.cfg.objective == "lm" and model.cfg.lm_weight:
        return {"loss": cls + model.cfg.lm_weight * lm_loss(model, tokens, h), "cls_loss": cls}
    return {"loss": cls, "cls_loss": cls}


def build_optimizer(model: GPT, cfg: Config):
    """Adam(W) (GPT-1 Sec. 4.1: weight decay w = 0.01 on non-bias weights), linear warm-up then
    cosine decay over pre-training; fine-tuning at `finetune_lr`, decaying linearly to 0."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": rest, "weight_decay": 0.0}], lr=cfg.lr)
    pre = cfg.pretrain_steps if cfg.num_classes else cfg.steps

    def factor(s):
        if s < pre:
            return min(1.0, (s + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * s / pre))
        return cfg.finetune_lr / cfg.lr * (1 - (s - pre) / max(1, cfg.steps - pre))
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


@torch.no_grad()
def evaluate(model: GPT, eval_data, cfg: Config) -> dict[str, float]:
    """Test accuracy of the fine-tuned head; held-out LM loss (causal models); the zero-shot
    probe (P(good) vs P(bad) after "overall it was very", GPT-1 Sec. 5); in-context accuracy
    with k examples (GPT-3 Sec. 2)."""
    out: dict[str, float] = {}
    if cfg.corpus == "mappings":
        return in_context_accuracy(model, cfg)
    v = vocab(cfg)
    x, y = eval_data["test"]
    if cfg.num_classes:
        out["test_accuracy"] = float((model.classify(model(x), x).argmax(-1) == y)
                                     .float().mean())
    if not cfg.causal:
        return out
    out["lm_loss"] = float(lm_loss(model, eval_data["held_out"]))
    probe = v.ids("overall it was very")
    docs = [row[row != C.PAD].tolist()[:-1] + probe for row in x]  # drop EOS, add the probe
    length = max(map(len, docs))
    if length <= cfg.n_positions:
        t = C.pad(docs, length)
        last = torch.tensor([len(d) - 1 for d in docs])
        logits = model.lm_logits(model(t)[torch.arange(len(t)), last])  # (N, V)
        guess = (logits[:, v.bad] > logits[:, v.good]).long()  # polarity 1 = negative
        out["zero_shot_accuracy"] = float((guess == y).float().mean())
    for k in cfg.shots:
        prompts, answers = C.in_context_prompts(v, 400, k, seed=4242 + k)
        logits = model.lm_logits(model(prompts)[:, -1])  # (N, V)
        out[f"icl_accuracy_{k}"] = float((logits.argmax(-1) == answers).float().mean())
    return out


@torch.no_grad()
def in_context_accuracy(model: GPT, cfg: Config) -> dict[str, float]:
    """GPT-3 Sec. 2.4: the query's label is the candidate label the model finds likeliest
    after the k-shot prompt; `icl_accuracy_k`, and `icl_shuffled_accuracy_k` for the same
    prompts with the demos' labels permuted among them (k >= 2)."""
    out = {}
    labels = T.labels(cfg.map_symbols, cfg.map_classes)
    for k in cfg.shots:
        for shuffled in (False, True) if k >= 2 else (False,):
            prompts, answers, _ = mapping_prompts(cfg, k, shuffled)
            logits = model.lm_logits(model(prompts)[:, -1])[:, labels]  # (N, classes)
            name = f"icl_{'shuffled_' if shuffled else ''}accuracy_{k}"
            out[name] = float((logits.argmax(-1) == answers).float().mean())
    return out


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """Trivial classifiers fitted on the same `n_labels` documents, scored on the same test
    set: the majority class and logistic regression on bag-of-words counts. GPT-2's mini:
    unigram and bigram LMs counted on the same pre-training text (the bigram's zero-shot
    answer is the same for every review). GPT-3's mini: chance, the prompt's most frequent
    demo label, and the lookup reader (right when the query is among the demos, else a
    guess: the ceiling of a reader of the demos)."""
    if cfg.corpus == "mappings":
        c = cfg.map_classes
        freq, lookup = {}, {}
        for k in cfg.shots:
            prompts, answers, seen = mapping_prompts(cfg, k)
            freq[f"icl_accuracy_{k}"] = T.frequent_label_accuracy(
                prompts, answers, cfg.map_symbols, c)
            lookup[f"icl_accuracy_{k}"] = float(seen.float().mean() * (1 - 1 / c) + 1 / c)
        return {"chance": {f"icl_accuracy_{k}": 1 / c for k in cfg.shots},
                FREQUENT: freq, "lookup reader": lookup}
    if cfg.compare == "size":
        v = _check(cfg)
        train, held = build_data(cfg)
        x, y = held["test"]
        bigram = T.bigram_logp(train.unlabelled, len(v))
        very = v.stoi["very"]
        guess = int(bigram[very, v.bad] > bigram[very, v.good])  # polarity 1 = negative
        return {"unigram": {"lm_loss": T.ngram_loss(train.unlabelled, held["held_out"], len(v), 1)},
                "bigram": {"lm_loss": T.ngram_loss(train.unlabelled, held["held_out"], len(v), 2),
                           "zero_shot_accuracy": float((y == guess).float().mean())}}
    if not cfg.num_classes:
        return {}
    from sklearn.linear_model import LogisticRegression

    v = _check(cfg)
    (xtr, ytr), (xte, yte) = labelled_split(cfg, v)

    def bow(x):
        return F.one_hot(x, len(v)).sum(1)[:, C.SEP + 1:].float().numpy()
    lr = LogisticRegression(max_iter=1000).fit(bow(xtr), ytr.numpy())
    majority = int(ytr.mode().values)
    return {"majority": {"test_accuracy": float((yte == majority).float().mean())},
            "bag-of-words logistic regression": {
                "test_accuracy": float((lr.predict(bow(xte)) == yte.numpy()).mean())}}


def figures(out_dir, cfg: Config, models, metrics) -> list[dict]:
    """GPT-3 Fig. 1.2 redrawn: in-context accuracy against the number of demos in the prompt,
    with the shuffled-label control and the baselines."""
    if cfg.corpus != "mappings" or "main" not in metrics:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = baselines(cfg)
    ks = list(cfg.shots)
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    ax.plot(ks, [metrics["main"][f"icl_accuracy_{k}"] for k in ks], "o-", label="LM, true demos")
    shuffled = [k for k in ks if k >= 2]
    ax.plot(shuffled, [metrics["main"][f"icl_shuffled_accuracy_{k}"] for k in shuffled], "s--",
            label="LM, demo labels shuffled")
    for name, style in (("lookup reader", ":"), (FREQUENT, "-."), ("chance", "-")):
        ax.plot(ks, [base[name][f"icl_accuracy_{k}"] for k in ks], style, color="grey",
                alpha=0.4 + 0.2 * (style == ":"), label=name)
    ax.set(xlabel="demos in the prompt (k)", ylabel="accuracy on new mappings", ylim=(0, 1.02),
           xticks=ks, title="In-context learning of new mappings")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "icl_vs_shots.png", dpi=110)
    plt.close(fig)
    return [{"file": "icl_vs_shots.png", "paper_figure": "Fig. 1.2",
             "caption": "Accuracy on 1,000 held-out random mappings against the number of "
                        "demos in the prompt (no gradient step), beside the same prompts with "
                        "shuffled demo labels and the lookup reader's ceiling."}]


# --- claims ---------------------------------------------------------------------------------
BOW = "bag-of-words logistic regression"
FREQUENT = "most frequent demo label"
SIZES = ("small", "medium", "large")


def _acc(m, v):
    return m[v]["test_accuracy"]


def _loss(m, v):
    return m[v]["lm_loss"]


def _zs(m, v):
    return m[v]["zero_shot_accuracy"]


def _icl(m, v, k, kind=""):
    return m[v][f"icl_{kind}accuracy_{k}"]


def _over(m, method, others, bar):
    return {o: _acc(m, method) - _acc(m, o) - bar for o in others}


def _pretraining_claim(cid, what, paper, source, preset, expected=True, why=""):
    return Claim(
        id=cid,
        text=f"{what}, then fine-tuned on 12 labelled reviews, the network classifies held-out "
        "reviews at least 0.10 more accurately than the same network trained from scratch on "
        "the same labels for the same fine-tuning steps, and than the majority class and "
        "bag-of-words logistic regression on those labels (the synonyms it never saw labelled "
        "it knows from their contexts)." + why,
        paper=paper, source=source, presets=(preset,), expected=expected,
        margins=lambda m: _over(m, "pretrained", ("scratch", "majority", BOW), 0.10),
        measured=lambda m: f"pretrained {_acc(m, 'pretrained'):.3f}, scratch "
        f"{_acc(m, 'scratch'):.3f}, bag-of-words LR {_acc(m, BOW):.3f}, majority "
        f"{_acc(m, 'majority'):.3f}")


CLAIMS = [
    _pretraining_claim(
        "pretraining-helps", "Pre-trained as a left-to-right language model on 20,000 "
        "unlabelled reviews (Eq. 1)",
        "average score 74.7 with pre-training vs 59.9 without (Transformer w/o pre-training)",
        "Table 5", "mini"),
    Claim("glue-gpt1", "Generative pre-training then discriminative fine-tuning improves the "
          "state of the art on 9 of the 12 tasks studied.",
          "GLUE 72.8 (previous best 68.9); e.g. SST-2 91.3, CoLA 45.4", "Table 4, Sec. 4.2",
          needs="preset paper pre-trained on BooksCorpus (not shipped), fine-tuned on GLUE"),
    _pretraining_claim(
        "mlm-pretraining-helps", "Pre-trained with the masked-LM objective (15% of tokens, "
        "80/10/10) on 20,000 unlabelled reviews",
        "BERT-base GLUE average 79.6 (Table 1); pre-training tasks ablated in Table 5",
        "Sec. 3.1, Table 1", "mini-bert", expected=False,
        why=" Not shown in miniature: with the GPT-1 mini's recipe, seed 0 fine-tuned to 0.52 "
        "after MLM pre-training (scratch 0.61). The fault is in pre-training, not the [CLS] "
        "head: a logistic-regression probe on the pre-trained [CLS] or mean-pooled states "
        "reads the polarity of held-out reviews at chance (0.47-0.53), and a masked sentiment "
        "word is given to the right polarity half the time, after 1,000 or 2,500 steps, at lr "
        "2e-3, 6e-3 or 1.2e-2, with batches of 128, without the embedding LayerNorm, or with a "
        "summary in every review; the left-to-right LM learns it (T5's span corruption fails "
        "the same way, t5.py)."),
    Claim("loss-falls-with-size",
          "Three sizes (2,000, 29,920 and 108,992 parameters) trained on the same 20,000 "
          "generated reviews with the same 1,200 batches: the held-out LM loss falls with size "
          "(small > medium > large), the large model at least 0.03 nats below the small one, "
          "and the small one at least 0.05 below a bigram model counted on the same text.",
          "WebText perplexity falls steadily with size, 117M to 1542M, and every size "
          "still underfits (Fig. 4); larger models do better on 7 of 8 LM datasets (Table 3)",
          "Fig. 4, Table 3", presets=("mini-gpt2",),
          margins=lambda m: {
              "small": _loss(m, "small") - _loss(m, "large") - 0.03,
              "medium": min(_loss(m, "small") - _loss(m, "medium"),
                            _loss(m, "medium") - _loss(m, "large")),
              "bigram": _loss(m, "bigram") - _loss(m, "small") - 0.05},
          measured=lambda m: ", ".join(f"{v} {_loss(m, v):.3f}" for v in (*SIZES, "bigram",
                                                                          "unigram"))),
    Claim("zero-shot-with-size",
          "Never trained on a label, the large model reads the polarity of held-out reviews "
          "(no summary) zero-shot: after the prompt \"overall it was very\" it finds the right "
          "one of \"good\" / \"bad\" likelier (Sec. 3's candidate scoring) at least 0.2 more "
          "often than the bigram's constant answer (chance) and than the small model.",
          "zero-shot performance on reading comprehension, translation, summarization and "
          "question answering rises with model size (Fig. 1)", "Sec. 3, Fig. 1",
          presets=("mini-gpt2",),
          margins=lambda m: {v: _zs(m, "large") - _zs(m, v) - 0.2 for v in ("bigram", "small")},
          measured=lambda m: ", ".join(f"{v} {_zs(m, v):.3f}" for v in (*SIZES, "bigram"))),
    Claim("webtext-zero-shot", "GPT-2 (1542M) sets the zero-shot state of the art on 7 of 8 "
          "language-modelling datasets without training on any of them.",
          "e.g. LAMBADA perplexity 8.63 (previous 99.8), accuracy 63.24%; CBT-CN 93.30%",
          "Table 3", needs="preset paper-gpt2-xl pre-trained on WebText (not shipped)"),
    Claim("icl-rises-with-shots",
          "One LM pre-trained on 20,000 sequences of items \"x f(x)\" or \"x=f(x)\" (one "
          "token), a fresh random map of 8 symbols to 4 labels in each, labels queries of "
          "1,000 new maps (never in training) from k \"x=f(x)\" demos in its prompt, without a "
          "gradient step: accuracy at 8 shots is at "
          "least 0.3 above 0 shots, above the same prompts with the demos' labels shuffled, "
          "and above chance, and 0.2 above the prompt's most frequent label; it rises at each "
          "step k = 0, 1, 2, 4, 8.",
          "in-context accuracy rises with the number of examples in the context, more steeply "
          "for larger models (Fig. 1.2: removing random symbols from a word; 175B)",
          "Sec. 2, Fig. 1.2", presets=("mini-gpt3",),
          margins=lambda m: {
              "0 shots": _icl(m, "main", 8) - _icl(m, "main", 0) - 0.3,
              "shuffled demo labels": _icl(m, "main", 8) - _icl(m, "main", 8, "shuffled_")
              - 0.3,
              "chance": _icl(m, "main", 8) - _icl(m, "chance", 8) - 0.3,
              FREQUENT: _icl(m, "main", 8) - _icl(m, FREQUENT, 8) - 0.2,
              "fewer shots": min(_icl(m, "main", b) - _icl(m, "main", a)
                                 for a, b in itertools.pairwise((0, 1, 2, 4, 8)))},
          measured=lambda m: "k = 0, 1, 2, 4, 8: " + ", ".join(
              f"{_icl(m, 'main', k):.3f}" for k in (0, 1, 2, 4, 8)) + "; shuffled labels "
              f"(8) {_icl(m, 'main', 8, 'shuffled_'):.3f}; most frequent label (8) "
              f"{_icl(m, FREQUENT, 8):.3f}; lookup reader (8) {_icl(m, 'lookup reader', 8):.3f}"),
    Claim("few-shot-gpt3", "GPT-3 175B few-shot is competitive with fine-tuned models on "
          "some benchmarks, with no gradient update.",
          "e.g. TriviaQA 71.2% few-shot (64 examples) vs 68.0% fine-tuned SOTA", "Table 3.3",
          needs="preset paper-gpt3 pre-trained on 300B tokens (not shipped)"),
    Claim("glue-bert", "BERT-large improves the GLUE score over OpenAI GPT.",
          "GLUE 80.5 (BERT-large) vs 72.8 (OpenAI GPT); BERT-base 79.6", "Table 1",
          needs="preset paper-bert pre-trained on BooksCorpus + Wikipedia (not shipped)"),
]
