"""Efficient Estimation of Word Representations in Vector Space (Mikolov, Chen, Corrado & Dean,
2013a): the continuous skip-gram model; with negative sampling, subsampling of frequent words
and the phrase detector of Distributed Representations of Words and Phrases and their
Compositionality (Mikolov, Sutskever, Chen, Corrado & Dean, 2013b); and GloVe: Global Vectors
for Word Representation (Pennington, Socher & Manning, 2014) on the same counts.

https://arxiv.org/abs/1301.3781, https://arxiv.org/abs/1310.4546,
https://doi.org/10.3115/v1/D14-1162

Skip-gram (2013a Sec. 3.2): each word predicts the words within R positions of it, R drawn in
1..C. Trained with negative sampling (2013b Eq. 4): log sigma(v'_c . v_w) + sum over k noise
words n ~ U(w)^{3/4} / Z of log sigma(-v'_n . v_w), frequent words discarded with probability
1 - sqrt(t / f(w)) (2013b Eq. 5). The learned vectors answer analogy questions a:b :: c:d by
the word nearest to v_b - v_a + v_c (2013a Sec. 4.1). GloVe fits w_i . w~_j + b_i + b~_j to
log X_ij by weighted least squares (GloVe Eq. 8) with f(x) = min(1, (x / x_max)^alpha)
(Eq. 9).

Presets (which paper each serves):
- `paper` (word2vec): skip-gram with d = 300 over the 1M-word vocabulary of Sec. 4.2:
  600,000,000 parameters (input and output vectors, 2 V d). `paper-phrases` (word2vec-phrases):
  the 692K vocabulary of 2013b Sec. 3, d = 300: 415,200,000. `paper-glove` (glove): the 400,000
  words of Sec. 4.2, d = 300, two vectors and two biases per word: 240,800,000. All three read a
  whitespace-tokenised text file from `data_root` (Google News and Gigaword are not public).
- `mini` (word2vec): a generated corpus with planted relations (`common.corpora.
  analogy_corpus`: 4 groups such as country:capital, 10 pairs each, 720 analogy questions,
  ~250k tokens), d = 25: skip-gram vs raw co-occurrence counts, PPMI + SVD of the same
  dimension and random vectors, and skip-gram without subsampling at the same steps.
- `mini-phrases` (word2vec-phrases): Eq. 6's phrase score on a corpus with 20 planted
  two-word names and a long Zipfian tail of 5,000 filler words, against raw bigram counts and
  the score without its discount delta (the run's 100 skip-gram steps are a formality: the
  claim is about the detector, which needs only counts).
- `mini-glove` (glove): GloVe on the `mini` corpus (harmonic window counts) against the same
  GloVe with f = 1, skip-gram and the count baselines of the same run.
- `tiny`: a smoke test.
The corpora are generated here (no licence needed, nothing downloaded).

Deviations from the papers:
- The papers train on billions of words with asynchronous SGD; we take mini-batches of 1,024
  pairs with plain SGD at the paper's per-pair rate (0.025, decaying linearly to 0), so the
  step is lr x batch on the batch's mean loss. 2013a trained skip-gram with hierarchical
  softmax; we use 2013b's negative sampling (the tool's default since).
- Subsampling's t is 1e-3 in `mini` (2013b suggests ~1e-5 for billions of words; on a
  250k-token corpus every word's frequency is far higher). Pairs are drawn for as many passes
  as the steps need, each pass with its own subsampling and window draws.
- The phrase detector makes one pass over bigrams (2013b runs 2-4 passes with a decreasing
  threshold to form longer phrases); the paper gives no value of delta (we use 5).
- GloVe: AdaGrad (Sec. 4.2) on mini-batches of the nonzero X_ij, ~18 passes where the paper
  makes 50-100 (the analogy accuracy has stopped changing); the mini's window is 5 (the
  paper's 10) and d = 25.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import corpora as C
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "word2vec"


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0  # also seeds the generated corpus
    steps: int = 100_000
    batch_size: int = 1024  # (center, context) pairs, or nonzero X_ij for GloVe
    lr: float = 0.025  # 2013a Sec. 4: starting rate per pair, decreased linearly; GloVe: 0.05
    data_root: str | None = None  # paper presets: a whitespace-tokenised text file
    method: Literal["sgns", "glove"] = "sgns"
    corpus: Literal["text", "analogies", "phrases"] = "text"
    vocab_size: int = 1_000_000  # 2013a Sec. 4.2 (text only; a generated corpus has its own)
    dim: int = 300  # 2013a Table 5, 2013b Table 1, GloVe Table 2
    window: int = 10  # C, 2013a Sec. 3.2 (GloVe Sec. 4.2: 10 to each side)
    negatives: int = 5  # k, 2013b Sec. 2.2 ("5-20 ... for small training datasets")
    subsample: float = 1e-5  # t, 2013b Eq. 5 (0: off)
    sentences: int = 20_000  # generated corpora
    entities: int = 10  # generated: pairs per relation group
    phrase_delta: float = 5.0  # delta of 2013b Eq. 6
    x_max: float = 100.0  # GloVe Eq. 9, Sec. 4.2
    alpha: float = 0.75  # GloVe Eq. 9, Sec. 4.2
    weighting: bool = True  # GloVe: f of Eq. 9; False: every nonzero X_ij weighs 1 (Sec. 3)
    compare_subsampling: bool = False  # mini: also skip-gram with subsample=0, same steps
    compare_glove: bool = False  # mini-glove: GloVe and skip-gram on one corpus
    compare_delta: bool = False  # mini-phrases: also the phrase score with delta = 0


# --- models --------------------------------------------------------------------------------


class SkipGram(nn.Module):
    """Input vectors v_w (the word vectors of 2013a) and output vectors v'_w (2013b Sec. 2)."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.inputs = nn.Embedding(vocab_size, dim)
        self.outputs = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.inputs.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.outputs.weight)

    def forward(self, center, context, noise):  # (B,), (B,), (B, k)
        v = self.inputs(center)  # (B, d)
        positive = (v * self.outputs(context)).sum(-1)  # (B,)
        negative = torch.einsum("bd,bkd->bk", v, self.outputs(noise))  # (B, k)
        # 2013b Eq. 4, maximised: its negative, averaged over the batch
        return -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(-1)).mean()

    def vectors(self) -> torch.Tensor:
        return self.inputs.weight


