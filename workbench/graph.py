"""The citation graph: build it, explore it, rank it, and plan a reading order from it.

One `networkx.DiGraph` holds every paper the workspace knows about; an edge u -> v means
"u cites v". Edges come from three places and remember which (`sources`):

- `catalog`: the `cites:` lists of papers.yaml;
- `s2`: Semantic Scholar references/citations already in the cache (with `intents` and the
  `influential` flag);
- `pdf`: references parsed from a paper's PDF and matched to known papers.

Node attributes: `title`, `year`, `topic`, `in_catalog`, `citation_count` (Semantic Scholar's
global count when cached, else None) and `reading_status` (see `READING_STATUSES`). Building
never touches the network: the adapters read only what is already cached on disk.

The queries are plain functions over the graph; each docstring states its formula. Drawing a
neighbourhood (plotly for the app, SVG/PNG for exports) lives at the end of the module; plotly
and matplotlib are imported only when a figure is asked for.
"""

from __future__ import annotations

import heapq
import html
import io
import json
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)

SOURCES = ("catalog", "s2", "pdf")
DIRECTIONS = ("references", "cited-by", "both")
# Where a reader is with a paper (`workbench.progress.status_label`); a paper counts as read
# once its first pass is done, i.e. any status but these two.
UNREAD = "not started"
READING_STATUSES = (UNREAD, "pass 1 in progress", "pass 1 done", "pass 2 in progress",
                    "pass 2 done", "pass 3 in progress", "pass 3 done")
NOT_READ_STATUSES = frozenset({UNREAD, "pass 1 in progress"})
# Keshav's budgets: pass 1 takes 5-15 minutes, pass 2 about an hour, pass 3 one to five hours;
# used only when `workbench.method` does not say.
DEFAULT_PASS_MINUTES = {1: 15, 2: 60, 3: 180}
MAX_VIEW_NODES = 300
COLOUR_MODES = ("topic", "year", "status")
EXPORT_FORMATS = ("graphml", "json", "svg", "png")
EXPORT_MIME = {"graphml": "application/xml", "json": "application/json", "svg": "image/svg+xml",
               "png": "image/png"}
_CATALOG = frozenset({"catalog"})
_NONE: frozenset[str] = frozenset()


class GraphError(WorkbenchError):
    """A graph query that cannot be answered as asked (bad direction, format, size...)."""


class UnknownPaper(GraphError, LookupError):
    """A paper id that is not a node of the citation graph."""


def _require(graph: nx.DiGraph, paper: str) -> str:
    if paper not in graph:
        close = _close_ids(graph, paper)
        hint = f" (did you mean '{close}'?)" if close else ""
        raise UnknownPaper(f"'{paper}' is not in the citation graph{hint}; "
                           "use a paper id from papers.yaml")
    return paper


def _close_ids(graph: nx.DiGraph, paper: str) -> str | None:
    import difflib

    ids = [n for n, d in graph.nodes(data=True) if d.get("in_catalog")]
    close = difflib.get_close_matches(str(paper), ids, n=1)
    return close[0] if close else None


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
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes.items())

    # Edges go straight into networkx's adjacency dicts, one attribute dict shared by
    # succ[u][v] and pred[v][u] exactly as `add_edges_from` stores them, without its
    # per-edge bookkeeping (nothing is cached on a graph no algorithm has seen yet, so there is
    # no cache to clear): 100,000 catalog edges in about a quarter of the time. Attribute
    # values are immutable frozensets, so a catalog edge costs one small dict copy and merging
    # a second source builds new sets instead of mutating shared ones.
    succ, pred = graph._succ, graph._pred

    def ensure(n: str) -> None:
        if n not in succ:
            graph.add_node(n, title=n, year=None, topic=None, in_catalog=False,
                           citation_count=None, reading_status=status.get(n, UNREAD))

    new_edge = {"sources": _CATALOG, "intents": _NONE, "influential": False}.copy
    for p in catalog.papers if catalog is not None else ():
        row = succ[p.id]
        for cited in p.cites:
            if cited != p.id:
                ensure(cited)
                row[cited] = pred[cited][p.id] = new_edge()
    for source, iterable in (("s2", s2_edges), ("pdf", pdf_edges)):
        tag = frozenset({source})
        for raw in iterable:
            u, v, attrs = _as_edge(raw)
            if u == v:
                continue
            intents = frozenset(attrs.get("intents") or ())
            influential = bool(attrs.get("influential") or attrs.get("isInfluential"))
            ensure(u)
            ensure(v)
            data = succ[u].get(v)
            if data is None:
                succ[u][v] = pred[v][u] = {"sources": tag, "intents": intents,
                                           "influential": influential}
            else:
                data["sources"] = data["sources"] | tag
                data["intents"] = data["intents"] | intents
                data["influential"] = data["influential"] or influential
    log.info("citation graph: %d papers, %d citations", graph.number_of_nodes(),
             graph.number_of_edges())
    return graph


