"""App glue for reading notes: the reader box, and the open note behind the Read page's form.

The form's truth is the open `NoteEditor` kept in the session, not the widgets: Streamlit drops
(or keeps stale) the value of a widget that is not drawn, e.g. after picking another pass,
paper or page. So each form widget copies its value into the editor when it changes
(`on_change`), every run writes the editor's values into the widgets it is about to draw, and
every button saves the editor's whole form. Nothing typed is lost by moving around the app. A
widget whose value moved without its `on_change` arriving (a rerun cut short) is caught by
comparing it with what the last run put there (`DRAWN`). `on_change` stays needed: a widget left
undrawn (another page in the same click) loses its value before the next Read run could look.
"""

from __future__ import annotations

import streamlit as st

from workbench.app.common import flash, show_flash, sign_in_on, signed_in_reader, workspace
from workbench.errors import InvalidId, WorkbenchError
from workbench.fileio import atomic_write_text
from workbench.notes import (
    NoteConflict,
    NoteEditor,
    NoteUnreadable,
    current_pass,
    default_reader,
    field_label,
    form_keys,
)
from workbench.safetext import md_literal
from workbench.workspace import MAX_SLUG_LEN, Workspace, validate_slug

OPEN = "read_open"          # (paper id, reader) of the note the Read page shows
EDITORS = "read_editors"    # {(paper id, reader): NoteEditor}
DRAWN = "read_drawn"        # ((paper id, reader), {form key: value put in its widget last run})
CONFLICTS = "read_conflicts"
MESSAGE = "read_message"    # (kind, text) shown once after an action
READER_MESSAGE = "reader_message"


def _remembered_reader(ws: Workspace) -> str | None:
    """The reader last picked in the app on this workspace, if the file holds a valid slug (it
    is a plain file anyone may have edited: a bad value is ignored, never used as a path)."""
    try:
        with open(ws.reader_file, "rb") as f:
            text = f.read(MAX_SLUG_LEN + 2).decode("utf-8", "replace").strip()
        return validate_slug(text, "reader")
    except (OSError, InvalidId):
        return None


def _first_reader(ws: Workspace) -> str:
    """A new session's reader: `?reader=` in the URL (a reload, a shared link), else the one last
    picked here, else $WORKBENCH_READER or the OS user name."""
    asked = st.query_params.get("reader")
    if asked:
        try:
            return validate_slug(asked.strip(), "reader")
        except InvalidId as exc:
            st.sidebar.warning(md_literal(f"Ignored the reader in the link: {exc}"))
    remembered = _remembered_reader(ws)
    if remembered:
        return remembered
    try:
        return default_reader()
    except InvalidId as exc:
        st.sidebar.error(str(exc))
        return ""


def _keep_reader(ws: Workspace) -> None:
    """The reader box changed: keep it for the other pages and, when valid, for the next visit."""
    value = (st.session_state["reader"] or "").strip()
    st.session_state["reader_kept"] = value
    try:
        validate_slug(value, "reader")
    except InvalidId:
        return  # the box shows the error; nothing is kept
    st.query_params["reader"] = value
    try:
        ws.cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(ws.reader_file, value + "\n")
    except OSError as exc:
        flash(READER_MESSAGE, "warning", f"{value} is kept in this tab's address, but could not "
              f"be remembered in .workbench/ for the next visit ({exc.strerror or exc})")


def reader_sidebar() -> str | None:
    """The current reader from the sidebar (key="reader"), validated; None after an error.

    Kept across pages (session), reloads and links (`?reader=` in the URL) and visits (the
    workspace remembers the last one picked)."""
    if sign_in_on():  # served to a class: the signed-in identity is the reader, and no box
        return signed_in_reader()  # main.py let no page run unless this gives a reader
    ws = workspace()
    if "reader_kept" not in st.session_state:
        st.session_state["reader_kept"] = _first_reader(ws)
    # several pages draw this box and a widget's value does not survive a page switch, so a
    # plain session key keeps it (written before the box is drawn, updated by its callback)
    st.session_state["reader"] = st.session_state["reader_kept"]
    value = st.sidebar.text_input(
        "Reader", key="reader", on_change=_keep_reader, args=(ws,),
        help="Your name as a slug (lowercase letters, digits, '-'); notes go to "
             "notes/<paper>/<reader>.md. Remembered in this workspace for the next visit.")
    with st.sidebar:
        show_flash(READER_MESSAGE)
    try:
        reader = validate_slug((value or "").strip(), "reader")
    except InvalidId as exc:
        st.sidebar.error(f"{exc}; notes are kept per reader, so pick a valid name")
        return None
    if st.query_params.get("reader") != reader:  # a reload or a copied link keeps the reader
        st.query_params["reader"] = reader
    return reader


