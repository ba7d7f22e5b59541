"""The Sessions page: create and edit a session (papers found by exact text, reordered in
place), refuse bad input and lost updates, download every export without preparing it."""

from __future__ import annotations

from datetime import date

import pymupdf
import pytest

from tests.apptest_helpers import open_page
from tests.workspaces import HANDOUT
from workbench.sessions import plan as sessions


@pytest.fixture
def ws(make_ws):
    return make_ws(**HANDOUT)


@pytest.fixture
def served(monkeypatch):
    """(file name, mime, bytes) of every file the page hands to the browser to download."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files = []
    load = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        files.append((filename, mimetype, path_or_data))
        return load(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return files


def add_paper(at, fid: str, query: str, pid: str) -> None:
    """Search the catalog for `query` and add the match `pid`."""
    at.text_input(key=f"find:{fid}").input(query).run()
    at.button(key=f"add:{fid}:{pid}").click().run()
    assert not at.exception


def session_papers(at, fid: str) -> list[str]:
    """The papers of the form, in the order the page lists them."""
    return [b.key.split(":", 2)[2] for b in at.button if b.key and b.key.startswith(f"remove:{fid}:")]


def offered(at, fid: str) -> list[str]:
    """The papers the search offers to add."""
    return [b.key.split(":", 2)[2] for b in at.button if b.key and b.key.startswith(f"add:{fid}:")]


def test_a_new_session_is_created_from_the_form(ws):
    at = open_page("sessions.py")
    assert at.title[0].value == "Sessions"
    assert at.selectbox(key="session_pick").value == ""
    at.text_input(key="title:new").input("Week 7: transformers")
    at.date_input(key="date:new").set_value(date(2025, 3, 17))
    add_paper(at, "new", "vit", "vit")
    add_paper(at, "new", "Attention Is All", "transformer")
    assert session_papers(at, "new") == ["vit", "transformer"]
    at.text_input(key="presenters:new:vit").input("Dana Lee, Eve Park")
    at.text_input(key="slug:new").input("week-7")
    at.button(key="save:new").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == "Saved sessions/week-7.yaml"
    s, _ = sessions.load_session(ws, "week-7")
    assert (s.title, s.date, s.papers) == ("Week 7: transformers", date(2025, 3, 17),
                                          ("vit", "transformer"))
    assert dict(s.presenters) == {"vit": ("Dana Lee", "Eve Park")}
    assert at.selectbox(key="session_pick").value == "week-7"  # the page moved to it
    assert at.text_input(key="title:week-7").value == "Week 7: transformers"


def test_a_new_session_without_a_name_gets_one_from_date_and_title(ws):
    at = open_page("sessions.py")
    at.text_input(key="title:new").input("Detection day")
    at.date_input(key="date:new").set_value(date(2025, 4, 2))
    add_paper(at, "new", "resnet", "resnet")
    at.button(key="save:new").click().run()
    assert not at.error
    assert "2025-04-02-detection-day" in sessions.list_sessions(ws)


def test_bad_input_shows_an_error_and_writes_nothing(ws):
    at = open_page("sessions.py")
    at.text_input(key="title:new").input("No papers yet")
    at.button(key="save:new").click().run()
    assert not at.exception
    assert "list the papers in presentation order" in at.error[0].value
    add_paper(at, "new", "resnet", "resnet")
    at.text_input(key="slug:new").input("Bad Name!")
    at.button(key="save:new").click().run()
    assert "is not a slug" in at.error[0].value
    assert sessions.list_sessions(ws) == ["week-6"]


def test_editing_a_session_refuses_to_overwrite_a_hand_edit(ws):
    at = open_page("sessions.py", session="week-6")
    assert at.selectbox(key="session_pick").value == "week-6"
    assert at.text_input(key="presenters:week-6:resnet").value == "Alice Martin, Bob Chen"
    at.text_input(key="title:week-6").input("Week 6, revised")
    path = ws.sessions_dir / "week-6.yaml"
    hand_edit = path.read_text().replace("Week 6: residuals and attention", "Edited by hand")
    path.write_text(hand_edit)
    at.button(key="save:week-6").click().run()
    assert "changed on disk after you opened it" in at.error[0].value
    assert path.read_text() == hand_edit
    at.button(key="reload:week-6").click().run()
    assert at.text_input(key="title:week-6").value == "Edited by hand"
    at.text_input(key="title:week-6").input("Week 6, revised")
    at.button(key="save:week-6").click().run()
    assert not at.error
    assert sessions.load_session(ws, "week-6")[0].title == "Week 6, revised"


def test_search_offers_exact_matches_only_and_adds_just_the_one_clicked(make_ws):
    make_ws()  # the shipped catalog: 99 papers
    at = open_page("sessions.py")
    at.text_input(key="find:new").input("Simonyan").run()
    # VGG is Simonyan's; no 'select all matches', no look-alike (Hinton & Salakhutdinov)
    assert offered(at, "new") == ["vgg"]
    assert not at.multiselect
    at.text_input(key="find:new").input("  SIMONYAN ").run()  # case and spaces do not matter
    assert offered(at, "new") == ["vgg"]
    at.button(key="add:new:vgg").click().run()
    assert session_papers(at, "new") == ["vgg"]
    assert offered(at, "new") == []  # already in the session
    assert "No paper outside the session has “SIMONYAN”" in at.caption[-1].value
    at.text_input(key="find:new").input("salakhutdinov").run()  # by an author
    assert offered(at, "new") == ["dropout-2012", "dropout", "autoencoder"]
    at.text_input(key="find:new").input("dimensionality of data").run()  # by its title
    assert offered(at, "new") == ["autoencoder"]
    at.text_input(key="find:new").input("mask-rcnn").run()
    assert offered(at, "new") == ["mask-rcnn"]  # and by id
    at.text_input(key="find:new").input("he").run()  # dozens: a few, and how many more
    assert len(offered(at, "new")) == 8
    assert any(c.value.endswith("more match: type more of a title, an author or an id.")
               for c in at.caption)


def test_papers_are_reordered_in_place_and_keep_their_presenters(ws):
    at = open_page("sessions.py", session="week-6")
    assert session_papers(at, "week-6") == ["resnet", "transformer", "vit"]
    assert at.button(key="up:week-6:resnet").disabled
    assert at.button(key="down:week-6:vit").disabled
    at.button(key="down:week-6:resnet").click().run()
    assert session_papers(at, "week-6") == ["transformer", "resnet", "vit"]
    at.button(key="up:week-6:vit").click().run()
    assert session_papers(at, "week-6") == ["transformer", "vit", "resnet"]
    assert at.text_input(key="presenters:week-6:resnet").value == "Alice Martin, Bob Chen"
    assert "You have unsaved changes" in at.info[0].value
    at.button(key="remove:week-6:transformer").click().run()
    assert session_papers(at, "week-6") == ["vit", "resnet"]
    at.button(key="save:week-6").click().run()
    assert not at.error
    s, _ = sessions.load_session(ws, "week-6")
    assert s.papers == ("vit", "resnet")
    assert dict(s.presenters) == {"resnet": ("Alice Martin", "Bob Chen")}
    assert not at.info  # saved: nothing pending


def test_downloads_are_ready_when_the_session_is_without_a_prepare_click(ws, served):
    at = open_page("sessions.py", session="week-6")
    assert not at.exception and not at.error
    assert not [b for b in at.button if "prepare" in (b.key or "")]
    labels = {b.key: b.label for b in at.download_button}
    assert labels == {"download_md:week-6": "Markdown (zip)",
                      "download_html:week-6": "HTML handout",
                      "download_pdf:week-6": "PDF handout",
                      "download_slides:week-6": "Marp slides (zip)",
                      "download_bib:week-6": "BibTeX"}
    pdfs = [data for name, mime, data in served if name == "week-6-handout.pdf"]
    assert pdfs and {mime for name, mime, _ in served if name == "week-6-handout.pdf"} == \
        {"application/pdf"}
    with pymupdf.open(stream=pdfs[-1], filetype="pdf") as doc:
        assert "Week 6: residuals and attention" in doc[0].get_text()
    assert "The handout says what is missing" in at.warning[0].value
    assert "vit: no reading notes: no reading notes yet: nobody in the group has started this " \
        "paper (open it on the Read page)" in at.warning[0].value
    # a saved change shows in the next downloads at once
    at.text_input(key="title:week-6").input("Week 6, revised")
    at.button(key="save:week-6").click().run()
    served.clear()
    at.run()
    pdf = next(data for name, _, data in served if name == "week-6-handout.pdf")
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        assert "Week 6, revised" in doc[0].get_text()


def test_a_new_session_offers_downloads_once_saved(ws):
    at = open_page("sessions.py")
    assert not at.download_button  # nothing saved yet
    at.text_input(key="title:new").input("Week 8")
    add_paper(at, "new", "LeCun", "lenet")
    at.text_input(key="slug:new").input("week-8")
    at.button(key="save:new").click().run()
    assert not at.error
    assert {b.key for b in at.download_button} >= {"download_pdf:week-8", "download_bib:week-8"}


def test_a_broken_session_file_is_an_error_box_not_a_traceback(ws):
    (ws.sessions_dir / "broken.yaml").write_text("title: [unclosed\n")
    at = open_page("sessions.py", session="broken")
    assert "sessions/broken.yaml:2: not valid YAML" in at.error[0].value