class GloVe(nn.Module):
    """Word vectors w, context vectors w~ and their biases b, b~ (GloVe Eq. 8)."""

    def __init__(self, vocab_size: int, dim: int, x_max: float = 100.0, alpha: float = 0.75,
                 weighting: bool = True):
        super().__init__()
        self.x_max, self.alpha, self.weighting = x_max, alpha, weighting
        self.words = nn.Embedding(vocab_size, dim)
        self.contexts = nn.Embedding(vocab_size, dim)
        self.word_bias = nn.Embedding(vocab_size, 1)
        self.context_bias = nn.Embedding(vocab_size, 1)
        for e in (self.words, self.contexts, self.word_bias, self.context_bias):
            nn.init.uniform_(e.weight, -0.5 / dim, 0.5 / dim)

    def forward(self, i, j, x):  # (B,), (B,), (B,) with X_ij > 0
        fit = ((self.words(i) * self.contexts(j)).sum(-1) + self.word_bias(i)[:, 0]
               + self.context_bias(j)[:, 0])  # (B,)
        weight = (x / self.x_max).pow(self.alpha).clamp(max=1.0) if self.weighting \
            else torch.ones_like(x)  # f(X_ij), Eq. 9
        return (weight * (fit - x.log()) ** 2).mean()  # Eq. 8 over the batch

    def vectors(self) -> torch.Tensor:
        return self.words.weight + self.contexts.weight  # W + W~, Sec. 4.2


def corpus_vocab_size(cfg: Config) -> int:
    return cfg.vocab_size if cfg.corpus == "text" else len(load_corpus(cfg).vocab)


