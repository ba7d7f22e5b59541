"""Nothing a user wrote is lost or torn when the process writing it is killed (SIGKILL).

A child process writes in a loop, the test kills it at a random moment, checks every file, and
starts the next child on what the last one left:

- notes and the catalog: one thread saves a note (`workbench.notes.store.save_note`), another appends
  entries to a copy of the shipped papers.yaml (`workbench.catalog.write.append_paper`). After each
  kill the note is byte-identical to one complete save (never an older one than already seen)
  and the catalog loads, holds the shipped papers untouched plus entries 1..k (no gap, none
  half-written) and differs from the shipped file only by inserted lines;
- the run queue: the child submits runs (`workbench.runs.queue.submit`) and cancels the one before.
  After each kill every run folder holds a complete request.json (or none: killed between the
  mkdir and the write, a folder `list_runs` ignores), every cancelled.json parses, and the queue
  lists.

The kill loop, its knob ($CRASH_KILLS) and the seed in every failure message: tests/crash.py.
"""

from __future__ import annotations

import difflib
import json
import shutil
import textwrap
import time

import pytest

from tests.conftest import SHIPPED_CATALOG
from tests.crash import KILLS, kill_repeatedly, load_writer
from workbench.catalog import validate as catalog
from workbench.catalog.write import append_paper
from workbench.notes.store import parse, render
from workbench.runs import folders as runs
from workbench.runs import reproductions as reproduction_info
from workbench.workspace import Workspace

CHILD = textwrap.dedent('''
    """The writer the test kills. argv: notes|queue ROOT."""
    import sys
    import threading

    from workbench.catalog import validate as catalog
    from workbench.runs import queue as run_queue
    from workbench.runs import folders as runs
    from workbench.catalog.write import append_paper
    from workbench.notes.store import load_note, save_note
    from workbench.notes.model import apply_form, new_note
    from workbench.workspace import Workspace

    WORDS = "residual identity shortcut degradation plain deeper training error".split()


    def make_note(k: int):
        """Save k's content: 1 kB to 60 kB, so a write takes a while."""
        text = "\\n".join(" ".join(WORDS[(k + i + j) % len(WORDS)] for j in range(12))
                         for i in range(10 + 120 * (k % 7)))
        return apply_form(new_note("resnet", "alice", "Deep Residual Learning"),
                          {"summary": str(k), "p1_notes": text, "c_category": f"save {k}"})


    def make_entry(k: int) -> dict:
        return {"id": f"crash-{k}", "title": f"Crash safety paper number {k}",
                "authors": ["Ada Lovelace", "Alan Turing"], "year": 2020,
                "topic": "self-supervised-multimodal", "tags": ["crash", f"k{k}"],
                "abstract": " ".join(WORDS * (1 + k % 5))}


    def save_notes(ws) -> None:
        note, version = load_note(ws, "resnet", "alice")
        k = int(note.summary or 0)
        while True:
            k += 1
            version = save_note(ws, make_note(k), version)


    def append_papers(ws) -> None:
        cat = catalog.load(ws.catalog_path)
        k = sum(p.id.startswith("crash-") for p in cat.papers)
        while True:
            k += 1
            append_paper(ws.catalog_path, make_entry(k))


    def submit_and_cancel(ws) -> None:
        for run in runs.queued_runs(ws):  # a kill between submit and cancel leaves one more
            run_queue.cancel(ws, run.id)
        previous = None
        while True:
            run = run_queue.submit(ws, "resnet", "tiny", ["steps=2"])
            if previous is not None:
                run_queue.cancel(ws, previous)
            previous = run.id


    if __name__ == "__main__":
        ws = Workspace.resolve(sys.argv[2])
        if sys.argv[1] == "notes":
            threading.Thread(target=save_notes, args=(ws,), daemon=True).start()
            print("writing", flush=True)
            append_papers(ws)
        else:
            print("writing", flush=True)
            submit_and_cancel(ws)
''')


@pytest.fixture
def writer(tmp_path):
    return load_writer(CHILD, tmp_path)


def inserted_lines_only(old: str, new: str) -> bool:
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return all(op in ("equal", "insert") for op, *_ in ops)


