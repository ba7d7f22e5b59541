"""Moving around the app as one reader in one tab (issue 19): paper links stay in the tab and
keep the session, the reader is remembered across pages, reloads and visits, the Library's
titles open their paper, and bad URLs get a clear message."""

from __future__ import annotations

import pytest
from streamlit.commands import navigation
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import APP, click, open_page
from tests.runs_helpers import cached_descriptions, stop_everything
from tests.workspaces import make_workspace
from workbench.notes.model import DONE, IN_PROGRESS, new_note
from workbench.notes.store import save_note


@pytest.fixture
def ws(tmp_path, monkeypatch):
    return make_workspace(tmp_path / "ws", "cnns", monkeypatch=monkeypatch, reader="alice")


def go(at: AppTest, page: str, **query: str) -> AppTest:
    """What an in-app link does: the same session switches to `page` with `query` as its URL's
    query string (a sidebar link: no query string)."""
    at.query_params.clear()
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(str(APP / "views" / page)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def same_tab_links(at: AppTest) -> dict[str, str]:
    """query string -> label of every in-app page link to a Paper page."""
    return {link.proto.query_string: link.value for link in at.page_link
            if link.proto.page == "paper" and not link.proto.external}


# --- 1. paper links stay in the tab --------------------------------------------------------------


def test_builds_on_and_cited_by_link_to_the_paper_page_in_the_same_tab(ws):
    at = open_page("paper.py", paper="resnet")
    assert "paper=vgg" in same_tab_links(at)
    assert not any("](/paper" in m.value for m in at.markdown)  # no link that opens a new tab
    assert "paper=resnet" in same_tab_links(go(at, "paper.py", paper="vgg"))  # cited by


def test_a_long_list_of_citing_papers_shows_eight_and_draws_the_rest_when_opened(
        tmp_path, monkeypatch):
    """ResNet is cited by 24 catalog papers: 8 links, then the rest in an expander drawn only
    once it is opened (40-odd links on every visit were most of the page's browser time)."""
    from workbench import catalog

    ws = make_workspace(tmp_path / "ws", monkeypatch=monkeypatch, reader="alice")
    cat = catalog.load(ws.catalog_path)
    citing = cat.cited_by("resnet")
    assert len(citing) > 8
    at = open_page("paper.py", paper="resnet")
    expander = next(e for e in at.expander if e.label.endswith("papers citing it"))
    assert expander.label == f"{len(citing) - 8} more papers citing it"
    links = same_tab_links(at)
    assert [f"paper={p.id}" in links for p in citing] == [True] * 8 + [False] * (len(citing) - 8)
    at.session_state["cited_by_resnet"] = True  # the reader opens it
    at.run()
    assert all(f"paper={p.id}" in same_tab_links(at) for p in citing)


def test_following_a_paper_link_shows_that_paper_and_keeps_the_reader(ws):
    at = open_page("read.py", paper="resnet")
    at.sidebar.text_input(key="reader").input("bob").run()
    go(at, "paper.py", paper="resnet")
    go(at, "paper.py", paper="vgg")  # its Builds on link, from the Paper page to itself
    assert at.title[0].value == "Very Deep Convolutional Networks for Large-Scale Image " \
        "Recognition"
    assert at.selectbox(key="paper_select").value == "vgg"
    go(at, "read.py")  # the sidebar's link
    assert at.selectbox(key="read_paper").value == "vgg"
    assert at.sidebar.text_input(key="reader").value == "bob"


def test_the_sidebar_reproduce_link_opens_on_the_current_paper(tmp_path, tmp_path_factory,
                                                               monkeypatch):
    ws = make_workspace(tmp_path / "ws", "cnns", monkeypatch=monkeypatch, reader="alice",
                        descriptions=cached_descriptions(tmp_path_factory))
    try:
        at = open_page("paper.py", paper="resnet")
        go(at, "reproduce.py")  # the sidebar's link: no ?paper=
        assert at.query_params["paper"] == "resnet"
        assert at.selectbox(key="repro_name").value == "resnet"
    finally:
        stop_everything(ws)


# --- 2. the reader is remembered -------------------------------------------------------------------


def test_the_reader_survives_a_reload_and_a_new_visit(ws):
    at = open_page("read.py", paper="resnet")
    at.sidebar.text_input(key="reader").input("bob").run()
    assert at.query_params["reader"] == "bob"  # a reload keeps it
    assert (ws.cache_dir / "reader").read_text() == "bob\n"  # a new visit too
    go(at, "group.py", paper="resnet")
    assert at.sidebar.text_input(key="reader").value == "bob"

    again = open_page("read.py", paper="resnet")  # a new browser session, no ?reader=
    assert again.sidebar.text_input(key="reader").value == "bob"
    again.text_area(key="c_category").input("An architecture")
    click(again, "save_note")
    assert ws.note_path("resnet", "bob").exists()
    assert not ws.note_path("resnet", "alice").exists()


def test_the_read_page_says_whose_notes_it_edits(ws):
    at = open_page("read.py", paper="vgg", reader="carol")  # a link with ?reader=
    assert at.sidebar.text_input(key="reader").value == "carol"
    assert "Editing **carol**'s notes: `notes/vgg/carol.md`" in at.markdown[0].value


@pytest.mark.parametrize("where", ["link", "file"])
def test_a_bad_remembered_reader_is_ignored(ws, where):
    bad = "../../etc/passwd"
    if where == "file":
        ws.cache_dir.mkdir(parents=True, exist_ok=True)
        (ws.cache_dir / "reader").write_text(bad)
        at = open_page("read.py", paper="resnet")
    else:
        at = open_page(None, reader=bad)  # the Library, opened from a link with ?reader=
        assert any("Ignored the reader in the link" in w.value for w in at.sidebar.warning)
        go(at, "read.py", paper="resnet")
    assert at.sidebar.text_input(key="reader").value == "alice"  # $WORKBENCH_READER
    assert at.query_params["reader"] == "alice"


def test_a_reader_that_cannot_be_remembered_is_still_kept_with_a_warning(ws):
    ws.cache_dir.write_text("not a folder")  # .workbench/ cannot be made
    at = open_page("library.py")
    at.sidebar.text_input(key="reader").input("bob").run()
    assert "could not be remembered in .workbench/" in at.sidebar.warning[0].value
    assert at.query_params["reader"] == "bob"
    assert at.sidebar.text_input(key="reader").value == "bob"


# --- 3. the Library: titles open their paper, reading status beside them ---------------------------


def test_library_title_opens_the_paper_in_the_same_tab(ws):
    at = open_page("library.py")
    table = at.dataframe[0].value
    assert list(table.columns[:2]) == ["title", "my reading"]
    assert "open" not in table.columns  # no new-tab link column
    row = list(table["title"]).index("Very Deep Convolutional Networks for Large-Scale Image "
                                     "Recognition")
    at.session_state["library_table"] = {"selection": {"rows": [], "columns": [],
                                                       "cells": [[row, "title"]]}}
    at.run()  # a click on the title cell
    assert not at.exception
    assert at.selectbox(key="paper_select").value == "vgg"
    assert at.query_params["paper"] == "vgg"


def test_library_filters_and_sorts_by_my_reading(ws):
    save_note(ws, new_note("vgg", "alice").with_pass(2, status=IN_PROGRESS), None)
    save_note(ws, new_note("alexnet", "alice").with_pass(1, status=DONE), None)
    at = open_page("library.py")
    at.sidebar.selectbox(key="library_sort").set_value("my reading (furthest first)").run()
    table = at.dataframe[0].value
    assert list(table["my reading"]) == ["pass 2 in progress", "pass 1 done", "not started"]
    assert at.sidebar.multiselect(key="f_status").options == [
        "not started", "pass 1 done", "pass 2 in progress"]
    at.sidebar.multiselect(key="f_status").set_value(["pass 1 done"]).run()
    assert list(at.dataframe[0].value["title"]) == [
        "ImageNet Classification with Deep Convolutional Neural Networks"]


# --- 18. bad URLs ---------------------------------------------------------------------------------


def open_url_path(monkeypatch, name: str) -> tuple[AppTest, list]:
    """The app opened at /<name> as a browser does (Streamlit's runner gives the page manager the
    URL's page name); returns it and the "Page not found" dialogs Streamlit sent."""
    dialogs: list = []
    monkeypatch.setattr(navigation, "send_page_not_found", lambda ctx: dialogs.append(ctx))
    original = PagesManager.set_script_intent
    first = []

    def from_url(self, page_hash, page_name):
        original(self, page_hash, page_name if first else name)
        first.append(True)

    monkeypatch.setattr(PagesManager, "set_script_intent", from_url)
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=120)
    at.run()
    assert not at.exception
    return at, dialogs


