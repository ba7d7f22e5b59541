"""The pre-trained language models: paper-scale sizes counted from the papers' hyperparameters,
causal vs bidirectional attention, BERT's 80/10/10 masking, the pre-train-then-fine-tune batch
stream, and the claims as pure functions of a metrics dict."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import gpt
from reproductions.common import lm_corpus as C
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

TINY = gpt.PRESETS["tiny"]


def block(d, d_ff):
    """One Transformer block: 4 projections with biases, two biased FFN layers, two LNs."""
    return 4 * (d * d + d) + (d * d_ff + d_ff) + (d_ff * d + d) + 2 * 2 * d


@pytest.mark.parametrize(("preset", "expected"), [
    # GPT-1 Sec. 4.1: 40,478 tokens x 768 + 512 positions + 12 blocks; LM head tied to W_e
    ("paper", 40478 * 768 + 512 * 768 + 12 * block(768, 3072)),
    # BERT-base (Sec. 3): embeddings (+2 segments, LN), 12 blocks, pooler, MLM transform and
    # output bias, NSP classifier
    ("paper-bert", 30522 * 768 + 512 * 768 + 2 * 768 + 2 * 768 + 12 * block(768, 3072)
     + (768 * 768 + 768) + (768 * 768 + 768 + 2 * 768) + 30522 + (768 * 2 + 2)),
    # GPT-2 (Sec. 2.3): 50,257 tokens, 1024 positions, a final LayerNorm
    ("paper-gpt2", 50257 * 768 + 1024 * 768 + 12 * block(768, 3072) + 2 * 768),
    ("paper-gpt3", 50257 * 12288 + 2048 * 12288 + 96 * block(12288, 4 * 12288) + 2 * 12288),
])
def test_paper_presets_have_the_size_the_hyperparameters_give(preset, expected):
    with torch.device("meta"):
        model = gpt.build_model(gpt.PRESETS[preset])
    assert sum(p.numel() for p in model.parameters()) == expected
    paper = {"paper": 117e6, "paper-bert": 110e6, "paper-gpt2": 117e6, "paper-gpt3": 175.0e9}
    assert abs(expected - paper[preset]) / paper[preset] < 0.07  # the papers' rounded sizes


def test_gpt_is_causal_and_bert_is_bidirectional():
    torch.manual_seed(0)
    tokens = torch.randint(C.SEP + 1, 60, (2, 10))
    changed = tokens.clone()
    changed[:, -1] = 5
    for causal in (True, False):
        cfg = dataclasses.replace(TINY, causal=causal, bert_heads=not causal)
        model = gpt.build_model(cfg).eval()
        with torch.no_grad():
            a, b = model(tokens), model(changed)
        assert torch.allclose(a[:, :-1], b[:, :-1], atol=1e-6) == causal


def test_masking_chooses_15_percent_of_content_tokens_80_10_10():
    torch.manual_seed(0)
    cfg = gpt.PRESETS["mini-bert"]
    tokens = torch.randint(C.SEP + 1, 100, (400, 32))
    tokens[:, 0], tokens[:, -5:] = C.BOS, C.PAD
    inputs, targets = gpt.mask_tokens(tokens, cfg, 100)
    chosen = targets != -100
    assert not chosen[:, 0].any() and not chosen[:, -5:].any()  # specials are never predicted
    assert chosen.float().sum() / (tokens > C.SEP).sum() == pytest.approx(0.15, abs=0.01)
    masked = (inputs == C.MASK)[chosen].float().mean()
    kept = (inputs == tokens)[chosen].float().mean()
    assert masked == pytest.approx(0.8, abs=0.02) and kept == pytest.approx(0.1 + 0.9 / 95, abs=0.02)
    assert torch.equal(inputs[~chosen], tokens[~chosen])


def test_the_batch_stream_pretrains_then_fine_tunes_on_the_labelled_reviews():
    cfg = dataclasses.replace(TINY, pretrain_steps=3)
    stream = iter(gpt.build_data(cfg)[0])
    kinds = [next(stream)[0] for _ in range(6)]
    assert kinds == ["lm"] * 3 + ["cls"] * 3
    v = gpt.vocab(cfg)
    (x, y), _ = gpt.labelled_split(cfg, v)
    assert set(y.tolist()) == {0, 1} and "overall" not in v.text(x.flatten().tolist())


def test_scratch_control_fine_tunes_for_the_same_steps_on_the_same_labels():
    runs = gpt.variants(gpt.PRESETS["mini"])
    pre, scratch = runs["pretrained"], runs["scratch"]
    assert scratch.pretrain_steps == 0
    assert scratch.steps == pre.steps - pre.pretrain_steps
    assert dataclasses.replace(scratch, steps=0, pretrain_steps=0) == \
        dataclasses.replace(pre, steps=0, pretrain_steps=0)


def test_a_review_tells_its_polarity_only_through_synonyms():
    v = C.Vocab(24)
    import random
    doc = C.review(v, 0, random.Random(0), 4, noise=0.0, summary=False)
    words = set(doc)
    assert words & set(v.polar[0]) and not words & set(v.polar[1])


def metrics(pre=0.95, scratch=0.6, bow=0.7, majority=0.5):
    return {"pretrained": {"test_accuracy": pre}, "scratch": {"test_accuracy": scratch},
            gpt.BOW: {"test_accuracy": bow}, "majority": {"test_accuracy": majority}}


def test_pretraining_claim_compares_with_scratch_and_the_trivial_baselines():
    claim = next(c for c in gpt.CLAIMS if c.id == "pretraining-helps")
    row = verdict(claim, "mini", metrics())
    assert row["margins"] == pytest.approx({"scratch": 0.25, "majority": 0.35, gpt.BOW: 0.15})
    assert row["verdict"] == REPRODUCED
    assert verdict(claim, "mini", metrics(bow=0.9))["verdict"] == NOT_REPRODUCED
