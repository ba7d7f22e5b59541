"""Nothing written to papers.yaml is lost: concurrent imports, hand edits and editors saving in
place, with real processes (issue 16, item 1), and writes through symlinks, never over FIFOs
(item 2).

`CATALOG_TRIALS=50 scripts/test.sh tests/catalog/test_catalog_writes.py` gives the figures recorded in
RELIABILITY.md; the default run tries each race a few times.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import SHIPPED_CATALOG
from tests.workspaces import make_workspace
from workbench.catalog import validate as catalog
from workbench.catalog import write as catalog_write
from workbench.catalog.model import Catalog
from workbench.cli.commands import main
from workbench.errors import CatalogConflict

TRIALS = int(os.environ.get("CATALOG_TRIALS", "3"))
SHIPPED_IDS = {p.id for p in catalog.load(SHIPPED_CATALOG).papers}


def bib_file(path: Path, tag: str, n: int = 15) -> Path:
    """`n` BibTeX entries with titles no catalog paper has (`tag` keeps two files apart)."""
    entries = [f"@article{{{tag}{i},\n  title = {{Concurrent import {tag} number {i}: a study}},\n"
               f"  author = {{Writer, Alice and Tester, Bob}},\n  year = {{2020}},\n"
               f"  journal = {{Journal of {tag}}}\n}}\n" for i in range(n)]
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def titles_in(path: Path) -> set[str]:
    return {p.title for p in catalog.load(path).papers}


def workbench(ws: Path, *argv: str) -> subprocess.Popen:
    env = {**os.environ, "WORKBENCH_WORKSPACE": str(ws), "PYTHONPATH": str(Path.cwd())}
    return subprocess.Popen([sys.executable, "-m", "workbench", *argv], cwd=ws, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws").root


# --- concurrent writers ----------------------------------------------------------------------------


def test_two_concurrent_bib_imports_keep_every_paper(ws, tmp_path):
    """Two `bib import --yes` processes at once: each reports what it added, and the file holds
    all of it (before the lock: 9 + 9 of 15 + 15, both reporting 15)."""
    a, b = bib_file(tmp_path / "a.bib", "alpha"), bib_file(tmp_path / "b.bib", "beta")
    lost = 0
    for trial in range(TRIALS):
        shutil.copy(SHIPPED_CATALOG, ws / "papers.yaml")
        procs = [workbench(ws, "bib", "import", str(f), "--topic", "cnns", "--yes")
                 for f in (a, b)]
        outs = [p.communicate(timeout=120) for p in procs]
        for p, (out, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err
            assert "added 15 paper(s)" in out + err
        titles = titles_in(ws / "papers.yaml")
        wanted = {f"Concurrent import {t} number {i}: a study" for t in ("alpha", "beta")
                  for i in range(15)}
        lost += len(wanted - titles) + len(SHIPPED_IDS - {p.id for p in
                                                          catalog.load(ws / "papers.yaml").papers})
    assert lost == 0, f"{lost} entries lost in {TRIALS} trials"


def editor_save(path: Path, text: str, chunk: int = 4096, pause: float = 0.02) -> None:
    """Save like an editor that rewrites the file in place: truncate, then write in chunks."""
    with open(path, "r+b") as fh:
        fh.truncate(0)
        data = text.encode("utf-8")
        for i in range(0, len(data), chunk):
            fh.write(data[i:i + chunk])
            fh.flush()
            os.fsync(fh.fileno())
            time.sleep(pause)


HAND_EDIT = """  - id: hand-edited
    title: A paper added by hand while an import ran
    authors: [Hand Editor]
    year: 2021
    topic: cnns
