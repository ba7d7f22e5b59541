"""Graph: a paper's citation neighbourhood, what came before and after it, and what to read first."""

import streamlit as st

from workbench import graph as g
from workbench import sessions
from workbench.app.common import flash, load_catalog, selected_paper, show_flash, workspace
from workbench.app.views.reading import reader_sidebar
from workbench.errors import WorkbenchError
from workbench.notes import load_progress
from workbench.safetext import md_literal
from workbench.workspace import Workspace

PAPER_PAGE = "views/paper.py"
NEW_SESSION = "(a new session)"


@st.cache_resource(show_spinner="Building the citation graph…", max_entries=4)
def citation_graph(root: str, reader: str, stamp: tuple):
    return g.load_workspace_graph(Workspace.resolve(root), reader=reader)


@st.cache_resource(show_spinner="Laying out the neighbourhood…", max_entries=32)
def graph_view(_graph, stamp, reader, center, hops, direction, colour_by, layout_by, topics):
    return g.make_view(_graph, center, hops, direction, colour_by, dict(topics),
                       layout_by=layout_by)


@st.cache_resource(max_entries=32)
def graph_figure(_view, stamp, reader, center, hops, direction, colour_by, layout_by, topics,
                 picked):
    """The view's plotly figure, kept: building it (plotly validates every property) is most
    of the page's own time, and a reader comes back to the same view and pick."""
    return g.plotly_figure(_view, picked=picked)


def link(pid: str, label: str, where=st) -> None:
    """A same-tab link to the Paper page for a catalog paper; plain text for the others."""
    if graph.nodes[pid].get("in_catalog"):
        where.page_link(PAPER_PAGE, label=md_literal(label), query_params={"paper": pid})
    else:
        where.markdown(md_literal(label))


def follow(key: str, picked: str | None, shown: list[str]) -> None:
    """A new click on the picture or the list (widget `key`) picks that paper, once."""
    if picked != st.session_state.get(f"{key}_seen") and picked in shown:
        st.session_state["graph_open"] = picked
    st.session_state[f"{key}_seen"] = picked


def centre_on(pid: str) -> None:
    st.session_state["graph_paper"] = pid


TICKED = "graph_ticked"  # {paper: prerequisites ticked as read}: kept while their list is folded


def tick(key: str, pid: str, item: str) -> None:
    ticked = st.session_state.setdefault(TICKED, {}).setdefault(pid, set())
    (ticked.add if st.session_state[key] else ticked.discard)(item)


def save_plan(ws: Workspace, cat, slug: str, title: str, papers: list[str]) -> None:
    """Add the plan's papers to session `slug` (after its own), or to a new session."""
    try:
        if slug == NEW_SESSION:
            slug = sessions.suggest_slug(title)
            sessions.save_session(ws, sessions.form_session(slug, title, None, papers, {}, cat),
                                  None, cat)
        else:
            old, version = sessions.load_session(ws, slug, cat)
            merged = list(old.papers) + [p for p in papers if p not in old.papers]
            names = {p: ", ".join(n) for p, n in old.presenters.items()}
            sessions.save_session(ws, sessions.form_session(slug, old.title, old.date, merged,
                                                            names, cat), version, cat)
    except WorkbenchError as exc:
        flash("graph_plan_message", "error", str(exc))
        return
    flash("graph_plan_message", "success", f"Saved the plan in sessions/{slug}.yaml.")


st.title("Citation graph")
cat = load_catalog()
reader = reader_sidebar()
if cat is None or reader is None:
    st.stop()
ws = workspace()
stamp = g.workspace_stamp(ws)
try:
    graph = citation_graph(str(ws.root), reader, stamp)
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()
for exc in load_progress(ws, reader).unreadable:  # those papers are coloured as not started
    st.warning(str(exc))
if not st.query_params.get("paper"):  # opened from the menu: the paper read last, else a hub
    st.session_state.setdefault("current_paper", g.central_paper(graph))
