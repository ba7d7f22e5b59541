"""The Read and Group pages driven through the UI with Streamlit's AppTest; files checked on disk."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests import apptest_helpers
from tests.apptest_helpers import APP, click, errors
from tests.workspaces import make_workspace
from workbench.notes.method import FIVE_CS, pass_fields
from workbench.notes.model import DONE, IN_PROGRESS, apply_form, new_note
from workbench.notes.store import load_note, save_note

CATALOG = """\
topics:
  - id: cnns
    title: Convolutional networks
papers:
  - id: resnet
    title: Deep Residual Learning for Image Recognition
    authors: [Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun]
    year: 2015
    topic: cnns
    abstract: We present a residual learning framework to ease the training of deep networks.
  - id: vgg
    title: Very Deep Convolutional Networks for Large-Scale Image Recognition
    authors: [Karen Simonyan, Andrew Zisserman]
    year: 2014
    topic: cnns
"""
ANSWERS = {f"c_{c.key}": f"{c.name} answer typed in the app" for c in FIVE_CS}


@pytest.fixture
def ws(tmp_path, monkeypatch):
    return make_workspace(tmp_path / "ws", CATALOG, monkeypatch=monkeypatch, reader="alice")


def open_page(page: str = "read.py", paper: str = "resnet") -> AppTest:
    """A new browser session on `page` for `paper`."""
    return apptest_helpers.open_page(page, paper=paper)


def on_disk(ws):
    return load_note(ws, "resnet", "alice")[0]


def test_pass_1_goes_to_done_through_the_ui_and_the_file_holds_the_five_cs(ws):
    earlier = new_note("resnet", "alice").with_pass(1, status=IN_PROGRESS, minutes=7.0)
    save_note(ws, earlier, None)  # 7 minutes from an earlier session
    at = open_page()
    assert at.radio(key="read_pass").value == 1
    assert "Abstract" in [e.label for e in at.expander]
    assert any("residual learning framework" in m.value for m in at.markdown)

    click(at, "timer_start")
    assert on_disk(ws).pass_note(1).timer_started is not None  # survives a closed browser
    for box in at.checkbox:
        box.check()
    for key, text in ANSWERS.items():
        at.text_area(key=key).input(text)
    at.text_area(key="p1_notes").input("Shortcut connections; read Highway Networks next.")
    at.run()
    click(at, "timer_stop")
    click(at, "finish_pass")

    assert errors(at) == []
    note = on_disk(ws)
    p1 = note.pass_note(1)
    assert (p1.status, p1.timer_started) == (DONE, None)
    assert p1.minutes >= 7
    assert len(p1.checked) == 5
    text = ws.note_path("resnet", "alice").read_text()
    for c in FIVE_CS:
        assert f"## {c.name}\n\n{c.name} answer typed in the app\n" in text
    # a new browser session shows the same state and time
    again = open_page()
    assert again.radio(key="read_pass").value == 2
    again.radio(key="read_pass").set_value(1).run()
    assert again.text_area(key="c_clarity").value == "Clarity answer typed in the app"
    assert float(again.metric[0].value.split()[0]) >= 7
    assert [b.key for b in again.button if b.key == "reopen_pass"] == ["reopen_pass"]


def test_all_three_passes_through_the_app_end_in_a_readable_file(ws):
    at = open_page()
    for key, text in ANSWERS.items():
        at.text_area(key=key).input(text)
    click(at, "finish_pass")
    assert at.radio(key="read_pass").value == 2  # on to the next pass
    at.text_area(key="summary").input("Residual learning lets 152 layers train.")
    at.text_area(key="references_next").input("vgg\nHighway Networks")
    at.checkbox(key="check_2_graphs").check()
    click(at, "finish_pass")
    assert at.radio(key="read_pass").value == 3
    at.text_area(key="assumptions").input("Identity shortcuts need matching shapes.")
    at.text_area(key="runs_consulted").input("resnet-mini-20250303")
    click(at, "timer_start")
    click(at, "finish_pass")
    assert errors(at) == []
    note = on_disk(ws)
    assert [p.status for p in note.passes] == [DONE, DONE, DONE]
    assert note.pass_note(3).timer_started is None
    assert note.references_next == ("vgg", "Highway Networks")
    assert note.runs_consulted == ("resnet-mini-20250303",)
    text = ws.note_path("resnet", "alice").read_text()
    assert "## Summary\n\nResidual learning lets 152 layers train.\n" in text
    assert "checked:\n  - graphs\n" in text


def test_each_pass_shows_its_fields_with_the_labels_of_the_field_table(ws):
    at = open_page()
    assert [t.label for t in at.text_area] == [f.title for f in pass_fields(1)]
    at.radio(key="read_pass").set_value(3).run()
    assert [t.key for t in at.text_area] == ["p3_notes", "assumptions", "differently",
                                             "future_work", "runs_consulted"]
    assert at.text_area(key="future_work").label == "Ideas for future work"
    assert at.text_area(key="runs_consulted").label == "Reproduction runs consulted: run ids"
    assert at.text_area(key="runs_consulted").placeholder == "One a line"


def test_unfinished_five_cs_keep_pass_1_open_with_a_clear_message(ws):
    at = open_page()
    at.text_area(key="c_category").input("A new architecture")
    at.text_area(key="c_context").input("VGG, Highway networks")
    at.text_area(key="c_correctness").input("Yes")
    click(at, "finish_pass")
    assert errors(at) == ["pass 1 stays open: answer the five Cs first "
                          "(missing: Contributions, Clarity)"]
    note = on_disk(ws)
    assert note.pass_note(1).status == IN_PROGRESS
    assert (note.category, note.context) == ("A new architecture", "VGG, Highway networks")
    assert at.button(key="finish_pass").label == "Finish pass 1"


def test_refused_finish_with_empty_five_cs_writes_nothing_and_lists_nobody(ws):
    at = open_page()
    click(at, "finish_pass")
    assert errors(at) == ["pass 1 stays open: answer the five Cs first (missing: Category, "
                          "Context, Correctness, Contributions, Clarity)"]
    assert not ws.notes_dir.exists()
    group = open_page("group.py")
    assert [i.value for i in group.info] == [
        "Nobody has notes on this paper yet. Start with pass 1 on the Read page."]


def test_save_confirmation_is_a_toast_where_the_reader_is(ws):
    at = open_page()
    at.text_area(key="c_category").input("A new architecture")
    click(at, "save_note")
    assert [t.value for t in at.toast] == ["Saved to notes/resnet/alice.md"]
    assert list(at.success) == []  # not a box at the top of a long page


def test_group_page_caps_a_very_long_answer_with_show_all(ws):
    long_answer = " ".join(["residual"] * 12_700)  # 114,299 characters
    save_note(ws, apply_form(new_note("resnet", "bob"), {"c_category": long_answer})
              .with_pass(1, status=IN_PROGRESS), None)
    at = open_page("group.py")
    shown = max((m.value for m in at.markdown), key=len)
    assert len(shown) < 2_100 and shown.endswith(" …")
    toggle = at.toggle(key="group_all_resnet_bob_category")
    assert toggle.label == f"Show all ({len(long_answer):,} characters)"
    toggle.set_value(True).run()
    assert max(len(m.value) for m in at.markdown) >= len(long_answer)


def test_conflicting_save_is_refused_and_the_text_stays_in_the_form(ws):
    at = open_page()
    at.text_area(key="c_category").input("typed here, not yet saved")
    at.run()
    theirs, version = load_note(ws, "resnet", "alice")  # another tab saves meanwhile
    save_note(ws, apply_form(theirs, {"c_category": "from the other tab",
                                      "summary": "summary from the other tab"}), version)
    before = ws.note_path("resnet", "alice").read_bytes()

    click(at, "save_note")
    [message] = errors(at)
    assert "notes/resnet/alice.md changed on disk" in message
    assert "Your text is still in the form" in message
    assert at.text_area(key="c_category").value == "typed here, not yet saved"
    assert ws.note_path("resnet", "alice").read_bytes() == before

    click(at, "merge_note")
    assert at.text_area(key="c_category").value == ("from the other tab\n\n"
                                                    "typed here, not yet saved")
    assert any("both texts are kept" in w.value for w in at.warning)
    click(at, "save_note")
    note = on_disk(ws)
    assert note.category == "from the other tab\n\ntyped here, not yet saved"
    assert note.summary == "summary from the other tab"


def test_unsaved_text_survives_switching_pass_and_paper(ws):
    at = open_page()
    at.text_area(key="p1_notes").input("not saved yet").run()
    at.radio(key="read_pass").set_value(2).run()
    at.text_area(key="summary").input("pass 2 draft").run()
    at.selectbox(key="read_paper").select("vgg").run()
    assert at.text_area(key="p1_notes").value == ""
    at.selectbox(key="read_paper").select("resnet").run()
    at.radio(key="read_pass").set_value(1).run()
    assert at.text_area(key="p1_notes").value == "not saved yet"
    at.switch_page(str(APP / "views" / "library.py")).run()
    at.switch_page(str(APP / "views" / "read.py")).run()
    assert at.sidebar.text_input(key="reader").value == "alice"
    assert at.text_area(key="p1_notes").value == "not saved yet"
    assert any("unsaved changes" in c.value for c in at.caption)
    click(at, "save_note")
    note = on_disk(ws)
    assert (note.pass_note(1).notes, note.summary) == ("not saved yet", "pass 2 draft")


def test_text_whose_change_callback_was_lost_is_still_saved(ws):
    """Under load a rerun can be cut short so that a text area's on_change never reaches the
    open note; the value the widget holds is newer than the note's and must win."""
    at = open_page()
    at.text_area(key="p1_notes").input("typed and seen").run()
    at.session_state["p1_notes"] = "typed, callback lost"  # the widget moved, no on_change
    at.run()
    assert at.text_area(key="p1_notes").value == "typed, callback lost"
    at.radio(key="read_pass").set_value(2).run()  # the widget is not drawn on pass 2
    at.radio(key="read_pass").set_value(1).run()
    assert at.text_area(key="p1_notes").value == "typed, callback lost"
    click(at, "save_note")
    assert on_disk(ws).pass_note(1).notes == "typed, callback lost"


