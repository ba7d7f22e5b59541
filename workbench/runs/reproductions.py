"""The reproductions' descriptions: names, presets, Config fields with types and defaults.

`python -m reproductions list/describe --json` answers them, in a subprocess because importing
the reproductions imports torch. The subprocess imports the installed package only
(`run_processes.python_env()`, started in the package's own folder), never a workspace's
`reproductions/`. The answer is cached in `.workbench/reproductions/` until a source file of the
reproduction (or of `reproductions/common/`) changes.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError, closest
from workbench.fileio import write_cache_bytes
from workbench.runs.overrides import ConfigError, parse_type
from workbench.runs.processes import python_env
from workbench.workspace import Workspace, validate_slug

DESCRIBE_TIMEOUT_S = 180  # `describe` imports torch and the module: seconds on a laptop


class ReproductionUnavailable(WorkbenchError):
    """`python -m reproductions list/describe` failed or names no such reproduction."""


# --- what `describe` prints ---------------------------------------------------------------------


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
        close = closest(name, known)
        hint = f"did you mean '{close}'?" if close else f"known keys: {', '.join(known)}"
        raise ConfigError(f"{self.name} has no config key '{name}'; {hint}")

    def default_preset(self) -> str:
        return "mini" if "mini" in self.presets else self.presets[0]


# --- asking the reproductions package, cached ---------------------------------------------------


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
                             check=False, cwd=_package_dir(), env=python_env())
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
    write_cache_bytes(cache, (json.dumps({"stamp": stamp, "data": data}) + "\n").encode())
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
