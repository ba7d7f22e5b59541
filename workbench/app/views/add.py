"""Add paper: look a paper up by arXiv id, URL, DOI or title, preview the entry, then save it;
or import a .bib file's papers at once."""

import streamlit as st

from workbench import intake as add_mod
from workbench import intake as bibtex_import
from workbench.app.common import load_catalog, workspace
from workbench.errors import WorkbenchError
from workbench.safetext import md_literal
from workbench.sources import Settings, open_sources

st.title("Add paper")
cat = load_catalog()
if cat is None:
    st.stop()
ws = workspace()
try:
    env_offline = Settings.from_env().offline
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()

query = st.text_input("arXiv id, arXiv URL, DOI or title", key="add_query",
                      placeholder="1706.03762 · https://arxiv.org/abs/1512.03385 · "
                      "10.1109/CVPR.2016.90 · Attention is all you need")
topics = [t.id for t in cat.topics]
topic = st.selectbox("Topic", topics, key="add_topic",
                     format_func=lambda t: f"{cat.topic(t).title} ({t})")
col1, col2 = st.columns(2)
offline = col1.checkbox("Offline: use only the cache", value=env_offline, key="add_offline")
with_cites = col2.checkbox("Find cites edges on Semantic Scholar", value=True,
                           key="add_with_cites")
if offline:
    st.info("Offline mode: answers come only from the response cache in `.workbench/` "
            "(import a class bundle with `workbench cache import FILE`).")

if st.button("Look up", key="add_lookup", type="primary"):
    st.session_state.pop("add_proposal", None)
    st.session_state.pop("add_saved", None)
    try:
        src = open_sources(ws, offline=offline)
        st.session_state["add_proposal"] = add_mod.propose(
            ws, query, topic, sources=src, with_cites=with_cites)
    except WorkbenchError as exc:
        st.error(str(exc))

proposal = st.session_state.get("add_proposal")
saved = st.session_state.get("add_saved")
if saved:
    st.success(f"Added **{saved}** to {ws.catalog_path.name}.")
    st.page_link("views/paper.py", label="Open it", icon=":material/description:",
                 query_params={"paper": saved})
elif proposal is not None:
    for note in proposal.notices:
        st.warning(note)
    st.subheader("Preview")
    st.markdown("  \n".join(map(md_literal, proposal.summary_lines())))  # from the services
    if proposal.entry.get("abstract"):
        with st.expander("Abstract"):
            st.markdown(md_literal(proposal.entry["abstract"]))
    st.caption(f"This entry will be added to {ws.catalog_path.name}:")
    st.code(proposal.yaml(), language="yaml")
    want_pdf = st.checkbox("Also download the arXiv PDF", key="add_pdf",
                           disabled=not proposal.entry.get("arxiv") or offline)
    if st.button("Add to catalog", key="add_save", type="primary"):
        try:
            src = open_sources(ws, offline=offline)
            paper = add_mod.save(ws, proposal, pdf=want_pdf, sources=src)
        except WorkbenchError as exc:
            st.error(str(exc))
        else:
            st.session_state.pop("add_proposal", None)
            st.session_state["add_saved"] = paper.id
            st.rerun()

# --- a .bib file ------------------------------------------------------------------------------
st.divider()
st.subheader("Import a .bib file")
bib = st.file_uploader("A Zotero / Better BibTeX export: its papers go to the topic above, and "
                       "papers already in the catalog are skipped", type=["bib"], key="bib_upload")
if bib is not None:
    try:
        plan = bibtex_import.plan_import(ws, bibtex_import.decode_bib(bib.getvalue(), bib.name),
                                         topic, bib.name)
    except WorkbenchError as exc:
        st.error(str(exc))
        st.stop()
    st.markdown(md_literal(plan.lines()[0]))
    if plan.skipped:  # each by its key and line, with the reason
        st.warning("  \n".join(md_literal(f"{where}: {why}") for where, why in plan.skipped))
    if plan.new and st.button(f"Add {len(plan.new)} paper(s)", key="bib_import", type="primary"):
        try:
            result = bibtex_import.apply_import(ws, plan)
        except WorkbenchError as exc:
            st.error(str(exc))
        else:
            st.success(f"Added {len(result.added)} paper(s) to {ws.catalog_path.name}.")
            for where, why in result.skipped[len(plan.skipped):]:
                st.warning(md_literal(f"{where}: {why}"))
