"""Drawing and exporting the citation graph: one paper's neighbourhood laid out, coloured by
topic, year or reading status and sized by PageRank (`make_view`), drawn as an interactive
plotly figure for the app or as SVG/PNG files; the graph itself exported as GraphML or
node-link JSON. plotly and matplotlib are imported only when a figure is asked for.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from workbench.graph.build import (
    MAX_VIEW_NODES,
    READING_STATUSES,
    UNREAD,
    GraphError,
    neighbourhood,
)
from workbench.graph.queries import pagerank, similarity_weights

COLOUR_MODES = ("topic", "year", "status")
LAYOUTS = ("citations", "similarity")
SIMILAR_LINKS = 4  # links drawn (and laid out) per paper in the similarity layout
FIGURE_HEIGHT = 760  # px: a full-width picture a reader can read labels in
LABEL_ROOM = 0.1  # of the layout's width, left and right of it: half an outer paper's label
PLOT_PX = (900, 660)  # the plotting area on a wide page beside the sidebar, about
HEAD_PX = (9.0, 3.5)  # an arrowhead's length and half-width
EXPORT_FORMATS = ("graphml", "json", "svg", "png")
EXPORT_MIME = {"graphml": "application/xml", "json": "application/json", "svg": "image/svg+xml",
               "png": "image/png"}


# --- exports -----------------------------------------------------------------------------------


def _plain_graph(graph: nx.DiGraph, listsep: str | None) -> nx.DiGraph:
    """A copy whose attributes are str/int/float/bool only: None dropped, sets -> sorted lists
    (or `listsep`-joined strings for GraphML, which has no list type)."""
    def clean(d: Mapping) -> dict:
        out = {}
        for k, v in d.items():
            if v is None:
                continue
            if isinstance(v, set | frozenset | list | tuple):
                v = sorted(v)
                if listsep is not None:
                    v = listsep.join(v)
            out[k] = v
        return out

    plain = nx.DiGraph()  # sorted, so an export is the same file whatever the build order
    plain.add_nodes_from((n, clean(graph.nodes[n])) for n in sorted(graph.nodes))
    plain.add_edges_from((u, v, clean(graph.edges[u, v])) for u, v in sorted(graph.edges))
    return plain


def to_graphml(graph: nx.DiGraph) -> bytes:
    """GraphML (Gephi, yEd, Cytoscape); list attributes are written comma-separated."""
    buf = io.BytesIO()
    nx.write_graphml(_plain_graph(graph, ","), buf)
    return buf.getvalue()


def to_node_link_json(graph: nx.DiGraph) -> str:
    """networkx node-link JSON (`nodes`, `edges`), readable by d3 and `nx.node_link_graph`."""
    data = nx.node_link_data(_plain_graph(graph, None), edges="edges")
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)


# --- drawing a neighbourhood -------------------------------------------------------------------

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#2f4b7c", "#a05195", "#d45087")
EXTERNAL_COLOUR = "#bab0ac"
STATUS_COLOURS = {UNREAD: "#bab0ac", "pass 1 in progress": "#f1ce63", "pass 1 done": "#a0cbe8",
                  "pass 2 in progress": "#f28e2b", "pass 2 done": "#4e79a7",
                  "pass 3 in progress": "#e15759", "pass 3 done": "#2f4b7c"}
YEAR_STOPS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))


def _year_colour(t: float) -> str:
    """A viridis-like colour for t in [0, 1] (linear between five stops)."""
    t = min(max(t, 0.0), 1.0) * (len(YEAR_STOPS) - 1)
    i = min(int(t), len(YEAR_STOPS) - 2)
    f = t - i
    rgb = [round(a + (b - a) * f) for a, b in zip(YEAR_STOPS[i], YEAR_STOPS[i + 1], strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


SHORT_TITLE = 30  # characters of a label's name, before " (year)"
LABELLED = 12  # papers named on the picture besides the centre: the rest show on hover
LABEL_CHAR_PX, LABEL_LINE_PX = 6.2, 14  # a label's size at font size 11, for overlaps


def short_title(graph: nx.DiGraph, n: str) -> str:
    """A paper's name for a label, with its year: "Faster R-CNN (2015)".

    The name is the title's part before a colon when that is short ("Faster R-CNN: Towards
    ..."), else the whole title when short ("Highway Networks"), else, for a catalog paper,
    its id when the id is the architecture's name ("resnet" -> "ResNet") or an acronym (no
    vowel: "vgg" -> "VGG"),
    else the title's first words. Never a word cut in the middle.
    """
    d = graph.nodes[n]
    title = " ".join((d.get("title") or n).split())
    head = title.split(":")[0]
    if ":" in title and len(head) <= SHORT_TITLE:
        name = head
    elif len(title) <= SHORT_TITLE:
        name = title
    elif d.get("in_catalog") and re.fullmatch(r"[a-z]{2,}net", n):
        name = n[:-3].capitalize() + "Net"
    elif d.get("in_catalog") and re.fullmatch(r"[b-df-hj-np-tv-z][b-df-hj-np-tv-z0-9]{1,4}", n):
        name = n.upper()
    else:
        words = title.split()
        name = words[0]
        for w in words[1:]:
            if len(name) + 1 + len(w) > SHORT_TITLE - 1:
                break
            name += " " + w
        name += "…"
    year = d.get("year")
    return f"{name} ({year})" if year else name


@dataclass(frozen=True)
class GraphView:
    """What the Graph page draws and exports: one neighbourhood, laid out and coloured.

    `layout_by` "citations" places papers by who cites whom and draws the citations;
    "similarity" (Connected Papers) places papers by `queries.similarity_weights` and draws,
    instead of citations, each paper's strongest similarity `links`.
    """

    graph: nx.DiGraph
    center: str | None  # None: the whole (small) graph
    positions: Mapping[str, tuple[float, float]]
    groups: Mapping[str, tuple[str, ...]]  # legend label -> nodes, in legend order
    colours: Mapping[str, str]  # legend label -> hex colour
    sizes: Mapping[str, float]  # node -> marker diameter in px
    rank: Mapping[str, float]  # node -> local PageRank
    layout_by: str = "citations"
    links: tuple[tuple[str, str, float], ...] = ()  # (a, b, similarity), similarity layout only

    def label(self, n: str) -> str:
        return short_title(self.graph, n)

    @property
    def ranked(self) -> list[str]:
        """The view's papers, the centre first, then by local PageRank (ties: id)."""
        return sorted(self.graph, key=lambda n: (n != self.center, -self.rank.get(n, 0.0), n))

    def labelled(self, extra: Iterable[str] = (), width_px: int = 1000,
                 height_px: int = FIGURE_HEIGHT) -> set[str]:
        """The papers named on the picture: the centre and `extra` (the paper the reader
        picked), then, down the PageRank ranking (the biggest dots first), each paper whose
        label would not overlap a label already placed on a `width_px` x `height_px` picture,
        up to `LABELLED` of them: at 3 hops the crowded core gets a few names, not a smudge."""
        if not self.positions:
            return set()
        xs = [x for x, _ in self.positions.values()]
        ys = [y for _, y in self.positions.values()]
        sx = width_px / ((max(xs) - min(xs)) or 1.0)
        sy = height_px / ((max(ys) - min(ys)) or 1.0)
        placed: list[tuple[float, float, float, float]] = []
        named: set[str] = set()
        first = list(dict.fromkeys(n for n in (self.center, *extra) if n in self.graph))
        for n in dict.fromkeys(first + self.ranked):
            x, y = self.positions[n][0] * sx, self.positions[n][1] * sy + self.sizes[n] / 2
            half = LABEL_CHAR_PX * len(self.label(n)) / 2
            box = (x - half, x + half, y, y + LABEL_LINE_PX)
            clear = all(box[1] < b[0] or b[1] < box[0] or box[3] < b[2] or b[3] < box[2]
                        for b in placed)
            if n in first or (clear and len(named) < LABELLED + len(first)):
                named.add(n)
                placed.append(box)
        return named


