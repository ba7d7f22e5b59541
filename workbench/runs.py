"""Reproduction runs on disk: each run's folder, its state derived from the files, the list.

A run is `python -m reproductions run NAME --preset P --set k=v ... --out runs/<id>` started as
a subprocess in its own session (process group), so the app and the CLI never import torch to
show one. Everything about a run is a file in its folder, so any process (the app after a
restart, a second tab, the CLI) reads the same state:

```
runs/<id>/request.json    written on submit: name, preset, overrides, queue position
runs/<id>/launch.json     written on start: argv, pid and the pid's start time
runs/<id>/cancelled.json  written on cancel
runs/<id>/console.txt     the child's stdout and stderr
runs/<id>/status.json config.json metrics.jsonl result.json log.txt checkpoints/
                          written by the child (see `reproductions.common.runfolder`)
```

A run's state is derived from those files, in this order: no launch.json -> `queued` (or
`cancelled` if cancelled.json exists); result.json -> `done`; cancelled.json -> `cancelled`;
its process alive -> `running`; status.json says failed -> `failed` with its error; else
`failed` (the process died without a result) with the last line of its console.

Submitting, queueing, launching, cancelling and resuming runs is `workbench.run_queue`; tables,
curves and comparisons of their results are `workbench.run_results`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.run_processes import running_process
from workbench.workspace import Workspace, validate_slug

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)
STATE_ICONS = {QUEUED: "⏳", RUNNING: "🏃", DONE: "✅", FAILED: "❌", CANCELLED: "⏹"}


class RunError(WorkbenchError):
    """An unknown run, or an action its state does not allow (cancel a finished run, ...)."""


# --- run folders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    id: str
    folder: Path
    name: str
    preset: str
    overrides: Mapping[str, str]
    state: str
    queued_ns: int = 0
    started_at: float | None = None  # epoch seconds of the latest launch
    ended_at: float | None = None
    pid: int | None = None
    alive: bool = False
    attempt: int = 1
    error: str | None = None
    variant: str | None = None
    step: int = 0
    steps: int = 0
    fraction: float = 0.0
    result: Mapping | None = None
    config: Mapping | None = None
    resume: bool = False

    @property
    def duration_s(self) -> float | None:
        if self.result and "wall_time_s" in self.result:
            return float(self.result["wall_time_s"])
        if self.started_at is None:
            return None
        return max(0.0, (self.ended_at or time.time()) - self.started_at)

    @property
    def paper(self) -> str | None:
        return (self.result or self.config or {}).get("paper")

    def headline(self) -> str:
        """The first metric of the first variant: `test_accuracy=0.9512 (main)`."""
        for variant, metrics in (self.result or {}).get("metrics", {}).items():
            for k, v in metrics.items():
                return f"{k}={v:.4g}" + (f" ({variant})" if variant != "main" else "")
        return ""

    def verdict_summary(self) -> str:
        """Claim verdicts counted: `2 reproduced in miniature, 1 not applicable`."""
        counts: dict[str, int] = {}
        for c in (self.result or {}).get("claims", []):
            counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
        return ", ".join(f"{n} {v}" for v, n in counts.items())

    @property
    def checkpoints(self) -> list[Path]:
        return sorted((self.folder / "checkpoints").glob("*.pt"))


def read_json(path: Path) -> Any:
    """A run file's JSON, or None when it is missing or torn."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    # tqdm redraws with carriage returns: keep what the last redraw shows
    return [ln.rsplit("\r", 1)[-1] for ln in text.splitlines()][-lines:]


def _last_activity(folder: Path) -> float | None:
    times = []
    for name in ("status.json", "log.txt", "console.txt", "metrics.jsonl", "result.json"):
        with contextlib.suppress(OSError):
            times.append((folder / name).stat().st_mtime)
    return max(times) if times else None


