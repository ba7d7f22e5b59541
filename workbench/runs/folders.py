"""Reproduction runs on disk: each run's folder, its state derived from the files, the list.

A run is `python -m reproductions run NAME --preset P --set k=v ... --out runs/<id>` started as
a subprocess in its own session (process group), so the app and the CLI never import torch to
show one. Everything about a run is a file in its folder, so any process (the app after a
restart, a second tab, the CLI) reads the same state:

```
runs/<id>/request.json    written on submit: name, preset, overrides, queue position
runs/<id>/launch.json     written on start: argv, pid and the pid's start time
runs/<id>/cancelled.json  written on cancel
runs/<id>/refused.json    written instead of starting it: its request failed the checks
runs/<id>/console.txt     the child's stdout and stderr
runs/<id>/status.json config.json metrics.jsonl result.json log.txt checkpoints/
                          written by the child (see `reproductions.common.runfolder`)
```

A run's state is derived from those files, in this order: a request.json that is not what
`submit` writes (a field missing, of the wrong type or unknown) -> `invalid`; no launch.json ->
`queued` (or `cancelled` if cancelled.json exists, `invalid` if refused.json does); result.json
-> `done`; cancelled.json -> `cancelled`; its process alive -> `running`; status.json says
failed -> `failed` with its error; else `failed` (the process died without a result) with the
last line of its console.

A workspace may be a cloned classmate's folder, so these files are untrusted input: each is read
only if it is a regular file of at most `MAX_RUN_FILE_BYTES`, an invalid run is shown with its
reason and never started, and nothing in a run folder ever crashes the listing.

Submitting, queueing, launching, cancelling and resuming runs is `workbench.runs.queue`; tables,
curves and comparisons of their results are `workbench.runs.results`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.runs.processes import running_process
from workbench.workspace import MAX_SLUG_LEN, MODULE_SLUG_RE, SLUG_RE, Workspace, validate_slug

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
INVALID = "invalid"  # its request.json is not one the workbench would start: never started
ACTIVE = (QUEUED, RUNNING)
# plain symbols every font has (tables and select boxes show them as text; emoji need a font
# that Linux machines often lack): "► running", "● done", "× failed"
STATE_ICONS = {QUEUED: "○", RUNNING: "►", DONE: "●", FAILED: "×", CANCELLED: "■", INVALID: "!"}
MAX_RUN_FILE_BYTES = 4 << 20  # the JSON files of a run are a few KiB; /dev/zero is not one


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
    checkpoint_every: int | None = None

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
                shown = f"{v:.4g}" if isinstance(v, (int, float)) else one_line(v, 40)
                return f"{k}={shown}" + (f" ({variant})" if variant != "main" else "")
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


def _open_regular(path: Path):
    """`path` opened for reading, or OSError if it is not a regular file: a FIFO would block
    the page forever and /dev/zero never ends (O_NONBLOCK: opening a FIFO does not wait)."""
    fh = open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb")
    if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
        fh.close()
        raise OSError(f"{path} is not a regular file")
    return fh


def read_json(path: Path) -> Any:
    """A run file's JSON, or None when it is missing, torn, not a regular file or too big."""
    try:
        with _open_regular(path) as fh:
            data = fh.read(MAX_RUN_FILE_BYTES + 1)
        if len(data) > MAX_RUN_FILE_BYTES:
            return None
        return json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


# request.json as `run_queue.submit` writes it: field -> (accepted types, required)
_REQUEST_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "name": ((str,), True), "preset": ((str,), True), "overrides": ((dict,), False),
    "checkpoint_every": ((int, type(None)), False), "queued_ns": ((int,), False),
    "submitted": ((str,), False), "attempt": ((int,), False), "resume": ((bool,), False),
    "history": ((list,), False)}


