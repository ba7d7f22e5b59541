"""Library: the catalog as a filterable table, with counts per topic."""

import streamlit as st

from workbench.app.common import (
    LIBRARY_IDS,
    LIBRARY_TABLE,
    clicked_in_library,
    load_catalog,
    workspace,
)
from workbench.app.views.reading import reader_sidebar
from workbench.catalog import filter_papers
from workbench.notes import load_progress, status_label, topic_progress

# "my reading" from least to most done (its labels do not sort alphabetically)
STATUSES = ["", "not started"] + [f"pass {n} {s}" for n in (1, 2, 3)
                                  for s in ("in progress", "done")]
SORTS = {
    "catalog order": lambda papers, status: papers,
    "my reading (furthest first)": lambda papers, status: sorted(
        papers, key=lambda p: -STATUSES.index(status[p.id]) if status[p.id] in STATUSES else 0),
    "year (newest first)": lambda papers, status: sorted(papers, key=lambda p: -p.year),
    "title": lambda papers, status: sorted(papers, key=lambda p: p.title.lower()),
}


# a click on a title reruns the script: main.py makes that run the paper's page
# (common.open_clicked_paper); where it cannot, go to the paper before drawing anything
if opened := clicked_in_library():
    del st.session_state[LIBRARY_TABLE]  # back on the Library, the click is not made again
    st.switch_page("views/paper.py", query_params={"paper": opened})

st.title("Library")
cat = load_catalog()
if cat is None:
    st.stop()

topics = {t.id: t.title for t in cat.topics}
years = [p.year for p in cat.papers]
reader = reader_sidebar()
progress = load_progress(workspace())
for exc in progress.unreadable:
    st.warning(str(exc))
status = {p.id: status_label(progress.note(p.id, reader)) if reader else "" for p in cat.papers}
with st.sidebar:
    st.header("Filter")
    chosen_topics = st.multiselect("Topic", list(topics), format_func=topics.get, key="f_topic")
    lo, hi = min(years), max(years)
    # a slider needs two different ends: a catalog of one year has nothing to filter by year
    year_range = st.slider("Year", lo, hi, (lo, hi), key="f_year") if lo < hi else (lo, hi)
    chosen_tags = st.multiselect("Tag", cat.tags, key="f_tag")
    query = st.text_input("Search title, authors, abstract", key="f_query")
    chosen_status = st.multiselect("My reading", [s for s in STATUSES[1:] if s in status.values()],
                                   key="f_status", disabled=not reader)
    order = st.selectbox("Sort by", list(SORTS), key="library_sort")

papers = filter_papers(cat, topics=chosen_topics, years=year_range, tags=chosen_tags, text=query)
if chosen_status:
    papers = [p for p in papers if status[p.id] in chosen_status]
papers = SORTS[order](papers, status)
st.caption(f"{len(papers)} of {len(cat)} papers · click a title to open the paper")
rows = [
    {
        "title": p.title,
        "my reading": status[p.id],
        "authors": p.short,
        "year": p.year,
        "topic": topics[p.topic],
        "tags": ", ".join(p.tags),
        "reproduction": (p.reproduction or "") + (f" ({p.relation})" if p.reproduction
                                                  and p.relation != "implements" else ""),
        "group": progress.group_label(p.id),
    }
    for p in papers
]
# a cell click, not a LinkColumn: a link opens a new tab (a new session, the reader forgotten)
st.session_state[LIBRARY_IDS] = [p.id for p in papers]
st.dataframe(
    rows, hide_index=True, width="stretch", key=LIBRARY_TABLE,
    on_select="rerun", selection_mode="single-cell",
    column_config={"title": st.column_config.TextColumn("title", width="large",
                                                        help="Click a title to open the paper"),
                   "year": st.column_config.NumberColumn(format="%d")},
)

st.subheader("Per topic")
st.caption(f"Papers in each topic, and how many were taken through each pass by "
           f"{reader or 'you (choose who you are in the sidebar)'} and by anyone in the group.")
group = topic_progress(cat, progress, None)
mine = {t.topic: t.done for t in topic_progress(cat, progress, reader)} if reader else {}
most = max((t.papers for t in group), default=1)
# one table, bars inside it: a chart element would import Altair (~0.4 s of the first page)
st.dataframe(
    [{"topic": t.title, "papers": t.papers,
      **({f"my pass {k + 1}": mine[t.topic][k] for k in range(3)} if reader else {}),
      **{f"group: pass {k + 1}": t.done[k] for k in range(3)}} for t in group],
    hide_index=True, width="stretch", key="topic_progress",
    column_config={"papers": st.column_config.ProgressColumn(
        "papers", min_value=0, max_value=max(most, 1), format="%d")},
)
