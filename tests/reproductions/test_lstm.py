"""The recurrent cells against torch's (same weights, same outputs), the 1997 LSTM's parameter
count and constant error carousel, the generated tasks, the matched-size variants."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn as nn

from reproductions import lstm
from reproductions.common.claims import REPRODUCED, verdict


def net(cell: str, hidden: int = 5, **kw) -> lstm.RecurrentNet:
    torch.manual_seed(0)
    return lstm.RecurrentNet(lstm.Config(cell=cell, hidden=hidden, **kw))


def test_paper_preset_is_exp4_with_93_weights():
    cfg = lstm.PRESETS["paper"]
    assert (cfg.task, cfg.seq_len, cfg.blocks, cfg.block_size) == ("adding", 100, 2, 2)
    # 8 hidden units (4 cells, 2 input and 2 output gates) x (2 inputs + 8 hidden + bias),
    # and the output unit's 4 cell inputs + bias (Sec. 5.4)
    assert lstm.count(cfg) == 8 * (2 + 8 + 1) + 5 == 93


def test_lstm_cell_equals_torch_lstm_with_copied_weights():
    ours, ref = net("lstm"), nn.LSTM(2, 5, batch_first=True)
    with torch.no_grad():
        ours.fwd.x.weight.copy_(ref.weight_ih_l0)
        ours.fwd.h.weight.copy_(ref.weight_hh_l0)
        ours.fwd.x.bias.copy_(ref.bias_ih_l0 + ref.bias_hh_l0)
        x = torch.randn(3, 7, 2)
        torch.testing.assert_close(ours.scan(ours.fwd, x), ref(x)[0], rtol=1e-5, atol=1e-6)


def copy_gru(ours: lstm.GRUCell, ref: nn.GRU) -> None:
    H = ours.out_features
    with torch.no_grad():
        ours.x.weight.copy_(ref.weight_ih_l0)
        ours.rz.weight.copy_(ref.weight_hh_l0[:2 * H])
        ours.u.weight.copy_(ref.weight_hh_l0[2 * H:])
        bias = ref.bias_ih_l0.clone()
        bias[:2 * H] += ref.bias_hh_l0[:2 * H]  # r and z: the two biases add
        ours.x.bias.copy_(bias)
        ours.u.bias.copy_(ref.bias_hh_l0[2 * H:])  # n: b_hn lies inside r * (U h + b_hn)


def test_gru_cell_equals_torch_gru_with_copied_weights():
    ours, ref = net("gru", reset_after=True), nn.GRU(2, 5, batch_first=True)
    copy_gru(ours.fwd, ref)
    x = torch.randn(3, 7, 2)
    with torch.no_grad():
        torch.testing.assert_close(ours.scan(ours.fwd, x), ref(x)[0], rtol=1e-5, atol=1e-6)


def test_cho_gru_equals_torch_form_when_the_reset_gate_is_open():
    """Eq. 8's U (r * h) and torch's r * (U h) agree when r = 1, and differ otherwise."""
    cho, after = net("gru", reset_after=False), net("gru", reset_after=True)
    with torch.no_grad():
        after.fwd.load_state_dict({**cho.fwd.state_dict(), "u.bias": torch.zeros(5)})
        x = torch.randn(3, 7, 2)
        assert not torch.allclose(cho.scan(cho.fwd, x), after.scan(after.fwd, x), atol=1e-4)
        for m in (cho, after):
            m.fwd.x.bias[:5] = 50.0  # r = sigmoid(50) = 1
        torch.testing.assert_close(cho.scan(cho.fwd, x), after.scan(after.fwd, x))


def test_tanh_cell_equals_torch_rnn_with_copied_weights():
    ours, ref = net("tanh"), nn.RNN(2, 5, batch_first=True)
    with torch.no_grad():
        ours.fwd.x.weight.copy_(ref.weight_ih_l0)
        ours.fwd.h.weight.copy_(ref.weight_hh_l0)
        ours.fwd.x.bias.copy_(ref.bias_ih_l0 + ref.bias_hh_l0)
        x = torch.randn(3, 7, 2)
        torch.testing.assert_close(ours.scan(ours.fwd, x), ref(x)[0], rtol=1e-5, atol=1e-6)


def test_constant_error_carousel_carries_the_gradient_without_decay():
    """Without recurrent weights, ds_T/ds_t = 1 (Sec. 3.2): ||dL/ds_t|| is the same at every lag
    >= 1, where a tanh RNN's ||dL/dh_t|| shrinks with the lag (Sec. 3.1)."""
    cfg = dataclasses.replace(lstm.PRESETS["mini"], seq_len=30)
    model = lstm.RecurrentNet(cfg)
    with torch.no_grad():
        model.fwd.h.weight.zero_()
    x, y = lstm.adding(8, 30, torch.Generator().manual_seed(0))
    norms = lstm.gradient_by_lag(model, x, y)
    assert len(norms) == 30
    torch.testing.assert_close(torch.tensor(norms[1:]), torch.full((29,), norms[1]),
                               rtol=1e-9, atol=0, check_dtype=False)
    tanh = lstm.gradient_by_lag(net("tanh", 16), x, y)
    assert tanh[20] < 1e-3 * tanh[1]


