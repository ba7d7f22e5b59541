"""A module's `Config` dataclass: `--set key=value` overrides applied, saved, described.

The grammar (`ast.literal_eval`, never `exec`, then a check against the field's annotation:
`int`, `float` (an int is accepted), `bool`, `str` (a bare word is accepted unquoted),
`X | None`, `tuple[int, ...]`, `tuple[int, int]`, `list[float]`, `Literal[...]`, and the one
number rule) is `workbench.runs.overrides`, the same code the app and the CLI check with before
launch. This module adds what needs the real dataclass: an unknown key suggests the closest
field name, and `describe` prints the fields for the workbench.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import re
import tokenize
import typing
from typing import Any

from workbench.errors import closest
from workbench.runs.overrides import ConfigError, coerce, parse_value, split_override, type_name

__all__ = ["ConfigError", "apply_overrides", "config_from_dict", "config_to_dict", "describe",
           "field_comments", "parse_value", "type_name"]


def _field_types(config_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_cls)}


def _unknown_key(key: str, known: list[str]) -> ConfigError:
    close = closest(key, known)
    hint = f"did you mean '{close}'?" if close else f"known keys: {', '.join(known)}"
    return ConfigError(f"unknown config key '{key}'; {hint}")


def apply_overrides(cfg: Any, overrides: list[str] | dict[str, str]) -> Any:
    """Return a copy of `cfg` with `["key=value", ...]` (or `{key: "value"}`) applied."""
    types_ = _field_types(type(cfg))
    pairs = overrides.items() if isinstance(overrides, dict) else map(split_override, overrides)
    changes = {}
    for key, text in pairs:
        if key not in types_:
            raise _unknown_key(key, list(types_))
        changes[key] = parse_value(text, types_[key], key)
    return dataclasses.replace(cfg, **changes)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-ready fields (tuples become lists)."""
    return dataclasses.asdict(cfg)


def config_from_dict(config_cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a Config from `config_to_dict` output (e.g. a checkpoint or config.json)."""
    types_ = _field_types(config_cls)
    unknown = [k for k in data if k not in types_]
    if unknown:
        raise _unknown_key(unknown[0], list(types_))
    return config_cls(**{k: coerce(v, types_[k], k) for k, v in data.items()})


_FIELD_LINE = re.compile(r"^\s+([A-Za-z_]\w*)\s*:")


def field_comments(config_cls: type) -> dict[str, str]:
    """The trailing `# comment` of each field line in the class source (its help text)."""
    try:
        source = inspect.getsource(config_cls)
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    comments: dict[str, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT:
            continue
        match = _FIELD_LINE.match(lines[tok.start[0] - 1])
        if match:
            comments[match.group(1)] = tok.string.lstrip("#").strip()
    return comments


def describe(config_cls: type, presets: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per field: name, type, default per preset, help (the field's comment)."""
    types_ = _field_types(config_cls)
    helps = field_comments(config_cls)
    return [
        {
            "name": name,
            "type": type_name(tp),
            "defaults": {p: config_to_dict(c)[name] for p, c in presets.items()},
            "help": helps.get(name, ""),
        }
        for name, tp in types_.items()
    ]
