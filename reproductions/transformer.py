"""The Transformer: "Attention Is All You Need" (Vaswani et al., 2017), arXiv:1706.03762.

An encoder-decoder built from attention alone (Fig. 1): multi-head scaled dot-product
attention (Eq. 1, Sec. 3.2), position-wise feed-forward layers (Eq. 2), sinusoidal positional
encodings (Sec. 3.5), one embedding matrix shared by source, target and the pre-softmax
projection (Sec. 3.4), Adam with the warm-up schedule (Eq. 3), label smoothing (Sec. 5.4), and
beam search with a length penalty (Sec. 6.1). Scores are the paper's corpus BLEU (Papineni et
al., 2002), `common.text_metrics.bleu` (with the lecture notes' sentence formula next to it).

The miniature is a generated translation-like task: reverse a sequence of tokens. Three models
train for the same steps on the same batches: the Transformer; the same model without
positional encodings, which sees the source as a bag of tokens ("wait, what order was that
in?"); and the recurrent control the paper argues against (Sec. 1, Table 1-2), an attention
LSTM (Luong et al., 2015; `common.recurrent`) of about the same parameter count. Each is
scored by BLEU against trivial outputs on the same held-out pairs (the source copied, the
majority token), and each training step is timed. What it shows: the Transformer learns the
task (the baselines score under 10 BLEU), needs its positional encodings, and takes shorter
steps than the LSTM. What it cannot show: higher BLEU than recurrence at the same steps. With
attention over a bidirectional encoder, reversal is easy for the LSTM (it scores about 100);
so were longer reversals (lengths 16-24 and 28-36) in exploration, while tasks that relate
distant source tokens (look-ups, associative recall, sums at a fixed offset) were learned by
neither model within this budget.

Deviations from the paper:
- The encoder and decoder stacks end with a LayerNorm, as `torch.nn.Transformer` and the
  reference implementation whose parameter counts we match do (2 x 2 x d_model parameters).
  With the paper's post-LN layers it is an extra affine map of an already normalised output.
- The pre-softmax projection keeps a bias (V parameters), as the reference implementation
  does: base 44,140,544 + 37,000 x 513 = 63,121,544 (paper: 65M); big 214,286,472 (213M).
- Dropout is applied where Sec. 5.4 says (sublayer outputs, embedding sums), not to attention
  weights or inside the feed-forward layer as tensor2tensor and `torch.nn.Transformer` also do.
- The length penalty normalises finished hypotheses when the best one is picked (as fairseq
  does), not at every step; decoding recomputes the decoder on the whole prefix (no cache).
- The paper batches by ~25,000 source and target tokens and averages checkpoints; the
  miniature and real text use fixed-size batches of `batch_size` pairs and the last weights.

Real parallel text (`--set data_root=DIR`: train.en/train.de, test.en/test.de, see
`common.parallel_text`) trains the same model with a shared BPE vocabulary of `vocab_size`
tokens (Sec. 5.1), with these further deviations:
- The BPE is byte-level (GPT-2's, Hugging Face `tokenizers`): no unknown tokens, exact
  detokenisation. Pairs longer than `max_positions` tokens are dropped (the count is logged).
- Only the first `n_eval` test pairs are decoded (beam search here has no cache); the paper
  scores all 3,003 sentences of newstest2014 (`--set n_eval=3003`).
- `bleu` is corpus BLEU over BPE ids; `sacrebleu` is sacrebleu's BLEU of the detokenised text
  against the raw references. The paper's BLEU is on tokenised text with compound splitting,
  so neither is directly comparable to Table 2. The no-PE ablation and the LSTM control are
  not trained.
"""

from __future__ import annotations

import contextlib
import copy
import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from reproductions.common import parallel_text
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError
from reproductions.common.recurrent import AttentionLSTM
from reproductions.common.seq2seq import greedy_decode, strip_specials
from reproductions.common.text_metrics import bleu

PAPER = "transformer"
PAD, BOS, EOS = 0, 1, 2  # special tokens (the generated task and the BPE); content starts at 3


