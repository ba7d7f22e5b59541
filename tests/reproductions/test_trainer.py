"""The generic trainer and run folder, on small synthetic modules written here: it must not
need to know anything about the model it trains."""

from __future__ import annotations

import json
import os
import types
from dataclasses import dataclass

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.cli import main as repro_main
from reproductions.common import data as D
from reproductions.common.claims import (
    NOT_APPLICABLE,
    NOT_EVALUATED,
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
    Claim,
    failed,
    verdict,
)
from reproductions.common.config import ConfigError
from reproductions.common.runfolder import read_metrics
from reproductions.common.runner import run, training_curve
from reproductions.common.trainer import TrainOptions, load_checkpoint, train


@dataclass
class Config:
    seed: int = 0
    steps: int = 8
    batch_size: int = 4
    lr: float = 0.05
    data_root: str | None = None
    grad_clip: float | None = None


def classifier_module(**overrides) -> types.SimpleNamespace:
    """A 3-class MLP with dropout on 40 random points: enough to exercise RNG and data order."""

    def build_model(cfg):
        return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))

    def build_data(cfg):
        g = torch.Generator().manual_seed(123)
        x, y = torch.randn(40, 4, generator=g), torch.randint(0, 3, (40,), generator=g)
        return D.tensor_loader(x, y, cfg.batch_size, cfg.seed), (x, y)

    def training_step(model, batch):
        x, y = batch
        return {"loss": F.cross_entropy(model(x), y)}

    def evaluate(model, eval_data, cfg):
        return D.classification_metrics(model, eval_data)

    claims = [Claim("learns", "it learns", "n/a", "none",
                    margins=lambda m: {"nothing": m["main"]["accuracy"]}, presets=("tiny",))]
    module = types.SimpleNamespace(PAPER="toy", Config=Config, PRESETS={"tiny": Config()},
                                   build_model=build_model, build_data=build_data,
                                   training_step=training_step, evaluate=evaluate, CLAIMS=claims)
    for key, value in overrides.items():
        setattr(module, key, value)
    return module


def final_weights(folder):
    return torch.load(folder / "checkpoints" / "main.pt", weights_only=True)["model"]


def test_resume_after_an_interruption_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path):
    module, cfg = classifier_module(), Config(steps=8)
    run(module, cfg, "tiny", tmp_path / "straight", name="toy")

    def interrupt(variant, done, total, scalars):
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(module, cfg, "tiny", tmp_path / "resumed", name="toy", on_progress=interrupt,
            checkpoint_every=2)
    status = json.loads((tmp_path / "resumed" / "status.json").read_text())
    assert status["state"] == "failed" and status["step"] == 5
    assert torch.load(tmp_path / "resumed" / "checkpoints" / "main.pt", weights_only=True)["step"] == 4
    run(module, cfg, "tiny", tmp_path / "resumed", name="toy", resume=True)
    straight, resumed = final_weights(tmp_path / "straight"), final_weights(tmp_path / "resumed")
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    steps = [r["step"] for r in training_curve(tmp_path / "resumed", "main")]
    assert steps == list(range(1, 9))  # the repeated step 5 is counted once


class CountingPoints(torch.utils.data.Dataset):
    """12 points whose reads are counted, each read jittered by the global RNG (augmentation)."""

    reads: list[int] = []

    def __init__(self):
        g = torch.Generator().manual_seed(7)
        self.x, self.y = torch.randn(12, 4, generator=g), torch.randint(0, 3, (12,), generator=g)

    def __len__(self):
        return 12

    def __getitem__(self, i):
        CountingPoints.reads.append(i)
        return self.x[i] + 0.1 * torch.randn(4), self.y[i]


