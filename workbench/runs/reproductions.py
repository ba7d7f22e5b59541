"""The reproductions' descriptions: names, presets, Config fields with types and defaults.

`python -m reproductions list/describe --json` answers them, in a subprocess because importing
the reproductions imports torch (seconds: the whole registry, torchvision included). One child
answers all of them at once (`reproductions.cli` run for `list`, then `describe` of each name),
so a page pays for that import once, not once per reproduction. The child imports the installed
package only (`processes.python_env()`, started in the package's own folder), never a
workspace's `reproductions/`. The answer is kept in
`.workbench/reproductions/all.json` (in this process only if that cannot be written) until a
source file of the package changes, so later sessions and app restarts never start it again.

`descriptions_ready` starts that child in the background and returns at once, for a page that
must not wait for it; `list_reproductions` and `describe` wait for it. `validate_overrides` and
`overrides_from_form` check a run's `--set` values against a description before launch, with
the one grammar of `overrides` (which knows nothing of descriptions: no import cycle).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError, closest
from workbench.fileio import write_cache_bytes
from workbench.runs.overrides import ConfigError, parse_type, parse_value, split_override
from workbench.runs.processes import python_env
from workbench.workspace import Workspace, validate_slug

DESCRIBE_TIMEOUT_S = 180  # the child imports torch and every reproduction: seconds on a laptop
SMOKE_TEST_PRESET = "tiny"  # seconds long: checks that the code runs, evaluates no claim
RECOMMENDED_PRESET = "mini"  # the miniature experiment: about a CPU minute, shows the claims
# The fields a student changes first, in this order; the bool fields that switch a part of the
# method off (ablations, controls) follow them. `download` is about data, not the method.
KEY_FIELDS = ("steps", "seed", "batch_size", "lr")
NOT_ABLATIONS = ("download",)
_SOURCE_RE = re.compile(
    r"\b(?:Sec(?:tion)?s?\.? ?\d+(?:\.\d+)*(?: and \d+(?:\.\d+)*)?|Table \d+|Fig(?:ure)?s?\.? ?\d+"
    r"|Eq\.? ?\(?\d+\)?|Appendix [A-Z](?:\.\d+)?)")


class ReproductionUnavailable(WorkbenchError):
    """`python -m reproductions list/describe` failed or names no such reproduction."""


# --- what `describe` prints ---------------------------------------------------------------------


def type_words(tp: Any) -> str:
    """An annotation in words for a form: `whole number`, `text, or empty for none`,
    `list of whole numbers`, `2 numbers`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    simple = {int: "whole number", float: "number", str: "text", bool: "yes or no",
              type(None): "none", Any: "any value"}
    if tp in simple:
        return simple[tp]
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        words = " or ".join(type_words(a) for a in kept)
        return f"{words}, or empty for none" if len(kept) < len(args) else words
    if origin in (tuple, list):
        if origin is tuple and args and args[-1] is not Ellipsis:
            kinds = {type_words(a) for a in args}
            if len(kinds) == 1:
                return f"{len(args)} {_plural(kinds.pop())}"
            return "(" + ", ".join(type_words(a) for a in args) + ")"
        return f"list of {_plural(type_words(args[0]) if args else 'values')}"
    return str(tp).replace("typing.", "")


def _plural(words: str) -> str:
    if words.startswith("list of"):
        return "lists" + words.removeprefix("list")
    return {"whole number": "whole numbers", "number": "numbers", "text": "texts",
            "yes or no": "yes/no values"}.get(words, f"{words} values")


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

    @property
    def words(self) -> str:
        """Its type in words: `whole number`, `list of whole numbers`, `text, or empty for none`."""
        return type_words(self.annotation)

    @property
    def source(self) -> str:
        """Where in the paper its value comes from, if its help comment cites it: `Sec. 3.4`,
        `Table 1`, `Sec. 3.4 and 4.2; Fig. 6` (empty when it cites nothing)."""
        return "; ".join(dict.fromkeys(_SOURCE_RE.findall(self.help)))


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
        close = closest(name, known)
        hint = f"did you mean '{close}'?" if close else f"known keys: {', '.join(known)}"
        raise ConfigError(f"{self.name} has no config key '{name}'; {hint}")

    def default_preset(self) -> str:
        return RECOMMENDED_PRESET if RECOMMENDED_PRESET in self.presets else self.presets[0]

    def key_fields(self) -> tuple[ConfigField, ...]:
        """The fields a form shows first: steps, seed, batch size, learning rate, then the
        switches that turn a part of the method off (every bool field but `download`)."""
        first = [f for name in KEY_FIELDS for f in self.fields if f.name == name]
        switches = [f for f in self.fields if f.kind == "bool" and f.name not in NOT_ABLATIONS]
        return tuple(first + switches)

    def other_fields(self) -> tuple[ConfigField, ...]:
        """Every field `key_fields` leaves out, in the Config's order."""
        key = {f.name for f in self.key_fields()}
        return tuple(f for f in self.fields if f.name not in key)


