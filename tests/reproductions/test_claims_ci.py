"""Every reproduction's miniature claims, checked on one seed in the default test run (what CI
runs): each `mini` run computes its trivial baselines, each claim it evaluates names what it was
compared with and a margin, and every claim expected to hold held. The 5-seed sweeps are `slow`
(tests/reproductions/test_claims_seeds.py; BENCHMARKS.md has their table)."""

from __future__ import annotations

import json

import pytest

from reproductions import REPRODUCTIONS
from reproductions.cli import main as repro_main


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", sorted(REPRODUCTIONS))
def test_mini_claims_hold_on_seed_0_against_controls_and_baselines(name, tmp_path, capsys):
    code = repro_main(["check", name, "--out", str(tmp_path / "run"), "--quiet", "--threads", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["baselines"], f"{name}: the mini run computed no trivial baseline"
    evaluated = [c for c in result["claims"] if c["margin"] is not None]
    assert evaluated, out
    made = set(result["metrics"]) | set(result["baselines"])
    for c in evaluated:
        assert c["compared_with"], f"{c['id']} compares with nothing"
        assert not any(n.startswith("bar ") for n in c["compared_with"]), c["id"]  # a bare bar
        if c["expected"]:
            assert c["margin"] > 0, out
    # at least one claim is measured against a trivial baseline of this very run; ResNet's
    # claims are about optimisation (training loss), not quality: its baselines are recorded
    # to show why it makes no accuracy claim (they match the nets on digits)
    assert name == "resnet" or any(set(c["compared_with"]) & set(result["baselines"])
                                   for c in evaluated), out
    # and at least one against a control: another variant this run trained
    controls = made - set(result["baselines"]) - {"main"}
    assert any(set(c["compared_with"]) & controls for c in evaluated), out
