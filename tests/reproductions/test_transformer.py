"""The Transformer reproduction: BLEU, masks, attention, decoding, parameter counts, the
recurrent control, the trivial baselines, claims."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import sacrebleu
import torch
from torch import nn

from reproductions import transformer as T
from reproductions.common.claims import NOT_APPLICABLE, REPRODUCED, verdict
from reproductions.common.config import ConfigError
from reproductions.common.recurrent import AttentionLSTM
from reproductions.common.runner import run
from reproductions.common.seq2seq import greedy_decode, strip_specials
from reproductions.common.text_metrics import bleu, lecture_bleu
from reproductions.common.trainer import train

SMALL = dataclasses.replace(T.PRESETS["tiny"], vocab_size=9, d_model=32, n_layers=2, n_heads=4,
                            d_ff=64, dropout=0.0)


# --- BLEU ----------------------------------------------------------------------------------
CORPUS = [  # (hypothesis, reference), whitespace tokens
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the the the cat on a mat today", "a cat was sitting on the mat today"),
    ("there is a cat on the mat", "the cat is on the mat"),
    ("reverse these tokens please", "please reverse these tokens now"),
    ("a b c d e f", "a b c d e f g h"),
]


@pytest.mark.parametrize("rows", [CORPUS, CORPUS[1:], CORPUS[:3], CORPUS[3:]])
def test_bleu_equals_sacrebleu_on_fixed_sentences(rows):
    hyps, refs = [h for h, _ in rows], [r for _, r in rows]
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="none", smooth_method="none").score
    ours = bleu([h.split() for h in hyps], [r.split() for r in refs])
    assert expected > 0
    assert ours == pytest.approx(expected, abs=1e-9)


def test_bleu_is_100_for_a_perfect_corpus_and_0_without_any_4gram_match():
    refs = [[3, 4, 5, 6, 7], [8, 9, 3, 4]]
    assert bleu(refs, refs) == pytest.approx(100.0)
    assert bleu([[3, 4, 5, 7, 6], [8, 9, 4, 3]], refs) == 0.0
    assert bleu([[], []], refs) == 0.0


def test_bleu_brevity_penalty_follows_the_lecture_formula():
    ref = list(range(10))
    short = ref[:8]  # every n-gram matches: BLEU = BP = exp(1 - 10/8)
    assert bleu([short], [ref]) == pytest.approx(100 * math.exp(1 - 10 / 8))
    assert bleu([ref + [99]], [ref]) < 100  # too long: precision, not brevity, pays


def test_lecture_bleu_reproduces_the_lecture_notes_example():
    # Target A B C D E F, prediction A B B C D: p1 = 4/5, p2 = 3/4, p3 = 1/3, p4 = 0
    label, pred = list("ABCDEF"), list("ABBCD")
    bp = math.exp(min(0, 1 - 6 / 5))
    assert lecture_bleu(pred, label, k=2) == pytest.approx(bp * (4 / 5) ** 0.5 * (3 / 4) ** 0.25)
    assert lecture_bleu(pred, label, k=3) == pytest.approx(
        bp * (4 / 5) ** 0.5 * (3 / 4) ** 0.25 * (1 / 3) ** 0.125)
    assert lecture_bleu(pred, label, k=4) == 0.0
    assert lecture_bleu(label, label, k=4) == 1.0


# --- building blocks -----------------------------------------------------------------------
def test_sinusoidal_encoding_is_the_formula_of_section_3_5():
    pe = T.sinusoidal_encoding(50, 16)
    for pos, i in [(0, 0), (7, 0), (7, 3), (49, 7)]:
        angle = pos / 10000 ** (2 * i / 16)
        assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
        assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_warmup_schedule_rises_linearly_then_decays_as_inverse_square_root():
    cfg = dataclasses.replace(SMALL, warmup_steps=10, lr=2.0)
    model = T.build_model(cfg)
    opt, sched = T.build_optimizer(model, cfg)
    lrs = []
    for _ in range(40):
        lrs.append(opt.param_groups[0]["lr"])  # the rate used by step len(lrs)
        opt.step()
        sched.step()
    expected = [2.0 * 32**-0.5 * min(s**-0.5, s * 10**-1.5) for s in range(1, 41)]
    assert lrs == pytest.approx(expected)
    assert max(lrs) == lrs[9]  # the peak is at step = warmup_steps
    assert opt.defaults["betas"] == (0.9, 0.98) and opt.defaults["eps"] == 1e-9


def _lecture_masked_softmax(scores, valid_lens):
    """Dive into Deep Learning's masked_softmax, as in the lecture notes (the reference)."""
    shape = scores.shape
    x = scores.reshape(-1, shape[-1]).clone()
    lens = torch.repeat_interleave(valid_lens, shape[1] * shape[2])
    x[torch.arange(shape[-1])[None, :] >= lens[:, None]] = -1e6
    return torch.softmax(x.reshape(shape), dim=-1)


