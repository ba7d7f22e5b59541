"""One classmate's bad note or session never takes a command or a page down (issue 16, items 2,
4 and 15): dates that do not exist, oversized notes, links out of the workspace, bad `--out`.

The hostile inputs are generated here: `impossible_dates()` yields the dates and times PyYAML
reads as timestamps but Python cannot build (Feb 29 of non-leap years, month 13, 23:59:60, an
offset of 25 hours, year 0); the oversized note is a sparse file, so it costs no disk. Two Hypothesis properties put any of
them, and explicitly tagged text (`!!bool maybe`), in a note or a session ($FUZZ_EXAMPLES
examples each, default 150).
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.apptest_helpers import open_page
from workbench.cli.commands import main
from workbench.notes.model import new_note
from workbench.notes.progress import load_progress
from workbench.notes.store import (
    MAX_NOTE_BYTES,
    NoteTooLarge,
    NoteUnreadable,
    load_note,
    save_note,
)
from workbench.sessions.plan import SessionInvalid, load_session
from workbench.workspace import OutsideWorkspace, Workspace


def impossible_dates():
    """(id, YAML scalar) for dates and times that look right and do not exist."""
    for year in (2015, 2025, 2100):  # 2100 is not a leap year either
        yield f"feb29-{year}", f"{year}-02-29"
        yield f"feb29-{year}-time", f"{year}-02-29T10:00:00"
    yield "month13", "2025-13-01"
    yield "month13-time", "2025-13-01 09:30:00"
    yield "leap-second", "2025-06-30T23:59:60"
    yield "hour24", "2025-03-03T24:00:00Z"
    yield "offset+25", "2025-03-03T10:00:00+25:00"
    yield "offset-24", "2025-03-03T10:00:00-24:00"
    yield "year0", "0000-01-01"


DATES = list(impossible_dates())
GOOD_NOTE = "---\npass1:\n  status: done\n  minutes: 12\n---\n## Category\n\nA CNN.\n"


def note_with(value: str) -> str:
    """A note whose pass-1 start (line 5 of the file) is `value`."""
    return (f"---\npaper: resnet\nreader: bob\npass1:\n  started: {value}\n"
            "  status: in progress\n---\n## Category\n\nResidual nets.\n")


@pytest.fixture
def ws(make_ws):
    """A workspace with the shipped catalog, alice's good note on resnet and `reader` alice."""
    return make_ws(reader="alice", files={"notes/resnet/alice.md": GOOD_NOTE})


def write_bad_note(ws: Workspace, value: str = "2025-02-29T10:00:00", reader="bob") -> Path:
    path = ws.note_path("resnet", reader)
    path.write_text(note_with(value))
    return path


def one_line(text: str) -> bool:
    return "\n" not in text.strip() and "Traceback" not in text


# --- the loaders: a typed error with the line ----------------------------------------------------


@pytest.mark.parametrize(("value"), [v for _, v in DATES], ids=[i for i, _ in DATES])
def test_an_impossible_date_in_a_note_is_a_typed_error_with_its_line(ws, value):
    path = write_bad_note(ws, value)
    with pytest.raises(NoteUnreadable) as err:
        load_note(ws, "resnet", "bob")
    assert str(err.value).startswith(f"notes/resnet/bob.md: line 5: '{value}' is not a real "
                                     "date or time")
    assert one_line(str(err.value))
    before = path.read_bytes()
    with pytest.raises(NoteUnreadable):  # and never overwritten by a save
        save_note(ws, new_note("resnet", "bob"), None)
    assert path.read_bytes() == before


@pytest.mark.parametrize(("value"), [v for _, v in DATES], ids=[i for i, _ in DATES])
def test_an_impossible_date_in_a_session_is_a_typed_error_with_its_line(ws, value):
    ws.sessions_dir.mkdir()
    (ws.sessions_dir / "week-1.yaml").write_text(f"title: Week 1\ndate: {value}\n"
                                                 "papers: [resnet]\n")
    with pytest.raises(SessionInvalid) as err:
        load_session(ws, "week-1")
    assert str(err.value).startswith(f"sessions/week-1.yaml:2: '{value}' is not a real date")
    assert one_line(str(err.value))


