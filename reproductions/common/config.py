"""Typed `--set key=value` overrides on a module's `Config` dataclass, and its description.

A value is parsed with `ast.literal_eval` (never `exec`), then checked against the field's
annotation: `int`, `float` (an int is accepted), `bool`, `str` (a bare word is accepted
unquoted), `X | None`, `tuple[int, ...]`, `tuple[int, int]`, `list[float]`, `Literal[...]`.
An unknown key is an error that suggests the closest field name. A number must also pass
`workbench.runs.overrides.number_problem` (finite, within 2**31, an int not negative): the workbench's
pre-launch check and this one apply the same rule.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import re
import tokenize
import types
import typing
from typing import Any

from workbench.errors import WorkbenchError, closest
from workbench.runs.overrides import number_problem


class ConfigError(WorkbenchError, ValueError):
    """A bad `--set` override or config file; `str(err)` is one actionable line."""


def _field_types(config_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_cls)}


def type_name(tp: Any) -> str:
    """A readable annotation: `int`, `float | None`, `tuple[int, ...]`."""
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Return `value` converted to `tp` (int -> float, list -> tuple) or raise ConfigError."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key} must be {type_name(tp)}, got {value!r}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{key} must be one of {', '.join(map(repr, args))}, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{key} must be a {type_name(tp)}, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{key} must have {len(args)} items, got {len(value)}")
            items = [_coerce(v, a, key) for v, a in zip(value, args, strict=True)]
        else:
            item_tp = args[0] if args else Any
            items = [_coerce(v, item_tp, key) for v in value]
        return origin(items)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be True or False, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return _sane(key, value, int)
        raise ConfigError(f"{key} must be an int, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(_sane(key, value, float))
        raise ConfigError(f"{key} must be a float, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key} must be a string, got {value!r}")
    raise ConfigError(f"{key} has an unsupported annotation {type_name(tp)}")


def _sane(key: str, value: int | float, tp: type) -> int | float:
    problem = number_problem(key, value, tp)
    if problem:
        raise ConfigError(problem)
    return value


def _unknown_key(key: str, known: list[str]) -> ConfigError:
    close = closest(key, known)
    hint = f"did you mean '{close}'?" if close else f"known keys: {', '.join(known)}"
    return ConfigError(f"unknown config key '{key}'; {hint}")


def parse_value(text: str, tp: Any, key: str) -> Any:
    """Parse one override value: `ast.literal_eval`, then check and coerce it to `tp`."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        value: Any = lowered == "true"
    elif lowered in ("none", "null"):
        value = None
    else:
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = stripped  # a bare word (TypeError: '{[]}' builds an unhashable key): only a `str` field accepts it
    try:
        return _coerce(value, tp, key)
    except ConfigError:
        if isinstance(value, str):
            raise
        try:  # `--set data_root=2024` means the text for a `str` field
            return _coerce(stripped, tp, key)
        except ConfigError:
            pass
        raise


def apply_overrides(cfg: Any, overrides: list[str] | dict[str, str]) -> Any:
    """Return a copy of `cfg` with `["key=value", ...]` (or `{key: "value"}`) applied."""
    types_ = _field_types(type(cfg))
    pairs = overrides.items() if isinstance(overrides, dict) else map(_split, overrides)
    changes = {}
    for key, text in pairs:
        if key not in types_:
            raise _unknown_key(key, list(types_))
        changes[key] = parse_value(text, types_[key], key)
    return dataclasses.replace(cfg, **changes)


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value, got {item!r}")
    return key.strip(), value


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-ready fields (tuples become lists)."""
    return dataclasses.asdict(cfg)


def config_from_dict(config_cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a Config from `config_to_dict` output (e.g. a checkpoint or config.json)."""
    types_ = _field_types(config_cls)
    unknown = [k for k in data if k not in types_]
    if unknown:
        raise _unknown_key(unknown[0], list(types_))
    return config_cls(**{k: _coerce(v, types_[k], k) for k, v in data.items()})


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