# --- helpers --------------------------------------------------------------------------------
def sinusoidal_encoding(n_positions: int, d_model: int) -> torch.Tensor:
    """Sec. 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d))."""
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]  # (T, 1)
    inv_freq = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(n_positions, d_model)
    pe[:, 0::2] = torch.sin(pos * inv_freq)
    pe[:, 1::2] = torch.cos(pos * inv_freq[: d_model // 2])
    return pe  # (T, D)


def padding_mask(tokens: torch.Tensor) -> torch.Tensor:
    """(B, 1, 1, S) boolean, True at real tokens: broadcasts over heads and queries."""
    return (tokens != PAD)[:, None, None, :]


def warmup_lr(step: int, d_model: int, warmup_steps: int, factor: float = 1.0) -> float:
    """Eq. 3: lrate = factor * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)."""
    step = max(step, 1)
    return factor * d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)


# --- blocks ---------------------------------------------------------------------------------
class MultiHeadAttention(nn.Module):
    """Sec. 3.2.2: MultiHead(Q, K, V) = Concat(head_1..head_h) W^O,
    head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V), Attention(Q, K, V) = softmax(QK^T / sqrt(d_k)) V.

    The projections of all heads are stacked in one (3D, D) matrix, the layout of
    `torch.nn.MultiheadAttention`'s `in_proj_weight`, so self-attention is one matmul.
    """

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        assert d_model % n_heads == 0, "d_model must be a multiple of n_heads"
        self.n_heads = n_heads
        self.in_proj = nn.Linear(d_model, 3 * d_model)  # W^Q, W^K, W^V of all heads
        self.out_proj = nn.Linear(d_model, d_model)  # W^O

    def forward(self, x, memory=None, mask=None, causal=False):
        """x (B, T, D) queries; memory (B, S, D) keys and values (None: self-attention);
        mask broadcastable to (B, nh, T, S), True where attention is allowed; causal: query t
        sees keys <= t only (the decoder, Sec. 3.2.3), without building a (T, T) mask."""
        d = x.size(-1)
        if memory is None:
            q, k, v = self.in_proj(x).chunk(3, dim=-1)  # 3 x (B, T, D)
        else:  # Sec. 3.2.3: queries from the decoder, keys and values from the encoder output
            w_q, w_kv = self.in_proj.weight.split([d, 2 * d])
            b_q, b_kv = self.in_proj.bias.split([d, 2 * d])
            q = F.linear(x, w_q, b_q)  # (B, T, D)
            k, v = F.linear(memory, w_kv, b_kv).chunk(2, dim=-1)  # 2 x (B, S, D)
        q, k, v = (t.unflatten(-1, (self.n_heads, -1)).transpose(1, 2) for t in (q, k, v))
        # q (B, nh, T, hs), k and v (B, nh, S, hs). The lecture notes' `masked_softmax` sets the
        # scores of masked keys (padding; future tokens in the decoder) to -1e6 before the
        # softmax so they get zero weight; SDPA does the same with -inf inside one fused kernel
        # (flash / memory-efficient attention where the device has one), scaling by 1/sqrt(hs).
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)  # (B, nh, T, hs)
        return self.out_proj(y.transpose(1, 2).flatten(2))  # (B, T, D)


class FeedForward(nn.Module):
    """Eq. 2: FFN(x) = max(0, x W_1 + b_1) W_2 + b_2 (CLIP's text tower swaps in GELU)."""

    def __init__(self, d_model: int, d_ff: int, activation: type[nn.Module] = nn.ReLU):
        super().__init__()
        self.linear1, self.act, self.linear2 = nn.Linear(d_model, d_ff), activation(), nn.Linear(d_ff, d_model)

    def forward(self, x):
        return self.linear2(self.act(self.linear1(x)))  # (B, T, d_ff) -> (B, T, D)


class EncoderLayer(nn.Module):
    """Sec. 3.1: self-attention then feed-forward, each wrapped as LayerNorm(x + Dropout(Sublayer(x)))
    (post-LN); `norm_first` gives x + Dropout(Sublayer(LayerNorm(x))) (pre-LN: GPT-2, CLIP).
    With `causal=True` this is a decoder-only block (GPT, CLIP's text tower)."""

    def __init__(self, d_model, n_heads, d_ff, dropout, norm_first=False, activation=nn.ReLU):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff, activation)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)  # Sec. 5.4: residual dropout on each sublayer's output

    def forward(self, x, mask=None, causal=False):
        if self.norm_first:
            x = x + self.drop(self.self_attn(self.norm1(x), mask=mask, causal=causal))
            return x + self.drop(self.ff(self.norm2(x)))
        x = self.norm1(x + self.drop(self.self_attn(x, mask=mask, causal=causal)))
        return self.norm2(x + self.drop(self.ff(x)))


