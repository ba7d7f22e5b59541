"""The operating-system processes behind runs: the environment they start in, which ones this
process started, whether a recorded one is still alive, and stopping one with its whole process
group.

A workspace is untrusted input (a cloned classmate's folder): every Python child the workbench
starts gets `python_env()`, so none can import code from the workspace or the working directory.

A run's child is started in its own session (`start_new_session=True`), so its pid is also its
process group's id. `launch.json` records the pid with the process's start time: a pid whose
process started at another time is a recycled pid, never taken for a live run. psutil is
imported where it is used, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping


def python_env(**extra: str) -> dict[str, str]:
    """This process's environment for a Python child that must import installed packages only.

    `PYTHONSAFEPATH=1` is `python -P`: `python -m reproductions` no longer puts the working
    directory first on sys.path, where a workspace's `reproductions/__main__.py` (or `torch.py`)
    would stand in for the installed package. As a variable it also reaches torchrun's workers
    and spawned DataLoader workers. Relative PYTHONPATH entries (an empty one, as left by
    `PYTHONPATH=$PYTHONPATH:/x`, is the working directory) are dropped for the same reason.
    """
    env = {**os.environ, **extra, "PYTHONSAFEPATH": "1"}
    kept = [p for p in env.pop("PYTHONPATH", "").split(os.pathsep) if os.path.isabs(p)]
    if kept:
        env["PYTHONPATH"] = os.pathsep.join(kept)
    return env


# Processes this process started: pid -> Popen. Polling them reaps them (no zombies).
CHILDREN: dict[int, subprocess.Popen] = {}
SUPERVISORS: list[subprocess.Popen] = []


def reap() -> None:
    """Forget the processes started here that have ended (polling them reaps them)."""
    for pid, proc in list(CHILDREN.items()):
        if proc.poll() is not None:
            del CHILDREN[pid]
    for proc in list(SUPERVISORS):
        if proc.poll() is not None:
            SUPERVISORS.remove(proc)


def running_process(launch: Mapping | None):
    """The launched process as a psutil.Process if it is still running, else None.

    A pid whose process started at another time than recorded is a recycled pid: not ours.
    """
    import psutil

    if not launch or not isinstance(launch.get("pid"), int):
        return None
    proc = CHILDREN.get(launch["pid"])
    if proc is not None and proc.poll() is not None:
        return None
    try:
        p = psutil.Process(launch["pid"])
        if abs(p.create_time() - float(launch.get("created", 0))) > 0.05:
            return None
        return None if p.status() == psutil.STATUS_ZOMBIE else p
    except psutil.Error:
        return None


def stop_process(proc, grace_s: float) -> None:
    """SIGTERM the run's process group, SIGKILL what is left after `grace_s` seconds."""
    import psutil

    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        family = [proc]
    with contextlib.suppress(ProcessLookupError, PermissionError, AttributeError):
        os.killpg(proc.pid, signal.SIGTERM)  # start_new_session: pgid == pid
    for p in family:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    owned = CHILDREN.get(proc.pid)
    if owned is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            owned.wait(timeout=grace_s)
    _, alive = psutil.wait_procs(family, timeout=grace_s if owned is None else 0.5)
    if alive:
        with contextlib.suppress(ProcessLookupError, PermissionError, AttributeError):
            os.killpg(proc.pid, signal.SIGKILL)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(alive, timeout=grace_s)
    if owned is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            owned.wait(timeout=grace_s)
    reap()
