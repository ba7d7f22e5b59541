"""The one `--set key=value` grammar: typed overrides of a reproduction's Config.

Used twice with the same code: before launch, by the app and the CLI (which must not import
torch, so they read the annotations `python -m reproductions describe` prints, "int | None",
"tuple[int, ...]", "Literal['a', 'b']", into typing objects with `ast`), and in the child, by
`reproductions.common.config.apply_overrides` on the real dataclass. A value is parsed with
`ast.literal_eval` (never `exec`; a bare word is a string), coerced to its annotation
(`coerce`), and refused in one line for a wrong type, an absurd number (`number_problem`) or,
before launch, a value outside the contract every Config keeps (`steps` >= 1, `lr` > 0, ...).
"""

from __future__ import annotations

import ast
import contextlib
import math
import types
import typing
from typing import Any

from workbench.errors import WorkbenchError

# Every int in a Config counts or indexes something (steps, sizes, layers, a class, a seed);
# torch keeps such numbers in int32 and a float past this is a typo too (lr=1e309 is inf).
MAX_CONFIG_NUMBER = 2**31 - 1


class ConfigError(WorkbenchError, ValueError):
    """A bad config value (a `--set` override, a config file, a data setting); one line."""


# --- annotations and values ---------------------------------------------------------------------


def number_problem(key: str, value: int | float, tp: type) -> str | None:
    """Why `value` is absurd for the Config field `key` of type `tp` (int or float), or None.

    Refused: NaN and infinity, a magnitude past MAX_CONFIG_NUMBER, a negative int (a count).
    `reproductions.common.config` applies the same rule, so both checks agree.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return f"{key} must be a finite number, got {value}"
    if abs(value) > MAX_CONFIG_NUMBER:
        shown = repr(value) if len(repr(value)) <= 24 else f"{repr(value)[:20]}..."
        return f"{key} must be at most {MAX_CONFIG_NUMBER:,} in size, got {shown}"
    if tp is int and value < 0:
        return f"{key} counts something and must be >= 0, got {value}"
    return None


_TYPE_NAMES: dict[str, Any] = {"int": int, "float": float, "bool": bool, "str": str,
                               "None": type(None), "NoneType": type(None), "Any": Any}


def parse_type(text: str) -> Any:
    """The typing object for an annotation printed by `describe` ("tuple[int, ...]", ...)."""
    try:
        return _type_of(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read the annotation {text!r}: {exc}") from None


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


def coerce(value: Any, tp: Any, key: str) -> Any:
    """`value` converted to `tp` (an int to float, a list to tuple), or ConfigError."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            with contextlib.suppress(ConfigError):
                return coerce(value, arg, key)
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
            return tuple(coerce(v, a, key) for v, a in zip(value, args, strict=True))
        return origin(coerce(v, args[0] if args else Any, key) for v in value)
    checks = {bool: lambda v: isinstance(v, bool),
              int: lambda v: isinstance(v, int) and not isinstance(v, bool),
              float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              str: lambda v: isinstance(v, str)}
    if tp in checks:
        if checks[tp](value):
            problem = number_problem(key, value, tp) if tp in (int, float) else None
            if problem:
                raise ConfigError(problem)
            return float(value) if tp is float else value
        wanted = {bool: "True or False", int: "an int", float: "a float", str: "a string"}[tp]
        raise ConfigError(f"{key} must be {wanted}, got {value!r}")
    raise ConfigError(f"{key} has an unsupported annotation {type_name(tp)}")


def type_name(tp: Any) -> str:
    """A readable annotation: `int`, `float | None`, `tuple[int, ...]`."""
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


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
        return coerce(value, tp, key)
    except ConfigError:
        if isinstance(value, str):
            raise
        try:  # `--set data_root=2024` means the text for a `str` field
            return coerce(stripped, tp, key)
        except ConfigError:
            pass
        raise


def split_override(item: str) -> tuple[str, str]:
    """`"key=value"` as `(key, value)`, or ConfigError."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value, got {item!r}")
    return key.strip(), value
