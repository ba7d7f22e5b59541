"""Group: every reader's five Cs for one paper, side by side, with where each reader is."""

import streamlit as st

from workbench.app.common import load_catalog, selected_paper, workspace
from workbench.app.views.reading import reader_sidebar
from workbench.notes import FIVE_CS, load_progress, status_label, total_minutes
from workbench.safetext import md_literal, safe_markdown

CAP = 2000  # characters of an answer shown before "show all": one long note must not bury the rest

st.title("Group")
cat = load_catalog()
me = reader_sidebar()
if cat is None:
    st.stop()
paper = selected_paper(cat, key="group_paper")
progress = load_progress(workspace())
for exc in progress.unreadable:
    st.warning(str(exc))

readers = progress.readers(paper.id)
st.caption(f"{md_literal(paper.title)} ({md_literal(paper.short)}): the five Cs of everyone "
           "who keeps notes on it.")
if not readers:
    st.info("Nobody has notes on this paper yet. Start with pass 1 on the Read page.")
    st.page_link("views/read.py", label="Read this paper", icon=":material/menu_book:",
                 query_params={"paper": paper.id})
    st.stop()

columns = st.columns(len(readers))
for col, reader in zip(columns, readers, strict=True):
    note = progress.note(paper.id, reader)
    with col:
        st.subheader(reader + (" (you)" if reader == me else ""))
        st.caption(f"{status_label(note)} · {total_minutes(note):.0f} min")
        for c in FIVE_CS:
            st.markdown(f"**{c.name}**")
            answer = getattr(note, c.key)
            show_all = f"group_all_{paper.id}_{reader}_{c.key}"
            if not answer:
                st.caption("not answered yet")
            elif len(answer) <= CAP or st.session_state.get(show_all):
                st.markdown(safe_markdown(answer))  # no images or HTML from others' notes
            else:
                st.markdown(safe_markdown(answer[:CAP].rstrip() + " …"))
            if len(answer) > CAP:
                st.toggle(f"Show all ({len(answer):,} characters)", key=show_all)
