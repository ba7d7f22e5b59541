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


TOY = '''
import os, sys, types
from dataclasses import dataclass
import torch, torch.nn as nn, torch.nn.functional as F
from reproductions.common import data as D
from reproductions.common.trainer import train


@dataclass
class Config:
    seed: int = 0
    steps: int = 4
    batch_size: int = 4
    lr: float = 0.1
    data_root: str | None = None


def training_step(model, batch):
    x, y = batch
    if os.environ.get("TOY_PER_PROCESS") and torch.distributed.get_rank() == 1:
        with torch.no_grad():  # a re-initialisation one process decides alone
            model.weight.mul_(0.5)
    return {"loss": F.cross_entropy(model(x), y)}


g = torch.Generator().manual_seed(1)
x, y = torch.randn(32, 4, generator=g), torch.randint(0, 3, (32,), generator=g)
module = types.SimpleNamespace(
    PAPER="toy", Config=Config, build_model=lambda cfg: nn.Linear(4, 3),
    build_data=lambda cfg: (D.tensor_loader(x, y, cfg.batch_size, cfg.seed), (x, y)),
    training_step=training_step)
train(module, Config())
print("replicas agree")
'''


def _toy(tmp_path, **env):
    script = tmp_path / "toy_ddp.py"
    script.write_text(TOY)
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
         str(script)], cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1", **env},
        capture_output=True, text=True, timeout=300)


def test_replicas_that_drift_apart_under_torchrun_fail_the_run(tmp_path):
    same = _toy(tmp_path)
    assert same.returncode == 0, same.stderr[-2000:]
    assert same.stdout.count("replicas agree") == 2
    apart = _toy(tmp_path, TOY_PER_PROCESS="1")
    assert apart.returncode != 0
    assert "replicas' weights differ by up to" in apart.stderr
    assert "a training step took a decision or drew randomness per process" in apart.stderr


# every reproduction's tiny preset, 3 steps in 2 processes: the trainer's replica check passes
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(__import__("reproductions").REPRODUCTIONS))
def test_every_reproduction_keeps_its_replicas_identical_under_torchrun(name, tmp_path):
    if __import__("reproductions").REPRODUCTIONS[name].PRESETS["tiny"].steps == 0:
        pytest.skip(f"{name} learns nothing (steps 0): no replicas to keep identical")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
           "-m", "reproductions", "run", name, "--preset", "tiny", "--set", "steps=3",
           "--out", str(tmp_path / "run"), "--quiet"]
    done = subprocess.run(cmd, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=600)
    if "cannot be split across processes" in done.stderr:  # one batch (t-SNE's map, one image)
        # each process refuses with the CLI's one line (exit 2) before any replica could drift
        assert done.returncode != 0
        assert "error: the training data has fewer batches than the 2 processes" in done.stderr
        return
    assert done.returncode == 0, done.stderr[-2000:]
