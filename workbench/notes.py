"""Reading notes: one plain file per (paper, reader), the three passes and the five Cs.

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
cannot be parsed raises `NoteUnreadable` naming it and is never overwritten. Hand edits round
trip: unknown front-matter keys and text before the first known heading are kept, and only the
known `## Headings` split the body, so any other Markdown stays inside its field (a typed line
that equals a known heading is written with a leading backslash and read back without it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import hashlib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import yaml

from workbench.errors import WorkbenchError
from workbench.fileio import atomic_write_bytes
from workbench.method import FIVE_CS, PASSES, get_pass
from workbench.safeyaml import NoAliasLoader
from workbench.workspace import SLUG_RE, Workspace, slugify, validate_slug

log = logging.getLogger(__name__)

NOT_STARTED, IN_PROGRESS, DONE = "not started", "in progress", "done"
STATUSES = (NOT_STARTED, IN_PROGRESS, DONE)


class NoteConflict(WorkbenchError):
    """The note changed on disk since it was loaded; saving would lose the other change."""


class NoteUnreadable(WorkbenchError):
    """A note file that cannot be parsed; the message names it. It is never overwritten."""


class FiveCsMissing(WorkbenchError):
    """Pass 1 cannot be finished before the five Cs are answered."""


# --- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PassNote:
    status: str = NOT_STARTED
    started: str | None = None        # ISO 8601 with UTC offset, seconds precision
    finished: str | None = None
    minutes: float = 0.0              # time on the timer, accumulated over stops
    timer_started: str | None = None  # when the running timer was started; None when stopped
    checked: tuple[str, ...] = ()     # ticked checklist keys (workbench.method), method order
    notes: str = ""
    extra: Mapping = field(default_factory=dict)  # unknown keys from a hand edit, kept


@dataclass(frozen=True)
class Note:
    paper: str
    reader: str
    passes: tuple[PassNote, PassNote, PassNote] = (PassNote(), PassNote(), PassNote())
    # the five Cs (pass 1)
    category: str = ""
    context: str = ""
    correctness: str = ""
    contributions: str = ""
    clarity: str = ""
    # pass 2
    summary: str = ""
    figures: str = ""
    references_next: tuple[str, ...] = ()  # paper ids or free text
    # pass 3
    assumptions: str = ""
    differently: str = ""
    future_work: str = ""
    runs_consulted: tuple[str, ...] = ()   # run ids
    preamble: str = ""                     # body text before the first known heading
    extra: Mapping = field(default_factory=dict)

    def pass_note(self, number: int) -> PassNote:
        return self.passes[get_pass(number).number - 1]

    def with_pass(self, number: int, **changes) -> Note:
        i = get_pass(number).number - 1
        passes = list(self.passes)
        passes[i] = dataclasses.replace(passes[i], **changes)
        return dataclasses.replace(self, passes=tuple(passes))


def new_note(paper_id: str, reader: str, title: str | None = None) -> Note:
    validate_slug(paper_id, "paper id")
    validate_slug(reader, "reader")
    return Note(paper_id, reader, preamble=f"# {title or paper_id}: reading notes by {reader}")


def default_reader() -> str:
    """`$WORKBENCH_READER`, else the OS user name as a slug ('Jane.Doe' -> 'jane-doe')."""
    env = os.environ.get("WORKBENCH_READER", "").strip()
    if env:
        return validate_slug(env, "reader ($WORKBENCH_READER)")
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        name = ""
    return slugify(name) if re.search(r"[A-Za-z0-9]", name) else "reader"


# --- the form: a flat view of the editable fields (the app's widget keys) ----------------------

# (form key, body heading) for every text field, in file order
TEXT_FIELDS: tuple[tuple[str, str], ...] = (
    ("p1_notes", "Pass 1 notes"),
    *((f"c_{c.key}", c.name) for c in FIVE_CS),
    ("p2_notes", "Pass 2 notes"),
    ("summary", "Summary"),
    ("figures", "Figures and graphs"),
    ("p3_notes", "Pass 3 notes"),
    ("assumptions", "Assumptions challenged"),
    ("differently", "What I would do differently"),
    ("future_work", "Future work"),
)
LIST_FIELDS = ("references_next", "runs_consulted")  # one item per line in the form


def check_key(number: int, item: str) -> str:
    return f"check_{number}_{item}"


def form_keys(number: int) -> tuple[str, ...]:
    """The form keys a reader edits while on pass `number` (its notes, fields, checklist)."""
    fields = {1: ("p1_notes", *(f"c_{c.key}" for c in FIVE_CS)),
              2: ("p2_notes", "summary", "figures", "references_next"),
              3: ("p3_notes", "assumptions", "differently", "future_work", "runs_consulted")}
    return fields[get_pass(number).number] + tuple(
        check_key(number, item.key) for item in get_pass(number).checklist)


def _attr(key: str) -> str:
    return key[2:] if key.startswith("c_") else key


def form_values(note: Note) -> dict[str, str | bool]:
    """Every editable field as a flat dict: texts, lists (one item a line), checklist ticks."""
    values: dict[str, str | bool] = {}
    for key, _ in TEXT_FIELDS:
        m = re.fullmatch(r"p([123])_notes", key)
        values[key] = note.pass_note(int(m.group(1))).notes if m else getattr(note, _attr(key))
    for key in LIST_FIELDS:
        values[key] = "\n".join(getattr(note, key))
    for p in PASSES:
        ticked = set(note.pass_note(p.number).checked)
        for item in p.checklist:
            values[check_key(p.number, item.key)] = item.key in ticked
    return values


def apply_form(note: Note, values: Mapping[str, object]) -> Note:
    """`note` with the fields present in `values` (see `form_values`) replaced; texts normalized."""
    changes: dict = {}
    for key, _ in TEXT_FIELDS:
        if key in values:
            m = re.fullmatch(r"p([123])_notes", key)
            text = normalize_text(str(values[key] or ""))
            if m:
                note = note.with_pass(int(m.group(1)), notes=text)
            else:
                changes[_attr(key)] = text
    for key in LIST_FIELDS:
        if key in values:
            lines = str(values[key] or "").replace("\x00", "").splitlines()  # also \x85 etc.
            changes[key] = tuple(s.strip() for s in lines if s.strip())
    note = dataclasses.replace(note, **changes)
    for p in PASSES:
        keys = {item.key: check_key(p.number, item.key) for item in p.checklist}
        if not any(k in values for k in keys.values()):
            continue
        old = note.pass_note(p.number).checked
        ticked = [i for i, k in keys.items() if (bool(values[k]) if k in values else i in old)]
        unknown = [k for k in old if k not in keys]  # ticks the method no longer lists: kept
        note = note.with_pass(p.number, checked=tuple(ticked + unknown))
    return note


def normalize_text(text: str) -> str:
    """Unix newlines, no NUL bytes, no blank lines at either end: what a body section holds."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def merge_forms(base: Mapping, mine: Mapping, theirs: Mapping) -> tuple[dict, list[str]]:
    """Three-way merge of form values: (merged, keys that both sides changed differently).

    A field only one side changed takes that side's value. Where both changed a text, both
    texts are kept (the one on disk first); lists take the union; nothing typed is dropped.
    """
    merged, both = {}, []
    for key in dict.fromkeys([*base, *mine, *theirs]):
        b, m, t = base.get(key), mine.get(key), theirs.get(key)
        if m == b:
            merged[key] = t
        elif t in (b, m):
            merged[key] = m
        else:
            both.append(key)
            if key in LIST_FIELDS:
                t_lines = str(t or "").split("\n")
                merged[key] = "\n".join(t_lines + [x for x in str(m or "").split("\n")
                                                   if x not in t_lines])
            elif isinstance(m, str):
                merged[key] = f"{t}\n\n{m}" if t else m
            else:
                merged[key] = m
    return merged, both


