"""Write to `papers.yaml`: `append_paper` adds one entry, `render_entry` is its YAML text.

The new entry goes after the last paper of its topic, as inserted lines: every other byte of the
file (comments, order, formatting) is kept. The result is validated with `catalog.validate_text`
before it atomically replaces the file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from workbench.catalog import PAPER_KEYS, load, validate_text
from workbench.catalog_model import Paper
from workbench.catalog_yaml import node_pos, round_trip_yaml
from workbench.errors import CatalogError
from workbench.fileio import atomic_write_text


def render_entry(entry: Mapping, dash_col: int = 2) -> str:
    """YAML text for one paper entry, as a block-sequence item whose '-' sits at `dash_col`."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    m = CommentedMap()
    for key in PAPER_KEYS:
        val = entry.get(key)
        if val in (None, "", (), []):
            continue
        if key == "arxiv":
            val = DoubleQuotedScalarString(val)
        elif key == "abstract":
            val = _folded(" ".join(str(val).split()), 88)
        elif key in ("authors", "tags", "cites"):
            seq = CommentedSeq(list(val))
            seq.fa.set_flow_style()
            val = seq
        m[key] = val
    buf = io.StringIO()
    round_trip_yaml().dump([m], buf)
    text = buf.getvalue()
    shift = dash_col - 2
    lines = text.splitlines(keepends=True)
    if shift > 0:
        lines = [(" " * shift + ln) if ln.strip() else ln for ln in lines]
    elif shift < 0:
        lines = [ln[-shift:] if ln[: -shift].strip() == "" else ln for ln in lines]
    return "".join(lines)


def _folded(text: str, width: int):
    """A `>-` block scalar whose lines fold at spaces near `width` (the value stays one line)."""
    from ruamel.yaml.scalarstring import FoldedScalarString

    folded = FoldedScalarString(text)
    folds, line_start, last_space = [], 0, None
    for i, ch in enumerate(text):
        if ch == " ":
            if i - line_start > width and last_space is not None:
                folds.append(last_space)
                line_start = last_space + 1
            last_space = i
    if len(text) - line_start > width and last_space is not None and last_space > line_start:
        folds.append(last_space)
    folded.fold_pos = folds
    return folded


def append_paper(path: str | Path, entry: Mapping) -> Paper:
    """Add `entry` to the catalog at `path` after the last paper of its topic.

    Only the new lines are inserted: every other byte of the file is kept. The result is
    validated before it replaces the file (atomically); on any problem the file is untouched
    and `CatalogError` says why.
    """
    path = Path(path)
    catalog = load(path)
    if entry.get("id") in catalog:
        raise CatalogError([f"{path.name}: id '{entry['id']}' is already in the catalog"])
    text = path.read_text(encoding="utf-8")
    doc = round_trip_yaml().load(text)
    seq = doc["papers"]
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if seq is None or not len(seq):
        # an empty list (`papers: []` or `papers:`): the entry becomes its first item
        key_line = node_pos(doc, "papers")[0]
        lines[key_line] = "papers:\n"
        new_text = "".join(lines) + render_entry(entry, 2)
        new_catalog, problems = validate_text(new_text, path.name)
        if new_catalog is None:
            raise CatalogError([str(p) for p in problems if p.severity == "error"])
        atomic_write_text(path, new_text)
        return new_catalog.by_id[entry["id"]]
    if len(seq):
        first_line, _ = node_pos(seq, index=0)
        dash_col = lines[first_line].index("-") if "-" in lines[first_line] else 2
    else:
        dash_col = 2
    same_topic = [i for i, p in enumerate(seq) if p.get("topic") == entry.get("topic")]
    last = same_topic[-1] if same_topic else len(seq) - 1
    if last < 0:
        insert_at = len(lines)
    elif last + 1 < len(seq):
        insert_at = node_pos(seq, index=last + 1)[0]
        # keep the next group's comment heading (and blank lines) attached to the next group
        while insert_at > 0 and (lines[insert_at - 1].strip().startswith("#")
                                 or not lines[insert_at - 1].strip()):
            insert_at -= 1
    else:
        insert_at = len(lines)
        while insert_at > 0 and not lines[insert_at - 1].strip():
            insert_at -= 1
    new_text = "".join(lines[:insert_at]) + render_entry(entry, dash_col) + \
        "".join(lines[insert_at:])
    new_catalog, problems = validate_text(new_text, path.name)
    if new_catalog is None:
        raise CatalogError([str(p) for p in problems if p.severity == "error"])
    atomic_write_text(path, new_text)
    return new_catalog.by_id[entry["id"]]