def _failure_message(folder: Path, status: Mapping | None) -> str:
    if status and status.get("state") == FAILED and status.get("error"):
        return str(status["error"])
    console = [ln for ln in _tail(folder / "console.txt", 40) if ln.strip()]
    errors = [ln for ln in console if ln.startswith("error:")]
    if errors:
        return errors[-1].removeprefix("error:").strip()
    if console:
        return console[-1].strip()
    return "the process ended without writing result.json (killed?); see log.txt"


def _run_dir(ws: Workspace, run_id: str) -> Path:
    return ws.runs_dir / validate_slug(run_id, "run id")


def load_run(folder: Path) -> Run:
    """The run in `folder`, its state derived from the files (see the module docstring)."""
    request = read_json(folder / "request.json")
    if not isinstance(request, dict):
        raise RunError(f"{folder} is not a run submitted by the workbench (no request.json)")
    launch = read_json(folder / "launch.json")
    cancelled = read_json(folder / "cancelled.json")
    proc = running_process(launch) if launch else None
    # read after the liveness check: a child that has just exited has written its result
    status = read_json(folder / "status.json") if launch else None
    result = read_json(folder / "result.json") if launch else None
    error, ended = None, None
    if not launch:
        state = CANCELLED if cancelled else QUEUED
        ended = cancelled.get("at") if cancelled else None
    elif result:
        state, ended = DONE, _last_activity(folder)
    elif cancelled:
        state, ended = CANCELLED, cancelled.get("at")
    elif proc is not None:
        state = RUNNING
    else:
        state, error, ended = FAILED, _failure_message(folder, status), _last_activity(folder)
    status = status or {}
    return Run(
        id=folder.name, folder=folder, name=request["name"], preset=request["preset"],
        overrides=request.get("overrides", {}), state=state,
        queued_ns=int(request.get("queued_ns", 0)),
        started_at=launch.get("started") if launch else None, ended_at=ended,
        pid=launch.get("pid") if launch else None, alive=proc is not None,
        attempt=int(request.get("attempt", 1)), error=error,
        variant=status.get("variant"), step=int(status.get("step") or 0),
        steps=int(status.get("steps") or 0),
        fraction=1.0 if state == DONE else float(status.get("fraction") or 0.0),
        result=result, config=read_json(folder / "config.json") if launch else None,
        resume=bool(request.get("resume")))


def get_run(ws: Workspace, run_id: str) -> Run:
    folder = _run_dir(ws, run_id)
    if not (folder / "request.json").exists():
        raise RunError(f"no run '{run_id}' in {ws.runs_dir}; `workbench repro status` lists them")
    return load_run(folder)


def list_runs(ws: Workspace) -> list[Run]:
    """Every run submitted by the workbench, newest first."""
    if not ws.runs_dir.is_dir():
        return []
    runs = []
    for folder in ws.runs_dir.iterdir():
        if (folder / "request.json").is_file():
            with contextlib.suppress(RunError):
                runs.append(load_run(folder))
    return sorted(runs, key=lambda r: (r.queued_ns, r.id), reverse=True)


def queued_runs(ws: Workspace) -> list[Run]:
    """The queue, first to start first."""
    return sorted((r for r in list_runs(ws) if r.state == QUEUED),
                  key=lambda r: (r.queued_ns, r.id))


def read_metrics(run: Run) -> list[dict]:
    """metrics.jsonl's records; a torn last line (the child is writing) is skipped."""
    records = []
    with contextlib.suppress(OSError):
        for line in (run.folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    return records


def log_tail(run: Run, lines: int = 30) -> str:
    """The last lines of log.txt, then of the console when it says more (errors before start)."""
    parts = _tail(run.folder / "log.txt", lines)
    known = "\n".join(parts)
    console = [ln for ln in _tail(run.folder / "console.txt", lines)
               if ln.strip() and ln.strip() not in known]
    if console:
        parts += ["--- console ---", *console]
    return "\n".join(parts)
