"""A Neural Probabilistic Language Model (Bengio, Ducharme, Vincent and Jauvin, JMLR 2003).

https://www.jmlr.org/papers/v3/bengio03a.html

Each of the n-1 previous words is mapped to a learned feature vector C(w) of m numbers (the
shared matrix C); their concatenation x feeds a tanh hidden layer of h units and, through the
optional direct connections W, the output layer: y = b + W x + U tanh(d + H x) (Sec. 2), and
P(w_t | w_t-n+1 .. w_t-1) = softmax(y)_{w_t}. Words that play similar roles get similar features,
so a sequence never seen in training gets a high probability when it is made of words similar
to those of seen ones: the curse of dimensionality that defeats n-gram counts is fought with
distributed representations (Sec. 1.1).

Presets: `paper` = the Brown corpus network MLP1 of Table 1: n = 5, h = 50, m = 60, direct
connections, |V| = 16,383 words (Sec. 4): |V| (1 + n m + h) + h (1 + (n-1) m) = 5,762,483
parameters (Sec. 2). `mini`: on a generated corpus (below), the NPLM with n = 5 against, in
the same run, the same network with n = 3 (the longer-context claim), an interpolated
trigram and 5-gram of the same training words (Jelinek-Mercer "deleted interpolation", the
paper's reference n-gram, Sec. 4), and the unigram model (trivial baseline); all scored by
test perplexity. `tiny`: a smoke test.

The generated corpus (no download, no licence needed): sentences from a small probabilistic
grammar with number agreement and selection across words:
    S  -> NP_subj [ "with" NP ] VERB NP "."
    NP -> DET ADJ{0..2} NOUN
The subject's number (singular/plural, set by its determiner) and semantic group (animate or
not) decide the verb, which comes 1 to 5 words after the subject noun ("these big dogs with a
red box run"): dependencies longer than a trigram sees. Nouns and verbs come in groups of
interchangeable words (8 nouns per group, each singular and plural; 6 verbs per group and
number), so most 5-grams of the test text never occur in training even though similar ones do.
Vocabulary: 72 words. Corpus: `n_train` training words, `n_valid` to fit the n-gram mixture
weights, `n_test` to score; each from its own sentences.

Deviations from the paper:
- Adam at lr 3e-3 with minibatches of 256 n-grams, not per-example SGD with a decreasing rate
  and weight decay on a cluster (Sec. 3-4); no early stopping (fixed steps).
- The n-grams' mixture weights are global (fitted by EM on the validation words), not
  conditioned on the context's frequency (Sec. 4's deleted interpolation uses buckets); no
  Kneser-Ney or class-based back-off. The mixture of the NPLM with a trigram (Table 1's "mix")
  is not built.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "nplm"


# --- the generated corpus -------------------------------------------------------------------
def vocabulary() -> list[str]:
    """Determiners, adjectives, nouns (group g, index i, singular/plural), verbs, function words."""
    words = ["a", "this", "one", "some", "these", "two", "with", "."]
    words += [f"adj{i}" for i in range(8)]
    words += [f"noun{g}{i}{n}" for g in "AB" for i in range(8) for n in "sp"]
    words += [f"verb{g}{i}{n}" for g in "AB" for i in range(6) for n in "sp"]
    return words  # 8 + 8 + 32 + 24 = 72


WORDS = vocabulary()
INDEX = {w: i for i, w in enumerate(WORDS)}


def noun_phrase(rng: random.Random) -> tuple[list[str], str, str]:
    """DET ADJ{0..2} NOUN: the words, the number ("s"/"p") and the noun's group ("A"/"B")."""
    number, group = rng.choice("sp"), rng.choice("AB")
    det = rng.choice(["a", "this", "one"] if number == "s" else ["some", "these", "two"])
    adjs = [f"adj{rng.randrange(8)}" for _ in range(rng.choice((0, 0, 1, 2)))]
    return [det, *adjs, f"noun{group}{rng.randrange(8)}{number}"], number, group


