"""Drawing and exporting the citation graph: views, colours, SVG/PNG images, plotly, GraphML
and node-link JSON."""

from __future__ import annotations

import io
import json
import math
import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from tests.conftest import SHIPPED_CATALOG
from tests.workspaces import CHAIN, edges_only, write_catalog
from workbench.catalog import validate as catalog_mod
from workbench.graph import build as g
from workbench.graph import draw, queries

# --- exports and drawing -------------------------------------------------------------------------


@pytest.fixture
def mixed(tmp_path):
    cat = write_catalog(tmp_path / "ws", CHAIN)
    return g.build_graph(cat, s2_edges=[{"citing": "d", "cited": "b", "intents": ["result"]},
                                        ("e", "s2:x")],
                         external_nodes=[{"id": "s2:x", "title": "X & <Y>", "year": None}])


def test_graphml_export_round_trips_nodes_edges_and_attributes(mixed):
    back = nx.read_graphml(io.BytesIO(draw.to_graphml(mixed)))
    assert set(back.nodes) == set(mixed.nodes) and set(back.edges) == set(mixed.edges)
    assert back.nodes["b"]["title"] == "Paper B" and back.nodes["b"]["year"] == 2012
    assert back.nodes["s2:x"]["title"] == "X & <Y>" and "year" not in back.nodes["s2:x"]
    assert back.nodes["b"]["in_catalog"] is True
    assert set(back.edges["d", "b"]["sources"].split(",")) == {"catalog", "s2"}
    assert back.edges["d", "b"]["intents"] == "result"


def test_node_link_json_round_trips(mixed):
    data = json.loads(draw.to_node_link_json(mixed))
    back = nx.node_link_graph(data, edges="edges")
    assert set(back.edges) == set(mixed.edges)
    assert back.edges["d", "b"]["sources"] == ["catalog", "s2"]
    assert back.nodes["e"]["topic"] == "t2"


def test_exports_are_the_same_file_whatever_order_the_graph_was_built_in(mixed):
    """Exports kept in git must not churn: node and edge order comes from the ids."""
    shuffled = nx.DiGraph()
    shuffled.add_nodes_from(reversed(list(mixed.nodes(data=True))))
    shuffled.add_edges_from(reversed(list(mixed.edges(data=True))))
    assert list(shuffled.nodes) != list(mixed.nodes)
    assert draw.to_node_link_json(shuffled) == draw.to_node_link_json(mixed)
    assert draw.to_graphml(shuffled) == draw.to_graphml(mixed)


def test_view_draws_at_most_max_nodes_around_the_center(tmp_path):
    edges = [(f"p{i}", "hub") for i in range(400)]
    graph = edges_only(edges)
    view = draw.make_view(graph, "hub", hops=1, max_nodes=300)
    assert view.graph.number_of_nodes() == 300 and "hub" in view.graph
    assert set(view.positions) == set(view.graph)
    assert max(view.sizes.values()) == pytest.approx(40) and view.sizes["hub"] == 40
    with pytest.raises(g.GraphError, match="too many"):
        draw.make_view(graph, None)


@pytest.mark.parametrize("mode", draw.COLOUR_MODES)
def test_view_colours_every_node_in_exactly_one_group(mixed, mode):
    view = draw.make_view(mixed, "d", hops=2, colour_by=mode, topics={"t1": "CNNs", "t2": "GANs"})
    members = [n for ns in view.groups.values() for n in ns]
    assert sorted(members) == sorted(view.graph)
    assert set(view.colours) == set(view.groups)
    if mode == "topic":
        assert set(view.groups) == {"CNNs", "GANs", "outside the catalog"}


def test_view_refuses_an_unknown_colouring(mixed):
    with pytest.raises(g.GraphError, match="unknown colouring 'size'"):
        draw.make_view(mixed, "d", colour_by="size")


def test_svg_and_png_images_show_the_current_view(mixed):
    view = draw.make_view(mixed, "d", hops=2)
    svg = draw.export(mixed, "svg", view).decode()
    root = ET.fromstring(svg)  # well-formed, with the title's '&' and '<' escaped
    ns = "{http://www.w3.org/2000/svg}"
    tips = [c.find(f"{ns}title").text for c in root.iter(f"{ns}circle")
            if c.find(f"{ns}title") is not None]
    assert len(tips) == view.graph.number_of_nodes()
    assert any("X & <Y>" in t for t in tips)
    assert len(list(root.iter(f"{ns}line"))) == view.graph.number_of_edges()
    assert draw.export(mixed, "png", view).startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(g.GraphError, match="needs a neighbourhood"):
        draw.export(mixed, "png")
    with pytest.raises(g.GraphError, match="unknown export format 'pdf'"):
        draw.export(mixed, "pdf", view)


def test_plotly_figure_carries_paper_ids_for_clicks(mixed):
    view = draw.make_view(mixed, "d", hops=2, colour_by="year")
    fig = draw.plotly_figure(view)
    ids = [pid for trace in fig.data if trace.customdata is not None
           for pid in trace.customdata]
    assert sorted(ids) == sorted(view.graph)
    heads = [t for t in fig.data if t.name == "arrowheads"]
    assert len(heads) == 1 and heads[0].fill == "toself"  # one path for all the heads
    assert len(heads[0].x) == 4 * view.graph.number_of_edges()  # a triangle and a gap each


