"""The citation graph: building, queries with answers worked out by hand, exports, adapters, CLI.

Every graph here is small enough to check on paper; the comments show the arithmetic.
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from tests.conftest import SHARED_FIXTURES, SHARED_PDFS, SHIPPED_CATALOG, requires_shared
from workbench import catalog as catalog_mod
from workbench import graph as g
from workbench.workspace import Workspace

# --- helpers ---------------------------------------------------------------------------------


def write_catalog(root, papers, topics=("t1", "t2")):
    """papers: (id, year, cites[, topic]) -> papers.yaml under `root`, loaded and validated."""
    lines = ["topics:"] + [f"  - {{id: {t}, title: Topic {t.upper()}}}" for t in topics]
    lines.append("papers:")
    for spec in papers:
        pid, year, cites = spec[:3]
        topic = spec[3] if len(spec) > 3 else topics[0]
        lines += [f"  - id: {pid}", f"    title: Paper {pid.upper()}",
                  "    authors: [A. Author]", f"    year: {year}", f"    topic: {topic}"]
        if cites:
            lines.append(f"    cites: [{', '.join(cites)}]")
    root.mkdir(parents=True, exist_ok=True)
    path = root / "papers.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return catalog_mod.load(path)


# a (2010) <- b (2012), c (2013) <- d (2015) <- e (2016), and e also cites a:
#   b -> a, c -> a, d -> b, d -> c, e -> d, e -> a
CHAIN = [("a", 2010, []), ("b", 2012, ["a"]), ("c", 2013, ["a"]), ("d", 2015, ["b", "c"]),
         ("e", 2016, ["d", "a"], "t2")]


@pytest.fixture
def chain(tmp_path):
    return g.build_graph(write_catalog(tmp_path / "ws", CHAIN))


def edges_only(edges, years=None):
    """A graph from bare (citing, cited) pairs, every node 'in the catalog'."""
    graph = g.build_graph(None, s2_edges=edges)
    for n in graph:
        graph.nodes[n]["in_catalog"] = True
        graph.nodes[n]["year"] = (years or {}).get(n)
    return graph


# --- building --------------------------------------------------------------------------------


def test_build_merges_one_citation_seen_in_every_source(tmp_path):
    cat = write_catalog(tmp_path / "ws", CHAIN)
    graph = g.build_graph(
        cat,
        s2_edges=[{"citing": "d", "cited": "b", "intents": ["methodology"], "influential": True},
                  {"citing": "d", "cited": "c", "intents": ["background"]},
                  ("a", "a")],  # a self-citation is dropped
        pdf_edges=[("d", "b"), ("e", "s2:ext1", {})],
        external_nodes=[{"id": "s2:ext1", "title": "An Outside Paper", "year": 2001,
                         "citation_count": 42},
                        {"id": "a", "citation_count": 1000}],
    )
    assert graph.edges["d", "b"]["sources"] == {"catalog", "s2", "pdf"}
    assert graph.edges["d", "b"]["intents"] == {"methodology"}
    assert graph.edges["d", "b"]["influential"] is True
    assert graph.edges["d", "c"]["sources"] == {"catalog", "s2"}
    assert graph.edges["d", "c"]["influential"] is False
    assert graph.edges["b", "a"]["sources"] == {"catalog"}
    assert not graph.has_edge("a", "a")
    assert sorted(graph.predecessors("a")) == ["b", "c", "e"]  # both adjacency sides filled
    assert sorted(graph.successors("e")) == ["a", "d", "s2:ext1"]
    assert graph.number_of_edges() == 7  # the 6 catalog citations + e -> s2:ext1
    assert graph.nodes["s2:ext1"] == {"title": "An Outside Paper", "year": 2001, "topic": None,
                                      "in_catalog": False, "citation_count": 42,
                                      "reading_status": "not started"}
    assert graph.nodes["a"]["citation_count"] == 1000
    assert graph.nodes["e"]["topic"] == "t2" and graph.nodes["e"]["in_catalog"] is True


def test_build_gives_unknown_cited_papers_a_node_and_keeps_reading_status(tmp_path):
    cat = write_catalog(tmp_path / "ws", CHAIN)
    graph = g.build_graph(cat, pdf_edges=[("b", "nowhere")],
                          reading_status={"b": "pass 2 done"})
    assert graph.nodes["nowhere"]["in_catalog"] is False
    assert graph.nodes["nowhere"]["title"] == "nowhere"
    assert graph.nodes["b"]["reading_status"] == "pass 2 done"
    assert graph.nodes["c"]["reading_status"] == "not started"


@pytest.mark.parametrize("bad", [("only-one",), {"citing": "a"}, ("a", 3), 17])
def test_build_refuses_a_malformed_edge_with_a_graph_error(bad):
    with pytest.raises(g.GraphError, match="edge"):
        g.build_graph(None, s2_edges=[bad])


# --- neighbours --------------------------------------------------------------------------------


def test_neighbours_follow_the_asked_direction(chain):
    assert g.neighbours(chain, "d", 1, "references") == {"b": 1, "c": 1}
    assert g.neighbours(chain, "d", 2, "references") == {"b": 1, "c": 1, "a": 2}
    assert g.neighbours(chain, "d", 1, "cited-by") == {"e": 1}
    assert g.neighbours(chain, "b", 2, "cited-by") == {"d": 1, "e": 2}
    # undirected: b - a, b - d at 1; a - c, a - e, d - c, d - e at 2
    assert g.neighbours(chain, "b", 1, "both") == {"a": 1, "d": 1}
    assert g.neighbours(chain, "b", 2, "both") == {"a": 1, "d": 1, "c": 2, "e": 2}


def test_neighbours_reject_bad_direction_and_unknown_paper_with_a_hint(chain):
    with pytest.raises(g.GraphError, match="unknown direction 'sideways'"):
        g.neighbours(chain, "a", 1, "sideways")
    with pytest.raises(g.UnknownPaper, match="did you mean"):
        g.neighbours(chain, "bb", 1)


def test_neighbourhood_never_exceeds_max_nodes_and_keeps_the_nearest(chain):
    sub = g.neighbourhood(chain, "d", hops=2, max_nodes=3)
    # d's 1-hop neighbours are b, c, e (in-degrees 1, 1, 0); a (2 hops) is dropped first,
    # then e (lowest in-degree; ties broken by id)
    assert set(sub) == {"d", "b", "c"}
    assert set(sub.edges) == {("d", "b"), ("d", "c")}


# --- prior and derivative works ----------------------------------------------------------------

# seed s cites r1, r2; c1 and c2 cite s; c1 -> r1, c2 -> r1, c1 -> old; r1 -> old, r2 -> old;
# d (two hops away) cites c1, c2 and r1.
PRIOR_EDGES = [("s", "r1"), ("s", "r2"), ("c1", "s"), ("c2", "s"), ("c1", "r1"), ("c2", "r1"),
               ("c1", "old"), ("r1", "old"), ("r2", "old"), ("d", "c1"), ("d", "c2"),
               ("d", "r1")]
PRIOR_YEARS = {"old": 1990, "r1": 2000, "r2": 2001, "s": 2010, "c1": 2012, "c2": 2013,
               "d": 2015}


def test_prior_works_are_what_the_neighbourhood_cites_most():
    graph = edges_only(PRIOR_EDGES, PRIOR_YEARS)
    # N = {s, r1, r2, c1, c2}. Citations from N to non-seeds:
    #   r1: s, c1, c2 -> 3;  old: r1, r2, c1 -> 3;  r2: s -> 1.  Tie r1/old: older first.
    assert g.prior_works(graph, "s") == [("old", 3), ("r1", 3), ("r2", 1)]
    assert g.prior_works(graph, ["s"], limit=1) == [("old", 3)]


def test_derivative_works_are_what_cites_most_of_the_neighbourhood():
    graph = edges_only(PRIOR_EDGES, PRIOR_YEARS)
    # Citations into N from non-seeds: d -> c1, c2, r1 = 3; c1 -> s, r1 = 2; c2 -> s, r1 = 2.
    # Tie c1/c2: newer first.
    assert g.derivative_works(graph, "s") == [("d", 3), ("c2", 2), ("c1", 2)]


def test_prior_works_of_several_seeds_leave_the_seeds_out():
    graph = edges_only(PRIOR_EDGES, PRIOR_YEARS)
    ids = [p for p, _ in g.prior_works(graph, ["s", "r1"], limit=None)]
    assert "s" not in ids and "r1" not in ids
    with pytest.raises(g.GraphError, match="at least one seed"):
        g.prior_works(graph, [])


# --- similarity ----------------------------------------------------------------------------------

# a, b, c all cite z1; a, b also cite z2.  p cites a and b; q cites a; r cites b.
SIM_EDGES = [("a", "z1"), ("a", "z2"), ("b", "z1"), ("b", "z2"), ("c", "z1"),
             ("p", "a"), ("p", "b"), ("q", "a"), ("r", "b")]


def test_coupling_is_the_adamic_adar_sum_over_shared_references():
    graph = edges_only(SIM_EDGES)
    # shared by a and b: z1 (cited by a, b, c: |C| = 3) and z2 (cited by a, b: |C| = 2)
    assert g.coupling_adamic_adar(graph, "a", "b") == pytest.approx(1 / math.log(3) +
                                                                    1 / math.log(2))
    assert g.coupling_adamic_adar(graph, "a", "c") == pytest.approx(1 / math.log(3))
    assert g.coupling_adamic_adar(graph, "a", "p") == 0


def test_cocitation_is_the_salton_index_of_the_citers():
    graph = edges_only(SIM_EDGES)
    # C(a) = {p, q}, C(b) = {p, r}: 1 shared / sqrt(2 * 2) = 0.5
    assert g.cocitation_salton(graph, "a", "b") == pytest.approx(0.5)
    # C(z1) = {a, b, c}, C(z2) = {a, b}: 2 / sqrt(3 * 2)
    assert g.cocitation_salton(graph, "z1", "z2") == pytest.approx(2 / math.sqrt(6))
    assert g.cocitation_salton(graph, "a", "c") == 0  # nobody cites c


def test_similarity_adds_coupling_and_cocitation_and_ranks_papers():
    graph = edges_only(SIM_EDGES)
    ab = 1 / math.log(3) + 1 / math.log(2) + 0.5
    assert g.similarity(graph, "a", "b") == pytest.approx(ab)
    found = g.similar_papers(graph, "a")
    assert [s.id for s in found] == ["b", "c"]
    assert found[0].score == pytest.approx(ab)
    assert found[0].cocitation == pytest.approx(0.5)
    assert found[1].score == pytest.approx(1 / math.log(3))
    # every listed score is exactly the pairwise formula
    for s in found:
        assert s.score == pytest.approx(g.similarity(graph, "a", s.id))


# --- PageRank and paths ------------------------------------------------------------------------


def test_pagerank_matches_the_closed_form_on_a_three_paper_graph():
    # a -> c, b -> c; c cites nothing (dangling, its rank is spread over all 3).
    # x = PR(a) = PR(b) = 0.05 + 0.85 * y / 3,  y = PR(c) = 1 - 2x
    # => x = (0.05 + 0.85 / 3) / (1 + 1.7 / 3) = 0.212766,  y = 0.574468
    graph = edges_only([("a", "c"), ("b", "c")])
    ranked = g.foundational(graph)
    assert ranked[0][0] == "c"
    assert ranked[0][1] == pytest.approx(0.574468, abs=1e-5)
    assert dict(ranked)["a"] == pytest.approx(0.212766, abs=1e-5)


def test_pagerank_on_a_local_graph_ignores_papers_outside_it(chain):
    local = g.pagerank(chain, ["d", "b", "c"])
    assert set(local) == {"d", "b", "c"}
    assert sum(local.values()) == pytest.approx(1.0)
    assert local["b"] == pytest.approx(local["c"]) and local["b"] > local["d"]


def test_citation_path_reads_from_a_to_b_in_either_direction(chain):
    assert g.citation_path(chain, "e", "b") == ["e", "d", "b"]
    assert g.citation_path(chain, "b", "e") == ["b", "d", "e"]  # found as e -> d -> b
    assert g.describe_path(chain, ["b", "d", "e"]) == ["b is cited by d", "d is cited by e"]
    assert g.citation_path(chain, "c", "c") == ["c"]


def test_undirected_path_links_papers_no_citation_chain_joins():
    graph = edges_only([("u1", "m"), ("u2", "m")])
    assert g.citation_path(graph, "u1", "u2") is None
    assert g.citation_path(graph, "u1", "u2", undirected=True) == ["u1", "m", "u2"]
    graph.add_node("alone")
    assert g.citation_path(graph, "u1", "alone", undirected=True) is None


# --- reading order ---------------------------------------------------------------------------


def assert_prerequisites_first(graph, order):
    pos = {pid: i for i, pid in enumerate(order.ids)}
    for u, v in graph.edges:
        if u in pos and v in pos and not nx.has_path(graph, v, u):  # skip cycles
            assert pos[v] < pos[u], f"{v} must come before {u}, which cites it"


def test_reading_order_puts_cited_before_citing_then_older_first(chain):
    order = g.reading_order(chain, "e")
    # a first (cites nothing); then b (2012) and c (2013) are both free: older first; then d
    assert order.ids == ["a", "b", "c", "d", "e"]
    assert [i.is_target for i in order.items] == [False] * 4 + [True]
    assert_prerequisites_first(chain, order)


def test_reading_order_respects_every_prerequisite_on_a_random_dag():
    import random

    rng = random.Random(3)
    edges = [(f"p{i}", f"p{j}") for i in range(60) for j in range(i) if rng.random() < 0.08]
    years = {f"p{i}": 2000 + rng.randrange(20) for i in range(60)}  # years disagree with order
    graph = edges_only(edges, years)
    graph.add_nodes_from((f"p{i}", {"in_catalog": True, "year": years[f"p{i}"]})
                         for i in range(60))
    order = g.reading_order(graph, "p59")
    assert set(order.ids) == nx.descendants(graph, "p59") | {"p59"}
    assert_prerequisites_first(graph, order)


def test_reading_order_breaks_ties_by_id_when_years_are_equal():
    graph = edges_only([("t", "zeta"), ("t", "alpha"), ("t", "mid")],
                       {"zeta": 2000, "alpha": 2000, "mid": 1999, "t": 2005})
    assert g.reading_order(graph, "t").ids == ["mid", "alpha", "zeta", "t"]


def test_reading_order_keeps_a_chain_through_a_paper_outside_the_catalog(tmp_path):
    # t cites old (2003) and x; x (not in the catalog) cites new (2005); old also cites x...
    # so new must come before old although old is the older paper: old -> x -> new.
    cat = write_catalog(tmp_path / "ws", [("new", 2005, []), ("old", 2003, []),
                                          ("t", 2010, ["old", "new"])])
    graph = g.build_graph(cat, s2_edges=[("old", "s2:x"), ("s2:x", "new")])
    order = g.reading_order(graph, "t")
    assert order.ids == ["new", "old", "t"]  # s2:x itself is not listed: not in the catalog


def test_reading_order_condenses_a_citation_cycle_deterministically():
    # arXiv revisions: v (2017) and w (2016) cite each other; t cites v; v cites base.
    graph = edges_only([("v", "w"), ("w", "v"), ("t", "v"), ("v", "base")],
                       {"v": 2017, "w": 2016, "t": 2018, "base": 2000})
    first = g.reading_order(graph, "t").ids
    assert first == ["base", "w", "v", "t"]  # the cycle {v, w} as one block, by year inside
    assert all(g.reading_order(graph, "t").ids == first for _ in range(3))


def test_reading_order_depth_limits_the_prerequisites(chain):
    assert g.reading_order(chain, "e", depth=1).ids == ["a", "d", "e"]
    assert g.reading_order(chain, "e", depth=2).ids == ["a", "b", "c", "d", "e"]


def test_reading_order_marks_what_was_read_and_counts_the_time_left(tmp_path):
    cat = write_catalog(tmp_path / "ws", CHAIN)
    graph = g.build_graph(cat, reading_status={"c": "pass 1 done", "d": "pass 1 in progress"})
    order = g.reading_order(graph, "e", read={"b"})
    marks = {i.id: i.read for i in order.items}
    assert marks == {"a": False, "b": True, "c": True, "d": False, "e": False}
    per_pass = order.minutes_per_pass
    # 3 unread papers (a, d, e): each pass's budget times 3
    assert order.minutes_left() == {k: 3 * m for k, m in per_pass.items()}
    assert order.minutes_left(read={"a", "b", "c", "d", "e"}) == {k: 0 for k in per_pass}


def test_pass_minutes_are_the_middle_of_the_methods_budgets(monkeypatch):
    from workbench.method import PASSES

    # budgets 5-15 min, 60-60 min, 60-300 min -> middles 10, 60, 180
    assert g.pass_minutes() == {p.number: (p.budget_minutes[0] + p.budget_minutes[1]) // 2
                                for p in PASSES}
    assert g.pass_minutes() == {1: 10, 2: 60, 3: 180}
    monkeypatch.setitem(sys.modules, "workbench.method", None)  # the module is unavailable
    assert g.pass_minutes() == {1: 15, 2: 60, 3: 180}


def test_format_minutes_reads_naturally():
    assert [g.format_minutes(m) for m in (45, 60, 125, 0)] == ["45 min", "1 h", "2 h 5 min",
                                                               "0 min"]


@pytest.mark.skipif(not SHIPPED_CATALOG.exists(), reason="needs the shipped papers.yaml")
def test_shipped_catalog_reads_transformer_before_vit_before_clip():
    graph = g.build_graph(catalog_mod.load(SHIPPED_CATALOG))
    order = g.reading_order(graph, "clip")
    ids = order.ids
    assert ids.index("transformer") < ids.index("vit") < ids.index("clip")
    assert ids[-1] == "clip"
    assert_prerequisites_first(graph, order)


# --- exports and drawing -------------------------------------------------------------------------


@pytest.fixture
def mixed(tmp_path):
    cat = write_catalog(tmp_path / "ws", CHAIN)
    return g.build_graph(cat, s2_edges=[{"citing": "d", "cited": "b", "intents": ["result"]},
                                        ("e", "s2:x")],
                         external_nodes=[{"id": "s2:x", "title": "X & <Y>", "year": None}])


def test_graphml_export_round_trips_nodes_edges_and_attributes(mixed):
    back = nx.read_graphml(io.BytesIO(g.to_graphml(mixed)))
    assert set(back.nodes) == set(mixed.nodes) and set(back.edges) == set(mixed.edges)
    assert back.nodes["b"]["title"] == "Paper B" and back.nodes["b"]["year"] == 2012
    assert back.nodes["s2:x"]["title"] == "X & <Y>" and "year" not in back.nodes["s2:x"]
    assert back.nodes["b"]["in_catalog"] is True
    assert set(back.edges["d", "b"]["sources"].split(",")) == {"catalog", "s2"}
    assert back.edges["d", "b"]["intents"] == "result"


def test_node_link_json_round_trips(mixed):
    data = json.loads(g.to_node_link_json(mixed))
    back = nx.node_link_graph(data, edges="edges")
    assert set(back.edges) == set(mixed.edges)
    assert back.edges["d", "b"]["sources"] == ["catalog", "s2"]
    assert back.nodes["e"]["topic"] == "t2"


def test_view_draws_at_most_max_nodes_around_the_center(tmp_path):
    edges = [(f"p{i}", "hub") for i in range(400)]
    graph = edges_only(edges)
    view = g.make_view(graph, "hub", hops=1, max_nodes=300)
    assert view.graph.number_of_nodes() == 300 and "hub" in view.graph
    assert set(view.positions) == set(view.graph)
    assert max(view.sizes.values()) == pytest.approx(40) and view.sizes["hub"] == 40
    with pytest.raises(g.GraphError, match="too many"):
        g.make_view(graph, None)


@pytest.mark.parametrize("mode", g.COLOUR_MODES)
def test_view_colours_every_node_in_exactly_one_group(mixed, mode):
    view = g.make_view(mixed, "d", hops=2, colour_by=mode, topics={"t1": "CNNs", "t2": "GANs"})
    members = [n for ns in view.groups.values() for n in ns]
    assert sorted(members) == sorted(view.graph)
    assert set(view.colours) == set(view.groups)
    if mode == "topic":
        assert set(view.groups) == {"CNNs", "GANs", "outside the catalog"}


def test_view_refuses_an_unknown_colouring(mixed):
    with pytest.raises(g.GraphError, match="unknown colouring 'size'"):
        g.make_view(mixed, "d", colour_by="size")


def test_svg_and_png_images_show_the_current_view(mixed):
    view = g.make_view(mixed, "d", hops=2)
    svg = g.export(mixed, "svg", view).decode()
    root = ET.fromstring(svg)  # well-formed, with the title's '&' and '<' escaped
    ns = "{http://www.w3.org/2000/svg}"
    tips = [c.find(f"{ns}title").text for c in root.iter(f"{ns}circle")
            if c.find(f"{ns}title") is not None]
    assert len(tips) == view.graph.number_of_nodes()
    assert any("X & <Y>" in t for t in tips)
    assert len(list(root.iter(f"{ns}line"))) == view.graph.number_of_edges()
    assert g.export(mixed, "png", view).startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(g.GraphError, match="needs a neighbourhood"):
        g.export(mixed, "png")
    with pytest.raises(g.GraphError, match="unknown export format 'pdf'"):
        g.export(mixed, "pdf", view)


def test_plotly_figure_carries_paper_ids_for_clicks(mixed):
    view = g.make_view(mixed, "d", hops=2, colour_by="year")
    fig = g.plotly_figure(view)
    ids = [pid for trace in fig.data[1:] for pid in trace.customdata]
    assert sorted(ids) == sorted(view.graph)
    assert len(fig.layout.annotations) == view.graph.number_of_edges()  # one arrow each


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
    edges, nodes = g.s2_edges_from_records("me", [ref], [cit], cat)
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
    from workbench.notes import DONE, new_note, save_note

    write_catalog(tmp_path / "ws", CHAIN)
    ws = Workspace.resolve(tmp_path / "ws")
    before = g.workspace_stamp(ws)
    save_note(ws, new_note("b", "alice").with_pass(1, status=DONE), None)
    assert g.workspace_stamp(ws) != before  # the app rebuilds its cached graph
    save_note(ws, new_note("c", "bob").with_pass(1, status=DONE), None)
    graph = g.load_workspace_graph(ws, reader="alice")
    assert graph.nodes["b"]["reading_status"] == "pass 1 done"
    assert graph.nodes["c"]["reading_status"] == "not started"  # bob's, not alice's
    marks = {i.id: i.read for i in g.reading_order(graph, "e").items}
    assert marks["b"] is True and marks["c"] is False


# --- CLI -----------------------------------------------------------------------------------------


def run_cli(capsys, root, *argv):
    from workbench.cli import main

    code = main(["--workspace", str(root), "graph", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_answers_stats_order_path_and_similar(tmp_path, capsys):
    write_catalog(tmp_path / "ws", CHAIN)
    root = tmp_path / "ws"
    code, out, _ = run_cli(capsys, root, "stats")
    assert code == 0 and "5 papers (5 in the catalog), 6 citations (catalog 6, s2 0, pdf 0)" \
        in out
    code, out, _ = run_cli(capsys, root, "order", "e", "--read", "a")
    lines = [re.match(r"\s*\d+\. \[[ x]\] (\S+)", ln)[1] for ln in out.splitlines()
             if re.match(r"\s*\d+\.", ln)]
    assert code == 0 and lines == ["a", "b", "c", "d", "e"]
    assert "[x] a" in out and "time for the 4 unread" in out
    code, out, _ = run_cli(capsys, root, "path", "b", "e")
    assert code == 0 and "b is cited by d" in out and "d is cited by e" in out
    code, _, err = run_cli(capsys, root, "path", "b", "c")
    assert code == 1 and "try --undirected" in err
    code, out, _ = run_cli(capsys, root, "similar", "b")
    assert code == 0 and out.splitlines()[1].startswith("c ")  # b and c both cite only a


def test_cli_exports_every_format(tmp_path, capsys):
    write_catalog(tmp_path / "ws", CHAIN)
    root = tmp_path / "ws"
    for fmt in g.EXPORT_FORMATS:
        out_file = tmp_path / f"out.{fmt}"
        code, out, _ = run_cli(capsys, root, "export", fmt, "--out", str(out_file))
        assert code == 0 and f"wrote {out_file}" in out
        assert out_file.stat().st_size > 0
    assert nx.read_graphml(tmp_path / "out.graphml").number_of_edges() == 6
    code, out, _ = run_cli(capsys, root, "export", "svg", "--center", "a", "--hops", "1",
                           "--out", str(tmp_path / "a.svg"))
    assert code == 0 and "(4 papers, 3 citations)" in out  # a and the three citing it
    code, out, _ = run_cli(capsys, root, "export", "json", "--center", "a",
                           "--out", str(tmp_path / "a.json"))
    data = json.loads((tmp_path / "a.json").read_text())
    assert code == 0 and sorted(n["id"] for n in data["nodes"]) == ["a", "b", "c", "e"]


@pytest.mark.parametrize("argv, message", [
    (("order", "ee"), "'ee' is not in the citation graph (did you mean 'e'?)"),
    (("export", "pdf"), "unknown export format 'pdf'"),
    (("export", "svg", "--center", "a", "--colour-by", "size"), "unknown colouring 'size'"),
    (("export", "svg", "--center", "a", "--direction", "up"), "unknown direction 'up'"),
])
def test_cli_bad_input_is_one_line_not_a_traceback(tmp_path, capsys, argv, message):
    write_catalog(tmp_path / "ws", CHAIN)
    code, _, err = run_cli(capsys, tmp_path / "ws", *argv)
    assert code == 1 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
