"""Sequence to Sequence Learning with Neural Networks (Sutskever, Vinyals and Le, 2014), with
Bahdanau, Cho and Bengio's attention (2015) and Papineni et al.'s BLEU (2002) on the same task.

https://arxiv.org/abs/1409.3215 (seq2seq), https://arxiv.org/abs/1409.0473 (Bahdanau et al.),
https://doi.org/10.3115/1073083.1073135 (BLEU)

One deep LSTM reads the source sentence into a fixed-size vector (its final states); a second
deep LSTM, started from those states, generates the target one word after another (Sec. 2,
Eq. 1). The words of the source are fed in reverse order (Sec. 3.3), which puts the first
source words next to the first target words: "many short term dependencies" that make the
optimisation easier.

Presets:
- `paper` (seq2seq): 4 layers of 1000 LSTM cells in the encoder and in the decoder, 1000-dim
  embeddings, 160,000 source and 80,000 target words (Sec. 3.4): 384,144,000 parameters as
  built (the paper: "384M parameters", Sec. 3.4; the sum is 240M embeddings + 80M softmax + 64M
  LSTM; `torch.nn.LSTM`'s two bias vectors add 64,000 and the softmax bias 80,000).
- `mini` (seq2seq): Sec. 3.3 in miniature on a generated translation-like task (below): the
  same LSTM encoder-decoder trained on the same batches with the source reversed and
  not reversed, scored by greedy-decoding BLEU (`common.text_metrics.bleu`), exact-match rate and
  test perplexity, against copying the source and repeating the most frequent target word.
  The run also measures that our BLEU equals sacrebleu's corpus BLEU (Papineni et al.) on the
  decoded outputs and on a generated noisy corpus (claim `bleu-equals-sacrebleu`).
- `mini-bahdanau` (bahdanau): Fig. 2 in miniature: an encoder-decoder without attention
  (RNNencdec: this module's LSTM, source reversed) and one with attention over a
  bidirectional encoder (RNNsearch: `common.recurrent.AttentionLSTM`) trained in the same run
  on sentences of 4-24 words; BLEU by source-length bucket, and a figure like Fig. 2.
- `tiny`: a smoke test.

The generated task (no download, no licence needed): a "language" of `n_words` source words,
half "adjectives" and half "nouns"; the target is the word-for-word translation through a
random one-to-one dictionary (fixed by the seed), with every adjective-noun pair put in
noun-adjective order, as English -> French does ("the red car" -> "la voiture rouge"). Source
words are drawn uniformly; lengths uniformly in [min_len, max_len]. Token ids 0, 1, 2 are PAD,
BOS, EOS; source and target words share the ids 3..n_words+2 (so that copying the source is a
baseline), with separate embeddings as in the paper.

Deviations from the paper:
- Greedy decoding (`common.seq2seq.greedy_decode`), not the left-to-right beam search of
  Sec. 3.2 (Table 1: an ensemble of 5 reversed LSTMs scores 33.00 with beam size 1, 34.81
  with 12).
- The miniatures train with Adam (lr 1e-2), not SGD at 0.7 halved after 5 epochs (Sec. 3.4):
  SGD needs far more than a CPU minute's steps; the uniform [-0.08, 0.08] initialisation and
  the gradient norm clipping at 5 are the paper's (the attention model keeps its own
  initialisation). No batching by length (Sec. 3.4).
- `mini` has one LSTM layer on each side, not four: with two layers and 450 steps the reversed
  model learned on 2 of 3 seeds and stalled on the third (BLEU 7.6, in order 0.9).
- `mini-bahdanau`'s attention model is `common.recurrent.AttentionLSTM`: LSTM cells and Luong
  et al.'s "general" score, not Bahdanau's GRU-like gated units, MLP alignment model
  (Sec. 3.1, Appendix A.1.2) and maxout output layer; the no-attention control is this module's
  LSTM encoder-decoder, not Cho et al.'s RNNencdec, and it reads the source reversed (Sutskever
  et al.'s Sec. 3.3, which the paper's RNNencdec did not use): a stronger control, and without it
  the fixed-vector model learned nothing at any length in 300 steps (BLEU 0 in every bucket of
  5-40-word sentences, one seed), which would not show Fig. 2's fall with length.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError
from reproductions.common.parallel_text import BOS, EOS, PAD
from reproductions.common.recurrent import AttentionLSTM
from reproductions.common.seq2seq import greedy_decode, strip_specials
from reproductions.common.text_metrics import bleu

PAPER = "seq2seq"
FIRST_WORD = 3  # ids 0, 1, 2 are PAD, BOS, EOS


# --- helpers --------------------------------------------------------------------------------
def reverse_tokens(src: torch.Tensor) -> torch.Tensor:
    """Each row's real tokens in reverse order, padding kept at the end (Sec. 3.3)."""
    lengths = (src != PAD).sum(-1, keepdim=True)  # (B, 1)
    pos = torch.arange(src.size(1), device=src.device)  # (S,)
    return src.gather(1, (lengths - 1 - pos).clamp(min=0)).masked_fill(pos >= lengths, PAD)