def test_resume_reads_no_sample_before_its_first_step_and_repeats_the_uninterrupted_run(tmp_path):
    """Killed at step 5 of 8 (checkpoint at 4, past one epoch of 3 batches), the resumed run
    reads only the samples of steps 5-8 and logs the same losses, bit for bit."""
    def build_data(cfg):
        loader = torch.utils.data.DataLoader(
            CountingPoints(), batch_size=4, shuffle=True,
            generator=torch.Generator().manual_seed(cfg.seed))
        return loader, (CountingPoints().x, CountingPoints().y)

    module, cfg = classifier_module(build_data=build_data), Config(steps=8)
    run(module, cfg, "tiny", tmp_path / "straight", name="toy")

    def interrupt(variant, done, total, scalars):
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(module, cfg, "tiny", tmp_path / "resumed", name="toy", on_progress=interrupt,
            checkpoint_every=4)
    CountingPoints.reads.clear()
    run(module, cfg, "tiny", tmp_path / "resumed", name="toy", resume=True)
    assert len(CountingPoints.reads) == 4 * 4  # steps 5-8, 4 samples each: nothing replayed
    losses = {name: [r["loss"] for r in training_curve(tmp_path / name, "main")]
              for name in ("straight", "resumed")}
    assert losses["resumed"] == losses["straight"] and len(losses["straight"]) == 8
    straight, resumed = final_weights(tmp_path / "straight"), final_weights(tmp_path / "resumed")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_resume_refuses_a_checkpoint_written_with_another_config(tmp_path):
    module = classifier_module()
    run(module, Config(steps=2), "tiny", tmp_path / "r", name="toy")
    with pytest.raises(ConfigError, match="another config"):
        run(module, Config(steps=2, lr=0.5), "tiny", tmp_path / "r", name="toy", resume=True)


def test_run_folder_holds_config_metrics_result_checkpoint_and_log(tmp_path):
    module, cfg = classifier_module(), Config(steps=6)
    result = run(module, cfg, "tiny", tmp_path / "r", name="toy", argv=["prog", "--x"])
    folder = tmp_path / "r"
    assert (folder / "argv.txt").read_text() == "prog\n--x\n"
    config = json.loads((folder / "config.json").read_text())
    assert config["config"] == {"seed": 0, "steps": 6, "batch_size": 4, "lr": 0.05,
                                "data_root": None, "grad_clip": None}
    rows = read_metrics(folder)
    assert [r["step"] for r in rows if not r.get("eval")] == [1, 2, 3, 4, 5, 6]
    assert rows[-1]["eval"] and rows[-1]["accuracy"] == result["metrics"]["main"]["accuracy"]
    on_disk = json.loads((folder / "result.json").read_text())
    assert on_disk == result
    assert {"seed", "device", "torch", "git_commit", "wall_time_s"} <= set(on_disk)
    assert on_disk["claims"][0]["verdict"] == REPRODUCED
    saved_cfg, state = load_checkpoint(folder / "checkpoints" / "main.pt", module)
    assert saved_cfg == cfg and state["step"] == 6 and state["paper"] == "toy"
    module.build_model(saved_cfg).load_state_dict(state["model"])  # self-describing
    assert "toy/tiny on cpu" in (folder / "log.txt").read_text()
    assert json.loads((folder / "status.json").read_text())["state"] == "done"


def test_a_run_that_raises_writes_a_failed_status_and_the_error_into_the_log(tmp_path):
    def exploding_step(model, batch):
        raise FloatingPointError("loss exploded at step 1")

    module = classifier_module(training_step=exploding_step)
    with pytest.raises(FloatingPointError):
        run(module, Config(), "tiny", tmp_path / "r", name="toy")
    status = json.loads((tmp_path / "r" / "status.json").read_text())
    assert status["state"] == "failed"
    assert status["error"] == "FloatingPointError: loss exploded at step 1"
    log = (tmp_path / "r" / "log.txt").read_text()
    assert "Traceback" in log and "loss exploded at step 1" in log
    assert not (tmp_path / "r" / "result.json").exists()