def test_each_arrowhead_sits_on_its_citation_and_points_at_the_cited_paper():
    """The tip is 60% of the way from the citing to the cited paper; the base's middle is on
    the same line, nearer the citing paper; the head is HEAD_PX long on the assumed plot."""
    lines = [((0.0, 0.0), (1.0, 0.0)), ((2.0, 1.0), (-1.0, 3.0)), ((0.5, 0.5), (0.5, -4.0)),
             ((1.0, 1.0), (1.0, 1.0))]  # the last has no length: no head
    per_px = (0.01, 0.02)
    hx, hy = draw._heads(lines, *per_px)
    assert len(hx) == 4 * 3 and hx[3::4] == [None] * 3 and hy[3::4] == [None] * 3
    for i, ((x1, y1), (x2, y2)) in enumerate(lines[:3]):
        (tx, ax, bx), (ty, ay, by) = hx[4 * i:4 * i + 3], hy[4 * i:4 * i + 3]
        assert (tx, ty) == pytest.approx((x1 + 0.6 * (x2 - x1), y1 + 0.6 * (y2 - y1)), abs=1e-5)
        mx, my = (ax + bx) / 2, (ay + by) / 2  # the base's middle
        cross = (x2 - x1) * (my - y1) - (y2 - y1) * (mx - x1)
        assert cross == pytest.approx(0, abs=1e-4)  # on the line
        along = ((tx - mx) * (x2 - x1) + (ty - my) * (y2 - y1))
        assert along > 0  # the tip is the end nearer the cited paper
        length_px = math.hypot((tx - mx) / per_px[0], (ty - my) / per_px[1])
        assert length_px == pytest.approx(draw.HEAD_PX[0], abs=1e-2)


needs_shipped = pytest.mark.skipif(not SHIPPED_CATALOG.exists(),
                                   reason="needs the shipped papers.yaml")


@pytest.fixture(scope="module")
def shipped():
    return g.build_graph(catalog_mod.load(SHIPPED_CATALOG))


@needs_shipped
@pytest.mark.parametrize("pid, label", [
    ("resnet", "ResNet (2016)"), ("vgg", "VGG (2015)"), ("faster-rcnn", "Faster R-CNN (2015)"),
    ("highway", "Highway Networks (2015)"), ("vit", "An Image is Worth 16x16 Words (2021)"),
    ("shattered-gradients", "The Shattered Gradients… (2017)")])
def test_papers_are_labelled_with_short_titles_never_cut_mid_word(shipped, pid, label):
    assert draw.short_title(shipped, pid) == label


@needs_shipped
def test_figure_is_tall_names_only_the_papers_that_matter_and_keeps_the_legend_outside(
        shipped):
    view = draw.make_view(shipped, "resnet", hops=3, topics={"cnns": "CNNs"})
    assert view.graph.number_of_nodes() > 60
    quiet = min(view.graph, key=lambda n: view.rank[n])  # the smallest dot: never named
    fig = draw.plotly_figure(view, picked=quiet)
    named = {pid: text for t in fig.data if t.customdata is not None
             for pid, text in zip(t.customdata, t.text, strict=True) if text}
    assert named["resnet"] == "ResNet (2016)"
    assert named[quiet] == draw.short_title(shipped, quiet)  # the picked paper is named too
    assert 5 <= len(named) <= draw.LABELLED + 2  # the largest whose names do not overlap
    assert fig.layout.height >= 700
    legend = fig.layout.legend
    assert legend.orientation == "h" and legend.yanchor == "top" and legend.y <= 0  # under it
    assert "around ResNet (2016)" in fig.layout.title.text


def test_similarity_layout_places_papers_by_shared_references_and_citers():
    graph = edges_only([("a", "z1"), ("a", "z2"), ("b", "z1"), ("b", "z2"), ("c", "z1"),
                        ("p", "a"), ("p", "b"), ("q", "a"), ("r", "b")])
    view = draw.make_view(graph, "a", hops=2, layout_by="similarity")
    links = {(x, y): w for x, y, w in view.links}
    assert links[("a", "b")] == pytest.approx(queries.similarity(graph, "a", "b"))
    assert ("a", "p") not in links  # a citation, not a similarity
    assert set(view.positions) == set(view.graph)
    fig = draw.plotly_figure(view)
    assert not [t for t in fig.data if t.name == "arrowheads"]  # no arrows
    assert f"{len(view.links)} similarity links" in fig.layout.title.text
    with pytest.raises(g.GraphError, match="unknown layout 'tree'"):
        draw.make_view(graph, "a", layout_by="tree")


def test_view_rows_list_the_view_with_each_papers_relation_to_the_centre(mixed):
    view = draw.make_view(mixed, "d", hops=2)
    rows = {r["id"]: r for r in draw.view_rows(view)}
    assert draw.view_rows(view)[0]["id"] == "d"
    assert set(rows) == set(view.graph)
    assert [rows[n]["relation"] for n in ("d", "b", "e", "a")] == [
        "this paper", "cited by it", "cites it", "2 hops away"]
    assert rows["b"]["paper"] == "Paper B (2012)"


def test_layout_is_the_same_whatever_order_the_graph_was_built_in(mixed):
    """A view must not jump about between app processes (string hashing changes the order in
    which networkx walks a small subgraph) nor between builds of the same workspace."""
    shuffled = nx.DiGraph()
    shuffled.add_nodes_from(reversed(list(mixed.nodes(data=True))))
    shuffled.add_edges_from(reversed(list(mixed.edges(data=True))))
    for layout_by in draw.LAYOUTS:
        ours = draw.make_view(mixed, "d", hops=2, layout_by=layout_by).positions
        theirs = draw.make_view(shuffled, "d", hops=2, layout_by=layout_by).positions
        assert ours.keys() == theirs.keys()
        assert all(ours[n] == pytest.approx(theirs[n]) for n in ours)
