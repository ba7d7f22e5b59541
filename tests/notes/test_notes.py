"""Reading notes: file format, round trips, conflicts, unreadable files, passes, progress, CLI."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.workspaces import CATALOGS
from workbench.catalog.validate import load as load_catalog
from workbench.cli.commands import main as cli
from workbench.errors import InvalidId
from workbench.fileio import version_of
from workbench.notes import model as notes
from workbench.notes import store as note_file
from workbench.notes.editor import NoteEditor
from workbench.notes.method import (
    FIVE_CS,
    PASSES,
    InvalidPass,
    budget_state,
    get_pass,
    pass_fields,
    pass_material,
)
from workbench.notes.model import DONE, IN_PROGRESS, FiveCsMissing, apply_form, form_values
from workbench.notes.progress import load_progress, status_label, topic_progress
from workbench.notes.store import NoteConflict, NoteUnreadable, load_note, render, save_note
from workbench.workspace import SLUG_RE

T0 = datetime(2025, 3, 3, 10, 0, 0, tzinfo=timezone(timedelta(hours=1)))
FIVE = {f"c_{c.key}": f"my {c.name.lower()} answer" for c in FIVE_CS}


@pytest.fixture
def ws(make_ws):
    return make_ws("notes", reader="alice")


def full_note() -> notes.Note:
    note = notes.new_note("resnet", "alice", "Deep Residual Learning")
    note = apply_form(note, {
        **FIVE, "p1_notes": "skip connections\n\n- identity shortcut", "summary": "deeper is better",
        "figures": "Fig. 4: no error bars", "references_next": "batchnorm\nHighway networks",
        "p2_notes": "x", "p3_notes": "y", "assumptions": "a", "differently": "d",
        "future_work": "f", "runs_consulted": "resnet-mini-1", "check_1_headings": True,
        "check_2_graphs": True, "check_3_future-work": True,
    })
    note = notes.finish_pass(notes.start_timer(note, 1, T0), 1, T0 + timedelta(minutes=12))
    return notes.start_timer(note, 2, T0 + timedelta(minutes=20))


# --- file format and round trips -----------------------------------------------------------------


def test_every_field_round_trips_through_the_file(ws):
    note = full_note()
    version = save_note(ws, note, None)
    loaded, loaded_version = load_note(ws, "resnet", "alice")
    assert loaded == note
    assert loaded_version == version
    assert loaded.pass_note(1).minutes == 12
    assert loaded.references_next == ("batchnorm", "Highway networks")


def test_note_file_is_readable_markdown_with_front_matter(ws):
    save_note(ws, full_note(), None)
    text = ws.note_path("resnet", "alice").read_text()
    assert text.startswith("---\npaper: resnet\nreader: alice\npass1:\n  status: done\n")
    assert "\n## Category\n\nmy category answer\n" in text
    assert "\n## Summary\n\ndeeper is better\n" in text
    assert "- batchnorm\n" in text


_heading_lines = st.sampled_from(
    [f"## {f.heading}" for f in notes.TEXT_FIELDS] + ["\\## Category", "\\\\## Summary  ", "---",
                                                 "# title", "## Other", "", "  ", "\r"])
_texts = st.lists(st.one_of(_heading_lines, st.text(st.characters(
    blacklist_categories=("Cs",)), max_size=30)), max_size=8).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from([f.key for f in notes.TEXT_FIELDS]), text=_texts, preamble=_texts)
def test_any_typed_text_round_trips_exactly(key, text, preamble):
    note = dataclasses.replace(notes.new_note("resnet", "alice"),
                               preamble=notes.normalize_text(preamble))
    note = apply_form(note, {key: text})
    back = note_file.parse(render(note).encode(), "resnet", "alice")
    assert form_values(back)[key] == notes.normalize_text(text)
    assert back == note


HAND_WRITTEN = """\
---
paper: resnet
reader: alice
pass1:
  status: done
  started: 2025-03-03 10:00:00
  minutes: 9
  checked: [headings, conclusions, my-own-step]
  mood: sleepy
group: tuesday-session
---
My own intro line.