def test_each_loss_is_back_propagated_only_into_its_own_optimizers_parameters():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Parameter(torch.tensor(2.0)), nn.Parameter(torch.tensor(5.0))

    def build_optimizer(model, cfg):
        return [torch.optim.SGD([model.a], lr=0.1), torch.optim.SGD([model.b], lr=0.1)], None

    def training_step(model, batch):
        product = model.a * model.b
        return {"loss": product, "losses": [product, 3 * product]}

    module = classifier_module(build_model=lambda cfg: Pair(), build_optimizer=build_optimizer,
                               build_data=lambda cfg: ([(torch.zeros(1),)], None),
                               training_step=training_step)
    model = train(module, Config(steps=1), device=torch.device("cpu"))
    # a -= 0.1 * d(ab)/da = 0.1 * b;  b -= 0.1 * d(3ab)/db = 0.1 * 3a. Cross-talk would add more.
    assert model.a.item() == pytest.approx(2.0 - 0.1 * 5.0)
    assert model.b.item() == pytest.approx(5.0 - 0.1 * 3 * 2.0)


def test_gradient_clipping_bounds_the_step_when_the_config_asks_for_it():
    def build_optimizer(model, cfg):
        return torch.optim.SGD(model.parameters(), lr=1.0), None

    module = classifier_module(build_optimizer=build_optimizer)
    torch.manual_seed(0)
    before = torch.cat([p.flatten() for p in module.build_model(Config()).parameters()])
    for clip, bounded in [(1e-3, True), (None, False)]:
        model = train(module, Config(steps=1, grad_clip=clip), device=torch.device("cpu"))
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        assert ((after - before).norm() <= 1e-3 + 1e-6) == bounded


def test_claim_verdicts_come_from_margins_over_what_the_claim_compares_with():
    holds = Claim("a", "t", "p", "Fig. 1", margins=lambda m: {"ctrl": m["main"]["x"] - m["ctrl"]["x"],
                                                             "knn": m["main"]["x"] - m["knn"]["x"]})
    hoped = Claim("b", "t", "p", "Fig. 1", margins=holds.margins, expected=False)
    number = Claim("c", "t", "p", "Table 1", needs="preset paper on ImageNet")
    good = {"main": {"x": 2.0}, "ctrl": {"x": 1.0}, "knn": {"x": 1.5}}
    row = verdict(holds, "mini", good)
    assert row["verdict"] == REPRODUCED and row["compared_with"] == ["ctrl", "knn"]
    assert row["margin"] == 0.5 and row["margins"] == {"ctrl": 1.0, "knn": 0.5}
    beaten = {**good, "knn": {"x": 2.5}}  # above the control, below a trivial baseline
    assert verdict(holds, "mini", beaten)["verdict"] == NOT_REPRODUCED
    assert verdict(holds, "mini", beaten)["margin"] == -0.5
    assert verdict(hoped, "mini", beaten)["verdict"] == NOT_REPRODUCED_IN_MINIATURE
    assert verdict(number, "mini", good)["verdict"] == NOT_APPLICABLE
    assert verdict(number, "mini", good)["needs"] == "preset paper on ImageNet"
    assert verdict(holds, "tiny", good)["verdict"] == NOT_APPLICABLE
    missing = verdict(holds, "mini", {"main": {"x": 2.0}})  # --set dropped the control
    assert missing["verdict"] == NOT_EVALUATED and "'ctrl'" in missing["measured"]
    assert failed([missing]) == [missing] and failed([row]) == []
    nan = verdict(holds, "mini", {**good, "ctrl": {"x": float("nan")}})
    assert nan["verdict"] == NOT_EVALUATED