def field_label(key: str) -> str:
    """'c_category' -> 'Category', 'check_2_graphs' -> 'pass 2 checklist' (for messages)."""
    labels = dict(TEXT_FIELDS) | {"references_next": "References to read next",
                                  "runs_consulted": "Runs consulted"}
    if key in labels:
        return labels[key]
    m = re.fullmatch(r"check_(\d)_.*", key)
    return f"pass {m.group(1)} checklist" if m else key


# --- the passes: timer, finishing ----------------------------------------------------------------


def now_local() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)


def _parse_time(value: str) -> datetime:
    t = datetime.fromisoformat(value)
    return t if t.tzinfo else t.astimezone()  # a naive hand-written time is local time


def elapsed_minutes(p: PassNote, now: datetime | None = None) -> float:
    """minutes on the timer: stored minutes + (now - timer_started) while it runs."""
    if not p.timer_started:
        return p.minutes
    running = ((now or now_local()) - _parse_time(p.timer_started)).total_seconds() / 60
    return p.minutes + max(0.0, running)


def _stamp(now: datetime | None) -> str:
    return (now or now_local()).isoformat(timespec="seconds")


def mark_started(note: Note, number: int, now: datetime | None = None) -> Note:
    """A pass that was not started is now in progress (started = now)."""
    p = note.pass_note(number)
    if p.status != NOT_STARTED:
        return note
    return note.with_pass(number, status=IN_PROGRESS, started=p.started or _stamp(now))


