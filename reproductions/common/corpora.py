"""Generated text corpora with planted structure, for the word-representation reproductions.

Nothing is downloaded: every corpus is drawn from a small generative model with a seed, and the
generator returns the answers it planted (analogy questions, phrases) beside the text.

`analogy_corpus`: word pairs related the same way, in the style of the analogy test set of
Mikolov et al. (2013a, Table 1): groups such as country:capital, man:woman, singular:plural.
Each planted word is an (entity, role) pair: `country3` and `capital3` share entity 3, `country3`
and `country5` share the role. A sentence about one planted word mixes context words of its
entity (its "topic": what is said about France and Paris alike), context words of its role (what
is said about countries, not cities), and filler words drawn from a Zipf law (the frequent
function words of real text). So the co-occurrence statistics are additive in entity and role,
and `capital3 - country3 + country5` should land on `capital5`: the relation is planted, the
embedding has to find it from co-occurrence alone. Entities are drawn with Zipfian frequency
too, so some planted words are rare.

`phrase_corpus`: the same filler text with planted multi-word names ("new york" style pairs of
tokens that appear as a unit), for the phrase detector of Mikolov et al. (2013b, Sec. 4).

Licence: generated here; no third-party text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GROUPS = (("country", "capital"), ("man", "woman"), ("single", "plural"), ("verb", "past"))


@dataclass(frozen=True)
class Corpus:
    """`sentences`: arrays of word ids; `vocab[i]`: word i's name; `analogies`: (Q, 4) word
    ids a, b, c, d with a:b :: c:d; `phrases`: (P, 2) planted bigrams (first, second)."""

    sentences: list[np.ndarray]
    vocab: list[str]
    analogies: np.ndarray
    phrases: np.ndarray

    @property
    def tokens(self) -> int:
        return int(sum(len(s) for s in self.sentences))


def zipf(n: int, exponent: float = 1.0) -> np.ndarray:
    """Probabilities proportional to 1 / rank^exponent over n words."""
    p = 1.0 / np.arange(1, n + 1) ** exponent
    return p / p.sum()


def analogy_corpus(sentences: int = 20_000, entities: int = 10, topic_words: int = 4,
                   role_words: int = 4, fillers: int = 400, topic_per_sentence: int = 2,
                   role_per_sentence: int = 2, filler_min: int = 2, filler_max: int = 12,
                   filler_spread: float = 1.0,
                   groups: tuple[tuple[str, str], ...] = GROUPS, seed: int = 0) -> Corpus:
    """A corpus with `len(groups) x entities x 2` planted words and every analogy question
    a:b :: c:d within a group (a, c of one role, b, d of the other, a != c, both directions)."""
    rng = np.random.default_rng(seed)
    vocab: list[str] = []

    def add(names):
        start = len(vocab)
        vocab.extend(names)
        return np.arange(start, len(vocab))

    planted = {}  # (group, entity, role) -> id
    topics, roles = {}, {}  # (group, entity) -> topic word ids; (group, role) -> role word ids
    for g, pair in enumerate(groups):
        for r, role in enumerate(pair):
            roles[g, r] = add([f"{role}-ctx{k}" for k in range(role_words)])
            for e in range(entities):
                planted[g, e, r] = add([f"{role}{e}"])[0]
        for e in range(entities):
            topics[g, e] = add([f"{pair[0]}{e}-topic{k}" for k in range(topic_words)])
    filler = add([f"w{k}" for k in range(fillers)])
    entity_p = zipf(entities, 0.7)
    filler_p = zipf(fillers, 1.0)

    # how many filler words a planted word's sentences carry: a trait of the word (its register),
    # unrelated to its entity or role
    n_filler = {w: int(rng.integers(filler_min, filler_max + 1)) for w in planted.values()}
    # and which filler words, in what proportions (its syntax: "the capital", "in Paris"): the
    # Zipf law reweighted by a log-normal factor per word and filler word
    word_filler_p = {}
    for w in planted.values():
        p = filler_p * np.exp(filler_spread * rng.standard_normal(fillers))
        word_filler_p[w] = p / p.sum()
    out = []
    g_s = rng.integers(len(groups), size=sentences)
    e_s = rng.choice(entities, size=sentences, p=entity_p)
    r_s = rng.integers(2, size=sentences)
    for g, e, r in zip(g_s, e_s, r_s, strict=True):
        w = planted[g, e, r]
        words = np.concatenate([
            [w],
            rng.choice(topics[g, e], topic_per_sentence),
            rng.choice(roles[g, r], role_per_sentence),
            rng.choice(filler, n_filler[w], p=word_filler_p[w])])
        out.append(rng.permutation(words))

    questions = []
    for g in range(len(groups)):
        for a_r in (0, 1):
            for e1 in range(entities):
                for e2 in range(entities):
                    if e1 != e2:
                        questions.append((planted[g, e1, a_r], planted[g, e1, 1 - a_r],
                                          planted[g, e2, a_r], planted[g, e2, 1 - a_r]))
    return Corpus(out, vocab, np.array(questions, dtype=np.int64), np.zeros((0, 2), np.int64))


def phrase_corpus(sentences: int = 20_000, phrases: int = 20, fillers: int = 5000,
                  length: int = 10, phrase_rate: float = 0.5, seed: int = 0) -> Corpus:
    """Zipfian filler sentences; with probability `phrase_rate` a sentence holds one planted
    phrase (two tokens side by side, "new york"), the phrases themselves drawn with Zipfian
    frequency. Each phrase's words also occur alone now and then (rarely: "new" without
    "york"), as in real text; frequent filler pairs ("of the") are frequent bigrams by chance,
    and the long tail of the filler words' Zipf law makes pairs of rare words that meet once."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{k}" for k in range(fillers)]
    first = np.arange(len(vocab), len(vocab) + phrases)
    vocab += [f"phrase{k}-a" for k in range(phrases)]
    second = np.arange(len(vocab), len(vocab) + phrases)
    vocab += [f"phrase{k}-b" for k in range(phrases)]
    filler_p = zipf(fillers, 1.0)
    phrase_p = zipf(phrases, 0.7)
    words = rng.choice(fillers, (sentences, length), p=filler_p)  # (S, L)
    rows = np.flatnonzero(rng.random(sentences) < phrase_rate)
    k = rng.choice(phrases, len(rows), p=phrase_p)
    at = rng.integers(length - 1, size=len(rows))
    words[rows, at], words[rows, at + 1] = first[k], second[k]
    rows = np.flatnonzero(rng.random(sentences) < 0.05)  # a phrase word on its own
    k = rng.choice(phrases, len(rows), p=phrase_p)
    words[rows, rng.integers(length, size=len(rows))] = np.where(
        rng.random(len(rows)) < 0.5, first[k], second[k])
    out = list(words.astype(np.int64))
    return Corpus(out, vocab, np.zeros((0, 4), np.int64),
                  np.stack([first, second], 1).astype(np.int64))


