"""Reproduction runs: submit, queue, launch, watch, cancel, resume and compare them.

A run is `python -m reproductions run NAME --preset P --set k=v ... --out runs/<id>` started as
a subprocess in its own session (process group), so the app and the CLI never import torch to
show one. Everything about a run is a file in its folder, so any process (the app after a
restart, a second tab, the CLI) reads the same state:

```
runs/<id>/request.json    written here on submit: name, preset, overrides, queue position
runs/<id>/launch.json     written here on start: argv, pid and the pid's start time
runs/<id>/cancelled.json  written here on cancel
runs/<id>/console.txt     the child's stdout and stderr
runs/<id>/status.json config.json metrics.jsonl result.json log.txt checkpoints/
                          written by the child (see `reproductions.common.runfolder`)
```

A run's state is derived from those files, in this order: no launch.json -> `queued` (or
`cancelled` if cancelled.json exists); result.json -> `done`; cancelled.json -> `cancelled`;
its process alive -> `running`; status.json says failed -> `failed` with its error; else
`failed` (the process died without a result) with the last line of its console.

The queue is the set of run folders without launch.json, ordered by the time they were
submitted: `pump()` starts them while fewer than `max_concurrent` runs (default 1, or
`$WORKBENCH_MAX_RUNS`) are alive. The app calls `pump()` once a second, the CLI while it waits,
and `workbench repro pump --wait` (started by `ensure_supervisor()`) until the queue is empty;
an fcntl lock makes check-then-start one step across processes. A pid is recorded with its
process's start time, so a recycled pid is never taken for a live run. Run folders are
created with `mkdir` (never reused) and never overwritten, except by `resume`, which relaunches
the same run with `--resume` into its own folder.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import difflib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.fileio import atomic_write_text
from workbench.workspace import Workspace, validate_slug

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)
STATE_ICONS = {QUEUED: "⏳", RUNNING: "🏃", DONE: "✅", FAILED: "❌", CANCELLED: "⏹"}
DESCRIBE_TIMEOUT_S = 180  # `describe` imports torch and the module: seconds on a laptop
CANCEL_GRACE_S = 5.0  # SIGTERM, then SIGKILL after this long
CONTRACT_MINIMUMS = {"steps": 1, "batch_size": 1, "seed": 0}  # fields every Config has
CONTRACT_POSITIVE = ("lr",)


class RunError(WorkbenchError):
    """An unknown run, or an action its state does not allow (cancel a finished run, ...)."""


class OverrideError(WorkbenchError, ValueError):
    """A `--set key=value` override refused before launch: unknown key, wrong type, range."""


class ReproductionUnavailable(WorkbenchError):
    """`python -m reproductions list/describe` failed or names no such reproduction."""


# --- the reproductions' descriptions (cached) ---------------------------------------------------


@dataclass(frozen=True)
class ConfigField:
    name: str
    type: str  # the annotation as `describe` prints it: "int", "str | None", "Literal['a', 'b']"
    defaults: Mapping[str, Any]  # preset -> default (JSON: tuples are lists)
    help: str = ""

    @property
    def annotation(self) -> Any:
        return parse_type(self.type)

    @property
    def choices(self) -> tuple | None:
        """The allowed values of a `Literal[...]` field, else None."""
        tp = self.annotation
        return typing.get_args(tp) if typing.get_origin(tp) is typing.Literal else None

    @property
    def kind(self) -> str:
        """How the form shows it: `bool` (checkbox), `choice` (select box) or `text`."""
        if self.annotation is bool:
            return "bool"
        return "choice" if self.choices else "text"


@dataclass(frozen=True)
class Reproduction:
    name: str
    paper: str
    title: str
    presets: tuple[str, ...]
    fields: tuple[ConfigField, ...]
    claims: tuple[dict, ...]
    variants: Mapping[str, list[str]]

    def field(self, name: str) -> ConfigField:
        for f in self.fields:
            if f.name == name:
                return f
        known = [f.name for f in self.fields]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        raise OverrideError(f"{self.name} has no config key '{name}'; {hint}")

    def default_preset(self) -> str:
        return "mini" if "mini" in self.presets else self.presets[0]


def _package_dir() -> Path:
    """The reproductions package's folder, found without importing it (that imports torch)."""
    import importlib.util

    spec = importlib.util.find_spec("reproductions")
    if spec is None or not spec.submodule_search_locations:
        raise ReproductionUnavailable("the reproductions package is not installed; run "
                                      "`pip install -e .` in the checkout")
    return Path(list(spec.submodule_search_locations)[0])


