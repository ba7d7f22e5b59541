"""The Sessions page: create and edit a session, refuse bad input and lost updates, export."""

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


def test_a_new_session_is_created_from_the_form(ws):
    at = open_page("sessions.py")
    assert at.title[0].value == "Sessions"
    assert at.selectbox(key="session_pick").value == ""
    at.text_input(key="title:new").input("Week 7: transformers")
    at.date_input(key="date:new").set_value(date(2025, 3, 17))
    at.multiselect(key="papers:new").select("vit").select("transformer").run()
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
    at.multiselect(key="papers:new").select("resnet").run()
    at.button(key="save:new").click().run()
    assert not at.error
    assert "2025-04-02-detection-day" in sessions.list_sessions(ws)


def test_bad_input_shows_an_error_and_writes_nothing(ws):
    at = open_page("sessions.py")
    at.text_input(key="title:new").input("No papers yet")
    at.button(key="save:new").click().run()
    assert not at.exception
    assert "list the papers in presentation order" in at.error[0].value
    at.multiselect(key="papers:new").select("resnet").run()
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


def test_export_buttons_offer_every_format(ws):
    at = open_page("sessions.py", session="week-6")
    assert [b.label for b in at.download_button] == ["BibTeX"]  # before preparing
    at.button(key="prepare:week-6").click().run()
    assert not at.exception and not at.error
    labels = {b.key: b.label for b in at.download_button}
    assert labels == {"download_md:week-6": "Markdown (zip)",
                      "download_html:week-6": "HTML handout",
                      "download_pdf:week-6": "PDF handout",
                      "download_slides:week-6": "Marp slides (zip)",
                      "download_bib:week-6": "BibTeX"}
    files, missing = at.session_state["exports:week-6"]
    name, data, mime = files["pdf"]
    assert (name, mime) == ("week-6-handout.pdf", "application/pdf")
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        assert "Week 6: residuals and attention" in doc[0].get_text()
    assert "vit: no reading notes: no reading notes yet: nobody in the group has started this " \
        "paper (open it on the Read page)" in missing
    assert "The handout says what is missing" in at.warning[0].value


def test_a_broken_session_file_is_an_error_box_not_a_traceback(ws):
    (ws.sessions_dir / "broken.yaml").write_text("title: [unclosed\n")
    at = open_page("sessions.py", session="broken")
    assert "sessions/broken.yaml:2: not valid YAML" in at.error[0].value
