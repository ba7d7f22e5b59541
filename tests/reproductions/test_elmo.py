"""ELMo: the paper-scale biLM's size (Sec. 3.4 against AllenNLP's count), Eq. 1's scalar mix,
the directions of the biLM (Sec. 3.1), the context-insensitive token layer, the generated
homonym corpus and the sense-centroid classifier of Sec. 5.3."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import elmo as E


def small(**kw) -> E.BiLM:
    torch.manual_seed(0)
    return E.BiLM(dataclasses.replace(E.PRESETS["tiny"], **kw))


def test_paper_bilm_has_allennlp_parameter_count_plus_torch_second_lstm_bias():
    cfg = E.PRESETS["paper"]
    assert sum(n for _, n in cfg.filters) == 2048  # Sec. 3.4: 2048 character n-gram filters
    with torch.device("meta"):
        model = E.build_model(cfg)
    total = sum(p.numel() for p in model.parameters())
    lstm_bias = 2 * cfg.layers * 4 * cfg.cells  # b_hh: torch's second bias, 4 LSTMs
    assert total - lstm_bias == 93_600_864  # AllenNLP's ELMo "Original": 93.6M
    lstm = model.forward_lstms[0]
    assert (lstm.hidden_size, lstm.proj_size, lstm.input_size) == (4096, 512, 512)


def test_scalar_mix_is_eq_1():
    mix = E.ScalarMix(3)
    with torch.no_grad():
        mix.s.copy_(torch.tensor([0.5, -1.0, 2.0]))
        mix.gamma.fill_(1.7)
    h = torch.randn(3, 4, 6)  # (L+1, N, D)
    w = torch.exp(mix.s) / torch.exp(mix.s).sum()
    expected = 1.7 * (w[0] * h[0] + w[1] * h[1] + w[2] * h[2])
    torch.testing.assert_close(mix(h), expected)


def test_forward_half_reads_only_the_past_and_backward_half_only_the_future():
    model = small()
    cfg = E.PRESETS["tiny"]
    ids, chars, _, _ = E.corpus(cfg, 2, 0, homonym_rate=0.0)
    emb = model.tokens(chars).detach().requires_grad_(True)  # (B, T, P)

    class Fixed(torch.nn.Module):  # feeds the token layer's output directly, to follow its gradient
        def forward(self, _):
            return emb

    model.tokens = Fixed()
    h = model(chars)  # (L+1, B, T, 2P)
    P, k = h.shape[-1] // 2, 5
    (g_fwd,) = torch.autograd.grad(h[-1, :, k, :P].sum(), emb, retain_graph=True)
    assert g_fwd[:, k + 1:].abs().sum() == 0 and g_fwd[:, :k + 1].abs().sum() > 0
    (g_bwd,) = torch.autograd.grad(h[-1, :, k, P:].sum(), emb)
    assert g_bwd[:, :k].abs().sum() == 0 and g_bwd[:, k:].abs().sum() > 0


def test_token_layer_is_static_and_lstm_layers_are_contextual():
    """h_{k,0} = [x_k; x_k] depends only on the word's spelling; the layers above on context."""
    model = small().eval()
    cfg = E.PRESETS["tiny"]
    _, chars, _, pos = E.corpus(cfg, 8, 0, homonym_rate=1.0)
    with torch.no_grad():
        h = model(chars)[:, torch.arange(8), pos]  # (L+1, 8, 2P): the homonym everywhere
    torch.testing.assert_close(h[0], h[0, :1].expand_as(h[0]))
    P = h.shape[-1] // 2
    torch.testing.assert_close(h[0, :, :P], h[0, :, P:])
    assert (h[1:] - h[1:, :1]).abs().amax() > 1e-3


def test_residual_connection_adds_the_first_layer_to_the_second():
    model = small()
    x = torch.randn(2, 5, 32)
    outs = model.run(model.forward_lstms, x)
    torch.testing.assert_close(outs[1], model.forward_lstms[1](outs[0])[0] + outs[0])
    torch.testing.assert_close(outs[0], model.forward_lstms[0](x)[0])


def test_lm_loss_starts_near_uniform_and_its_gradient_reaches_every_parameter():
    model = small()
    cfg = E.PRESETS["tiny"]
    ids, chars, _, _ = E.corpus(cfg, 4, 0, homonym_rate=0.5)
    loss = E.lm_loss(model, chars, ids)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(float(len(E.WORDS)))).item(),
                                        abs=0.5)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_homonym_sits_between_function_words_in_a_sentence_of_one_topic():
    cfg = E.PRESETS["mini"]
    ids, chars, senses, pos = E.corpus(cfg, 300, 0, homonym_rate=1.0, prior=0.6)
    assert ids.shape == (300, cfg.length) and chars.shape == (300, cfg.length, cfg.max_chars)
    words = [[E.WORDS[i] for i in row] for row in ids.tolist()]
    for w, s, p in zip(words, senses.tolist(), pos.tolist(), strict=True):
        assert w[p] == E.HOMONYM and w[p - 1] in E.FUNCTION and w[p + 1] in E.FUNCTION
        assert not set(w) & set(E.TOPICS[1 - s]) and set(w) & set(E.TOPICS[s])
    assert 0.5 < (senses == 0).float().mean() < 0.7


def test_spelling_marks_word_boundaries_and_pads():
    assert E.spell("ab", 6) == [E.BOW, ord("a") + 1, ord("b") + 1, E.EOW, 0, 0]
    assert len(E.spell("river11", 8)) == 8 and E.spell("river11", 8)[-1] == E.EOW


def test_centroid_classifier_falls_back_to_the_most_frequent_sense_on_static_vectors():
    y_train, y_test = torch.tensor([0, 0, 0, 1]), torch.tensor([0, 1, 0, 0, 1])
    same = torch.ones(4, 3)
    assert E.centroid_accuracy(same, y_train, torch.ones(5, 3), y_test) == pytest.approx(0.6)
    x = torch.tensor([[1.0, 0], [1, 0.1], [0.9, 0], [0, 1]])
    test = torch.tensor([[1.0, 0], [0, 1], [1, 0.2], [1, 0], [0.1, 1]])
    assert E.centroid_accuracy(x, y_train, test, y_test) == 1.0