def start_timer(note: Note, number: int, now: datetime | None = None) -> Note:
    note = mark_started(note, number, now)
    if note.pass_note(number).timer_started:
        return note  # already running (e.g. started in another session)
    return note.with_pass(number, timer_started=_stamp(now))


def stop_timer(note: Note, number: int, now: datetime | None = None) -> Note:
    p = note.pass_note(number)
    if not p.timer_started:
        return note
    return note.with_pass(number, minutes=round(elapsed_minutes(p, now), 2), timer_started=None)


def missing_five_cs(note: Note) -> list[str]:
    return [c.name for c in FIVE_CS if not getattr(note, c.key).strip()]


def finish_pass(note: Note, number: int, now: datetime | None = None) -> Note:
    """The pass is done (timer stopped); pass 1 only once all five Cs are answered."""
    if number == 1 and (missing := missing_five_cs(note)):
        raise FiveCsMissing(
            f"pass 1 stays open: answer the five Cs first (missing: {', '.join(missing)})")
    note = stop_timer(mark_started(note, number, now), number, now)
    return note.with_pass(number, status=DONE, finished=_stamp(now))


def reopen_pass(note: Note, number: int) -> Note:
    if note.pass_note(number).status != DONE:
        return note
    return note.with_pass(number, status=IN_PROGRESS, finished=None)


def current_pass(note: Note) -> int:
    """The pass to work on: the first one not done (3 when all are done)."""
    return next((i + 1 for i, p in enumerate(note.passes) if p.status != DONE), 3)


# --- the file format -----------------------------------------------------------------------------

_HEADINGS = [h for _, h in TEXT_FIELDS]
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
    for key, heading in TEXT_FIELDS:
        text = _escape(normalize_text(str(values[key])))
        parts.append(f"## {heading}\n\n{text}" if text else f"## {heading}")
    return f"---\n{head}---\n\n" + "\n\n".join(parts) + "\n"


class _Unreadable(Exception):
    pass


def _opt_time(value, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.astimezone()).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            _parse_time(value)
        except ValueError:
            raise _Unreadable(f"{where} {value!r} is not a date-time like "
                              "2025-03-03T10:02:11+01:00") from None
        return value
    raise _Unreadable(f"{where} must be a date-time, got {value!r}")


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
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes < 0:
        raise _Unreadable(f"{where}.minutes must be a number >= 0, got {minutes!r}")
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
        front = yaml.load(head, Loader=NoAliasLoader) if head.strip() else {}  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 2}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise _Unreadable(f"{where}front matter is not valid YAML ({problem})") from None
    except RecursionError:
        raise _Unreadable("the front matter is nested too deeply") from None
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
    texts = {key: _unescape(sections.get(heading, [])) for key, heading in TEXT_FIELDS}
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


def version_of(data: bytes) -> str:
    """The version token of a note file: sha256 of its bytes (hex)."""
    return hashlib.sha256(data).hexdigest()


def _shown(ws: Workspace, path: Path) -> str:
    try:
        return str(path.relative_to(ws.root))
    except ValueError:
        return str(path)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NoteUnreadable(f"{path}: cannot read it ({exc.strerror})") from None


def _parse_file(ws: Workspace, path: Path, data: bytes, paper_id: str, reader: str) -> Note:
    try:
        return parse(data, paper_id, reader)
    except _Unreadable as exc:
        raise NoteUnreadable(f"{_shown(ws, path)}: {exc}; fix the file (it will not be "
                             "overwritten) or move it away") from None