@pytest.mark.parametrize(("front", "tz"), [
    ("minutes: " + "9" * 400, None),              # an int too large for a float
    ("minutes: " + "9" * 5000, None),             # past Python's int digit limit
    ("minutes: .inf", None),
    ("started: 0001-01-01T00:00:00", "Asia/Tokyo"),            # local time before year 1
    ("started: 9999-12-31T23:59:59", "America/Los_Angeles"),   # ... or after 9999
    ("timer_started: '0001-01-01T00:00:00'", "Asia/Tokyo"),
], ids=["minutes-huge", "minutes-digits", "minutes-inf", "year1", "year9999", "timer-year1"])
def test_out_of_range_numbers_and_times_in_a_note_are_typed_errors(ws, monkeypatch, front, tz):
    if tz:
        monkeypatch.setenv("TZ", tz)
        monkeypatch.setattr(time, "tzname", time.tzname)  # restored, then tzset() below
        time.tzset()
    try:
        ws.note_path("resnet", "bob").write_text(f"---\npass1:\n  {front}\n---\n")
        with pytest.raises(NoteUnreadable, match=r"^notes/resnet/bob\.md: (line 3: |pass1\.)"):
            load_note(ws, "resnet", "bob")
    finally:
        monkeypatch.undo()
        time.tzset()


# a scalar PyYAML may try to build: date-shaped numbers out of range, explicit tags on text
date_like = st.builds(
    lambda y, mo, d, t, tz: f"{y:04d}-{mo:02d}-{d:02d}{t}{tz}",
    st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99),
    st.sampled_from(["", "T10:00:00", "T24:00:00", "T23:59:60", " 9:99:00", "T00:00:00.1234567"]),
    st.sampled_from(["", "Z", "+25:00", "-24:00", "+23:59", "+99"]))
tagged = st.builds(lambda tag, text: f"{tag} {text}", st.sampled_from(
    ["!!timestamp", "!!int", "!!float", "!!bool", "!!binary", "!!null", "!!str", "!!set"]),
    st.sampled_from(["''", "x", "maybe", "0x", "2025", "2025-02-29", "'1:2:x'", "{a: 1}"]))
hostile_scalar = date_like | tagged | st.just("9" * 5000)
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(key=st.sampled_from(["started", "finished", "timer_started", "minutes", "status", "x"]),
       value=hostile_scalar)
def test_any_scalar_in_a_note_loads_or_is_a_typed_one_line_error(ws, key, value):
    ws.note_path("resnet", "bob").write_text(f"---\npass1:\n  {key}: {value}\n---\n")
    try:
        load_note(ws, "resnet", "bob")
    except NoteUnreadable as exc:
        assert one_line(str(exc)) and str(exc).startswith("notes/resnet/bob.md: ")


@FUZZ
@given(key=st.sampled_from(["date", "title", "papers"]), value=hostile_scalar)
def test_any_scalar_in_a_session_loads_or_is_a_typed_one_line_error(ws, key, value):
    ws.sessions_dir.mkdir(exist_ok=True)
    fields = {"title": "T", "date": "2025-03-10", "papers": "[resnet]", key: value}
    (ws.sessions_dir / "s.yaml").write_text("".join(f"{k}: {v}\n" for k, v in fields.items()))
    try:
        load_session(ws, "s")
    except SessionInvalid as exc:
        assert one_line(str(exc)) and str(exc).startswith("sessions/s.yaml")


# --- the consumers: one broken note is reported and skipped --------------------------------------


def test_status_reports_the_broken_note_and_shows_the_rest(ws, capsys):
    write_bad_note(ws)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^resnet\s+\S+\s+pass 1 done\s+12\s+alice: pass 1 ✓$", out, re.M)
    assert ("warning: notes/resnet/bob.md: line 5: '2025-02-29T10:00:00' is not a real date "
            "or time (day is out of range for month)") in out


