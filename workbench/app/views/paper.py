"""Paper: every catalog field, links out, and what it cites / what cites it in the catalog."""

import streamlit as st

from workbench.app.common import load_catalog, paper_link_list, selected_paper, workspace
from workbench.app.views.code_views import (
    citing_this_page,
    code_sections,
    load_code,
    what_changed,
)
from workbench.app.views.pdf_views import page_viewer
from workbench.catalog import WORKBENCH_PAGE
from workbench.notes import paper_links
from workbench.safetext import md_literal

cat = load_catalog()
if cat is None:
    st.stop()
paper = selected_paper(cat)
asked_page = st.query_params.pop("page", None)  # from a code reference: open the PDF at it
if asked_page is not None and asked_page.isdigit():
    st.session_state["pdf_page"] = int(asked_page)

st.title(md_literal(paper.title))  # catalog text is shown as typed: no image, link or HTML
st.markdown(f"**{md_literal(', '.join(paper.authors))}** · "
            f"{md_literal(paper.publication)}")  # each year once: 'CVPR 2016 · arXiv 2015'
topic = cat.topic(paper.topic)
cols = st.columns(4)
cols[0].metric("Topic", md_literal(topic.title if topic else paper.topic))  # value is Markdown
cols[1].metric("Cites (catalog)", len(paper.cites))
cols[2].metric("Cited by (catalog)", len(cat.cited_by(paper.id)))
cols[3].metric("Reproduction", paper.reproduction or "—")
actions = st.columns(3)
actions[0].page_link("views/read.py", label="Read this paper", icon=":material/menu_book:",
                     query_params={"paper": paper.id})
actions[1].page_link("views/graph.py", label="Its citation graph", icon=":material/hub:",
                     query_params={"paper": paper.id})
if paper.reproduction == WORKBENCH_PAGE:  # Keshav's method: the workbench is its implementation
    actions[2].page_link("views/read.py", label="Its method: the Read page",
                         icon=":material/menu_book:", query_params={"paper": paper.id})
elif paper.reproduction:
    actions[2].page_link("views/reproduce.py", label="Reproduce this paper",
                         icon=":material/science:", query_params={"paper": paper.id})
if paper.reproduction:
    st.caption(md_literal(paper.reproduction_line))  # relation, preset, what the run shows

links = paper_links(paper)  # http(s) only: never a javascript: link
if links:
    st.markdown(" · ".join(links))
if paper.tags:
    st.markdown(" ".join(f"`{t.replace('`', '')}`" for t in paper.tags))  # a ` would end the code

st.subheader("Abstract")
st.markdown(md_literal(paper.abstract) if paper.abstract else "_No abstract in the catalog._")

left, right = st.columns(2)
with left:
    st.subheader("Builds on")
    refs = cat.references(paper.id)
    if not refs:
        st.caption("Cites no other catalog paper.")
    paper_link_list(refs, f"builds_on_{paper.id}", "papers it builds on")  # same tab: reader and form stay
with right:
    st.subheader("Cited by")
    citing = cat.cited_by(paper.id)
    if not citing:
        st.caption("No catalog paper cites it.")
    paper_link_list(citing, f"cited_by_{paper.id}", "papers citing it")
what_changed(paper, refs)  # the blocks its reproduction changed in theirs, side by side

ws = workspace()
has_code = bool(paper.reproduction) and paper.reproduction != WORKBENCH_PAGE
if asked_page is not None and has_code:
    st.session_state["paper_code"] = True  # came from a reference in the code: keep it beside
if has_code:
    st.toggle(f"Its code beside the PDF: reproductions/{paper.reproduction}.py, each paper "
              "reference in it a button to its page", key="paper_code")
if not has_code or not st.session_state.get("paper_code"):
    page_viewer(ws, paper)  # rendered PDF pages, or upload / arXiv download
else:  # the reproduction's code beside the pages, each paper reference turning to its page
    code_col, pdf_col = st.columns(2)
    with pdf_col:
        structure = page_viewer(ws, paper)
    with code_col:
        st.subheader("Code")
        code = load_code(ws, paper, structure)
        if code is not None:
            code_sections(code)
    if code is not None:
        with pdf_col:
            citing_this_page(code)