def _editor() -> NoteEditor | None:
    return st.session_state.get(EDITORS, {}).get(st.session_state.get(OPEN))


def _edited(key: str) -> None:
    editor = _editor()
    if editor is not None and key in st.session_state:
        editor.form[key] = st.session_state[key]


def note_text(label: str, key: str, **kwargs) -> None:
    """A text area bound to the open note's form field `key`."""
    st.text_area(label, key=key, on_change=_edited, args=(key,), **kwargs)


def note_check(label: str, key: str) -> None:
    """A checkbox bound to the open note's checklist tick `key`."""
    st.checkbox(label, key=key, on_change=_edited, args=(key,))


def open_editor(ws: Workspace, paper, reader: str) -> NoteEditor | None:
    """The session's editor for (paper, reader), its values put in the widgets; None on error."""
    editors = st.session_state.setdefault(EDITORS, {})
    key = (paper.id, reader)
    if key not in editors:
        try:
            editors[key] = NoteEditor(ws, paper.id, reader, title=paper.title)
        except NoteUnreadable as exc:
            st.error(str(exc))
            return None
    editor = editors[key]
    if st.session_state.get(OPEN) != key:
        st.session_state[OPEN] = key
        st.session_state["read_pass"] = current_pass(editor.note)
    keys = form_keys(st.session_state.get("read_pass") or 1)
    drawn_for, pushed = st.session_state.get(DRAWN, (None, {}))
    for k in keys:
        # a widget whose value moved since the last run without its on_change reaching the
        # editor (a rerun interrupted under load): the widget holds the newest text, keep it
        if drawn_for == key and k in pushed and st.session_state.get(k, pushed[k]) != pushed[k]:
            editor.form[k] = st.session_state[k]
        st.session_state[k] = editor.form[k]
    st.session_state[DRAWN] = (key, {k: editor.form[k] for k in keys})
    return editor


def run_action(action: str, number: int) -> None:
    """Button callback: save / start_timer / stop_timer / finish / reopen / merge / reload."""
    editor = _editor()
    drawn_for, pushed = st.session_state.get(DRAWN, (None, {}))
    keys = list(pushed)
    if editor is None or drawn_for != st.session_state.get(OPEN):
        return
    live = [k for k in keys if k in st.session_state]
    editor.form.update({k: st.session_state[k] for k in live})  # typed right before the click
    key = (editor.paper_id, editor.reader)
    conflicts = st.session_state.setdefault(CONFLICTS, {})
    try:
        if action == "merge":
            both = editor.merge_with_disk()
            flash(MESSAGE, *(
                ("warning", "Merged. Both versions changed "
                 + ", ".join(field_label(k) for k in both)
                 + ": both texts are kept (the one on disk first); tidy them and press Save.")
                if both else ("success", "Merged with the version on disk; press Save to keep it.")))
        elif action == "reload":
            editor.reload()
        else:
            getattr(editor, action)(number)
            if action == "finish" and number < 3:
                st.session_state["read_pass"] = number + 1  # on to the next pass
            if action in ("save", "finish"):
                path = editor.ws.note_path(*key).relative_to(editor.ws.root)
                flash(MESSAGE, "toast", f"Saved to {path}")  # shown where the reader is
        conflicts.pop(key, None)
    except NoteConflict as exc:
        conflicts[key] = str(exc)
    except WorkbenchError as exc:
        flash(MESSAGE, "error", str(exc))
    for k in live:  # a widget callback that runs after this one must see the action's result
        st.session_state[k] = editor.form[k]


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
    show_flash(MESSAGE)