def test_log_fit_recovers_an_exponential_decay():
    slope, r2 = lstm.log_fit([10.0 ** (-0.1 * k) for k in range(50)])
    assert slope == pytest.approx(-0.1) and r2 == pytest.approx(1.0)


def test_adding_problem_marks_two_values_and_targets_their_scaled_sum():
    x, y = lstm.adding(500, 100, torch.Generator().manual_seed(0))  # (n, T, 2), (n,)
    marked = x[..., 1] == 1.0
    assert (marked.sum(1) == 2).all()
    pos = marked.float().argmax(1)
    assert (pos < 10).all() and (marked[:, 49:].sum(1) == 0).all()  # Sec. 5.4's placement
    torch.testing.assert_close(y, 0.5 + (x[..., 0] * marked).sum(1) / 4)
    assert x[..., 0].abs().max() <= 1


def test_future_task_needs_the_next_input():
    x, y = lstm.future(20, 9, 4, torch.Generator().manual_seed(0))  # (n, T, K), (n, T)
    s = x.argmax(-1)
    torch.testing.assert_close(y[:, 1:-1], s[:, :-2] + s[:, 2:])


@pytest.mark.parametrize("preset", ["mini", "mini-gru", "mini-birnn", "tiny"])
def test_compared_variants_have_equal_parameter_counts_within_10_percent(preset):
    counts = {v: lstm.count(c) for v, c in lstm.variants(lstm.PRESETS[preset]).items()}
    assert len(counts) >= 2
    assert max(counts.values()) <= 1.1 * min(counts.values()), counts


def test_bidirectional_net_reads_both_directions():
    cfg = lstm.Config(task="future", cell="tanh", hidden=4, bidirectional=True, seq_len=6)
    model = lstm.RecurrentNet(cfg)
    x = torch.randn(2, 6, 4, requires_grad=True)
    model(x)[:, 2].sum().backward()  # the output at t = 2
    assert x.grad[:, 3:].abs().sum() > 0  # depends on later inputs
    one = lstm.RecurrentNet(dataclasses.replace(cfg, bidirectional=False))
    x.grad = None
    one(x)[:, 2].sum().backward()
    assert x.grad[:, 3:].abs().sum() == 0


def test_pascanu_variants_differ_only_in_clipping():
    v = lstm.variants(lstm.PRESETS["mini-pascanu"])
    assert v["clipped"].grad_clip and v["unclipped"].grad_clip is None
    assert dataclasses.replace(v["clipped"], grad_clip=None) == v["unclipped"]


def test_long_lag_claim_reads_the_fraction_of_error_removed():
    claim = next(c for c in lstm.CLAIMS if c.id == "long-lag")
    m = {"lstm1997": {"test_mse": 0.002}, "tanh": {"test_mse": 0.04},
         "mean predictor": {"test_mse": 0.04}}
    row = verdict(claim, "mini", m)
    assert row["verdict"] == REPRODUCED
    assert row["margins"]["tanh"] == pytest.approx(1 - 0.002 / 0.04 - 0.8)


def test_gate_bias_sets_the_gru_update_gate_so_the_gradient_reaches_back():
    """mini-gru's gate_bias is z's bias (Cho et al. Eq. 6-7: h = z h + (1 - z) h~): with z near
    1 the output at T = 40 still depends on the input at t = 0, where at z ~ 0.5 it is lost."""
    def reach(bias: float) -> float:
        torch.manual_seed(0)
        model = lstm.RecurrentNet(lstm.Config(cell="gru", hidden=5, gate_bias=bias))
        if bias:
            assert (model.fwd.x.bias[5:10] == bias).all() and (model.fwd.x.bias[10:].abs() <= 0.1).all()
        x = torch.zeros(1, 40, 2, requires_grad=True)
        model.scan(model.fwd, x)[0, -1].sum().backward()
        return float(x.grad[0, 0].norm())

    assert reach(2.0) > 1e4 * reach(0.0)
    assert lstm.PRESETS["mini-gru"].gate_bias > 0