def test_masked_attention_equals_the_lecture_notes_masked_softmax():
    torch.manual_seed(0)
    attn = T.MultiHeadAttention(16, 4)
    x = torch.randn(2, 5, 16)
    src = torch.tensor([[3, 4, 5, 6, 7], [3, 4, 5, T.PAD, T.PAD]])
    got = attn(x, mask=T.padding_mask(src))
    q, k, v = (t.view(2, 5, 4, 4).transpose(1, 2) for t in attn.in_proj(x).chunk(3, -1))
    weights = _lecture_masked_softmax(q @ k.transpose(-1, -2) / math.sqrt(4), torch.tensor([5, 3]))
    expected = attn.out_proj((weights @ v).transpose(1, 2).reshape(2, 5, 16))
    torch.testing.assert_close(got, expected)


def test_decoder_never_looks_at_future_target_tokens():
    torch.manual_seed(0)
    model = T.build_model(SMALL).eval()
    src = torch.tensor([[3, 4, 5, 6]])
    tgt = torch.tensor([[T.BOS, 6, 5, 4, 3]])
    changed = tgt.clone()
    changed[0, 3:] = torch.tensor([7, 8])
    a, b = model(src, tgt), model(src, changed)
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_source_padding_changes_nothing():
    torch.manual_seed(0)
    model = T.build_model(SMALL).eval()
    tgt = torch.tensor([[T.BOS, 5, 4, 3]])
    plain = model(torch.tensor([[3, 4, 5]]), tgt)
    padded = model(torch.tensor([[3, 4, 5, T.PAD, T.PAD, T.PAD]]), tgt)
    torch.testing.assert_close(plain, padded)


def test_without_positional_encoding_the_source_is_a_bag_of_tokens():
    torch.manual_seed(0)
    tgt = torch.tensor([[T.BOS, 5, 4, 3]])
    src, shuffled = torch.tensor([[3, 4, 5, 6]]), torch.tensor([[6, 3, 5, 4]])
    no_pe = T.build_model(dataclasses.replace(SMALL, positional_encoding=False)).eval()
    torch.testing.assert_close(no_pe(src, tgt), no_pe(shuffled, tgt))
    with_pe = T.build_model(SMALL).eval()
    assert not torch.allclose(with_pe(src, tgt), with_pe(shuffled, tgt))


def test_source_target_and_output_share_one_embedding_matrix():
    model = T.build_model(SMALL)
    embeddings = [m for m in model.modules() if isinstance(m, nn.Embedding)]
    assert len(embeddings) == 1
    model.embed.weight.data.zero_()  # the pre-softmax weights are that same matrix
    model.out_bias.data.copy_(torch.arange(SMALL.vocab_size, dtype=torch.float))
    logits = model(torch.tensor([[3, 4]]), torch.tensor([[T.BOS]]))
    torch.testing.assert_close(logits[0, 0], torch.arange(SMALL.vocab_size, dtype=torch.float))


# --- torch.nn.Transformer --------------------------------------------------------------------
def _from_torch(state: dict) -> dict:
    """torch.nn.Transformer's names -> ours (same tensors, same layout)."""
    out = {}
    for key, value in state.items():
        key = (key.replace("encoder.layers.", "encoder.").replace("decoder.layers.", "decoder.")
               .replace("encoder.norm.", "encoder_norm.").replace("decoder.norm.", "decoder_norm.")
               .replace("multihead_attn.", "cross_attn.").replace("in_proj_", "in_proj.")
               .replace("linear1.", "ff.linear1.").replace("linear2.", "ff.linear2."))
        out[key] = value
    return out


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # torch's, for norm_first
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_decoder_stacks_compute_what_torch_nn_transformer_computes(norm_first):
    torch.manual_seed(0)
    cfg = dataclasses.replace(SMALL, norm_first=norm_first)
    ref = nn.Transformer(cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.n_layers, cfg.d_ff,
                         dropout=0.0, batch_first=True, norm_first=norm_first).eval()
    ours = T.build_model(cfg).eval()
    missing, unexpected = ours.load_state_dict(_from_torch(ref.state_dict()), strict=False)
    assert set(missing) == {"embed.weight", "out_bias"} and not unexpected
    src = torch.tensor([[3, 4, 5, 6, 7], [3, 4, 5, T.PAD, T.PAD]])
    x, y = torch.randn(2, 5, cfg.d_model), torch.randn(2, 4, cfg.d_model)
    expected = ref(x, y, tgt_mask=nn.Transformer.generate_square_subsequent_mask(4),
                   src_key_padding_mask=src == T.PAD, memory_key_padding_mask=src == T.PAD)
    mask = T.padding_mask(src)
    for layer in ours.encoder:
        x = layer(x, mask)
    memory = ours.encoder_norm(x)
    for layer in ours.decoder:
        y = layer(y, memory, mask)
    torch.testing.assert_close(ours.decoder_norm(y), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("preset", "tied", "layers_only"),
                         [("paper", 63_121_544, 44_140_544), ("big", 214_286_472, 176_361_472)])