def load_note(ws: Workspace, paper_id: str, reader: str,
              title: str | None = None) -> tuple[Note, str | None]:
    """(note, version). A paper not read yet gives a new note and version None."""
    path = ws.note_path(paper_id, reader)
    data = _read(path)
    if data is None:
        return new_note(paper_id, reader, title), None
    return _parse_file(ws, path, data, paper_id, reader), version_of(data)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on the note's folder, so check-then-write is one step for savers."""
    try:
        import fcntl
    except ImportError:  # Windows: the version check alone still catches stale forms
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def save_note(ws: Workspace, note: Note, expected_version: str | None) -> str:
    """Write `note` atomically if the file still has `expected_version`; return the new version.

    `expected_version` is what `load_note` (or the previous save) returned; None means "there
    was no file". Raises `NoteConflict` when the file changed since, and `NoteUnreadable` when
    the file on disk cannot be parsed; in both cases nothing is written.
    """
    path = ws.note_path(note.paper, note.reader)
    data = render(note).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(path.parent):
        current = _read(path)
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

    def section(heading: str, text: str) -> None:
        out.extend(["", f"### {heading}", "", text or "_(empty)_"])

    for p in PASSES:
        out += ["", f"## Pass {p.number}: {p.name}", ""]
        out += [f"- [{'x' if values[check_key(p.number, i.key)] else ' '}] {i.text}"
                for i in p.checklist]
        section("Notes", str(values[f"p{p.number}_notes"]))
        if p.number == 1:
            for c in FIVE_CS:
                section(f"{c.name}: {c.question}", getattr(note, c.key))
        elif p.number == 2:
            section("Summary", note.summary)
            section("Figures and graphs", note.figures)
            section("References to read next",
                    "\n".join(f"- {r}" for r in note.references_next))
        else:
            section("Assumptions challenged", note.assumptions)
            section("What I would do differently", note.differently)
            section("Future work", note.future_work)
            section("Runs consulted", "\n".join(f"- {r}" for r in note.runs_consulted))
    return "\n".join(out) + "\n"


# --- an open note in the app ----------------------------------------------------------------------


class NoteEditor:
    """One reader's note being edited: what was loaded from disk (`base`, `version`) and the
    form (`form`, see `form_values`). Every action saves the whole form with the version check,
    so a refused save leaves the form as typed.
    """

    def __init__(self, ws: Workspace, paper_id: str, reader: str, title: str | None = None):
        self.ws, self.paper_id, self.reader, self.title = ws, paper_id, reader, title
        self.reload()

    def reload(self) -> None:
        """Discard the form and load the note from disk."""
        self.base, self.version = load_note(self.ws, self.paper_id, self.reader, self.title)
        self.form = form_values(self.base)

    @property
    def note(self) -> Note:
        return apply_form(self.base, self.form)

    @property
    def dirty(self) -> bool:
        return self.note != self.base

    def _save(self, note: Note) -> None:
        self.version = save_note(self.ws, note, self.version)
        self.base = note
        self.form = form_values(note)

    def save(self, number: int, now: datetime | None = None) -> None:
        note = self.note
        if note != self.base or self.version is None:
            self._save(mark_started(note, number, now))

    def start_timer(self, number: int, now: datetime | None = None) -> None:
        self._save(start_timer(self.note, number, now))

    def stop_timer(self, number: int, now: datetime | None = None) -> None:
        self._save(stop_timer(self.note, number, now))

    def finish(self, number: int, now: datetime | None = None) -> None:
        try:
            note = finish_pass(self.note, number, now)
        except FiveCsMissing:
            self.save(number, now)  # keep what was typed; the pass stays open
            raise
        self._save(note)

    def reopen(self, number: int) -> None:
        self._save(reopen_pass(self.note, number))

    def merge_with_disk(self) -> list[str]:
        """Take the version on disk and re-apply this form's edits; returns fields both changed.

        Nothing is written: the reader reviews the merged form and saves it.
        """
        theirs, version = load_note(self.ws, self.paper_id, self.reader, self.title)
        merged, both = merge_forms(form_values(self.base), self.form, form_values(theirs))
        self.base, self.version, self.form = theirs, version, merged
        return both
