"""An open note in the app: the form a reader edits, saved with the version check.

`NoteEditor` keeps what was loaded from disk next to the form being typed, so a save that
`workbench.notes.store` refuses (the file changed meanwhile) loses nothing: the reader merges with
the version on disk (`merge_with_disk`) or reloads, then saves again.
"""

from __future__ import annotations

from datetime import datetime

from workbench.notes.model import (
    FiveCsMissing,
    Note,
    apply_form,
    finish_pass,
    form_values,
    mark_started,
    merge_forms,
    reopen_pass,
    start_timer,
    stop_timer,
)
from workbench.notes.store import load_note, save_note
from workbench.workspace import Workspace


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
            # a refused action writes nothing new: what was typed is saved (every button saves
            # the form), but no empty note file is made and the pass is not marked started
            if self.dirty:
                self.save(number, now)
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
