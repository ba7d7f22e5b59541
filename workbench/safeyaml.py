"""Reading the small YAML files users write (notes, sessions): `load_small`, `yaml.safe_load`
without aliases, and `read_small`, which refuses a file too large to be one before reading it.

Every problem surfaces as one `YamlProblem` carrying the line, so each caller turns it into its
own typed, line-numbered error: a date that does not exist (`2025-02-29`, month 13, `23:59:60`,
offset `+25:00`) or an integer past Python's digit limit raises `ValueError` inside PyYAML's
constructors, and would otherwise escape as a raw traceback.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml


class BadValue(yaml.constructor.ConstructorError):
    """A plain value PyYAML could not build; `problem` says which, `problem_mark` where."""


class NoAliasLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses aliases (`*name`): anchors nested through aliases build a
    value of billions of items from a few lines ("billion laughs"); and that reports a value
    PyYAML cannot build (an impossible date) as `BadValue` at the value's line."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed; write the value out",
                self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        # ValueError: dates that do not exist, ints past the digit limit; the others: explicit
        # tags (`!!bool maybe`, `!!timestamp hello`) give PyYAML text it never checks
        except (ValueError, OverflowError, LookupError, TypeError, AttributeError) as exc:
            value = (node.value if isinstance(node.value, str) else node.tag)[:40]
            kind = node.tag.rsplit(":", 1)[-1]
            if kind == "timestamp" and isinstance(exc, ValueError):
                why = "the UTC offset must be under 24 hours" if "offset" in str(exc) else exc
                problem = (f"{value!r} is not a real date or time ({why}); write one like "
                           "2025-03-10 or 2025-03-10T14:05:00+01:00")
            else:
                problem = f"{value!r} cannot be read as {kind}"
                if isinstance(exc, ValueError):
                    problem += f" ({str(exc).split(':')[0]})"
            raise BadValue(None, None, problem, node.start_mark) from None

class YamlProblem(ValueError):
    """Why a small YAML text cannot be read: `line` (in its file, or None), `problem` (one line),
    and `syntax` (True for broken YAML; False for a value that cannot be built, or nesting so
    deep that Python's recursion limit stops the reader: `problem` says it in full)."""

    def __init__(self, line: int | None, problem: str, syntax: bool):
        super().__init__(problem)
        self.line, self.problem, self.syntax = line, problem, syntax


def load_small(text: str, first_line: int = 1) -> Any:
    """`text` read by `NoAliasLoader`, or `YamlProblem`; `first_line` is the line number of the
    text's first line in its file (front matter after a `---` line starts at 2)."""
    try:
        return yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise YamlProblem(mark.line + first_line if mark is not None else None, problem,
                          syntax=not isinstance(exc, BadValue)) from None
    except RecursionError:
        raise YamlProblem(None, "the YAML is nested too deeply", syntax=False) from None


def read_small(path: Path, max_bytes: int, error: type[Exception], name: str,
               hint: str = "move it away") -> bytes | None:
    """The bytes of a small file a user writes, None if it does not exist.

    Anything else raises `error` with one line naming the file as `name`: a file over
    `max_bytes` (checked before reading, so a 200 MB file costs nothing), something that is
    not a regular file (a FIFO would block the reader forever), a read that fails.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise error(f"{name}: cannot read it ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{name} is not a regular file; {hint}")
        if info.st_size > max_bytes:
            raise error(f"{name} is {info.st_size:,} bytes; the limit is {max_bytes:,}: {hint}")
        try:
            data = fh.read(max_bytes + 1)  # it may have grown since the check
        except OSError as exc:
            raise error(f"{name}: cannot read it ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise error(f"{name} is over {max_bytes:,} bytes, the limit: {hint}")
    return data
