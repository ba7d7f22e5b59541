"""Shared by test_runs.py and test_reproduce_app.py: the reproductions' descriptions cached once
per session (`descriptions=` of tests/workspaces.py's `make_workspace`), a fake child that writes
the real run-folder format in a fraction of a second, and waiting helpers.
"""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

# The fake child: `python fake_child.py run NAME --preset P --set k=v ... --out DIR ...`.
# It writes status.json, metrics.jsonl, a checkpoint, log.txt and result.json as
# reproductions.common.runfolder does; FAKE_MODE picks a misbehaviour.
FAKE_CHILD = textwrap.dedent(r'''
    import json, os, signal, subprocess, sys, time
    argv = sys.argv[1:]
    out = argv[argv.index("--out") + 1]
    sets = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--set")
    steps = int(sets.get("steps", "3"))
    mode = os.environ.get("FAKE_MODE", "normal")
    step_s = float(os.environ.get("FAKE_STEP_S", "0.02"))
    os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)

    def write(name, data):
        tmp = os.path.join(out, name + ".tmp")
        with open(tmp, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, os.path.join(out, name))

    if mode == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == "grandchild":
        kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(os.path.join(out, "grandchild.pid"), "w") as fh:
            fh.write(str(kid.pid))
    if mode == "die":
        print("fake child: boom, out of memory", file=sys.stderr, flush=True)
        sys.exit(3)
    with open(os.path.join(out, "log.txt"), "a") as log:
        log.write(f"start resume={'--resume' in argv}\n")
    write("config.json", {"name": argv[1], "paper": "resnet", "preset": argv[3],
                          "config": {"steps": steps, "lr": float(sets.get("lr", "0.1"))},
                          "variants": {"main": {"steps": steps}}})
    status = {"state": "running", "variant": "main", "step": 0, "steps": steps,
              "fraction": 0.0, "pid": os.getpid(), "error": None}
    write("status.json", status)
    for step in range(1, steps + 1):
        time.sleep(step_s)
        with open(os.path.join(out, "metrics.jsonl"), "a") as fh:
            fh.write(json.dumps({"variant": "main", "step": step, "loss": 1.0 / step,
                                 "accuracy": 0.1 * step, "time": step * step_s}) + "\n")
        open(os.path.join(out, "checkpoints", "main.pt"), "w").write(str(step))
        write("status.json", {**status, "step": step, "fraction": step / steps})
        if mode == "crash" and step == 2:
            write("status.json", {**status, "state": "failed", "step": step,
                                  "error": "RuntimeError: shapes (2, 3) and (4, 5) differ"})
            sys.exit(1)
    os.makedirs(os.path.join(out, "figures"), exist_ok=True)
    with open(os.path.join(out, "figures", "curves.png"), "wb") as fh:  # a 1x1 PNG
        fh.write(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                               "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201"
                               "a5f5e7de0000000049454e44ae426082"))
    write("result.json", {
        "name": argv[1], "paper": "resnet", "preset": argv[3],
        "figures": [{"file": "figures/curves.png", "caption": "training error",
                     "paper_figure": "Fig. 6"}],
        "metrics": {"main": {"test_accuracy": 0.5, "train_loss": 1.0 / steps}},
        "claims": [{"id": "degradation", "text": "deeper plain nets train worse",
                    "paper": "plain-56 > plain-20", "source": "Fig. 6", "expected": True,
                    "measured": "plain-56 1.2 vs residual-56 0.1",
                    "verdict": "reproduced in miniature"},
                   {"id": "imagenet-top1", "text": "20.74% top-1", "paper": "20.74%",
                    "source": "Table 3", "expected": True, "measured": "",
                    "verdict": "not applicable"}],
        "seed": 0, "device": "cpu", "torch": "fake", "git_commit": "abc", "wall_time_s": 0.1})
    write("status.json", {**status, "state": "done", "step": steps, "fraction": 1.0})
''')

_DESCRIBE_CACHE: dict[str, Path] = {}


def cached_descriptions(tmp_path_factory) -> Path:
    """`.workbench/reproductions/` of a workspace where list + describe resnet ran once."""
    if "dir" not in _DESCRIBE_CACHE:
        from workbench.runs import reproductions as reproduction_info
        from workbench.workspace import Workspace

        ws = Workspace.resolve(tmp_path_factory.mktemp("describe-cache"))
        reproduction_info.describe(ws, "resnet")
        _DESCRIBE_CACHE["dir"] = ws.cache_dir / "reproductions"
    return _DESCRIBE_CACHE["dir"]


def use_fake_child(monkeypatch, tmp_path: Path) -> Path:
    """Make runs launch the fake child instead of `python -m reproductions` (same arguments)."""
    from workbench.runs import queue as run_queue

    script = tmp_path / "fake_child.py"
    script.write_text(FAKE_CHILD)
    real = run_queue.child_argv

    def fake_argv(run, checkpoint_every=None):
        argv = real(run, checkpoint_every)
        assert argv[1:3] == ["-m", "reproductions"]
        return [sys.executable, str(script), *argv[3:]]

    monkeypatch.setattr(run_queue, "child_argv", fake_argv)
    return script


def wait_for(predicate, timeout: float = 180.0, poll: float = 0.1, what: str = "condition"):
    """Poll until `predicate()` is truthy; fail the test (not a timing assertion) if never."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    pytest.fail(f"gave up waiting for {what} after {timeout:.0f} s")


def process_gone(pid: int) -> bool:
    """True when no process has `pid` any more, or only an unreaped zombie."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def stop_everything(ws) -> None:
    """Cancel whatever a test left queued or running (no process outlives its test)."""
    from workbench.runs import folders as runs
    from workbench.runs import queue as run_queue

    for run in runs.list_runs(ws):
        if run.state in runs.ACTIVE:
            try:
                run_queue.cancel(ws, run.id, grace_s=2)
            except runs.RunError:
                pass

