"""Group and layer normalization: GN (Eq. 1-2, 6-7) equals torch.nn.GroupNorm, LN equals
torch.nn.LayerNorm, ResNet-50 with our GN equals torchvision's with torch's GN under the same
weights, neither depends on the batch, and the miniatures' claims compare BN with GN across
batch sizes and LN with no normalisation and BN at batch 4."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn as nn

from reproductions import norms
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

CLAIMS = {c.id: c for c in norms.CLAIMS}


@pytest.mark.parametrize(("groups", "shape"), [(2, (3, 4, 5, 5)), (32, (2, 64, 3, 3)),
                                               (1, (4, 6, 7)), (3, (5, 6))])
def test_group_norm_equals_torch(groups, shape):
    torch.manual_seed(0)
    ours = norms.GroupNorm(groups, shape[1])
    with torch.no_grad():
        ours.weight.uniform_(0.5, 1.5)
        ours.bias.uniform_(-0.5, 0.5)
    ref = nn.GroupNorm(groups, shape[1])
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(shape) * 3 + 2
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.testing.assert_close(ours(a), ref(b), atol=1e-5, rtol=1e-5)
    g = torch.randn(shape)
    ours(a).backward(g)
    ref(b).backward(g)
    torch.testing.assert_close(a.grad, b.grad, atol=1e-4, rtol=1e-4)


def test_group_norm_normalises_each_group_of_channels_of_each_example():
    x = torch.randn(2, 6, 4, 4) * torch.arange(1.0, 7.0).view(1, 6, 1, 1)
    y = norms.GroupNorm(3, 6)(x).view(2, 3, -1)  # (B, G, C/G * H * W): Eq. 7's sets S_i
    torch.testing.assert_close(y.mean(-1), torch.zeros(2, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(2, 3), atol=1e-3, rtol=0)


def test_layer_norm_equals_torch():
    torch.manual_seed(0)
    ours, ref = norms.LayerNorm(10), nn.LayerNorm(10)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 1.5)
        ours.bias.uniform_(-0.5, 0.5)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(7, 10) * 4 - 1
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_resnet50_with_our_group_norm_equals_torchvisions_with_torchs():
    from torchvision.models import resnet50

    torch.manual_seed(0)
    ours = norms.build_model(norms.PRESETS["paper"])
    ref = resnet50(weights=None, norm_layer=lambda c: nn.GroupNorm(32, c))
    ref.load_state_dict(ours.state_dict())  # same names: GN has BN's weight and bias
    assert sum(isinstance(m, norms.GroupNorm) for m in ours.modules()) == 53
    assert not any(isinstance(m, nn.BatchNorm2d) for m in ours.modules())
    ours.eval()
    ref.eval()
    with torch.no_grad():
        for p in ours.parameters():  # zero-initialised gammas would hide the residual branches
            p.add_(0.01 * torch.randn_like(p))
        ref.load_state_dict(ours.state_dict())
        x = torch.randn(2, 3, 64, 64)
        torch.testing.assert_close(ours(x), ref(x), atol=1e-4, rtol=1e-4)


def test_paper_resnet50_zero_initialises_each_blocks_last_gamma():
    model = norms.build_model(norms.PRESETS["paper"])
    assert all(b.bn3.weight.abs().sum() == 0 for b in model.modules() if hasattr(b, "bn3"))


@pytest.mark.parametrize("norm", ["gn", "ln"])
def test_gn_and_ln_outputs_do_not_depend_on_the_batch_but_bns_do(norm):
    torch.manual_seed(0)
    arch = "convnet" if norm == "gn" else "mlp"
    cfg = dataclasses.replace(norms.PRESETS["mini" if norm == "gn" else "mini-ln"], norm=norm)
    x = torch.randn(24, 1, 8, 8) if arch == "convnet" else torch.randn(24, 64)
    assert norms.batch_dependence(norms.build_model(cfg), x) < 1e-5
    bn = norms.build_model(dataclasses.replace(cfg, norm="bn"))
    assert norms.batch_dependence(bn, x) > 1e-2


def test_mini_trains_bn_and_gn_at_batch_32_and_2_for_the_same_epochs():
    runs = norms.variants(norms.PRESETS["mini"])
    assert set(runs) == {"bn-b32", "bn-b2", "gn-b32", "gn-b2"}
    for norm in ("bn", "gn"):
        big, small = runs[f"{norm}-b32"], runs[f"{norm}-b2"]
        assert big.steps * 32 == small.steps * 2  # same examples seen
        assert big.lr / 32 == pytest.approx(small.lr / 2)  # linear scaling rule
    assert norms.variants(norms.PRESETS["paper"]) == {"main": norms.PRESETS["paper"]}


def test_mini_ln_trains_each_norm_at_each_rate_of_the_grid():
    runs = norms.variants(norms.PRESETS["mini-ln"])
    assert len(runs) == 9 and {c.batch_size for c in runs.values()} == {4}
    assert {(c.norm, c.lr) for c in runs.values()} == {
        (n, lr) for n in ("ln", "none", "bn") for lr in (1e-4, 3e-4, 1e-3)}


def gn_metrics(bn=(0.02, 0.40), gn=(0.02, 0.03)):
    return {"bn-b32": {"test_error": bn[0]}, "bn-b2": {"test_error": bn[1]},
            "gn-b32": {"test_error": gn[0]}, "gn-b2": {"test_error": gn[1]}}


def test_bn_small_batch_claim_measures_three_margins():
    row = verdict(CLAIMS["bn-small-batch"], "mini", gn_metrics())
    assert row["margins"] == pytest.approx({"bn-b32": 0.40 - 0.02 - 0.10,
                                            "gn-b32": 0.02 - 0.01, "bn-b2": 0.40 - 0.03 - 0.10})
    assert row["verdict"] == REPRODUCED
    assert verdict(CLAIMS["bn-small-batch"], "mini",
                   gn_metrics(gn=(0.02, 0.06)))["verdict"] == NOT_REPRODUCED


def ln_metrics(ln=0.06, none=0.12, bn=0.4, ln_dep=1e-7, bn_dep=0.5):
    m = {}
    for norm, loss, dep in (("ln", ln, ln_dep), ("none", none, 0.0), ("bn", bn, bn_dep)):
        m[f"{norm}-lr0.0003"] = {"train_loss": loss, "batch_dependence": dep}
        m[f"{norm}-lr0.001"] = {"train_loss": loss * 2, "batch_dependence": dep}
    return m


def test_ln_claims_use_each_norms_best_rate():
    import math

    rows = {c: verdict(CLAIMS[c], "mini-ln", ln_metrics())
            for c in ("ln-batch-independent", "ln-small-batch-faster")}
    assert rows["ln-small-batch-faster"]["margins"] == pytest.approx({
        "none-lr0.0003": math.log(0.12 / 0.06 / 1.4), "bn-lr0.0003": math.log(0.4 / 0.06 / 1.4)})
    assert rows["ln-batch-independent"]["margins"] == pytest.approx(
        {"rounding (1e-5)": 1e-5 - 1e-7, "bn-lr0.0003": 0.5 - 0.01})
    assert {r["verdict"] for r in rows.values()} == {REPRODUCED}
    assert verdict(CLAIMS["ln-small-batch-faster"], "mini-ln",
                   ln_metrics(none=0.07))["verdict"] == NOT_REPRODUCED
    assert verdict(CLAIMS["ln-batch-independent"], "mini", ln_metrics())["verdict"] == \
        "not applicable"


def test_paper_ln_needs_mnist():
    with pytest.raises(norms.ConfigError, match="needs --set data_root"):
        norms.build_data(norms.PRESETS["paper-ln"])
