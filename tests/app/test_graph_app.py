"""The Graph page: neighbourhood view, reading order with checkboxes, path finder, side lists."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import open_page
from tests.workspaces import CHAIN, write_catalog


def graph_page(paper: str) -> AppTest:
    return open_page("graph.py", paper=paper)


@pytest.fixture
def chain_ws(tmp_path, monkeypatch):
    """A workspace whose catalog is the hand-made chain: b, c -> a; d -> b, c; e -> d, a."""
    write_catalog(tmp_path / "ws", CHAIN)
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("WORKBENCH_READER", "alice")
    return tmp_path / "ws"


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_graph_page_draws_the_neighbourhood_of_the_chosen_paper(chain_ws):
    at = graph_page("d")
    assert not at.exception
    assert at.title[0].value == "Citation graph"
    assert at.selectbox(key="graph_paper").value == "d"
    chart = at.get("plotly_chart")
    assert len(chart) == 1
    # d's 1-hop neighbourhood: b, c (cited), e (citing) and d; citations d->b, d->c, e->d
    assert "4 papers, 3 citations around d" in chart[0].proto.spec
    assert len(at.get("download_button")) == 4


def test_reading_order_lists_prerequisites_first_and_ticks_them_off(chain_ws):
    at = graph_page("e")
    boxes = [b for b in at.checkbox if b.key.startswith("graph_read_e_")]
    assert [b.key.removeprefix("graph_read_e_") for b in boxes] == ["a", "b", "c", "d", "e"]
    assert "5 to read" in at.caption[-1].value or any("5 to read" in c.value for c in at.caption)
    at.checkbox(key="graph_read_e_a").check().run()
    assert not at.exception
    assert at.checkbox(key="graph_read_e_a").label.startswith("~~Paper A")
    assert any("4 to read" in c.value for c in at.caption)


def test_reading_order_depth_shortens_the_list(chain_ws):
    at = graph_page("e")
    at.number_input(key="graph_depth").set_value(1).run()
    keys = [b.key for b in at.checkbox if b.key.startswith("graph_read_e_")]
    assert keys == ["graph_read_e_a", "graph_read_e_d", "graph_read_e_e"]


def test_path_finder_shows_the_chain_and_the_undirected_fallback(chain_ws):
    at = graph_page("e")
    at.selectbox(key="graph_path_to").set_value("b").run()
    text = markdown(at)
    assert "**2 hops**" in text and "e cites d" in text and "d cites b" in text
    at.selectbox(key="graph_paper").set_value("b").run()
    at.selectbox(key="graph_path_to").set_value("c").run()
    assert any("No chain of citations" in i.value for i in at.info)
    at.toggle(key="graph_path_undirected").set_value(True).run()
    assert not at.exception
    assert "**2 hops**" in markdown(at)  # b - a - c or b - d - c


def test_side_lists_show_prior_derivative_and_similar_papers(chain_ws):
    at = graph_page("b")
    text = markdown(at)
    # N(b) = {b, a, d}. Prior: a is cited by b, c by d -> 1 each, the older (a) first
    assert "- [Paper A](/paper?paper=a) · cited by 1\n- [Paper C](/paper?paper=c) · cited by 1" \
        in text
    # Derivative: e cites a and d (2); d cites b, c cites a (1 each, the newer, d, first)
    assert ("- [Paper E](/paper?paper=e) · cites 2\n- [Paper D](/paper?paper=d) · cites 1\n"
            "- [Paper C](/paper?paper=c) · cites 1") in text
    # c shares b's only reference a (|C(a)| = 3) and b's citer d: 1/ln 3 + 1/sqrt(1*1)
    assert "[Paper C](/paper?paper=c) · 1.91 = 0.91 + 1.00" in text


def test_centre_button_moves_the_graph_to_the_picked_paper(chain_ws):
    at = graph_page("e")
    at.selectbox(key="graph_open").set_value("a").run()
    at.button(key="graph_centre").click().run()
    assert not at.exception
    assert at.selectbox(key="graph_paper").value == "a"
    assert not at.warning


def test_graph_page_reads_clip_in_the_shipped_catalog(workspace, monkeypatch):
    monkeypatch.setenv("WORKBENCH_READER", "alice")
    at = graph_page("clip")
    assert not at.exception
    at.number_input(key="graph_depth").set_value(0).run()
    keys = [b.key.removeprefix("graph_read_clip_") for b in at.checkbox
            if b.key.startswith("graph_read_clip_")]
    assert keys.index("transformer") < keys.index("vit") < keys.index("clip")
    at.selectbox(key="graph_path_to").set_value("alexnet").run()
    assert not at.exception and "hops**" in markdown(at)