def test_invalid_reader_is_refused_in_the_sidebar(ws):
    at = open_page()
    at.sidebar.text_input(key="reader").input("Alice Smith").run()
    assert not at.exception
    assert any("reader 'Alice Smith' is not a slug" in e.value for e in at.sidebar.error)
    assert not ws.notes_dir.exists()


def test_group_page_shows_every_readers_five_cs_side_by_side(ws):
    for reader in ("alice", "bob"):
        note = apply_form(new_note("resnet", reader),
                          {"c_category": f"{reader} says: architecture"})
        save_note(ws, note.with_pass(1, status=IN_PROGRESS), None)
    at = open_page("group.py")
    assert [h.value for h in at.subheader] == ["alice (you)", "bob"]
    texts = [m.value for m in at.markdown]
    assert "alice says: architecture" in texts and "bob says: architecture" in texts
    assert sum(c.value == "not answered yet" for c in at.caption) == 8


def test_library_shows_reading_status_for_me_and_the_group(ws):
    save_note(ws, new_note("resnet", "bob").with_pass(2, status=IN_PROGRESS), None)
    save_note(ws, new_note("resnet", "alice").with_pass(1, status=DONE), None)
    at = open_page("library.py")
    table = at.dataframe[0].value.set_index("title")
    row = table.loc["Deep Residual Learning for Image Recognition"]
    assert (row["my reading"], row["group"]) == ("pass 1 done", "alice: pass 1 ✓ · bob: pass 2")
    topics = at.dataframe[1].value
    assert topics.to_dict("records") == [{"topic": "Convolutional networks", "papers": 2,
                                          "my pass 1": 1, "my pass 2": 0, "my pass 3": 0,
                                          "group: pass 1": 1, "group: pass 2": 0,
                                          "group: pass 3": 0}]


