"""The run queue: submit runs, start them when a slot is free, cancel and resume them.

The queue is the set of run folders without launch.json (see `workbench.runs.folders`), ordered by the
time they were submitted: `pump()` starts them while fewer than `max_concurrent` runs (default
1, or `$WORKBENCH_MAX_RUNS`) are alive. The app calls `pump()` once a second, the CLI while it
waits, and `workbench repro pump --wait` (started by `ensure_supervisor()`) until the queue is
empty. `launch()` is the one launch policy the app and the CLI share: start a queued run now if
a slot is free, else make sure a background supervisor starts it later.

Two locks, both `workbench.fileio.locked` (flock on a folder): the runs folder itself makes
check-then-start (and cancel, resume) one step across processes; `.workbench/runs-supervisor/`
lets one supervisor at a time run per workspace, without blocking the pumps. Run folders are
created with `mkdir` (never reused) and never overwritten, except by `resume`, which relaunches
the same run with `--resume` into its own folder.

A queued request.json may come from a cloned classmate's workspace, so `pump()` checks each one
as the CLI checks typed arguments (a known reproduction and preset, overrides that pass
`validate_overrides`, no linked file in its folder) and marks a bad one `invalid` with the reason
(refused.json) instead of starting it. A run starts as the installed package
(`run_processes.python_env()`), never as code found in the workspace.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.fileio import atomic_write_text, locked
from workbench.runs import processes as run_processes
from workbench.runs.folders import (
    ACTIVE,
    CANCELLED,
    FAILED,
    QUEUED,
    Run,
    RunError,
    get_run,
    list_runs,
    load_run,
    one_line,
    read_json,
)
from workbench.runs.overrides import ConfigError
from workbench.runs.reproductions import describe, validate_overrides
from workbench.workspace import Workspace

log = logging.getLogger(__name__)

CANCEL_GRACE_S = 5.0  # SIGTERM, then SIGKILL after this long


def _write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


# --- submit, launch, cancel, resume -------------------------------------------------------------


def default_max_runs() -> int:
    """`$WORKBENCH_MAX_RUNS`, else 1: one run at a time on a 2-core laptop."""
    try:
        return max(1, int(os.environ.get("WORKBENCH_MAX_RUNS", "1")))
    except ValueError:
        return 1


def _new_folder(ws: Workspace, name: str) -> Path:
    """`runs/<UTC time>-<name>`, with `-2`, `-3`, ... when taken: mkdir never reuses a folder.
    A run's id is its folder's name, a slug: `depth_anything` runs in `...-depth-anything`."""
    ws.runs_dir.mkdir(parents=True, exist_ok=True)
    base = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{name.replace('_', '-')}"
    for n in range(1, 1000):
        folder = ws.runs_dir / (base if n == 1 else f"{base}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise RunError(f"cannot find a free run folder name for {base} in {ws.runs_dir}")


def submit(ws: Workspace, name: str, preset: str | None = None,
           overrides: Mapping[str, str] | Sequence[str] = (), *,
           checkpoint_every: int | None = None) -> Run:
    """Queue a run of reproduction `name` after validating the preset and overrides.

    Nothing starts here: `pump()` starts it when a slot is free.
    """
    repro = describe(ws, name)
    preset = preset or repro.default_preset()
    checked = validate_overrides(repro, preset, overrides)
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ConfigError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
    folder = _new_folder(ws, name)
    _write_json(folder / "request.json", {
        "name": name, "preset": preset, "overrides": checked,
        "checkpoint_every": checkpoint_every, "queued_ns": time.time_ns(),
        "submitted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "attempt": 1, "resume": False, "history": []})
    log.info("queued %s (%s/%s)", folder.name, name, preset)
    return load_run(folder)


def child_argv(run: Run, checkpoint_every: int | None = None) -> list[str]:
    argv = [sys.executable, "-m", "reproductions", "run", run.name, "--preset", run.preset]
    for key, text in run.overrides.items():
        argv += ["--set", f"{key}={text}"]
    argv += ["--out", str(run.folder), "--quiet"]
    if checkpoint_every:
        argv += ["--checkpoint-every", str(checkpoint_every)]
    return argv + (["--resume"] if run.resume else [])


def start_refusal(ws: Workspace, run: Run) -> str | None:
    """Why the queued `run` must not start, or None: its request names an unknown reproduction
    or preset, holds an override the CLI would refuse, or its folder holds a link (the child
    would write through it)."""
    try:
        validate_overrides(describe(ws, run.name), run.preset, run.overrides)
        linked = [p.name for p in run.folder.iterdir() if p.is_symlink()]
    except WorkbenchError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot check it: {one_line(str(exc))}"
    if linked:
        return (f"{one_line(linked[0], 80)} in the run folder is a link; a run writes only into "
                "its own folder")
    return None


def _spawn(ws: Workspace, run: Run) -> None:
    import psutil

    argv = child_argv(run, run.checkpoint_every)
    with open(run.folder / "console.txt", "ab") as console:
        proc = subprocess.Popen(  # its own session: cancel signals the whole process group
            argv, cwd=ws.root, stdin=subprocess.DEVNULL, stdout=console,
            stderr=subprocess.STDOUT, start_new_session=True,
            env=run_processes.python_env(PYTHONUNBUFFERED="1"))
    run_processes.CHILDREN[proc.pid] = proc
    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.Error:  # it already ended (and is reaped): record it as such
        created = 0.0
    _write_json(run.folder / "launch.json", {
        "run": run.id, "pid": proc.pid, "created": created, "started": time.time(),
        "argv": argv, "attempt": run.attempt, "by_pid": os.getpid()})
    log.info("started %s as pid %d", run.id, proc.pid)


def pump(ws: Workspace, max_concurrent: int | None = None) -> list[str]:
    """Start queued runs, oldest first, while fewer than `max_concurrent` are alive; mark each
    queued run that `start_refusal` refuses `invalid` instead.

    Returns the ids started. Safe to call from several processes at once, and often.
    """
    limit = max_concurrent or default_max_runs()
    run_processes.reap()
    started: list[str] = []
    if not ws.runs_dir.is_dir():
        return started
    with locked(ws.runs_dir):  # check-then-start is one step across processes
        runs = list_runs(ws)
        busy = sum(1 for r in runs if r.alive)
        for run in sorted((r for r in runs if r.state == QUEUED), key=lambda r: r.queued_ns):
            problem = start_refusal(ws, run)
            if problem:  # recorded for every reader; unwritable: refused again on the next pump
                with contextlib.suppress(OSError):
                    _write_json(run.folder / "refused.json", {"at": time.time(), "error": problem})
                log.warning("not starting %s: %s", run.id, problem)
                continue
            if busy < limit:  # the runs behind are still checked, so each shows its state
                _spawn(ws, run)
                started.append(run.id)
                busy += 1
    return started


def launch(ws: Workspace, run: Run) -> Run:
    """Start the queued `run` (from `submit` or `resume`) now if a slot is free; if it waits
    behind other runs, make sure a background supervisor will start it, so it starts even when
    the app's tab or the terminal is closed. The app and the CLI launch every run this way.

    Returns the run as it is now: running, still queued, or invalid (refused by `pump`).
    """
    pump(ws)
    run = get_run(ws, run.id)
    if run.state == QUEUED:
        ensure_supervisor(ws)
    return run


def cancel(ws: Workspace, run_id: str, grace_s: float = CANCEL_GRACE_S) -> Run:
    """Cancel a queued or running run; a running one is stopped with its whole process group."""
    get_run(ws, run_id)  # an unknown or unsafe id is refused before the runs folder is locked
    with locked(ws.runs_dir):
        run = get_run(ws, run_id)
        if run.state not in ACTIVE:
            raise RunError(f"run {run_id} is {run.state}; only queued or running runs can be "
                           "cancelled")
        _write_json(run.folder / "cancelled.json", {"at": time.time(), "state_was": run.state})
        launch = read_json(run.folder / "launch.json")
    proc = run_processes.running_process(launch)
    if proc is not None:
        run_processes.stop_process(proc, grace_s)
    log.info("cancelled %s", run_id)
    return get_run(ws, run_id)


def resume(ws: Workspace, run_id: str) -> Run:
    """Queue a failed or cancelled run again, to continue from its checkpoints (`--resume`)."""
    get_run(ws, run_id)  # an unknown or unsafe id is refused before the runs folder is locked
    with locked(ws.runs_dir):
        run = get_run(ws, run_id)
        if run.state not in (FAILED, CANCELLED) or run.alive:
            raise RunError(f"run {run_id} is {run.state}; only a failed or cancelled run can be "
                           "resumed")
        if not run.checkpoints:
            raise RunError(f"run {run_id} has no checkpoint to resume from; start a new run")
        request = read_json(run.folder / "request.json")
        request["history"] = [*request.get("history", []), {
            "launch": read_json(run.folder / "launch.json"),
            "cancelled": read_json(run.folder / "cancelled.json"),
            "state": run.state, "error": run.error}]
        request.update(resume=True, attempt=run.attempt + 1, queued_ns=time.time_ns())
        _write_json(run.folder / "request.json", request)
        for name in ("launch.json", "cancelled.json"):
            (run.folder / name).unlink(missing_ok=True)
    log.info("re-queued %s to resume from %s", run_id, ", ".join(p.name for p in run.checkpoints))
    return get_run(ws, run_id)


# --- the background supervisor ------------------------------------------------------------------


def supervise(ws: Workspace, poll_s: float = 1.0, max_concurrent: int | None = None) -> bool:
    """Pump until nothing is queued or running; False at once if another supervisor already does
    (it holds `.workbench/runs-supervisor/`, a lock apart from the pumps' one)."""
    folder = ws.cache_dir / "runs-supervisor"
    folder.mkdir(parents=True, exist_ok=True)
    with locked(folder, blocking=False) as held:
        if not held:
            return False
        while True:
            pump(ws, max_concurrent)
            if not any(r.state in ACTIVE for r in list_runs(ws)) and not run_processes.CHILDREN:
                return True
            time.sleep(poll_s)


def ensure_supervisor(ws: Workspace) -> None:
    """Start `workbench repro pump --wait` in the background (it exits at once if one runs),
    so queued runs start even when no app or CLI is open."""
    ws.cache_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "workbench", "--workspace", str(ws.root), "repro", "pump",
            "--wait"]
    with open(ws.cache_dir / "supervisor.log", "ab") as out:
        run_processes.SUPERVISORS.append(subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=run_processes.python_env()))
