"""A reading note on disk: its file format, safe saving, and the Markdown export to share.

A note lives at `notes/<paper-id>/<reader>.md`: YAML front matter for what a program needs
(per-pass status, times, minutes, checklist ticks; references to read next; runs consulted)
and a Markdown body, one `## Heading` per text field, for what a person writes. Each reader has
a file of their own, so a group keeps its notes in one git repository without merge conflicts.

    ---
    paper: resnet
    reader: alice
    pass1:
      status: done            # not started | in progress | done
      started: '2025-03-03T10:02:11+01:00'
      finished: '2025-03-03T10:14:40+01:00'
      minutes: 12.5
      timer_started: null     # set while the pass's timer runs, so it survives a new session
      checked: [title-abstract-intro, headings, conclusions]
    ...
    ---
    # Deep Residual Learning for Image Recognition: reading notes by alice

    ## Pass 1 notes
    ...
    ## Category
    ...

Never lose a word: saves are atomic (`workbench.fileio`: temp file, fsync, rename); `load_note`
returns a version token (sha256 of the file's bytes) and `save_note` refuses with `NoteConflict`
when the file no longer has that version (another tab, an editor, a `git pull`); a file that
cannot be parsed (a date that does not exist, over `MAX_NOTE_BYTES`, reached through a symlink
out of the workspace) raises `NoteUnreadable` naming it and is never overwritten. Hand edits round
trip: unknown front-matter keys and text before the first known heading are kept, and only the
known `## Headings` split the body, so any other Markdown stays inside its field (a typed line
that equals a known heading is written with a leading backslash and read back without it).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import yaml

from workbench.errors import WorkbenchError
from workbench.fileio import atomic_write_bytes, locked, version_of
from workbench.notes.method import PASSES, pass_fields
from workbench.notes.model import (
    LIST_FIELDS,
    NOT_STARTED,
    STATUSES,
    TEXT_FIELDS,
    Note,
    PassNote,
    apply_form,
    check_key,
    elapsed_minutes,
    form_values,
    new_note,
    normalize_text,
    parse_time,
)
from workbench.safeyaml import YamlProblem, load_small, read_small
from workbench.workspace import SLUG_RE, OutsideWorkspace, Workspace

log = logging.getLogger(__name__)


class NoteConflict(WorkbenchError):
    """The note changed on disk since it was loaded; saving would lose the other change."""


class NoteUnreadable(WorkbenchError):
    """A note file that cannot be parsed; the message names it. It is never overwritten."""


class NoteTooLarge(WorkbenchError):
    """A note over `MAX_NOTE_BYTES` is not saved (the text stays in the form)."""


MAX_NOTE_BYTES = 1_000_000  # ~150,000 words; a larger file is a mistake, and loading every
                            # reader's notes for `status` must stay cheap


# --- the file format -----------------------------------------------------------------------------

_HEADINGS = [f.heading for f in TEXT_FIELDS]
_HEADING_ALT = "|".join(re.escape(h) for h in _HEADINGS)
_HEADING_RE = re.compile(rf"## ({_HEADING_ALT})[ \t]*")
_ESCAPE_RE = re.compile(rf"\\*## (?:{_HEADING_ALT})[ \t]*")     # may need one more backslash
_ESCAPED_RE = re.compile(rf"\\(\\*## (?:{_HEADING_ALT})[ \t]*)")  # written with one added
_PASS_KEYS = ("status", "started", "finished", "minutes", "timer_started", "checked")
_TOP_KEYS = ("paper", "reader", "pass1", "pass2", "pass3", *LIST_FIELDS)


def _escape(text: str) -> str:
    return "\n".join("\\" + s if _ESCAPE_RE.fullmatch(s) else s for s in text.split("\n"))


def _unescape(lines: list[str]) -> str:
    return normalize_text("\n".join(m.group(1) if (m := _ESCAPED_RE.fullmatch(s)) else s
                                    for s in lines))


def _minutes_out(value: float) -> float | int:
    value = round(float(value), 2)
    return int(value) if value.is_integer() else value


def render(note: Note) -> str:
    """The note as file text (front matter + body). `parse(render(n)) == n` for any note."""
    front: dict = {"paper": note.paper, "reader": note.reader}
    for i, p in enumerate(note.passes, start=1):
        front[f"pass{i}"] = {
            "status": p.status, "started": p.started, "finished": p.finished,
            "minutes": _minutes_out(p.minutes), "timer_started": p.timer_started,
            "checked": list(p.checked), **dict(p.extra),
        }
    front["references_next"] = list(note.references_next)
    front["runs_consulted"] = list(note.runs_consulted)
    front.update(note.extra)
    head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=100)
    values = form_values(note)
    parts = [_escape(normalize_text(note.preamble))] if note.preamble.strip() else []
    for f in TEXT_FIELDS:
        text = _escape(normalize_text(str(values[f.key])))
        parts.append(f"## {f.heading}\n\n{text}" if text else f"## {f.heading}")
    return f"---\n{head}---\n\n" + "\n\n".join(parts) + "\n"


class _Unreadable(Exception):
    pass


def _opt_time(value, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, datetime | str):
        raise _Unreadable(f"{where} must be a date-time, got {value!r}")
    try:  # a naive time is local time, which can fall outside years 1-9999 (OverflowError)
        t = parse_time(value) if isinstance(value, str) else parse_time(value.isoformat())
    except (ValueError, OverflowError):
        raise _Unreadable(f"{where} {str(value)[:40]!r} is not a date-time like "
                          "2025-03-03T10:02:11+01:00") from None
    return value if isinstance(value, str) else t.isoformat(timespec="seconds")


def _str_list(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Unreadable(f"{where} must be a list (one '- item' a line)")
    for i, item in enumerate(value, start=1):
        if not isinstance(item, str):
            raise _Unreadable(f"{where} item {i} ({item!r}) must be text; put it in quotes")
    return tuple(value)


def _pass_from(raw, number: int) -> PassNote:
    where = f"pass{number}"
    if raw is None:
        return PassNote()
    if not isinstance(raw, dict):
        raise _Unreadable(f"'{where}:' must be a mapping (status, minutes, ...)")
    status = raw.get("status") or NOT_STARTED
    if status not in STATUSES:
        raise _Unreadable(f"{where}.status {status!r} must be one of "
                          + ", ".join(repr(s) for s in STATUSES))
    minutes = raw.get("minutes") or 0
    try:
        ok = (isinstance(minutes, int | float) and not isinstance(minutes, bool)
              and 0 <= float(minutes) < math.inf)
    except OverflowError:  # an int too large for a float
        ok = False
    if not ok:
        raise _Unreadable(f"{where}.minutes must be a number >= 0, got {str(minutes)[:40]!r}")
    timer = raw.get("timer_started")
    if isinstance(timer, date) and not isinstance(timer, datetime):
        raise _Unreadable(f"{where}.timer_started needs a time of day, got {timer!r}")
    return PassNote(
        status=status,
        started=_opt_time(raw.get("started"), f"{where}.started"),
        finished=_opt_time(raw.get("finished"), f"{where}.finished"),
        minutes=float(minutes),
        timer_started=_opt_time(timer, f"{where}.timer_started"),
        checked=_str_list(raw.get("checked"), f"{where}.checked"),
        extra={k: v for k, v in raw.items() if k not in _PASS_KEYS},
    )


def _split_front_matter(text: str) -> tuple[str, str]:
    """(front matter YAML, body); a file without front matter is all body."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return "", text
    for i in range(1, len(lines)):
        if lines[i].rstrip() == "---":
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:])
    raise _Unreadable("the front matter opened by '---' on line 1 is never closed by a '---' "
                      "line")