# --- adapters: what the workspace already has on disk ------------------------------------------


_VERSION_RE = re.compile(r"v\d+$")


def _norm_arxiv(arxiv_id: str) -> str:
    return _VERSION_RE.sub("", str(arxiv_id).strip())


def _norm_title(title: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", " ", (title or "").lower()).strip()


def _catalog_index(catalog) -> dict[str, str]:
    """Lookup keys (arxiv:, doi:, title:) -> catalog id, to merge S2 papers with ours."""
    index: dict[str, str] = {}
    for p in catalog.papers if catalog is not None else ():
        if p.arxiv:
            index[f"arxiv:{_norm_arxiv(p.arxiv)}"] = p.id
        if p.doi:
            index[f"doi:{p.doi.lower()}"] = p.id
        index[f"title:{_norm_title(p.title)}"] = p.id
    return index


def _s2_node(paper: Mapping, index: Mapping[str, str]) -> tuple[str, dict] | None:
    """(graph id, node attrs) for an S2 paper record; catalog papers keep their catalog id."""
    if not isinstance(paper, Mapping):
        return None
    ext = paper.get("externalIds") or {}
    keys = [f"s2:{paper['paperId']}"] if paper.get("paperId") else []
    if ext.get("ArXiv"):
        keys.append(f"arxiv:{_norm_arxiv(ext['ArXiv'])}")
    if ext.get("DOI"):
        keys.append(f"doi:{str(ext['DOI']).lower()}")
    if paper.get("title"):
        keys.append(f"title:{_norm_title(paper['title'])}")
    nid = next((index[k] for k in keys if k in index), None)
    if nid is None:
        if not paper.get("paperId"):
            return None
        nid = f"s2:{paper['paperId']}"
    return nid, {"id": nid, "title": paper.get("title") or nid, "year": paper.get("year"),
                 "citation_count": paper.get("citationCount")}


def s2_edges_from_records(paper_id: str, references: Iterable[Mapping] = (),
                          citations: Iterable[Mapping] = (), catalog=None,
                          index: Mapping[str, str] | None = None
                          ) -> tuple[list[dict], list[dict]]:
    """Edges and external nodes from Semantic Scholar `references`/`citations` records.

    Each record is the Graph API's `{"citedPaper"|"citingPaper": {...}, "intents": [...],
    "isInfluential": bool}`. Papers that match a catalog entry (arXiv id, DOI, or the same
    normalised title, or an S2 id in `index`) become that entry's id; others become
    `s2:<paperId>` nodes.
    """
    index = index if index is not None else _catalog_index(catalog)
    edges: list[dict] = []
    nodes: list[dict] = []
    for records, key, outgoing in ((references, "citedPaper", True),
                                   (citations, "citingPaper", False)):
        for rec in records or ():
            found = _s2_node(rec.get(key) if isinstance(rec, Mapping) else None, index)
            if found is None:
                continue
            other, attrs = found
            nodes.append(attrs)
            citing, cited = (paper_id, other) if outgoing else (other, paper_id)
            edges.append({"citing": citing, "cited": cited,
                          "intents": list(rec.get("intents") or ()),
                          "influential": bool(rec.get("isInfluential"))})
    return edges, nodes


_S2_LIST_KEY = re.compile(r"^s2 GET \S*?/paper/(?P<pid>.+)/(?P<kind>references|citations)"
                          r"(?:\?|$)")


def _cached_s2_bodies(workspace) -> list[tuple[str, object]]:
    """(key, parsed JSON) of every cached Semantic Scholar response, read-only.

    The response cache (`workbench.sources.cache`) is one SQLite table keyed
    'service METHOD path?query'; opening it read-only means a workspace without a cache stays
    without one. A missing or unreadable cache contributes nothing.
    """
    import sqlite3
    from contextlib import closing
    from urllib.parse import unquote

    from workbench.sources.cache import DB_NAME

    path = workspace.cache_dir / DB_NAME
    if not path.is_file():
        return []
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as con:
            rows = con.execute("SELECT key, body FROM responses WHERE service = 's2' "
                               "ORDER BY key").fetchall()
    except sqlite3.Error as exc:
        log.warning("cannot read the response cache %s (%s); no S2 edges", path, exc)
        return []
    out = []
    for key, body in rows:
        try:
            out.append((unquote(key), json.loads(bytes(body))))
        except ValueError:
            continue  # the cache stores only valid bodies; skip anything else
    return out


def _s2_id_keys(pid: str) -> list[str]:
    """Lookup keys for the id in an S2 URL: 'arXiv:1706.03762', 'DOI:10...', a bare DOI,
    'CorpusId:123' or a 40-hex S2 paper id."""
    kind, _, value = pid.partition(":")
    if value and kind.lower() == "arxiv":
        return [f"arxiv:{_norm_arxiv(value)}"]
    if value and kind.lower() == "doi":
        return [f"doi:{value.lower()}"]
    if pid.startswith("10."):
        return [f"doi:{pid.lower()}"]
    return [f"s2:{pid}"]


def s2_data_from_workspace(workspace, catalog) -> tuple[list[dict], list[dict]]:
    """S2 edges and nodes from every references/citations page already in the response cache.

    A page belongs to the catalog paper whose arXiv id or DOI is in its URL, or whose S2 paper
    id / CorpusId a cached paper lookup tied to it. Never touches the network.
    """
    bodies = _cached_s2_bodies(workspace)
    index = _catalog_index(catalog)
    counts: dict[str, int] = {}
    for key, body in bodies:  # cached paper lookups tie S2 ids to catalog papers
        if _S2_LIST_KEY.match(key) or not isinstance(body, Mapping) or "paperId" not in body:
            continue
        found = _s2_node(body, index)
        if found is None or found[0].startswith("s2:"):
            continue
        pid = found[0]
        index[f"s2:{body['paperId']}"] = pid
        if body.get("corpusId") is not None:
            index[f"s2:CorpusId:{body['corpusId']}"] = pid
        if body.get("citationCount") is not None:
            counts[pid] = body["citationCount"]
    edges: list[dict] = []
    nodes: list[dict] = []
    for key, body in bodies:
        m = _S2_LIST_KEY.match(key)
        if not m or not isinstance(body, Mapping):
            continue
        paper = next((index[k] for k in _s2_id_keys(m["pid"]) if k in index), None)
        if paper is None:
            continue  # a page for a paper outside the catalog
        records = body.get("data") or []
        e, n = s2_edges_from_records(
            paper, records if m["kind"] == "references" else (),
            records if m["kind"] == "citations" else (), index=index)
        edges += e
        nodes += n
    # a paper's own lookup is the authority on its citation count (listed last: last wins)
    nodes += [{"id": pid, "citation_count": n} for pid, n in counts.items()]
    return edges, nodes


def pdf_edges_from_workspace(workspace, catalog) -> list:
    """Citation edges from references parsed out of the workspace's PDFs and matched to known
    papers (`workbench.pdf.pdf_citation_edges`); none when that module or its cache is absent."""
    try:
        from workbench import pdf as pdf_mod  # written by the PDF feature
    except ImportError:
        return []
    func = getattr(pdf_mod, "pdf_citation_edges", None)
    if func is None:
        return []
    try:
        return list(func(workspace, catalog))
    except WorkbenchError as exc:
        log.warning("no PDF citation edges: %s", exc)
        return []


def reading_status_from_notes(workspace, reader: str | None = None) -> dict[str, str]:
    """paper id -> 'pass 2 in progress', 'pass 1 done', ... for `reader` (default: the notes'
    default reader), from the note files; papers without a note are 'not started'."""
    from workbench import notes, progress

    reader = reader or notes.default_reader()
    found = progress.load_progress(workspace)
    return {pid: progress.status_label(by_reader[reader])
            for pid, by_reader in found.notes.items() if reader in by_reader}


def load_workspace_graph(workspace, catalog=None, reader: str | None = None) -> nx.DiGraph:
    """The workspace's graph: catalog + cached S2 data + PDF-matched references + notes."""
    if catalog is None:
        from workbench import catalog as catalog_mod

        catalog = catalog_mod.load(workspace.catalog_path)
    s2_edges, external = s2_data_from_workspace(workspace, catalog)
    return build_graph(
        catalog, s2_edges=s2_edges, external_nodes=external,
        pdf_edges=pdf_edges_from_workspace(workspace, catalog),
        reading_status=reading_status_from_notes(workspace, reader),
    )


def workspace_stamp(workspace) -> tuple:
    """A cache key that changes whenever an input of `load_workspace_graph` changes: the
    catalog, the response cache, each reader's note files and the PDFs in pdfs/."""
    from workbench.sources.cache import DB_NAME

    paths = [workspace.catalog_path, workspace.cache_dir / DB_NAME]
    paths += sorted(workspace.notes_dir.glob("*/*.md")) + sorted(workspace.pdfs_dir.glob("*.pdf"))
    stamp = []
    for path in paths:
        try:
            st = path.stat()
            stamp.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            stamp.append((str(path), None))
    return tuple(stamp)


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
    _require(graph, paper)
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


# --- prior and derivative works (Connected Papers) ---------------------------------------------


def _seed_set(graph: nx.DiGraph, seeds: str | Iterable[str]) -> set[str]:
    seeds = {seeds} if isinstance(seeds, str) else set(seeds)
    if not seeds:
        raise GraphError("give at least one seed paper")
    for s in seeds:
        _require(graph, s)
    return seeds


def seed_neighbourhood(graph: nx.DiGraph, seeds: str | Iterable[str], hops: int = 1
                       ) -> set[str]:
    """N = the seeds plus every paper within `hops` undirected citation hops of one of them."""
    seeds = _seed_set(graph, seeds)
    out = set(seeds)
    for s in seeds:
        out.update(neighbours(graph, s, hops, "both"))
    return out


def _ranked(counts: Mapping[str, float], graph: nx.DiGraph, limit: int | None, oldest_first: bool
            ) -> list[tuple[str, float]]:
    def key(n):
        year = graph.nodes[n].get("year")
        if not isinstance(year, int):  # unknown years go last either way
            year = 9999 if oldest_first else -9999
        return (-counts[n], year if oldest_first else -year, n)

    items = sorted(counts, key=key)
    return [(n, counts[n]) for n in items[:limit]]


def prior_works(graph: nx.DiGraph, seeds: str | Iterable[str], hops: int = 1,
                limit: int | None = 10) -> list[tuple[str, int]]:
    """Papers most cited by the seeds' neighbourhood (Connected Papers' "prior works").

    prior(p) = |{n in N : n -> p}| for every paper p outside the seeds, where N is
    `seed_neighbourhood(seeds, hops)`. Sorted by count, then oldest first, then id; papers with
    a count of 0 are left out. High scores are the field's seminal works.
    """
    seeds = _seed_set(graph, seeds)
    hood = seed_neighbourhood(graph, seeds, hops)
    counts: Counter[str] = Counter()
    for n in hood:
        counts.update(v for v in graph.successors(n) if v not in seeds)
    return _ranked(counts, graph, limit, oldest_first=True)


def derivative_works(graph: nx.DiGraph, seeds: str | Iterable[str], hops: int = 1,
                     limit: int | None = 10) -> list[tuple[str, int]]:
    """Papers citing most of the seeds' neighbourhood (Connected Papers' "derivative works").

    derivative(p) = |{n in N : p -> n}| for every paper p outside the seeds, N as in
    `prior_works`. Sorted by count, then newest first, then id; zero counts are left out.
    High scores are surveys and recent work built on the same papers.
    """
    seeds = _seed_set(graph, seeds)
    hood = seed_neighbourhood(graph, seeds, hops)
    counts: Counter[str] = Counter()
    for n in hood:
        counts.update(u for u in graph.predecessors(n) if u not in seeds)
    return _ranked(counts, graph, limit, oldest_first=False)


# --- similarity (Inciteful) --------------------------------------------------------------------


def coupling_adamic_adar(graph: nx.DiGraph, a: str, b: str) -> float:
    """Bibliographic coupling of a and b, scored by the Adamic/Adar index.

    AA(a, b) = sum over z in R(a) & R(b) of 1 / ln |C(z)|, where R(x) is the set of papers x
    cites and C(z) the set of papers citing z in this graph. |C(z)| >= 2 because a and b both
    cite z, so every term is finite. (Inciteful's documentation uses this index for coupling.)
    """
    _require(graph, a), _require(graph, b)
    shared = set(graph.successors(a)) & set(graph.successors(b))
    return sum(1.0 / math.log(graph.in_degree(z)) for z in shared)


def cocitation_salton(graph: nx.DiGraph, a: str, b: str) -> float:
    """Co-citation of a and b, scored by the Salton (cosine) index.

    S(a, b) = |C(a) & C(b)| / sqrt(|C(a)| * |C(b)|), C(x) = the papers citing x; 0 when either
    is uncited. (Inciteful's documentation uses this index for co-citation.)
    """
    _require(graph, a), _require(graph, b)
    ca, cb = set(graph.predecessors(a)), set(graph.predecessors(b))
    if not ca or not cb:
        return 0.0
    return len(ca & cb) / math.sqrt(len(ca) * len(cb))


def similarity(graph: nx.DiGraph, a: str, b: str) -> float:
    """sim(a, b) = AA(a, b) + S(a, b): coupling (Adamic/Adar) plus co-citation (Salton)."""
    return coupling_adamic_adar(graph, a, b) + cocitation_salton(graph, a, b)


@dataclass(frozen=True)
class Similar:
    id: str
    coupling: float  # Adamic/Adar over shared references
    cocitation: float  # Salton index over shared citers

    @property
    def score(self) -> float:
        return self.coupling + self.cocitation


def similar_papers(graph: nx.DiGraph, paper: str, limit: int | None = 10) -> list[Similar]:
    """The papers most similar to `paper` by `similarity` (AA coupling + Salton co-citation).

    Only papers sharing a reference or a citer can score above 0, so the candidates are
    gathered from those two-hop walks instead of scanning the whole graph. Sorted by score,
    then id.
    """
    _require(graph, paper)
    coupling: defaultdict[str, float] = defaultdict(float)
    for z in graph.successors(paper):
        weight = 1.0 / math.log(graph.in_degree(z)) if graph.in_degree(z) > 1 else 0.0
        for b in graph.predecessors(z):
            if b != paper:
                coupling[b] += weight
    shared_citers: Counter[str] = Counter()
    citers = list(graph.predecessors(paper))
    for c in citers:
        shared_citers.update(v for v in graph.successors(c) if v != paper)
    cocite = {b: n / math.sqrt(len(citers) * graph.in_degree(b))
              for b, n in shared_citers.items()}
    found = [Similar(b, coupling.get(b, 0.0), cocite.get(b, 0.0))
             for b in set(coupling) | set(cocite)]
    found = [s for s in found if s.score > 0]
    found.sort(key=lambda s: (-s.score, s.id))
    return found[:limit]


# --- rank and paths ----------------------------------------------------------------------------


def pagerank(graph: nx.DiGraph, nodes: Iterable[str] | None = None, alpha: float = 0.85
             ) -> dict[str, float]:
    """PageRank on the (local) graph: a paper matters if papers that matter cite it.

    PR(v) = (1 - alpha) / N + alpha * (sum over u -> v of PR(u) / outdeg(u)
            + sum over uncited-nothing u of PR(u) / N),
    iterated to convergence (networkx's scipy sparse power iteration). With `nodes`, it runs
    on the subgraph they induce (the "local graph").
    """
    g = graph.subgraph(nodes) if nodes is not None else graph
    if g.number_of_nodes() == 0:
        return {}
    return nx.pagerank(g, alpha=alpha)


def foundational(graph: nx.DiGraph, nodes: Iterable[str] | None = None, limit: int | None = 10,
                 catalog_only: bool = False) -> list[tuple[str, float]]:
    """Papers ranked by `pagerank` on the local graph, highest first (ties by id)."""
    pr = pagerank(graph, nodes)
    items = [(n, s) for n, s in pr.items()
             if not catalog_only or graph.nodes[n].get("in_catalog")]
    items.sort(key=lambda t: (-t[1], t[0]))
    return items[:limit]


def citation_path(graph: nx.DiGraph, a: str, b: str, undirected: bool = False
                  ) -> list[str] | None:
    """The shortest chain of citations linking a and b, from a to b; None if there is none.

    Directed (default): the shorter of a -> ... -> b (a cites its way to b) and b -> ... -> a
    (returned reversed, so it still reads from a to b); on a tie a -> b wins. Undirected: the
    fewest hops when every citation may be followed either way. Use `describe_path` to print.
    """
    _require(graph, a), _require(graph, b)
    if a == b:
        return [a]
    if undirected:
        try:
            return nx.shortest_path(graph.to_undirected(as_view=True), a, b)
        except nx.NetworkXNoPath:
            return None
    found = []
    for src, dst in ((a, b), (b, a)):
        try:
            found.append(nx.shortest_path(graph, src, dst))
        except nx.NetworkXNoPath:
            continue
    if not found:
        return None
    best = min(found, key=len)
    return best if best[0] == a else best[::-1]


def describe_path(graph: nx.DiGraph, path: list[str]) -> list[str]:
    """One line per hop: 'x cites y' or 'x is cited by y'."""
    return [f"{x} cites {y}" if graph.has_edge(x, y) else f"{x} is cited by {y}"
            for x, y in zip(path, path[1:], strict=False)]


# --- reading order ----------------------------------------------------------------------------


def pass_minutes() -> dict[int, int]:
    """Minutes to plan per pass: the middle of each budget in `workbench.method`.

    minutes(k) = (low_k + high_k) / 2, rounded up to 5 minutes: 10, 60 and 180 today (budgets
    5-15 min, 1 h, 1-5 h); `DEFAULT_PASS_MINUTES` (15/60/180) if the method is unavailable.
    """
    try:
        from workbench.method import PASSES
    except ImportError:
        return dict(DEFAULT_PASS_MINUTES)
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
    minutes_per_pass: Mapping[int, int] = field(default_factory=lambda: dict(DEFAULT_PASS_MINUTES))

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
    _require(graph, target)
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


# --- summaries and exports ---------------------------------------------------------------------


def graph_stats(graph: nx.DiGraph) -> dict:
    """Counts for `workbench graph stats`: papers, citations per source, cycles, components."""
    by_source: Counter[str] = Counter()
    for _, _, d in graph.edges(data=True):
        by_source.update(d.get("sources", ()))
    cycles = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    return {
        "papers": graph.number_of_nodes(),
        "in_catalog": sum(1 for _, d in graph.nodes(data=True) if d.get("in_catalog")),
        "citations": graph.number_of_edges(),
        "citations_by_source": {s: by_source.get(s, 0) for s in SOURCES},
        "cycles": len(cycles),
        "components": nx.number_weakly_connected_components(graph) if len(graph) else 0,
        "foundational": foundational(graph, limit=5, catalog_only=True),
    }


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

    plain = nx.DiGraph()
    plain.add_nodes_from((n, clean(d)) for n, d in graph.nodes(data=True))
    plain.add_edges_from((u, v, clean(d)) for u, v, d in graph.edges(data=True))
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
