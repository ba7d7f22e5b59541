"""Never lose a note: a save killed at any moment, and savers racing each other.

A child process saves a note in a loop; the test SIGKILLs it at random moments ($CRASH_KILLS
times: the harness in tests/crash.py) and checks that the file always parses and holds exactly
the content of one complete save, never an older one than already seen. Two children
incrementing one counter through load / save / retry-on-conflict must lose no increment.
"""

from __future__ import annotations

import textwrap

import pytest

from tests.crash import KILLS, kill_repeatedly, load_writer, start
from workbench.notes.store import NoteConflict, load_note, parse, render, save_note
from workbench.workspace import Workspace

SAVER = textwrap.dedent('''
    """Saves notes/resnet/alice.md in a loop; k-th save holds make_note(k)."""
    import sys

    from workbench.notes.store import NoteConflict, load_note, save_note
    from workbench.notes.model import apply_form, new_note
    from workbench.workspace import Workspace

    WORDS = "residual identity shortcut degradation plain deeper training error ".split()


    def make_note(k: int):
        """Content of save k: sizes vary from ~1 kB to ~60 kB so writes take a while."""
        text = "\\n".join(" ".join(WORDS[(k + i + j) % len(WORDS)] for j in range(12))
                         for i in range(10 + 120 * (k % 7)))
        note = apply_form(new_note("resnet", "alice", "Deep Residual Learning"), {
            "summary": str(k), "p1_notes": text, "c_category": f"category at save {k}",
            "check_1_headings": k % 2 == 0})
        return note.with_pass(1, minutes=float(k))


    def save_forever(root: str) -> None:
        ws = Workspace.resolve(root)
        note, version = load_note(ws, "resnet", "alice")
        k = int(note.summary or 0)
        while True:
            k += 1
            version = save_note(ws, make_note(k), version)
            if k == int(note.summary or 0) + 1:
                print("saving", flush=True)


    def increment(root: str, times: int) -> None:
        """Add 1 to the summary `times` times; on a conflict, reload and try again."""
        ws = Workspace.resolve(root)
        done = conflicts = 0
        while done < times:
            note, version = load_note(ws, "resnet", "alice")
            try:
                save_note(ws, apply_form(note, {"summary": str(int(note.summary) + 1)}), version)
                done += 1
            except NoteConflict:
                conflicts += 1
        print(conflicts, flush=True)


    if __name__ == "__main__":
        if sys.argv[1] == "save":
            save_forever(sys.argv[2])
        else:
            increment(sys.argv[2], int(sys.argv[3]))
''')


@pytest.fixture
def saver(tmp_path):
    return load_writer(SAVER, tmp_path, "saver")


def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_note(tmp_path, saver):
    ws = Workspace.resolve(tmp_path / "ws")
    path = ws.note_path("resnet", "alice")
    save_note(ws, saver.make_note(0), None)
    seen = 0

    def check() -> None:
        nonlocal seen
        data = path.read_bytes()
        note = parse(data, "resnet", "alice")  # raises if the file is torn
        assert note.summary.isdigit(), f"a torn file ({len(data)} B)"
        k = int(note.summary)
        assert data == render(saver.make_note(k)).encode(), f"the note is not save {k}"
        assert k >= seen, f"went back from save {seen} to {k}"
        seen = k

    # the saver prints its ready line after its first save; kill it somewhere in the save loop:
    # mid-write, mid-fsync, mid-rename or between saves
    seed = kill_repeatedly(saver, ["save", ws.root], ready="saving", max_delay_s=0.03,
                           check=check)
    assert seen >= KILLS, f"a saver was killed before its first save (seed {seed})"
    # the next save clears the temp files the killed saves left behind
    note, version = load_note(ws, "resnet", "alice")
    save_note(ws, saver.make_note(seen + 1), version)
    assert sorted(p.name for p in path.parent.iterdir()) == ["alice.md"]


def test_concurrent_savers_never_lose_an_update(tmp_path, saver):
    ws = Workspace.resolve(tmp_path / "ws")
    save_note(ws, saver.make_note(0), None)
    times = 40
    children = [start(saver, "increment", ws.root, times) for _ in range(2)]
    # each prints how often it had to retry (varies by timing)
    errors = [c.communicate(timeout=120)[1] for c in children]
    assert [c.returncode for c in children] == [0, 0], errors
    note, _ = load_note(ws, "resnet", "alice")
    assert note.summary == str(2 * times)  # how many saves were refused and retried varies


def test_stale_save_is_refused_even_right_after_a_concurrent_one(tmp_path, saver):
    ws = Workspace.resolve(tmp_path / "ws")
    version = save_note(ws, saver.make_note(0), None)
    child = start(saver, "increment", ws.root, 1)
    _, error = child.communicate(timeout=60)
    assert child.returncode == 0, error
    with pytest.raises(NoteConflict):
        save_note(ws, saver.make_note(5), version)
    assert load_note(ws, "resnet", "alice")[0].summary == "1"