def test_parameter_counts_match_the_reference_and_torch_nn_transformer(preset, tied, layers_only):
    cfg = T.PRESETS[preset]
    with torch.device("meta"):
        model = T.build_model(cfg)
        ref = nn.Transformer(cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.n_layers, cfg.d_ff,
                             batch_first=True)
    count = lambda params: sum(p.numel() for p in params)  # noqa: E731
    assert count(model.parameters()) == tied
    stacks = [p for n, p in model.named_parameters() if n not in ("embed.weight", "out_bias")]
    assert count(stacks) == layers_only == count(ref.parameters())
    assert tied - layers_only == cfg.vocab_size * (cfg.d_model + 1) and cfg.vocab_size == 37_000


# --- decoding ------------------------------------------------------------------------------
def _score(model, src, hyp, alpha, finished=True):
    """log P(hyp [, EOS] | src) / lp, by teacher forcing."""
    tgt = torch.tensor([[T.BOS, *hyp, *([T.EOS] if finished else [])]])
    logp = model(src, tgt[:, :-1]).log_softmax(-1)[0]
    total = logp.gather(1, tgt[0, 1:, None]).sum().item()
    return total / T.length_penalty(torch.tensor(tgt.size(1) - 1.0), alpha).item()


def test_beam_search_with_a_wide_beam_finds_the_exact_best_hypothesis():
    torch.manual_seed(0)
    cfg = dataclasses.replace(SMALL, vocab_size=5)  # tokens 3, 4: enumerable
    model = T.build_model(cfg).eval()
    src = torch.tensor([[3, 4, 4]])
    # within max_new=4 tokens: up to 3 tokens + EOS, or 4 tokens still open; <= 31 prefixes
    # are alive at any step, so a beam of 64 keeps them all and must find the best one
    finished = [list(c) for n in range(4) for c in itertools.product([3, 4], repeat=n)]
    still_open = [list(c) for c in itertools.product([3, 4], repeat=4)]
    with torch.no_grad():
        scored = [(_score(model, src, h, 0.6), h) for h in finished]
        scored += [(_score(model, src, h, 0.6, finished=False), h) for h in still_open]
        found = T.beam_search(model, src, max_new=4, beam=64, alpha=0.6)[0]
    assert found == max(scored)[1]


def test_beam_of_one_without_length_penalty_is_greedy():
    torch.manual_seed(1)
    model = T.build_model(SMALL).eval()
    src = torch.randint(3, SMALL.vocab_size, (6, 5))
    assert T.beam_search(model, src, 8, beam=1, alpha=0.0) == greedy_decode(model, src, 8)


@pytest.fixture(scope="module")
def trained():
    """A small model trained on the reversal task for ~2 s."""
    cfg = dataclasses.replace(SMALL, n_layers=1, min_len=2, max_len=4, n_train=2000, n_eval=100,
                              warmup_steps=50, steps=400, batch_size=32)
    data = T.build_data(cfg)
    return train(T, cfg, data=data, device=torch.device("cpu")).eval(), data[1], cfg


def test_trained_model_reverses_held_out_sequences_with_beam_and_greedy_search(trained):
    model, (src, tgt), cfg = trained
    refs = [strip_specials(r) for r in tgt.tolist()]
    beam = T.beam_search(model, src, cfg.max_len + 1, beam=4, alpha=0.6)
    greedy = greedy_decode(model, src, cfg.max_len + 1)
    for hyps in (beam, greedy):
        assert bleu(hyps, refs) > 80
    assert sum(h == r for h, r in zip(beam, refs)) >= sum(h == r for h, r in zip(greedy, refs)) - 3
    metrics = T.evaluate(model, (src, tgt), cfg)
    assert metrics["bleu"] == pytest.approx(bleu(beam, refs))