def _stamp(paths: Sequence[Path]) -> list:
    """What invalidates a cached description: each source file's mtime and size."""
    out = []
    for p in sorted(paths):
        with contextlib.suppress(OSError):
            st = p.stat()
            out.append([p.name, st.st_mtime_ns, st.st_size])
    return out


def _reproductions_json(ws: Workspace, args: list[str], cache_name: str, sources: list[Path]):
    """`python -m reproductions ARGS --json`, cached in .workbench/reproductions/ by source stamp."""
    cache = ws.cache_dir / "reproductions" / f"{cache_name}.json"
    stamp = _stamp(sources)
    with contextlib.suppress(OSError, ValueError, KeyError):
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached["stamp"] == stamp:
            return cached["data"]
    argv = [sys.executable, "-m", "reproductions", *args, "--json"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=DESCRIBE_TIMEOUT_S,
                             check=False, cwd=ws.root if ws.root.is_dir() else None)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReproductionUnavailable(f"`python -m reproductions {' '.join(args)}` did not "
                                      f"answer: {exc}") from None
    if out.returncode != 0:
        lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
        raise ReproductionUnavailable(
            f"`python -m reproductions {' '.join(args)}` failed: "
            f"{lines[-1] if lines else f'exit status {out.returncode}'}")
    try:
        data = json.loads(out.stdout)
    except ValueError:
        raise ReproductionUnavailable(f"`python -m reproductions {' '.join(args)}` printed no "
                                      "JSON; run it in a terminal to see why") from None
    atomic_write_text(cache, json.dumps({"stamp": stamp, "data": data}) + "\n")
    return data


def list_reproductions(ws: Workspace) -> list[dict]:
    """`[{name, paper, title, presets, claims}]` of every registered reproduction (cached)."""
    pkg = _package_dir()
    return _reproductions_json(ws, ["list"], "list",
                               [*pkg.glob("*.py"), *(pkg / "common").glob("*.py")])


def describe(ws: Workspace, name: str) -> Reproduction:
    """A reproduction's Config fields (type, default per preset, help), presets and claims."""
    validate_slug(name, "reproduction")
    known = [r["name"] for r in list_reproductions(ws)]
    if name not in known:
        raise ReproductionUnavailable(f"unknown reproduction '{name}'; available: "
                                      f"{', '.join(known) or 'none'}")
    pkg = _package_dir()
    data = _reproductions_json(ws, ["describe", name], f"describe-{name}",
                               [pkg / f"{name}.py", *(pkg / "common").glob("*.py")])
    return Reproduction(
        name=data["name"], paper=data["paper"], title=data["title"],
        presets=tuple(data["presets"]),
        fields=tuple(ConfigField(f["name"], f["type"], f["defaults"], f.get("help", ""))
                     for f in data["fields"]),
        claims=tuple(data.get("claim_list", [])), variants=data.get("variants", {}))


def reproduction_for_paper(ws: Workspace, paper_id: str | None) -> str | None:
    """The name of the reproduction whose `PAPER` is `paper_id`, if there is one."""
    for r in list_reproductions(ws) if paper_id else []:
        if r["paper"] == paper_id or r["name"] == paper_id:
            return r["name"]
    return None


# --- overrides: checked before launch -----------------------------------------------------------
# The child checks them again (reproductions.common.config is the authority); this copy exists
# because importing that package imports torch. tests/test_runs.py checks the two agree.

_TYPE_NAMES: dict[str, Any] = {"int": int, "float": float, "bool": bool, "str": str,
                               "None": type(None), "NoneType": type(None), "Any": Any}


