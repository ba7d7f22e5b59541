"""Drawing and exporting the citation graph: views, colours, SVG/PNG images, plotly, GraphML
and node-link JSON."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from tests.workspaces import CHAIN, edges_only, write_catalog
from workbench.graph import build as g
from workbench.graph import draw

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
    ids = [pid for trace in fig.data[1:] for pid in trace.customdata]
    assert sorted(ids) == sorted(view.graph)
    assert len(fig.layout.annotations) == view.graph.number_of_edges()  # one arrow each