def build_model(cfg: Config) -> nn.Module:
    v = corpus_vocab_size(cfg)
    if cfg.method == "glove":
        return GloVe(v, cfg.dim, cfg.x_max, cfg.alpha, cfg.weighting)
    return SkipGram(v, cfg.dim)


# --- presets -------------------------------------------------------------------------------

_MINI = dict(corpus="analogies", dim=25, window=5, subsample=1e-3, steps=2400, batch_size=1024)
PRESETS = {
    "paper": Config(),  # 2 x 1,000,000 x 300 = 600,000,000
    "paper-phrases": Config(vocab_size=692_000),  # 2013b Sec. 3: 415,200,000
    "paper-glove": Config(method="glove", vocab_size=400_000, lr=0.05),  # 240,800,000
    "mini": Config(**_MINI, compare_subsampling=True),
    "mini-phrases": Config(corpus="phrases", dim=25, window=5, subsample=1e-3, steps=100,
                           sentences=20_000, compare_delta=True),
    "mini-glove": Config(**_MINI, compare_glove=True),
    "tiny": Config(corpus="analogies", sentences=200, entities=3, dim=8, window=2,
                   subsample=1e-3, steps=3, batch_size=64),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`sgns` and, as asked, `no-subsampling` (t = 0, same steps), `no-delta` (Eq. 6 with
    delta = 0), and `glove` and
    `glove-unweighted` (f = 1) on the same corpus (1.5x the steps, ~18 passes over the nonzero
    X_ij: both fits have converged)."""
    base = dataclasses.replace(cfg, compare_subsampling=False, compare_glove=False,
                               compare_delta=False)
    out = {"sgns": base}
    if cfg.compare_subsampling:
        out["no-subsampling"] = dataclasses.replace(base, subsample=0.0)
    if cfg.compare_delta:
        out["no-delta"] = dataclasses.replace(base, phrase_delta=0.0)
    if cfg.compare_glove:
        glove = dataclasses.replace(base, method="glove", lr=0.05, steps=cfg.steps * 3 // 2)
        out |= {"glove": glove, "glove-unweighted": dataclasses.replace(glove, weighting=False)}
    return out


# --- data ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _generated(kind: str, sentences: int, entities: int, seed: int) -> C.Corpus:
    if kind == "phrases":
        return C.phrase_corpus(sentences=sentences, seed=seed)
    return C.analogy_corpus(sentences=sentences, entities=entities, seed=seed)


def load_corpus(cfg: Config) -> C.Corpus:
    """The generated corpus of `cfg`, or the `vocab_size` most frequent words of the text file
    at `data_root` (one sentence a line; rarer words dropped)."""
    if cfg.corpus != "text":
        return _generated(cfg.corpus, cfg.sentences, cfg.entities, cfg.seed)
    if cfg.data_root is None:
        raise ConfigError("corpus=text needs --set data_root=FILE (a whitespace-tokenised text; "
                          "the papers' Google News / Gigaword corpora are not public)")
    lines = [line.split() for line in Path(cfg.data_root).read_text().splitlines()]
    words, counts = np.unique(np.concatenate([np.array(s) for s in lines if s]),
                              return_counts=True)
    vocab = list(words[np.argsort(-counts, kind="stable")][:cfg.vocab_size])
    index = {w: i for i, w in enumerate(vocab)}
    sents = [np.array([index[w] for w in s if w in index], dtype=np.int64) for s in lines]
    return C.Corpus([s for s in sents if len(s) > 1], vocab, np.zeros((0, 4), np.int64),
                    np.zeros((0, 2), np.int64))


def unigram_counts(corpus: C.Corpus) -> np.ndarray:
    return np.bincount(C.flatten(corpus.sentences)[0], minlength=len(corpus.vocab))


class Batches:
    """Shuffled mini-batches of rows of a table, and for skip-gram k noise words per pair drawn
    from U(w)^{3/4} / Z (2013b Sec. 2.2); seeded, the same order in every process."""

    def __init__(self, table: tuple[torch.Tensor, ...], batch_size: int, seed: int,
                 noise: torch.Tensor | None = None, negatives: int = 0):
        self.table, self.batch_size, self.noise, self.k = table, batch_size, noise, negatives
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return max(1, len(self.table[0]) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.table[0]), generator=self.generator)
        for s in range(len(self)):
            rows = order[s * self.batch_size:(s + 1) * self.batch_size]
            batch = tuple(t[rows] for t in self.table)
            if self.noise is not None:
                noise = torch.multinomial(self.noise, len(rows) * self.k, replacement=True,
                                          generator=self.generator)
                batch += (noise.view(len(rows), self.k),)  # (B, k)
            yield batch


def build_data(cfg: Config):
    corpus = load_corpus(cfg)
    counts = unigram_counts(corpus)
    eval_data = {"analogies": corpus.analogies, "phrases": corpus.phrases, "corpus": corpus}
    if cfg.method == "glove":
        x = C.cooccurrence(corpus.sentences, len(corpus.vocab), cfg.window, harmonic=True)
        i, j = np.nonzero(x)
        table = (torch.from_numpy(i), torch.from_numpy(j), torch.from_numpy(x[i, j]).float())
        return Batches(table, cfg.batch_size, cfg.seed), eval_data
    freq = counts / counts.sum()
    keep = np.minimum(1.0, np.sqrt(cfg.subsample / np.maximum(freq, 1e-12))) \
        if cfg.subsample > 0 else np.ones(len(freq))  # 1 - P(w_i) of 2013b Eq. 5
    rng = np.random.default_rng(cfg.seed)
    pairs, need = [], cfg.steps * cfg.batch_size
    while sum(len(p) for p in pairs) < need:  # one pass each, with fresh subsampling
        pairs.append(C.skipgram_pairs(corpus.sentences, cfg.window, keep, rng))
    pairs = torch.from_numpy(np.concatenate(pairs))
    noise = torch.from_numpy(counts.astype(np.float64) ** 0.75)  # U(w)^{3/4}, 2013b Sec. 2.2
    return Batches((pairs[:, 0], pairs[:, 1]), cfg.batch_size, cfg.seed, noise,
                   cfg.negatives), eval_data


# --- training ------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: Config):
    """Skip-gram: SGD at lr per pair (lr x batch on the mean loss), decayed linearly to 0
    (2013a Sec. 4). GloVe: AdaGrad at 0.05 (GloVe Sec. 4.2)."""
    if isinstance(model, GloVe):
        return torch.optim.Adagrad(model.parameters(), lr=cfg.lr), None
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr * cfg.batch_size)
    decay = lambda s: max(1e-4, 1.0 - s / cfg.steps)  # noqa: E731
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, decay)


def training_step(model: nn.Module, batch) -> dict:
    return {"loss": model(*batch)}


def phrase_scores(corpus: C.Corpus, delta: float) -> tuple[dict, dict]:
    """score(a, b) = (count(a b) - delta) / (count(a) count(b)) for every bigram seen (2013b
    Eq. 6), and the bigram counts; delta = 0 is the score without the discount."""
    counts = unigram_counts(corpus)
    v = len(corpus.vocab)
    keys, n = np.unique(np.concatenate([s[:-1] * v + s[1:] for s in corpus.sentences]),
                        return_counts=True)  # every bigram (a b) as a * V + b, and its count
    bigrams = {(int(k) // v, int(k) % v): int(c) for k, c in zip(keys, n, strict=True)}
    scores = {ab: (c - delta) / (counts[ab[0]] * counts[ab[1]]) for ab, c in bigrams.items()}
    return scores, bigrams


def precision_at_planted(scores: dict[tuple[int, int], float], planted: np.ndarray) -> float:
    """Share of the P top-scoring bigrams that are planted phrases (P = how many were planted)."""
    top = sorted(scores, key=scores.get, reverse=True)[:len(planted)]
    return len(set(top) & {tuple(p) for p in planted.tolist()}) / len(planted)


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    out = {}
    if len(eval_data["analogies"]):
        out["analogy_accuracy"] = C.analogy_accuracy(model.vectors().detach().cpu().double()
                                                     .numpy(), eval_data["analogies"])
    if len(eval_data["phrases"]):
        scores, _ = phrase_scores(eval_data["corpus"], cfg.phrase_delta)
        out["phrase_precision"] = precision_at_planted(scores, eval_data["phrases"])
    return out or {"questions": 0.0}  # a text corpus without planted questions


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """On the same corpus and window: cosine on raw co-occurrence count rows, PPMI + SVD to the
    same dimension (rows U_d sqrt(S_d)), and random vectors (chance); for phrases, ranking the
    bigrams by their count."""
    corpus = load_corpus(cfg)
    if cfg.corpus == "phrases":
        _, bigrams = phrase_scores(corpus, 0.0)
        return {"bigram count": {"phrase_precision": precision_at_planted(
            {k: float(v) for k, v in bigrams.items()}, corpus.phrases)}}
    if cfg.corpus != "analogies":
        return {}
    x = C.cooccurrence(corpus.sentences, len(corpus.vocab), cfg.window)
    u, s, _ = np.linalg.svd(C.ppmi(x))
    random = np.random.default_rng(cfg.seed).standard_normal((len(x), cfg.dim))
    q = corpus.analogies
    return {"raw counts": {"analogy_accuracy": C.analogy_accuracy(x, q)},
            "PPMI+SVD": {"analogy_accuracy": C.analogy_accuracy(u[:, :cfg.dim] * s[:cfg.dim] ** 0.5,
                                                                q)},
            "random vectors": {"analogy_accuracy": C.analogy_accuracy(random, q)}}


# --- claims --------------------------------------------------------------------------------


def _acc(m, v):
    return m[v]["analogy_accuracy"]


def _phr(m, v):
    return m[v]["phrase_precision"]


CLAIMS = [
    Claim(
        id="analogies",
        text="Skip-gram vectors answer the planted analogy questions (a:b :: c:d by the nearest "
        "word to b - a + c) at least 0.10 better than cosine on raw co-occurrence counts, than "
        "PPMI + SVD of the same dimension on the same window, and than random vectors.",
        paper="Skip-gram 1000-dim on 6B words: 66.1% semantic, 65.1% syntactic accuracy; "
        "640-dim skip-gram beats NNLM, RNNLM and CBOW on semantic questions",
        source="Sec. 4.1, Table 3, Table 6",
        margins=lambda m: {b: _acc(m, "sgns") - _acc(m, b) - 0.10
                           for b in ("raw counts", "PPMI+SVD", "random vectors")},
        measured=lambda m: f"skip-gram {_acc(m, 'sgns'):.3f}, raw counts "
        f"{_acc(m, 'raw counts'):.3f}, PPMI+SVD {_acc(m, 'PPMI+SVD'):.3f}, random "
        f"{_acc(m, 'random vectors'):.3f}",
    ),
    Claim(
        id="subsampling",
        text="With the same number of SGD steps, subsampling frequent words (Eq. 5) raises the "
        "analogy accuracy by at least 0.10: fewer steps go to filler words, more to the rare "
        "planted ones.",
        paper="subsampling 'accelerates learning and even significantly improves the accuracy "
        "of the learned vectors of the rare words'",
        source="2013b Sec. 2.3, Table 1",
        margins=lambda m: {"no-subsampling": _acc(m, "sgns") - _acc(m, "no-subsampling") - 0.10},
        measured=lambda m: f"with {_acc(m, 'sgns'):.3f}, without {_acc(m, 'no-subsampling'):.3f}",
    ),
    Claim(
        id="google-news",
        text="Skip-gram trained on Google News answers about two thirds of the semantic and "
        "syntactic analogy questions.",
        paper="65.6% total accuracy (1000 dimensions, 6B words, DistBelief)",
        source="Table 6",
        needs="preset paper with data_root = Google News 6B tokens (not public) and the "
        "semantic-syntactic question set",
    ),
    Claim(
        id="phrases",
        text="Ranking every bigram of a corpus with 20 planted two-word names by Eq. 6's score "
        "puts the planted phrases on top: precision at 20 at least 0.2 above ranking by bigram "
        "count (frequent filler pairs win there) and above the same score without delta "
        "(pairs of rare words that met once win there).",
        paper="'The delta is used as a discounting coefficient and prevents too many phrases "
        "consisting of very infrequent words to be formed'",
        source="2013b Sec. 4, Eq. 6",
        margins=lambda m: {b: _phr(m, "sgns") - _phr(m, b) - 0.2
                           for b in ("bigram count", "no-delta")},
        measured=lambda m: f"precision at 20: Eq. 6 {_phr(m, 'sgns'):.2f}, bigram count "
        f"{_phr(m, 'bigram count'):.2f}, without delta {_phr(m, 'no-delta'):.2f}",
        presets=("mini-phrases",),
    ),
    Claim(
        id="phrase-analogies",
        text="Skip-gram vectors of phrases found by Eq. 6 answer phrase analogies.",
        paper="72% accuracy on the phrase analogy dataset (1000 dimensions, 33B words, "
        "hierarchical softmax, whole-sentence context)",
        source="2013b Sec. 4.1, Table 3",
        needs="preset paper-phrases with data_root = a corpus of billions of words (Google "
        "News, not public) and the phrase analogy question set",
    ),
    Claim(
        id="glove-weighting",
        text="Not expected in miniature: GloVe with the weighting function f of Eq. 9 answers "
        "the planted analogies at least 0.03 better than the same GloVe weighting every nonzero "
        "co-occurrence equally. It is ahead on 4 of 5 seeds (0.09-0.12 against 0.03-0.04) but "
        "ties on the fifth (0.056 each), and both stay far below skip-gram and raw counts: "
        "too thin to claim.",
        paper="a weighted least squares model, since the unweighted one 'weighs all "
        "co-occurrences equally, even those that happen rarely or never'",
        source="GloVe Sec. 3, Eq. 8-9",
        margins=lambda m: {"glove-unweighted":
                           _acc(m, "glove") - _acc(m, "glove-unweighted") - 0.03},
        measured=lambda m: f"f of Eq. 9 {_acc(m, 'glove'):.3f}, f = 1 "
        f"{_acc(m, 'glove-unweighted'):.3f}",
        expected=False,
        presets=("mini-glove",),
    ),
    Claim(
        id="glove-vs-skipgram",
        text="Not expected in miniature: GloVe does not beat skip-gram, raw counts or PPMI + SVD "
        "on the planted analogies. Each planted word has its own preferences among the frequent "
        "filler words; GloVe fits their log counts with full weight (f = 1 above x_max), "
        "where skip-gram with subsampling sees few of them.",
        paper="GloVe 300-dim on 6B tokens: 71.7% analogy accuracy vs skip-gram 69.1%; GloVe "
        "ahead at equal training time",
        source="GloVe Table 2, Fig. 4",
        margins=lambda m: {b: _acc(m, "glove") - _acc(m, b)
                           for b in ("sgns", "raw counts", "PPMI+SVD")},
        measured=lambda m: f"GloVe {_acc(m, 'glove'):.3f}, skip-gram {_acc(m, 'sgns'):.3f}, raw "
        f"counts {_acc(m, 'raw counts'):.3f}, PPMI+SVD {_acc(m, 'PPMI+SVD'):.3f}",
        expected=False,
        presets=("mini-glove",),
    ),
    Claim(
        id="glove-table2",
        text="GloVe trained on 6B tokens beats skip-gram on the word analogy task.",
        paper="71.7% vs 69.1% total accuracy (300 dimensions, 6B tokens)",
        source="GloVe Table 2",
        needs="preset paper-glove and paper with data_root = Wikipedia 2014 + Gigaword 5 "
        "(6B tokens; Gigaword is licensed) and the analogy question set",
    ),
]
