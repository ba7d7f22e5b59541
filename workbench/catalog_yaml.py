"""ruamel.yaml plumbing for `papers.yaml`: the round-trip YAML, a guarded load, node positions.

Why ruamel.yaml: it is the maintained round-trip YAML library (keeps comments and order) and
records line/column for every node, which the error messages need. Its round-trip loader builds
only plain maps, lists and scalars; tags and anchors/aliases are refused outright, so a
catalog can neither run code nor explode in size ("billion laughs").

Nothing here knows what a paper is: problems go to a `report(line0, col0, message)` callback
with 0-based positions, and `workbench.catalog` turns them into `Problem`s.
"""

from __future__ import annotations

import io
from collections.abc import Callable

MAX_DEPTH = 20  # nested collections; the catalog's own structure is 4 deep

Report = Callable[[int, int, str], object]  # report(line0, col0, message)


def round_trip_yaml():
    """A ruamel round-trip YAML set up for the catalog's layout (keeps quotes, 2/4/2 indents)."""
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 100
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def node_pos(node, key=None, index=None, value=False) -> tuple[int, int]:
    """0-based (line, col) of a ruamel node, of one of its keys/values, or of a list item."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return (0, 0)
    try:
        if index is not None:
            return tuple(lc.item(index))
        if key is not None:
            return tuple(lc.value(key) if value else lc.key(key))
        return (lc.line, lc.col)
    except (KeyError, IndexError, TypeError, AttributeError):
        return (lc.line, lc.col)


def _refuse_tags_and_aliases(text: str, report: Report) -> bool:
    """Scan parser events; refuse explicit tags and anchors/aliases. True if clean."""
    from ruamel.yaml import YAML
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        ScalarEvent,
    )

    clean = True
    depth = 0
    for ev in YAML(typ="safe", pure=True).parse(io.StringIO(text)):
        mark = ev.start_mark
        depth += isinstance(ev, CollectionStartEvent) - isinstance(ev, CollectionEndEvent)
        if depth > MAX_DEPTH:  # the scanner is quadratic in flow depth: '[' * 5000 takes minutes
            report(mark.line, mark.column, f"YAML nesting is deeper than {MAX_DEPTH} levels; "
                   "a catalog needs 4 (papers: - authors: [...])")
            return False
        if isinstance(ev, AliasEvent):
            report(mark.line, mark.column,
                   f"alias '*{ev.anchor}' is not allowed in the catalog: write the value out")
            clean = False
        elif isinstance(ev, ScalarEvent | CollectionStartEvent):
            if getattr(ev, "anchor", None):
                report(mark.line, mark.column,
                       f"anchor '&{ev.anchor}' is not allowed in the catalog: remove it")
                clean = False
            tag = getattr(ev, "tag", None)
            implicit = getattr(ev, "implicit", (True, True))
            explicit_scalar = isinstance(ev, ScalarEvent) and tag and not any(implicit)
            explicit_coll = isinstance(ev, CollectionStartEvent) and tag and not implicit
            if explicit_scalar or explicit_coll:
                report(mark.line, mark.column,
                       f"YAML tag '{tag}' is not allowed in the catalog: remove it")
                clean = False
    return clean


def load_round_trip(text: str, report: Report):
    """The round-trip document of `text`, or None after `report`ing why it cannot be read."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        if not _refuse_tags_and_aliases(text, report):
            return None
        return round_trip_yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = (exc.problem or exc.context or "invalid YAML").strip()
        if exc.context and exc.context_mark and exc.problem_mark:
            what += f" ({exc.context} at line {exc.context_mark.line + 1})"
        line, col = (mark.line, mark.column) if mark else (0, 0)
        report(line, col, f"YAML syntax error: {what}; fix the indentation or quoting")
    except YAMLError as exc:  # pragma: no cover - ruamel raises Marked errors for text input
        report(0, 0, f"YAML error: {str(exc).splitlines()[0]}")
    except RecursionError:
        report(0, 0, "YAML nesting is too deep")
    return None
