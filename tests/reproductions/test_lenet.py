"""LeNet-5 (1998) and the 1989 zip code net: the papers' parameter and connection counts, Table
I's partial connections, the RBF outputs and Eq. 9, the unconstrained control (the same net
without weight sharing), and what each miniature claim compares."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import lenet
from reproductions.common.claims import NOT_APPLICABLE, NOT_REPRODUCED, REPRODUCED, verdict
from reproductions.common.config import ConfigError

CLAIMS = {c.id: c for c in lenet.CLAIMS}


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_lenet5_has_the_papers_parameters_per_layer_and_340908_connections():
    cfg = lenet.PRESETS["paper"]
    model = lenet.build_model(cfg)
    per_layer = {n: n_params(m) for n, m in model.named_children()}
    # Sec. II-B: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164; the RBF codes are fixed
    assert per_layer == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164,
                         "rbf": 0}
    assert n_params(model) == 60_000
    assert lenet.connections(model, cfg) == 340_908  # Sec. II-B


def test_the_1989_net_has_9760_free_parameters_and_64660_connections_and_its_control_64660():
    cfg = lenet.PRESETS["paper-1989"]
    shared = lenet.build_model(cfg)
    local = lenet.build_model(dataclasses.replace(cfg, arch="zipcode-local"))
    per_layer = {n: n_params(m) for n, m in shared.named_children()}
    assert per_layer == {"h1": 1068, "h2": 2592, "h3": 5790, "out": 310}  # 12*25 + 768 biases, ...
    assert n_params(shared) == 9_760
    assert lenet.connections(shared, cfg) == lenet.connections(local, cfg) == 64_660
    assert n_params(local) == 64_660  # every connection its own parameter


def test_c3_follows_table_i():
    table = lenet.table_i()
    assert [len(t) for t in table] == [3] * 6 + [4] * 9 + [6]
    assert table[:6] == [sorted({i % 6, (i + 1) % 6, (i + 2) % 6}) for i in range(6)]
    assert table[6:12] == [sorted({(i + d) % 6 for d in range(4)}) for i in range(6)]
    assert table[12:15] == [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5]]
    kernel = lenet.LeNet5(lenet.PRESETS["paper"]).c3.kernel()  # (16, 6, 5, 5)
    connected = kernel.abs().sum((2, 3)) > 0
    assert connected.T.tolist() == [[c == "X" for c in row] for row in lenet.TABLE_I]


def test_unconstrained_net_with_tied_weights_computes_the_constrained_net():
    """The control differs only by the constraint: give every position the shared kernel and
    the two nets agree."""
    cfg = lenet.PRESETS["mini-1989"]
    shared = lenet.ZipCodeNet(cfg, shared=True).eval()
    local = lenet.ZipCodeNet(cfg, shared=False).eval()
    state = shared.state_dict()
    for layer in ("h1", "h2"):
        positions = local.state_dict()[f"{layer}.weight"].shape[1]
        state[f"{layer}.weight"] = state[f"{layer}.weight"][:, None].expand(-1, positions, -1, -1)
    local.load_state_dict(state)
    x = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(local(x), shared(x), rtol=1e-5, atol=1e-6)


def test_rbf_outputs_are_squared_distances_to_fixed_codes_and_eq9_penalises_them():
    model = lenet.LeNet5(lenet.PRESETS["paper"])
    codes = model.rbf.codes
    assert codes.shape == (10, 84) and set(codes.unique().tolist()) == {-1.0, 1.0}
    assert not codes.requires_grad and "rbf.codes" in model.state_dict()
    assert torch.equal(codes, lenet.LeNet5(lenet.PRESETS["paper"]).rbf.codes)  # same every run
    x = torch.zeros(1, 84)
    assert torch.equal(model.rbf(x), torch.full((1, 10), 84.0))
    # Eq. 9 on the penalties: y_D + log(e^-j + sum_i e^-y_i)
    out, y, j = -torch.tensor([[1.0, 3.0, 2.0]]), torch.tensor([2]), model.rbf.j
    expected = 2.0 + torch.log(torch.exp(torch.tensor(-j)) + torch.exp(-torch.tensor([1.0, 3.0, 2.0])).sum())
    torch.testing.assert_close(model.rbf.loss(out, y), expected)


def test_inputs_are_the_papers_sizes_and_scales():
    x = torch.zeros(2, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0
    big = lenet.prepare(x, 32)
    assert big.shape == (2, 1, 32, 32)
    assert big.min().item() == pytest.approx(-0.1) and big.max().item() == pytest.approx(1.175)
    small = lenet.prepare(x, 16)
    assert small.shape == (2, 1, 16, 16) and small.min() >= -1 and small.max() <= 1
    with pytest.raises(ConfigError, match="32x32"):
        lenet.build_model(dataclasses.replace(lenet.PRESETS["paper"], image_size=16))


def test_mini_presets_train_each_net_against_its_control_the_same_way():
    runs = lenet.variants(lenet.PRESETS["mini"])
    assert {n: c.arch for n, c in runs.items()} == {"lenet5": "lenet5",
                                                     "fully-connected": "fully-connected"}
    assert n_params(lenet.build_model(runs["fully-connected"])) == 59_970  # ~ LeNet-5's 60,000
    runs89 = lenet.variants(lenet.PRESETS["mini-1989"])
    assert {n: c.arch for n, c in runs89.items()} == {"constrained": "zipcode",
                                                       "unconstrained": "zipcode-local"}
    for pair in (runs, runs89):
        first, second = (dataclasses.replace(c, arch="lenet5") for c in pair.values())
        assert first == second  # only the architecture differs


def test_the_1989_subset_is_class_balanced_and_shared_by_nets_and_baselines():
    cfg = lenet.PRESETS["mini-1989"]
    xtr, ytr, xte, _ = lenet.split(cfg)
    assert xtr.shape == (500, 1, 16, 16) and len(xte) == 1000
    assert torch.bincount(ytr).tolist() == [50] * 10
    again, _, _, _ = lenet.split(lenet.variants(cfg)["unconstrained"])
    assert torch.equal(again, xtr)


def _m(lenet5=0.97, fc=0.93, constrained=0.90, unconstrained=0.87, nn=0.934, logreg=0.885):
    return {"lenet5": {"test_accuracy": lenet5}, "fully-connected": {"test_accuracy": fc},
            "constrained": {"test_accuracy": constrained},
            "unconstrained": {"test_accuracy": unconstrained},
            "1-NN pixels": {"test_accuracy": nn}, "logistic regression pixels": {"test_accuracy": logreg}}


def test_claims_compare_with_their_control_and_the_pixel_baselines():
    row = verdict(CLAIMS["weight-sharing"], "mini", _m())
    assert row["margins"] == pytest.approx({"fully-connected": 0.97 - 0.93 - 0.02})
    assert row["verdict"] == REPRODUCED
    assert verdict(CLAIMS["weight-sharing"], "mini", _m(fc=0.96))["verdict"] == NOT_REPRODUCED
    row = verdict(CLAIMS["beats-pixel-baselines"], "mini", _m(lenet5=0.94))
    assert row["margins"]["1-NN pixels"] == pytest.approx(0.94 - 0.934 - 0.01)
    assert row["verdict"] == NOT_REPRODUCED
    row = verdict(CLAIMS["constrained-generalises"], "mini-1989", _m(nn=0.88))
    assert row["margins"] == pytest.approx({"unconstrained": 0.02, "1-NN pixels": 0.02,
                                            "logistic regression pixels": 0.90 - 0.885})
    assert verdict(CLAIMS["constrained-generalises"], "mini", _m())["verdict"] == NOT_APPLICABLE
    assert verdict(CLAIMS["weight-sharing"], "mini-1989", _m())["verdict"] == NOT_APPLICABLE


def test_paper_scale_claims_say_what_they_need():
    for claim in lenet.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id
