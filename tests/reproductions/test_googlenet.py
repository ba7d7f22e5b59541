"""GoogLeNet: torchvision's weights give torchvision's logits (and auxiliary logits) in the
`torchvision` preset, the paper preset is Table 1's network, the naive module of Fig. 2a and the
reduced one of Fig. 2b have the channel counts Sec. 4 describes, multiply-adds are counted
right, and the miniature's claims compare what they say."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn as nn
import torchvision

from reproductions import googlenet
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

MINI = googlenet.PRESETS["mini"]
CLAIMS = {c.id: c for c in googlenet.CLAIMS}


def _reference(aux: bool) -> nn.Module:
    torch.manual_seed(0)
    ref = torchvision.models.googlenet(aux_logits=aux, init_weights=True)
    for m in ref.modules():  # randomise BN statistics so eval mode exercises them
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    return ref


@pytest.mark.parametrize(("preset", "aux"), [("torchvision", True), ("torchvision-no-aux", False)])
def test_torchvision_weights_give_torchvisions_logits(preset, aux):
    ref = _reference(aux).eval()
    ours = googlenet.build_model(googlenet.PRESETS[preset]).eval()
    ours.load_state_dict(ref.state_dict())  # strict: every name and shape
    x = torch.randn(2, 3, 64, 64)  # the aux heads pool adaptively: a small image is enough
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert expected.std() > 0
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)


def test_auxiliary_classifiers_give_torchvisions_aux_logits_in_training():
    ref = _reference(True)
    ours = googlenet.build_model(googlenet.PRESETS["torchvision"])
    ours.load_state_dict(ref.state_dict())
    for model in (ref, ours):
        model.train()
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.eval()  # dropout off; BN in training mode (batch statistics) in both
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = ref(x)  # (logits, aux_logits2, aux_logits1)
        logits, (aux1, aux2) = ours(x)
    torch.testing.assert_close(logits, expected.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(aux1, expected.aux_logits1, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(aux2, expected.aux_logits2, rtol=1e-4, atol=1e-5)


def test_paper_preset_is_table_1():
    with torch.device("meta"):
        model = googlenet.build_model(googlenet.PRESETS["paper"])
    outputs = {n: getattr(model, f"inception{n}").out_channels for n in googlenet.INCEPTION}
    assert outputs == {"3a": 256, "3b": 480, "4a": 512, "4b": 512, "4c": 512, "4d": 528,
                       "4e": 832, "5a": 832, "5b": 1024}  # Table 1's output sizes
    assert model.inception3a.branch3[1].conv.kernel_size == (5, 5)  # torchvision: 3x3
    assert model.inception3a.branch1.bn is None and model.conv1.conv.bias is not None
    assert model.maxpool4.kernel_size == 3
    assert isinstance(model.aux1.pool, nn.AvgPool2d) and model.aux1.fc1.in_features == 2048


def test_paper_network_runs_on_a_224_image_with_aux_heads_in_training():
    model = googlenet.build_model(googlenet.PRESETS["paper"]).train()
    with torch.no_grad():  # 14x14 maps at 4a/4d for the 5x5/3 average pools of Sec. 5
        out = googlenet.training_step(model, (torch.randn(1, 3, 224, 224), torch.tensor([1])))
        logits, aux = model(torch.randn(1, 3, 224, 224))
    assert logits.shape == (1, 1000) and [a.shape for a in aux] == [(1, 1000)] * 2
    assert torch.isfinite(out["loss"])


def test_naive_module_passes_the_pooled_channels_through_and_reduced_one_projects_them():
    cfg = googlenet.PRESETS["paper"]
    reduced = googlenet.Inception(192, googlenet.INCEPTION["3a"], cfg)
    naive = googlenet.Inception(192, googlenet.INCEPTION["3a"], dataclasses.replace(cfg, reduce=False))
    x = torch.randn(1, 192, 28, 28)
    assert reduced(x).shape == (1, 256, 28, 28)
    assert naive(x).shape == (1, 64 + 128 + 32 + 192, 28, 28)  # Sec. 4: outputs grow
    torch.testing.assert_close(naive(x)[:, -192:], nn.functional.max_pool2d(x, 3, 1, 1))


def test_multiply_adds_are_counted_per_output_value():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 5 * 5, 3))
    macs = googlenet.multiply_adds(model, torch.randn(1, 2, 5, 5))
    assert macs["total"] == 4 * 25 * 2 * 9 + 100 * 3 and macs["inception"] == 0


def test_mini_trains_the_same_modules_with_and_without_reductions():
    runs = googlenet.variants(MINI)
    assert set(runs) == {"main", "naive"}
    assert (runs["main"].reduce, runs["naive"].reduce) == (True, False)
    assert dataclasses.replace(runs["naive"], reduce=True) == runs["main"]
    metrics = {n: googlenet.evaluate(googlenet.build_model(c).eval(),
                                     {"test": (torch.randn(4, 1, 28, 28), torch.arange(4))}, c)
               for n, c in runs.items()}
    assert metrics["main"]["parameters"] == 17_486
    assert metrics["main"]["inception_multiply_adds"] < 0.5 * metrics["naive"]["inception_multiply_adds"]


def metrics(main=0.960, naive=0.965, macs=(475_000, 2_030_000), params=(14_700, 76_300)):
    def net(acc, mac, p):
        return {"test_accuracy": acc, "inception_multiply_adds": mac, "inception_parameters": p}
    return {"main": net(main, macs[0], params[0]), "naive": net(naive, macs[1], params[1]),
            "1-NN pixels": {"test_accuracy": 0.934},
            "logistic regression pixels": {"test_accuracy": 0.885}}


def test_claims_measure_their_margins_over_the_naive_module_and_the_baselines():
    m = metrics()
    cost = verdict(CLAIMS["reductions-cut-cost"], "mini", m)
    assert cost["margins"] == pytest.approx({"naive multiply-adds": 1 - 475 / 2030 - 0.5,
                                             "naive parameters": 1 - 147 / 763 - 0.5})
    acc = verdict(CLAIMS["same-accuracy-cheaper"], "mini", m)
    assert acc["margins"] == pytest.approx({"naive": 0.960 - 0.965 + googlenet.PARITY,
                                            "1-NN pixels": 0.960 - 0.934 - 0.01,
                                            "logistic regression pixels": 0.960 - 0.885 - 0.01})
    assert cost["verdict"] == acc["verdict"] == REPRODUCED


def test_a_cheaper_net_that_loses_accuracy_or_a_small_saving_fails():
    assert verdict(CLAIMS["same-accuracy-cheaper"], "mini",
                   metrics(main=0.94, naive=0.97))["verdict"] == NOT_REPRODUCED
    assert verdict(CLAIMS["reductions-cut-cost"], "mini",
                   metrics(macs=(1_200_000, 2_000_000)))["verdict"] == NOT_REPRODUCED


def test_paper_scale_claims_say_what_they_need():
    for claim in googlenet.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id
