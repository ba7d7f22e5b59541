"""Reading notes: the note model, the three passes and the five Cs.

A `Note` is one reader's notes on one paper: per pass a `PassNote` (status, times, minutes on the
timer, checklist ticks, free notes), the five Cs (pass 1), the summary, figures and references to
read next (pass 2), and the assumptions, ideas and runs consulted (pass 3). Notes are immutable;
every change returns a new `Note`.

The form is a flat view of the editable fields (`form_values`, `apply_form`), keyed like the
app's widgets; the passes' timer and finishing rules work on a `Note` and never touch disk.
The file a note lives in, and how it is saved without losing a word, is `workbench.notes.store`;
an open note in the app is `workbench.notes.editor`.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from workbench.errors import WorkbenchError
from workbench.notes.method import FIVE_CS, NOTE_FIELDS, PASSES, get_pass, pass_fields
from workbench.workspace import slugify, validate_slug

NOT_STARTED, IN_PROGRESS, DONE = "not started", "in progress", "done"
STATUSES = (NOT_STARTED, IN_PROGRESS, DONE)


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
    checked: tuple[str, ...] = ()     # ticked checklist keys (workbench.notes.method), method order
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

TEXT_FIELDS = tuple(f for f in NOTE_FIELDS if not f.is_list)  # the body's sections, in order
LIST_FIELDS = tuple(f.key for f in NOTE_FIELDS if f.is_list)  # one item per line in the form


def check_key(number: int, item: str) -> str:
    return f"check_{number}_{item}"


def form_keys(number: int) -> tuple[str, ...]:
    """The form keys a reader edits while on pass `number` (its notes, fields, checklist)."""
    return tuple(f.key for f in pass_fields(number)) + tuple(
        check_key(number, item.key) for item in get_pass(number).checklist)


def _attr(key: str) -> str:
    return key[2:] if key.startswith("c_") else key


def form_values(note: Note) -> dict[str, str | bool]:
    """Every editable field as a flat dict: texts, lists (one item a line), checklist ticks."""
    values: dict[str, str | bool] = {}
    for f in TEXT_FIELDS:
        m = re.fullmatch(r"p([123])_notes", f.key)
        values[f.key] = (note.pass_note(int(m.group(1))).notes if m
                         else getattr(note, _attr(f.key)))
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
    for key in (f.key for f in TEXT_FIELDS):
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
    labels = {f.key: f.label for f in NOTE_FIELDS}
    if key in labels:
        return labels[key]
    m = re.fullmatch(r"check_(\d)_.*", key)
    return f"pass {m.group(1)} checklist" if m else key


# --- the passes: timer, finishing ----------------------------------------------------------------


def now_local() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)


def parse_time(value: str) -> datetime:
    """A time as written in a note (ISO 8601); a naive one is taken as local time."""
    t = datetime.fromisoformat(value)
    return t if t.tzinfo else t.astimezone()  # a naive hand-written time is local time


def elapsed_minutes(p: PassNote, now: datetime | None = None) -> float:
    """minutes on the timer: stored minutes + (now - timer_started) while it runs."""
    if not p.timer_started:
        return p.minutes
    running = ((now or now_local()) - parse_time(p.timer_started)).total_seconds() / 60
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