class DecoderLayer(nn.Module):
    """Sec. 3.1: masked self-attention, attention over the encoder output, feed-forward."""

    def __init__(self, d_model, n_heads, d_ff, dropout, norm_first=False):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, memory, memory_mask):
        """Self-attention is causal: position t sees target positions <= t (Sec. 3.2.3)."""
        if self.norm_first:
            x = x + self.drop(self.self_attn(self.norm1(x), causal=True))
            x = x + self.drop(self.cross_attn(self.norm2(x), memory, mask=memory_mask))
            return x + self.drop(self.ff(self.norm3(x)))
        x = self.norm1(x + self.drop(self.self_attn(x, causal=True)))
        x = self.norm2(x + self.drop(self.cross_attn(x, memory, mask=memory_mask)))
        return self.norm3(x + self.drop(self.ff(x)))


# --- config ---------------------------------------------------------------------------------
@dataclass
class Config:
    vocab_size: int = 37000  # Sec. 5.1: a shared source-target byte-pair vocabulary of ~37,000
    d_model: int = 512  # Table 3 (base); 1024 (big)
    n_layers: int = 6  # N, encoder and decoder each
    n_heads: int = 8  # h; 16 (big)
    d_ff: int = 2048  # inner feed-forward width; 4096 (big)
    dropout: float = 0.1  # P_drop, Sec. 5.4; 0.3 (big, EN-DE)
    label_smoothing: float = 0.1  # eps_ls, Sec. 5.4
    norm_first: bool = False  # the paper is post-LN (Sec. 3.1); True: pre-LN
    positional_encoding: bool = True  # Sec. 3.5; False is the miniature's ablation
    architecture: str = "transformer"  # or "lstm": the miniature's recurrent control (Sec. 1)
    lstm_hidden: int = 64  # the control's width, chosen to match the Transformer's parameters
    max_positions: int = 512  # rows of the sinusoid table: the longest sequence
    warmup_steps: int = 4000  # Eq. 3
    adam_betas: tuple[float, float] = (0.9, 0.98)  # Sec. 5.3, with eps 1e-9
    beam_size: int = 4  # Sec. 6.1
    length_penalty: float = 0.6  # alpha, Sec. 6.1 (Wu et al., 2016)
    min_len: int = 5  # the generated reversal task: source lengths in [min_len, max_len]
    max_len: int = 12
    n_train: int = 20000  # generated training pairs
    n_eval: int = 400  # held-out pairs decoded with beam search (real text: the first n_eval)
    seed: int = 0
    steps: int = 100_000  # Sec. 5.2: 100k steps (base), 300k (big)
    batch_size: int = 64  # sequences per step (generated data; real text without max_tokens)
    max_tokens: int = 0  # real text: batches of up to this many tokens a side, by length
    # (Sec. 5.1: ~25,000 source + 25,000 target tokens over 8 GPUs; per process here)
    lr: float = 1.0  # the factor in front of Eq. 3 (the paper: 1)
    data_root: str | None = None  # real text: aligned train/test.<lang> files; None = generated
    src_lang: str = "en"  # Sec. 6.1: WMT 2014 English-German; data_root/train.<src_lang>
    tgt_lang: str = "de"  # data_root/train.<tgt_lang>


