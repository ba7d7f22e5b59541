"""Where the graph's edges come from: Semantic Scholar records and the response cache, PDFs,
reading notes, and `load_workspace_graph` putting them together without the network."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED_FIXTURES, SHARED_PDFS, requires_shared
from tests.workspaces import CHAIN, write_catalog
from workbench.catalog import validate as catalog_mod
from workbench.graph import build as g
from workbench.graph import sources as graph_sources
from workbench.workspace import Workspace

# --- adapters: Semantic Scholar cache, notes -------------------------------------------------


@pytest.mark.skipif(not (SHARED_FIXTURES / "semanticscholar").is_dir(),
                    reason="needs the recorded S2 responses in ../shared/fixtures")
def test_recorded_s2_records_become_edges_matched_to_the_catalog(tmp_path):
    ref = json.loads((SHARED_FIXTURES / "semanticscholar/Reference.json").read_text())
    cit = json.loads((SHARED_FIXTURES / "semanticscholar/Citation.json").read_text())
    cat_text = ("topics:\n  - {id: t, title: T}\npapers:\n  - id: nvil\n"
                "    title: Some other title\n    authors: [A. Mnih]\n    year: 2014\n"
                "    topic: t\n    arxiv: \"1402.0030v2\"\n")
    (tmp_path / "papers.yaml").write_text(cat_text)
    cat = catalog_mod.load(tmp_path / "papers.yaml")
    edges, nodes = graph_sources.s2_edges_from_records("me", [ref], [cit], cat)
    # the reference's arXiv id 1402.0030 matches nvil (version suffix ignored)
    assert edges[0] == {"citing": "me", "cited": "nvil", "intents": ["background"],
                        "influential": False}
    citing = f"s2:{cit['citingPaper']['paperId']}"
    assert edges[1] == {"citing": citing, "cited": "me",
                        "intents": ["result", "background", "methodology"], "influential": True}
    assert {"id": citing, "title": cit["citingPaper"]["title"]}.items() <= nodes[1].items()


def s2_record(side, paper_id, title, year=None, arxiv=None, influential=False):
    ext = {"ArXiv": arxiv} if arxiv else {}
    return {side: {"paperId": paper_id, "externalIds": ext, "title": title, "year": year,
                   "citationCount": 7},
            "intents": ["methodology"], "isInfluential": influential}


def test_workspace_graph_reads_cached_s2_pages_without_the_network(tmp_path):
    from workbench.sources.cache import ResponseCache

    write_catalog(tmp_path / "ws", [("base", 2014, []), ("tr", 2017, []), ("vit", 2020, [])])
    ws = Workspace.resolve(tmp_path / "ws")
    cache = ResponseCache.for_workspace(ws)

    def put(key, body):
        cache.put(key, "s2", json.dumps(body).encode(), "application/json")

    # 'tr' is arXiv 1706.03762 nowhere in the catalog, so a paper lookup ties its S2 id to it
    put("s2 GET /graph/v1/paper/arXiv:2010.11929/references?fields=title&limit=100&offset=0",
        {"data": [s2_record("citedPaper", "S2TR", "Paper TR", 2017),
                  s2_record("citedPaper", "S2OUT", "Outside", 2012, influential=True)]})
    put("s2 GET /graph/v1/paper/arXiv:2010.11929/references?fields=title&limit=100&offset=100",
        {"data": [s2_record("citedPaper", "S2BASE", "Paper BASE", 2014)]})
    put("s2 GET /graph/v1/paper/S2TR/citations?fields=title&limit=100&offset=0",
        {"data": [s2_record("citingPaper", "S2NEW", "Newer", 2023)]})
    put("s2 GET /graph/v1/paper/S2TR?fields=title,externalIds,citationCount",
        {"paperId": "S2TR", "title": "Paper TR", "externalIds": {}, "citationCount": 99999})
    put("s2 GET /graph/v1/paper/arXiv:9999.99999/references?fields=title",  # not ours
        {"data": [s2_record("citedPaper", "S2Z", "Zed")]})
    # arXiv id of vit is needed in the catalog for the first page to be tied to it
    text = (tmp_path / "ws/papers.yaml").read_text().replace(
        "  - id: vit\n", "  - id: vit\n    arxiv: \"2010.11929\"\n")
    (tmp_path / "ws/papers.yaml").write_text(text)

    graph = g.load_workspace_graph(ws)
    assert set(graph.edges) == {("vit", "tr"), ("vit", "s2:S2OUT"), ("vit", "base"),
                                ("s2:S2NEW", "tr")}
    assert graph.edges["vit", "s2:S2OUT"]["influential"] is True
    assert graph.edges["vit", "tr"]["sources"] == {"s2"}
    assert graph.nodes["tr"]["citation_count"] == 99999
    assert graph.nodes["s2:S2NEW"]["in_catalog"] is False
    assert "s2:S2Z" not in graph


def test_workspace_graph_uses_what_the_s2_client_cached(tmp_path, fake_services):
    """End to end: the real Semantic Scholar client fetches from the local fake server into
    the workspace cache; the graph is then built from that cache alone."""
    from workbench.sources import open_sources

    s2 = SHARED_FIXTURES / "semanticscholar"
    if not s2.is_dir():
        pytest.skip("needs the recorded S2 responses in ../shared/fixtures")
    fake_services.add_json("GET", "/graph/v1/paper/ARXIV:1611.01211/references",
                           {"offset": 0, "data": [json.loads((s2 / "Reference.json").read_text())]})
    citation = json.loads((s2 / "Citation.json").read_text())
    fake_services.add_json("GET", "/graph/v1/paper/ARXIV:1611.01211/citations",
                           {"offset": 0, "data": [citation]})
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws/papers.yaml").write_text(
        "topics:\n  - {id: t, title: T}\npapers:\n"
        "  - {id: nvil, title: NVIL, authors: [A. Mnih], year: 2014, topic: t, "
        "arxiv: \"1402.0030\"}\n"
        "  - {id: me, title: Me, authors: [B. C], year: 2016, topic: t, arxiv: \"1611.01211\"}\n")
    ws = Workspace.resolve(tmp_path / "ws")
    sources = open_sources(ws)
    sources.s2.references("1611.01211")
    sources.s2.citations("1611.01211")

    graph = g.load_workspace_graph(ws)
    citer = f"s2:{citation['citingPaper']['paperId']}"
    assert set(graph.edges) == {("me", "nvil"), (citer, "me")}
    assert graph.edges["me", "nvil"]["sources"] == {"s2"}
    assert graph.edges["me", "nvil"]["intents"] == {"background"}
    assert graph.edges[citer, "me"]["influential"] is True
    assert graph.nodes[citer]["title"] == citation["citingPaper"]["title"]


@requires_shared
def test_workspace_graph_adds_references_matched_in_a_real_pdf(tmp_path):
    import shutil

    (tmp_path / "ws/pdfs").mkdir(parents=True)
    shutil.copy(SHARED_PDFS / "2010.11929.pdf", tmp_path / "ws/pdfs/2010.11929.pdf")
    (tmp_path / "ws/papers.yaml").write_text(
        "topics:\n  - {id: t, title: T}\npapers:\n"
        "  - {id: adam, title: 'Adam: A Method for Stochastic Optimization', "
        "authors: [D. Kingma], year: 2014, topic: t}\n"
        "  - {id: vit, title: 'An Image is Worth 16x16 Words: Transformers for Image Recognition "
        "at Scale', authors: [A. Dosovitskiy], year: 2020, topic: t, arxiv: \"2010.11929\"}\n")
    graph = g.load_workspace_graph(Workspace.resolve(tmp_path / "ws"))
    # ViT's reference list has "Kingma and Ba. Adam: A method for stochastic optimization"
    assert list(graph.edges(data="sources")) == [("vit", "adam", {"pdf"})]


def test_workspace_graph_without_a_cache_has_only_catalog_edges(tmp_path):
    write_catalog(tmp_path / "ws", CHAIN)
    ws = Workspace.resolve(tmp_path / "ws")
    graph = g.load_workspace_graph(ws)
    assert graph.number_of_edges() == 6
    assert not ws.cache_dir.exists()  # reading never creates the cache


def test_workspace_graph_takes_reading_status_from_the_readers_notes(tmp_path):
    from workbench.notes.model import DONE, new_note
    from workbench.notes.store import save_note

    write_catalog(tmp_path / "ws", CHAIN)
    ws = Workspace.resolve(tmp_path / "ws")
    before = graph_sources.workspace_stamp(ws)
    save_note(ws, new_note("b", "alice").with_pass(1, status=DONE), None)
    assert graph_sources.workspace_stamp(ws) != before  # the app rebuilds its cached graph
    save_note(ws, new_note("c", "bob").with_pass(1, status=DONE), None)
    graph = g.load_workspace_graph(ws, reader="alice")
    assert graph.nodes["b"]["reading_status"] == "pass 1 done"
    assert graph.nodes["c"]["reading_status"] == "not started"  # bob's, not alice's
    marks = {i.id: i.read for i in g.reading_order(graph, "e").items}
    assert marks["b"] is True and marks["c"] is False
