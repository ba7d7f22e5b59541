"""Sequence to sequence learning (and Bahdanau et al.'s control, BLEU): the reversal of the
source, the generated task, the paper's parameter count, BLEU against sacrebleu, the claims."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import seq2seq as S
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict
from reproductions.common.config import ConfigError
from reproductions.common.recurrent import AttentionLSTM
from reproductions.common.seq2seq import greedy_decode, strip_specials
from reproductions.common.text_metrics import bleu

TINY = S.PRESETS["tiny"]


def test_reverse_tokens_reverses_the_real_tokens_and_keeps_padding_at_the_end():
    src = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]])
    assert S.reverse_tokens(src).tolist() == [[5, 4, 3, 0, 0], [10, 9, 8, 7, 6]]


def test_reversing_in_the_model_equals_feeding_the_reversed_source():
    torch.manual_seed(0)
    model = S.build_model(TINY).eval()
    plain = S.Seq2Seq(dataclasses.replace(TINY, reverse_source=False)).eval()
    plain.load_state_dict(model.state_dict())
    src, tgt = S.translation_pairs(8, TINY, seed=1)
    with torch.no_grad():
        assert torch.allclose(model(src, tgt[:, :-1]), plain(S.reverse_tokens(src), tgt[:, :-1]))


def test_the_encoding_ignores_padding():
    torch.manual_seed(0)
    model = S.build_model(TINY).eval()
    src = torch.tensor([[3, 4, 5, 6]])
    padded = torch.tensor([[3, 4, 5, 6, 0, 0, 0]])
    with torch.no_grad():
        (h1, c1), _ = model.encode(src)
        (h2, c2), _ = model.encode(padded)
    assert torch.allclose(h1, h2) and torch.allclose(c1, c2)


def test_generated_task_translates_word_for_word_and_swaps_adjective_noun_pairs():
    cfg = dataclasses.replace(TINY, n_words=10, min_len=6, max_len=6)
    src, tgt = S.translation_pairs(200, cfg, seed=3)
    src2, tgt2 = S.translation_pairs(200, cfg, seed=4)  # another split, same language
    assert (tgt[:, 0] == S.BOS).all() and (tgt[:, 7] == S.EOS).all()
    dictionary = {}
    for s, t in zip(torch.cat([src, src2]).tolist(), torch.cat([tgt, tgt2]).tolist(), strict=True):
        words, out, i = [w - S.FIRST_WORD for w in s], [], 0
        while i < len(words):  # adjectives are the first n_words / 2 words
            if i + 1 < len(words) and words[i] < 5 <= words[i + 1]:
                out += [s[i + 1], s[i]]
                i += 2
            else:
                out.append(s[i])
                i += 1
        for a, b in zip(out, strip_specials(t), strict=True):
            assert dictionary.setdefault(a, b) == b  # one translation per word, in both splits
    assert len(set(dictionary.values())) == len(dictionary) == 10  # one-to-one


def test_paper_preset_has_the_papers_384m_parameters():
    with torch.device("meta"):
        model = S.build_model(S.PRESETS["paper"])
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model.src_embed) + count(model.tgt_embed) == 240_000_000  # 160k + 80k words x 1000
    assert count(model.encoder) == count(model.decoder) == 32_032_000  # "32M" each, Sec. 3.4
    assert count(model.out) == 80_080_000
    assert count(model) == 384_144_000


def test_bleu_equals_sacrebleu_on_a_noisy_generated_corpus():
    _, tgt = S.translation_pairs(300, S.PRESETS["mini"], seed=5)
    refs = [strip_specials(r) for r in tgt.tolist()]
    hyps = S.noisy_corpus(refs, 20, seed=0)
    assert hyps != refs and 10 < bleu(hyps, refs) < 95
    assert bleu(hyps, refs) == pytest.approx(S.sacrebleu_score(hyps, refs), abs=1e-9)
    short = [h[: max(1, len(h) // 2)] for h in refs]  # the brevity penalty
    assert bleu(short, refs) == pytest.approx(S.sacrebleu_score(short, refs), abs=1e-9)


def test_greedy_decoding_drives_both_architectures():
    cfg = dataclasses.replace(S.PRESETS["tiny"], attention=True, embed_dim=16, hidden=16)
    src, _ = S.translation_pairs(4, cfg, seed=2)
    for model in (S.build_model(TINY), S.build_model(cfg)):
        out = greedy_decode(model.eval(), src, 7)
        assert len(out) == 4 and all(len(o) <= 7 for o in out)
    assert isinstance(S.build_model(cfg), AttentionLSTM)


def test_attention_needs_one_vocabulary_and_generated_data_only():
    with pytest.raises(ConfigError):
        S.build_model(dataclasses.replace(TINY, attention=True, tgt_vocab=20))
    with pytest.raises(ConfigError):
        S.build_data(dataclasses.replace(TINY, data_root="/tmp"))


def test_variants_are_the_reversal_and_attention_controls():
    assert S.variants(S.PRESETS["mini"]).keys() == {"reversed", "in-order"}
    assert not S.variants(S.PRESETS["mini"])["in-order"].reverse_source
    v = S.variants(S.PRESETS["mini-bahdanau"])
    assert v.keys() == {"no-attention", "attention"} and v["attention"].attention


def test_bleu_by_length_buckets_and_claims_read_them():
    cfg = dataclasses.replace(TINY, length_buckets=(4, 6), n_eval=16)
    model = S.build_model(cfg).eval()
    out = S.evaluate(model, S.build_data(cfg)[1], cfg)
    assert {"bleu", "perplexity", "exact_match", "bleu_len_4", "bleu_len_6"} <= set(out)
    assert out["bleu_vs_sacrebleu"] < 1e-9
    claim = next(c for c in S.CLAIMS if c.id == "reversing-helps")
    row = {"exact_match": 0.0, "perplexity": 2.0}
    good = {"reversed": {**row, "bleu": 60.0}, "in-order": {**row, "bleu": 5.0}}
    assert verdict(claim, "mini", good)["verdict"] == REPRODUCED
    bad = {"reversed": {**row, "bleu": 30.0}, "in-order": {**row, "bleu": 25.0}}
    assert verdict(claim, "mini", bad)["verdict"] == NOT_REPRODUCED
