"""Prior and derivative works, similarity, PageRank and citation paths, with answers worked
out by hand on graphs small enough to check on paper."""

from __future__ import annotations

import math

import pytest

from tests.conftest import SHIPPED_CATALOG
from tests.workspaces import CHAIN, edges_only, write_catalog
from workbench.catalog import validate as catalog_mod
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


def test_derivative_works_are_later_papers_citing_the_seed_or_its_references():
    graph = edges_only(PRIOR_EDGES, PRIOR_YEARS)
    # S = {s}, R(S) = {r1, r2}. Citations into S | R(S) from papers outside both:
    #   c1 -> s, r1 = 2;  c2 -> s, r1 = 2;  d -> r1 = 1 (d cites only c1, c2 besides).
    # Tie c1/c2: newer first. r1 and r2, which the seed cites, came before it: never listed.
    assert q.derivative_works(graph, "s") == [("c2", 2), ("c1", 2), ("d", 1)]


def test_derivative_works_leave_out_what_the_seed_cites_and_older_papers():
    # s (2010) cites v (2009, which cites r) and r; late (2012) cites r; early (2005) cites r;
    # v also "cites" s (an arXiv revision): it is still the seed's reference, never derivative.
    graph = edges_only([("s", "v"), ("s", "r"), ("v", "r"), ("v", "s"), ("late", "r"),
                        ("early", "r"), ("undated", "r"), ("undated-citer", "s")],
                       {"s": 2010, "v": 2009, "r": 2000, "late": 2012, "early": 2005})
    assert q.derivative_works(graph, "s", limit=None) == [("late", 1), ("undated-citer", 1)]


@pytest.mark.skipif(not SHIPPED_CATALOG.exists(), reason="needs the shipped papers.yaml")
def test_resnets_derivative_works_come_after_it_and_exclude_what_it_cites():
    graph = g.build_graph(catalog_mod.load(SHIPPED_CATALOG))
    found = [p for p, _ in q.derivative_works(graph, "resnet", limit=None)]
    assert found and "vgg" not in found and "faster-rcnn" not in found
    assert all(graph.nodes[p]["year"] >= 2015 and not graph.has_edge("resnet", p)
               for p in found)
    assert {"densenet", "resnext", "mask-rcnn"} <= set(found)


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


def test_similarity_weights_score_every_linked_pair_as_similarity_does():
    graph = edges_only(SIM_EDGES)
    nodes = ["a", "b", "c", "p", "z1", "z2"]
    weights = q.similarity_weights(graph, nodes)
    for i, x in enumerate(sorted(nodes)):
        for y in sorted(nodes)[i + 1:]:
            expected = q.similarity(graph, x, y)
            assert weights.get((x, y), 0.0) == pytest.approx(expected), (x, y)
    assert ("a", "p") not in weights  # a cites nothing p cites, nobody cites both


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


# --- reading plan --------------------------------------------------------------------------------

# e cites d and a; d cites b and c, which both cite a. (The CHAIN of papers a..e.)
PLAN_EDGES = [("e", "d"), ("e", "a"), ("d", "b"), ("d", "c"), ("b", "a"), ("c", "a")]
PLAN_YEARS = {"a": 2010, "b": 2012, "c": 2013, "d": 2015, "e": 2016}


def test_reading_weights_are_personalised_pagerank_toward_the_target():
    graph = edges_only(PLAN_EDGES, PLAN_YEARS)
    # alpha = 1/2, restart at e, a (cites nothing) returns to e. With x = PR(e):
    # d = x/4, b = c = d/4 = x/16, a = (x/2 + b + c)/2 = 5x/16.
    # Shares of a + b + c + d = 11x/16: a 5/11, d 4/11, b = c = 1/11.
    weights = q.reading_weights(graph, "e", ["a", "b", "c", "d"])
    assert weights == pytest.approx({"a": 5 / 11, "d": 4 / 11, "b": 1 / 11, "c": 1 / 11},
                                    abs=1e-5)  # nx.pagerank stops at an L1 change < N * 1e-6


def test_reading_plan_keeps_the_heaviest_unread_papers_in_reading_order():
    graph = edges_only(PLAN_EDGES, PLAN_YEARS)
    for n in graph:
        graph.nodes[n]["topic"] = "t1"
    graph.nodes["a"]["topic"] = "t0"
    plan = q.reading_plan(graph, "e", size=2)
    # a (5/11) and d (4/11) weigh most; a is cited by d's references, so it comes first.
    assert [s.item.id for s in plan.essentials] == ["a", "d"]
    # d: cited by e directly, in e's topic -> pass 2 (1 h); a: another topic -> pass 1
    assert [(s.suggested_pass, s.minutes) for s in plan.essentials] == [(1, 10), (2, 60)]
    assert plan.minutes == 70 and plan.ids == ["a", "d", "e"]
    assert plan.target.id == "e" and plan.already_read == []


def test_reading_plan_skips_papers_the_reader_has_read():
    graph = edges_only(PLAN_EDGES, PLAN_YEARS)
    graph.nodes["a"]["reading_status"] = "pass 1 done"  # from the notes
    plan = q.reading_plan(graph, "e", read={"d"}, size=2)  # ticked on the page
    assert [s.item.id for s in plan.essentials] == ["b", "c"]
    assert [i.id for i in plan.already_read] == ["a", "d"]


@pytest.mark.skipif(not SHIPPED_CATALOG.exists(), reason="needs the shipped papers.yaml")
def test_vits_plan_is_a_handful_of_essentials_not_fifty_papers_from_1989():
    graph = g.build_graph(catalog_mod.load(SHIPPED_CATALOG))
    plan = q.reading_plan(graph, "vit", depth=2)
    ids = [s.item.id for s in plan.essentials]
    assert len(plan.order.items) > 40 and len(ids) == q.PLAN_SIZE
    assert {"transformer", "resnet", "bert"} <= set(ids) and "lecun-1989" not in ids
    assert plan.minutes < 6 * 60