def test_library_url_opens_the_library_without_a_dialog(ws, monkeypatch):
    at, dialogs = open_url_path(monkeypatch, "library")
    assert at.title[0].value == "Library"
    assert dialogs == [] and list(at.warning) == []


def test_an_unknown_page_says_so_in_words_not_a_dialog(ws, monkeypatch):
    at, dialogs = open_url_path(monkeypatch, "nope")
    assert dialogs == []
    assert at.title[0].value == "Library"
    assert "There is no page “/nope” in the workbench" in at.warning[0].value


def test_a_known_page_url_still_opens_that_page(ws, monkeypatch):
    at, dialogs = open_url_path(monkeypatch, "group")
    assert dialogs == [] and at.title[0].value == "Group"


def test_a_session_link_to_a_missing_session_says_so(ws):
    at = open_page("sessions.py", session="nope")
    assert any("No session “nope” in sessions/" in w.value for w in at.warning)


def test_library_opens_on_a_catalog_whose_papers_share_one_year(make_ws):
    """A year slider needs two different ends; a one-year reading list has no year filter."""
    make_ws("topics:\n  - id: t\n    title: T\npapers:\n"
            "  - {id: a, title: Paper A, authors: [A], year: 2020, topic: t}\n"
            "  - {id: b, title: Paper B, authors: [B], year: 2020, topic: t}\n")
    at = open_page("library.py")
    assert not at.exception and not at.error
    assert not [s for s in at.slider if s.key == "f_year"]