def sacrebleu_score(hypotheses: list[list[int]], references: list[list[int]]) -> float:
    """sacrebleu's corpus BLEU of the same token sequences, written as space-separated ids and
    not re-tokenised (`tokenize="none"`), one reference per sentence, no smoothing: the
    definition of Papineni et al. (Sec. 2.3) that `common.text_metrics.bleu` implements."""
    import sacrebleu

    join = lambda rows: [" ".join(map(str, r)) for r in rows]  # noqa: E731
    return sacrebleu.corpus_bleu(join(hypotheses), [join(references)], tokenize="none",
                                 smooth_method="none").score


def noisy_corpus(references: list[list[int]], n_words: int, seed: int) -> list[list[int]]:
    """Hypotheses as an imperfect system writes them: each reference with words substituted,
    dropped, inserted, neighbours swapped, or cut short (the brevity penalty, Sec. 2.2.2)."""
    rng = random.Random(seed)  # noqa: S311 (data, not secrets)
    out = []
    for ref in references:
        hyp = list(ref)
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(hyp) + 1)
            op = rng.choice(("sub", "drop", "insert", "swap"))
            word = rng.randrange(FIRST_WORD, FIRST_WORD + n_words)
            if op == "insert" or not hyp:
                hyp.insert(i, word)
            elif op == "sub":
                hyp[min(i, len(hyp) - 1)] = word
            elif op == "drop":
                del hyp[min(i, len(hyp) - 1)]
            elif len(hyp) > 1:
                j = min(i, len(hyp) - 2)
                hyp[j], hyp[j + 1] = hyp[j + 1], hyp[j]
        out.append(hyp[: rng.randint(1, len(hyp))] if rng.random() < 0.2 and hyp else hyp)
    return out


# --- config ---------------------------------------------------------------------------------
@dataclass
class Config:
    src_vocab: int = 160_000  # Sec. 3.1: the 160,000 most frequent source (English) words
    tgt_vocab: int = 80_000  # Sec. 3.1: the 80,000 most frequent target (French) words
    embed_dim: int = 1000  # Sec. 3.4: 1000-dimensional word embeddings
    hidden: int = 1000  # Sec. 3.4: 1000 cells per layer
    n_layers: int = 4  # Sec. 3.4: deep LSTMs with 4 layers ("deep LSTMs significantly
    # outperformed shallow LSTMs", Sec. 2)
    reverse_source: bool = True  # Sec. 3.3; False: the control that reads the source in order
    attention: bool = False  # True: Bahdanau et al.'s RNNsearch (common.recurrent.AttentionLSTM)
    init_scale: float = 0.08  # Sec. 3.4: uniform in [-0.08, 0.08]
    optimizer: Literal["sgd", "adam"] = "sgd"  # Sec. 3.4: SGD without momentum
    grad_clip: float = 5.0  # Sec. 3.4: rescale the gradient when its norm exceeds 5
    n_words: int = 40  # the generated task: source (and target) words
    min_len: int = 6  # the generated task: source lengths in [min_len, max_len]
    max_len: int = 14
    n_train: int = 20_000  # generated training pairs
    n_eval: int = 500  # held-out pairs, greedy-decoded
    length_buckets: tuple[int, ...] = ()  # mini-bahdanau: BLEU per source length <= each edge
    compare_reverse: bool = False  # mini: also train the same model without reversal
    compare_attention: bool = False  # mini-bahdanau: without and with attention
    seed: int = 0
    steps: int = 700_000  # Sec. 3.4: 7.5 epochs of 12M pairs in batches of 128
    batch_size: int = 128  # Sec. 3.4
    lr: float = 0.7  # Sec. 3.4 (halved every half epoch after 5 epochs)
    data_root: str | None = None  # real parallel text is not wired in: generated task only