def sentence(rng: random.Random) -> list[str]:
    subject, number, group = noun_phrase(rng)
    words = list(subject)
    if rng.random() < 0.4:  # a prepositional phrase between the subject and its verb
        words += ["with", *noun_phrase(rng)[0]]
    words.append(f"verb{group}{rng.randrange(6)}{number}")  # agrees with the subject
    return words + noun_phrase(rng)[0] + ["."]


def corpus(n_words: int, seed: int) -> list[int]:
    """Whole sentences until at least `n_words` words, as vocabulary indices."""
    rng, out = random.Random(seed), []  # noqa: S311 (data, not secrets)
    while len(out) < n_words:
        out += [INDEX[w] for w in sentence(rng)]
    return out


def windows(tokens: list[int], n: int) -> torch.Tensor:
    """(N, n): every n consecutive words (the first n-1 predict the last), across sentence ends
    (the full stop is a word of the vocabulary)."""
    t = torch.tensor(tokens)
    return t.unfold(0, n, 1)  # (N, n)


# --- the n-gram baselines -------------------------------------------------------------------
def interpolated_ngram_perplexity(train: list[int], valid: list[int], test: list[int],
                                  order: int, vocab: int, em_steps: int = 30) -> float:
    """Test perplexity of P(w | h) = sum_k lambda_k P_k(w | last k-1 words) + lambda_0 / |V|,
    k = 1..order, each P_k a maximum-likelihood count ratio (0 for an unseen context), the
    weights lambda fitted by EM on the validation words (Jelinek-Mercer interpolation)."""
    counts = [defaultdict(Counter) for _ in range(order + 1)]  # counts[k][context][word]
    for i in range(len(train)):
        for k in range(1, order + 1):
            if i - k + 1 >= 0:
                counts[k][tuple(train[i - k + 1:i])][train[i]] += 1

    def components(tokens):  # (N, order + 1): P_0 = uniform, P_1..P_order
        rows = []
        for i in range(order - 1, len(tokens)):
            row = [1.0 / vocab]
            for k in range(1, order + 1):
                c = counts[k].get(tuple(tokens[i - k + 1:i]))
                row.append(c[tokens[i]] / sum(c.values()) if c else 0.0)
            rows.append(row)
        return torch.tensor(rows, dtype=torch.float64)

    p_valid, lam = components(valid), torch.full((order + 1,), 1.0 / (order + 1), dtype=torch.float64)
    for _ in range(em_steps):  # E: responsibility of each component; M: their mean
        joint = p_valid * lam
        lam = (joint / joint.sum(1, keepdim=True)).mean(0)
    return math.exp(-(components(test) @ lam).log().mean().item())


def unigram_perplexity(train: list[int], test: list[int], vocab: int) -> float:
    """Add-one unigram: the trivial baseline (no context at all)."""
    c = Counter(train)
    return math.exp(-sum(math.log((c[w] + 1) / (len(train) + vocab)) for w in test) / len(test))


# --- config ---------------------------------------------------------------------------------
@dataclass
class Config:
    vocab_size: int = 16_383  # Sec. 4: Brown corpus, rare words (frequency <= 3) merged
    n: int = 5  # Table 1 (MLP1): n-gram order, n-1 = 4 words of context
    m: int = 60  # Table 1 (MLP1): word feature dimension
    h: int = 50  # Table 1 (MLP1): hidden units
    direct: bool = True  # Table 1 (MLP1): direct connections W from the features to the output
    n_train: int = 800_000  # Sec. 4: Brown: first 800,000 words for training
    n_valid: int = 200_000  # Sec. 4: the next 200,000 for validation
    n_test: int = 181_041  # Sec. 4: the remaining 181,041 for test
    compare_context: tuple[int, ...] = ()  # mini: also train the NPLM with these orders n
    seed: int = 0
    steps: int = 100_000
    batch_size: int = 256
    lr: float = 3e-3  # Adam (the paper: SGD, eps_0 = 1e-3 decreasing, Sec. 4)
    data_root: str | None = None  # Brown / AP News are not wired in: generated corpus only