def _piece(graph: nx.Graph, nodes: Iterable[str]) -> nx.Graph:
    """The undirected subgraph on `nodes`, its nodes and edges in id order. networkx's
    subgraph views iterate a small subgraph in the order of its node *set*, which changes with
    each process's string hashing, and the spring layout's seeded start follows node order."""
    nodes = set(nodes)
    piece = nx.Graph()
    piece.add_nodes_from(sorted(nodes))
    piece.add_weighted_edges_from(sorted(
        (min(u, v), max(u, v), w) for u, v, w in graph.edges(data="weight", default=1.0)
        if u in nodes and v in nodes))
    return piece


def layout(graph: nx.Graph, seed: int = 7, iterations: int = 50
           ) -> dict[str, tuple[float, float]]:
    """Fruchterman-Reingold spring layout (networkx), seeded and run on the papers in id order,
    so a view never jumps about, not even in another process. Edge `weight`s pull harder.

    The largest connected piece fills the square [-1, 1]^2; smaller pieces (isolated papers
    of a whole-catalog view) are laid out on their own and lined up underneath, instead of
    being flung to the corners and squeezing the main picture into a blot.
    """
    if graph.number_of_nodes() == 0:
        return {}
    und = graph.to_undirected(as_view=True)
    pieces = sorted(nx.connected_components(und), key=lambda c: (-len(c), min(c)))
    pos: dict[str, tuple[float, float]] = {}
    # twice networkx's default spacing k = 1/sqrt(n): a 1-hop view is a star around its centre,
    # and the default packs the papers citing and cited by it into a blot
    main = nx.spring_layout(_piece(und, pieces[0]), seed=seed, iterations=iterations,
                            k=2 / math.sqrt(len(pieces[0])))
    pos.update((n, (float(x), float(y))) for n, (x, y) in main.items())
    rest = pieces[1:]
    for i, piece in enumerate(rest):
        cx = -1 + 2 * (i + 0.5) / len(rest)
        scale = min(0.9 / len(rest), 0.1 * math.sqrt(len(piece)))
        sub = nx.spring_layout(_piece(und, piece), seed=seed, iterations=iterations,
                               scale=scale, center=(cx, -1.3)) if len(piece) > 1 else \
            {next(iter(piece)): (cx, -1.3)}
        pos.update((n, (float(x), float(y))) for n, (x, y) in sub.items())
    return pos


