"""A generated corpus of short "reviews" for the pre-trained language model miniatures
(`reproductions.gpt`): unlabelled text to pre-train on, a few labelled documents to fine-tune
on, and in-context "rule" documents. Generated here, no download, no licence.

Each review has a hidden polarity. Its sentences draw sentiment words from that polarity's
synonyms (`sentiment_words` of each, "good"/"bad" among them; with probability `noise` from the
other side) and neutral sentences about nouns. The polarity is never written as a label in the
pre-training text: it shows only in which words go together, so a language model must learn
that the synonyms of one side are alike (the distributional signal pre-training exploits).
Some reviews end with "overall it was very good/bad ." (`summary`): the zero-shot probe of
GPT-1 Sec. 5 / GPT-2 Sec. 3 reads P(good) against P(bad) after "overall it was very".

A "rule" document (`rule_fraction` of the pre-training text) lists pairs "x = f(x) ;" of symbol
tokens under one of `n_rules` mappings chosen for the document (copy, successor, predecessor,
mirror): the in-context probe of GPT-3 (Sec. 2, Fig. 2.1) gives k such pairs and asks for the
next f(x).
"""

from __future__ import annotations

import random

import torch

PAD, BOS, EOS, MASK, SEP = 0, 1, 2, 3, 4
N_SENTINELS = 8  # T5 Sec. 3.1.4: <X>, <Y>, ... replace the dropped spans
SENTINEL0 = 5
FUNCTION = ["the", "was", "is", "very", "and", "it", "overall", ".", "=", ";"]
N_NOUNS, N_SYMBOLS = 24, 12
RULES = ("copy", "next", "previous", "mirror")


class Vocab:
    """Token ids: specials, sentinels, function words, nouns, symbols, then the positive and
    negative sentiment words ("good" and "bad" first of each)."""

    def __init__(self, sentiment_words: int):
        words = [f"<s{i}>" for i in range(N_SENTINELS)] + FUNCTION
        words += [f"noun{i}" for i in range(N_NOUNS)] + [f"sym{i}" for i in range(N_SYMBOLS)]
        words += ["good"] + [f"pos{i}" for i in range(1, sentiment_words)]
        words += ["bad"] + [f"neg{i}" for i in range(1, sentiment_words)]
        self.itos = ["<pad>", "<bos>", "<eos>", "<mask>", "<sep>"] + words
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.nouns = [self.stoi[f"noun{i}"] for i in range(N_NOUNS)]
        self.symbols = [self.stoi[f"sym{i}"] for i in range(N_SYMBOLS)]
        first = self.stoi["good"]
        self.polar = [list(range(first, first + sentiment_words)),
                      list(range(first + sentiment_words, first + 2 * sentiment_words))]
        self.good, self.bad = self.stoi["good"], self.stoi["bad"]

    def __len__(self):
        return len(self.itos)

    def ids(self, text: str) -> list[int]:
        return [self.stoi[w] for w in text.split()]

    def text(self, ids) -> str:
        return " ".join(self.itos[i] for i in ids if i != PAD)


def review(v: Vocab, polarity: int, rng: random.Random, sentences: int, noise: float,
           summary: bool) -> list[int]:
    """BOS, `sentences` sentences (at least one with sentiment), optional summary, EOS."""

    def word():
        side = polarity if rng.random() >= noise else 1 - polarity
        return rng.choice(v.polar[side])

    out = [BOS]
    for i in range(sentences):
        kind = rng.choice((0, 1, 2, 2, 3) if i else (0, 1, 2, 2))  # 3: neutral
        noun = rng.choice(v.nouns)
        if kind == 0:
            out += v.ids("the") + [noun] + v.ids("was") + [word()] + v.ids(".")
        elif kind == 1:
            out += v.ids("the") + [noun] + v.ids("is very") + [word()] + v.ids(".")
        elif kind == 2:
            out += v.ids("it was") + [word()] + v.ids("and") + [word()] + v.ids(".")
        else:  # neutral
            out += v.ids("the") + [noun] + v.ids("is the") + [rng.choice(v.nouns)] + v.ids(".")
    if summary:
        out += v.ids("overall it was very") + [v.good if polarity == 0 else v.bad] + v.ids(".")
    return out + [EOS]


def rule_apply(v: Vocab, rule: int, x: int) -> int:
    i = v.symbols.index(x)
    j = (i, (i + 1) % N_SYMBOLS, (i - 1) % N_SYMBOLS, N_SYMBOLS - 1 - i)[rule]
    return v.symbols[j]


def rule_doc(v: Vocab, rule: int, rng: random.Random, pairs: int) -> list[int]:
    """BOS, "x = f(x) ;" `pairs` times under one rule, EOS."""
    out = [BOS]
    for _ in range(pairs):
        x = rng.choice(v.symbols)
        out += [x, v.stoi["="], rule_apply(v, rule, x), v.stoi[";"]]
    return out + [EOS]


def pad(docs: list[list[int]], length: int) -> torch.Tensor:
    """(N, length) of token ids, right-padded with PAD (a longer document is cut)."""
    out = torch.full((len(docs), length), PAD, dtype=torch.long)
    for i, d in enumerate(docs):
        d = d[:length]
        out[i, : len(d)] = torch.tensor(d)
    return out


def corpus(v: Vocab, n: int, seed: int, *, summary: float, noise: float,
           rule_fraction: float = 0.0, pairs: int = 6) -> tuple[list[list[int]], list[int]]:
    """`n` unlabelled documents and their hidden polarities (-1 for a rule document)."""
    rng = random.Random(seed)  # noqa: S311 (data, not secrets)
    docs, polarity = [], []
    for _ in range(n):
        if rng.random() < rule_fraction:
            docs.append(rule_doc(v, rng.randrange(len(RULES)), rng, pairs))
            polarity.append(-1)
            continue
        p = rng.randrange(2)
        docs.append(review(v, p, rng, rng.randint(2, 4), noise, rng.random() < summary))
        polarity.append(p)
    return docs, polarity


def in_context_prompts(v: Vocab, n: int, shots: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` prompts "BOS x1 = f(x1) ; ... xk = f(xk) ; x =" with k = `shots` (each under a random
    rule, the query's x not among the examples') and their answers f(x): (n, 4k + 3), (n,)."""
    rng = random.Random(seed)  # noqa: S311 (data, not secrets)
    prompts, answers = [], []
    for _ in range(n):
        rule = rng.randrange(len(RULES))
        xs = rng.sample(v.symbols, shots + 1)
        p = [BOS]
        for x in xs[:-1]:
            p += [x, v.stoi["="], rule_apply(v, rule, x), v.stoi[";"]]
        prompts.append(p + [xs[-1], v.stoi["="]])
        answers.append(rule_apply(v, rule, xs[-1]))
    return torch.tensor(prompts), torch.tensor(answers)