# --- model ----------------------------------------------------------------------------------
class NPLM(nn.Module):
    """forward(context (B, n-1)) -> logits y (B, |V|) = b + W x + U tanh(d + H x) (Sec. 2)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        k = (cfg.n - 1) * cfg.m  # |x|: the concatenated features of the n-1 context words
        self.C = nn.Embedding(cfg.vocab_size, cfg.m)  # word features, shared by all positions
        self.H = nn.Linear(k, cfg.h)  # hidden weights H and biases d
        self.U = nn.Linear(cfg.h, cfg.vocab_size)  # hidden-to-output U and output biases b
        self.W = nn.Linear(k, cfg.vocab_size, bias=False) if cfg.direct else None  # optional

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        x = self.C(context).flatten(1)  # (B, n-1, m) -> (B, (n-1) m)
        y = self.U(torch.tanh(self.H(x)))  # (B, |V|): b + U tanh(d + H x)
        return y + self.W(x) if self.W is not None else y


def build_model(cfg: Config) -> NPLM:
    if cfg.n < 2:
        raise ConfigError("n must be >= 2 (at least one word of context)")
    return NPLM(cfg)


def parameter_count(cfg: Config) -> int:
    """Sec. 2: |V| (1 + n m + h) + h (1 + (n-1) m) with direct connections; W's |V| (n-1) m
    less without them."""
    full = cfg.vocab_size * (1 + cfg.n * cfg.m + cfg.h) + cfg.h * (1 + (cfg.n - 1) * cfg.m)
    return full - (0 if cfg.direct else cfg.vocab_size * (cfg.n - 1) * cfg.m)


# --- presets --------------------------------------------------------------------------------
PRESETS = {
    "paper": Config(),  # Brown MLP1: 5,762,483 parameters
    # 72 words, 30,000 training words; n = 5: 22,452 parameters (n = 3: 14,532)
    "mini": Config(vocab_size=len(WORDS), n=5, m=30, h=60, n_train=30_000, n_valid=5_000,
                   n_test=20_000, compare_context=(5, 3), steps=1500, batch_size=256),
    "tiny": Config(vocab_size=len(WORDS), n=3, m=8, h=8, n_train=2_000, n_valid=500,
                   n_test=500, steps=3, batch_size=32),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`nplm-n5`, `nplm-n3`, ... for each order in `compare_context`; else `main`."""
    base = dataclasses.replace(cfg, compare_context=())
    return {f"nplm-n{k}": dataclasses.replace(base, n=k) for k in cfg.compare_context} \
        or {"main": base}


# --- data -----------------------------------------------------------------------------------
def splits(cfg: Config) -> tuple[list[int], list[int], list[int]]:
    """Training, validation and test words of the generated corpus (independent sentences)."""
    if cfg.data_root is not None:
        raise ConfigError("nplm trains on its generated corpus only (data_root must be None)")
    if cfg.vocab_size != len(WORDS):
        raise ConfigError(f"the generated corpus has {len(WORDS)} words: set vocab_size={len(WORDS)}")
    return (corpus(cfg.n_train, cfg.seed), corpus(cfg.n_valid, cfg.seed + 10_007),
            corpus(cfg.n_test, cfg.seed + 20_011))


def build_data(cfg: Config):
    """(train DataLoader of (B, n) windows, {"test": (N, n) windows}). The test windows start
    at word 4 of the test text for every order, so all variants score the same words."""
    train, _, test = splits(cfg)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(windows(train, cfg.n)), batch_size=cfg.batch_size,
        shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(cfg.seed))
    return loader, {"test": windows(test[max(0, 4 - (cfg.n - 1)):], cfg.n)}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """Test perplexity, on the same test words, of the unigram model and of interpolated
    trigram and 5-gram models counted on the same training words."""
    train, valid, test = splits(cfg)
    scored = test[4:]  # the words every model predicts (5-gram contexts exist from word 4 on)
    out = {"unigram": {"test_perplexity": unigram_perplexity(train, scored, cfg.vocab_size)}}
    for order in (3, 5):
        out[f"interpolated {order}-gram"] = {"test_perplexity": interpolated_ngram_perplexity(
            train, valid, test[4 - (order - 1):], order, cfg.vocab_size)}
    return out