paper = selected_paper(cat, key="graph_paper")
st.caption(f"Centred on {md_literal(paper.title)}: nodes show short titles, hover for the rest.")
with st.sidebar:
    hops = st.slider("Hops from the paper", 1, 3, 1, key="graph_hops")
    direction = st.radio("Follow", g.DIRECTIONS, index=2, key="graph_direction")
    layout_by = st.radio("Layout", g.LAYOUTS, key="graph_layout", help=(
        "citations: who cites whom. similarity: papers sharing references (coupling) or "
        "citers (co-citation) sit together, as in Connected Papers."))
    colour_by = st.radio("Colour by", g.COLOUR_MODES, key="graph_colour")
topics = tuple((t.id, t.title) for t in cat.topics)
view = graph_view(graph, stamp, reader, paper.id, hops, direction, colour_by, layout_by, topics)

rows = g.view_rows(view)
shown = [r["id"] for r in rows]
list_key = f"graph_list_{paper.id}_{hops}_{direction}"
chart = st.session_state.get("graph_chart") or {}  # this run's click, before drawing
points = chart.get("selection", {}).get("points", [])
follow("graph_chart", next((p["customdata"] for p in points if p.get("customdata")), None), shown)
picked_rows = (st.session_state.get(list_key) or {}).get("selection", {}).get("rows", [])
follow(list_key, shown[picked_rows[0]] if picked_rows else None, shown)
if st.session_state.get("graph_open") not in shown:
    st.session_state["graph_open"] = paper.id
st.plotly_chart(graph_figure(view, stamp, reader, paper.id, hops, direction, colour_by, layout_by,
                             topics, st.session_state["graph_open"]),
                on_select="rerun", selection_mode="points", key="graph_chart",
                config={"scrollZoom": True})
st.caption("Click a paper to pick it; scroll to zoom, drag to pan. Size = PageRank in this view; "
           "named: this paper, the one you picked and the largest whose names fit (hover for "
           "the others). Downloads: the whole graph (GraphML, JSON), this view as an image.")
for col, fmt in zip(st.columns(8)[:4], g.EXPORT_FORMATS, strict=True):
    col.download_button(fmt.upper(), lambda fmt=fmt: g.export(graph, fmt, view),
                        file_name=f"{paper.id}-graph.{fmt}", mime=g.EXPORT_MIME[fmt],
                        key=f"graph_{fmt}")

left, right = st.columns(2)
with left:
    st.subheader(f"Papers in this view ({len(rows)})")
    st.dataframe([{k: r[k] for k in ("paper", "relation", "status")} for r in rows],
                 key=list_key, on_select="rerun", selection_mode="single-row",
                 hide_index=True, height=360)
    pick = st.selectbox("Picked paper", shown, key="graph_open",
                        format_func=lambda n: g.short_title(graph, n))
    if graph.nodes[pick].get("in_catalog"):
        link(pick, f"Open “{graph.nodes[pick]['title']}” ›")
        st.button("Centre the graph on it", key="graph_centre", on_click=centre_on,
                  args=(pick,), disabled=pick == paper.id)
    else:
        st.caption(f"{md_literal(graph.nodes[pick]['title'])}: not in the catalog; add it on "
                   "the Add paper page to read it here.")

# the link lists are drawn only in their open tab (each link is an element the browser lays out
# on every rerun); the plan and the path keep their widgets' state, so they are always drawn
plan_tab, prior_tab, similar_tab, path_tab = right.tabs(
    ["Reading plan", "Prior & derivative", "Similar", "Path"], key="graph_tab",
    on_change="rerun")
