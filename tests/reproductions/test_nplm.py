"""The neural probabilistic language model: Sec. 2's equation and parameter count, the
generated grammar, the n-gram baselines, the claims."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from reproductions import nplm as N
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict
from reproductions.common.config import ConfigError

TINY = N.PRESETS["tiny"]


@pytest.mark.parametrize("direct", [True, False])
def test_forward_is_b_plus_Wx_plus_U_tanh_d_plus_Hx(direct):
    torch.manual_seed(0)
    cfg = dataclasses.replace(TINY, direct=direct)
    model = N.build_model(cfg)
    ctx = torch.randint(0, cfg.vocab_size, (5, cfg.n - 1))
    x = model.C.weight[ctx].reshape(5, -1)  # (B, (n-1) m): the features, concatenated
    y = model.U.bias + torch.tanh(model.H.bias + x @ model.H.weight.T) @ model.U.weight.T
    if direct:
        y = y + x @ model.W.weight.T
    assert torch.allclose(model(ctx), y, atol=1e-6)


@pytest.mark.parametrize("direct", [True, False])
def test_parameter_count_follows_section_2(direct):
    cfg = dataclasses.replace(N.PRESETS["paper"], direct=direct)
    with torch.device("meta"):
        model = N.build_model(cfg)
    assert sum(p.numel() for p in model.parameters()) == N.parameter_count(cfg)
    if direct:  # MLP1: |V| (1 + n m + h) + h (1 + (n-1) m)
        assert N.parameter_count(cfg) == 16_383 * (1 + 5 * 60 + 50) + 50 * (1 + 4 * 60)


def test_the_grammar_makes_the_verb_agree_with_its_subject():
    rng = __import__("random").Random(0)
    for _ in range(200):
        words = N.sentence(rng)
        noun = next(w for w in words if w.startswith("noun"))  # the subject is the first noun
        verb = next(w for w in words if w.startswith("verb"))
        assert verb[4] == noun[4] and verb[-1] == noun[-1]  # group and number
        assert words[-1] == "."
    assert len(N.WORDS) == len(set(N.WORDS)) == 72


def test_interpolated_ngram_beats_unigram_and_its_weights_are_a_distribution():
    train, valid, test = N.corpus(6000, 0), N.corpus(1000, 1), N.corpus(1000, 2)
    tri = N.interpolated_ngram_perplexity(train, valid, test[2:], 3, len(N.WORDS))
    uni = N.unigram_perplexity(train, test[4:], len(N.WORDS))
    assert 1 < tri < uni < len(N.WORDS)


def test_variants_score_the_same_test_words():
    cfg = dataclasses.replace(N.PRESETS["mini"], n_train=500, n_test=300)
    runs = N.variants(cfg)
    assert runs.keys() == {"nplm-n5", "nplm-n3"}
    targets = [N.build_data(c)[1]["test"][:, -1] for c in runs.values()]
    assert torch.equal(targets[0], targets[1])


def test_generated_corpus_only():
    with pytest.raises(ConfigError):
        N.build_data(dataclasses.replace(TINY, data_root="/tmp"))
    with pytest.raises(ConfigError):
        N.build_data(dataclasses.replace(TINY, vocab_size=100))


def test_claim_compares_with_the_better_ngram():
    claim = next(c for c in N.CLAIMS if c.id == "beats-ngrams")
    m = {"nplm-n5": {"test_perplexity": 10.0}, "unigram": {"test_perplexity": 40.0},
         "interpolated 3-gram": {"test_perplexity": 12.0},
         "interpolated 5-gram": {"test_perplexity": 11.0}}
    row = verdict(claim, "mini", m)
    assert row["verdict"] == REPRODUCED and row["margin"] == pytest.approx(1 - 10 / 11 - 0.05)
    m["interpolated 5-gram"]["test_perplexity"] = 10.2
    assert verdict(claim, "mini", m)["verdict"] == NOT_REPRODUCED
    assert math.isfinite(N.evaluate(N.build_model(TINY), N.build_data(TINY)[1], TINY)
                         ["test_perplexity"])
