"""Every reproduction's miniature claims, checked on one seed in the default test run (what CI
runs): each `mini` run computes its trivial baselines, each claim it evaluates names what it was
compared with and a margin, and every claim expected to hold held. The 5-seed sweeps are `slow`
(tests/reproductions/test_claims_seeds.py; BENCHMARKS.md has their table)."""

from __future__ import annotations

import json

import pytest

from reproductions import REPRODUCTIONS
from reproductions.cli import main as repro_main

# Four run in the default test run (about three minutes together), one per kind of pipeline:
# image classification (ViT), detection (SSD), sequence to sequence (Transformer), contrastive
# image-text (CLIP); the others are `slow` (`scripts/test.sh -m slow`) so that CI stays under
# 30 minutes with every paper covered.
DEFAULT_RUN = {"vit", "ssd", "transformer", "clip"}
# Controls that are the same trained net under a control condition, measured in the same run
# (not another variant): GPT-3's prompts without demos or with shuffled demo labels, and
# CentripetalNet's heads paired by CornerNet's 1-d embeddings instead of centripetal shifts.
SAME_NET_CONTROLS = {("gpt", "mini-gpt3"): {"0 shots", "shuffled demo labels"},
                     ("cornernet", "mini-centripetal"): {"embedding"}}
# Trivial baselines a module measures inside its evaluation (they need the run's own frozen
# encoder): AdaIN's content photo unchanged and shifted to the style's mean colour.
IN_EVALUATION_BASELINES = {("style", "mini-adain"): {"identity (content image)", "mean colour"}}
# every miniature preset a claim is about: `mini`, and a second paper's (`mini-1989`)
CASES = [pytest.param(name, preset, marks=() if name in DEFAULT_RUN else pytest.mark.slow)
         for name, module in sorted(REPRODUCTIONS.items())
         for preset in sorted({p for c in module.CLAIMS if c.margins for p in c.presets})]


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("name", "preset"), CASES)
def test_mini_claims_hold_on_seed_0_against_controls_and_baselines(name, preset, tmp_path,
                                                                   capsys):
    code = repro_main(["check", name, "--preset", preset, "--out", str(tmp_path / "run"),
                       "--quiet", "--threads", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    # a module whose claims are about quality computes trivial baselines; one whose claims
    # are measurements (variances, correlations, equal outputs) or optimisation has none
    quality = hasattr(REPRODUCTIONS[name], "baselines")
    baselines = set(result["baselines"]) | IN_EVALUATION_BASELINES.get((name, preset), set())
    assert baselines or not quality, f"{name}: the run computed no trivial baseline"
    evaluated = [c for c in result["claims"] if c["margin"] is not None]
    assert evaluated, out
    made = set(result["metrics"]) | set(result["baselines"])
    for c in evaluated:  # "pixel: Frechet" is variant "pixel", compared on one of its metrics
        c["compared_with"] = [n.split(": ", 1)[0] if n.split(": ", 1)[0] in made else n
                              for n in c["compared_with"]]
        assert c["compared_with"], f"{c['id']} compares with nothing"
        assert not any(n.startswith("bar ") for n in c["compared_with"]), c["id"]  # a bare bar
        if c["expected"]:
            assert c["margin"] > 0, out
    # at least one claim is measured against a trivial baseline of this very run; ResNet's
    # claims are about optimisation (training loss), not quality: its baselines are recorded
    # to show why it makes no accuracy claim (they match the nets on digits)
    assert name == "resnet" or not quality or any(
        set(c["compared_with"]) & baselines for c in evaluated), out
    # and at least one against a control: another variant this run trained (or the same net
    # under a control condition); a preset whose claims are all expected not to hold shows
    # nothing, and needs none
    controls = (made - set(result["baselines"]) - {"main"}) | SAME_NET_CONTROLS.get(
        (name, preset), set())
    assert not any(c["expected"] for c in evaluated) or any(
        set(c["compared_with"]) & controls for c in evaluated), out