def parse_type(text: str) -> Any:
    """The typing object for an annotation printed by `describe` ("tuple[int, ...]", ...)."""
    try:
        return _type_of(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError, KeyError) as exc:
        raise OverrideError(f"cannot read the annotation {text!r}: {exc}") from None


def _type_of(node: ast.AST) -> Any:
    if isinstance(node, ast.Name):
        return _TYPE_NAMES[node.id]
    if isinstance(node, ast.Constant) and node.value is None:
        return type(None)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return typing.Union[_type_of(node.left), _type_of(node.right)]  # noqa: UP007
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        head = node.value.id
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if head == "Literal":
            return typing.Literal[tuple(ast.literal_eval(i) for i in items)]
        args = tuple(... if isinstance(i, ast.Constant) and i.value is ... else _type_of(i)
                     for i in items)
        if head in ("Optional",):
            return typing.Optional[args[0]]  # noqa: UP045
        if head == "Union":
            return typing.Union[args]  # noqa: UP007
        if head in ("tuple", "Tuple"):
            return tuple[args]
        if head in ("list", "List"):
            return list[args]
    raise ValueError(f"unsupported annotation {ast.unparse(node)!r}")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """`value` converted to `tp` as the reproductions' `--set` does, or OverrideError."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            with contextlib.suppress(OverrideError):
                return _coerce(value, arg, key)
        raise OverrideError(f"{key} must be {_shown_type(tp)}, got {value!r}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise OverrideError(f"{key} must be one of {', '.join(map(repr, args))}, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            raise OverrideError(f"{key} must be a {_shown_type(tp)}, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise OverrideError(f"{key} must have {len(args)} items, got {len(value)}")
            return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
        return origin(_coerce(v, args[0] if args else Any, key) for v in value)
    checks = {bool: lambda v: isinstance(v, bool),
              int: lambda v: isinstance(v, int) and not isinstance(v, bool),
              float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              str: lambda v: isinstance(v, str)}
    if tp in checks:
        if checks[tp](value):
            return float(value) if tp is float else value
        article = "an" if tp is int else "a"
        raise OverrideError(f"{key} must be {'True or False' if tp is bool else article + ' ' + tp.__name__}"
                            f", got {value!r}")
    raise OverrideError(f"{key} has an unsupported annotation {_shown_type(tp)}")


def _shown_type(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


def parse_value(text: str, tp: Any, key: str) -> Any:
    """One override's value: `ast.literal_eval` (a bare word is a string), then `_coerce`."""
    stripped = str(text).strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        value: Any = lowered == "true"
    elif lowered in ("none", "null"):
        value = None
    else:
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = stripped  # TypeError: '{[]}' builds an unhashable key
    try:
        return _coerce(value, tp, key)
    except OverrideError:
        if isinstance(value, str):
            raise
        try:  # `--set data_root=2024` means the text for a `str` field
            return _coerce(stripped, tp, key)
        except OverrideError:
            pass
        raise


def _check_range(key: str, value: Any) -> None:
    low = CONTRACT_MINIMUMS.get(key)
    if low is not None and isinstance(value, int) and value < low:
        raise OverrideError(f"{key} must be >= {low}, got {value}")
    if key in CONTRACT_POSITIVE and isinstance(value, (int, float)) and not value > 0:
        raise OverrideError(f"{key} must be > 0, got {value}")


