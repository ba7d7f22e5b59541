"""UniT: the paper preset's size as the sum of its parts (ResNet-50 without fc, BERT-base, the
shared decoder), one decoder for all tasks with each task's own queries and head, the
single-task controls, the alternating task stream, and the claim as a pure function."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reproductions import resnet, unit
from reproductions.common.claims import NOT_REPRODUCED_IN_MINIATURE, REPRODUCED, verdict

TINY = unit.PRESETS["tiny"]


def test_paper_size_is_resnet50_bert_base_and_a_768_wide_six_layer_decoder():
    with torch.device("meta"):
        model = unit.build_model(unit.PRESETS["paper"])
        r50 = resnet.build_model(resnet.PRESETS["paper"])
    n = unit.n_params
    assert n(model.image.backbone) == n(r50) - (2048 * 1000 + 1000)  # no fc
    d, ff = 768, 3072
    bert = (30522 + 512 + 2) * d + 2 * d + 12 * (4 * (d * d + d) + 2 * d * ff + ff + d + 4 * d)
    assert n(model.text) == bert + 8 * d  # + one task embedding per task
    layer = 8 * (d * d + d) + 2 * d * ff + ff + d + 6 * d  # self + cross attention, FFN, 3 LNs
    assert n(model.decoder) == 6 * layer
    assert n(model) == 208_109_098


def test_one_decoder_serves_every_task_with_its_own_queries_and_head():
    torch.manual_seed(0)
    model = unit.build_model(TINY).eval()
    data = unit.build_data(TINY)[1]
    img, txt = data["shapes"][0][:3], data["rules"][0][:3]
    assert model("shapes", image=img).shape == (3, 5)
    assert model("rules", tokens=txt).shape == (3, 4)
    assert set(model.queries) == set(model.heads) == {"shapes", "rules"}
    grads = {}
    for task, kw in (("shapes", {"image": img}), ("rules", {"tokens": txt})):
        model.zero_grad()
        model(task, **kw).sum().backward()
        grads[task] = {k for k, p in model.named_parameters() if p.grad is not None
                       and p.grad.abs().sum() > 0}
    shared = grads["shapes"] & grads["rules"]
    assert shared and all(k.startswith("decoder.") for k in shared)


def test_paper_tasks_read_their_modalities_and_detection_gives_boxes():
    cfg = dataclasses.replace(TINY, tasks=("coco-det", "vqav2"), task_set="paper",
                              vocab_size=50, det_queries=5)
    model = unit.build_model(cfg).eval()
    img, tokens = torch.rand(2, 3, 16, 16), torch.randint(5, 50, (2, 7))
    logits, boxes = model("coco-det", image=img)
    assert logits.shape == (2, 5, 92) and boxes.shape == (2, 5, 4) and (boxes >= 0).all()
    assert model("vqav2", image=img, tokens=tokens).shape == (2, 3129)


def test_single_task_controls_get_as_many_updates_per_task_and_every_step_sees_each_task():
    runs = unit.variants(unit.PRESETS["mini"])
    assert set(runs) == {"joint", "image-only", "text-only"}
    assert runs["image-only"].tasks == ("shapes",) and runs["text-only"].tasks == ("rules",)
    assert runs["image-only"].steps == runs["text-only"].steps == runs["joint"].steps
    assert [t for t, _, _ in next(iter(unit.build_data(TINY)[0]))] == ["shapes", "rules"]
    with torch.device("meta"):
        joint, alone = (unit.n_params(unit.build_model(c)) for c in
                        (runs["joint"], runs["image-only"]))
    assert joint < unit.n_params(unit.build_model(runs["text-only"])) + alone


def metrics(joint=(0.9, 0.9), single=(0.92, 0.91), params=(100, 70, 70)):
    return {"joint": {"shapes_accuracy": joint[0], "rules_accuracy": joint[1],
                      "parameters": params[0]},
            "image-only": {"shapes_accuracy": single[0], "parameters": params[1]},
            "text-only": {"rules_accuracy": single[1], "parameters": params[2]},
            "pixel logistic regression": {"shapes_accuracy": 0.5},
            "bag-of-words logistic regression": {"rules_accuracy": 0.4},
            "majority": {"shapes_accuracy": 0.2, "rules_accuracy": 0.25}}


def test_claim_needs_parity_with_fewer_parameters_and_to_beat_the_baselines():
    claim = unit.CLAIMS[0]
    row = verdict(claim, "mini", metrics())
    assert row["verdict"] == REPRODUCED
    assert row["margins"]["image-only"] == pytest.approx(0.03)
    assert row["margins"]["parameters"] == pytest.approx(1 - 100 / 140 - 0.15)
    assert verdict(claim, "mini", metrics(joint=(0.8, 0.9)))["verdict"] == NOT_REPRODUCED_IN_MINIATURE
    assert verdict(claim, "mini", metrics(params=(130, 70, 70)))["verdict"] == NOT_REPRODUCED_IN_MINIATURE