def _groups(graph: nx.DiGraph, colour_by: str, topics: Mapping[str, str] | Iterable[str]
            ) -> tuple[dict[str, list[str]], dict[str, str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    colours: dict[str, str] = {}
    if colour_by == "topic":
        titles = dict(topics) if isinstance(topics, Mapping) else {t: t for t in topics}
        order = list(titles.values())
        for n, d in graph.nodes(data=True):
            topic = d.get("topic")
            groups[titles.get(topic, topic) if topic else "outside the catalog"].append(n)
        for t in groups:
            colours[t] = (PALETTE[order.index(t) % len(PALETTE)] if t in order
                          else EXTERNAL_COLOUR)
        labels = sorted(groups, key=lambda t: (t not in order, order.index(t) if t in order
                                               else 0, t))
    elif colour_by == "year":
        for n, d in graph.nodes(data=True):
            groups[str(d["year"]) if d.get("year") else "year unknown"].append(n)
        years = sorted(y for y in groups if y.isdigit())  # same length: sorts as numbers
        for y in groups:  # by rank, so a few old papers do not wash out the recent years
            colours[y] = (_year_colour(years.index(y) / max(1, len(years) - 1))
                          if y.isdigit() else EXTERNAL_COLOUR)
        labels = sorted(groups, key=lambda y: (not y.isdigit(), y))
    elif colour_by == "status":
        for n, d in graph.nodes(data=True):
            groups[d.get("reading_status", UNREAD)].append(n)
        colours = {s: STATUS_COLOURS.get(s, EXTERNAL_COLOUR) for s in groups}
        labels = sorted(groups, key=lambda s: READING_STATUSES.index(s)
                        if s in READING_STATUSES else 99)
    else:
        raise GraphError(f"unknown colouring '{colour_by}'; use one of: "
                         f"{', '.join(COLOUR_MODES)}")
    return {k: sorted(groups[k]) for k in labels}, colours


def similarity_links(graph: nx.DiGraph, nodes: Iterable[str], per_paper: int = SIMILAR_LINKS
                     ) -> tuple[tuple[str, str, float], ...]:
    """The similarity graph of `nodes` (Connected Papers): each paper linked to its
    `per_paper` most similar papers among them (`queries.similarity_weights`, counted in the
    whole graph), as (a, b, weight) with a < b, strongest first."""
    weights = similarity_weights(graph, nodes)
    best: defaultdict[str, list[tuple[float, str, str]]] = defaultdict(list)
    for (a, b), w in weights.items():
        best[a].append((w, a, b))
        best[b].append((w, a, b))
    kept = {t for links in best.values() for t in sorted(links, reverse=True)[:per_paper]}
    return tuple((a, b, w) for w, a, b in sorted(kept, key=lambda t: (-t[0], t[1], t[2])))


def make_view(graph: nx.DiGraph, center: str | None, hops: int = 1, direction: str = "both",
              colour_by: str = "topic", topics: Mapping[str, str] | Iterable[str] = (),
              max_nodes: int = MAX_VIEW_NODES, seed: int = 7, layout_by: str = "citations"
              ) -> GraphView:
    """The neighbourhood of `center` (at most `max_nodes` papers; the whole graph when `center`
    is None and it is that small), laid out by citations or by similarity (`LAYOUTS`),
    coloured by topic (`topics`: id -> title, in lecture order), year or reading status, and
    sized by local PageRank: d(n) = 10 + 30 * sqrt(PR(n) / max PR).
    """
    if layout_by not in LAYOUTS:
        raise GraphError(f"unknown layout '{layout_by}'; use one of: {', '.join(LAYOUTS)}")
    if center is None:
        if graph.number_of_nodes() > max_nodes:
            raise GraphError(f"the graph has {graph.number_of_nodes()} papers, too many to "
                             f"draw at once (limit {max_nodes}); choose a center paper")
        sub = graph.copy()
    else:
        sub = neighbourhood(graph, center, hops, direction, max_nodes)
    rank = pagerank(sub)
    top = max(rank.values()) if rank else 1.0
    sizes = {n: 10 + 30 * math.sqrt(rank[n] / top) for n in sub}
    groups, colours = _groups(sub, colour_by, topics)
    links: tuple[tuple[str, str, float], ...] = ()
    if layout_by == "similarity":
        links = similarity_links(graph, sub)
        strongest = links[0][2] if links else 1.0
        placed = nx.Graph()
        placed.add_nodes_from(sorted(sub))
        placed.add_weighted_edges_from((a, b, w / strongest) for a, b, w in links)
        positions = layout(placed, seed=seed)
    else:
        positions = layout(sub, seed=seed)
    return GraphView(sub, center, positions, {k: tuple(v) for k, v in groups.items()}, colours,
                     sizes, rank, layout_by, links)


def view_rows(view: GraphView) -> list[dict[str, str]]:
    """The view as a list, in `view.ranked` order (what the page shows beside the picture):
    each paper's id, label, how it relates to the centre, and the reader's status."""
    und = view.graph.to_undirected(as_view=True)
    dist = nx.single_source_shortest_path_length(und, view.center) if view.center else {}
    rows = []
    for n in view.ranked:
        cites, cited = (view.graph.has_edge(n, view.center), view.graph.has_edge(view.center, n)) \
            if view.center else (False, False)
        relation = ("this paper" if n == view.center else
                    "cites it, cited by it" if cites and cited else
                    "cites it" if cites else "cited by it" if cited else
                    f"{dist[n]} hops away" if n in dist else "")
        rows.append({"id": n, "paper": view.label(n), "relation": relation,
                     "status": view.graph.nodes[n].get("reading_status", UNREAD)})
    return rows


def _hover(view: GraphView, n: str) -> str:
    d = view.graph.nodes[n]
    lines = [f"<b>{html.escape(d.get('title') or n)}</b>",
             f"{n} · {d.get('year') or 'year unknown'} · {d.get('topic') or 'outside catalog'}",
             f"cites {view.graph.out_degree(n)} · cited by {view.graph.in_degree(n)} in view",
             f"PageRank {view.rank.get(n, 0):.3f} · {d.get('reading_status', UNREAD)}"]
    if d.get("citation_count") is not None:
        lines.append(f"{d['citation_count']} citations (Semantic Scholar)")
    return "<br>".join(lines)


def _drawn_pairs(view: GraphView) -> list[tuple[str, str]]:
    """The lines of the picture: citations (citing, cited), or the similarity links."""
    if view.layout_by == "similarity":
        return [(a, b) for a, b, _ in view.links]
    return list(view.graph.edges())


def _ranges(view: GraphView) -> tuple[list[float], list[float]]:
    """The axes' ranges: the layout on each axis's own scale (a wide page is not left half
    empty), with room at the sides and the top for the outer papers' labels."""
    xs = [x for x, _ in view.positions.values()] or [0.0]
    ys = [y for _, y in view.positions.values()] or [0.0]
    dx, dy = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    return ([min(xs) - LABEL_ROOM * dx, max(xs) + LABEL_ROOM * dx],
            [min(ys) - 0.03 * dy, max(ys) + 0.06 * dy])


def _edge_traces(view: GraphView, xrange: list[float], yrange: list[float]) -> list:
    """Citations as grey lines, each with a filled arrowhead 60% of the way to the cited
    paper, or the similarity links. All the heads are one filled trace (a triangle per
    citation, separated by gaps), drawn by the browser as a single path: a marker per head
    was an element each, about 400 of the page's elements and a tenth of its drawing time.
    The heads are shaped for a plot of about PLOT_PX; on another size they stretch a little
    but stay on their lines, pointing at the cited paper."""
    import plotly.graph_objects as go

    pos = view.positions
    pairs = _drawn_pairs(view)
    ex, ey = [], []
    for u, v in pairs:
        ex += [pos[u][0], pos[v][0], None]
        ey += [pos[u][1], pos[v][1], None]
    colour = "#9ecae1" if view.layout_by == "similarity" else "#c8c8c8"
    traces = [go.Scatter(x=ex, y=ey, mode="lines", hoverinfo="skip", showlegend=False,
                         line={"width": 0.8, "color": colour})]
    if view.layout_by == "citations" and pairs:
        hx, hy = _heads([(pos[u], pos[v]) for u, v in pairs],
                        (xrange[1] - xrange[0]) / PLOT_PX[0],
                        (yrange[1] - yrange[0]) / PLOT_PX[1])
        traces.append(go.Scatter(x=hx, y=hy, mode="none", fill="toself", fillcolor="#9a9a9a",
                                 hoverinfo="skip", showlegend=False, name="arrowheads"))
    return traces


def _heads(lines: list[tuple[tuple[float, float], tuple[float, float]]], per_px_x: float,
           per_px_y: float) -> tuple[list, list]:
    """A triangle per line (tip 60% of the way along it, HEAD_PX long and wide), as x and
    y lists with a gap after each; a line of no length on the screen gets none."""
    length, half = HEAD_PX
    hx: list = []
    hy: list = []
    for (x1, y1), (x2, y2) in lines:
        tx, ty = x1 + 0.6 * (x2 - x1), y1 + 0.6 * (y2 - y1)
        ux, uy = (x2 - x1) / per_px_x, (y2 - y1) / per_px_y  # the line on the screen, in px
        norm = math.hypot(ux, uy)
        if norm < 1e-9:
            continue
        ux, uy = ux / norm, uy / norm
        bx, by = tx - length * ux * per_px_x, ty - length * uy * per_px_y
        wx, wy = -uy * half * per_px_x, ux * half * per_px_y
        hx += [round(tx, 5), round(bx + wx, 5), round(bx - wx, 5), None]
        hy += [round(ty, 5), round(by + wy, 5), round(by - wy, 5), None]
    return hx, hy


def plotly_figure(view: GraphView, picked: str | None = None, height: int = FIGURE_HEIGHT):
    """An interactive plotly figure of the view: zoom, pan, hover; each paper's customdata is
    its id (the page picks the paper a reader clicks). Only `view.labelled` papers (and
    `picked`, ringed in red) are named; the legend sits under the plot, outside it."""
    import plotly.graph_objects as go

    pos, g = view.positions, view.graph
    named = view.labelled([picked] if picked else [])
    xrange, yrange = _ranges(view)
    fig = go.Figure(_edge_traces(view, xrange, yrange))
    for label, members in view.groups.items():
        fig.add_trace(go.Scatter(
            x=[pos[n][0] for n in members], y=[pos[n][1] for n in members],
            mode="markers+text", name=f"{label} ({len(members)})",
            text=[view.label(n) if n in named else "" for n in members],
            textposition="top center", textfont={"size": 11},
            customdata=list(members),
            hovertext=[_hover(view, n) for n in members], hoverinfo="text",
            marker={"size": [view.sizes[n] for n in members], "color": view.colours[label],
                    "line": {"width": [3 if n in (view.center, picked) else 0.5
                                       for n in members],
                             "color": ["#d62728" if n == picked and n != view.center
                                       else "#222222" for n in members]}},
        ))
    what = "similarity links" if view.layout_by == "similarity" else "citations"
    shown = len(view.links) if view.layout_by == "similarity" else g.number_of_edges()
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, dragmode="pan",
        hovermode="closest", clickmode="event+select",
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": -0.02, "yanchor": "top",
                "itemsizing": "constant"},
        xaxis={"visible": False, "range": xrange}, yaxis={"visible": False, "range": yrange},
        title={"text": f"{g.number_of_nodes()} papers, {shown} {what}"
                       + (f" around {html.escape(view.label(view.center))}"
                          if view.center else ""),
               "font": {"size": 14}},
    )
    return fig


