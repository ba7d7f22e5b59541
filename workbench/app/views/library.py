"""Library: the catalog as a filterable table, with counts per topic."""

import streamlit as st

from workbench.app.common import load_catalog, paper_link, workspace
from workbench.app.views.reading import reader_sidebar
from workbench.catalog import filter_papers
from workbench.notes import load_progress, status_label, topic_progress

st.title("Library")
cat = load_catalog()
if cat is None:
    st.stop()

topics = {t.id: t.title for t in cat.topics}
years = [p.year for p in cat.papers]
with st.sidebar:
    st.header("Filter")
    chosen_topics = st.multiselect("Topic", list(topics), format_func=topics.get, key="f_topic")
    lo, hi = min(years), max(years)
    year_range = st.slider("Year", lo, hi, (lo, hi), key="f_year")
    chosen_tags = st.multiselect("Tag", cat.tags, key="f_tag")
    query = st.text_input("Search title, authors, abstract", key="f_query")
reader = reader_sidebar()
progress = load_progress(workspace())
for exc in progress.unreadable:
    st.warning(str(exc))

papers = filter_papers(cat, topics=chosen_topics, years=year_range, tags=chosen_tags, text=query)
st.caption(f"{len(papers)} of {len(cat)} papers")
rows = [
    {
        "title": p.title,
        "authors": p.short,
        "year": p.year,
        "topic": topics[p.topic],
        "tags": ", ".join(p.tags),
        "reproduction": p.reproduction or "",
        "my reading": status_label(progress.note(p.id, reader)) if reader else "",
        "group": progress.group_label(p.id),
        "open": paper_link(p.id),
    }
    for p in papers
]
st.dataframe(
    rows, hide_index=True, width="stretch", key="library_table",
    column_config={"open": st.column_config.LinkColumn("open", display_text="open ›"),
                   "year": st.column_config.NumberColumn(format="%d")},
)

st.subheader("Papers per topic")
counts = {topics[t]: len(cat.in_topic(t)) for t in topics}
st.bar_chart(counts, horizontal=True)

st.subheader("Reading progress per topic")
st.caption(f"Papers taken through each pass by {reader or 'you'}, and by anyone in the group.")
group = {t.topic: t.done for t in topic_progress(cat, progress, None)}
mine = topic_progress(cat, progress, reader) if reader else []
st.dataframe(
    [{"topic": t.title, "papers": t.papers, "pass 1": t.done[0], "pass 2": t.done[1],
      "pass 3": t.done[2], "group: pass 1": group[t.topic][0]} for t in mine],
    hide_index=True, width="stretch", key="topic_progress",
)