# --- model ----------------------------------------------------------------------------------
class Transformer(nn.Module):
    """Fig. 1. forward(src (B, S), tgt_in (B, T)) -> logits (B, T, V)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        # Sec. 3.4: one matrix for source embedding, target embedding and pre-softmax weights
        self.embed = nn.Embedding(cfg.vocab_size, d)
        self.out_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.register_buffer("pe", sinusoidal_encoding(cfg.max_positions, d), persistent=False)  # (T, D)
        self.drop = nn.Dropout(cfg.dropout)  # Sec. 5.4: on the sums of embeddings and encodings
        layer_args = (d, cfg.n_heads, cfg.d_ff, cfg.dropout, cfg.norm_first)
        self.encoder = nn.ModuleList(EncoderLayer(*layer_args) for _ in range(cfg.n_layers))
        self.decoder = nn.ModuleList(DecoderLayer(*layer_args) for _ in range(cfg.n_layers))
        self.encoder_norm, self.decoder_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        for name, p in self.named_parameters():
            if p.dim() > 1 and not name.startswith("embed"):
                nn.init.xavier_uniform_(p)  # as torch.nn.Transformer and tensor2tensor
        # embeddings are multiplied by sqrt(d) (Sec. 3.4): N(0, d^-0.5) makes them N(0, 1), on the
        # scale of the encodings, and keeps the tied pre-softmax logits O(1)
        nn.init.normal_(self.embed.weight, std=d**-0.5)

    def _embed(self, tokens):
        x = self.embed(tokens) * math.sqrt(self.cfg.d_model)  # (B, T, D)
        if self.cfg.positional_encoding:
            x = x + self.pe[: tokens.size(1)]
        return self.drop(x)

    def encode(self, src):
        """src (B, S) -> memory (B, S, D), memory_mask (B, 1, 1, S)."""
        mask = padding_mask(src)
        x = self._embed(src)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.encoder_norm(x), mask

    def decode(self, tgt_in, memory, memory_mask):
        """tgt_in (B, T) -> logits (B, T, V). Causality alone suffices on the target side:
        padding comes after the last real token, so no real query ever sees it."""
        x = self._embed(tgt_in)
        for layer in self.decoder:
            x = layer(x, memory, memory_mask)
        return F.linear(self.decoder_norm(x), self.embed.weight, self.out_bias)  # (B, T, V)

    def forward(self, src, tgt_in):
        memory, memory_mask = self.encode(src)
        return self.decode(tgt_in, memory, memory_mask)


class RecurrentControl(AttentionLSTM):
    """What the paper replaces (Sec. 1, Table 2's GNMT): an attention LSTM encoder-decoder
    (`common.recurrent`) with `n_layers` layers of width `lstm_hidden`, built from a Config."""

    def __init__(self, cfg: Config):
        super().__init__(cfg.vocab_size, cfg.lstm_hidden, cfg.n_layers, cfg.dropout)
        self.cfg = cfg


def build_model(cfg: Config) -> Transformer | RecurrentControl:
    if cfg.architecture not in ("transformer", "lstm"):
        raise ConfigError(f"architecture must be 'transformer' or 'lstm', not {cfg.architecture!r}")
    return Transformer(cfg) if cfg.architecture == "transformer" else RecurrentControl(cfg)


# --- decoding -------------------------------------------------------------------------------
def length_penalty(length: torch.Tensor, alpha: float) -> torch.Tensor:
    """Wu et al. (2016), used in Sec. 6.1: lp(Y) = ((5 + |Y|) / 6)^alpha."""
    return ((5.0 + length) / 6.0) ** alpha


@torch.no_grad()
def beam_search(model: Transformer, src: torch.Tensor, max_new: int, beam: int = 4,
                alpha: float = 0.6) -> list[list[int]]:
    """Keep the `beam` most likely prefixes per source; return each source's best finished
    hypothesis by log P(Y | X) / lp(Y). A finished beam is extended with PAD at no cost; a
    beam still open after `max_new` tokens competes as it is."""
    b, k = src.size(0), beam
    memory, memory_mask = model.encode(src)
    memory = memory.repeat_interleave(k, dim=0)  # (B*k, S, D)
    memory_mask = memory_mask.repeat_interleave(k, dim=0)  # (B*k, 1, 1, S)
    seqs = torch.full((b * k, 1), BOS, dtype=torch.long, device=src.device)  # (B*k, 1)
    scores = torch.full((b, k), float("-inf"), device=src.device)
    scores[:, 0] = 0.0  # all beams start identical: keep one so the top-k are distinct
    done = torch.zeros(b * k, dtype=torch.bool, device=src.device)
    for _ in range(max_new):
        logp = model.decode(seqs, memory, memory_mask)[:, -1].float().log_softmax(-1)  # (B*k, V)
        vocab = logp.size(-1)
        logp[:, [PAD, BOS]] = float("-inf")  # never generated
        logp[done] = float("-inf")
        logp[done, PAD] = 0.0
        total = (scores.view(-1, 1) + logp).view(b, k * vocab)  # (B, k*V)
        scores, idx = total.topk(k, dim=-1)  # (B, k)
        origin = (idx // vocab + torch.arange(b, device=src.device)[:, None] * k).view(-1)
        token = (idx % vocab).view(-1)  # (B*k,)
        seqs = torch.cat([seqs[origin], token[:, None]], dim=1)
        done = done[origin] | (token == EOS)
        if done.all():
            break
    lengths = (seqs[:, 1:] != PAD).sum(-1).float().view(b, k)  # tokens incl. EOS
    best = (scores / length_penalty(lengths, alpha)).argmax(-1)  # (B,)
    chosen = seqs.view(b, k, -1)[torch.arange(b, device=src.device), best]
    return [strip_specials(row) for row in chosen.tolist()]


# --- presets --------------------------------------------------------------------------------
PRESETS = {
    # Table 3 "base": 63,121,544 parameters with the shared 37k vocabulary (paper: 65M)
    "paper": Config(max_tokens=25_000),  # one process holds the paper's whole batch
    # Table 3 "big": 214,286,472 parameters (paper: 213M), trained for 300k steps
    "big": Config(d_model=1024, n_heads=16, d_ff=4096, dropout=0.3, steps=300_000,
                  max_tokens=25_000),
    # reversal of 5-12 tokens over 20 symbols: a 2+2-layer post-LN model, beam 4; no dropout
    # (20,000 generated pairs leave nothing to regularise and it halves the steps needed).
    # 169,175 parameters; the 2-layer attention LSTM of width 68 has 165,603
    "mini": Config(vocab_size=23, d_model=64, n_layers=2, n_heads=4, d_ff=128, dropout=0.0,
                   max_positions=64, warmup_steps=150, steps=400, batch_size=64, lr=1.0,
                   lstm_hidden=68),
    "tiny": Config(vocab_size=13, d_model=32, n_layers=1, n_heads=2, d_ff=64, max_positions=32,
                   min_len=3, max_len=6, n_train=256, n_eval=32, warmup_steps=10, steps=20,
                   batch_size=32, lstm_hidden=32),
}


# --- data -----------------------------------------------------------------------------------
def reversal_pairs(n: int, cfg: Config, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` random sources and their reversals: src (n, max_len) and tgt (n, max_len + 2) =
    BOS, reversed source, EOS, both right-padded with PAD."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(cfg.min_len, cfg.max_len + 1, (n, 1), generator=g)  # (n, 1)
    pos = torch.arange(cfg.max_len)  # (T,)
    real = pos < lengths  # (n, T)
    src = torch.randint(3, cfg.vocab_size, (n, cfg.max_len), generator=g).masked_fill(~real, PAD)
    reversed_src = src.gather(1, (lengths - 1 - pos).clamp(min=0)).masked_fill(~real, PAD)
    tgt = torch.full((n, cfg.max_len + 2), PAD, dtype=torch.long)
    tgt[:, 0], tgt[:, 1:-1] = BOS, reversed_src
    tgt.scatter_(1, lengths + 1, EOS)
    return src, tgt


def build_data(cfg: Config):
    """(train DataLoader of (src, tgt) batches, held-out (src, tgt)): the generated reversal
    task (no download), or real parallel text when `data_root` is set."""
    if cfg.data_root is not None:  # held out: the first n_eval test pairs, to bound decoding
        corpus = parallel_text.corpus_for(cfg)
        return (parallel_text.batches(corpus.train, cfg.batch_size, cfg.seed, cfg.max_tokens),
                corpus.test.padded())
    train = torch.utils.data.TensorDataset(*reversal_pairs(cfg.n_train, cfg, seed=cfg.seed))
    loader = torch.utils.data.DataLoader(
        train, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
        generator=torch.Generator().manual_seed(cfg.seed))
    return loader, reversal_pairs(cfg.n_eval, cfg, seed=cfg.seed + 1_000_003)


# --- step -----------------------------------------------------------------------------------
def build_optimizer(model: Transformer, cfg: Config):
    """Sec. 5.3: Adam(beta1 0.9, beta2 0.98, eps 1e-9) with the learning rate of Eq. 3."""
    opt = torch.optim.Adam(model.parameters(), lr=1.0, betas=cfg.adam_betas, eps=1e-9)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: warmup_lr(i + 1, cfg.d_model, cfg.warmup_steps, cfg.lr))
    return opt, sched


def training_step(model: Transformer, batch) -> dict:
    """Teacher forcing: predict tgt[1:] from src and tgt[:-1]; label-smoothed cross-entropy."""
    src, tgt = batch  # (B, S), (B, T + 1)
    logits = model(src, tgt[:, :-1])  # (B, T, V)
    loss = F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=PAD,
                           label_smoothing=model.cfg.label_smoothing)
    return {"loss": loss}


@torch.no_grad()
def evaluate(model: Transformer | RecurrentControl, eval_data, cfg: Config) -> dict[str, float]:
    """Corpus BLEU and exact-match rate of beam search (and greedy) on the held-out pairs, the
    parameter count, and the seconds one training step takes (`seconds_per_step`)."""
    model.eval()
    device = next(model.parameters()).device
    src, tgt = eval_data
    refs = [strip_specials(row) for row in tgt.tolist()]
    if cfg.data_root is not None:
        return translation_bleu(model, src, refs, cfg)
    beam, greedy = [], []
    for chunk in src.to(device).split(256):
        beam += beam_search(model, chunk, cfg.max_len + 1, cfg.beam_size, cfg.length_penalty)
        greedy += greedy_decode(model, chunk, cfg.max_len + 1)
    batch = (src[: cfg.batch_size].to(device), tgt[: cfg.batch_size].to(device))
    return {
        "bleu": bleu(beam, refs),
        "exact_match": sum(h == r for h, r in zip(beam, refs, strict=True)) / len(refs),
        "greedy_bleu": bleu(greedy, refs),
        "greedy_exact_match": sum(h == r for h, r in zip(greedy, refs, strict=True)) / len(refs),
        "parameters": sum(p.numel() for p in model.parameters()),
        "s_per_step": seconds_per_step(model, batch, cfg),
    }


def seconds_per_step(model, batch, cfg: Config, repeats: int = 8) -> float:
    """Median seconds of one training step (forward, backward, Adam update) on `batch`, timed
    on a copy of the trained model after two untimed steps: process CPU time on a CPU (other
    processes on a shared machine do not count), synchronised wall time on a GPU."""
    model = copy.deepcopy(model).train()
    opt, _ = build_optimizer(model, cfg)
    device = batch[0].device.type
    on_cpu = device == "cpu"
    sync = (lambda: None) if on_cpu else getattr(torch, device).synchronize  # torch.cuda, torch.mps
    clock = time.process_time if on_cpu else time.perf_counter
    amp = torch.autocast("cuda", torch.bfloat16) if device == "cuda" else contextlib.nullcontext()
    times = []
    with torch.enable_grad():
        for _ in range(repeats + 2):
            sync()
            t0 = clock()
            with amp:  # as the trainer does
                loss = training_step(model, batch)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sync()
            times.append(clock() - t0)
    return statistics.median(times[2:])


@torch.no_grad()
def translation_bleu(model: Transformer, src: torch.Tensor, refs: list[list[int]],
                     cfg: Config) -> dict[str, float]:
    """Real text: beam search with Sec. 6.1's output budget (input length + 50); `bleu` over
    BPE ids, and `sacrebleu` on the detokenised text when sacrebleu is installed."""
    device = next(model.parameters()).device
    hyps = []
    for chunk in src.split(32):  # (32 * beam, T, V) logits per step: bounded memory
        budget = int((chunk != PAD).sum(-1).max()) + 50
        hyps += beam_search(model, chunk.to(device), min(budget, cfg.max_positions - 1),
                            cfg.beam_size, cfg.length_penalty)
    score = parallel_text.corpus_for(cfg).sacrebleu(hyps)  # None when sacrebleu is not installed
    return {"bleu": bleu(hyps, refs), **({} if score is None else {"sacrebleu": score})}


def variants(cfg: Config) -> dict[str, Config]:
    """The Transformer, the same model without positional encodings (Sec. 3.5) and the
    recurrent control (an attention LSTM), all trained for the same steps on the same batches
    with the same optimizer and schedule; on real text (data_root) the Transformer only."""
    if cfg.data_root is not None:
        return {"main": cfg}
    return {"main": cfg, "no-pe": replace(cfg, positional_encoding=False),
            "attention-lstm": replace(cfg, architecture="lstm")}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """BLEU of outputs with no learning in them, on the held-out pairs the variants are scored
    on: the source copied unchanged, and the training targets' most frequent token repeated for
    the source's length. None on real text (its claims are paper-scale)."""
    if cfg.data_root is not None:
        return {}
    train, (src, tgt) = build_data(cfg)
    counts = Counter(t for t in train.dataset.tensors[1].flatten().tolist() if t > EOS)
    majority = counts.most_common(1)[0][0]
    sources = [[t for t in row if t != PAD] for row in src.tolist()]
    refs = [strip_specials(row) for row in tgt.tolist()]
    return {"copy source": {"bleu": bleu(sources, refs)},
            "majority token": {"bleu": bleu([[majority] * len(s) for s in sources], refs)}}


def _fmt(metrics, variant):
    m = metrics[variant]
    return f"{variant}: BLEU {m['bleu']:.1f}, exact match {m['exact_match']:.2f}"


def _bleu_over_baselines(m, bar):
    """The Transformer's BLEU over each trivial output's, less `bar`."""
    return {b: m["main"]["bleu"] - m[b]["bleu"] - bar for b in ("copy source", "majority token")}


WMT = "WMT 2014 {} train and newstest2014 as aligned text files (--set data_root=DIR)"
CLAIMS = [
    Claim("wmt-en-de", "The big Transformer sets a new state of the art on WMT 2014 English-German.",
          "BLEU 28.4 (big), 27.3 (base)", "Table 2",
          needs="presets big and paper, " + WMT.format("English-German")),
    Claim("wmt-en-fr", "It does so on WMT 2014 English-French at a fraction of the training cost.",
          "BLEU 41.8 (big), 38.1 (base); 2.3e19 FLOPs (big)", "Table 2",
          needs="presets big and paper, " + WMT.format("English-French")),
    Claim("parameters", "Base and big models, shared 37k vocabulary.",
          "65M (base), 213M (big); measured here: 63,121,544 and 214,286,472", "Table 3",
          needs="presets paper and big, no data: counted in tests/reproductions/test_transformer.py"),
    Claim("learns-to-translate",
          "A small post-LN Transformer trained with warm-up and label smoothing reverses held-out "
          "sequences with beam search (beam 4, length penalty 0.6): its BLEU beats copying the "
          "source and repeating the majority token by at least 50.",
          "training and decoding as in Sec. 5.3-5.4 and 6.1", "Sec. 5-6.1",
          margins=lambda m: _bleu_over_baselines(m, 50),
          measured=lambda m: f"{_fmt(m, 'main')}; copy source BLEU {m['copy source']['bleu']:.1f}, "
          f"majority token BLEU {m['majority token']['bleu']:.1f}"),
    Claim("positional-encoding-needed",
          "Without positional encodings the model has no notion of order (Sec. 3.5): its BLEU "
          "falls at least 50 below the Transformer's.",
          "order must be injected: sinusoidal encodings", "Sec. 3.5",
          margins=lambda m: {"no-pe": m["main"]["bleu"] - m["no-pe"]["bleu"] - 50},
          measured=lambda m: f"{_fmt(m, 'main')}; {_fmt(m, 'no-pe')}"),
    Claim("attention-beats-recurrence",
          "Trained for the same steps with the same optimizer, the Transformer reaches a BLEU at "
          "least 1 higher than an attention LSTM of about its size. Not expected in miniature: "
          "with attention over a bidirectional encoder, reversal is easy for recurrence too (it "
          "reached greedy BLEU 99.9 on length-28-36 reversals in 300 steps in a one-seed exploration); "
          "the paper's advantage is quality per unit of training cost at WMT scale.",
          "EN-DE BLEU 28.4 (big) vs 24.6 (GNMT+RL), at a fraction of the training FLOPs",
          "Table 2", expected=False,
          margins=lambda m: {"attention-lstm": m["main"]["bleu"] - m["attention-lstm"]["bleu"] - 1},
          measured=lambda m: f"{_fmt(m, 'main')} ({m['main']['parameters']:,.0f} parameters); "
          f"{_fmt(m, 'attention-lstm')} ({m['attention-lstm']['parameters']:,.0f} parameters)"),
    Claim("faster-per-step",
          "A Transformer step computes every position at once; the attention LSTM's decoder "
          "steps through the target one position after another (Table 1: O(1) vs O(n) "
          "sequential operations). With about the same parameters, a training step of the "
          "LSTM takes at least 1.25 times as long.",
          "sequential operations O(1) (self-attention) vs O(n) (recurrent)", "Table 1, Sec. 4",
          margins=lambda m: {"attention-lstm": m["attention-lstm"]["s_per_step"]
                             / m["main"]["s_per_step"] - 1.25},
          measured=lambda m: f"seconds per step: main {m['main']['s_per_step']:.4f}, "
          f"attention-lstm {m['attention-lstm']['s_per_step']:.4f}"),
]