def request_problem(request: Any) -> str | None:
    """Why `request` is not a request.json the workbench writes, or None.

    Only its form is checked here (a known reproduction, preset and overrides is
    `run_queue`'s check before start): every field of the right type, none unknown.
    """
    if not isinstance(request, dict):
        return f"request.json is not a JSON object (of at most {MAX_RUN_FILE_BYTES >> 20} MiB)"
    for key in request:
        if key not in _REQUEST_FIELDS:
            return f"request.json has an unknown field {_shown(key)}"
    for key, (types, required) in _REQUEST_FIELDS.items():
        if key not in request:
            if required:
                return f"request.json has no {key!r}"
            continue
        value = request[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"request.json: {key} must be {' or '.join(_TYPE_WORDS[t] for t in types)}"
    overrides = request.get("overrides", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in overrides.items()):
        return "request.json: overrides must map config keys to text (\"lr\": \"0.1\")"
    if not MODULE_SLUG_RE.fullmatch(request["name"]) or len(request["name"]) > MAX_SLUG_LEN:
        return f"request.json: name {_shown(request['name'])} is not a reproduction's name"
    texts = [request["preset"], *overrides, *overrides.values()]
    if not all(t.isprintable() and len(t) <= 1000 for t in texts):
        return "request.json: the preset and each override must be one line of printable text"
    for key in ("checkpoint_every", "attempt"):
        if request.get(key) is not None and request[key] < 1:
            return f"request.json: {key} must be >= 1, got {request[key]}"
    return None


_TYPE_WORDS = {str: "text", dict: "an object", int: "an integer", type(None): "null",
               bool: "true or false", list: "a list"}


def one_line(value: Any, limit: int = 300) -> str:
    """`value` for a one-line message: escapes instead of newlines and other control characters,
    at most `limit` characters (a run file may come from someone else's workspace)."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text[:limit + 1])
    return text if len(text) <= limit else text[:limit] + "..."


def _shown(value: Any) -> str:
    return repr(one_line(value, 80))


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with _open_regular(path) as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read(64 * 1024).decode("utf-8", "replace")
    except OSError:
        return []
    # tqdm redraws with carriage returns: keep what the last redraw shows
    return [ln.rsplit("\r", 1)[-1] for ln in text.splitlines()][-lines:]


def _result_problem(result: Mapping) -> str | None:
    """Why result.json is not one a reproduction writes (the tables would fail on it), or None."""
    metrics, claims = result.get("metrics", {}), result.get("claims", [])
    if not (isinstance(metrics, dict) and all(isinstance(m, dict) for m in metrics.values())):
        return "result.json: metrics must map each variant to its metrics"
    if not (isinstance(claims, list) and all(
            isinstance(c, dict) and isinstance(c.get("id"), str)
            and isinstance(c.get("verdict"), str) and {"paper", "source"} <= c.keys()
            for c in claims)):
        return "result.json: each claim needs an id, a verdict, the paper's number and a source"
    return None


def _last_activity(folder: Path) -> float | None:
    times = []
    for name in ("status.json", "log.txt", "console.txt", "metrics.jsonl", "result.json"):
        with contextlib.suppress(OSError):
            times.append((folder / name).stat().st_mtime)
    return max(times) if times else None


def _failure_message(folder: Path, status: Mapping | None) -> str:
    if status and status.get("state") == FAILED and status.get("error"):
        return one_line(status["error"], 1000)
    console = [ln for ln in _tail(folder / "console.txt", 40) if ln.strip()]
    errors = [ln for ln in console if ln.startswith("error:")]
    if errors:
        return errors[-1].removeprefix("error:").strip()
    if console:
        return console[-1].strip()
    return "the process ended without writing result.json (killed?); see log.txt"


def _run_dir(ws: Workspace, run_id: str) -> Path:
    return ws.runs_dir / validate_slug(run_id, "run id")


def _object(path: Path) -> dict | None:
    data = read_json(path)
    return data if isinstance(data, dict) else None


def _number(value: Any, kind: type = int) -> Any:
    """`kind(value)`, or 0 when a (hand-edited, cloned) file holds something else there."""
    try:
        number = kind(value or 0)
    except (TypeError, ValueError, OverflowError):
        return kind(0)
    return number if math.isfinite(number) else kind(0)


def _time(data: Mapping | None, key: str) -> float | None:
    """An epoch time from launch.json or cancelled.json, or None."""
    return (_number(data.get(key), float) or None) if data else None


def _invalid_run(folder: Path, request: Any, reason: str) -> Run:
    """A run whose request is not one the workbench would start: shown with why, never run."""
    request = request if isinstance(request, dict) else {}
    name, preset = request.get("name"), request.get("preset")
    return Run(id=folder.name, folder=folder, name=one_line(name, 80) if name else "?",
               preset=one_line(preset, 80) if preset else "?", overrides={}, state=INVALID,
               error=reason)


def load_run(folder: Path) -> Run:
    """The run in `folder`, its state derived from the files (see the module docstring)."""
    if not (folder / "request.json").is_file():
        raise RunError(f"{folder} is not a run submitted by the workbench (no request.json)")
    request = read_json(folder / "request.json")
    problem = request_problem(request)
    if folder.is_symlink():
        problem = "the run folder is a link; a run writes only into its own folder"
    if problem:
        return _invalid_run(folder, request, problem)
    launch = _object(folder / "launch.json")
    cancelled = _object(folder / "cancelled.json")
    proc = running_process(launch) if launch else None
    # read after the liveness check: a child that has just exited has written its result
    status = _object(folder / "status.json") if launch else None
    result = _object(folder / "result.json") if launch else None
    refused = _object(folder / "refused.json") if not launch else None
    error, ended = None, None
    if not launch:
        state = CANCELLED if cancelled else INVALID if refused else QUEUED
        ended = _time(cancelled, "at")
        error = one_line(refused.get("error")) if state == INVALID else None
    elif result and _result_problem(result):
        state, error, ended = FAILED, _result_problem(result), _last_activity(folder)
        result = None
    elif result:
        state, ended = DONE, _last_activity(folder)
    elif cancelled:
        state, ended = CANCELLED, _time(cancelled, "at")
    elif proc is not None:
        state = RUNNING
    else:
        state, error, ended = FAILED, _failure_message(folder, status), _last_activity(folder)
    status = status or {}
    fraction = 1.0 if state == DONE else min(1.0, max(0.0, _number(status.get("fraction"), float)))
    return Run(
        id=folder.name, folder=folder, name=request["name"], preset=request["preset"],
        overrides=request.get("overrides", {}), state=state,
        queued_ns=request.get("queued_ns", 0),
        started_at=_time(launch, "started"), ended_at=ended,
        pid=launch.get("pid") if launch else None, alive=proc is not None,
        attempt=request.get("attempt", 1), error=error,
        variant=status.get("variant"), step=_number(status.get("step")),
        steps=_number(status.get("steps")),
        fraction=fraction,
        result=result, config=_object(folder / "config.json") if launch else None,
        resume=request.get("resume", False), checkpoint_every=request.get("checkpoint_every"))


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
    for folder in ws.runs_dir.iterdir():  # a name no command can address is not a run
        if SLUG_RE.fullmatch(folder.name) and (folder / "request.json").is_file():
            with contextlib.suppress(RunError):
                runs.append(load_run(folder))
    return sorted(runs, key=lambda r: (r.queued_ns, r.id), reverse=True)


def queued_runs(ws: Workspace) -> list[Run]:
    """The queue, first to start first."""
    return sorted((r for r in list_runs(ws) if r.state == QUEUED),
                  key=lambda r: (r.queued_ns, r.id))


def read_metrics(run: Run) -> list[dict]:
    """metrics.jsonl's records; a torn last line (the child is writing) is skipped, and so is
    a line that is not a JSON object with a step."""
    records = []
    with contextlib.suppress(OSError), _open_regular(run.folder / "metrics.jsonl") as fh:
        for line in fh.read().decode("utf-8", "replace").splitlines():
            with contextlib.suppress(ValueError, RecursionError):
                record = json.loads(line)
                if isinstance(record, dict) and isinstance(record.get("step"), (int, float)):
                    records.append(record)
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
