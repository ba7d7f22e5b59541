"""Reading: `method` (the three passes, the five Cs and the note's fields as data), `model` (a
note and its passes), `store` (the file format, saving, export), `editor` (an open note in the
app), `progress` (who is where), `material` (what each pass needs from the PDF). Layer 4:
imports catalog, sources, pdf.
"""

from __future__ import annotations

from workbench.notes.editor import NoteEditor
from workbench.notes.material import read_paper_ids, reading_material
from workbench.notes.method import (
    FIVE_CS,
    NOTE_FIELDS,
    PASSES,
    FiveC,
    NoteField,
    budget_state,
    get_pass,
    note_field,
    paper_links,
    pass_fields,
    pass_material,
)
from workbench.notes.model import (
    DONE,
    check_key,
    current_pass,
    default_reader,
    elapsed_minutes,
    field_label,
    form_keys,
)
from workbench.notes.progress import (
    load_progress,
    status_label,
    status_table,
    topic_progress,
    total_minutes,
)
from workbench.notes.store import (
    NoteConflict,
    NoteUnreadable,
    export_markdown,
    iter_note_files,
    load_note,
    save_note,
)

__all__ = [
    "DONE",
    "FIVE_CS",
    "FiveC",
    "NOTE_FIELDS",
    "NoteConflict",
    "NoteEditor",
    "NoteField",
    "NoteUnreadable",
    "PASSES",
    "budget_state",
    "check_key",
    "current_pass",
    "default_reader",
    "elapsed_minutes",
    "export_markdown",
    "field_label",
    "form_keys",
    "get_pass",
    "iter_note_files",
    "load_note",
    "load_progress",
    "note_field",
    "paper_links",
    "pass_fields",
    "pass_material",
    "read_paper_ids",
    "reading_material",
    "save_note",
    "status_label",
    "status_table",
    "topic_progress",
    "total_minutes",
]