"""


@pytest.mark.parametrize("pause", [0.0, 0.02, 0.2], ids=["fast", "slow", "stalling"])
def test_an_editor_saving_in_place_during_an_import_loses_nothing(ws, tmp_path, pause):
    """An editor rewrites papers.yaml in place (with its own new paper) while an import runs.
    Either both land, or the import says there was a conflict and writes nothing; the editor's
    save is never overwritten and the import never builds on a half-written file (before: the
    catalog went from 99 papers to 23 while the CLI reported success)."""
    bib = bib_file(tmp_path / "a.bib", "gamma")
    lost, conflicts = 0, 0
    for trial in range(TRIALS):
        shutil.copy(SHIPPED_CATALOG, ws / "papers.yaml")
        proc = workbench(ws, "bib", "import", str(bib), "--topic", "cnns", "--yes")
        time.sleep(0.3 + 0.15 * trial % 0.9)  # the editor saves at a different moment each time
        # the editor's buffer is the file as it is when it saves, plus its own new paper
        editor_save(ws / "papers.yaml", (ws / "papers.yaml").read_text("utf-8") + HAND_EDIT,
                    pause=pause)
        out, err = proc.communicate(timeout=120)
        time.sleep(0.6)  # let the file settle before reading it back
        final = catalog.load(ws / "papers.yaml")
        ids = {p.id for p in final.papers}
        imported = sum(t.startswith("Concurrent import gamma") for t in
                       (p.title for p in final.papers))
        # the import must be in the file if it said so, and the editor's save always is, unless
        # the import started after the save and kept it (then both are in)
        lost += len(SHIPPED_IDS - ids) + ("hand-edited" not in ids)
        if proc.returncode == 0:
            lost += 15 - imported
        else:
            conflicts += 1
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
            assert imported == 0
    assert lost == 0, f"{lost} entries lost in {TRIALS} trials ({conflicts} conflicts reported)"


def test_a_hand_edit_between_read_and_write_is_a_conflict_not_a_loss(ws):
    """The version token: the bytes read are the bytes replaced. An edit that lands while the
    new entries are being prepared makes the write fail with a clear message, and keeps it."""
    path = ws / "papers.yaml"

    def prepare(cat: Catalog):
        editor_save(path, path.read_text("utf-8") + HAND_EDIT, pause=0)
        os.utime(path, (time.time() - 5, time.time() - 5))  # even a save that looks old
        return [{"id": "racing", "title": "Racing", "authors": ["A B"], "year": 2020,
                 "topic": "cnns"}]

    with pytest.raises(CatalogConflict, match="changed while the new papers were being added"):
        catalog_write.add_papers(path, prepare)
    ids = {p.id for p in catalog.load(path).papers}
    assert "hand-edited" in ids and "racing" not in ids


def _after_the_rename(path: Path, save) -> threading.Thread:
    """Run `save()` in a thread as soon as `path` is replaced by a new file (the writer's
    rename), as an editor whose save lands in the moment after the write."""
    inode = os.stat(path).st_ino

    def wait_then_save():
        deadline = time.monotonic() + 10
        while os.stat(path).st_ino == inode and time.monotonic() < deadline:
            time.sleep(0.001)
        save()

    thread = threading.Thread(target=wait_then_save)
    thread.start()
    return thread


def assert_both_landed(path: Path, result) -> None:
    ids = {p.id for p in catalog.load(path).papers}
    assert [p.id for p in result.added] == ["racing"]
    assert {"hand-edited", "racing"} <= ids and SHIPPED_IDS <= ids


RACING = {"id": "racing", "title": "Racing", "authors": ["A B"], "year": 2020, "topic": "cnns"}


def test_a_save_into_the_file_the_write_replaced_is_put_back_and_built_on(ws):
    """The editor opened papers.yaml before the write's rename and saves into it right after:
    its save went into the replaced file. Before: the hand edit was gone without a word. Now it
    is put back and the new paper added on top of it."""
    path = ws / "papers.yaml"
    threads, seen = [], []

    def prepare(cat: Catalog):
        seen.append({p.id for p in cat.papers})
        if not threads:
            fh = open(path, "r+b")  # noqa: SIM115 - the editor's open file, saved by the thread
            buffer = fh.read() + HAND_EDIT.encode()

            def save():
                with fh:
                    fh.seek(0)
                    fh.truncate(0)
                    fh.write(buffer)
            threads.append(_after_the_rename(path, save))
        return [RACING]

    result = catalog_write.add_papers(path, prepare)
    threads[0].join()
    assert_both_landed(path, result)
    assert len(seen) == 2 and "hand-edited" in seen[1]  # made again on the editor's save


def test_a_stale_buffer_saved_over_the_new_file_does_not_lose_the_new_paper(ws):
    """The editor read papers.yaml before the write and saves its buffer (with its own edit) over
    the new file moments after it: the write is made again on top of the editor's save."""
    path = ws / "papers.yaml"
    threads = []

    def prepare(cat: Catalog):
        if not threads:
            buffer = path.read_text("utf-8") + HAND_EDIT
            threads.append(_after_the_rename(path, lambda: editor_save(path, buffer, pause=0)))
        return [RACING]

    result = catalog_write.add_papers(path, prepare)
    threads[0].join()
    assert_both_landed(path, result)


