"""Prior and derivative works, similarity, PageRank and citation paths, with answers worked
out by hand on graphs small enough to check on paper."""

from __future__ import annotations

import math

import pytest

from tests.workspaces import CHAIN, edges_only, write_catalog
from workbench.graph import build as g
from workbench.graph import queries as q


@pytest.fixture
def chain(tmp_path):
    return g.build_graph(write_catalog(tmp_path / "ws", CHAIN))


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
    assert q.prior_works(graph, "s") == [("old", 3), ("r1", 3), ("r2", 1)]
    assert q.prior_works(graph, ["s"], limit=1) == [("old", 3)]


def test_derivative_works_are_what_cites_most_of_the_neighbourhood():
    graph = edges_only(PRIOR_EDGES, PRIOR_YEARS)
    # Citations into N from non-seeds: d -> c1, c2, r1 = 3; c1 -> s, r1 = 2; c2 -> s, r1 = 2.
    # Tie c1/c2: newer first.
    assert q.derivative_works(graph, "s") == [("d", 3), ("c2", 2), ("c1", 2)]


def test_prior_works_of_several_seeds_leave_the_seeds_out():
    graph = edges_only(PRIOR_EDGES, PRIOR_YEARS)
    ids = [p for p, _ in q.prior_works(graph, ["s", "r1"], limit=None)]
    assert "s" not in ids and "r1" not in ids
    with pytest.raises(g.GraphError, match="at least one seed"):
        q.prior_works(graph, [])


# --- similarity ----------------------------------------------------------------------------------

# a, b, c all cite z1; a, b also cite z2.  p cites a and b; q cites a; r cites b.
SIM_EDGES = [("a", "z1"), ("a", "z2"), ("b", "z1"), ("b", "z2"), ("c", "z1"),
             ("p", "a"), ("p", "b"), ("q", "a"), ("r", "b")]


def test_coupling_is_the_adamic_adar_sum_over_shared_references():
    graph = edges_only(SIM_EDGES)
    # shared by a and b: z1 (cited by a, b, c: |C| = 3) and z2 (cited by a, b: |C| = 2)
    assert q.coupling_adamic_adar(graph, "a", "b") == pytest.approx(1 / math.log(3) +
                                                                    1 / math.log(2))
    assert q.coupling_adamic_adar(graph, "a", "c") == pytest.approx(1 / math.log(3))
    assert q.coupling_adamic_adar(graph, "a", "p") == 0


def test_cocitation_is_the_salton_index_of_the_citers():
    graph = edges_only(SIM_EDGES)
    # C(a) = {p, q}, C(b) = {p, r}: 1 shared / sqrt(2 * 2) = 0.5
    assert q.cocitation_salton(graph, "a", "b") == pytest.approx(0.5)
    # C(z1) = {a, b, c}, C(z2) = {a, b}: 2 / sqrt(3 * 2)
    assert q.cocitation_salton(graph, "z1", "z2") == pytest.approx(2 / math.sqrt(6))
    assert q.cocitation_salton(graph, "a", "c") == 0  # nobody cites c


def test_similarity_adds_coupling_and_cocitation_and_ranks_papers():
    graph = edges_only(SIM_EDGES)
    ab = 1 / math.log(3) + 1 / math.log(2) + 0.5
    assert q.similarity(graph, "a", "b") == pytest.approx(ab)
    found = q.similar_papers(graph, "a")
    assert [s.id for s in found] == ["b", "c"]
    assert found[0].score == pytest.approx(ab)
    assert found[0].cocitation == pytest.approx(0.5)
    assert found[1].score == pytest.approx(1 / math.log(3))
    # every listed score is exactly the pairwise formula
    for s in found:
        assert s.score == pytest.approx(q.similarity(graph, "a", s.id))


# --- PageRank and paths ------------------------------------------------------------------------


def test_pagerank_matches_the_closed_form_on_a_three_paper_graph():
    # a -> c, b -> c; c cites nothing (dangling, its rank is spread over all 3).
    # x = PR(a) = PR(b) = 0.05 + 0.85 * y / 3,  y = PR(c) = 1 - 2x
    # => x = (0.05 + 0.85 / 3) / (1 + 1.7 / 3) = 0.212766,  y = 0.574468
    graph = edges_only([("a", "c"), ("b", "c")])
    ranked = q.foundational(graph)
    assert ranked[0][0] == "c"
    assert ranked[0][1] == pytest.approx(0.574468, abs=1e-5)
    assert dict(ranked)["a"] == pytest.approx(0.212766, abs=1e-5)


def test_pagerank_on_a_local_graph_ignores_papers_outside_it(chain):
    local = q.pagerank(chain, ["d", "b", "c"])
    assert set(local) == {"d", "b", "c"}
    assert sum(local.values()) == pytest.approx(1.0)
    assert local["b"] == pytest.approx(local["c"]) and local["b"] > local["d"]


def test_citation_path_reads_from_a_to_b_in_either_direction(chain):
    assert q.citation_path(chain, "e", "b") == ["e", "d", "b"]
    assert q.citation_path(chain, "b", "e") == ["b", "d", "e"]  # found as e -> d -> b
    assert q.describe_path(chain, ["b", "d", "e"]) == ["b is cited by d", "d is cited by e"]
    assert q.citation_path(chain, "c", "c") == ["c"]


def test_undirected_path_links_papers_no_citation_chain_joins():
    graph = edges_only([("u1", "m"), ("u2", "m")])
    assert q.citation_path(graph, "u1", "u2") is None
    assert q.citation_path(graph, "u1", "u2", undirected=True) == ["u1", "m", "u2"]
    graph.add_node("alone")
    assert q.citation_path(graph, "u1", "alone", undirected=True) is None