def split_override(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise OverrideError(f"an override is key=value, got {item!r}")
    return key.strip(), value


def validate_overrides(repro: Reproduction, preset: str,
                       overrides: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    """`{key: text}` after checking the preset, each key, type and contract range.

    Raises OverrideError (one line naming the key) for an unknown preset or key, a value of the
    wrong type, `steps`/`batch_size` < 1, `seed` < 0 or `lr` <= 0.
    """
    if preset not in repro.presets:
        raise OverrideError(f"{repro.name} has no preset '{preset}'; available: "
                            f"{', '.join(repro.presets)}")
    pairs = overrides.items() if isinstance(overrides, Mapping) else map(split_override, overrides)
    checked: dict[str, str] = {}
    for key, text in pairs:
        f = repro.field(key)
        value = parse_value(text, f.annotation, key)
        _check_range(key, value)
        checked[key] = str(text).strip()
    return checked


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively: how config.json and `describe` hold values."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def default_text(f: ConfigField, preset: str) -> str:
    """The text a form shows for a field's preset default (None shows as empty)."""
    value = f.defaults.get(preset)
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, list) and typing.get_origin(f.annotation) is tuple:
        return repr(tuple(value))
    return repr(value)


def overrides_from_form(repro: Reproduction, preset: str,
                        values: Mapping[str, Any]) -> dict[str, str]:
    """The form's `{field: widget value}` as overrides: only fields that differ from the preset.

    A text field left empty means None for an optional field (and is refused for others).
    """
    changed: dict[str, str] = {}
    for name, raw in values.items():
        f = repro.field(name)
        if isinstance(raw, str):
            text = raw.strip()
            if not text and type(None) in typing.get_args(f.annotation):
                text = "None"
            elif not text and f.annotation is not str:
                raise OverrideError(f"{name} is empty; give a {f.type} or the preset's "
                                    f"default {default_text(f, preset)!r}")
        else:
            text = repr(raw)
        value = parse_value(text, f.annotation, name)
        if _plain(value) != _plain(f.defaults.get(preset)):
            changed[name] = value if isinstance(value, str) else repr(value)
    return validate_overrides(repro, preset, changed)


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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


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


# Processes this process started: pid -> Popen. Polling them reaps them (no zombies).
_CHILDREN: dict[int, subprocess.Popen] = {}
_SUPERVISOR: list[subprocess.Popen] = []


def _reap() -> None:
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            del _CHILDREN[pid]
    for proc in list(_SUPERVISOR):
        if proc.poll() is not None:
            _SUPERVISOR.remove(proc)


def _process(launch: Mapping | None):
    """The launched process as a psutil.Process if it is still running, else None.

    A pid whose process started at another time than recorded is a recycled pid: not ours.
    """
    import psutil

    if not launch or not isinstance(launch.get("pid"), int):
        return None
    proc = _CHILDREN.get(launch["pid"])
    if proc is not None and proc.poll() is not None:
        return None
    try:
        p = psutil.Process(launch["pid"])
        if abs(p.create_time() - float(launch.get("created", 0))) > 0.05:
            return None
        return None if p.status() == psutil.STATUS_ZOMBIE else p
    except psutil.Error:
        return None


def _run_dir(ws: Workspace, run_id: str) -> Path:
    return ws.runs_dir / validate_slug(run_id, "run id")


def load_run(folder: Path) -> Run:
    """The run in `folder`, its state derived from the files (see the module docstring)."""
    request = _read_json(folder / "request.json")
    if not isinstance(request, dict):
        raise RunError(f"{folder} is not a run submitted by the workbench (no request.json)")
    launch = _read_json(folder / "launch.json")
    cancelled = _read_json(folder / "cancelled.json")
    proc = _process(launch) if launch else None
    # read after the liveness check: a child that has just exited has written its result
    status = _read_json(folder / "status.json") if launch else None
    result = _read_json(folder / "result.json") if launch else None
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
        result=result, config=_read_json(folder / "config.json") if launch else None,
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


# --- submit, launch, cancel, resume -------------------------------------------------------------


@contextlib.contextmanager
def _queue_lock(ws: Workspace) -> Iterator[None]:
    """An exclusive lock across processes, so deciding and launching is one step."""
    ws.cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: one process (the app or the CLI) pumps at a time in practice
        yield
        return
    with open(ws.cache_dir / "runs.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def default_max_runs() -> int:
    """`$WORKBENCH_MAX_RUNS`, else 1: one run at a time on a 2-core laptop."""
    try:
        return max(1, int(os.environ.get("WORKBENCH_MAX_RUNS", "1")))
    except ValueError:
        return 1


def _new_folder(ws: Workspace, name: str) -> Path:
    """`runs/<UTC time>-<name>`, with `-2`, `-3`, ... when taken: mkdir never reuses a folder."""
    ws.runs_dir.mkdir(parents=True, exist_ok=True)
    base = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{name}"
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
        raise OverrideError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
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


def _launch(ws: Workspace, run: Run) -> None:
    import psutil

    request = _read_json(run.folder / "request.json") or {}
    argv = child_argv(run, request.get("checkpoint_every"))
    with open(run.folder / "console.txt", "ab") as console:
        proc = subprocess.Popen(  # its own session: cancel signals the whole process group
            argv, cwd=ws.root, stdin=subprocess.DEVNULL, stdout=console,
            stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _CHILDREN[proc.pid] = proc
    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.Error:  # it already ended (and is reaped): record it as such
        created = 0.0
    _write_json(run.folder / "launch.json", {
        "run": run.id, "pid": proc.pid, "created": created, "started": time.time(),
        "argv": argv, "attempt": run.attempt, "by_pid": os.getpid()})
    log.info("started %s as pid %d", run.id, proc.pid)


def pump(ws: Workspace, max_concurrent: int | None = None) -> list[str]:
    """Start queued runs, oldest first, while fewer than `max_concurrent` are alive.

    Returns the ids started. Safe to call from several processes at once, and often.
    """
    limit = max_concurrent or default_max_runs()
    _reap()
    started: list[str] = []
    if not ws.runs_dir.is_dir():
        return started
    with _queue_lock(ws):
        runs = list_runs(ws)
        busy = sum(1 for r in runs if r.alive)
        for run in sorted((r for r in runs if r.state == QUEUED), key=lambda r: r.queued_ns):
            if busy >= limit:
                break
            _launch(ws, run)
            started.append(run.id)
            busy += 1
    return started


def _stop_process(proc, grace_s: float) -> None:
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
    owned = _CHILDREN.get(proc.pid)
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
    _reap()


def cancel(ws: Workspace, run_id: str, grace_s: float = CANCEL_GRACE_S) -> Run:
    """Cancel a queued or running run; a running one is stopped with its whole process group."""
    validate_slug(run_id, "run id")  # before the lock file is created
    with _queue_lock(ws):
        run = get_run(ws, run_id)
        if run.state not in ACTIVE:
            raise RunError(f"run {run_id} is {run.state}; only queued or running runs can be "
                           "cancelled")
        _write_json(run.folder / "cancelled.json", {"at": time.time(), "state_was": run.state})
        launch = _read_json(run.folder / "launch.json")
    proc = _process(launch)
    if proc is not None:
        _stop_process(proc, grace_s)
    log.info("cancelled %s", run_id)
    return get_run(ws, run_id)


def resume(ws: Workspace, run_id: str) -> Run:
    """Queue a failed or cancelled run again, to continue from its checkpoints (`--resume`)."""
    validate_slug(run_id, "run id")  # before the lock file is created
    with _queue_lock(ws):
        run = get_run(ws, run_id)
        if run.state not in (FAILED, CANCELLED) or run.alive:
            raise RunError(f"run {run_id} is {run.state}; only a failed or cancelled run can be "
                           "resumed")
        if not run.checkpoints:
            raise RunError(f"run {run_id} has no checkpoint to resume from; start a new run")
        request = _read_json(run.folder / "request.json")
        request["history"] = [*request.get("history", []), {
            "launch": _read_json(run.folder / "launch.json"),
            "cancelled": _read_json(run.folder / "cancelled.json"),
            "state": run.state, "error": run.error}]
        request.update(resume=True, attempt=run.attempt + 1, queued_ns=time.time_ns())
        _write_json(run.folder / "request.json", request)
        for name in ("launch.json", "cancelled.json"):
            (run.folder / name).unlink(missing_ok=True)
    log.info("re-queued %s to resume from %s", run_id, ", ".join(p.name for p in run.checkpoints))
    return get_run(ws, run_id)


def supervise(ws: Workspace, poll_s: float = 1.0, max_concurrent: int | None = None) -> bool:
    """Pump until nothing is queued or running; False if another supervisor already does."""
    ws.cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:
        fcntl = None
    with open(ws.cache_dir / "runs-supervisor.lock", "a") as fh:
        if fcntl is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        while True:
            pump(ws, max_concurrent)
            if not any(r.state in ACTIVE for r in list_runs(ws)) and not _CHILDREN:
                return True
            time.sleep(poll_s)


def ensure_supervisor(ws: Workspace) -> None:
    """Start `workbench repro pump --wait` in the background (it exits at once if one runs),
    so queued runs start even when no app or CLI is open."""
    ws.cache_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "workbench", "--workspace", str(ws.root), "repro", "pump",
            "--wait"]
    with open(ws.cache_dir / "supervisor.log", "ab") as out:
        _SUPERVISOR.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True))