def test_a_catalog_deleted_right_after_the_write_is_said_in_one_line(ws):
    """Removed while the write is watched (a `git checkout` of another branch, say): one clear
    error that the write happened and the file is gone, not a traceback."""
    path = ws / "papers.yaml"
    threads = []

    def prepare(cat: Catalog):
        if not threads:
            threads.append(_after_the_rename(path, path.unlink))
        return [RACING]

    with pytest.raises(CatalogConflict, match="was written, then changed: .*no catalog at"):
        catalog_write.add_papers(path, prepare)
    threads[0].join()


def test_a_later_command_building_on_the_write_is_not_taken_for_a_race(ws):
    """Another add right after the write keeps this one's paper: nothing is written twice."""
    path = ws / "papers.yaml"
    calls = []

    def prepare(cat: Catalog):
        calls.append(1)
        if len(calls) == 1:
            other = {**RACING, "id": "after", "title": "After"}
            threading.Thread(target=lambda: _after_the_rename(
                path, lambda: catalog_write.append_paper(path, other)).join()).start()
        return [RACING]

    result = catalog_write.add_papers(path, prepare)
    time.sleep(1.5)
    ids = [p.id for p in catalog.load(path).papers]
    assert [p.id for p in result.added] == ["racing"] and len(calls) == 1
    assert ids.count("racing") == 1 and "after" in ids


def test_a_file_cut_short_mid_entry_is_not_built_on(ws):
    """An editor's save that stalls half-way (longer than the settle time) leaves a prefix of
    the catalog that may still be valid YAML; adding to it would throw the rest away."""
    path = ws / "papers.yaml"
    entry = {"id": "first-add", "title": "First", "authors": ["A B"], "year": 2020,
             "topic": "transformers"}
    catalog_write.append_paper(path, entry)
    lines = path.read_text("utf-8").splitlines(keepends=True)
    last = max(i for i, ln in enumerate(lines) if ln.startswith("  - id: "))
    topic = next(i for i in range(last, len(lines)) if lines[i].startswith("    topic: "))
    assert topic + 1 < len(lines), "the last entry must have lines after its topic"
    path.write_text("".join(lines[: topic + 1]))  # valid YAML, the entry's tail gone
    assert catalog.check(path)[0] is not None
    before = path.read_bytes()
    with pytest.raises(CatalogConflict, match="cut-short copy"):
        catalog_write.append_paper(path, {**entry, "id": "second-add", "title": "Second"})
    assert path.read_bytes() == before


def test_undoing_an_add_by_restoring_the_file_is_respected(ws):
    """The cut-short guard does not fire for a file cut at an entry's start (`git checkout
    papers.yaml` right after an add)."""
    path = ws / "papers.yaml"
    entry = {"id": "undo-me", "title": "Undo me", "authors": ["A B"], "year": 2020,
             "topic": "cnns"}
    catalog_write.append_paper(path, entry)
    shutil.copy(SHIPPED_CATALOG, path)
    catalog_write.append_paper(path, {**entry, "id": "again", "title": "Again"})
    ids = {p.id for p in catalog.load(path).papers}
    assert "again" in ids and "undo-me" not in ids and SHIPPED_IDS <= ids