# --- asking the reproductions package, cached ---------------------------------------------------

# The child: `reproductions.cli` for `list`, then `describe NAME` of each, printed as one JSON
# object; a failing command exits 1 after printing its error to stderr.
_CHILD = """\
import contextlib, io, json, sys
from reproductions import cli

def answer(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main([*args, "--json"])
    if status != 0:
        sys.exit(1)
    return json.loads(out.getvalue())

listed = answer("list")
print(json.dumps({"list": listed,
                  "describe": {r["name"]: answer("describe", r["name"]) for r in listed}}))
"""


def _package_dir() -> Path:
    """The reproductions package's folder, found without importing it (that imports torch)."""
    import importlib.util

    spec = importlib.util.find_spec("reproductions")
    if spec is None or not spec.submodule_search_locations:
        raise ReproductionUnavailable("the reproductions package is not installed; run "
                                      "`pip install -e .` in the checkout")
    return Path(list(spec.submodule_search_locations)[0])


def _stamp(paths: Sequence[Path]) -> list:
    """What invalidates the cached descriptions: each source file's mtime and size."""
    out = []
    for p in sorted(paths):
        with contextlib.suppress(OSError):
            st = p.stat()
            out.append([str(p.relative_to(p.parent.parent)), st.st_mtime_ns, st.st_size])
    return out


@dataclass
class _Child:
    proc: subprocess.Popen
    stamp: list
    stdout: Any  # anonymous temporary files: a pipe nobody reads would fill and stall the child
    stderr: Any
    started: float


_LOCK = threading.Lock()  # Streamlit runs each browser session in its own thread
# cache file -> (stamp, data), for a workspace where the cache cannot be written (read-only)
_MEMO: dict[Path, tuple[list, dict]] = {}
_CHILDREN: dict[Path, _Child] = {}  # cache file -> the child describing, one per workspace
# cache file -> ((its mtime, size, the sources' stamp), its data): read once while unchanged
_READ: dict[Path, tuple[tuple, dict]] = {}


def _start_child(stamp: list, nice: int = 0) -> _Child:
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, cwd=_package_dir(), env=python_env())
        if nice:  # best effort: only a lower priority, which any user may set on a child
            with contextlib.suppress(OSError, AttributeError):
                os.setpriority(os.PRIO_PROCESS, proc.pid, nice)
    except OSError as exc:
        out.close()
        err.close()
        raise ReproductionUnavailable(f"`python -m reproductions describe` did not start: "
                                      f"{exc}") from None
    return _Child(proc, stamp, out, err, time.monotonic())


def _stop(child: _Child) -> None:
    child.proc.kill()
    child.proc.wait()
    child.stdout.close()
    child.stderr.close()


def _finish_child(child: _Child) -> dict:
    """The child's answer (it has exited), or ReproductionUnavailable with its last error."""
    try:
        child.stdout.seek(0)
        child.stderr.seek(0)
        text = child.stdout.read().decode("utf-8", "replace")
        errors = child.stderr.read().decode("utf-8", "replace")
    finally:
        child.stdout.close()
        child.stderr.close()
    if child.proc.returncode != 0:
        lines = [ln for ln in errors.splitlines() if ln.strip()]
        raise ReproductionUnavailable(
            "`python -m reproductions describe` failed: "
            f"{lines[-1] if lines else f'exit status {child.proc.returncode}'}")
    with contextlib.suppress(ValueError):
        data = json.loads(text)
        if _well_formed(data):
            return data
    raise ReproductionUnavailable("`python -m reproductions describe` printed no JSON; run "
                                  "`python -m reproductions list` in a terminal to see why")


def _well_formed(data: Any) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("list"), list)
            and isinstance(data.get("describe"), dict)
            and all(isinstance(d, dict) for d in data["describe"].values()))


