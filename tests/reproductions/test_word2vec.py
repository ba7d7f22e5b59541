"""word2vec / word2vec-phrases / GloVe: the pieces computed as the papers write them (skip-gram
pairs and subsampling, Eq. 4's negative-sampling loss, Eq. 6's phrase score, GloVe's Eq. 8-9),
the planted corpus's analogy questions, and the claims as functions of a metrics dict."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reproductions import word2vec as W
from reproductions.common import corpora as C
from reproductions.common.claims import (
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)

CLAIMS = {c.id: c for c in W.CLAIMS}


def test_skipgram_pairs_stay_inside_sentences_and_the_window():
    sentences = [np.array([0, 1, 2]), np.array([3, 4])]
    pairs = C.skipgram_pairs(sentences, window=1, keep=np.ones(5), rng=np.random.default_rng(0))
    assert sorted(map(tuple, pairs.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3)]
    wide = C.skipgram_pairs([np.arange(6)], window=5, keep=np.ones(6),
                            rng=np.random.default_rng(0))
    assert all(a != b for a, b in wide.tolist()) and len(wide) <= 30


def test_subsampling_keeps_a_word_with_probability_sqrt_t_over_f():
    # 2013b Eq. 5: discarded with probability 1 - sqrt(t / f(w))
    corpus = C.Corpus([np.array([0] * 90 + [1] * 10)], ["a", "b"], np.zeros((0, 4), np.int64),
                      np.zeros((0, 2), np.int64))
    f = W.unigram_counts(corpus) / 100
    t = 1e-2
    keep = np.minimum(1.0, np.sqrt(t / f))
    assert keep == pytest.approx([math.sqrt(0.01 / 0.9), math.sqrt(0.01 / 0.1)])
    # a word kept with probability 0.25 among 10,000 tokens: about 2,500 survive
    flat = np.zeros(10_000, dtype=np.int64)
    pairs = C.skipgram_pairs([flat], 1, np.array([0.25]), np.random.default_rng(0))
    assert len(pairs) == pytest.approx(2 * 2_500, rel=0.05)


def test_negative_sampling_loss_is_eq4():
    torch.manual_seed(0)
    model = W.SkipGram(6, 4)
    torch.nn.init.normal_(model.outputs.weight)
    w, c, n = torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([[0, 5], [5, 5]])
    v, o = model.inputs.weight.detach(), model.outputs.weight.detach()
    by_hand = 0.0
    for b in range(2):
        by_hand -= math.log(torch.sigmoid(o[c[b]] @ v[w[b]]))
        by_hand -= sum(math.log(torch.sigmoid(-o[k] @ v[w[b]])) for k in n[b])
    assert model(w, c, n).item() == pytest.approx(by_hand / 2, rel=1e-5)


def test_glove_loss_is_eq8_with_the_weighting_of_eq9():
    torch.manual_seed(0)
    model = W.GloVe(5, 3, x_max=100.0, alpha=0.75)
    i, j, x = torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([10.0, 400.0])
    wv, cv = model.words.weight, model.contexts.weight
    b, bc = model.word_bias.weight[:, 0], model.context_bias.weight[:, 0]
    f = [(10 / 100) ** 0.75, 1.0]  # x >= x_max weighs 1
    by_hand = sum(f[k] * (wv[i[k]] @ cv[j[k]] + b[i[k]] + bc[j[k]] - math.log(x[k])) ** 2
                  for k in range(2)) / 2
    assert model(i, j, x).item() == pytest.approx(by_hand.item(), rel=1e-5)
    flat = W.GloVe(5, 3, weighting=False)
    flat.load_state_dict(model.state_dict())
    assert flat(i, j, x).item() > model(i, j, x).item()


def test_phrase_score_is_eq6():
    # bigram (0 1) twice, word 0 three times, word 1 twice: (2 - delta) / (3 * 2)
    corpus = C.Corpus([np.array([0, 1, 2]), np.array([0, 1]), np.array([2, 0])], list("abc"),
                      np.zeros((0, 4), np.int64), np.zeros((0, 2), np.int64))
    scores, bigrams = W.phrase_scores(corpus, delta=1.0)
    assert bigrams[0, 1] == 2 and scores[0, 1] == pytest.approx((2 - 1) / 6)
    assert scores[2, 0] == pytest.approx((1 - 1) / (2 * 3))
    assert W.precision_at_planted(scores, np.array([[0, 1]])) == 1.0


def test_cooccurrence_is_symmetric_and_harmonic_weights_by_distance():
    x = C.cooccurrence([np.array([0, 1, 2])], 3, window=2)
    assert (x == x.T).all() and x[0, 2] == 1 and x[0, 0] == 0
    h = C.cooccurrence([np.array([0, 1, 2])], 3, window=2, harmonic=True)
    assert h[0, 1] == 1 and h[0, 2] == 0.5  # GloVe Sec. 4.2: d words apart counts 1/d


def test_analogy_accuracy_answers_additive_vectors_and_skips_the_question_words():
    rng = np.random.default_rng(0)
    entity, role = rng.standard_normal((4, 16)), rng.standard_normal((2, 16))
    vectors = (entity[:, None] + role[None]).reshape(8, 16)  # word 2e + r
    questions = np.array([[2 * a, 2 * a + 1, 2 * c, 2 * c + 1] for a in range(4) for c in range(4)
                          if a != c])
    assert C.analogy_accuracy(vectors, questions) == 1.0
    # b - a + c is nearest to c itself when the relation is tiny: excluded, so d still wins
    assert C.analogy_accuracy(entity.repeat(2, 0) + 1e-3 * np.tile(role, (4, 1)), questions) == 1.0


def test_planted_analogies_pair_entities_and_roles_within_a_group():
    corpus = C.analogy_corpus(sentences=200, entities=3, seed=0)
    assert len(corpus.analogies) == 4 * 2 * 3 * 2
    for a, b, c, d in corpus.analogies[:6]:
        names = [corpus.vocab[i] for i in (a, b, c, d)]
        assert names[0][:-1] == names[2][:-1] and names[1][:-1] == names[3][:-1]  # same role
        assert names[0][-1] == names[1][-1] and names[2][-1] == names[3][-1]  # same entity
    phrases = C.phrase_corpus(sentences=300, seed=0)
    flat = C.flatten(phrases.sentences)[0]
    first, second = phrases.phrases[0]
    after = flat[1:][flat[:-1] == first]
    assert len(after) and (after == second).mean() > 0.8  # "new" is mostly followed by "york"


def test_paper_presets_count_two_vectors_per_word():
    with torch.device("meta"):
        model = W.build_model(W.PRESETS["paper"])
    assert sum(p.numel() for p in model.parameters()) == 2 * 1_000_000 * 300


def _metrics(sgns=0.6, counts=0.35, svd=0.15, rand=0.0, nosub=0.4, glove=0.1, flat=0.03):
    return {"sgns": {"analogy_accuracy": sgns, "phrase_precision": 1.0},
            "no-delta": {"phrase_precision": 0.0}, "bigram count": {"phrase_precision": 0.5},
            "no-subsampling": {"analogy_accuracy": nosub},
            "glove": {"analogy_accuracy": glove}, "glove-unweighted": {"analogy_accuracy": flat},
            "raw counts": {"analogy_accuracy": counts}, "PPMI+SVD": {"analogy_accuracy": svd},
            "random vectors": {"analogy_accuracy": rand}}


def test_claims_measure_margins_over_the_named_controls_and_baselines():
    m = _metrics()
    assert verdict(CLAIMS["analogies"], "mini", m)["margins"] == pytest.approx(
        {"raw counts": 0.15, "PPMI+SVD": 0.35, "random vectors": 0.5})
    assert verdict(CLAIMS["subsampling"], "mini", m)["margins"] == pytest.approx(
        {"no-subsampling": 0.1})
    assert verdict(CLAIMS["phrases"], "mini-phrases", m)["margins"] == pytest.approx(
        {"bigram count": 0.3, "no-delta": 0.8})
    assert verdict(CLAIMS["glove-weighting"], "mini-glove", m)["verdict"] == REPRODUCED
    assert verdict(CLAIMS["glove-vs-skipgram"], "mini-glove", m)["verdict"] == \
        NOT_REPRODUCED_IN_MINIATURE


def test_skipgram_no_better_than_raw_counts_fails_the_analogy_claim():
    row = verdict(CLAIMS["analogies"], "mini", _metrics(sgns=0.40, counts=0.35))
    assert row["verdict"] == NOT_REPRODUCED and row["compared_with"][0] == "raw counts"


def test_tiny_batches_carry_k_noise_words_per_pair():
    cfg = W.PRESETS["tiny"]
    batches, eval_data = W.build_data(cfg)
    center, context, noise = next(iter(batches))
    assert center.shape == context.shape == (cfg.batch_size,)
    assert noise.shape == (cfg.batch_size, cfg.negatives)
    assert len(eval_data["analogies"]) > 0