def test_a_write_that_would_drop_papers_is_refused(ws, monkeypatch):
    """The sanity check behind the insertion: a new catalog that lacks a paper it read is never
    written, whatever went wrong before it."""
    path = ws / "papers.yaml"
    before = path.read_bytes()
    real_insert = catalog_write._insert

    def losing_insert(text, cat, new):
        new_text, new_cat = real_insert(text, cat, new)
        return new_text, Catalog(new_cat.topics, new_cat.papers[1:], new_cat.path)

    monkeypatch.setattr(catalog_write, "_insert", losing_insert)
    with pytest.raises(CatalogConflict, match="would lose"):
        catalog_write.append_paper(path, {"id": "x", "title": "X", "authors": ["A B"],
                                          "year": 2020, "topic": "cnns"})
    assert path.read_bytes() == before


def test_the_app_add_page_and_the_cli_share_the_guarded_writer():
    """Every writer of papers.yaml goes through `add_papers`: no other module replaces it."""
    root = Path(__file__).resolve().parents[2] / "workbench"
    writers = []
    for f in root.rglob("*.py"):
        text = f.read_text("utf-8")
        if re.search(r"catalog_path[^\n]*(write_text|write_bytes|atomic_write)", text) or \
                re.search(r"atomic_write_\w+\(\s*(ws|workspace)\.catalog_path", text):
            writers.append(f.name)
    assert writers == []
    uses = {f.name for f in root.rglob("*.py")
            if re.search(r"\b(add_papers|append_paper)\(", f.read_text("utf-8"))}
    assert {"lookup.py", "bibtex_import.py"} <= uses


# --- what the file is -----------------------------------------------------------------------------


def test_a_symlinked_catalog_is_written_through_and_stays_a_link(tmp_path):
    real_dir = tmp_path / "shared-catalog"
    real_dir.mkdir()
    shutil.copy(SHIPPED_CATALOG, real_dir / "papers.yaml")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "papers.yaml").symlink_to(real_dir / "papers.yaml")
    catalog_write.append_paper(ws / "papers.yaml", {"id": "linked", "title": "Linked",
                                                     "authors": ["A B"], "year": 2020,
                                                     "topic": "cnns"})
    assert (ws / "papers.yaml").is_symlink()
    assert "linked" in catalog.load(real_dir / "papers.yaml")


@pytest.mark.parametrize("argv", [
    ["check"],
    ["bib", "import", "{bib}", "--topic", "cnns", "--yes"],
])
def test_a_fifo_catalog_is_refused_in_one_line_without_hanging(tmp_path, argv, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    os.mkfifo(ws / "papers.yaml")
    bib = bib_file(tmp_path / "a.bib", "delta", 1)
    result: list = []
    t = threading.Thread(target=lambda: result.append(
        main(["--workspace", str(ws), *[a.format(bib=bib) for a in argv]])), daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), "the command hung opening a FIFO"
    err = capsys.readouterr().err
    assert result == [1] and "not a regular file" in err and "Traceback" not in err
    assert (ws / "papers.yaml").is_fifo()


@pytest.mark.parametrize("target", ["fifo", "/dev/null"])
def test_out_to_a_fifo_or_a_device_is_refused_and_left_alone(workspace, tmp_path, target, capsys):
    out = tmp_path / "out.bib"
    if target == "fifo":
        os.mkfifo(out)
    else:
        out = Path(target)
    rc = main(["bib", "export", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc != 0 and "not a regular file" in err and "Traceback" not in err
    assert out.is_fifo() or out.is_char_device()


def test_out_through_a_symlink_updates_the_target(workspace, tmp_path):
    real = tmp_path / "real.bib"
    real.write_text("old")
    link = tmp_path / "link.bib"
    link.symlink_to(real)
    assert main(["bib", "export", "--out", str(link)]) == 0
    assert link.is_symlink() and "@" in real.read_text("utf-8")
