"""The crash-test harness: start a writer process, SIGKILL it at a random moment, check the files
it left, start the next writer on them, repeat.

Used by tests/test_crash_safety.py (notes, catalog, run queue) and tests/notes/test_notes_crash.py.
One knob: $CRASH_KILLS kills per test (default 20: well under a minute on an idle laptop;
RELIABILITY.md records a run with CRASH_KILLS=200). Every failure message names the kill and the
random seed that drew the kill moments.

A writer is a script the test holds as source text: `load_writer` saves it and imports it, so the
test can rebuild what the writer wrote (the k-th note save, the k-th catalog entry). Writers start
as the workbench starts its own Python children (`python_env`: installed packages only, not the
script's folder or the working directory) with one OpenMP thread, as the cores are shared.
"""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from workbench.runs import python_env

KILLS = int(os.environ.get("CRASH_KILLS", "20"))


def load_writer(source: str, folder: Path, name: str = "writer") -> ModuleType:
    """Save `source` as `folder/name.py` and import it (its path is the module's `__file__`)."""
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start(writer: ModuleType, *args) -> subprocess.Popen:
    """Run the writer's script with `args`; its stdout and stderr are pipes (text)."""
    return subprocess.Popen([sys.executable, writer.__file__, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=python_env(OMP_NUM_THREADS="1"))


def kill_repeatedly(writer: ModuleType, args: list, *, ready: str, max_delay_s: float,
                    check: Callable[[], None], kills: int = KILLS) -> int:
    """Kill `kills` writers, each at a random moment; call `check()` after each kill.

    Each writer runs with `args`, prints the line `ready` once it is writing, and writes until
    killed: it gets SIGKILL 0 to `max_delay_s` seconds after that line. A writer that does not
    start or dies on its own fails the test with its stderr; so does any exception from `check`,
    with the kill and the seed put in front of its message. Returns the seed.
    """
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    for kill in range(1, kills + 1):
        where = f"kill {kill}/{kills}, seed {seed}"
        proc = start(writer, *args)
        try:
            started = proc.stdout.readline() == ready + "\n"
            if started:
                time.sleep(rng.uniform(0, max_delay_s))
            alive = proc.poll() is None
        finally:
            proc.kill()
            _, stderr = proc.communicate()
        if not started:
            raise AssertionError(f"{where}: the writer did not start: {stderr[-2000:]}")
        if not alive:
            raise AssertionError(f"{where}: the writer died on its own: {stderr[-2000:]}")
        try:
            check()
        except Exception as error:  # a torn file raises its parser's error, not an assert
            what = "" if isinstance(error, AssertionError) else f"{type(error).__name__}: "
            raise AssertionError(f"{where}: {what}{error}") from error
    return seed