# --- reading results: tables, curves, comparisons, notes ----------------------------------------


def history_rows(runs: Sequence[Run]) -> list[dict]:
    """One row per run for the history table."""
    return [{
        "run": r.id, "status": f"{STATE_ICONS[r.state]} {r.state}", "reproduction": r.name,
        "preset": r.preset, "overrides": " ".join(f"{k}={v}" for k, v in r.overrides.items()),
        "progress": round(r.fraction, 3),
        "duration (s)": round(r.duration_s, 1) if r.duration_s is not None else None,
        "headline metric": r.headline(), "verdict": r.verdict_summary() or (r.error or ""),
    } for r in runs]


def claim_rows(run: Run) -> list[dict]:
    """The paper's numbers beside the run's, with a verdict per claim."""
    return [{"claim": c["id"], "source": c["source"], "paper": c["paper"],
             "this run": c.get("measured", ""), "verdict": c["verdict"],
             "expected to hold": c.get("expected", True)}
            for c in (run.result or {}).get("claims", [])]


def environment(run: Run) -> dict[str, Any]:
    """Where and how the run ran: device, torch version, seed, git commit, wall time."""
    r = run.result or {}
    keys = ("device", "world_size", "torch", "python", "seed", "git_commit", "wall_time_s")
    return {k: r.get(k) for k in keys if k in r}