def test_handout_uses_the_readable_notes_and_names_the_broken_one(ws, capsys, tmp_path):
    write_bad_note(ws)
    assert main(["handout", "resnet", "--format", "md", "--out", str(tmp_path / "h.md")]) == 0
    out = capsys.readouterr().out
    assert "bob's note could not be read (notes/resnet/bob.md: line 5:" in out
    assert "A CNN." in (tmp_path / "h.md").read_text()  # alice's five Cs


def test_a_session_with_an_impossible_date_is_one_line_from_handout(ws, capsys):
    ws.sessions_dir.mkdir()
    (ws.sessions_dir / "s.yaml").write_text("title: T\ndate: 2025-02-29\npapers: [resnet]\n")
    assert main(["handout", "s", "--format", "md"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: sessions/s.yaml:2: '2025-02-29' is not a real date")
    assert one_line(err)


@pytest.mark.parametrize("reader", ["alice", "bob"])
def test_graph_stats_skips_the_broken_note_and_warns_its_reader(ws, capsys, caplog, reader):
    write_bad_note(ws)
    assert main(["graph", "--reader", reader, "stats"]) == 0
    assert "citation graph:" in capsys.readouterr().out
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"
              and r.getMessage().startswith("notes/resnet/bob.md: line 5:")]
    assert len(warned) == (reader == "bob")  # only the notes whose status the graph shows


def test_notes_of_the_broken_file_is_one_line(ws, capsys):
    write_bad_note(ws)
    assert main(["notes", "resnet", "--reader", "bob"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: notes/resnet/bob.md: line 5:") and one_line(err)


def test_library_group_graph_and_read_pages_survive_a_classmates_broken_note(ws):
    write_bad_note(ws)
    for page in ("library.py", "group.py", "graph.py", "read.py"):
        at = open_page(page, paper="resnet")  # fails on an exception
        assert not at.error, (page, [e.value for e in at.error])
        shown = [w.value for w in at.warning]
        if page in ("library.py", "group.py"):
            assert any(w.startswith("notes/resnet/bob.md: line 5:") for w in shown), page
    group = open_page("group.py", paper="resnet")
    assert [h.value for h in group.subheader] == ["alice (you)"]  # bob skipped, alice shown


def test_the_broken_notes_reader_sees_it_on_the_read_and_graph_pages(ws, monkeypatch):
    write_bad_note(ws)
    monkeypatch.setenv("WORKBENCH_READER", "bob")
    with pytest.raises(NoteUnreadable) as err:
        load_note(ws, "resnet", "bob")
    assert [e.value for e in open_page("read.py", paper="resnet").error] == [str(err.value)]
    assert [w.value for w in open_page("graph.py", paper="resnet").warning] == [str(err.value)]


# --- item 15: a note is capped, and the cap is checked before reading -------------------------------


def test_a_200_mb_note_is_refused_unread_and_status_goes_on(ws, capsys):
    huge = ws.note_path("resnet", "bob")
    with open(huge, "wb") as fh:  # sparse: no disk used
        fh.truncate(200 * 1024 * 1024)
    tracemalloc.start()
    try:
        progress = load_progress(ws)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024  # nothing near the file's size was read
    assert progress.readers("resnet") == ["alice"]
    assert [str(e) for e in progress.unreadable] == [
        f"notes/resnet/bob.md is 209,715,200 bytes; the limit is {MAX_NOTE_BYTES:,}: move it "
        "away or split it"]
    assert main(["status"]) == 0
    assert "warning: notes/resnet/bob.md is 209,715,200 bytes" in capsys.readouterr().out


def test_a_note_too_large_to_load_again_is_not_saved(ws):
    note = dataclasses.replace(new_note("resnet", "bob"), summary="x" * MAX_NOTE_BYTES)
    with pytest.raises(NoteTooLarge, match="nothing was saved"):
        save_note(ws, note, None)
    assert not ws.note_path("resnet", "bob").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_place_of_a_note_is_refused_without_blocking(ws):
    os.mkfifo(ws.note_path("resnet", "bob"))
    with pytest.raises(NoteUnreadable, match="not a regular file"):
        load_note(ws, "resnet", "bob")


# --- item 2: links out of the workspace are refused -------------------------------------------------


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder outside the workspace holding a note-shaped file a link could reach."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "bob.md").write_text(GOOD_NOTE)
    return folder


def test_a_paper_folder_linking_outside_the_workspace_is_refused(ws, outside):
    (ws.notes_dir / "vit").symlink_to(outside, target_is_directory=True)
    with pytest.raises(NoteUnreadable, match="notes/vit/bob.md leads outside the workspace"):
        load_note(ws, "vit", "bob")
    with pytest.raises(OutsideWorkspace):
        save_note(ws, new_note("vit", "carol"), None)
    assert sorted(p.name for p in outside.iterdir()) == ["bob.md"]  # nothing written there
    progress = load_progress(ws)
    assert progress.readers("vit") == [] and progress.readers("resnet") == ["alice"]
    assert "leads outside the workspace" in str(progress.unreadable[0])


def test_a_note_file_linking_outside_the_workspace_is_neither_read_nor_written(ws, outside):
    link = ws.note_path("resnet", "bob")
    link.symlink_to(outside / "bob.md")
    with pytest.raises(NoteUnreadable, match="leads outside the workspace"):
        load_note(ws, "resnet", "bob")
    with pytest.raises(OutsideWorkspace):
        save_note(ws, new_note("resnet", "bob"), None)
    assert (outside / "bob.md").read_text() == GOOD_NOTE and link.is_symlink()


def test_a_link_inside_the_workspace_still_works(ws):
    (ws.notes_dir / "resnet-v2").symlink_to(ws.notes_dir / "resnet", target_is_directory=True)
    note, version = load_note(ws, "resnet-v2", "alice")
    assert version is not None and note.category == "A CNN."


# --- item 15: `--out` names a file in a folder that exists ---------------------------------------


OUT_COMMANDS = {
    "notes": ["notes", "resnet"],
    "handout": ["handout", "resnet", "--format", "html"],
    "bib-export": ["bib", "export"],
    "graph-export": ["graph", "export", "json"],
}


@pytest.mark.parametrize("command", OUT_COMMANDS)
@pytest.mark.parametrize("where", ["missing-folder", "missing-folder-slash", "a-file-as-folder"])
def test_out_in_a_missing_folder_is_refused_and_creates_nothing(ws, tmp_path, capsys, command,
                                                                where):
    target = {"missing-folder": tmp_path / "no" / "such" / "x.out",
              "missing-folder-slash": f"{tmp_path / 'no' / 'such'}/",
              "a-file-as-folder": ws.catalog_path / "x.out"}[where]
    assert main([*OUT_COMMANDS[command], "--out", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {str(target).rstrip('/')}") and one_line(err)
    assert ("is a file, not a folder" if where == "a-file-as-folder" else "create it first") in err
    assert not (tmp_path / "no").exists() and ws.catalog_path.is_file()


@pytest.mark.parametrize("command", ["notes", "bib-export", "graph-export"])
def test_out_naming_a_folder_is_refused(ws, tmp_path, capsys, command):
    assert main([*OUT_COMMANDS[command], "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {tmp_path} is a folder; give a file name") \
        and one_line(err)


def test_handout_out_naming_a_folder_writes_the_default_name_in_it(ws, tmp_path, capsys):
    assert main(["handout", "resnet", "--format", "html", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "resnet-handout.html").is_file()
    assert main(["handout", "resnet", "--format", "html", "--out", f"{tmp_path / 'new'}/"]) == 0
    assert f"created folder {tmp_path / 'new'}\n" in capsys.readouterr().out  # said, not silent
    assert (tmp_path / "new" / "resnet-handout.html").is_file()

