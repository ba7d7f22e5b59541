"""The citation graph: building, neighbourhoods, reading order, and the `workbench graph` CLI.

Every graph here is small enough to check on paper; the comments show the arithmetic. The other
graph modules have their own files: test_graph_queries, test_graph_sources, test_graph_draw;
they share the helpers in tests/workspaces.py (`CHAIN`, `write_catalog`, `edges_only`).
"""

from __future__ import annotations

import json
import re

import networkx as nx
import pytest

from tests.conftest import SHIPPED_CATALOG
from tests.workspaces import CHAIN, edges_only, write_catalog
from workbench.catalog import validate as catalog_mod
from workbench.graph import build as g
from workbench.graph import draw as graph_draw


@pytest.fixture
def chain(tmp_path):
    return g.build_graph(write_catalog(tmp_path / "ws", CHAIN))


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


def test_pass_minutes_are_the_middle_of_the_methods_budgets():
    from workbench.notes.method import PASSES

    # budgets 5-15 min, 60-60 min, 60-300 min -> middles 10, 60, 180
    assert g.pass_minutes() == {p.number: (p.budget_minutes[0] + p.budget_minutes[1]) // 2
                                for p in PASSES}
    assert g.pass_minutes() == {1: 10, 2: 60, 3: 180}


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



# --- CLI -----------------------------------------------------------------------------------------


def run_cli(capsys, root, *argv):
    from workbench.cli.commands import main

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
    for fmt in graph_draw.EXPORT_FORMATS:
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
