"""YAML plumbing for `papers.yaml`: a fast, guarded load that keeps node positions, and the
round-trip YAML that renders a new entry.

Loading: libyaml's parser (PyYAML's C extension) gives the event stream in a fraction of a second
even for a 20,000-paper catalog; `load_tree` builds plain maps, lists and scalars from it and
records the line/column of every key, value and list item (what the error messages need). Scalars
follow the YAML 1.2 core schema that ruamel.yaml (the writer) uses, plus its dates, so both read a
file the same way. Tags and anchors/aliases are refused outright, so a catalog can neither run
code nor explode in size ("billion laughs"); a date that does not exist (2015-02-29) is a
problem at its line, not an exception.

Why not PyYAML's own composer or ruamel's loader: both resolve every scalar in Python with many
regular expressions and took 6 s (PyYAML) and 45 s (ruamel, pure Python) on 20,000 papers.

Nothing here knows what a paper is: problems go to a `report(line0, col0, message)` callback
with 0-based positions, and `workbench.catalog.validate` turns them into `Problem`s.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import yaml

MAX_DEPTH = 20  # nested collections; the catalog's own structure is 4 deep

Report = Callable[[int, int, str], object]  # report(line0, col0, message)


class Pos:
    """Where a map's keys and values, or a list's items, are: 0-based (line, col) pairs."""

    __slots__ = ("line", "col", "keys", "values", "items")

    def __init__(self, line: int, col: int):
        self.line, self.col = line, col
        self.keys: dict = {}
        self.values: dict = {}
        self.items: list = []

    def key(self, k):
        return self.keys[k]

    def value(self, k):
        return self.values[k]

    def item(self, i):
        return self.items[i]


class YMap(dict):
    """A mapping from the catalog, with `.lc` positions and `.flow` (written as `{...}`)."""

    __slots__ = ("lc", "flow")


class YSeq(list):
    """A list from the catalog, with `.lc` positions and `.flow` (written as `[...]`)."""

    __slots__ = ("lc", "flow")


def node_pos(node, key=None, index=None, value=False) -> tuple[int, int]:
    """0-based (line, col) of a loaded node, of one of its keys/values, or of a list item."""
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


# --- scalars: the YAML 1.2 core schema, plus dates (as ruamel.yaml reads them) ---------------------

_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
         "FALSE": False}
_INT_RE = re.compile(r"[-+]?[0-9_]+|0o[0-7_]+|0x[0-9a-fA-F_]+")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
_DATE_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"
                      r"(?:(?:[Tt]|[ \t]+)(\d{1,2}):(\d{2}):(\d{2})(\.\d*)?"
                      r"(?:[ \t]*(Z|[-+]\d{1,2}(?::?\d{2})?))?)?")


class BadScalar(ValueError):
    """A plain scalar that looks like a value of some type but is not a valid one."""


def resolve_scalar(text: str):
    """The value of a plain (unquoted) scalar."""
    if text in _NULL:
        return None
    first = text[0]
    if first in "tTfF" and text in _BOOL:
        return _BOOL[text]
    if first in "0123456789+-.":
        if _INT_RE.fullmatch(text):
            clean = text.replace("_", "")
            if clean.startswith(("0o", "0x")):
                return int(clean[2:], 8 if clean[1] == "o" else 16)
            if clean.lstrip("+-"):
                return int(clean)
        if _FLOAT_RE.fullmatch(text):
            low = text.lower().replace("_", "")
            return float(low.replace(".inf", "inf").replace(".nan", "nan"))
        m = _DATE_RE.fullmatch(text)
        if m:
            return _date(m, text)
    return text


def _date(m: re.Match, text: str):
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    try:
        if hh is None:
            return date(int(y), int(mo), int(d))
        micro = int((frac or ".0")[1:7].ljust(6, "0") or 0)
        tzinfo = None
        if tz:
            if tz == "Z":
                tzinfo = UTC
            else:
                sign = -1 if tz[0] == "-" else 1
                digits = tz[1:].replace(":", "")
                hours, minutes = int(digits[:-2] or digits), int(digits[-2:]) if len(digits) > 2 else 0
                tzinfo = timezone(sign * timedelta(hours=hours, minutes=minutes))
        return datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss), micro, tzinfo)
    except ValueError as exc:
        why = "a UTC offset is under 24 hours" if "offset" in str(exc) else str(exc)
        raise BadScalar(f"'{text}' is not a real date or time ({why}); write a real one, or "
                        "quote it to keep it as text") from None


# --- the tree ---------------------------------------------------------------------------------------


def load_tree(text: str, report: Report):
    """The document of `text` as YMap / YSeq / scalars, or None after `report`ing why not."""
    try:
        return _build(yaml.parse(text, Loader=_Loader), report)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = (exc.problem or exc.context or "invalid YAML").strip()
        if exc.context and exc.context_mark and exc.problem_mark:
            what += f" ({exc.context} at line {exc.context_mark.line + 1})"
        line, col = (mark.line, mark.column) if mark else (0, 0)
        report(line, col, f"YAML syntax error: {what}; fix the indentation or quoting")
    except yaml.reader.ReaderError as exc:  # a control character: libyaml gives its byte offset
        before = text.encode("utf-8", "surrogatepass")[: exc.position].decode("utf-8", "replace")
        line = before.count("\n")
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        report(line, len(before) - (before.rfind("\n") + 1),
               f"character {char!r} is not allowed in YAML text; delete it")
    except yaml.YAMLError as exc:
        report(0, 0, f"YAML error: {str(exc).splitlines()[0]}")
    except UnicodeEncodeError as exc:  # a lone surrogate: only from text, never from a file
        line = text.count("\n", 0, exc.start)
        report(line, exc.start - (text.rfind("\n", 0, exc.start) + 1),
               "the text holds an invalid Unicode character; save the file as UTF-8")
    return None


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser where PyYAML has it


class _Refused(Exception):
    pass


def _build(events, report: Report):
    """Assemble the document from parser events; refuse tags, anchors, aliases, deep nesting."""
    stack: list = []   # open collections: [node, pending key or _NO_KEY]
    root = None
    clean = True
    for ev in events:
        kind = type(ev)
        mark = ev.start_mark
        if kind is yaml.ScalarEvent or kind is yaml.MappingStartEvent or \
                kind is yaml.SequenceStartEvent:
            if ev.anchor:
                report(mark.line, mark.column,
                       f"anchor '&{ev.anchor}' is not allowed in the catalog: remove it")
                clean = False
            if kind is yaml.ScalarEvent:
                explicit = ev.tag is not None and not any(ev.implicit)
            else:
                explicit = ev.tag is not None and not ev.implicit
            if explicit:
                report(mark.line, mark.column,
                       f"YAML tag '{ev.tag}' is not allowed in the catalog: remove it")
                clean = False
            if kind is yaml.ScalarEvent:
                if not ev.style and ev.implicit[0]:  # plain: '' (libyaml) or None
                    try:
                        node = resolve_scalar(ev.value)
                    except BadScalar as exc:
                        report(mark.line, mark.column, str(exc))
                        clean, node = False, ev.value
                else:
                    node = ev.value
            else:
                if len(stack) >= MAX_DEPTH:
                    report(mark.line, mark.column, f"YAML nesting is deeper than {MAX_DEPTH} "
                           "levels; a catalog needs 4 (papers: - authors: [...])")
                    return None
                node = YMap() if kind is yaml.MappingStartEvent else YSeq()
                node.lc = Pos(mark.line, mark.column)
                node.flow = bool(ev.flow_style)
            if stack:
                _attach(stack[-1], node, mark, report)
            else:
                root = node
            if kind is not yaml.ScalarEvent:
                stack.append([node, _NO_KEY])
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            stack.pop()
        elif kind is yaml.DocumentStartEvent and root is not None:
            report(mark.line, mark.column, "a second YAML document ('---') is not allowed: the "
                   "catalog is one document")
            return None
        elif kind is yaml.AliasEvent:
            report(mark.line, mark.column,
                   f"alias '*{ev.anchor}' is not allowed in the catalog: write the value out")
            clean = False
            if stack:
                _attach(stack[-1], None, mark, report)
    return root if clean else None


_NO_KEY = object()


def _attach(top: list, node, mark, report: Report) -> None:
    parent, key = top
    pos = (mark.line, mark.column)
    if isinstance(parent, YSeq):
        parent.append(node)
        parent.lc.items.append(pos)
    elif key is _NO_KEY:
        try:
            hash(node)
        except TypeError:
            report(mark.line, mark.column, "a list or mapping cannot be a key; use a plain word")
            node = repr(node)
        top[1] = node
        parent.lc.keys.setdefault(node, pos)
    else:
        if key in parent:
            report(mark.line, mark.column, f"duplicate key '{key}' in this entry (first on line "
                   f"{parent.lc.keys[key][0] + 1}); keep one")
        parent[key] = node
        parent.lc.values[key] = pos
        top[1] = _NO_KEY


# --- writing ----------------------------------------------------------------------------------------


def round_trip_yaml():
    """A ruamel round-trip YAML set up for the catalog's layout (keeps quotes, 2/4/2 indents).

    Why ruamel.yaml for writing: it renders a new entry exactly in the file's style (quoted arXiv
    ids, folded abstracts, flow lists)."""
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 100
    y.indent(mapping=2, sequence=4, offset=2)
    return y