def _descriptions(ws: Workspace, wait: bool = True, nice: int = 0) -> dict | None:
    """`{"list": [...], "describe": {name: ...}}` for the installed sources: read from
    .workbench/reproductions/all.json (or this process's copy where that cannot be written),
    else asked of one child. With `wait=False`, None while that child is still running (it is
    started if need be)."""
    pkg = _package_dir()
    cache = ws.cache_dir / "reproductions" / "all.json"
    stamp = _stamp([*pkg.glob("*.py"), *(pkg / "common").glob("*.py")])
    with _LOCK:
        memo = _MEMO.get(cache)
        if memo and memo[0] == stamp:
            return memo[1]
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            st = cache.stat()
            seen = _READ.get(cache)
            if seen and seen[0] == (st.st_mtime_ns, st.st_size, stamp):
                return seen[1]  # parsed already (443 KB: a page asks three times a run)
            cached = json.loads(cache.read_text(encoding="utf-8"))
            if cached["stamp"] == stamp and _well_formed(cached["data"]):
                _READ[cache] = ((st.st_mtime_ns, st.st_size, stamp), cached["data"])
                return cached["data"]
        child = _CHILDREN.get(cache)
        if child is None or child.stamp != stamp:
            if child is not None:  # a source changed while it ran: its answer is stale
                _stop(child)
            child = _CHILDREN[cache] = _start_child(stamp, nice)
    left = DESCRIBE_TIMEOUT_S - (time.monotonic() - child.started)
    try:
        child.proc.wait(timeout=max(0.0, left) if wait else 0)
    except subprocess.TimeoutExpired:
        if not wait and left > 0:
            return None
        with _LOCK:
            if _CHILDREN.get(cache) is child:
                del _CHILDREN[cache]
        _stop(child)
        raise ReproductionUnavailable(f"`python -m reproductions describe` did not answer in "
                                      f"{DESCRIBE_TIMEOUT_S} s") from None
    with _LOCK:
        collected = _CHILDREN.get(cache) is not child  # by another session, into the cache
        if not collected:
            del _CHILDREN[cache]
            data = _finish_child(child)
            if not write_cache_bytes(cache, (json.dumps({"stamp": stamp, "data": data}) + "\n")
                                     .encode()):
                _MEMO[cache] = (stamp, data)
    return _descriptions(ws, wait, nice) if collected else data


def descriptions_ready(ws: Workspace) -> bool:
    """True when the reproductions' descriptions are at hand; else starts the one child that
    makes them (in the background, once per workspace) and returns False at once. Raises
    ReproductionUnavailable when that child failed."""
    return _descriptions(ws, wait=False) is not None


def describe_in_background(ws: Workspace, delay: float = 0.0) -> threading.Thread:
    """Describes the reproductions into the workspace's cache from a daemon thread, the child at
    low CPU priority, after `delay` seconds: `workbench app` calls it as Streamlit starts, so
    the Reproduce page finds its form ready and the first page is not slowed (the app runs in
    another process, which reads the cache file; an error is left for that page to say)."""
    def work() -> None:
        time.sleep(delay)
        with contextlib.suppress(WorkbenchError):
            _descriptions(ws, wait=True, nice=10)

    thread = threading.Thread(target=work, name="describe-reproductions", daemon=True)
    thread.start()
    return thread


def list_reproductions(ws: Workspace) -> list[dict]:
    """`[{name, paper, title, presets, claims}]` of every registered reproduction (cached)."""
    return _descriptions(ws)["list"]


def describe(ws: Workspace, name: str) -> Reproduction:
    """A reproduction's Config fields (type, default per preset, help), presets and claims."""
    validate_slug(name, "reproduction", underscore=True)  # its module's name: depth_anything
    described = _descriptions(ws)["describe"]
    if name not in described:
        raise ReproductionUnavailable(f"unknown reproduction '{name}'; available: "
                                      f"{', '.join(described) or 'none'}")
    data = described[name]
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


# --- checking a run's overrides against the description ----------------------------------------

CONTRACT_MINIMUMS = {"steps": 1, "batch_size": 1, "seed": 0}  # fields every Config has
CONTRACT_POSITIVE = ("lr",)


def _check_range(key: str, value: Any) -> None:
    low = CONTRACT_MINIMUMS.get(key)
    if low is not None and isinstance(value, int) and value < low:
        raise ConfigError(f"{key} must be >= {low}, got {value}")
    if key in CONTRACT_POSITIVE and isinstance(value, (int, float)) and not value > 0:
        raise ConfigError(f"{key} must be > 0, got {value}")


def validate_overrides(repro: Reproduction, preset: str,
                       overrides: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    """`{key: text}` after checking the preset, each key, type and contract range.

    Raises ConfigError (one line naming the key) for an unknown preset or key, a value of the
    wrong type, `steps`/`batch_size` < 1, `seed` < 0 or `lr` <= 0.
    """
    if preset not in repro.presets:
        raise ConfigError(f"{repro.name} has no preset '{preset}'; available: "
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
                raise ConfigError(f"{name} is empty; give a {f.type} or the preset's "
                                    f"default {default_text(f, preset)!r}")
        else:
            text = repr(raw)
        value = parse_value(text, f.annotation, name)
        if _plain(value) != _plain(f.defaults.get(preset)):
            changed[name] = value if isinstance(value, str) else repr(value)
    return validate_overrides(repro, preset, changed)
