"""Paper: every catalog field, links out, and what it cites / what cites it in the catalog."""

import streamlit as st

from workbench.app.common import load_catalog, paper_link, selected_paper, workspace
from workbench.app.pdf_views import page_viewer

cat = load_catalog()
if cat is None:
    st.stop()
paper = selected_paper(cat)

st.title(paper.title)
st.markdown(f"**{', '.join(paper.authors)}** · {paper.venue or 'venue unknown'} · {paper.year}")
topic = cat.topic(paper.topic)
cols = st.columns(4)
cols[0].metric("Topic", topic.title if topic else paper.topic)
cols[1].metric("Cites (catalog)", len(paper.cites))
cols[2].metric("Cited by (catalog)", len(cat.cited_by(paper.id)))
cols[3].metric("Reproduction", paper.reproduction or "—")
actions = st.columns(3)
actions[0].page_link("read.py", label="Read this paper", icon=":material/menu_book:",
                     query_params={"paper": paper.id})
actions[1].page_link("graph.py", label="Its citation graph", icon=":material/hub:",
                     query_params={"paper": paper.id})
if paper.reproduction:
    actions[2].page_link("reproduce.py", label="Reproduce this paper",
                         icon=":material/science:", query_params={"paper": paper.id})

links = []
if paper.arxiv_url:
    links.append(f"[arXiv:{paper.arxiv}]({paper.arxiv_url})")
if paper.doi_url:
    links.append(f"[doi:{paper.doi}]({paper.doi_url})")
if paper.url:
    links.append(f"[link]({paper.url})")
if links:
    st.markdown(" · ".join(links))
if paper.tags:
    st.markdown(" ".join(f"`{t}`" for t in paper.tags))

st.subheader("Abstract")
st.write(paper.abstract or "_No abstract in the catalog._")

left, right = st.columns(2)
with left:
    st.subheader("Builds on")
    refs = cat.references(paper.id)
    if not refs:
        st.caption("Cites no other catalog paper.")
    for ref in refs:
        st.markdown(f"- [{ref.title}]({paper_link(ref.id)}) ({ref.short})")
with right:
    st.subheader("Cited by")
    citing = cat.cited_by(paper.id)
    if not citing:
        st.caption("No catalog paper cites it.")
    for c in citing:
        st.markdown(f"- [{c.title}]({paper_link(c.id)}) ({c.short})")

page_viewer(workspace(), paper)  # rendered PDF pages, or upload / arXiv download
