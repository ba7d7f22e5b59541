"""Data parallelism under torchrun on CPU (gloo): two processes with batch B follow the same
loss curve as one process with batch 2B, with no change to the module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reproductions.common.runfolder import read_metrics

REPO = Path(__file__).resolve().parents[2]


def _run(out, nproc: int, batch: int, name: str = "vit", steps: int = 6):
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
           "--standalone", "-m", "reproductions", "run", name, "--preset", "tiny",
           "--set", f"batch_size={batch}", "--set", f"steps={steps}", "--out", str(out), "--quiet"]
    if nproc == 1:  # the same code path without torchrun
        cmd = [sys.executable, "-m", "reproductions", *cmd[cmd.index("run"):]]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return [r["loss"] for r in read_metrics(out) if not r.get("eval")]


@pytest.mark.slow
def test_two_processes_follow_the_loss_curve_of_one_process_with_twice_the_batch(tmp_path):
    one = _run(tmp_path / "one", nproc=1, batch=16)
    two = _run(tmp_path / "two", nproc=2, batch=8)
    assert len(one) == len(two) == 6
    assert two == pytest.approx(one, rel=1e-4)  # ViT tiny: no BatchNorm, no dropout
    result = json.loads((tmp_path / "two" / "result.json").read_text())
    assert result["world_size"] == 2


@pytest.mark.slow
def test_resnet_under_torchrun_differs_only_by_per_process_batchnorm_statistics(tmp_path):
    one = _run(tmp_path / "one", nproc=1, batch=16, name="resnet")
    two = _run(tmp_path / "two", nproc=2, batch=8, name="resnet")
    assert two[0] == pytest.approx(one[0], rel=0.05)
    assert two == pytest.approx(one, rel=0.25)
