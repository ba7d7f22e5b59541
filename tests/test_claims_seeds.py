"""Each miniature claim expected to hold holds for at least 4 of 5 seeds (slow: minutes per
module). `pytest -m slow tests/test_claims_seeds.py -k resnet -s` prints the measured figures."""

from __future__ import annotations

import dataclasses

import pytest

from reproductions import REPRODUCTIONS, get
from reproductions.common.claims import REPRODUCED
from reproductions.common.runner import run

SEEDS = range(5)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REPRODUCTIONS))
def test_mini_claims_expected_to_hold_hold_for_four_of_five_seeds(name, tmp_path):
    module = get(name)
    held: dict[str, int] = {}
    for seed in SEEDS:
        cfg = dataclasses.replace(module.PRESETS["mini"], seed=seed)
        result = run(module, cfg, "mini", tmp_path / f"seed{seed}", name=name)
        print(f"{name} seed {seed} ({result['wall_time_s']:.0f} s):")
        for row in result["claims"]:
            print(f"  {row['verdict']:<28} {row['id']}  {row['measured']}")
            if row["expected"] and row["verdict"] == REPRODUCED:
                held[row["id"]] = held.get(row["id"], 0) + 1
    expected = [c.id for c in module.CLAIMS if c.expected and c.predicate and "mini" in c.presets]
    short = {cid: held.get(cid, 0) for cid in expected if held.get(cid, 0) < 4}
    assert not short, f"claims holding for fewer than 4 of 5 seeds: {short}"