def _scaled(view: GraphView, width: int, height: int, pad: int) -> dict[str, tuple[float, float]]:
    xs = [p[0] for p in view.positions.values()] or [0.0]
    ys = [p[1] for p in view.positions.values()] or [0.0]
    sx = (width - 2 * pad) / ((max(xs) - min(xs)) or 1.0)
    sy = (height - 2 * pad) / ((max(ys) - min(ys)) or 1.0)
    return {n: (pad + (x - min(xs)) * sx, height - pad - (y - min(ys)) * sy)
            for n, (x, y) in view.positions.items()}


def render_svg(view: GraphView, width: int = 1000, height: int = 760) -> str:
    """A standalone SVG of the view: same nodes, positions, colours, sizes, lines and labels
    as the app, and each paper's details as a hover tooltip."""
    pos = _scaled(view, width - 210, height - 40, 40)  # the legend gets the right 210 px
    esc = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
           'markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#9a9a9a"/></marker></defs>',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    arrow = "" if view.layout_by == "similarity" else ' marker-end="url(#arrow)"'
    for u, v in sorted(_drawn_pairs(view)):
        (x1, y1), (x2, y2) = pos[u], pos[v]
        dist = math.hypot(x2 - x1, y2 - y1) or 1.0
        shrink = view.sizes[v] / 2 / dist
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2 - (x2 - x1) * shrink:.1f}" '
                   f'y2="{y2 - (y2 - y1) * shrink:.1f}" stroke="#c8c8c8" stroke-width="0.8"'
                   f'{arrow}/>')
    named = view.labelled()
    for label, members in view.groups.items():
        for n in members:
            x, y = pos[n]
            d = view.graph.nodes[n]
            tip = f"{d.get('title') or n} ({d.get('year') or '?'}) [{n}]"
            stroke = 'stroke="#222" stroke-width="3"' if n == view.center else \
                'stroke="#222" stroke-width="0.5"'
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{view.sizes[n] / 2:.1f}" '
                       f'fill="{view.colours[label]}" {stroke}><title>{esc(tip)}</title>'
                       '</circle>')
            if n in named:
                out.append(f'<text x="{x:.1f}" y="{y - view.sizes[n] / 2 - 3:.1f}" '
                           f'font-size="11" text-anchor="middle">{esc(view.label(n))}</text>')
    for i, (label, _members) in enumerate(view.groups.items()):
        y = 16 + 16 * i
        out.append(f'<circle cx="{width - 190}" cy="{y}" r="5" fill="{view.colours[label]}"/>'
                   f'<text x="{width - 180}" y="{y + 4}" font-size="11">{esc(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def render_png(view: GraphView, dpi: int = 120) -> bytes:
    """A PNG of the view drawn with matplotlib (rendered by Agg: no display, no browser)."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or window state

    fig = Figure(figsize=(10, 7.6), dpi=dpi)
    ax = fig.add_subplot()
    ax.set_axis_off()
    pos = view.positions
    style = "-" if view.layout_by == "similarity" else "-|>"
    for u, v in _drawn_pairs(view):
        ax.annotate("", xy=pos[v], xytext=pos[u],
                    arrowprops={"arrowstyle": style, "color": "#9a9a9a", "lw": 0.6,
                                "shrinkB": view.sizes[v] / 2.5})
    named = view.labelled()
    for label, members in view.groups.items():
        ax.scatter([pos[n][0] for n in members], [pos[n][1] for n in members],
                   s=[(view.sizes[n] * 0.7) ** 2 for n in members], c=view.colours[label],
                   edgecolors=["#222" for _ in members],
                   linewidths=[2.5 if n == view.center else 0.4 for n in members],
                   label=label, zorder=3)
        for n in members:
            if n in named:
                ax.annotate(view.label(n), pos[n], textcoords="offset points", xytext=(0, 7),
                            ha="center", fontsize=7, zorder=4)
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    for handle in legend.legend_handles:
        handle.set_sizes([40])
    ax.set_title(f"Around {view.label(view.center)}" if view.center else "Citation graph",
                 fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def export(graph: nx.DiGraph, fmt: str, view: GraphView | None = None) -> bytes:
    """`graph` as data (graphml | json) or `view` as an image (svg | png)."""
    if fmt == "graphml":
        return to_graphml(graph)
    if fmt == "json":
        return to_node_link_json(graph).encode("utf-8")
    if fmt in ("svg", "png"):
        if view is None:
            raise GraphError(f"a {fmt} image needs a neighbourhood: give a center paper")
        return render_svg(view).encode("utf-8") if fmt == "svg" else render_png(view)
    raise GraphError(f"unknown export format '{fmt}'; use one of: {', '.join(EXPORT_FORMATS)}")


def write_export(data: bytes, out: str | Path) -> Path:
    """Write an export atomically and return its path."""
    from workbench.fileio import atomic_write_bytes

    path = Path(out)
    atomic_write_bytes(path, data)
    return path