with plan_tab:
    depth = st.number_input("Citation depth (0 = all prerequisites)", 0, 10, 2,
                            key="graph_depth")
    size = st.slider("Essentials", 5, 10, g.PLAN_SIZE, key="graph_plan_size")
    prefix = f"graph_read_{paper.id}_"
    ticked = st.session_state.get(TICKED, {}).get(paper.id, set())
    plan = g.reading_plan(graph, paper.id, read=ticked, depth=depth or None, size=size)
    label = g.short_title(graph, paper.id)
    if plan.essentials:
        st.markdown(f"**Read first, before {md_literal(label)}: "
                    f"{g.format_minutes(plan.minutes)}**")
    else:
        st.success(f"Nothing left to read before {md_literal(label)}: go ahead.")
    for n, step in enumerate(plan.essentials, 1):
        name, budget = st.columns([3, 2])
        link(step.item.id, f"{n}. {g.short_title(graph, step.item.id)}", name)
        budget.caption(f"pass {step.suggested_pass} · {g.format_minutes(step.minutes)} · "
                       f"weight {step.weight:.0%}")
    st.caption("Ranked by how much each paper matters to this one (personalised PageRank: a "
               "reader walking its references from here); listed cited-first. Pass 2 (1 h) "
               "for what it cites directly in its own topic, pass 1 (10 min) for the rest."
               + (" Skipped, already read: " + ", ".join(
                   md_literal(g.short_title(graph, i.id)) for i in plan.already_read)
                  if plan.already_read else ""))
    with st.popover("Save the plan into a session", icon=":material/event:"):
        slug = st.selectbox("Session", [NEW_SESSION, *sessions.list_sessions(ws)],
                            key="graph_plan_session")
        title = st.text_input("Title of the new session", f"Before {label}",
                              key="graph_plan_title", disabled=slug != NEW_SESSION)
        st.button("Save", key="graph_plan_save", on_click=save_plan,
                  args=(ws, cat, slug, title, plan.ids), disabled=not plan.essentials)
    show_flash("graph_plan_message")
    prereqs = [i for i in plan.order.items if not i.is_target]
    # drawn only while open: its 25-odd checkboxes were a quarter of the page's elements on
    # every visit; the ticks live in TICKED, so folding the list forgets none
    box = st.expander(f"Show all {len(prereqs)} prerequisites, in reading order",
                      key="graph_prereqs", on_change="rerun")
    if box.open:
        for item in prereqs:
            text = (f"{md_literal(g.short_title(graph, item.id))} · "
                    f"weight {plan.weights[item.id]:.0%}")
            noted = item.status not in g.NOT_READ_STATUSES  # read per the notes
            box.checkbox(f"~~{text}~~ ({item.status})" if noted else text,
                         value=item.read, key=prefix + item.id, disabled=noted,
                         on_change=tick, args=(prefix + item.id, paper.id, item.id))
        left_min = plan.order.minutes_left()
        box.caption(f"{sum(not i.read for i in prereqs)} to read · " + " · ".join(
            f"pass {k} of each: {g.format_minutes(m)}" for k, m in sorted(left_min.items())))
if prior_tab.open:
    with prior_tab:
        st.subheader("Prior works")
        st.caption("Most cited by this paper's neighbourhood: the seminal work.")
        for p, n in g.prior_works(graph, paper.id):
            link(p, f"{g.short_title(graph, p)} · cited by {n}")
        st.subheader("Derivative works")
        st.caption("Later papers citing this paper or the papers it cites, the most such "
                   "citations first: where the work went next.")
        for p, n in g.derivative_works(graph, paper.id):
            k = n - graph.has_edge(p, paper.id)
            what = [w for w in ("it" if graph.has_edge(p, paper.id) else "",
                                f"{k} of its references" if k else "") if w]
            link(p, f"{g.short_title(graph, p)} · cites {' and '.join(what)}")
if similar_tab.open:
    with similar_tab:
        st.caption("Score = shared references (Adamic/Adar) + shared citers (Salton).")
        for s in g.similar_papers(graph, paper.id):
            link(s.id, f"{g.short_title(graph, s.id)} · {s.score:.2f} = {s.coupling:.2f} + "
                       f"{s.cocitation:.2f}")
with path_tab:
    others = [p.id for p in cat.papers if p.id != paper.id]
    to = st.selectbox("To", others, key="graph_path_to",
                      format_func=lambda n: cat.by_id[n].title)
    undirected = st.toggle("Either direction at each step", key="graph_path_undirected")
    path = g.citation_path(graph, paper.id, to, undirected=undirected)
    if path is None:
        st.info("No chain of citations links them; try “either direction”.")
    else:
        steps = len(path) - 1
        st.markdown(f"**{steps} hop{'' if steps == 1 else 's'}**  \n"
                    + "  \n".join(map(md_literal, g.describe_path(graph, path))))