# --- step -----------------------------------------------------------------------------------
def training_step(model: NPLM, batch) -> dict:
    """Maximise the log-likelihood of the next word (Sec. 2): mean cross-entropy."""
    (win,) = batch  # (B, n)
    return {"loss": F.cross_entropy(model(win[:, :-1]), win[:, -1])}


@torch.no_grad()
def evaluate(model: NPLM, eval_data, cfg: Config) -> dict[str, float]:
    win = eval_data["test"].to(next(model.parameters()).device)  # (N, n)
    nll = F.cross_entropy(model(win[:, :-1]), win[:, -1])
    return {"test_perplexity": float(nll.exp()), "parameters": float(parameter_count(cfg))}


# --- claims ---------------------------------------------------------------------------------
def _ppl(m, v):
    return m[v]["test_perplexity"]


CLAIMS = [
    Claim("brown-ap-news",
          "On Brown and AP News the NPLM's test perplexity is well below the best n-gram's.",
          "about 24% lower than the best n-gram on Brown, about 8% on AP News", "Sec. 4.2",
          needs="preset paper, the Brown corpus (1,181,041 words) and AP News (~16M words): not "
          "wired in (generated corpus only)"),
    Claim("parameters", "The Brown network MLP1 (n = 5, h = 50, m = 60, direct connections).",
          "|V| (1 + n m + h) + h (1 + (n-1) m) free parameters (Sec. 2); built: 5,762,483",
          "Sec. 2, Table 1",
          needs="preset paper, no data: counted in tests/reproductions/test_reproductions.py"),
    Claim("beats-ngrams",
          "Trained on the same 30,000 words, the NPLM (n = 5) reaches a test perplexity at least "
          "5% below the better of an interpolated trigram and an interpolated 5-gram (weights "
          "fitted on validation words): its word features generalise to unseen n-grams made of "
          "similar words, where counts cannot.",
          "test perplexity about 24% (Brown) and 8% (AP News) below the best n-gram",
          "Sec. 4.2, Table 1",
          margins=lambda m: {g: 1 - _ppl(m, "nplm-n5") / _ppl(m, g) - 0.05
                             for g in ("interpolated 3-gram", "interpolated 5-gram")},
          measured=lambda m: f"test perplexity: NPLM n=5 {_ppl(m, 'nplm-n5'):.3f}, "
          f"interpolated 3-gram {_ppl(m, 'interpolated 3-gram'):.3f}, 5-gram "
          f"{_ppl(m, 'interpolated 5-gram'):.3f}, unigram {_ppl(m, 'unigram'):.3f}"),
    Claim("beats-unigram",
          "The NPLM's test perplexity is at most half the unigram model's (the trivial baseline).",
          "the NPLM models context; the unigram model none", "Sec. 1, Sec. 4",
          margins=lambda m: {"unigram": _ppl(m, "unigram") / _ppl(m, "nplm-n5") - 2},
          measured=lambda m: f"NPLM {_ppl(m, 'nplm-n5'):.3f}, unigram {_ppl(m, 'unigram'):.3f}"),
    Claim("longer-context",
          "With 4 words of context (n = 5) the NPLM's test perplexity is at least 3% below the "
          "same network's with 2 (n = 3): it takes advantage of the longer context, as the "
          "subject-verb agreement here reaches past a trigram.",
          "MLP5 (n = 5) vs MLP7 (n = 3), same h and m: lower test perplexity with n = 5",
          "Table 1, Sec. 4.2",
          margins=lambda m: {"nplm-n3": 1 - _ppl(m, "nplm-n5") / _ppl(m, "nplm-n3") - 0.03},
          measured=lambda m: f"n=5 {_ppl(m, 'nplm-n5'):.3f}, n=3 {_ppl(m, 'nplm-n3'):.3f}"),
]