def metric_series(records: Sequence[Mapping]) -> list[str]:
    """The logged training scalars worth plotting, loss first."""
    skip = {"variant", "step", "time", "eval", "lr"}
    keys: list[str] = []
    for rec in records:
        if rec.get("eval"):
            continue
        for k, v in rec.items():
            if k not in skip and k not in keys and isinstance(v, (int, float)):
                keys.append(k)
    return sorted(keys, key=lambda k: (k != "loss", k))


def curves_figure(series: Mapping[str, Sequence[Mapping]], keys: Sequence[str] | None = None):
    """A plotly figure: one panel per metric (loss first), one line per (run, variant)."""
    from plotly.subplots import make_subplots

    keys = list(keys or metric_series([r for recs in series.values() for r in recs]))[:3] or ["loss"]
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=keys)
    for label, records in series.items():
        by_variant: dict[str, list[Mapping]] = {}
        for rec in records:
            if not rec.get("eval"):
                by_variant.setdefault(str(rec.get("variant", "main")), []).append(rec)
        for variant, recs in by_variant.items():
            name = label if len(by_variant) == 1 else f"{label} · {variant}"
            for col, key in enumerate(keys, start=1):
                pts = [(r["step"], r[key]) for r in recs if key in r]
                fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines",
                                name=name, legendgroup=name, showlegend=col == 1, row=1, col=col)
    fig.update_xaxes(title_text="step")
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def compare(runs: Sequence[Run]) -> dict[str, list[dict]]:
    """Runs side by side: config keys that differ, final metrics, claim verdicts.

    Each table is a list of rows `{"": what, <run id>: value, ...}`.
    """
    ids = [r.id for r in runs]

    def row(label: str, values: Sequence[Any]) -> dict:
        return {"": label, **dict(zip(ids, values, strict=True))}

    configs = [((r.config or {}).get("config") or {}) for r in runs]
    keys = sorted({k for c in configs for k in c})
    config = [row("preset", [r.preset for r in runs])] + [
        row(k, [c.get(k) for c in configs]) for k in keys
        if len({json.dumps(c.get(k)) for c in configs}) > 1]
    metric_keys: list[tuple[str, str]] = []
    for r in runs:
        for variant, metrics in (r.result or {}).get("metrics", {}).items():
            metric_keys += [(variant, m) for m in metrics if (variant, m) not in metric_keys]
    metrics = [row(f"{m} ({v})", [(r.result or {}).get("metrics", {}).get(v, {}).get(m)
                                  for r in runs]) for v, m in metric_keys]
    claim_ids: list[str] = []
    for r in runs:
        claim_ids += [c["id"] for c in (r.result or {}).get("claims", []) if c["id"] not in claim_ids]
    verdict = [row(cid, [next((c["verdict"] for c in (r.result or {}).get("claims", [])
                               if c["id"] == cid), None) for r in runs]) for cid in claim_ids]
    status = [row("status", [r.state for r in runs]),
              row("duration (s)", [round(r.duration_s, 1) if r.duration_s else None for r in runs])]
    return {"status": status, "config": config, "metrics": metrics, "claims": verdict}


