"""The citation graph: build it, walk its neighbourhoods, and plan a reading order from it.

One `networkx.DiGraph` holds every paper the workspace knows about; an edge u -> v means
"u cites v". Edges come from three places and remember which (`sources`):

- `catalog`: the `cites:` lists of papers.yaml;
- `s2`: Semantic Scholar references/citations already in the cache (with `intents` and the
  `influential` flag);
- `pdf`: references parsed from a paper's PDF and matched to known papers.

Node attributes: `title`, `year`, `topic`, `in_catalog`, `citation_count` (Semantic Scholar's
global count when cached, else None) and `reading_status` (see `READING_STATUSES`). Building
never touches the network: the adapters in `workbench.graph.sources` read only what is already
cached on disk, and `load_workspace_graph` puts them together.

The queries are plain functions over the graph; each docstring states its formula. This module
is the base the others build on (it imports none of them at load time):

- `workbench.graph.sources`: edges, nodes and reading status from the workspace on disk;
- `workbench.graph.queries`: prior/derivative works, similar papers, PageRank, citation paths;
- `workbench.graph.draw`: a neighbourhood laid out and drawn (plotly, SVG, PNG), and exports.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from workbench.errors import WorkbenchError, did_you_mean

log = logging.getLogger(__name__)

SOURCES = ("catalog", "s2", "pdf")
DIRECTIONS = ("references", "cited-by", "both")
# Where a reader is with a paper (`workbench.notes.progress.status_label`); a paper counts as read
# once its first pass is done, i.e. any status but these two.
UNREAD = "not started"
READING_STATUSES = (UNREAD, "pass 1 in progress", "pass 1 done", "pass 2 in progress",
                    "pass 2 done", "pass 3 in progress", "pass 3 done")
NOT_READ_STATUSES = frozenset({UNREAD, "pass 1 in progress"})
MAX_VIEW_NODES = 300
_CATALOG = frozenset({"catalog"})
_NONE: frozenset[str] = frozenset()


class GraphError(WorkbenchError):
    """A graph query that cannot be answered as asked (bad direction, format, size...)."""


class UnknownPaper(GraphError, LookupError):
    """A paper id that is not a node of the citation graph."""


def require_paper(graph: nx.DiGraph, paper: str) -> str:
    """`paper` itself if it is a node of `graph`; else `UnknownPaper`, naming the closest
    catalog id."""
    if paper not in graph:
        ids = [n for n, d in graph.nodes(data=True) if d.get("in_catalog")]
        hint = did_you_mean(paper, ids)
        raise UnknownPaper(f"'{paper}' is not in the citation graph{hint}; "
                           "use a paper id from papers.yaml")
    return paper


# --- building ----------------------------------------------------------------------------------


def _as_edge(edge) -> tuple[str, str, Mapping]:
    """(citing, cited, attrs) from a tuple `(u, v)` / `(u, v, attrs)` or a mapping with
    `citing`/`cited` (or `source`/`target`) keys."""
    if isinstance(edge, Mapping):
        u = edge.get("citing", edge.get("source"))
        v = edge.get("cited", edge.get("target"))
        attrs = edge
    elif isinstance(edge, tuple | list) and len(edge) in (2, 3):
        u, v = edge[0], edge[1]
        attrs = edge[2] if len(edge) == 3 and isinstance(edge[2], Mapping) else {}
    else:
        raise GraphError(f"cannot read citation edge {edge!r}: expected (citing, cited)")
    if not isinstance(u, str) or not isinstance(v, str) or not u or not v:
        raise GraphError(f"citation edge {edge!r} needs two paper ids")
    return u, v, attrs


def _as_node(node) -> tuple[str, Mapping]:
    if isinstance(node, Mapping):
        return str(node["id"]), node
    if isinstance(node, tuple | list) and len(node) == 2 and isinstance(node[1], Mapping):
        return str(node[0]), node[1]
    raise GraphError(f"cannot read graph node {node!r}: expected {{'id': ..., 'title': ...}}")


def build_graph(
    catalog=None,
    *,
    s2_edges: Iterable = (),
    pdf_edges: Iterable = (),
    external_nodes: Iterable = (),
    reading_status: Mapping[str, str] | None = None,
) -> nx.DiGraph:
    """The citation graph of `catalog` plus the given Semantic Scholar and PDF edges.

    Edges are `(citing, cited)` / `(citing, cited, attrs)` tuples or mappings with `citing` and
    `cited` keys; S2 edges may carry `intents` (list) and `influential` (bool). An edge seen in
    several sources is one edge whose `sources` (a frozenset) names each of them, whose
    `intents` (a frozenset) are the union and which is influential if any source says so.
    `external_nodes` are mappings (`id`, `title`, `year`, `citation_count`) for papers outside
    the catalog; a catalog paper's `citation_count` can be supplied the same way.
    Self-citations are dropped.
    """
    status = dict(reading_status or {})
    graph = nx.DiGraph()
    graph.add_nodes_from(_known_nodes(catalog, external_nodes, status).items())
    if catalog is not None:
        _add_catalog_edges(graph, catalog, status)
    _merge_edges(graph, "s2", s2_edges, status)
    _merge_edges(graph, "pdf", pdf_edges, status)
    log.info("citation graph: %d papers, %d citations", graph.number_of_nodes(),
             graph.number_of_edges())
    return graph


def _known_nodes(catalog, external_nodes: Iterable, status: Mapping[str, str]
                 ) -> dict[str, dict]:
    """Node attributes of the catalog's papers and of `external_nodes`, by id; an external
    node that is a catalog paper only supplies its `citation_count`."""
    nodes: dict[str, dict] = {}
    if catalog is not None:
        for p in catalog.papers:
            nodes[p.id] = {"title": p.title, "year": p.year, "topic": p.topic,
                           "in_catalog": True, "citation_count": None}
    for raw in external_nodes:
        nid, attrs = _as_node(raw)
        known = nodes.get(nid)
        if known is None:
            nodes[nid] = {"title": attrs.get("title") or nid, "year": attrs.get("year"),
                          "topic": None, "in_catalog": False,
                          "citation_count": attrs.get("citation_count")}
        elif attrs.get("citation_count") is not None:
            known["citation_count"] = attrs["citation_count"]
    for nid, attrs in nodes.items():
        attrs["reading_status"] = status.get(nid, UNREAD)
    return nodes


# Edges go straight into networkx's adjacency dicts, one attribute dict shared by succ[u][v] and
# pred[v][u] exactly as `add_edges_from` stores them, without its per-edge bookkeeping (nothing
# is cached on a graph no algorithm has seen yet, so there is no cache to clear): 100,000
# catalog edges in about a quarter of the time. Attribute values are immutable frozensets, so a
# catalog edge costs one small dict copy and merging a second source builds new sets instead of
# mutating shared ones.


def _add_bare_node(graph: nx.DiGraph, n: str, status: Mapping[str, str]) -> None:
    """Add `n` as a paper known only by its id (callers check `n not in succ` first: cheaper
    than a call per edge)."""
    graph.add_node(n, title=n, year=None, topic=None, in_catalog=False,
                   citation_count=None, reading_status=status.get(n, UNREAD))


def _add_catalog_edges(graph: nx.DiGraph, catalog, status: Mapping[str, str]) -> None:
    """The `cites:` edges of every catalog paper (the first source, so every edge is new)."""
    succ, pred = graph._succ, graph._pred
    new_edge = {"sources": _CATALOG, "intents": _NONE, "influential": False}.copy
    for p in catalog.papers:
        row = succ[p.id]
        for cited in p.cites:
            if cited != p.id:
                if cited not in succ:
                    _add_bare_node(graph, cited, status)
                row[cited] = pred[cited][p.id] = new_edge()


def _merge_edges(graph: nx.DiGraph, source: str, edges: Iterable, status: Mapping[str, str]
                 ) -> None:
    """Add `edges` from `source`; an edge already there gains the source, its intents and its
    influential flag."""
    succ, pred = graph._succ, graph._pred
    tag = frozenset({source})
    for raw in edges:
        u, v, attrs = _as_edge(raw)
        if u == v:
            continue
        intents = frozenset(attrs.get("intents") or ())
        influential = bool(attrs.get("influential") or attrs.get("isInfluential"))
        if u not in succ:
            _add_bare_node(graph, u, status)
        if v not in succ:
            _add_bare_node(graph, v, status)
        data = succ[u].get(v)
        if data is None:
            succ[u][v] = pred[v][u] = {"sources": tag, "intents": intents,
                                       "influential": influential}
        else:
            data["sources"] = data["sources"] | tag
            data["intents"] = data["intents"] | intents
            data["influential"] = data["influential"] or influential


def load_workspace_graph(workspace, catalog=None, reader: str | None = None) -> nx.DiGraph:
    """The workspace's graph: catalog + cached S2 data + PDF-matched references + notes, each
    read by `workbench.graph.sources` (whose `workspace_stamp` changes when any of them does)."""
    from workbench.graph import sources  # at call time: graph imports no graph_*

    if catalog is None:
        from workbench import catalog as catalog_mod

        catalog = catalog_mod.load(workspace.catalog_path)
    s2_edges, external = sources.s2_data_from_workspace(workspace, catalog)
    return build_graph(
        catalog, s2_edges=s2_edges, external_nodes=external,
        pdf_edges=sources.pdf_edges_from_workspace(workspace, catalog),
        reading_status=sources.reading_status_from_notes(workspace, reader),
    )


# --- neighbourhoods ----------------------------------------------------------------------------


def _direction_view(graph: nx.DiGraph, direction: str):
    if direction == "references":
        return graph
    if direction == "cited-by":
        return graph.reverse(copy=False)
    if direction == "both":
        return graph.to_undirected(as_view=True)
    raise GraphError(f"unknown direction '{direction}'; use one of: {', '.join(DIRECTIONS)}")


def neighbours(graph: nx.DiGraph, paper: str, k: int = 1, direction: str = "both"
               ) -> dict[str, int]:
    """Papers within `k` citation hops of `paper`, mapped to their hop distance.

    N_k(p) = {q != p : d(p, q) <= k}, where d is the breadth-first hop count along
    "references" (p -> q: what p cites, then what those cite...), "cited-by" (q -> p) or
    "both" (edges taken as undirected).
    """
    require_paper(graph, paper)
    if k < 0:
        raise GraphError(f"hops must be 0 or more, got {k}")
    view = _direction_view(graph, direction)
    dist = nx.single_source_shortest_path_length(view, paper, cutoff=k)
    dist.pop(paper, None)
    return dict(dist)


def neighbourhood(graph: nx.DiGraph, center: str, hops: int = 1, direction: str = "both",
                  max_nodes: int = MAX_VIEW_NODES) -> nx.DiGraph:
    """The subgraph of `center` and its `hops`-hop neighbours, at most `max_nodes` papers.

    When there are too many, the nearest are kept first and, within a distance, the most cited
    in the whole graph (in-degree), so the picture always stays drawable.
    """
    dist = neighbours(graph, center, hops, direction)
    ranked = sorted(dist, key=lambda n: (dist[n], -graph.in_degree(n), n))
    keep = [center] + ranked[: max(0, max_nodes - 1)]
    return graph.subgraph(keep).copy()


# --- reading order ----------------------------------------------------------------------------


def pass_minutes() -> dict[int, int]:
    """Minutes to plan per pass: the middle of each budget in `workbench.notes.method`.

    minutes(k) = (low_k + high_k) / 2, rounded up to 5 minutes: 10, 60 and 180 today (budgets
    5-15 min, 1 h, 1-5 h).
    """
    from workbench.notes import PASSES

    return {p.number: 5 * math.ceil(sum(p.budget_minutes) / 2 / 5) for p in PASSES}


@dataclass(frozen=True)
class ReadingItem:
    id: str
    title: str
    year: int | None
    topic: str | None
    status: str
    read: bool
    is_target: bool = False


@dataclass(frozen=True)
class ReadingOrder:
    target: str
    items: tuple[ReadingItem, ...]
    minutes_per_pass: Mapping[int, int] = field(default_factory=pass_minutes)

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.items]

    def minutes_left(self, read: Iterable[str] | None = None) -> dict[int, int]:
        """Per pass: its budget times the number of papers not read yet.

        left(k) = minutes(k) * |{i in items : i not read}|; `read` overrides the items' marks.
        """
        done = set(read) if read is not None else {i.id for i in self.items if i.read}
        unread = sum(1 for i in self.items if i.id not in done)
        return {k: m * unread for k, m in self.minutes_per_pass.items()}


def format_minutes(minutes: float) -> str:
    """125 -> '2 h 5 min', 45 -> '45 min'."""
    hours, mins = divmod(round(minutes), 60)
    return f"{hours} h {mins} min" if hours and mins else f"{hours} h" if hours else f"{mins} min"


def _prerequisites(graph: nx.DiGraph, target: str, depth: int | None) -> set[str]:
    if depth is None:
        return nx.descendants(graph, target)
    return set(neighbours(graph, target, depth, "references"))


def reading_order(graph: nx.DiGraph, target: str, read: Iterable[str] = frozenset(),
                  depth: int | None = None) -> ReadingOrder:
    """What to read before `target`, cited before citing, then by year; `target` comes last.

    Prerequisites P = the catalog papers `target` reaches by following citations (all of
    them, or those within `depth` hops). The order is a topological sort of the cites-relation
    reversed over P plus every paper on the way (so a chain through a paper outside the
    catalog still orders its ends); among the papers free to come next, the oldest year wins,
    then the id. Cycles (an arXiv revision citing later work) are condensed into one block,
    ordered inside by (year, id), so the result is deterministic. A paper is marked read if
    it is in `read` or its `reading_status` says its first pass is done.
    """
    require_paper(graph, target)
    reach = _prerequisites(graph, target, depth)
    sub = graph.subgraph(reach | {target})
    nodes = sub.nodes

    def key(n):
        year = nodes[n].get("year")
        return (year if isinstance(year, int) else 9999, n)

    order: list[str] = []
    if nx.is_directed_acyclic_graph(sub):
        blocks = {n: [n] for n in sub}
        dag, block_key = sub, key
    else:
        cond = nx.condensation(sub)
        members = cond.graph["mapping"]
        blocks = defaultdict(list)
        for n, c in members.items():
            blocks[c].append(n)
        for c in blocks:
            blocks[c].sort(key=key)
        dag = cond

        def block_key(c):
            return key(blocks[c][0])

    # Kahn's algorithm on the reversed relation (cited first) with a heap on (year, id).
    waiting = {n: dag.out_degree(n) for n in dag}
    heap = [(block_key(n), n) for n, d in waiting.items() if d == 0]
    heapq.heapify(heap)
    while heap:
        _, n = heapq.heappop(heap)
        order.extend(blocks[n])
        for u in dag.predecessors(n):
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(heap, (block_key(u), u))

    read = set(read)
    items = []
    for n in order:
        data = nodes[n]
        if not data.get("in_catalog") and n != target:
            continue
        status = data.get("reading_status", UNREAD)
        items.append(ReadingItem(
            id=n, title=data.get("title") or n, year=data.get("year"), topic=data.get("topic"),
            status=status, read=n in read or status not in NOT_READ_STATUSES,
            is_target=n == target,
        ))
    # the target is last by construction unless it is in a cycle with a prerequisite
    items.sort(key=lambda i: i.is_target)
    return ReadingOrder(target, tuple(items), pass_minutes())