def parse(data: bytes, paper_id: str, reader: str) -> Note:
    """A note from file bytes; raises `_Unreadable` with what is wrong (no file name)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if "\x00" in text:
        raise _Unreadable("contains NUL bytes; it is not a text file")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    head, body = _split_front_matter(text)
    try:
        front = load_small(head, first_line=2) if head.strip() else {}
    except YamlProblem as exc:
        where = f"line {exc.line}: " if exc.line is not None else ""
        if not exc.syntax:
            raise _Unreadable(f"{where}{exc.problem}") from None
        raise _Unreadable(f"{where}front matter is not valid YAML ({exc.problem})") from None
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise _Unreadable("the front matter must be a mapping (key: value lines)")
    for key in ("paper", "reader"):
        if front.get(key) not in (None, paper_id if key == "paper" else reader):
            log.warning("note for %s by %s says %s: %r; the file's place wins",
                        paper_id, reader, key, front.get(key))

    sections: dict[str, list[str]] = {}
    preamble: list[str] = []
    current = preamble
    for line in body.split("\n"):
        m = _HEADING_RE.fullmatch(line)
        if m:
            current = sections.setdefault(m.group(1), [])
            if current:  # a heading written twice: keep both texts
                current.append("")
        else:
            current.append(line)
    texts = {f.key: _unescape(sections.get(f.heading, [])) for f in TEXT_FIELDS}
    note = Note(
        paper=paper_id, reader=reader,
        passes=tuple(_pass_from(front.get(f"pass{i}"), i) for i in (1, 2, 3)),
        references_next=_str_list(front.get("references_next"), "references_next"),
        runs_consulted=_str_list(front.get("runs_consulted"), "runs_consulted"),
        preamble=_unescape(preamble),
        extra={k: v for k, v in front.items() if k not in _TOP_KEYS},
    )
    return apply_form(note, texts)


# --- storage -------------------------------------------------------------------------------------


def _shown(ws: Workspace, path: Path) -> str:
    try:
        return str(path.relative_to(ws.root))
    except ValueError:
        return str(path)



def _parse_file(ws: Workspace, path: Path, data: bytes, paper_id: str, reader: str) -> Note:
    try:
        return parse(data, paper_id, reader)
    except _Unreadable as exc:
        raise NoteUnreadable(f"{_shown(ws, path)}: {exc}; fix the file (it will not be "
                             "overwritten) or move it away") from None


def _read(ws: Workspace, path: Path) -> bytes | None:
    return read_small(path, MAX_NOTE_BYTES, NoteUnreadable, _shown(ws, path),
                      "move it away or split it")


def load_note(ws: Workspace, paper_id: str, reader: str,
              title: str | None = None) -> tuple[Note, str | None]:
    """(note, version). A paper not read yet gives a new note and version None."""
    try:
        path = ws.note_path(paper_id, reader)
    except OutsideWorkspace as exc:  # unreadable like a broken file: listed and skipped
        raise NoteUnreadable(str(exc)) from None
    data = _read(ws, path)
    if data is None:
        return new_note(paper_id, reader, title), None
    return _parse_file(ws, path, data, paper_id, reader), version_of(data)


def save_note(ws: Workspace, note: Note, expected_version: str | None) -> str:
    """Write `note` atomically if the file still has `expected_version`; return the new version.

    `expected_version` is what `load_note` (or the previous save) returned; None means "there
    was no file". Raises `NoteConflict` when the file changed since, and `NoteUnreadable` when
    the file on disk cannot be parsed; in both cases nothing is written.
    """
    path = ws.note_path(note.paper, note.reader)
    data = render(note).encode("utf-8")
    if len(data) > MAX_NOTE_BYTES:  # it could not be opened again
        raise NoteTooLarge(f"the note is {len(data):,} bytes; a note holds at most "
                           f"{MAX_NOTE_BYTES:,}: nothing was saved, shorten it and save again")
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.parent):  # check-then-write is one step for savers
        current = _read(ws, path)
        if current is not None:  # an unreadable file is never overwritten, whatever the version
            _parse_file(ws, path, current, note.paper, note.reader)
        if (version_of(current) if current is not None else None) != expected_version:
            raise NoteConflict(
                f"{_shown(ws, path)} changed on disk after you opened it (another tab, an "
                "editor or a git pull); nothing was saved: merge with the version on disk or "
                "reload it, then save again")
        for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a killed save
            stale.unlink(missing_ok=True)
        if current != data:
            atomic_write_bytes(path, data)
    log.info("saved %s", path)
    return version_of(data)


def iter_note_files(ws: Workspace) -> Iterator[tuple[str, str, Path]]:
    """(paper id, reader, path) of every note file, sorted; ignores non-slug names."""
    if not ws.notes_dir.is_dir():
        return
    for folder in sorted(ws.notes_dir.iterdir()):
        if not folder.is_dir() or not SLUG_RE.fullmatch(folder.name):
            continue
        for path in sorted(folder.glob("*.md")):
            if SLUG_RE.fullmatch(path.stem) and path.is_file():
                yield folder.name, path.stem, path


# --- export ---------------------------------------------------------------------------------------


def export_markdown(note: Note, paper=None) -> str:
    """The note as a Markdown document to share; `paper` (catalog entry) adds title and authors."""
    title = paper.title if paper is not None else note.paper
    out = [f"# {title}", ""]
    if paper is not None:
        out += [f"{', '.join(paper.authors)} · {paper.venue or 'venue unknown'} · {paper.year}",
                ""]
    out += [f"Reading notes by **{note.reader}** (`{note.paper}`)", "",
            "| Pass | Status | Minutes | Started | Finished |", "|---|---|---|---|---|"]
    for p, pn in zip(PASSES, note.passes, strict=True):
        running = " (timer running)" if pn.timer_started else ""
        out.append(f"| {p.number}. {p.name} | {pn.status}{running} | "
                   f"{elapsed_minutes(pn):.0f} | {pn.started or ''} | {pn.finished or ''} |")
    values = form_values(note)
    for p in PASSES:
        out += ["", f"## Pass {p.number}: {p.name}", ""]
        out += [f"- [{'x' if values[check_key(p.number, i.key)] else ' '}] {i.text}"
                for i in p.checklist]
        for f in pass_fields(p.number):
            text = ("\n".join(f"- {r}" for r in getattr(note, f.key)) if f.is_list
                    else str(values[f.key]))
            out.extend(["", f"### {f.title}", "", text or "_(empty)_"])
    return "\n".join(out) + "\n"
