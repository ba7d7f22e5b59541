"""`python -m reproductions evaluate`: a checkpoint the user passes, measured with the paper's
test-time protocol, beside the paper's figures. The weights are reference models' random
initialisations saved to files (nothing is downloaded); the data are tiny generated folders."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

from reproductions import alexnet, clip, resnet
from reproductions.cli import main as repro_main
from reproductions.common.claims import (
    NOT_EVALUATED,
    NOT_REPRODUCED_AT_SCALE,
    REPRODUCED_AT_SCALE,
    number_verdicts,
)
from reproductions.common.config import config_to_dict
from reproductions.common.trainer import CHECKPOINT_FORMAT

CLASSES = ("n01440764", "n01443537", "n01484850")  # sorted: indices 0, 1, 2
IMAGES_PER_CLASS = 2


@pytest.fixture(autouse=True)
def no_worker_processes(monkeypatch):
    monkeypatch.setenv("REPRO_DATA_WORKERS", "0")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """An ImageNet-style val folder: three classes of two JPEGs of odd sizes, not square."""
    root = tmp_path_factory.mktemp("imagenet")
    rng = np.random.default_rng(0)
    for c in CLASSES:
        (root / "val" / c).mkdir(parents=True)
        for i in range(IMAGES_PER_CLASS):
            pixels = rng.integers(0, 255, (70 + 10 * i, 90, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "val" / c / f"{i}.JPEG")
    return root


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    """torchvision's ResNet-18 (random init) whose predictions fall among the folder's three
    classes, so that top-1 is neither 0 nor 1 by construction; saved as a plain state dict."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    with torch.no_grad():
        model.fc.bias[3:] = -50.0
        model.fc.weight[:3] *= 40
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(model.state_dict(), path)
    return model, path


