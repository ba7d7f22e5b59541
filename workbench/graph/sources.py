"""Where the citation graph's edges come from: what the workspace already has on disk.

Semantic Scholar references/citations in the response cache, references matched in the
workspace's PDFs (`workbench.pdf.document`), and each reader's reading status from the note files.
Nothing here touches the network; `workbench.graph.build.load_workspace_graph` builds the graph from
these, and `workspace_stamp` tells a cache when any of them changed.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping

from workbench.catalog import normalise_title
from workbench.errors import WorkbenchError
from workbench.sources import base_id

log = logging.getLogger(__name__)

# --- Semantic Scholar: records and the response cache ------------------------------------------


def _norm_arxiv(arxiv_id: str) -> str:
    return base_id(str(arxiv_id))


def _norm_title(title: str | None) -> str:
    """The one title normal form (`catalog.normalise_title`: accents folded, as the PDF
    reference matcher and intake compare titles)."""
    return normalise_title(title or "")


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

    from workbench.sources import DB_NAME

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


# --- PDFs and notes ----------------------------------------------------------------------------


def pdf_edges_from_workspace(workspace, catalog) -> list:
    """Citation edges from references parsed out of the workspace's PDFs and matched to known
    papers (`workbench.pdf.pdf_citation_edges`); none when they cannot be read."""
    from workbench.pdf import pdf_citation_edges

    try:
        return list(pdf_citation_edges(workspace, catalog))
    except WorkbenchError as exc:
        log.warning("no PDF citation edges: %s", exc)
        return []


def reading_status_from_notes(workspace, reader: str | None = None) -> dict[str, str]:
    """paper id -> 'pass 2 in progress', 'pass 1 done', ... for `reader` (default: the notes'
    default reader), from the note files; papers without a note are 'not started'."""
    from workbench import notes
    from workbench import notes as progress

    reader = reader or notes.default_reader()
    found = progress.load_progress(workspace, reader)
    for exc in found.unreadable:  # skipped: that paper shows as not started
        log.warning("%s", exc)
    return {pid: progress.status_label(by_reader[reader])
            for pid, by_reader in found.notes.items() if reader in by_reader}


# --- when to rebuild ---------------------------------------------------------------------------


def workspace_stamp(workspace) -> tuple:
    """A cache key that changes whenever an input of `load_workspace_graph` changes: the
    catalog, the response cache, each reader's note files and the PDFs in pdfs/."""
    from workbench.sources import DB_NAME

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