## Clarity
Well written.
## Category
A new architecture.
## Some heading of mine
kept inside Category
## Category
written twice
"""


def test_hand_edited_file_round_trips(ws):
    path = ws.note_path("resnet", "alice")
    path.parent.mkdir(parents=True)
    path.write_text(HAND_WRITTEN)
    note, version = load_note(ws, "resnet", "alice")
    assert note.clarity == "Well written."
    assert note.category == ("A new architecture.\n## Some heading of mine\nkept inside "
                             "Category\n\nwritten twice")
    assert note.pass_note(1).checked == ("headings", "conclusions", "my-own-step")
    assert note.pass_note(1).started.startswith("2025-03-03T10:00:00")
    assert note.extra == {"group": "tuesday-session"}
    assert note.pass_note(1).extra == {"mood": "sleepy"}
    # the app ticks one more box: nothing the reader wrote by hand is lost
    edited = apply_form(note, {notes.check_key(1, "math"): True})
    save_note(ws, edited, version)
    again, _ = load_note(ws, "resnet", "alice")
    assert again == edited
    text = path.read_text()
    for kept in ("My own intro line.", "group: tuesday-session", "mood: sleepy", "my-own-step",
                 "## Some heading of mine", "written twice"):
        assert kept in text


def test_plain_markdown_without_front_matter_is_read_as_body(ws):
    path = ws.note_path("resnet", "alice")
    path.parent.mkdir(parents=True)
    path.write_text("# notes\n\n## Contributions\nResidual blocks.\n")
    note, _ = load_note(ws, "resnet", "alice")
    assert note.contributions == "Residual blocks."
    assert note.preamble == "# notes"


# a note as the app wrote it before the field labels were unified: its `## Headings` are the
# file format and must keep loading, whatever the labels on the page say
SHIPPED_FORMAT = """\
---
paper: resnet
reader: alice
pass1:
  status: done
  started: '2025-03-03T10:02:11+01:00'
  finished: '2025-03-03T10:14:40+01:00'
  minutes: 12.5
  timer_started: null
  checked:
  - headings
pass2:
  status: in progress
  started: '2025-03-04T09:00:00+01:00'
  finished: null
  minutes: 3
  timer_started: null
  checked: []
pass3:
  status: not started
  started: null
  finished: null
  minutes: 0
  timer_started: null
  checked: []
references_next:
- batchnorm
runs_consulted:
- resnet-mini-1
---

# Deep Residual Learning: reading notes by alice

## Pass 1 notes

p1

## Category

cat

## Context

ctx

## Correctness

cor

## Contributions

con

## Clarity

cla

## Pass 2 notes

p2

## Summary

sum

## Figures and graphs

fig

## Pass 3 notes

p3

## Assumptions challenged

ass

## What I would do differently

dif

## Future work