# --- model ----------------------------------------------------------------------------------
class Seq2Seq(nn.Module):
    """Sec. 2: an encoder LSTM maps the (reversed) source to its final states (h, c) per layer,
    the fixed-dimensional representation v; the decoder LSTM starts from them and models
    p(y_1..y_T' | x) = prod_t p(y_t | v, y_1..y_t-1) (Eq. 1) with a softmax over the target
    words. `encode`/`decode` are the interface `common.seq2seq.greedy_decode` drives."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.embed_dim)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, cfg.embed_dim)
        self.encoder = nn.LSTM(cfg.embed_dim, cfg.hidden, cfg.n_layers, batch_first=True)
        self.decoder = nn.LSTM(cfg.embed_dim, cfg.hidden, cfg.n_layers, batch_first=True)
        self.out = nn.Linear(cfg.hidden, cfg.tgt_vocab)  # the softmax over target words
        for p in self.parameters():
            nn.init.uniform_(p, -cfg.init_scale, cfg.init_scale)  # Sec. 3.4

    def encode(self, src: torch.Tensor):
        """src (B, S) -> v = ((h, c), each (L, B, H)), and no memory mask (there is nothing to
        attend to). Packing ends each source at its last real token, not at padding."""
        if self.cfg.reverse_source:
            src = reverse_tokens(src)  # Sec. 3.3: "c, b, a" -> "alpha, beta, gamma"
        lengths = (src != PAD).sum(-1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.src_embed(src), lengths,
                                                   batch_first=True, enforce_sorted=False)
        _, state = self.encoder(packed)
        return state, None

    def decode(self, tgt_in: torch.Tensor, state, memory_mask=None) -> torch.Tensor:
        """tgt_in (B, T) -> logits (B, T, V_tgt), the decoder started from the encoder's state."""
        out, _ = self.decoder(self.tgt_embed(tgt_in), state)  # (B, T, H)
        return self.out(out)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt_in, self.encode(src)[0])


def build_model(cfg: Config) -> nn.Module:
    """The seq2seq LSTM, or with `attention` the RNNsearch control of `mini-bahdanau`."""
    if not cfg.attention:
        return Seq2Seq(cfg)
    if cfg.src_vocab != cfg.tgt_vocab or cfg.embed_dim != cfg.hidden:
        raise ConfigError("attention=True shares one vocabulary and embed_dim == hidden")
    model = AttentionLSTM(cfg.tgt_vocab, cfg.hidden, cfg.n_layers)
    model.cfg = cfg
    return model