def test_running_timer_ticks_in_a_fragment_that_leaves_typed_text_alone(ws, monkeypatch):
    """The timer display is a fragment rerun every few seconds while the timer runs: it shows
    the time since Start without an action, and reruns nothing else (what is typed stays)."""
    import datetime as dt

    import streamlit as st
    from streamlit.runtime.scriptrunner import RerunData
    from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState
    from streamlit.testing.v1 import local_script_runner

    from workbench.notes import model

    real_fragment, ticks = st.fragment, []  # (fragment id, run_every) each time one runs

    def recorded_fragment(func, *, run_every=None, **kwargs):
        def body(*args, **kw):
            ticks.append((ThreadState.get().fragment_id, run_every))
            return func(*args, **kw)
        return real_fragment(body, run_every=run_every, **kwargs)

    monkeypatch.setattr(st, "fragment", recorded_fragment)
    clock = [dt.datetime(2026, 3, 2, 10, 0).astimezone()]
    monkeypatch.setattr(model, "now_local", lambda: clock[0])

    at = open_page()
    assert at.metric[0].value == "0.0 min" and ticks[-1][1] is None  # stopped: no reruns
    click(at, "timer_start")
    assert at.metric[0].value == "0.0 min"
    timer_id, every = ticks[-1]
    assert every is not None and 0 < every <= 6  # a tenth of a minute at most
    at.text_area(key="p1_notes").input("typed while the timer runs").run()

    clock[0] += dt.timedelta(minutes=2, seconds=30)  # no click: only the fragment's rerun
    monkeypatch.setattr(local_script_runner, "RerunData", lambda **kw: RerunData(
        **kw, fragment_id_queue=[timer_id], is_fragment_scoped_rerun=True))
    at.run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["2.5 min"]
    assert [t.key for t in at.text_area] == []  # the rest of the page did not rerun

    monkeypatch.setattr(local_script_runner, "RerunData", RerunData)
    at.run()
    assert at.text_area(key="p1_notes").value == "typed while the timer runs"
    assert at.metric[0].value == "2.5 min"
