"""Graph: a paper's citation neighbourhood, what came before and after it, and what to read first."""

import streamlit as st

from workbench import graph as g
from workbench import graph as graph_draw
from workbench import graph as graph_queries
from workbench import graph as graph_sources
from workbench.app.common import load_catalog, paper_link, selected_paper, workspace
from workbench.app.views.reading import reader_sidebar
from workbench.errors import WorkbenchError
from workbench.notes import load_progress
from workbench.safetext import md_literal
from workbench.workspace import Workspace


@st.cache_resource(show_spinner="Building the citation graph…", max_entries=4)
def citation_graph(root: str, reader: str, stamp: tuple):
    return g.load_workspace_graph(Workspace.resolve(root), reader=reader)


@st.cache_resource(show_spinner="Laying out the neighbourhood…", max_entries=32)
def graph_view(_graph, stamp, reader, center, hops, direction, colour_by, topics):
    return graph_draw.make_view(_graph, center, hops, direction, colour_by, dict(topics))


def links(rows) -> None:
    for pid, label in rows:
        title = md_literal(graph.nodes[pid].get("title", pid))  # cached S2 titles too
        st.markdown(f"- [{title}]({paper_link(pid)}) · {label}" if graph.nodes[pid].get(
            "in_catalog") else f"- {title} · {label}")


def centre_on(pid: str) -> None:
    st.session_state["graph_paper"] = pid


st.title("Citation graph")
cat = load_catalog()
reader = reader_sidebar()
if cat is None or reader is None:
    st.stop()
ws = workspace()
stamp = graph_sources.workspace_stamp(ws)
try:
    graph = citation_graph(str(ws.root), reader, stamp)
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()
for exc in load_progress(ws, reader).unreadable:  # those papers are coloured as not started
    st.warning(str(exc))
paper = selected_paper(cat, key="graph_paper")
with st.sidebar:
    hops = st.slider("Hops from the paper", 1, 3, 1, key="graph_hops")
    direction = st.radio("Follow", g.DIRECTIONS, index=2, key="graph_direction")
    colour_by = st.radio("Colour by", graph_draw.COLOUR_MODES, key="graph_colour")
topics = tuple((t.id, t.title) for t in cat.topics)
view = graph_view(graph, stamp, reader, paper.id, hops, direction, colour_by, topics)

left, right = st.columns([3, 2])
with left:
    figure = graph_draw.plotly_figure(view)
    event = st.plotly_chart(figure, on_select="rerun", selection_mode="points",
                            key="graph_chart", config={"scrollZoom": True})
    shown = sorted((n for n in view.graph if graph.nodes[n].get("in_catalog")),
                   key=lambda n: (n != paper.id, n))
    clicked = next((p["customdata"] for p in event.selection.points if p.get("customdata")), None)
    if clicked in shown and clicked != st.session_state.get("graph_clicked"):
        st.session_state["graph_open"] = clicked  # a click picks the paper below
    st.session_state["graph_clicked"] = clicked
    pick = st.selectbox("Paper in this view", shown, key="graph_open",
                        format_func=lambda n: graph.nodes[n]["title"])
    st.markdown(f"[Open “{md_literal(graph.nodes[pick]['title'])}” ›]({paper_link(pick)})")
    st.button("Centre the graph on it", key="graph_centre", on_click=centre_on, args=(pick,))
    st.caption("Click a paper to pick it; scroll to zoom, drag to pan. Size = PageRank in this "
               "view. Downloads: the whole graph (GraphML, JSON), this view as an image.")
    for col, fmt in zip(st.columns(4), graph_draw.EXPORT_FORMATS, strict=True):
        col.download_button(fmt.upper(), lambda fmt=fmt: graph_draw.export(graph, fmt, view),
                            file_name=f"{paper.id}-graph.{fmt}",
                            mime=graph_draw.EXPORT_MIME[fmt],
                            key=f"graph_{fmt}")

order_tab, prior_tab, similar_tab, path_tab = right.tabs(
    ["Reading order", "Prior & derivative", "Similar", "Path"])
with order_tab:
    depth = st.number_input("Citation depth (0 = all prerequisites)", 0, 10, 2,
                            key="graph_depth")
    order = g.reading_order(graph, paper.id, depth=depth or None)
    read = set()
    for item in order.items:
        key = f"graph_read_{paper.id}_{item.id}"
        done = st.session_state.get(key, item.read)
        label = f"{md_literal(item.title)} ({item.year or '?'})" + (
            " · **target**" if item.is_target else "")
        if st.checkbox(f"~~{label}~~" if done else label, value=item.read, key=key):
            read.add(item.id)
    left_min = order.minutes_left(read)
    st.caption(f"{len(order.items) - len(read)} to read · " + " · ".join(
        f"pass {k}: {g.format_minutes(m)}" for k, m in sorted(left_min.items())))
with prior_tab:
    st.subheader("Prior works")
    st.caption("Most cited by this paper's neighbourhood: the seminal work.")
    links((p, f"cited by {n}") for p, n in graph_queries.prior_works(graph, paper.id))
    st.subheader("Derivative works")
    st.caption("Citing most of the neighbourhood: surveys and later work.")
    links((p, f"cites {n}") for p, n in graph_queries.derivative_works(graph, paper.id))
with similar_tab:
    st.caption("Score = shared references (Adamic/Adar) + shared citers (Salton).")
    links((s.id, f"{s.score:.2f} = {s.coupling:.2f} + {s.cocitation:.2f}")
          for s in graph_queries.similar_papers(graph, paper.id))
with path_tab:
    others = [p.id for p in cat.papers if p.id != paper.id]
    to = st.selectbox("To", others, key="graph_path_to",
                      format_func=lambda n: cat.by_id[n].title)
    undirected = st.toggle("Either direction at each step", key="graph_path_undirected")
    path = graph_queries.citation_path(graph, paper.id, to, undirected=undirected)
    if path is None:
        st.info("No chain of citations links them; try “either direction”.")
    else:
        steps = len(path) - 1
        st.markdown(f"**{steps} hop{'' if steps == 1 else 's'}**  \n"
                    + "  \n".join(map(md_literal, graph_queries.describe_path(graph, path))))
