"""The Graph page: a full-width labelled view with its list, the reading plan (essentials first,
saved into a session), side lists whose links stay in the tab, and the path finder."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import click, open_page
from tests.workspaces import CHAIN, write_catalog
from workbench import sessions
from workbench.safetext import md_literal
from workbench.workspace import Workspace


def graph_page(paper: str | None = None) -> AppTest:
    return open_page("graph.py", **({"paper": paper} if paper else {}))


@pytest.fixture
def chain_ws(tmp_path, monkeypatch):
    """A workspace whose catalog is the hand-made chain: b, c -> a; d -> b, c; e -> d, a
    (e in topic t2, the others in t1)."""
    write_catalog(tmp_path / "ws", CHAIN)
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("WORKBENCH_READER", "alice")
    return tmp_path / "ws"


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def links(at: AppTest) -> list[tuple[str, str, str]]:
    """(label, page, query string) of every page link, in page order."""
    return [(link.proto.label, link.proto.page, link.proto.query_string)
            for link in at.get("page_link")]


def paper_links(at: AppTest) -> list[str]:
    """The labels of the links to the Paper page; each must open it in this tab with its paper."""
    found = [(label, query) for label, page, query in links(at) if page == "paper"]
    assert all(query.startswith("paper=") for _, query in found)
    assert "](/paper" not in markdown(at)  # no Markdown link: those open a new tab
    return [label for label, _ in found]


def figure(at: AppTest) -> dict:
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def named(fig: dict) -> dict[str, str]:
    """Paper id -> the label written next to it on the picture (unnamed papers left out)."""
    return {pid: text for trace in fig["data"] if "customdata" in trace
            for pid, text in zip(trace["customdata"], trace["text"], strict=True) if text}


def plan_links(at: AppTest) -> list[str]:
    return [label for label in paper_links(at) if label[:1].isdigit()]


def show_prerequisites(at: AppTest, shown: bool = True) -> None:
    """Open (or fold) "Show all prerequisites": its checkboxes are drawn only while it is open."""
    at.session_state["graph_prereqs"] = shown
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_graph_page_draws_the_neighbourhood_of_the_chosen_paper_with_its_list(chain_ws):
    at = graph_page("d")
    assert at.title[0].value == "Citation graph"
    assert at.selectbox(key="graph_paper").value == "d"
    fig = figure(at)
    # d's 1-hop neighbourhood: b, c (cited), e (citing) and d; citations d->b, d->c, e->d
    assert fig["layout"]["title"]["text"] == "4 papers, 3 citations around Paper D (2015)"
    assert fig["layout"]["height"] >= 700
    assert named(fig)["d"] == "Paper D (2015)"
    rows = at.dataframe[0].value
    assert list(rows["paper"])[0] == "Paper D (2015)" and len(rows) == 4
    assert dict(zip(rows["paper"], rows["relation"], strict=True)) == {
        "Paper D (2015)": "this paper", "Paper B (2012)": "cited by it",
        "Paper C (2013)": "cited by it", "Paper E (2016)": "cites it"}
    assert len(at.get("download_button")) == 4


def test_graph_opens_on_a_central_paper_names_few_and_keeps_links_in_the_tab(workspace,
                                                                             monkeypatch):
    monkeypatch.setenv("WORKBENCH_READER", "alice")
    at = graph_page()  # from the menu: no ?paper=, so not Keshav's lone dot
    assert at.selectbox(key="graph_paper").value == "resnet"
    fig = figure(at)
    labels = named(fig)
    assert labels["resnet"] == "ResNet (2016)" and labels["alexnet"] == "AlexNet (2012)"
    ids = [pid for trace in fig["data"] for pid in trace.get("customdata", [])]
    assert len(ids) == 46 and len(labels) <= 14  # the centre, the 12 largest, the pick
    assert fig["layout"]["legend"]["y"] <= 0  # under the plot, not over it
    assert len(at.dataframe[0].value) == 46  # the list shows the same papers

    options = at.selectbox(key="graph_open").options  # the list's order: largest first
    quiet = max(i for i, label in enumerate(options) if label not in labels.values())
    at.selectbox(key="graph_open").select_index(quiet).run()
    assert options[quiet] in named(figure(at)).values()  # the picked paper is named

    assert 5 <= len(plan_links(at)) <= 10
    labels = open_tab(at, "Prior & derivative")
    derivative = [label for label in labels if " · cites " in label]
    assert derivative and not [label for label in derivative
                               if label.startswith(("VGG (2015)", "Faster R-CNN (2015)"))]
    assert any(label.startswith("VGG (2015) · cited by") for label in labels)  # a prior work

    at.radio(key="graph_layout").set_value("similarity").run()
    assert not at.exception
    assert "similarity links around ResNet (2016)" in figure(at)["layout"]["title"]["text"]


def test_reading_plan_lists_the_essentials_with_pass_budgets_and_updates_on_ticks(chain_ws):
    at = graph_page("e")
    # weights (personalised PageRank toward e): a 5/11, d 4/11, b = c = 1/11; cited first
    assert plan_links(at) == [md_literal(f"{n}. Paper {p} ({y})") for n, (p, y) in
                              enumerate([("A", 2010), ("B", 2012), ("C", 2013), ("D", 2015)], 1)]
    captions = [c.value for c in at.caption]
    assert "pass 1 · 10 min · weight 45%" in captions  # e is in t2, a in t1: one pass
    assert "**Read first, before Paper E (2016): 40 min**" in markdown(at)
    at.slider(key="graph_plan_size").set_value(5).run()
    assert not [b for b in at.checkbox if b.key.startswith("graph_read_")]  # folded: not drawn
    show_prerequisites(at)
    at.checkbox(key="graph_read_e_a").check().run()  # "show all": a is read
    assert not at.exception
    assert plan_links(at)[0] == md_literal("1. Paper B (2012)")
    assert "**Read first, before Paper E (2016): 30 min**" in markdown(at)
    assert at.checkbox(key="graph_read_e_a").value is True
    show_prerequisites(at, False)  # folded again, the tick holds
    assert plan_links(at)[0] == md_literal("1. Paper B (2012)")
    show_prerequisites(at)
    assert at.checkbox(key="graph_read_e_a").value is True
    at.checkbox(key="graph_read_e_a").uncheck().run()
    assert plan_links(at)[0] == md_literal("1. Paper A (2010)")


def test_reading_plan_skips_papers_the_notes_say_are_read(chain_ws):
    from workbench.notes.model import DONE, new_note
    from workbench.notes.store import save_note

    save_note(Workspace.resolve(chain_ws), new_note("d", "alice").with_pass(1, status=DONE), None)
    at = graph_page("e")
    assert [label[4:] for label in plan_links(at)] == [
        "Paper A (2010)", "Paper B (2012)", "Paper C (2013)"]
    assert any("Skipped, already read: Paper D (2015)" in c.value for c in at.caption)
    show_prerequisites(at)
    box = at.checkbox(key="graph_read_e_d")
    assert box.value is True and box.disabled


def test_reading_plan_is_saved_into_a_new_or_an_existing_session(chain_ws):
    ws = Workspace.resolve(chain_ws)
    at = graph_page("e")
    click(at, "graph_plan_save")
    assert "sessions/before-paper-e-2016.yaml" in at.success[0].value
    saved, _ = sessions.load_session(ws, "before-paper-e-2016")
    assert saved.title == "Before Paper E (2016)" and saved.papers == ("a", "b", "c", "d", "e")
    click(at, "graph_plan_save")  # the same new session again: refused, nothing overwritten
    assert "already exists" in at.error[0].value

    at.selectbox(key="graph_paper").set_value("b").run()
    at.selectbox(key="graph_plan_session").set_value("before-paper-e-2016").run()
    click(at, "graph_plan_save")
    saved, _ = sessions.load_session(ws, "before-paper-e-2016")
    assert saved.papers == ("a", "b", "c", "d", "e")  # b's plan (a, b) was already in it

    week = sessions.form_session("week-1", "Week 1", None, ["c"], {"c": "Alice"})
    sessions.save_session(ws, week, None)
    at = graph_page("b")
    at.selectbox(key="graph_plan_session").set_value("week-1").run()
    click(at, "graph_plan_save")
    saved, _ = sessions.load_session(ws, "week-1")
    assert saved.papers == ("c", "a", "b") and saved.presenters["c"] == ("Alice",)


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


def open_tab(at: AppTest, label: str) -> list[str]:
    """Choose the side tab `label` (its lists are drawn only while it is open): its links."""
    at.session_state["graph_tab"] = label
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return paper_links(at)


def test_side_lists_show_prior_derivative_and_similar_papers_as_same_tab_links(chain_ws):
    at = graph_page("b")
    closed = paper_links(at)
    assert not any("cited by 1" in label for label in closed)  # not drawn while closed
    labels = open_tab(at, "Prior & derivative")
    # N(b) = {b, a, d}. Prior: a is cited by b, c by d -> 1 each, the older (a) first
    prior = labels.index("Paper A (2010) · cited by 1")
    assert labels[prior + 1] == "Paper C (2013) · cited by 1"
    # Derivative: later papers citing b or its reference a: e -> a, d -> b, c -> a (1 each,
    # newest first)
    start = labels.index("Paper E (2016) · cites 1 of its references")
    assert labels[start:start + 3] == ["Paper E (2016) · cites 1 of its references",
                                       "Paper D (2015) · cites it",
                                       "Paper C (2013) · cites 1 of its references"]
    # c shares b's only reference a (|C(a)| = 3) and b's citer d: 1/ln 3 + 1/sqrt(1*1)
    assert "Paper C (2013) · 1.91 = 0.91 + 1.00" not in labels
    similar = open_tab(at, "Similar")
    assert "Paper C (2013) · 1.91 = 0.91 + 1.00" in similar
    assert "Paper A (2010) · cited by 1" not in similar


def test_centre_button_moves_the_graph_to_the_picked_paper(chain_ws):
    at = graph_page("e")
    at.selectbox(key="graph_open").set_value("a").run()
    assert "Open “Paper A”" in paper_links(at)[0]
    click(at, "graph_centre")
    assert at.selectbox(key="graph_paper").value == "a"
    assert not at.warning


def test_graph_page_reads_clip_in_the_shipped_catalog(workspace, monkeypatch):
    monkeypatch.setenv("WORKBENCH_READER", "alice")
    at = graph_page("clip")
    at.number_input(key="graph_depth").set_value(0).run()
    show_prerequisites(at)
    keys = [b.key.removeprefix("graph_read_clip_") for b in at.checkbox
            if b.key.startswith("graph_read_clip_")]
    assert keys.index("transformer") < keys.index("vit")
    assert 5 <= len(plan_links(at)) <= 10 < len(keys)  # essentials first, "show all" after
    at.selectbox(key="graph_path_to").set_value("alexnet").run()
    assert not at.exception and "hops**" in markdown(at)
