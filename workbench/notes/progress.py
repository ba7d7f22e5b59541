"""Reading progress: where each reader is on each paper, per topic, and for the group.

Everything is read from the note files (`workbench.notes.store`); a note that cannot be parsed is
reported in `Progress.unreadable` rather than stopping the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.catalog import Catalog
from workbench.notes.model import DONE, NOT_STARTED, Note, elapsed_minutes
from workbench.notes.store import NoteUnreadable, iter_note_files, load_note
from workbench.workspace import Workspace


def stage(note: Note | None) -> tuple[int, bool]:
    """(furthest pass touched, whether it is done); (0, False) when nothing is started."""
    if note is None:
        return 0, False
    for i in (3, 2, 1):
        p = note.pass_note(i)
        if p.status != NOT_STARTED:
            return i, p.status == DONE
    return 0, False


def passes_done(note: Note | None) -> int:
    """How many passes in a row, from pass 1, are done (0-3)."""
    n = 0
    while note is not None and n < 3 and note.pass_note(n + 1).status == DONE:
        n += 1
    return n


def status_label(note: Note | None) -> str:
    """'not started', 'pass 2 in progress', 'pass 3 done', ..."""
    number, done = stage(note)
    if number == 0:
        return "not started"
    return f"pass {number} {'done' if done else 'in progress'}"


def short_label(note: Note | None) -> str:
    """Compact form for the group column: '–', 'pass 2', 'pass 2 ✓'."""
    number, done = stage(note)
    return "–" if number == 0 else f"pass {number}{' ✓' if done else ''}"


def total_minutes(note: Note | None) -> float:
    return sum(elapsed_minutes(p) for p in note.passes) if note is not None else 0.0


@dataclass
class Progress:
    """Every readable note of the workspace: notes[paper id][reader]."""
    notes: dict[str, dict[str, Note]] = field(default_factory=dict)
    unreadable: list[NoteUnreadable] = field(default_factory=list)

    def note(self, paper_id: str, reader: str) -> Note | None:
        return self.notes.get(paper_id, {}).get(reader)

    def readers(self, paper_id: str | None = None) -> list[str]:
        if paper_id is not None:
            return sorted(self.notes.get(paper_id, {}))
        return sorted({r for by_reader in self.notes.values() for r in by_reader})

    def group_label(self, paper_id: str) -> str:
        """'alice: pass 2 · bob: pass 1 ✓' for everyone who started the paper."""
        by_reader = self.notes.get(paper_id, {})
        return " · ".join(f"{r}: {short_label(n)}" for r, n in sorted(by_reader.items())
                          if stage(n)[0])


def load_progress(ws: Workspace, reader: str | None = None) -> Progress:
    """Every reader's notes (only `reader`'s if given); each unreadable one (a bad date, a file
    too large, a link out of the workspace) is listed in `unreadable` and skipped."""
    progress = Progress()
    for paper_id, who, _ in iter_note_files(ws):
        if reader is not None and who != reader:
            continue
        try:
            note, _ = load_note(ws, paper_id, who)
        except NoteUnreadable as exc:
            progress.unreadable.append(exc)
            continue
        progress.notes.setdefault(paper_id, {})[who] = note
    return progress


@dataclass(frozen=True)
class TopicProgress:
    topic: str
    title: str
    papers: int
    done: tuple[int, int, int]  # papers with passes 1, 1-2, 1-3 done


def topic_progress(cat: Catalog, progress: Progress, reader: str | None) -> list[TopicProgress]:
    """Per topic, how many papers `reader` has taken through pass 1, 2, 3.

    `reader=None` counts the group: a paper counts once any reader got that far.
    """
    rows = []
    for t in cat.topics:
        papers = cat.in_topic(t.id)
        counts = [0, 0, 0]
        for p in papers:
            readers = [reader] if reader else progress.readers(p.id)
            best = max((passes_done(progress.note(p.id, r)) for r in readers), default=0)
            for k in range(best):
                counts[k] += 1
        rows.append(TopicProgress(t.id, t.title, len(papers), (counts[0], counts[1], counts[2])))
    return rows


def status_table(cat: Catalog, progress: Progress, reader: str) -> str:
    """The `workbench status` report: one row per paper, then progress per topic."""
    rows = [("paper", "topic", f"{reader}", "min", "group")]
    for p in cat.papers:
        note = progress.note(p.id, reader)
        minutes = total_minutes(note)
        rows.append((p.id, p.topic, status_label(note), f"{minutes:.0f}" if note else "",
                     progress.group_label(p.id)))
    out = _columns(rows)
    out.append("")
    topic_rows = [("topic", "papers", "pass 1", "pass 2", "pass 3", "group pass 1")]
    group = {t.topic: t for t in topic_progress(cat, progress, None)}
    for t in topic_progress(cat, progress, reader):
        topic_rows.append((t.topic, str(t.papers), *(str(d) for d in t.done),
                           str(group[t.topic].done[0])))
    out += _columns(topic_rows)
    for exc in progress.unreadable:
        out.append(f"warning: {exc}")
    return "\n".join(out)


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
