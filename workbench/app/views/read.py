"""Read: take a paper through Keshav's three passes; notes go to notes/<paper>/<reader>.md."""

import streamlit as st

from workbench.app.common import load_catalog, selected_paper, workspace
from workbench.app.views.pdf_views import read_page_viewer, reading_views
from workbench.app.views.reading import (
    note_check,
    note_text,
    open_editor,
    reader_sidebar,
    run_action,
    show_messages,
)
from workbench.notes import (
    DONE,
    PASSES,
    NoteField,
    budget_state,
    check_key,
    elapsed_minutes,
    get_pass,
    pass_fields,
    pass_material,
)
from workbench.runs import correctness_lines

TIMER_TICK_S = 6  # the timer shows tenths of a minute

st.title("Read")
cat = load_catalog()
reader = reader_sidebar()
if cat is None or reader is None:
    st.stop()
paper = selected_paper(cat, key="read_paper")
st.markdown(f":material/person: Editing **{reader}**'s notes: `notes/{paper.id}/{reader}.md` · "
           "another reader? Change the name in the sidebar.")  # both are checked slugs
editor = open_editor(workspace(), paper, reader)
if editor is None:
    st.stop()

number = st.radio("Pass", [1, 2, 3], key="read_pass", horizontal=True,
                  format_func=lambda n: f"Pass {n}: {PASSES[n - 1].name}")
rp, pn = get_pass(number), editor.base.pass_note(number)
show_messages(editor)
st.markdown(f"**Goal:** {rp.goal}  \n**Budget:** {rp.budget_label} · **Status:** {pn.status}"
            f"  \n**At the end:** {rp.outcome}")


def action_button(label: str, key: str, action: str, where=st, **kw) -> None:
    where.button(label, key=key, on_click=run_action, args=(action, number), **kw)


def field_box(f: NoteField) -> None:
    note_text(f.title, f.key, height=f.height, placeholder="One a line" if f.is_list else None)


def timer_display(pass_note) -> None:
    """The time on this pass (`pass_note`, its PassNote). A running timer reruns only this, a
    fragment, every TIMER_TICK_S: the rest of the page, and what is being typed, is left alone."""
    st.metric("Time on this pass", f"{elapsed_minutes(pass_note):.1f} min",
              help="Kept in the note file, so it survives reloads and new sessions")
    if pass_note.timer_started:
        st.caption(f"Timer running since {pass_note.timer_started[11:16]}.")


left, right = st.columns(2)
with right:  # the page beside the notes, then the catalog's and the PDF's material
    read_page_viewer(workspace(), paper)
    for part in pass_material(paper, number, workspace()):
        with st.expander(part.title, expanded=True):
            st.markdown(part.text)
    reading_views(workspace(), paper, cat, reader, number)  # outline / figures / references from the PDF
with left:
    timer, buttons = st.columns([2, 1])
    with timer:
        st.fragment(timer_display, run_every=TIMER_TICK_S if pn.timer_started else None)(pn)
    if pn.timer_started:
        action_button("Stop timer", "timer_stop", "stop_timer", buttons, icon=":material/stop:")
    else:
        action_button("Start timer", "timer_start", "start_timer", buttons,
                      icon=":material/play_arrow:")
    if budget_state(rp, elapsed_minutes(pn)) == "over":
        st.info(f"Past this pass's budget ({rp.budget_label}): decide whether to go on, come "
                "back later, or stop here.")

    st.subheader("Checklist")
    for item in rp.checklist:
        note_check(item.text, check_key(number, item.key))
    notes_field, *fields = pass_fields(number)
    field_box(notes_field)
    if number == 1:
        st.subheader("The five Cs")
        st.caption("Answer all five to finish pass 1.")
    for f in fields:
        field_box(f)
        if f.key == "c_correctness":  # verdicts of the reproduction runs consulted (pass 3)
            for line in correctness_lines(workspace(), editor.note.runs_consulted):
                st.caption(line)

    save, finish = st.columns(2)
    action_button("Save", "save_note", "save", save, icon=":material/save:")
    if pn.status == DONE:
        action_button(f"Reopen pass {number}", "reopen_pass", "reopen", finish)
    else:
        action_button(f"Finish pass {number}", "finish_pass", "finish", finish,
                      icon=":material/task_alt:")
    if editor.dirty:
        st.caption("You have unsaved changes: any button saves them.")