fut
"""


def test_a_note_in_the_shipped_format_loads_every_field_and_saves_unchanged(ws):
    path = ws.note_path("resnet", "alice")
    path.parent.mkdir(parents=True)
    path.write_text(SHIPPED_FORMAT)
    note, version = load_note(ws, "resnet", "alice")
    texts = {k: v for k, v in form_values(note).items() if not k.startswith("check_")}
    assert texts == {
        "p1_notes": "p1", "c_category": "cat", "c_context": "ctx", "c_correctness": "cor",
        "c_contributions": "con", "c_clarity": "cla", "p2_notes": "p2", "summary": "sum",
        "figures": "fig", "p3_notes": "p3", "assumptions": "ass", "differently": "dif",
        "future_work": "fut", "references_next": "batchnorm", "runs_consulted": "resnet-mini-1"}
    assert note.preamble == "# Deep Residual Learning: reading notes by alice"
    assert render(note) == SHIPPED_FORMAT
    save_note(ws, note, version)
    assert path.read_text() == SHIPPED_FORMAT


def test_labels_come_from_the_one_field_table():
    assert notes.field_label("future_work") == "Ideas for future work"
    assert notes.field_label("c_clarity") == "Clarity"
    assert notes.field_label("runs_consulted") == "Reproduction runs consulted"
    assert notes.field_label("check_2_graphs") == "pass 2 checklist"
    assert notes.form_keys(2) == ("p2_notes", "summary", "figures", "references_next",
                                  *(notes.check_key(2, i.key) for i in PASSES[1].checklist))
    assert [f.key for f in pass_fields(3)] == ["p3_notes", "assumptions", "differently",
                                               "future_work", "runs_consulted"]


def test_unsafe_paper_or_reader_never_becomes_a_path(ws):
    with pytest.raises(InvalidId):
        load_note(ws, "../etc", "alice")
    with pytest.raises(InvalidId):
        load_note(ws, "resnet", "Alice Smith")


# --- never lose a word ----------------------------------------------------------------------------


def test_save_refuses_to_overwrite_newer_notes(ws):
    mine, version = load_note(ws, "resnet", "alice")
    save_note(ws, apply_form(mine, {"c_category": "from another tab"}), version)
    on_disk = ws.note_path("resnet", "alice").read_bytes()
    with pytest.raises(NoteConflict, match="changed on disk.*nothing was saved"):
        save_note(ws, apply_form(mine, {"c_category": "stale form"}), version)
    assert ws.note_path("resnet", "alice").read_bytes() == on_disk


def test_save_refuses_a_stale_version_after_a_hand_edit(ws):
    note, _ = load_note(ws, "resnet", "alice")
    version = save_note(ws, note, None)
    path = ws.note_path("resnet", "alice")
    path.write_text(path.read_text().replace("## Clarity", "## Clarity\n\nedited in vim"))
    with pytest.raises(NoteConflict):
        save_note(ws, apply_form(note, {"c_clarity": "from the app"}), version)
    assert "edited in vim" in path.read_text()


BROKEN = {
    "bad yaml": b"---\npaper: [resnet\n---\n",
    "unclosed front matter": b"---\npaper: resnet\n## Category\n",
    "not utf-8": b"---\npaper: resnet\n---\n\xff\xfe caf\xe9\n",
    "unknown status": b"---\npass2:\n  status: finished\n---\n",
    "minutes not a number": b"---\npass1:\n  minutes: ten\n---\n",
    "unquoted arxiv id": b"---\nreferences_next: [1706.03760]\n---\n",
    "front matter a list": b"---\n- a\n- b\n---\n",
}


@pytest.mark.parametrize("content", BROKEN.values(), ids=BROKEN.keys())
def test_unreadable_note_names_the_file_and_is_never_overwritten(ws, content):
    path = ws.note_path("resnet", "alice")
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(NoteUnreadable, match=r"notes/resnet/alice\.md: .*will not be overwritten"):
        load_note(ws, "resnet", "alice")
    fresh = notes.new_note("resnet", "alice")
    for version in (None, "0" * 64, version_of(content)):
        with pytest.raises(NoteUnreadable):
            save_note(ws, fresh, version)
    assert path.read_bytes() == content


def test_save_cleans_temp_files_left_by_a_killed_save(ws):
    note, version = load_note(ws, "resnet", "alice")
    version = save_note(ws, note, version)
    leftover = ws.note_path("resnet", "alice").parent / ".alice.md.abc123.tmp"
    leftover.write_text("half a no")
    save_note(ws, apply_form(note, {"summary": "s"}), version)
    assert not leftover.exists()
    assert [p.name for p in leftover.parent.iterdir()] == ["alice.md"]


def test_merge_keeps_both_texts_and_one_sided_edits():
    base = {"c_category": "a", "summary": "", "references_next": "x", "check_1_math": False}
    mine = {"c_category": "mine", "summary": "", "references_next": "x\ny", "check_1_math": True}
    theirs = {"c_category": "theirs", "summary": "s", "references_next": "x\nz",
              "check_1_math": False}
    merged, both = notes.merge_forms(base, mine, theirs)
    assert merged == {"c_category": "theirs\n\nmine", "summary": "s",
                      "references_next": "x\nz\ny", "check_1_math": True}
    assert both == ["c_category", "references_next"]


def test_editor_keeps_the_form_when_a_save_is_refused_and_merges_on_request(ws):
    editor = NoteEditor(ws, "resnet", "alice")
    editor.form["c_context"] = "typed in tab 1"
    editor.save(1)
    other = NoteEditor(ws, "resnet", "alice")
    other.form["summary"] = "typed in tab 2"
    other.save(2)
    editor.form["c_category"] = "more typing in tab 1"
    with pytest.raises(NoteConflict):
        editor.save(1)
    assert editor.form["c_category"] == "more typing in tab 1"
    assert editor.merge_with_disk() == []
    editor.save(1)
    final, _ = load_note(ws, "resnet", "alice")
    assert (final.category, final.context, final.summary) == (
        "more typing in tab 1", "typed in tab 1", "typed in tab 2")


# --- passes, timer, five Cs -----------------------------------------------------------------------


def test_finish_pass_1_requires_all_five_cs():
    note = apply_form(notes.new_note("resnet", "alice"), {**FIVE, "c_correctness": "  "})
    with pytest.raises(FiveCsMissing, match=r"pass 1 stays open.*\(missing: Correctness\)$"):
        notes.finish_pass(note, 1, T0)
    done = notes.finish_pass(apply_form(note, FIVE), 1, T0)
    assert done.pass_note(1).status == DONE
    assert done.pass_note(1).finished == T0.isoformat()


def test_unfinished_five_cs_keep_pass_1_open_but_save_the_text(ws):
    editor = NoteEditor(ws, "resnet", "alice")
    editor.form.update({"c_category": "a prototype", "p1_notes": "read the intro"})
    with pytest.raises(FiveCsMissing):
        editor.finish(1)
    note, _ = load_note(ws, "resnet", "alice")
    assert note.pass_note(1).status == IN_PROGRESS
    assert (note.category, note.pass_note(1).notes) == ("a prototype", "read the intro")


def test_refused_finish_with_nothing_typed_writes_no_note_file(ws):
    editor = NoteEditor(ws, "resnet", "alice")
    with pytest.raises(FiveCsMissing):
        editor.finish(1)
    assert not ws.note_path("resnet", "alice").exists()
    assert load_progress(ws).readers("resnet") == []  # not listed as a reader of the paper


def test_timer_accumulates_over_stops_and_survives_a_reload(ws):
    note = notes.start_timer(notes.new_note("resnet", "alice"), 2, T0)
    note = notes.stop_timer(note, 2, T0 + timedelta(minutes=30))
    note = notes.start_timer(note, 2, T0 + timedelta(hours=2))
    version = save_note(ws, note, None)  # the browser closes with the timer running
    loaded, _ = load_note(ws, "resnet", "alice")
    p = loaded.pass_note(2)
    assert p.status == IN_PROGRESS and p.started == T0.isoformat()
    assert notes.elapsed_minutes(p, T0 + timedelta(hours=2, minutes=15)) == 45
    stopped = notes.stop_timer(loaded, 2, T0 + timedelta(hours=2, minutes=15))
    save_note(ws, stopped, version)
    assert load_note(ws, "resnet", "alice")[0].pass_note(2).minutes == 45
    assert notes.stop_timer(stopped, 2, T0) == stopped  # stopping a stopped timer: no change


def test_reopened_pass_is_in_progress_again():
    note = notes.finish_pass(apply_form(notes.new_note("resnet", "alice"), FIVE), 1, T0)
    assert notes.current_pass(note) == 2
    again = notes.reopen_pass(note, 1)
    assert again.pass_note(1).status == IN_PROGRESS and again.pass_note(1).finished is None
    assert notes.current_pass(again) == 1


def test_reader_defaults_to_the_os_user_name_as_a_slug(monkeypatch):
    monkeypatch.delenv("WORKBENCH_READER", raising=False)
    monkeypatch.setattr(notes.getpass, "getuser", lambda: "Jane.Doe")
    assert notes.default_reader() == "jane-doe"
    monkeypatch.setenv("WORKBENCH_READER", "bob")
    assert notes.default_reader() == "bob"
    monkeypatch.setenv("WORKBENCH_READER", "Bob/../x")
    with pytest.raises(InvalidId, match="WORKBENCH_READER"):
        notes.default_reader()


# --- the method -----------------------------------------------------------------------------------


def test_method_has_three_passes_with_budgets_from_keshav_and_the_lecture():
    assert [p.budget_label for p in PASSES] == ["5–15 min", "about 1 h", "1–5 h"]
    assert [c.name for c in FIVE_CS] == ["Category", "Context", "Correctness", "Contributions",
                                         "Clarity"]
    keys = [k for p in PASSES for k in p.keys]
    assert len(keys) == len(set(keys)) and all(SLUG_RE.fullmatch(k) for k in keys)
    assert budget_state(get_pass(1), 20) == "over" and budget_state(get_pass(1), 10) == "within"
    with pytest.raises(InvalidPass):
        get_pass(4)


def test_pass_material_shows_the_catalog_abstract(ws):
    paper = load_catalog(ws.catalog_path).by_id["resnet"]
    parts = pass_material(paper, 1)
    assert [p.title for p in parts] == ["Paper", "Abstract"]
    assert parts[1].text.startswith("We present a residual learning framework")
    assert "arXiv:1512.03385" in parts[0].text


# --- progress, export, CLI ------------------------------------------------------------------------


def save_reader(ws, reader, paper_id, passes_done):
    note = apply_form(notes.new_note(paper_id, reader), FIVE)
    for n in range(1, passes_done + 1):
        note = notes.finish_pass(note, n, T0)
    if passes_done < 3:
        note = notes.mark_started(note, passes_done + 1, T0)
    save_note(ws, note, None)


def test_progress_per_reader_group_and_topic(ws):
    save_reader(ws, "alice", "resnet", 2)
    save_reader(ws, "bob", "resnet", 0)
    save_reader(ws, "bob", "transformer", 3)
    (ws.notes_dir / "batchnorm").mkdir()
    (ws.notes_dir / "batchnorm" / "carol.md").write_text("---\npass1: [oops\n---\n")
    cat = load_catalog(ws.catalog_path)
    progress = load_progress(ws)
    assert status_label(progress.note("resnet", "alice")) == "pass 3 in progress"
    assert status_label(progress.note("transformer", "bob")) == "pass 3 done"
    assert status_label(progress.note("batchnorm", "alice")) == "not started"
    assert progress.group_label("resnet") == "alice: pass 3 · bob: pass 1"
    assert [str(e) for e in progress.unreadable] == [
        "notes/batchnorm/carol.md: line 2: front matter is not valid YAML (expected ',' or "
        "']', but got '<stream end>'); fix the file (it will not be overwritten) or move it away"]
    mine = {t.topic: (t.papers, t.done) for t in topic_progress(cat, progress, "alice")}
    assert mine == {"cnns": (2, (1, 1, 0)), "attention": (1, (0, 0, 0))}
    group = {t.topic: t.done for t in topic_progress(cat, progress, None)}
    assert group == {"cnns": (1, 1, 0), "attention": (1, 1, 1)}


def test_cli_notes_prints_markdown_and_writes_a_file(ws, capsys, tmp_path):
    save_note(ws, full_note(), None)
    assert cli(["notes", "resnet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Deep Residual Learning for Image Recognition\n")
    assert "### Category: What type of paper is this?" in out
    assert "### Summary: the main thrust, with supporting evidence, for someone else" \
        "\n\ndeeper is better\n" in out
    assert "### References to read next: paper ids or titles\n\n- batchnorm\n" in out
    assert "### Ideas for future work\n\nf\n" in out
    assert "my category answer" in out
    assert "- [x] Read the section and sub-section headings" in out
    assert "- [ ] Read the conclusions" in out
    assert "| 1. Bird's-eye view | done | 12 |" in out
    target = tmp_path / "export.md"
    assert cli(["notes", "resnet", "--reader", "alice", "--out", str(target)]) == 0
    assert target.read_text() == out


@pytest.mark.parametrize("argv, message", [
    (["notes", "resnt"], "error: no paper 'resnt' in papers.yaml; did you mean 'resnet'?\n"),
    (["notes", "batchnorm"], "error: alice has no notes on 'batchnorm' yet; start pass 1 on "
                             "the Read page (`workbench app`)\n"),
    (["notes", "resnet", "--reader", "Bob!"], "error: reader 'Bob!' is not a slug: use "
     "lowercase letters, digits and '-', starting with a letter or digit\n"),
])
def test_cli_notes_errors_are_one_line(ws, capsys, argv, message):
    assert cli(argv) == 1
    assert capsys.readouterr().err == message


def test_cli_notes_exports_even_when_the_catalog_is_broken(ws, capsys):
    save_note(ws, full_note(), None)
    ws.catalog_path.write_text(CATALOGS["notes"].replace("topic: attention", "topic: atention"))
    assert cli(["notes", "resnet"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# resnet\n")
    assert "my clarity answer" in captured.out
    assert captured.err.startswith("warning: papers.yaml:")
    assert captured.err.endswith("exporting without the catalog's title\n")


def test_cli_status_lists_papers_and_topics(ws, capsys):
    save_reader(ws, "alice", "resnet", 1)
    save_reader(ws, "bob", "resnet", 2)
    assert cli(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["paper", "topic", "alice", "min", "group"]
    assert lines[1].split() == ["resnet", "cnns", "pass", "2", "in", "progress", "0", "alice:",
                                "pass", "2", "·", "bob:", "pass", "3"]
    assert lines[2].split() == ["batchnorm", "cnns", "not", "started"]
    assert lines[5].split() == ["topic", "papers", "pass", "1", "pass", "2", "pass", "3",
                                "group", "pass", "1"]
    assert lines[6].split() == ["cnns", "2", "1", "0", "0", "1"]


@settings(max_examples=100, deadline=None)
@given(key=st.sampled_from(notes.LIST_FIELDS), items=st.lists(st.text(st.characters(
    blacklist_categories=("Cs",)), max_size=20), max_size=5))
def test_any_list_item_round_trips_through_the_front_matter(key, items):
    note = apply_form(notes.new_note("resnet", "alice"), {key: "\n".join(items)})
    back = note_file.parse(render(note).encode(), "resnet", "alice")
    assert back == note
    expected = [s.strip() for s in "\n".join(items).replace("\x00", "").splitlines()]
    assert list(getattr(back, key)) == [s for s in expected if s]