def _by_hand(model, folder, ten_crop: bool) -> tuple[float, float]:
    """Top-1 / top-5 accuracy (%) of `model` on the folder, with torchvision's transforms."""
    norm = T.Compose([T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    top1 = top5 = n = 0
    for label, c in enumerate(CLASSES):
        for f in sorted((folder / "val" / c).iterdir()):
            img = T.Resize(256)(Image.open(f).convert("RGB"))
            crops = T.TenCrop(224)(img) if ten_crop else [T.CenterCrop(224)(img)]
            with torch.no_grad():
                p = model(torch.stack([norm(x) for x in crops])).softmax(-1).mean(0)
            best = p.topk(5).indices.tolist()
            top1 += best[0] == label
            top5 += label in best
            n += 1
    return 100 * top1 / n, 100 * top5 / n


def _result(out):
    return json.loads((out / "result.json").read_text())


def test_ten_crop_top1_and_top5_equal_the_reference_models_by_hand(resnet18, folder, tmp_path, capsys):
    model, path = resnet18
    out = tmp_path / "run"
    code = repro_main(["evaluate", "resnet", "--preset", "resnet18", "--weights", str(path),
                       "--data", str(folder), "--protocol", "ten-crop", "--out", str(out),
                       "--quiet"])
    assert code == 0, capsys.readouterr().err
    measured = _result(out)["metrics"]["weights"]
    top1, top5 = _by_hand(model, folder, ten_crop=True)
    assert 0 < top1 < 100  # not a degenerate comparison
    assert measured["top1_accuracy"] == pytest.approx(top1)
    assert measured["top5_accuracy"] == pytest.approx(top5)
    assert measured["top1_error"] == pytest.approx(100 - top1)
    assert measured["images"] == len(CLASSES) * IMAGES_PER_CLASS
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "done"  # a run folder the app lists like any other
    assert _result(out)["weights"]["sha256"]


def test_centre_crop_is_the_default_without_a_paper_figure(resnet18, folder, tmp_path):
    model, path = resnet18
    out = tmp_path / "run"
    assert repro_main(["evaluate", "resnet", "--preset", "resnet18", "--weights", str(path),
                       "--data", str(folder), "--out", str(out), "--quiet"]) == 0
    result = _result(out)
    assert result["protocol"] == "center-crop"
    assert result["metrics"]["weights"]["top1_accuracy"] == pytest.approx(
        _by_hand(model, folder, ten_crop=False)[0])
    assert result["claims"] == []  # ResNet-18 has no figure in the paper's tables


def test_resnet50_weights_get_table_3s_verdict_with_ten_crops_by_default(folder, tmp_path, capsys):
    torch.manual_seed(1)
    path = tmp_path / "r50.pth"
    torch.save(torchvision.models.resnet50().state_dict(), path)
    out = tmp_path / "run"
    code = repro_main(["evaluate", "resnet", "--preset", "resnet50-v1.5", "--weights",
                       str(path), "--data", str(folder), "--out", str(out), "--quiet",
                       "--limit", "1"])
    printed = capsys.readouterr().out
    assert code == 1  # random weights miss the paper's 22.85% top-1 error by far
    rows = _result(out)["claims"]
    assert {(r["metric"], r["paper_value"]) for r in rows} == {("top1_error", 22.85),
                                                              ("top5_error", 6.71)}
    assert {r["verdict"] for r in rows} == {NOT_REPRODUCED_AT_SCALE}
    assert _result(out)["protocol"] == "ten-crop"
    assert "imagenet-top1: top1_error" in printed and "the paper 22.85" in printed


def test_weights_of_another_network_are_one_line_naming_the_preset_they_fit(resnet18, folder,
                                                                             tmp_path, capsys):
    _, path = resnet18
    code = repro_main(["evaluate", "resnet", "--weights", str(path), "--data", str(folder),
                       "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "does not fit resnet --preset paper" in err and "it fits --preset resnet18" in err
    assert not (tmp_path / "run").exists()  # nothing written for input that was refused


class _Payload:
    def __reduce__(self):
        return (open, ("/tmp/evaluate-payload-ran", "w"))


def test_a_pickle_that_would_run_code_is_refused_not_executed(folder, tmp_path, capsys):
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"fc.weight": _Payload()}))
    code = repro_main(["evaluate", "resnet", "--weights", str(path), "--data", str(folder),
                       "--quiet"])
    assert code == 2
    assert "not a weights file torch can read safely" in capsys.readouterr().err
    assert not __import__("os").path.exists("/tmp/evaluate-payload-ran")


def test_a_missing_data_folder_is_one_line(resnet18, tmp_path, capsys):
    _, path = resnet18
    code = repro_main(["evaluate", "resnet", "--preset", "resnet18", "--weights", str(path),
                       "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"),
                       "--quiet"])
    assert code == 2 and "no such folder" in capsys.readouterr().err


def test_a_run_checkpoint_is_evaluated_by_its_modules_own_evaluate(tmp_path):
    run = tmp_path / "run"
    assert repro_main(["run", "resnet", "--preset", "tiny", "--out", str(run), "--quiet"]) == 0
    trained = _result(run)["metrics"]
    variant = next(iter(trained))
    out = tmp_path / "eval"
    assert repro_main(["evaluate", "resnet", "--preset", "tiny", "--weights",
                       str(run / "checkpoints" / f"{variant}.pt"), "--out", str(out),
                       "--quiet"]) == 0
    again = _result(out)["metrics"]["weights"]
    assert again["test_accuracy"] == pytest.approx(trained[variant]["test_accuracy"])
    assert _result(out)["protocol"] == "module"


def test_a_checkpoint_of_another_paper_is_refused(tmp_path, capsys):
    path = tmp_path / "ck.pt"
    cfg = alexnet.PRESETS["tiny"]
    torch.save({"format": CHECKPOINT_FORMAT, "paper": alexnet.PAPER, "config": config_to_dict(cfg),
                "model": alexnet.build_model(cfg).state_dict()}, path)
    assert repro_main(["evaluate", "resnet", "--weights", str(path), "--quiet"]) == 2
    assert "is a checkpoint of 'alexnet'" in capsys.readouterr().err


