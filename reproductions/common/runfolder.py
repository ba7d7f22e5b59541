"""A run folder: everything one run writes, readable without torch.

```
argv.txt            the command line, one argument per line
config.json         {"name", "paper", "preset", "config": {...}, "variants": {name: {...}}}
status.json         heartbeat: {"state": running|done|failed, "variant", "step", "steps",
                    "fraction", "pid", "started_at", "updated_at", "error"}
metrics.jsonl       one JSON object per logged step: {"variant", "step", "loss", ..., "time"}
result.json         metrics per variant, claim verdicts, seed, device, torch, git commit, wall time
checkpoints/<variant>.pt
log.txt             the log, including the traceback of a failed run
```

Only one process writes (rank 0 under torchrun); the others get a disabled folder whose
methods do nothing.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from workbench.fileio import atomic_write_text

log = logging.getLogger("reproductions")

HEARTBEAT_SECONDS = 1.0  # at most one status.json write per second while running


def git_commit(cwd: Path | None = None) -> str | None:
    """The checkout's commit hash, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class RunFolder:
    def __init__(self, path: str | os.PathLike, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled
        self._status: dict[str, Any] = {}
        self._last_beat = 0.0
        self._handler: logging.Handler | None = None
        self._tensorboard = _TensorBoard(self.path / "tensorboard")  # only if installed
        if enabled:
            (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)

    def checkpoint_path(self, variant: str) -> Path:
        return self.path / "checkpoints" / f"{variant}.pt"

    # --- writing -------------------------------------------------------------------------
    def start(self, argv: list[str], config: dict[str, Any], resume: bool = False) -> None:
        """Write argv.txt and config.json, start log.txt, and mark the run as running."""
        if not self.enabled:
            return
        atomic_write_text(self.path / "argv.txt", "\n".join(argv) + "\n")
        atomic_write_text(self.path / "config.json", json.dumps(config, indent=2) + "\n")
        if not resume:
            (self.path / "metrics.jsonl").write_text("")
        self._handler = logging.FileHandler(self.path / "log.txt", encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(self._handler)
        log.setLevel(logging.INFO)
        self._status = {
            "state": "running",
            "name": config.get("name"),
            "preset": config.get("preset"),
            "variant": None,
            "step": 0,
            "steps": 0,
            "fraction": 0.0,
            "pid": os.getpid(),
            "started_at": _now(),
            "updated_at": _now(),
            "error": None,
        }
        self._write_status()

    def heartbeat(self, force: bool = False, **fields: Any) -> None:
        """Update status.json (throttled to one write per HEARTBEAT_SECONDS unless `force`)."""
        if not self.enabled:
            return
        self._status.update(fields, updated_at=_now())
        if force or time.monotonic() - self._last_beat >= HEARTBEAT_SECONDS:
            self._write_status()

    def log_metrics(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        self._tensorboard.log(record)

    def finish(self, result: dict[str, Any]) -> None:
        if not self.enabled:
            return
        atomic_write_text(self.path / "result.json", json.dumps(result, indent=2) + "\n")
        self.heartbeat(force=True, state="done", fraction=1.0)
        self._close()

    def fail(self, error: BaseException) -> None:
        """Record the failure: the traceback goes to log.txt, one line to status.json."""
        if not self.enabled:
            return
        message = f"{type(error).__name__}: {error}".splitlines()[0]
        if self._handler is None:  # failed before start(): still leave a log behind
            self.path.mkdir(parents=True, exist_ok=True)
            self._handler = logging.FileHandler(self.path / "log.txt", encoding="utf-8")
            log.addHandler(self._handler)
        log.error("run failed: %s", message, exc_info=error)
        self.heartbeat(force=True, state="failed", error=message)
        self._close()

    def _write_status(self) -> None:
        atomic_write_text(self.path / "status.json", json.dumps(self._status, indent=2) + "\n")
        self._last_beat = time.monotonic()

    def _close(self) -> None:
        self._tensorboard.close()
        if self._handler is not None:
            log.removeHandler(self._handler)
            self._handler.close()
            self._handler = None


def read_json(path: Path) -> Any:
    """Read a run folder's JSON file (no torch needed)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_metrics(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of metrics.jsonl; a torn last line (a run still writing) is skipped."""
    path = Path(folder) / "metrics.jsonl"
    records = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


class _TensorBoard:
    """TensorBoard event files beside metrics.jsonl, when the `tensorboard` package is installed
    (it is optional): `tensorboard --logdir runs` then shows every run. Each numeric field of a
    metrics record becomes the scalar `<variant>/<key>` (eval records: `<variant>/eval/<key>`)
    at the record's step."""

    def __init__(self, path: Path):
        self.path = path
        self.writer = None
        self.available = True

    def log(self, record: dict[str, Any]) -> None:
        if self.writer is None and self.available:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: metrics.jsonl is enough
                self.available = False
                return
            self.writer = SummaryWriter(str(self.path), flush_secs=5)
        if self.writer is None:
            return
        prefix = f"{record.get('variant', 'main')}/" + ("eval/" if record.get("eval") else "")
        for key, value in record.items():
            if key not in ("variant", "step", "eval", "time") and isinstance(value, (int, float)) \
                    and not isinstance(value, bool):
                self.writer.add_scalar(prefix + key, value, int(record.get("step", 0)))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