def test_beam_search_never_scores_below_greedy_on_the_trained_model(trained):
    model, (src, _), cfg = trained
    beam = T.beam_search(model, src[:30], cfg.max_len + 1, beam=4, alpha=0.6)
    greedy = greedy_decode(model, src[:30], cfg.max_len + 1)
    with torch.no_grad():
        worse = [i for i in range(30) if _score(model, src[i : i + 1], beam[i], 0.6)
                 < _score(model, src[i : i + 1], greedy[i], 0.6) - 1e-4]
    assert not worse


# --- data and claims -----------------------------------------------------------------------
def test_reversal_pairs_are_bos_reversed_source_eos():
    src, tgt = T.reversal_pairs(50, T.PRESETS["mini"], seed=3)
    for s, t in zip(src.tolist(), tgt.tolist()):
        tokens = [x for x in s if x != T.PAD]
        assert 5 <= len(tokens) <= 12 and all(3 <= x < 23 for x in tokens)
        assert t[: len(tokens) + 2] == [T.BOS, *tokens[::-1], T.EOS]
        assert set(t[len(tokens) + 2 :]) <= {T.PAD}


def test_a_missing_data_root_is_a_one_line_config_error(tmp_path):
    """Real parallel text is read from data_root (tests/reproductions/test_transformer_real_data.py)."""
    with pytest.raises(ConfigError, match="is not a folder") as err:
        T.build_data(dataclasses.replace(SMALL, data_root=str(tmp_path / "wmt14")))
    assert "\n" not in str(err.value) and str(tmp_path / "wmt14") in str(err.value)


# --- the recurrent control -----------------------------------------------------------------
LSTM = dataclasses.replace(SMALL, architecture="lstm", lstm_hidden=32)


def test_the_control_is_an_attention_lstm_of_about_the_transformers_size():
    cfg = T.PRESETS["mini"]
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    control = T.build_model(dataclasses.replace(cfg, architecture="lstm"))
    assert isinstance(control, AttentionLSTM)
    assert count(control) == pytest.approx(count(T.build_model(cfg)), rel=0.05)
    assert set(T.variants(cfg)) == {"main", "no-pe", "attention-lstm"}
    assert T.variants(cfg)["attention-lstm"].steps == cfg.steps  # the same budget


def test_an_unknown_architecture_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="'transformer' or 'lstm'") as err:
        T.build_model(dataclasses.replace(SMALL, architecture="gru"))
    assert "\n" not in str(err.value)


def test_lstm_source_padding_changes_nothing():
    torch.manual_seed(0)
    model = T.build_model(LSTM).eval()
    tgt = torch.tensor([[T.BOS, 5, 4, 3], [T.BOS, 7, 6, 5]])
    plain = model(torch.tensor([[3, 4, 5], [5, 6, 7]]), tgt)
    padded = model(torch.tensor([[3, 4, 5, T.PAD, T.PAD], [5, 6, 7, T.PAD, T.PAD]]), tgt)
    torch.testing.assert_close(plain, padded)


def test_lstm_decoder_never_looks_at_future_target_tokens():
    torch.manual_seed(0)
    model = T.build_model(LSTM).eval()
    src, tgt = torch.tensor([[3, 4, 5, 6]]), torch.tensor([[T.BOS, 6, 5, 4, 3]])
    changed = tgt.clone()
    changed[0, 3:] = torch.tensor([7, 8])
    a, b = model(src, tgt), model(src, changed)
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_lstm_attention_reads_the_encoder_state_of_a_one_token_source():
    """With one source position the softmax is 1 there: the context is that encoder state, so
    the first output is tanh(W_c [m_1 ; h_1]) projected on the tied embedding."""
    torch.manual_seed(0)
    model = T.build_model(LSTM).eval()
    src, tgt = torch.tensor([[5]]), torch.tensor([[T.BOS]])
    memory, mask = model.encode(src)
    h = torch.cat([model.embed(tgt[:, 0]), torch.zeros(1, 32)], -1)  # [E y_0 ; h~_0 = 0]
    for cell in model.cells:
        h, _ = cell(h)
    expected = torch.tanh(model.combine(torch.cat([memory[:, 0], h], -1))) @ model.embed.weight.T
    torch.testing.assert_close(model.decode(tgt, memory, mask)[:, 0], expected + model.out_bias)


def test_beam_search_decodes_the_lstm_and_beam_one_is_greedy():
    torch.manual_seed(1)
    model = T.build_model(LSTM).eval()
    src = torch.randint(3, LSTM.vocab_size, (6, 5))
    assert T.beam_search(model, src, 8, beam=1, alpha=0.0) == greedy_decode(model, src, 8)


