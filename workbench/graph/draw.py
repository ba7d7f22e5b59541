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
from workbench.graph.queries import pagerank

COLOUR_MODES = ("topic", "year", "status")
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


@dataclass(frozen=True)
class GraphView:
    """What the Graph page draws and exports: one neighbourhood, laid out and coloured."""

    graph: nx.DiGraph
    center: str | None  # None: the whole (small) graph
    positions: Mapping[str, tuple[float, float]]
    groups: Mapping[str, tuple[str, ...]]  # legend label -> nodes, in legend order
    colours: Mapping[str, str]  # legend label -> hex colour
    sizes: Mapping[str, float]  # node -> marker diameter in px
    rank: Mapping[str, float]  # node -> local PageRank

    def label(self, n: str) -> str:
        d = self.graph.nodes[n]
        if d.get("in_catalog"):
            return n
        title = d.get("title") or n
        return title if len(title) <= 24 else title[:23] + "…"


def layout(graph: nx.DiGraph, seed: int = 7, iterations: int = 50
           ) -> dict[str, tuple[float, float]]:
    """Fruchterman-Reingold spring layout (networkx), seeded so a view never jumps about.

    The largest connected piece fills the square [-1, 1]^2; smaller pieces (isolated papers
    of a whole-catalog view) are laid out on their own and lined up underneath, instead of
    being flung to the corners and squeezing the main picture into a blot.
    """
    if graph.number_of_nodes() == 0:
        return {}
    und = graph.to_undirected(as_view=True)
    pieces = sorted(nx.connected_components(und), key=lambda c: (-len(c), min(c)))
    pos: dict[str, tuple[float, float]] = {}
    main = nx.spring_layout(und.subgraph(pieces[0]), seed=seed, iterations=iterations)
    pos.update((n, (float(x), float(y))) for n, (x, y) in main.items())
    rest = pieces[1:]
    for i, piece in enumerate(rest):
        cx = -1 + 2 * (i + 0.5) / len(rest)
        scale = min(0.9 / len(rest), 0.1 * math.sqrt(len(piece)))
        sub = nx.spring_layout(und.subgraph(piece), seed=seed, iterations=iterations,
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


def make_view(graph: nx.DiGraph, center: str | None, hops: int = 1, direction: str = "both",
              colour_by: str = "topic", topics: Mapping[str, str] | Iterable[str] = (),
              max_nodes: int = MAX_VIEW_NODES, seed: int = 7) -> GraphView:
    """The neighbourhood of `center` (at most `max_nodes` papers; the whole graph when `center`
    is None and it is that small), laid out, coloured by topic (`topics`: id -> title, in
    lecture order), year or reading status, and sized by local PageRank:
    d(n) = 10 + 30 * sqrt(PR(n) / max PR).
    """
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
    return GraphView(sub, center, layout(sub, seed=seed),
                     {k: tuple(v) for k, v in groups.items()}, colours, sizes, rank)


def _hover(view: GraphView, n: str) -> str:
    d = view.graph.nodes[n]
    lines = [f"<b>{html.escape(d.get('title') or n)}</b>",
             f"{n} · {d.get('year') or 'year unknown'} · {d.get('topic') or 'outside catalog'}",
             f"cites {view.graph.out_degree(n)} · cited by {view.graph.in_degree(n)} in view",
             f"PageRank {view.rank.get(n, 0):.3f} · {d.get('reading_status', UNREAD)}"]
    if d.get("citation_count") is not None:
        lines.append(f"{d['citation_count']} citations (Semantic Scholar)")
    return "<br>".join(lines)


def plotly_figure(view: GraphView):
    """An interactive plotly figure of the view: zoom, pan, hover; each point's customdata is
    its paper id (the page opens the paper a reader clicks). Arrows show who cites whom."""
    import plotly.graph_objects as go

    pos, g = view.positions, view.graph
    ex, ey = [], []
    for u, v in g.edges():
        ex += [pos[u][0], pos[v][0], None]
        ey += [pos[u][1], pos[v][1], None]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", hoverinfo="skip", showlegend=False,
                             line={"width": 0.6, "color": "#c8c8c8"}))
    for label, members in view.groups.items():
        fig.add_trace(go.Scatter(
            x=[pos[n][0] for n in members], y=[pos[n][1] for n in members],
            mode="markers+text", name=f"{label} ({len(members)})",
            text=[view.label(n) if n == view.center or g.nodes[n].get("in_catalog") else ""
                  for n in members],
            textposition="top center", textfont={"size": 10},
            customdata=list(members),
            hovertext=[_hover(view, n) for n in members], hoverinfo="text",
            marker={"size": [view.sizes[n] for n in members], "color": view.colours[label],
                    "line": {"width": [3 if n == view.center else 0.5 for n in members],
                             "color": "#222222"}},
        ))
    if g.number_of_edges() <= 400:  # arrowheads, drawn as annotations
        fig.update_layout(annotations=[
            {"x": pos[v][0], "y": pos[v][1], "ax": pos[u][0], "ay": pos[u][1],
             "xref": "x", "yref": "y", "axref": "x", "ayref": "y", "text": "",
             "showarrow": True, "arrowhead": 2, "arrowsize": 1, "arrowwidth": 0.8,
             "arrowcolor": "#9a9a9a", "standoff": view.sizes[v] / 2}
            for u, v in g.edges()])
    fig.update_layout(
        height=620, margin={"l": 0, "r": 0, "t": 30, "b": 0}, dragmode="pan",
        hovermode="closest", clickmode="event+select", legend={"itemsizing": "constant"},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x"},
        title={"text": f"{g.number_of_nodes()} papers, {g.number_of_edges()} citations"
                       + (f" around {view.center}" if view.center else ""),
               "font": {"size": 13}},
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
    """A standalone SVG of the view: same nodes, positions, colours and sizes as the app, with
    arrowheads, labels for catalog papers, and each paper's details as a hover tooltip."""
    pos = _scaled(view, width, height - 40, 40)
    esc = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
           'markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#9a9a9a"/></marker></defs>',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for u, v in sorted(view.graph.edges()):
        (x1, y1), (x2, y2) = pos[u], pos[v]
        dist = math.hypot(x2 - x1, y2 - y1) or 1.0
        shrink = view.sizes[v] / 2 / dist
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2 - (x2 - x1) * shrink:.1f}" '
                   f'y2="{y2 - (y2 - y1) * shrink:.1f}" stroke="#c8c8c8" stroke-width="0.8" '
                   'marker-end="url(#arrow)"/>')
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
            if d.get("in_catalog") or n == view.center:
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
    for u, v in view.graph.edges():
        ax.annotate("", xy=pos[v], xytext=pos[u],
                    arrowprops={"arrowstyle": "-|>", "color": "#9a9a9a", "lw": 0.6,
                                "shrinkB": view.sizes[v] / 2.5})
    for label, members in view.groups.items():
        ax.scatter([pos[n][0] for n in members], [pos[n][1] for n in members],
                   s=[(view.sizes[n] * 0.7) ** 2 for n in members], c=view.colours[label],
                   edgecolors=["#222" for _ in members],
                   linewidths=[2.5 if n == view.center else 0.4 for n in members],
                   label=label, zorder=3)
        for n in members:
            if view.graph.nodes[n].get("in_catalog") or n == view.center:
                ax.annotate(view.label(n), pos[n], textcoords="offset points", xytext=(0, 7),
                            ha="center", fontsize=7, zorder=4)
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    for handle in legend.legend_handles:
        handle.set_sizes([40])
    ax.set_title(f"Citations around {view.center}" if view.center else "Citation graph",
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
