"""App glue for reading notes: the reader box, and the open notes behind the Read page's form.

Widgets keep their values in `st.session_state` under the form keys of `workbench.notes`
(`p1_notes`, `c_category`, `check_1_headings`, ...). Streamlit drops a widget's value when it is
not drawn (another pass or paper picked), so at the start of every run the values are copied
into the open `NoteEditor`'s form, which lives in the session: nothing typed is lost by
switching pass or paper, and every button saves the whole form.
"""

from __future__ import annotations

import streamlit as st

from workbench.errors import InvalidId, WorkbenchError
from workbench.notes import (
    NoteConflict,
    NoteEditor,
    NoteUnreadable,
    current_pass,
    default_reader,
    field_label,
)
from workbench.workspace import Workspace, validate_slug

OPEN = "read_open"          # (paper id, reader) whose values the widgets hold
EDITORS = "read_editors"    # {(paper id, reader): NoteEditor}
CONFLICTS = "read_conflicts"
MESSAGE = "read_message"    # (kind, text) shown once after an action


def reader_sidebar() -> str | None:
    """The current reader from the sidebar (key="reader"), validated; None after an error."""
    if "reader" not in st.session_state:
        try:
            st.session_state["reader"] = default_reader()
        except InvalidId as exc:
            st.sidebar.error(str(exc))
            st.session_state["reader"] = "reader"
    value = st.sidebar.text_input(
        "Reader", key="reader", persist_state="session",
        help="Your name as a slug (lowercase letters, digits, '-'); notes go to "
             "notes/<paper>/<reader>.md")
    try:
        return validate_slug((value or "").strip(), "reader")
    except InvalidId as exc:
        st.sidebar.error(f"{exc}; notes are kept per reader, so pick a valid name")
        return None


def _stash() -> None:
    """Copy the widgets' values into the form of the note they show."""
    editor = st.session_state.get(EDITORS, {}).get(st.session_state.get(OPEN))
    if editor is not None:
        editor.form.update({k: st.session_state[k] for k in editor.form if k in st.session_state})


def _show(editor: NoteEditor, overwrite: bool) -> None:
    for key, value in editor.form.items():
        if overwrite or key not in st.session_state:
            st.session_state[key] = value


def open_editor(ws: Workspace, paper, reader: str) -> NoteEditor | None:
    """The session's editor for (paper, reader), its values put in the widgets; None on error."""
    _stash()
    editors = st.session_state.setdefault(EDITORS, {})
    key = (paper.id, reader)
    if key not in editors:
        try:
            editors[key] = NoteEditor(ws, paper.id, reader, title=paper.title)
        except NoteUnreadable as exc:
            st.error(str(exc))
            return None
    editor = editors[key]
    switched = st.session_state.get(OPEN) != key
    if switched:
        st.session_state[OPEN] = key
        st.session_state["read_pass"] = current_pass(editor.note)
    _show(editor, overwrite=switched)
    return editor


def run_action(action: str, number: int) -> None:
    """Button callback: save / start_timer / stop_timer / finish / reopen / merge / reload."""
    _stash()
    key = st.session_state.get(OPEN)
    editor = st.session_state[EDITORS][key]
    conflicts = st.session_state.setdefault(CONFLICTS, {})
    try:
        if action == "merge":
            both = editor.merge_with_disk()
            st.session_state[MESSAGE] = (
                ("warning", "Merged. Both versions changed "
                 + ", ".join(field_label(k) for k in both)
                 + ": both texts are kept (the one on disk first); tidy them and press Save.")
                if both else ("success", "Merged with the version on disk; press Save to keep it."))
        elif action == "reload":
            editor.reload()
        else:
            getattr(editor, action)(number)
            if action in ("save", "finish"):
                st.session_state[MESSAGE] = ("success", "Saved to " + str(
                    editor.ws.note_path(*key).relative_to(editor.ws.root)))
        conflicts.pop(key, None)
    except NoteConflict as exc:
        conflicts[key] = str(exc)
    except WorkbenchError as exc:
        st.session_state[MESSAGE] = ("error", str(exc))
    _show(editor, overwrite=True)


def show_messages(editor: NoteEditor) -> None:
    """A refused save (with what to do about it), or the last action's outcome."""
    key = (editor.paper_id, editor.reader)
    conflict = st.session_state.get(CONFLICTS, {}).get(key)
    if conflict:
        st.error(f"{conflict}. Your text is still in the form below. **Merge** keeps your edits "
                 "on top of the version on disk; **Discard** loads the version on disk.")
        left, right = st.columns(2)
        left.button("Merge with the version on disk", key="merge_note", on_click=run_action,
                    args=("merge", 0))
        right.button("Discard my changes", key="reload_note", on_click=run_action,
                     args=("reload", 0))
    kind, text = st.session_state.pop(MESSAGE, (None, None))
    if kind:
        getattr(st, kind)(text)