def test_notes_and_catalog_entries_survive_sigkill_at_any_moment(tmp_path, writer):
    ws = Workspace.resolve(tmp_path / "ws")
    ws.root.mkdir()
    shutil.copy(SHIPPED_CATALOG, ws.catalog_path)
    shipped_text = ws.catalog_path.read_text(encoding="utf-8")
    shipped = catalog.load(ws.catalog_path)
    note_path = ws.note_path("resnet", "alice")
    scratch = tmp_path / "scratch.yaml"  # how long one append takes on this machine
    shutil.copy(SHIPPED_CATALOG, scratch)
    started = time.monotonic()
    append_paper(scratch, writer.make_entry(1))
    append_s = time.monotonic() - started
    saves_seen = papers_seen = 0

    def check() -> None:
        nonlocal saves_seen, papers_seen
        if note_path.exists():
            data = note_path.read_bytes()
            note = parse(data, "resnet", "alice")  # raises on a torn file
            k = int(note.summary)
            assert data == render(writer.make_note(k)).encode(), f"note is not save {k}"
            assert k >= saves_seen, f"note went back from save {saves_seen} to {k}"
            saves_seen = k

        text = ws.catalog_path.read_text(encoding="utf-8")
        cat = catalog.load(ws.catalog_path)  # raises CatalogError on a torn file
        added = [p.id for p in cat.papers if p.id not in shipped.by_id]
        assert added == [f"crash-{i}" for i in range(1, len(added) + 1)], f"gap: {added}"
        assert len(added) >= papers_seen, "lost appended papers"
        papers_seen = len(added)
        assert all(cat.by_id[p.id] == p for p in shipped.papers), "a paper changed"
        for i in range(1, papers_seen + 1):
            entry = writer.make_entry(i)
            assert cat.by_id[f"crash-{i}"].abstract == entry["abstract"], f"crash-{i} changed"
        assert inserted_lines_only(shipped_text, text), "a shipped line changed"

    # a note save takes milliseconds, an append `append_s`: kill within ~3 appends
    seed = kill_repeatedly(writer, ["notes", ws.root], ready="writing",
                           max_delay_s=3 * append_s, check=check)

    assert saves_seen >= 1 and papers_seen >= 1, f"no write completed (seed {seed})"
    leftovers = [p.name for p in ws.root.rglob("*.tmp")]
    print(f"{KILLS} kills: {saves_seen} note saves, {papers_seen} catalog appends completed, "
          f"{len(leftovers)} temp files left by killed writes (seed {seed})")


@pytest.fixture
def queue_ws(tmp_path):
    """A workspace whose reproduction descriptions are cached (the first `describe` imports
    torch in a subprocess; the killed writers then submit in milliseconds)."""
    ws = Workspace.resolve(tmp_path / "ws")
    ws.root.mkdir()
    shutil.copy(SHIPPED_CATALOG, ws.catalog_path)
    reproduction_info.describe(ws, "resnet")
    return ws


def test_run_queue_survives_sigkill_at_any_moment(queue_ws, writer):
    ws = queue_ws
    submitted = 0

    def check() -> None:
        nonlocal submitted
        folders = sorted(p for p in ws.runs_dir.iterdir() if p.is_dir()) \
            if ws.runs_dir.is_dir() else []
        with_request = []
        for folder in folders:
            request_file = folder / "request.json"
            if request_file.exists():
                request = json.loads(request_file.read_text())  # raises on a torn file
                assert request["name"] == "resnet" and request["preset"] == "tiny", request
                assert request["overrides"] == {"steps": "2"}, request
                with_request.append(folder.name)
            else:  # killed after the mkdir: empty, or a temp file of the unfinished write
                left = [f.name for f in folder.iterdir()]
                assert all(n.startswith(".request.json.") and n.endswith(".tmp") for n in left), \
                    f"{folder.name} has {left} but no request.json"
            cancelled = folder / "cancelled.json"
            if cancelled.exists():
                assert json.loads(cancelled.read_text())["at"], f"{folder.name}/cancelled.json has no time"
            assert not (folder / "launch.json").exists(), f"{folder.name} started: nothing may"
        listed = runs.list_runs(ws)
        assert sorted(r.id for r in listed) == with_request, "the queue lists other runs"
        assert {r.state for r in listed} <= {runs.QUEUED, runs.CANCELLED}
        assert len(with_request) >= submitted, "a submitted run was lost"
        submitted = len(with_request)

    seed = kill_repeatedly(writer, ["queue", ws.root], ready="writing", max_delay_s=0.3,
                           check=check)
    assert submitted >= 1, f"no writer submitted a run before it was killed (seed {seed})"
    print(f"{KILLS} kills: {submitted} runs submitted, "
          f"{sum(r.state == runs.CANCELLED for r in runs.list_runs(ws))} cancelled (seed {seed})")
