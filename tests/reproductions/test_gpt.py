"""The pre-trained language models: paper-scale sizes counted from the papers' hyperparameters,
causal vs bidirectional attention, BERT's 80/10/10 masking, the pre-train-then-fine-tune batch
stream, and the claims as pure functions of a metrics dict."""

from __future__ import annotations

import dataclasses
import math

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


# --- GPT-2's size ladder and GPT-3's in-context mappings -----------------------------------
def test_size_ladder_trains_three_sizes_on_the_same_batches_for_the_same_steps():
    runs = gpt.variants(gpt.PRESETS["mini-gpt2"])
    assert list(runs) == list(gpt.SIZES)
    sizes = [sum(p.numel() for p in gpt.build_model(c).parameters()) for c in runs.values()]
    assert sizes == [2000, 29920, 108992]
    same = [dataclasses.replace(c, d_model=0, n_layers=0, n_heads=0, d_ff=0)
            for c in runs.values()]
    assert same[0] == same[1] == same[2]  # the same data, seed, steps and recipe


def items(row, cfg):
    """A mapping sequence's (symbol index, label index) items, "x y" or one "x=y" token."""
    from reproductions.common import lm_tasks as T
    sym, n, c = T.symbols(cfg.map_symbols), cfg.map_symbols, cfg.map_classes
    out, i = [], 1
    while i < len(row) and row[i] != T.PAD:
        if row[i] in sym:
            out.append((sym.index(row[i]), T.label_of(row[i + 1], n, c)))
            i += 2
        else:
            x = (row[i] - T.FIRST - n - c) // c
            out.append((x, T.label_of(row[i], n, c)))
            i += 1
    return out


def test_held_out_mappings_never_appear_in_training_and_prompts_are_k_shot():
    from reproductions.common import lm_tasks as T
    cfg = dataclasses.replace(gpt.PRESETS["mini-gpt3"], n_pretrain=300, n_test=40)
    held = gpt.held_out_mappings(cfg)
    seqs = gpt.build_data(cfg)[0].unlabelled
    fused = 0
    for row in seqs.tolist():  # every item agrees with one mapping; no held-out one fits all
        pairs = dict(items(row, cfg))
        fused += 2 * len(pairs_in := items(row, cfg)) - (len(row) - row.count(T.PAD) - 1)
        assert len(pairs) == len(set(pairs_in))  # one label per symbol
        if len(pairs) == 8:
            assert tuple(pairs[x] for x in range(8)) not in set(held)
    assert fused / (300 * 16) == pytest.approx(0.5, abs=0.05)  # half the items are one token
    sym = T.symbols(8)
    for k in (0, 1, 4, 8):
        p, a, seen = gpt.mapping_prompts(cfg, k)
        ps, as_, seen_s = gpt.mapping_prompts(cfg, k, shuffled=True)
        assert p.shape == (40, k + 2) and torch.equal(a, as_) and torch.equal(seen, seen_s)
        for row, shuffled, ans, f in zip(p.tolist(), ps.tolist(), a.tolist(), held, strict=True):
            demos = items(row[:-1], cfg)
            assert len(demos) == k and all(f[x] == y for x, y in demos)
            assert [x for x, _ in items(shuffled[:-1], cfg)] == [x for x, _ in demos]
            assert sorted(y for _, y in items(shuffled[:-1], cfg)) == sorted(y for _, y in demos)
            assert f[sym.index(row[-1])] == ans and shuffled[-1] == row[-1]
    assert bool(gpt.mapping_prompts(cfg, 8)[2].all())  # 8 distinct demos: every query seen


def test_bigram_loss_is_zero_on_a_deterministic_sequence_and_log_v_for_a_uniform_unigram():
    from reproductions.common import lm_tasks as T
    rows = torch.tensor([[1, 2, 3, 4, 0, 0]] * 10)
    assert T.ngram_loss(rows, rows, 5, 2, alpha=1e-9) == pytest.approx(0, abs=1e-6)
    assert T.ngram_loss(rows, rows, 5, 1, alpha=1e-9) == pytest.approx(math.log(3), abs=1e-6)


def test_in_context_metrics_and_baselines_on_the_tiny_mapping_preset():
    cfg = dataclasses.replace(TINY, corpus="mappings", n_positions=18, map_pairs=8, num_classes=0,
                              n_pretrain=16, n_test=20, shots=(0, 2, 8))
    torch.manual_seed(0)
    stream, held = gpt.build_data(cfg)
    assert [b[0] for b in stream] == ["lm"] * cfg.steps  # a language model only: then it ends
    out = gpt.evaluate(gpt.build_model(cfg).eval(), held, cfg)
    assert set(out) == {"icl_accuracy_0", "icl_accuracy_2", "icl_shuffled_accuracy_2",
                        "icl_accuracy_8", "icl_shuffled_accuracy_8"}
    base = gpt.baselines(cfg)
    assert base["lookup reader"]["icl_accuracy_8"] == 1.0
    assert base["lookup reader"]["icl_accuracy_0"] == base["chance"]["icl_accuracy_0"] == 0.25


def test_size_and_in_context_claims_read_the_run_metrics():
    loss = {"small": 1.32, "medium": 1.31, "large": 1.24, "bigram": 1.64, "unigram": 3.3}
    zs = {"small": 0.5, "medium": 0.52, "large": 0.98, "bigram": 0.5}
    m = {v: {"lm_loss": loss[v], **({"zero_shot_accuracy": zs[v]} if v in zs else {})}
         for v in loss}
    rows = {c.id: verdict(c, "mini-gpt2", m) for c in gpt.CLAIMS}
    assert rows["loss-falls-with-size"]["margins"] == pytest.approx(
        {"small": 0.05, "medium": 0.01, "bigram": 0.27})
    assert rows["zero-shot-with-size"]["verdict"] == REPRODUCED
    m["medium"]["lm_loss"] = 1.23  # not monotone
    assert verdict(next(c for c in gpt.CLAIMS if c.id == "loss-falls-with-size"), "mini-gpt2",
                   m)["verdict"] == NOT_REPRODUCED
    acc = {0: 0.25, 1: 0.33, 2: 0.43, 4: 0.6, 8: 0.95}
    icl = {"main": {f"icl_accuracy_{k}": a for k, a in acc.items()} | {
        "icl_shuffled_accuracy_8": 0.4},
        "chance": {"icl_accuracy_8": 0.25}, gpt.FREQUENT: {"icl_accuracy_8": 0.45},
        "lookup reader": {"icl_accuracy_8": 1.0}}
    claim = next(c for c in gpt.CLAIMS if c.id == "icl-rises-with-shots")
    row = verdict(claim, "mini-gpt3", icl)
    assert row["verdict"] == REPRODUCED and row["margins"]["fewer shots"] == pytest.approx(0.08)
    icl["main"]["icl_shuffled_accuracy_8"] = 0.8  # the pairing unused
    assert verdict(claim, "mini-gpt3", icl)["verdict"] == NOT_REPRODUCED