def test_clip_zero_shot_uses_the_80_prompt_ensemble_and_folder_class_names(folder, tmp_path):
    import dataclasses

    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    from reproductions.common import evaluation as E
    from reproductions.common.text_tokenizers import bpe_tokenizer

    cfg = dataclasses.replace(clip.PRESETS["tiny"], tokenizer="bpe", vocab_size=49408,
                              context_length=77, image_size=32)
    torch.manual_seed(0)
    model = clip.build_model(cfg).eval()
    measured = E.clip_zero_shot(model, folder, E.pixels_for("clip", cfg))
    # by hand: the classifier from the 80 templates over the folder's names
    names = list(CLASSES)
    classifier = clip.zero_shot_classifier(
        model, names, [t("{}") for t in OPENAI_IMAGENET_TEMPLATES], bpe_tokenizer())
    tf = T.Compose([T.Resize(32, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(32),
                    T.ToTensor(), T.Normalize(clip.CLIP_MEAN, clip.CLIP_STD)])
    images, labels = [], []
    for label, c in enumerate(CLASSES):
        for f in sorted((folder / "val" / c).iterdir()):
            images.append(tf(Image.open(f).convert("RGB")))
            labels.append(label)
    pred = clip.zero_shot_predict(model, torch.stack(images), classifier)
    assert measured["top1_accuracy"] == pytest.approx(
        100 * (pred == torch.tensor(labels)).float().mean().item())
    assert len(OPENAI_IMAGENET_TEMPLATES) == 80


def test_paper_number_verdicts_compare_in_the_metrics_direction_within_the_tolerance():
    claims = resnet.CLAIMS
    rows = number_verdicts(claims, "paper", "ten-crop", {"top1_error": 23.5, "top5_error": 6.0})
    verdict = {r["metric"]: r["verdict"] for r in rows}
    assert verdict == {"top1_error": REPRODUCED_AT_SCALE, "top5_error": REPRODUCED_AT_SCALE}
    rows = number_verdicts(claims, "paper", "ten-crop", {"top1_error": 24.0, "top5_error": 6.0})
    assert {r["metric"]: r["verdict"] for r in rows}["top1_error"] == NOT_REPRODUCED_AT_SCALE
    # a ten-crop figure is never compared with a centre-crop measurement
    rows = number_verdicts(claims, "paper", "center-crop", {"top1_error": 20.0, "top5_error": 5.0})
    assert {r["verdict"] for r in rows} == {NOT_EVALUATED}
    assert "the paper's figure is ten-crop" in rows[0]["measured"]
    # higher-is-better metrics: ViT's top-1 accuracy
    from reproductions import vit

    rows = number_verdicts(vit.CLAIMS, "paper", "center-crop", {"top1_accuracy": 83.5})
    assert [r["verdict"] for r in rows] == [REPRODUCED_AT_SCALE]
    assert rows[0]["note"]  # the 384 px caveat travels with the verdict


def test_ssd_checkpoints_are_judged_on_voc2007_11_point_map_as_the_paper_reports():
    from reproductions import ssd

    assert ssd.EVAL_PROTOCOL == "voc07-11-point"
    rows = number_verdicts(ssd.CLAIMS, "paper", ssd.EVAL_PROTOCOL, {"map50_voc07": 0.738,
                                                                    "map50": 0.76})
    assert [(r["metric"], r["paper_value"], r["verdict"]) for r in rows] == [
        ("map50_voc07", 0.743, REPRODUCED_AT_SCALE)]  # within the point of tolerance
    rows = number_verdicts(ssd.CLAIMS, "paper", ssd.EVAL_PROTOCOL, {"map50_voc07": 0.70})
    assert rows[0]["verdict"] == NOT_REPRODUCED_AT_SCALE