def attach_run_to_notes(ws: Workspace, paper_id: str, reader: str, run_id: str):
    """Add a finished run to the reader's pass-3 notes ("runs consulted"); the saved Note.

    Refuses a run that is not done or reproduces another paper; saving follows the notes'
    rules (atomic, NoteConflict if the file changed since it was read).
    """
    from workbench import notes

    run = get_run(ws, run_id)
    if run.state != DONE:
        raise RunError(f"run {run_id} is {run.state}; only a finished run can be attached")
    if run.paper and run.paper != paper_id:
        raise RunError(f"run {run_id} reproduces '{run.paper}', not '{paper_id}'")
    note, version = notes.load_note(ws, paper_id, reader)
    if run_id in note.runs_consulted:
        return note
    note = dataclasses.replace(note, runs_consulted=(*note.runs_consulted, run_id))
    notes.save_note(ws, note, version)
    return note


def run_verdicts_for_notes(ws: Workspace, run_ids: Sequence[str]) -> list[dict]:
    """`{run, claim, paper, measured, verdict}` per claim of each consulted run that finished;
    a run id that is unknown or unfinished gives one row saying so (verdict None)."""
    rows: list[dict] = []
    for run_id in run_ids:
        try:
            run = get_run(ws, run_id.strip())
        except WorkbenchError as exc:
            rows.append({"run": run_id, "claim": None, "paper": None, "measured": None,
                         "verdict": None, "note": str(exc)})
            continue
        if run.state != DONE:
            rows.append({"run": run_id, "claim": None, "paper": None, "measured": None,
                         "verdict": None, "note": f"run is {run.state}"})
            continue
        rows += [{"run": run_id, "claim": c["id"], "paper": c["paper"],
                  "measured": c.get("measured", ""), "verdict": c["verdict"], "note": ""}
                 for c in run.result.get("claims", [])]
    return rows



def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of dicts as an aligned plain-text table (for the CLI); floats to 4 significant
    digits, None as an em dash."""
    if not rows:
        return ""

    def cell(v: Any) -> str:
        if v is None:
            return "—"
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    cols = list(dict.fromkeys(k for r in rows for k in r))
    table = [cols] + [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(cols))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
                     for line in table)


def correctness_lines(ws: Workspace, run_ids: Sequence[str]) -> list[str]:
    """One Markdown line per claim of the consulted runs, for the Correctness C on the Read page:
    `run <id> · degradation: reproduced in miniature (measured …; paper: …)`."""
    lines = []
    for row in run_verdicts_for_notes(ws, [r for r in run_ids if r.strip()]):
        if row["verdict"] is None:
            lines.append(f"run `{row['run']}`: {row['note']}")
            continue
        measured = f"measured {row['measured']}; " if row["measured"] else ""
        lines.append(f"run `{row['run']}` · {row['claim']}: **{row['verdict']}** "
                     f"({measured}paper: {row['paper']})")
    return lines
