"""Generated in-context tasks and n-gram baselines for the GPT-2 / GPT-3 miniatures
(`reproductions.gpt`). Generated here, no download, no licence.

Mapping sequences (GPT-3 Sec. 2, Fig. 1.1: a language model meets many small tasks inside its
pre-training text, "in-context learning" across the repeated sub-tasks of one sequence): each
sequence draws its own random mapping f from `n_symbols` symbol tokens to `n_classes` label
tokens and lists items with x drawn at random, so a symbol that comes back can only be labelled
from the items seen earlier in the same sequence. An item is either the two tokens "x f(x)" or,
with probability `fused`, one "x=f(x)" token (as one word-piece may hold a word and its tag):
looking a query up among fused demos takes one attention layer, where "x f(x)" demos need the
two-layer induction circuit, which the 100k-parameter miniature did not form in 3,000 steps.
The held-out prompts (Fig. 1.2) use mappings that no training sequence used: k demos of
distinct symbols, then a query symbol drawn from all `n_symbols`; a reader that looks the query
up in the demos and guesses otherwise scores k/n + (1 - k/n)/c.
"""

from __future__ import annotations

import random

import torch

PAD, BOS = 0, 1
FIRST = 2  # symbols are FIRST .. FIRST + n_symbols - 1, then the labels, then "x=y" tokens


def mapping_vocab_size(n_symbols: int, n_classes: int) -> int:
    return FIRST + n_symbols + n_classes + n_symbols * n_classes


def symbols(n_symbols: int) -> list[int]:
    return list(range(FIRST, FIRST + n_symbols))


def labels(n_symbols: int, n_classes: int) -> list[int]:
    return list(range(FIRST + n_symbols, FIRST + n_symbols + n_classes))


def fused(x: int, y: int, n_symbols: int, n_classes: int) -> int:
    """The one token "x=y" of symbol index x and label index y."""
    return FIRST + n_symbols + n_classes + x * n_classes + y


def label_of(token: int, n_symbols: int, n_classes: int) -> int | None:
    """The label index a label or "x=y" token carries (None for others)."""
    i = token - FIRST - n_symbols
    if 0 <= i < n_classes:
        return i
    if n_classes <= i < n_classes * (n_symbols + 1):
        return (i - n_classes) % n_classes
    return None


def held_out_mappings(n_symbols: int, n_classes: int, n: int, seed: int) -> list[tuple[int, ...]]:
    """`n` random mappings (tuples of label indices, one per symbol) kept out of training."""
    rng = random.Random(seed)  # noqa: S311 (data, not secrets)
    return [tuple(rng.randrange(n_classes) for _ in range(n_symbols)) for _ in range(n)]


def mapping_sequences(n: int, pairs: int, n_symbols: int, n_classes: int, seed: int,
                      exclude: set[tuple[int, ...]], fused_rate: float = 0.0) -> torch.Tensor:
    """(n, 1 + 2 * pairs): BOS, then `pairs` items "x f(x)" (or "x=f(x)" with probability
    `fused_rate`) under a fresh random mapping per sequence (none in `exclude`), x drawn with
    replacement from 2 to `n_symbols` of them (bursty: few symbols recur often, which the
    in-context lookup needs to be learned soon); right-padded with PAD."""
    rng = random.Random(seed)  # noqa: S311 (data, not secrets)
    sym, lab = symbols(n_symbols), labels(n_symbols, n_classes)
    out = torch.full((n, 1 + 2 * pairs), PAD, dtype=torch.long)
    for i in range(n):
        f = tuple(rng.randrange(n_classes) for _ in range(n_symbols))
        while f in exclude:
            f = tuple(rng.randrange(n_classes) for _ in range(n_symbols))
        used = rng.sample(range(n_symbols), rng.randint(min(2, n_symbols), n_symbols))
        row = [BOS]
        for _ in range(pairs):
            x = rng.choice(used)
            if rng.random() < fused_rate:
                row.append(fused(x, f[x], n_symbols, n_classes))
            else:
                row += [sym[x], lab[f[x]]]
        out[i, :len(row)] = torch.tensor(row)
    return out


def mapping_prompts(mappings: list[tuple[int, ...]], shots: int, n_symbols: int, n_classes: int,
                    seed: int, shuffle_labels: bool = False, fused_demos: bool = False):
    """One prompt per mapping: BOS, `shots` demos of distinct symbols ("x=y" tokens if
    `fused_demos`), the query symbol (drawn from all symbols). Returns (prompts (N, L),
    answers (N,) as label indices, seen (N,) bool: the query is among the demos).
    `shuffle_labels`: the demos' labels are permuted among the demos (the control: the same
    symbols and query, the pairing broken)."""
    rng = random.Random(seed)  # noqa: S311 (data, not secrets)
    permute = random.Random(seed + 1)  # noqa: S311 (its own stream: the same demos and queries)
    sym, lab = symbols(n_symbols), labels(n_symbols, n_classes)
    rows, answers, seen = [], [], []
    for f in mappings:
        demo = rng.sample(range(n_symbols), shots)
        q = rng.randrange(n_symbols)
        ys = [f[x] for x in demo]
        if shuffle_labels:
            permute.shuffle(ys)
        row = [BOS]
        for x, y in zip(demo, ys, strict=True):
            row += [fused(x, y, n_symbols, n_classes)] if fused_demos else [sym[x], lab[y]]
        rows.append(row + [sym[q]])
        answers.append(f[q])
        seen.append(q in demo)
    return torch.tensor(rows), torch.tensor(answers), torch.tensor(seen)


def frequent_label_accuracy(prompts: torch.Tensor, answers: torch.Tensor, n_symbols: int,
                            n_classes: int) -> float:
    """A reader without the pairing: the prompt's most frequent demo label (ties: the lowest;
    none: label 0), right when it is the query's."""
    right = 0
    for row, a in zip(prompts.tolist(), answers.tolist(), strict=True):
        counts = [0] * n_classes
        for t in row:
            if (y := label_of(t, n_symbols, n_classes)) is not None:
                counts[y] += 1
        right += int(max(range(n_classes), key=lambda c: (counts[c], -c)) == a)
    return right / len(answers)


def bigram_logp(train: torch.Tensor, vocab_size: int, alpha: float = 0.01) -> torch.Tensor:
    """(V, V) log P(next | previous) counted on the training rows, add-`alpha` smoothed."""
    prev, nxt = _pairs(train)
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.double)
    counts.index_put_((prev, nxt), torch.ones(len(nxt), dtype=torch.double), accumulate=True)
    counts += alpha
    return (counts / counts.sum(1, keepdim=True)).log()


def _pairs(t: torch.Tensor):
    prev, nxt = t[:, :-1].flatten(), t[:, 1:].flatten()
    keep = nxt != PAD
    return prev[keep], nxt[keep]


def ngram_loss(train: torch.Tensor, test: torch.Tensor, vocab_size: int, order: int,
               alpha: float = 0.01) -> float:
    """Held-out cross-entropy (nats per real next token, PAD targets ignored as in the LM
    loss) of a unigram (order 1) or bigram (order 2) model with add-`alpha` smoothing, counted
    on the training rows."""
    tprev, tnxt = _pairs(test)
    if order == 1:
        counts = torch.bincount(_pairs(train)[1], minlength=vocab_size).double() + alpha
        return float(-(counts / counts.sum()).log()[tnxt].mean())
    return float(-bigram_logp(train, vocab_size, alpha)[tprev, tnxt].mean())
