"""Each miniature claim expected to hold holds for at least 4 of 5 seeds (slow: minutes per
module; `python -m reproductions check NAME --seeds 5` prints the same figures)."""

from __future__ import annotations

import pytest

from reproductions import REPRODUCTIONS
from reproductions.cli import main as repro_main


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize(("name", "preset"), [
    (name, preset) for name, module in sorted(REPRODUCTIONS.items())
    for preset in sorted({p for c in module.CLAIMS if c.margins for p in c.presets})])
def test_mini_claims_expected_to_hold_hold_for_four_of_five_seeds(name, preset, tmp_path, capsys):
    code = repro_main(["check", name, "--preset", preset, "--seeds", "5", "--out", str(tmp_path),
                       "--quiet", "--threads", "1"])
    with capsys.disabled():
        print(capsys.readouterr().out)
    assert code == 0, "a claim expected to hold held for fewer than 4 of 5 seeds"