# --- presets --------------------------------------------------------------------------------
_TASK = dict(src_vocab=23, tgt_vocab=23, n_words=20, optimizer="adam", lr=1e-2)
PRESETS = {
    "paper": Config(),  # 384,144,000 parameters (Sec. 3.4: "384M")
    # 1 + 1 layers of 128 cells, 64-dim embeddings, sentences of 4-10 words: 204,567 parameters
    "mini": Config(**_TASK, embed_dim=64, hidden=128, n_layers=1, min_len=4, max_len=10,
                   steps=500, batch_size=64, compare_reverse=True),
    # lengths 4-24, 1-layer models of width 128: 273,047 (LSTM, source reversed) and
    # 349,079 (attention LSTM, bidirectional encoder)
    "mini-bahdanau": Config(**_TASK, embed_dim=128, hidden=128, n_layers=1, min_len=4, max_len=24,
                            steps=300, batch_size=64, n_eval=400,
                            length_buckets=(8, 12, 16, 20, 24), compare_attention=True),
    "tiny": Config(src_vocab=13, tgt_vocab=13, n_words=10, embed_dim=16, hidden=16, n_layers=1,
                   optimizer="adam", lr=3e-3, min_len=3, max_len=6, n_train=256, n_eval=32,
                   steps=4, batch_size=32),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`mini`: `reversed` and its control `in-order`; `mini-bahdanau`: `no-attention` and
    `attention`; else `main`."""
    base = dataclasses.replace(cfg, compare_reverse=False, compare_attention=False)
    if cfg.compare_reverse:
        return {"reversed": dataclasses.replace(base, reverse_source=True),
                "in-order": dataclasses.replace(base, reverse_source=False)}
    if cfg.compare_attention:
        return {"no-attention": dataclasses.replace(base, attention=False),
                "attention": dataclasses.replace(base, attention=True)}
    return {"main": base}


# --- data -----------------------------------------------------------------------------------
def translation_pairs(n: int, cfg: Config, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` generated sources (n, max_len) and targets (n, max_len + 2) = BOS, translation, EOS,
    right-padded. The dictionary depends on `cfg.seed` only: train and test share the language."""
    if cfg.data_root is not None:
        raise ConfigError("seq2seq trains on its generated task only (data_root must be None)")
    if FIRST_WORD + cfg.n_words > min(cfg.src_vocab, cfg.tgt_vocab):
        raise ConfigError("n_words + 3 must fit in src_vocab and tgt_vocab")
    words = torch.Generator().manual_seed(cfg.seed)
    dictionary = FIRST_WORD + torch.randperm(cfg.n_words, generator=words)  # word -> translation
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(cfg.min_len, cfg.max_len + 1, (n,), generator=g).tolist()
    src = torch.full((n, cfg.max_len), PAD, dtype=torch.long)
    tgt = torch.full((n, cfg.max_len + 2), PAD, dtype=torch.long)
    for row, length in enumerate(lengths):
        sentence = torch.randint(0, cfg.n_words, (length,), generator=g).tolist()
        out, i = [], 0
        while i < length:  # words < n_words / 2 are adjectives, the rest nouns
            if i + 1 < length and sentence[i] < cfg.n_words // 2 <= sentence[i + 1]:
                out += [sentence[i + 1], sentence[i]]  # adjective noun -> noun adjective
                i += 2
            else:
                out.append(sentence[i])
                i += 1
        src[row, :length] = torch.tensor(sentence) + FIRST_WORD
        tgt[row, : length + 2] = torch.tensor([BOS, *dictionary[out].tolist(), EOS])
    return src, tgt


def build_data(cfg: Config):
    """(train DataLoader of (src, tgt) batches, held-out (src, tgt))."""
    train = torch.utils.data.TensorDataset(*translation_pairs(cfg.n_train, cfg, cfg.seed + 1))
    loader = torch.utils.data.DataLoader(train, batch_size=cfg.batch_size, shuffle=True,
                                         drop_last=True,
                                         generator=torch.Generator().manual_seed(cfg.seed))
    return loader, translation_pairs(cfg.n_eval, cfg, seed=cfg.seed + 1_000_003)


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """BLEU of outputs with no learning in them, on the held-out pairs: the source copied, and
    the most frequent target word of the training set repeated for the source's length."""
    train, (src, tgt) = build_data(cfg)
    counts = Counter(t for t in train.dataset.tensors[1].flatten().tolist() if t >= FIRST_WORD)
    majority = counts.most_common(1)[0][0]
    sources = [[t for t in row if t != PAD] for row in src.tolist()]
    refs = [strip_specials(row) for row in tgt.tolist()]
    return {"copy source": {"bleu": bleu(sources, refs)},
            "most frequent word": {"bleu": bleu([[majority] * len(s) for s in sources], refs)}}


# --- step -----------------------------------------------------------------------------------
def build_optimizer(model: nn.Module, cfg: Config):
    """Sec. 3.4: plain SGD at lr 0.7 (`paper`); Adam for the miniatures (see the docstring)."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr), None
    return torch.optim.SGD(model.parameters(), lr=cfg.lr), None


def training_step(model: nn.Module, batch) -> dict:
    """Teacher forcing: maximise log p(T | S) (Sec. 3.2), the mean over target tokens."""
    src, tgt = batch  # (B, S), (B, T + 1)
    logits = model(src, tgt[:, :-1])  # (B, T, V)
    return {"loss": F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=PAD)}


@torch.no_grad()
def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    """Greedy-decoding BLEU and exact-match rate on the held-out pairs, per-word test perplexity
    (Sec. 3.3 quotes it), BLEU per length bucket (`length_buckets`), and the largest difference
    between `bleu` and sacrebleu on the decoded outputs and on a noisy generated corpus."""
    device = next(model.parameters()).device
    src, tgt = eval_data
    refs = [strip_specials(row) for row in tgt.tolist()]
    hyps = []
    for chunk in src.to(device).split(256):
        hyps += greedy_decode(model, chunk, cfg.max_len + 1)
    logits = model(src.to(device), tgt[:, :-1].to(device))  # (N, T, V)
    nll = F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten().to(device), ignore_index=PAD)
    out = {"bleu": bleu(hyps, refs), "perplexity": float(nll.exp()),
           "exact_match": sum(h == r for h, r in zip(hyps, refs, strict=True)) / len(refs),
           "parameters": sum(p.numel() for p in model.parameters())}
    lengths = (src != PAD).sum(-1).tolist()
    low = 0
    for edge in cfg.length_buckets:  # Fig. 2 (Bahdanau et al.): BLEU against sentence length
        keep = [i for i, n in enumerate(lengths) if low < n <= edge]
        if keep:
            out[f"bleu_len_{edge}"] = bleu([hyps[i] for i in keep], [refs[i] for i in keep])
        low = edge
    try:
        noisy = noisy_corpus(refs, cfg.n_words, cfg.seed)
        out["bleu_vs_sacrebleu"] = max(abs(bleu(h, refs) - sacrebleu_score(h, refs))
                                       for h in (hyps, noisy))
        out["noisy_corpus_bleu"] = bleu(noisy, refs)
    except ImportError:  # sacrebleu is a test extra: the claim is then not evaluated
        pass
    return out


# --- figures --------------------------------------------------------------------------------
def figures(out_dir, cfg: Config, models, metrics) -> list[dict]:
    """`mini-bahdanau`: BLEU against source length, with and without attention (Fig. 2)."""
    if not cfg.length_buckets or not {"attention", "no-attention"} <= set(metrics):
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for v, style in (("attention", "o-"), ("no-attention", "s--")):
        ax.plot(cfg.length_buckets, [metrics[v][f"bleu_len_{e}"] for e in cfg.length_buckets],
                style, label={"attention": "with attention (RNNsearch)",
                              "no-attention": "without (RNNencdec)"}[v])
    ax.set(xlabel="source length (bucket's upper edge)", ylabel="BLEU", ylim=(0, 102))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "bleu_by_length.png", dpi=120)
    plt.close(fig)
    return [{"file": "bleu_by_length.png", "paper_figure": "Fig. 2",
             "caption": "Greedy-decoding BLEU on held-out generated sentences by source length, "
                        "an encoder-decoder without attention and one with (same steps)."}]


# --- claims ---------------------------------------------------------------------------------
def _fmt(m, v):
    return f"{v}: BLEU {m[v]['bleu']:.1f}, exact {m[v]['exact_match']:.2f}, " \
           f"perplexity {m[v]['perplexity']:.2f}"


def _over_baselines(m, v, bar):
    return {b: m[v]["bleu"] - m[b]["bleu"] - bar for b in ("copy source", "most frequent word")}


def _by_length(m, v):
    return ", ".join(f"<={e}: {m[v][f'bleu_len_{e}']:.1f}"
                     for e in PRESETS["mini-bahdanau"].length_buckets)


SHORT, LONG = (f"bleu_len_{e}" for e in (8, 24))  # mini-bahdanau's first and last buckets
BAHDANAU = ("mini-bahdanau",)
CLAIMS = [
    Claim("wmt-en-fr", "A single 4-layer LSTM reading the source reversed reaches 30.6 BLEU on "
          "WMT'14 English-French (26.2 reading it in order), an ensemble of 5 34.8.",
          "single forward LSTM 26.17, single reversed LSTM 30.59, ensemble of 5 reversed 34.81 "
          "(beam 12)", "Table 1",
          needs="preset paper, WMT'14 English-French (12M pairs; not wired in: generated task "
          "only), ~10 days on 8 GPUs"),
    Claim("parameters", "The paper's LSTM has 384M parameters.",
          "384M parameters, 64M of them recurrent (Sec. 3.4); built: 384,144,000", "Sec. 3.4",
          needs="preset paper, no data: counted in tests/reproductions/test_reproductions.py"),
    Claim("learns-to-translate",
          "The LSTM encoder-decoder, source reversed, translates held-out generated "
          "sentences (greedy decoding): its BLEU beats copying the source and repeating the most "
          "frequent target word by at least 30.",
          "single reversed LSTM 30.59 BLEU vs the SMT baseline's 33.30", "Table 1, Sec. 3.6",
          margins=lambda m: _over_baselines(m, "reversed", 30),
          measured=lambda m: f"{_fmt(m, 'reversed')}; copy source "
          f"{m['copy source']['bleu']:.1f}, most frequent word {m['most frequent word']['bleu']:.1f}"),
    Claim("reversing-helps",
          "Trained on the same batches for the same steps, the model that reads the source "
          "reversed reaches a BLEU at least 10 higher than the same model reading it in order "
          "(the first target words' sources are read last: short dependencies to start from).",
          "test BLEU 25.9 -> 30.6 when the source is reversed", "Sec. 3.3",
          margins=lambda m: {"in-order": m["reversed"]["bleu"] - m["in-order"]["bleu"] - 10},
          measured=lambda m: f"{_fmt(m, 'reversed')}; {_fmt(m, 'in-order')}"),
    Claim("reversing-lowers-perplexity",
          "Reversing the source lowers the test perplexity by at least a factor 1.2 (the paper: "
          "5.8 / 4.7 = 1.23).",
          "test perplexity 5.8 -> 4.7 when the source is reversed", "Sec. 3.3",
          margins=lambda m: {"in-order": m["in-order"]["perplexity"]
                             / m["reversed"]["perplexity"] - 1.2},
          measured=lambda m: f"perplexity: reversed {m['reversed']['perplexity']:.2f}, "
          f"in order {m['in-order']['perplexity']:.2f}"),
    Claim("bleu-equals-sacrebleu",
          "`common.text_metrics.bleu` (corpus BLEU: clipped n-gram counts summed over the corpus, "
          "N = 4, uniform weights, brevity penalty with r the summed reference lengths) equals "
          "sacrebleu's corpus BLEU (tokenize='none', no smoothing, same space-separated token "
          "ids, one reference) within 1e-6 on every variant's decoded outputs and on a generated "
          "noisy corpus (substitutions, drops, insertions, swaps, truncations).",
          "BLEU = BP * exp(sum_n w_n log p_n), BP = e^(1 - r/c) if c <= r (Papineni et al.)",
          "Sec. 2.3", presets=("mini", "mini-bahdanau"),
          margins=lambda m: {v: 1e-6 - m[v]["bleu_vs_sacrebleu"] for v in m
                             if "bleu_vs_sacrebleu" in m[v]} or {"sacrebleu": float("nan")},
          measured=lambda m: "largest |bleu - sacrebleu|: " + ", ".join(
              f"{v} {m[v]['bleu_vs_sacrebleu']:.1e}" for v in m if "bleu_vs_sacrebleu" in m[v])),
    Claim("bahdanau-wmt", "RNNsearch-50 beats RNNencdec-50 on WMT'14 English-French.",
          "BLEU 26.75 vs 17.82 (all sentences); 34.16 vs 26.71 (no unknown words)",
          "Table 1 (Bahdanau et al.)", presets=BAHDANAU,
          needs="an RNNsearch preset at the paper's size (1000 units, 30k words) and WMT'14 "
          "English-French: not built here"),
    Claim("fixed-vector-degrades",
          "Without attention the fixed-size vector is a bottleneck: the LSTM's BLEU on sources of "
          "21-24 words is at least 30 below its BLEU on sources of 4-8 words.",
          "the performance of RNNencdec dramatically drops as the length of the sentences "
          "increases",
          "Fig. 2 (Bahdanau et al.)", presets=BAHDANAU,
          margins=lambda m: {"4-8 words": m["no-attention"][SHORT] - m["no-attention"][LONG] - 30},
          measured=lambda m: f"no-attention BLEU by length {_by_length(m, 'no-attention')}"),
    Claim("attention-holds-up",
          "With attention, BLEU on sources of 21-24 words stays within 20 of its BLEU on 4-8 "
          "words and beats the model without attention there by at least 25.",
          "RNNsearch-50 shows no deterioration even with sentences of length 50 or more",
          "Fig. 2, Sec. 5.1 (Bahdanau et al.)", presets=BAHDANAU,
          margins=lambda m: {
              "its own 4-8 words": 20 - (m["attention"][SHORT] - m["attention"][LONG]),
              "no-attention": m["attention"][LONG] - m["no-attention"][LONG] - 25},
          measured=lambda m: f"attention BLEU by length {_by_length(m, 'attention')}"),
    Claim("attention-beats-baselines",
          "The attention model's BLEU over all held-out sentences beats copying the source and "
          "repeating the most frequent word by at least 30.",
          "RNNsearch-50* 28.45 BLEU, comparable to Moses 33.30", "Table 1 (Bahdanau et al.)",
          presets=BAHDANAU, margins=lambda m: _over_baselines(m, "attention", 30),
          measured=lambda m: f"{_fmt(m, 'attention')}; copy source "
          f"{m['copy source']['bleu']:.1f}, most frequent word {m['most frequent word']['bleu']:.1f}"),
]
