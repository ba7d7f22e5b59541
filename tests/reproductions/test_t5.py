"""T5: the size of T5-Base counted from Sec. 3.1.1's hyperparameters, relative position buckets,
span corruption (the input and target together give back the document), a causal decoder over
a bidirectional encoder, and the claim as a pure function of a metrics dict."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch

from reproductions import gpt, t5
from reproductions.common import lm_corpus as C
from reproductions.common.claims import (
    NOT_APPLICABLE,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    verdict,
)

TINY = t5.PRESETS["tiny"]


def test_t5_base_has_the_size_its_hyperparameters_give():
    d, ff, v = 768, 3072, 32128
    attn, norms = 4 * d * d, d
    encoder = 12 * (attn + 2 * ff * d + 2 * norms) + 32 * 12 + d  # + bias table, final norm
    decoder = 12 * (2 * attn + 2 * ff * d + 3 * norms) + 32 * 12 + d
    with torch.device("meta"):
        model = t5.build_model(t5.PRESETS["paper"])
    n = sum(p.numel() for p in model.parameters())
    assert n == v * d + encoder + decoder == 222_903_552
    assert abs(n - 220e6) / 220e6 < 0.02  # Sec. 3.1.1: "roughly 220 million parameters"


def test_buckets_are_exact_near_log_spaced_far_and_directional():
    rel = torch.arange(-200, 201)
    both = t5.relative_bucket(rel, True, 32, 128)
    assert both[200 + 3] == 16 + 3 and both[200 - 3] == 3  # exact below 8, one half per side
    assert both[200 + 150] == both[200 + 200] == 31 and both[200 - 200] == 15  # beyond 128
    assert (both.diff()[200:] >= 0).all()  # monotone in distance
    past = t5.relative_bucket(rel, False, 32, 128)
    assert (past[201:] == 0).all() and past[200 - 5] == 5 and past.max() == 31


@pytest.mark.parametrize("seed", range(5))
def test_span_corruption_input_and_target_give_back_the_document(seed):
    doc = list(range(100, 100 + 30))
    src, tgt = t5.span_corrupt(doc, 0.15, 3.0, random.Random(seed))
    assert src[-1] == tgt[-1] == C.EOS
    sentinels = [t for t in src if C.SENTINEL0 <= t < C.SENTINEL0 + C.N_SENTINELS]
    assert sentinels == list(range(C.SENTINEL0, C.SENTINEL0 + len(sentinels)))
    spans, current = {}, None  # sentinel -> the tokens it replaced
    for t in tgt[:-2]:
        if C.SENTINEL0 <= t < C.SENTINEL0 + C.N_SENTINELS:
            current = spans.setdefault(t, [])
        else:
            current.append(t)
    rebuilt = [x for t in src[:-1] for x in (spans[t] if t in spans else [t])]
    assert rebuilt == doc and sum(map(len, spans.values())) == round(0.15 * 30)


@pytest.mark.parametrize("seed", range(3))
def test_prefix_lm_splits_the_document_into_input_and_target(seed):
    doc = list(range(100, 100 + 20))
    src, tgt = t5.prefix_lm(doc, random.Random(seed))
    assert src[-1] == tgt[-1] == C.EOS and len(src) > 1 and len(tgt) > 1
    assert src[:-1] + tgt[:-1] == doc


def test_mini_prefix_pretrains_with_the_prefix_objective():
    cfg = dataclasses.replace(TINY, pretrain_steps=1, objective="prefix")
    _, src, _, tgt_out = next(iter(t5.build_data(cfg)[0]))
    sentinels = (src >= C.SENTINEL0) & (src < C.SENTINEL0 + C.N_SENTINELS)
    assert not sentinels.any() and not ((tgt_out >= C.SENTINEL0) & (tgt_out < C.SENTINEL0
                                                                    + C.N_SENTINELS)).any()
    assert t5.PRESETS["mini-prefix"].objective == "prefix"
    assert t5.PRESETS["mini"].objective == "span"


def test_decoder_is_causal_encoder_bidirectional_and_padding_is_ignored():
    torch.manual_seed(0)
    model = t5.build_model(TINY).eval()
    src = torch.randint(C.SEP + 1, 60, (2, 9))
    tgt = torch.randint(C.SEP + 1, 60, (2, 6))
    with torch.no_grad():
        base = model(src, tgt)
        later = tgt.clone()
        later[:, -1] = 7
        assert torch.allclose(model(src, later)[:, :-1], base[:, :-1], atol=1e-6)
        last = src.clone()
        last[:, -1] = 7  # the last input token reaches every output step
        assert not torch.allclose(model(last, tgt)[:, 0], base[:, 0], atol=1e-4)
        padded = torch.cat([src, torch.full((2, 4), C.PAD)], 1)
        assert torch.allclose(model(padded, tgt), base, atol=1e-5)


def test_fine_tuning_targets_are_label_words_and_scratch_gets_the_same_steps():
    cfg = dataclasses.replace(TINY, pretrain_steps=2)
    stream = iter(t5.build_data(cfg)[0])
    batches = [next(stream) for _ in range(3)]
    assert [b[0] for b in batches] == ["lm", "lm", "cls"]
    v = t5.vocab(cfg)
    _, src, tgt_in, tgt_out = batches[2]
    assert set(tgt_out[:, 0].tolist()) <= {v.good, v.bad} and (tgt_out[:, 1] == C.EOS).all()
    assert (tgt_in[:, 0] == C.BOS).all() and (src[:, 0] != C.BOS).all()
    runs = t5.variants(t5.PRESETS["mini"])
    assert runs["scratch"].pretrain_steps == 0
    assert runs["scratch"].steps == runs["pretrained"].steps - runs["pretrained"].pretrain_steps


def metrics(pre=0.95, scratch=0.6, bow=0.7, majority=0.5):
    return {"pretrained": {"test_accuracy": pre}, "scratch": {"test_accuracy": scratch},
            gpt.BOW: {"test_accuracy": bow}, "majority": {"test_accuracy": majority}}


def test_claim_compares_with_scratch_and_the_trivial_baselines():
    claim = t5.CLAIMS[0]
    row = verdict(claim, "mini", metrics())
    assert row["margins"] == pytest.approx({"scratch": 0.25, "majority": 0.35, gpt.BOW: 0.15})
    assert row["verdict"] == REPRODUCED
    assert verdict(claim, "mini", metrics(bow=0.9))["verdict"] == NOT_REPRODUCED_IN_MINIATURE
    prefix = t5.CLAIMS[1]
    assert prefix.presets == ("mini-prefix",) and prefix.expected
    assert verdict(prefix, "mini-prefix", metrics())["verdict"] == REPRODUCED
    assert verdict(prefix, "mini", metrics())["verdict"] == NOT_APPLICABLE