@pytest.mark.parametrize("cfg", [SMALL, LSTM], ids=["transformer", "lstm"])
def test_timing_a_training_step_leaves_the_evaluated_model_unchanged(cfg):
    torch.manual_seed(0)
    model = T.build_model(cfg).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    src, tgt = T.reversal_pairs(16, cfg, seed=0)
    seconds = T.seconds_per_step(model, (src, tgt), cfg, repeats=2)
    assert 0 < seconds < 10
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])


# --- baselines and claims ------------------------------------------------------------------
def test_trivial_baselines_are_scored_on_the_held_out_split():
    cfg = T.PRESETS["mini"]
    found = T.baselines(cfg)
    src, tgt = T.build_data(cfg)[1]
    refs = [strip_specials(r) for r in tgt.tolist()]
    sources = [[t for t in row if t != T.PAD] for row in src.tolist()]
    assert found["copy source"]["bleu"] == pytest.approx(bleu(sources, refs))
    assert 0 < found["copy source"]["bleu"] < 20  # a reversal is not a copy
    assert found["majority token"]["bleu"] == 0.0  # no 4-gram of one repeated token matches
    one_symbol = dataclasses.replace(SMALL, vocab_size=4)  # every sequence is 3 3 3 ...
    assert all(b["bleu"] == pytest.approx(100.0) for b in T.baselines(one_symbol).values())


GOOD = {"main": {"bleu": 95.0, "exact_match": 0.85, "parameters": 169_175, "s_per_step": 0.03},
        "no-pe": {"bleu": 8.0, "exact_match": 0.0},
        "attention-lstm": {"bleu": 100.0, "exact_match": 1.0, "parameters": 165_603,
                           "s_per_step": 0.05},
        "copy source": {"bleu": 8.5}, "majority token": {"bleu": 0.0}}
CLAIMS = {c.id: c for c in T.CLAIMS}


def _margins(cid, **changes):
    m = {k: {**v, **changes.get(k.replace(" ", "_").replace("-", "_"), {})} for k, v in GOOD.items()}
    return CLAIMS[cid].margins(m)


def test_claims_compare_the_transformer_with_baselines_and_controls():
    assert _margins("learns-to-translate") == pytest.approx(
        {"copy source": 95 - 8.5 - 50, "majority token": 95 - 0 - 50})
    assert _margins("learns-to-translate", copy_source={"bleu": 50.0})["copy source"] < 0
    assert _margins("positional-encoding-needed") == pytest.approx({"no-pe": 95 - 8 - 50})
    assert _margins("positional-encoding-needed", no_pe={"bleu": 60.0})["no-pe"] < 0
    assert _margins("attention-beats-recurrence") == pytest.approx({"attention-lstm": 95 - 100 - 1})
    assert _margins("attention-beats-recurrence", attention_lstm={"bleu": 90.0})["attention-lstm"] > 0
    assert _margins("faster-per-step") == pytest.approx({"attention-lstm": 0.05 / 0.03 - 1.25})
    assert _margins("faster-per-step", attention_lstm={"s_per_step": 0.03})["attention-lstm"] < 0


def test_only_the_recurrence_claim_is_expected_to_fail_in_miniature():
    assert [c.id for c in T.CLAIMS if c.margins and not c.expected] == ["attention-beats-recurrence"]
    row = verdict(CLAIMS["attention-beats-recurrence"], "mini", GOOD)
    assert row["verdict"] == "not reproduced in miniature" and row["compared_with"] == ["attention-lstm"]


def test_paper_scale_claims_say_what_they_need_and_are_not_evaluated():
    for cid in ("wmt-en-de", "wmt-en-fr", "parameters"):
        assert CLAIMS[cid].margins is None and CLAIMS[cid].needs
        assert verdict(CLAIMS[cid], "mini", GOOD)["verdict"] == NOT_APPLICABLE
    assert "data_root" in CLAIMS["wmt-en-de"].needs


@pytest.mark.slow
def test_mini_claims_hold_for_at_least_4_of_5_seeds(tmp_path):
    """The issue's bar: each claim expected to hold holds for >= 4 of 5 seeds (figures in
    BENCHMARKS.md)."""
    held: dict[str, int] = {}
    for seed in range(5):
        cfg = dataclasses.replace(T.PRESETS["mini"], seed=seed)
        result = run(T, cfg, "mini", tmp_path / f"seed{seed}", name="transformer")
        for row in result["claims"]:
            if row["expected"] and row["measured"]:
                held[row["id"]] = held.get(row["id"], 0) + (row["verdict"] == REPRODUCED)
    assert held and all(n >= 4 for n in held.values()), held