# --- counting and scoring, shared by the word-vector reproductions ---------------------------


def flatten(sentences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All tokens in order and the sentence each belongs to: (N,), (N,)."""
    lengths = np.array([len(s) for s in sentences])
    return np.concatenate(sentences), np.repeat(np.arange(len(sentences)), lengths)


def skipgram_pairs(sentences: list[np.ndarray], window: int, keep: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """(center, context) pairs of one pass of the skip-gram model: each token is kept with
    probability `keep[word]` (subsampling), then for each center a window size R is drawn in
    1..window and the R words on each side in its sentence are its contexts. (M, 2)."""
    flat, sid = flatten(sentences)
    kept = rng.random(len(flat)) < keep[flat]
    flat, sid = flat[kept], sid[kept]
    reach = rng.integers(1, window + 1, size=len(flat))
    out = []
    for o in range(1, window + 1):
        same = sid[:-o] == sid[o:]
        left, right = flat[:-o], flat[o:]
        m = same & (reach[:-o] >= o)  # center on the left, context o words to its right
        out.append(np.stack([left[m], right[m]], 1))
        m = same & (reach[o:] >= o)  # center on the right
        out.append(np.stack([right[m], left[m]], 1))
    return np.concatenate(out)


def cooccurrence(sentences: list[np.ndarray], vocab_size: int, window: int,
                 harmonic: bool = False) -> np.ndarray:
    """Symmetric (V, V) counts X_ij of word j within `window` words of word i in a sentence;
    `harmonic`: a pair d words apart counts 1/d (GloVe, Sec. 4.2)."""
    flat, sid = flatten(sentences)
    x = np.zeros(vocab_size * vocab_size)
    for o in range(1, window + 1):
        same = sid[:-o] == sid[o:]
        i, j = flat[:-o][same], flat[o:][same]
        w = 1.0 / o if harmonic else 1.0
        x += np.bincount(i * vocab_size + j, minlength=len(x)) * w
        x += np.bincount(j * vocab_size + i, minlength=len(x)) * w
    return x.reshape(vocab_size, vocab_size)


def analogy_accuracy(vectors: np.ndarray, questions: np.ndarray) -> float:
    """Share of questions a:b :: c:d answered d by the word whose vector is nearest (cosine) to
    b - a + c, the three question words excluded (Mikolov et al. 2013a, Sec. 4.1)."""
    if len(questions) == 0:
        return float("nan")
    e = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    a, b, c, d = questions.T
    scores = (e[b] - e[a] + e[c]) @ e.T  # (Q, V)
    rows = np.arange(len(questions))
    for q in (a, b, c):
        scores[rows, q] = -np.inf
    return float((scores.argmax(1) == d).mean())


def ppmi(counts: np.ndarray) -> np.ndarray:
    """Positive pointwise mutual information max(0, log p(i, j) / (p(i) p(j)))."""
    total = counts.sum()
    expected = counts.sum(1, keepdims=True) * counts.sum(0, keepdims=True) / total
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(np.where(counts > 0, counts / np.maximum(expected, 1e-300), 1.0)),
                          0.0)