def test_cli_run_then_resume_of_a_finished_run_does_not_train_again(tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["run", "resnet", "--preset", "tiny", "--out", str(out), "--quiet"]
    assert repro_main(argv) == 0
    assert "run folder:" in capsys.readouterr().out
    assert (out / "argv.txt").read_text().splitlines()[:3] == ["python", "-m", "reproductions"]
    trained = [r for r in read_metrics(out) if not r.get("eval")]
    assert repro_main([*argv, "--resume"]) == 0
    assert [r for r in read_metrics(out) if not r.get("eval")] == trained


def test_cli_check_exits_1_when_a_claim_expected_to_hold_fails(tmp_path, capsys, monkeypatch):
    from reproductions import REPRODUCTIONS

    impossible = Claim("never", "cannot hold", "p", "Fig. 0", margins=lambda m: {"ctrl": -1.0},
                       presets=("tiny",))
    module = classifier_module(CLAIMS=[impossible])
    monkeypatch.setitem(REPRODUCTIONS, "toy", module)
    assert repro_main(["check", "toy", "--preset", "tiny", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert f"{NOT_REPRODUCED:<28} never" in out and "1 claim(s) expected to hold did not (never)" in out


def test_baselines_are_computed_in_the_run_and_claims_compare_against_them(tmp_path):
    def majority(cfg):  # the trivial baseline on the run's own split
        _, (x, y) = module.build_data(cfg)
        return {"majority class": {"accuracy": float((y == y.mode().values).float().mean())}}

    beats = Claim("beats-majority", "t", "p", "Fig. 0", presets=("tiny",),
                  margins=lambda m: {"majority class": m["main"]["accuracy"]
                                     - m["majority class"]["accuracy"] + 1.0})
    module = classifier_module(CLAIMS=[beats], baselines=majority)
    result = run(module, Config(steps=2), "tiny", tmp_path / "r", name="toy")
    share = result["baselines"]["majority class"]["accuracy"]
    assert 0.3 < share < 0.6 and "majority class" not in result["metrics"]
    row = result["claims"][0]
    assert row["compared_with"] == ["majority class"]
    assert row["margin"] == pytest.approx(result["metrics"]["main"]["accuracy"] - share + 1.0)
    saved = json.loads((tmp_path / "r" / "result.json").read_text())
    assert saved["baselines"] == result["baselines"]
    clash = classifier_module(baselines=lambda cfg: {"main": {"accuracy": 0.5}})
    with pytest.raises(ConfigError, match="baseline 'main' has the name of a variant"):
        run(clash, Config(steps=1), "tiny", tmp_path / "c", name="toy")


def test_check_that_evaluated_nothing_fails_and_names_the_claims(tmp_path, capsys, monkeypatch):
    """`--set` can drop the variant a claim compares against: the claim is not evaluated, and
    `check` must not print that everything held."""
    from reproductions import REPRODUCTIONS

    needs_control = Claim("vs-control", "beats the control", "p", "Fig. 0",
                          margins=lambda m: {"control": 1 - m["control"]["accuracy"]},
                          presets=("tiny",))
    monkeypatch.setitem(REPRODUCTIONS, "toy", classifier_module(CLAIMS=[needs_control]))
    assert repro_main(["check", "toy", "--preset", "tiny", "--set", "steps=1", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert f"{NOT_EVALUATED:<28} vs-control" in out and "this run has no 'control'" in out
    assert "1 claim(s) not evaluated (vs-control)" in out and "every claim" not in out
    args = ["check", "toy", "--preset", "tiny", "--set", "steps=1", "--quiet", "--seeds", "2"]
    assert repro_main([*args, "--out", str(tmp_path / "s")]) == 1
    assert "not evaluated: vs-control" in capsys.readouterr().out


def test_check_on_a_smoke_test_preset_says_so_and_fails_without_training(capsys, monkeypatch):
    from reproductions import REPRODUCTIONS

    mini_only = Claim("mini-only", "t", "p", "Fig. 0", margins=lambda m: {"x": 1.0})
    module = classifier_module(CLAIMS=[mini_only], build_data=None)  # training would crash
    monkeypatch.setitem(REPRODUCTIONS, "toy", module)
    assert repro_main(["check", "toy", "--preset", "tiny", "--quiet"]) == 1
    assert ("preset 'tiny' is a smoke test and evaluates no claim; check a preset that does: "
            "mini") in capsys.readouterr().out


def test_a_new_run_refuses_a_folder_that_already_holds_one(tmp_path):
    module = classifier_module()
    run(module, Config(steps=2), "tiny", tmp_path / "r", name="toy")
    before = (tmp_path / "r" / "status.json").read_text()
    with pytest.raises(ConfigError, match="already holds a run; add --resume"):
        run(module, Config(steps=2), "tiny", tmp_path / "r", name="toy")
    assert (tmp_path / "r" / "status.json").read_text() == before  # left as it was


def test_check_over_seeds_counts_how_often_each_claim_holds(tmp_path, capsys, monkeypatch):
    from reproductions import REPRODUCTIONS

    # holds only for seeds 0..3: 4 of 5 is enough, 4 of 6 (< 80%) is not
    flaky = Claim("flaky", "holds for low seeds", "p", "Fig. 0",
                  margins=lambda m: {"seed 4": 4 - m["main"]["seed"] - 0.5}, presets=("tiny",))
    module = classifier_module(CLAIMS=[flaky], evaluate=lambda model, data, cfg: {"seed": cfg.seed})
    monkeypatch.setitem(REPRODUCTIONS, "toy", module)
    args = ["check", "toy", "--preset", "tiny", "--set", "steps=1", "--quiet"]
    assert repro_main([*args, "--seeds", "5", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "flaky: held for 4 of 5 seeds; margin over seed 4 +1.5 ± 2" in out
    assert repro_main([*args, "--seeds", "6", "--out", str(tmp_path / "b")]) == 1


def test_a_modules_figures_are_drawn_from_its_trained_models_into_the_run_folder(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def figures(out_dir, cfg, models, metrics):
        weights = models["main"][0].weight.detach()
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.imshow(weights.numpy())
        fig.savefig(out_dir / "first-layer.png", dpi=50)
        plt.close(fig)
        return [{"file": "first-layer.png", "caption": "first-layer weights",
                 "paper_figure": "Fig. 6"}]

    result = run(classifier_module(figures=figures), Config(steps=2), "tiny", tmp_path / "r",
                 name="toy")
    assert result["figures"] == [{"file": "figures/first-layer.png",
                                  "caption": "first-layer weights", "paper_figure": "Fig. 6"}]
    assert (tmp_path / "r" / "figures" / "first-layer.png").read_bytes()[:4] == b"\x89PNG"

    def escapes(out_dir, cfg, models, metrics):  # a figure outside the run folder is refused
        (out_dir.parent.parent / "x.png").write_bytes(b"\x89PNG")
        return [{"file": "../../x.png", "caption": "c"}]

    with pytest.raises(ConfigError, match="is not a PNG the module wrote into"):
        run(classifier_module(figures=escapes), Config(steps=1), "tiny", tmp_path / "s", name="toy")


# --- options: accumulation, kept checkpoints, periodic evaluation (issue 23) ------------------


def no_dropout_module(**overrides):
    """The classifier without dropout: its loss is a plain batch mean."""
    return classifier_module(build_model=lambda cfg: nn.Sequential(
        nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)), **overrides)


def test_accumulating_k_micro_batches_equals_one_batch_k_times_larger():
    module = no_dropout_module()
    big = train(module, Config(steps=2, batch_size=16, lr=0.05))  # 32 of the 40 points
    small = train(module, Config(steps=2, batch_size=4, lr=0.05),
                  options=TrainOptions(accumulate=4))
    for a, b in zip(big.state_dict().values(), small.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    plain = train(module, Config(steps=2, batch_size=4, lr=0.05))  # without accumulation
    assert not torch.allclose(plain[0].weight, small[0].weight)


def test_resume_refuses_another_accumulation(tmp_path):
    module = no_dropout_module()
    run(module, Config(steps=2), "tiny", tmp_path / "r", name="toy",
        options=TrainOptions(accumulate=2))
    with pytest.raises(ConfigError, match="written with --accumulate 2"):
        run(module, Config(steps=2), "tiny", tmp_path / "r", name="toy", resume=True)


def test_the_newest_k_checkpoints_are_kept_as_links_and_the_best_by_evaluation(tmp_path):
    scores = iter([0.5, 0.9, 0.7, 0.8])

    def evaluate(model, eval_data, cfg):  # a metric that peaks at the second evaluation
        return {"test_accuracy": next(scores, 0.1)}

    module = no_dropout_module(evaluate=evaluate)
    run(module, Config(steps=8), "tiny", tmp_path / "r", name="toy",
        options=TrainOptions(checkpoint_every=2, keep_checkpoints=2, eval_every=2))
    folder = tmp_path / "r" / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == [
        "main-best.pt", "main-step000000006.pt", "main-step000000008.pt", "main.pt"]
    assert os.path.samefile(folder / "main.pt", folder / "main-step000000008.pt")
    assert torch.load(folder / "main-best.pt", weights_only=True)["step"] == 4
    evals = [r for r in read_metrics(tmp_path / "r") if r.get("eval")]
    assert [(r["step"], r["test_accuracy"]) for r in evals] == [
        (2, 0.5), (4, 0.9), (6, 0.7), (8, 0.8)]  # the last: the run's final evaluation
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["train_options"]["keep_checkpoints"] == 2


def conv_module(**overrides) -> types.SimpleNamespace:
    """A small conv net on 8x8 images: channels_last changes its memory layout, not its maths."""

    def build_model(cfg):
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                             nn.Linear(8 * 64, 3))

    def build_data(cfg):
        g = torch.Generator().manual_seed(7)
        x, y = torch.randn(32, 3, 8, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
        return D.tensor_loader(x, y, cfg.batch_size, cfg.seed), (x, y)

    return classifier_module(build_model=build_model, build_data=build_data, **overrides)


def test_channels_last_and_a_compiled_step_train_the_same_weights_as_the_plain_loop():
    module = conv_module()
    cfg = Config(steps=3, batch_size=8, lr=0.05)
    plain = train(module, cfg)
    seen = []

    def training_step(model, batch):  # what the step receives
        seen.append(batch[0].is_contiguous(memory_format=torch.channels_last))
        return {"loss": F.cross_entropy(model(batch[0]), batch[1])}

    nhwc = train(conv_module(training_step=training_step), cfg,
                 options=TrainOptions(channels_last=True))
    assert seen == [True] * 3
    assert nhwc[0].weight.is_contiguous(memory_format=torch.channels_last)
    # "eager" runs torch.compile's graph capture without generating code (no compiler needed)
    compiled = train(module, cfg, options=TrainOptions(compile="eager"))
    assert list(compiled.state_dict()) == list(plain.state_dict())  # no _orig_mod. prefix
    for other in (nhwc, compiled):
        for a, b in zip(plain.state_dict().values(), other.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_cli_passes_compile_and_channels_last_into_the_runs_train_options(tmp_path):
    out = tmp_path / "run"
    assert repro_main(["run", "vit", "--preset", "tiny", "--out", str(out), "--quiet",
                       "--compile", "eager", "--channels-last"]) == 0
    options = json.loads((out / "config.json").read_text())["train_options"]
    assert options["compile"] == "eager" and options["channels_last"] is True


def test_classification_metrics_add_top5_with_more_than_five_classes():
    scores = torch.tensor([[9.0, 8, 7, 6, 5, 4, 0], [9.0, 8, 7, 6, 5, 4, 0], [0.0, 1, 2, 3, 4, 5, 9]])
    model = nn.Sequential(nn.Identity())
    model.register_parameter("w", nn.Parameter(torch.zeros(1)))  # a device to read
    m = D.classification_metrics(model, (scores, torch.tensor([4, 5, 6])))
    assert m["accuracy"] == pytest.approx(1 / 3)  # only the last is first
    assert m["top5_accuracy"] == pytest.approx(2 / 3)  # class 4 is 5th; class 5 is 6th
    assert "top5_accuracy" not in D.classification_metrics(model, (scores[:, :3], torch.tensor([0, 1, 2])))
