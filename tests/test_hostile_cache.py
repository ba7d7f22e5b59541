"""Cache bundles checked, damaged caches and read-only workspaces (issue 16, items 10 and 14).

- A shared cache bundle is other people's data: every field of every entry is checked, and a
  bundle with one bad entry is refused whole with one line naming it (`hostile_entries()`
  generates the bad entries). A fetch time in the future would be served forever; an impossible
  one crashed `cache info`.
- A damaged `sources.sqlite3` (`damaged_caches()`) is one clear line from every command that
  uses it, and an error box in the app, never a traceback.
- A read-only workspace (a classmate's folder, a read-only mount): read-only commands work, the
  caches being optional, and commands that must write fail with one line. Tests run as root,
  whom permissions do not stop, so the CLI runs as the user `nobody` (`setpriv`, keeping only
  the right to read) on a workspace made read-only with chmod: real EACCES from the kernel, no
  mock.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pytest

from tests.apptest_helpers import errors, open_page
from tests.conftest import REPO
from tests.fake_services import arxiv_atom
from tests.pdf_fixtures import TITLE, make_paper
from workbench.cli.commands import main
from workbench.fileio import write_cache_bytes
from workbench.notes import model as notes
from workbench.notes import store as note_file
from workbench.sessions import plan as sessions
from workbench.sources import open_sources
from workbench.sources.cache import CacheError, HttpReply, ResponseCache
from workbench.workspace import Workspace

NOW = time.time()
GOOD = {"key": "arxiv GET ?id_list=1", "service": "arxiv", "content_type": "application/atom+xml",
        "fetched_at": NOW - 3600, "encoding": "utf-8", "body": "<feed/>"}


def bundle(path: Path, entries: list, **doc) -> Path:
    """A bundle as `cache export` writes it (json.dumps writes Infinity and NaN as JSON does
    not, as a hand-made or hostile bundle can)."""
    doc = {"format": "workbench-source-cache", "version": 1, "exported_at": NOW,
           "entries": entries, **doc}
    path.write_bytes(gzip.compress(json.dumps(doc).encode("utf-8")))
    return path


def hostile_entries():
    """(what, entry, the field the message must name): each entry is wrong in one field."""
    def entry(**change):
        return {**GOOD, "key": "arxiv GET ?id_list=3", **change}

    for value in (1e12, math.inf, -math.inf, math.nan, -1, True, "2024-01-01", None, [NOW]):
        yield f"fetched_at={value!r}", entry(fetched_at=value), "'fetched_at'"
    yield "unknown service", entry(service="evil", key="evil GET /"), "'service'"
    yield "no service", {k: v for k, v in entry().items() if k != "service"}, "'service'"
    yield "key of another service", entry(key="s2 GET /paper"), "'key'"
    yield "key over two lines", entry(key="arxiv GET ?id_list=3\nINJECTED"), "'key'"
    yield "key not a string", entry(key=3), "'key'"
    yield "huge key", entry(key="arxiv " + "x" * 200_000), "'key'"
    yield "content type with a header injected", entry(content_type="a\r\nX-Y: z"), "'content_type'"
    yield "huge content type", entry(content_type="x" * 5000), "'content_type'"
    yield "content type not a string", entry(content_type=7), "'content_type'"
    yield "unknown encoding", entry(encoding="rot13"), "'body'"
    yield "body not a string", entry(body={"a": 1}), "'body'"
    yield "corrupt base64", entry(encoding="base64", body="!!not base64!!"), "'body'"
    yield "not an object", ["arxiv GET ?id_list=3"], "not an object"


CASES = list(hostile_entries())


def run(ws: Workspace, capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["--workspace", str(ws.root), *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if not ln.startswith(("WARNING", "INFO", "note:"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# --- item 10: bundles ------------------------------------------------------------------------------


@pytest.mark.parametrize("what, entry, field", CASES, ids=[c[0] for c in CASES])
def test_a_bundle_with_one_bad_entry_is_refused_whole_naming_the_entry(workspace, capsys,
                                                                       tmp_path, what, entry,
                                                                       field):
    cache = ResponseCache.for_workspace(workspace)
    cache.put("s2 GET /paper/x?", "s2", b"{}", "application/json", fetched_at=NOW - 60)
    good2 = {**GOOD, "key": "arxiv GET ?id_list=2"}
    path = bundle(tmp_path / "class.wbcache.gz", [GOOD, good2, entry])
    rc, _, err = run(workspace, capsys, "cache", "import", str(path))
    line = one_error_line(err)
    assert rc == 1 and "entry #3 is malformed" in line and field in line, line
    assert len(line) < 400
    assert cache.info().entries == {"s2": 1}  # nothing imported, not even the good entries
    assert run(workspace, capsys, "cache", "info")[0] == 0


def test_a_bundle_exported_in_the_future_is_refused(workspace, capsys, tmp_path):
    path = bundle(tmp_path / "b.gz", [GOOD], exported_at=math.inf)
    rc, _, err = run(workspace, capsys, "cache", "import", str(path))
    assert rc == 1 and "'exported_at'" in one_error_line(err)


def test_a_good_bundle_still_imports(workspace, capsys, tmp_path):
    path = bundle(tmp_path / "b.gz", [GOOD, {**GOOD, "key": "arxiv GET ?id_list=2",
                                             "fetched_at": NOW + 3600}])  # a clock an hour ahead
    assert run(workspace, capsys, "cache", "import", str(path))[0] == 0
    assert ResponseCache.for_workspace(workspace).info().entries == {"arxiv": 2}


def test_cache_info_survives_times_put_there_before_bundles_were_checked(workspace, capsys):
    cache = ResponseCache.for_workspace(workspace)
    for i, when in enumerate((1e12, math.inf, -1e15)):
        cache.put(f"arxiv GET ?id_list={i}", "arxiv", b"<feed/>", "", fetched_at=when)
    rc, out, err = run(workspace, capsys, "cache", "info")
    assert rc == 0 and "entries: 3" in out and "impossible time" in out, (out, err)


def test_an_entry_dated_in_the_future_is_fetched_again_not_served_forever(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite3")
    cache.put("arxiv GET ?id_list=9", "arxiv", b"poisoned", fetched_at=NOW + 10 * 365 * 86400)
    reply = cache.fetch("arxiv GET ?id_list=9", lambda: HttpReply(200, b"fresh"),
                        service="arxiv", what="id 9")
    assert reply.body == b"fresh" and cache.get("arxiv GET ?id_list=9").body == b"fresh"


# --- item 10: a damaged sources.sqlite3 ---------------------------------------------------------


def damaged_caches(good: bytes):
    """(what, bytes of sources.sqlite3) for ways a cache file gets damaged."""
    yield "not sqlite at all", b"this is not sqlite" * 100
    yield "pages overwritten", good[:8192] + b"A" * 12000 + good[20192:]
    yield "cut short", good[: len(good) // 3]
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE responses (x)")
    yield "a table that is not ours", con.serialize()
    con.close()


def _good_cache_bytes(tmp: Path) -> bytes:
    cache = ResponseCache(tmp / "good.sqlite3")
    for i in range(300):
        cache.put(f"arxiv GET ?id_list={i}", "arxiv", b"x" * 3000, "", fetched_at=NOW - i)
    return (tmp / "good.sqlite3").read_bytes()


DAMAGED = ["not sqlite at all", "pages overwritten", "cut short", "a table that is not ours"]


@pytest.mark.parametrize("what", DAMAGED)
def test_every_cache_command_says_a_damaged_cache_in_one_line(workspace, capsys, tmp_path, what):
    data = dict(damaged_caches(_good_cache_bytes(tmp_path)))[what]
    db = workspace.cache_dir / "sources.sqlite3"
    db.parent.mkdir()
    db.write_bytes(data)
    good = bundle(tmp_path / "b.gz", [GOOD])
    commands = [("cache", "info"), ("cache", "export", str(tmp_path / "out.gz")),
                ("cache", "import", str(good)),
                ("add", "2501.01234", "--offline", "--yes", "--topic", "cnns")]
    for argv in commands:
        rc, out, err = run(workspace, capsys, *argv)
        line = one_error_line(err)
        assert rc == 1 and str(db) in line, (argv, err)
        if argv[1] != "import":  # reading it: say how to recover
            assert "delete it" in line, (argv, line)
    assert db.read_bytes() == data  # nothing "repaired" behind the user's back
    assert run(workspace, capsys, "graph", "stats")[0] == 0  # the graph does not need it


def test_app_pages_that_use_the_cache_show_a_damaged_one_in_an_error_box(workspace, tmp_path):
    db = workspace.cache_dir / "sources.sqlite3"
    db.parent.mkdir()
    db.write_bytes(dict(damaged_caches(_good_cache_bytes(tmp_path)))["pages overwritten"])
    at = open_page("add.py")
    at.text_input(key="add_query").input("2501.01234")
    at.checkbox(key="add_offline").check()
    at.button(key="add_lookup").click().run()
    assert not at.exception
    assert any("damaged" in e and str(db) in e for e in errors(at)), errors(at)
    at = open_page("graph.py", paper="resnet")  # fails the test if the page raised
    assert not errors(at)


# --- item 14: read-only workspaces --------------------------------------------------------------

CATALOG = """\
topics:
  - id: cnns
    title: Convolutional networks
papers:
  - id: tiny
    title: Skip Connections Make Tiny Networks Trainable
    authors: [Ada Lovelace]
    year: 2024
    topic: cnns
  - id: resnet
    title: Deep Residual Learning for Image Recognition
    authors: [Kaiming He]
    year: 2015
    arxiv: "1512.03385"
    topic: cnns
    cites: [tiny]
"""
NEW_ID = "2501.01234"


@functools.cache
def as_nobody() -> list[str] | None:
    """How to run a command as a user whom write permissions stop: as is when not root, else
    `setpriv` to nobody, keeping only the right to read and search any folder (the interpreter
    may live in root's home, and the PDF worker processes start it again); None when that
    cannot run Python here."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
              "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    probe = "import subprocess, sys; subprocess.run([sys.executable, '-c', '0'], check=True)"
    try:
        subprocess.run([*prefix, sys.executable, "-c", probe], check=True, timeout=60,
                       capture_output=True, cwd="/")
    except (OSError, subprocess.SubprocessError):
        return None
    return prefix


DRIVER = r"""
import contextlib, io, json, sys, traceback
from workbench.cli.commands import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
        except BaseException:
            rc = "crashed"
            err.write(traceback.format_exc())
    results.append({"rc": rc, "out": out.getvalue(), "err": err.getvalue()})
print(json.dumps(results))
"""


def run_unprivileged(argvs: list[list[str]], cwd: Path, home: Path) -> list[dict]:
    """Run `workbench` commands in one process as an unprivileged user (the CLI's `main`, so
    a traceback is caught and reported, not lost)."""
    prefix = as_nobody()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(REPO),
           **{k: v for k, v in os.environ.items() if k.startswith("WORKBENCH_")}}
    env.pop("WORKBENCH_WORKSPACE", None)
    proc = subprocess.run([*prefix, sys.executable, "-c", DRIVER, json.dumps(argvs)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "dir" for p in sorted(root.rglob("*"))}


@pytest.fixture(params=["no caches yet", "with caches"])
def readonly_ws(request, fake_services):
    """A workspace nobody may write: a catalog, a PDF, alice's notes, a session; "with caches"
    also has the response cache (holding arXiv's answer for NEW_ID) and the PDF cache. Made in
    a folder under the system temp dir that others may enter (pytest's own is root-only)."""
    prefix = as_nobody()
    if prefix is None:
        pytest.skip("running as root, and `setpriv` cannot run Python as nobody here: no "
                    "way to run as a user that permissions stop")
    base = Path(tempfile.mkdtemp(prefix="wb-readonly-"))
    base.chmod(0o755)
    root, out, home = base / "ws", base / "out", base / "home"
    for d in (root, out, home):
        d.mkdir()
    out.chmod(0o777)
    home.chmod(0o777)
    (root / "papers.yaml").write_text(CATALOG, encoding="utf-8")
    make_paper(root / "pdfs" / "tiny.pdf")
    ws = Workspace.resolve(root)
    note = dataclasses.replace(notes.new_note("tiny", "alice"),
                               category="A small empirical paper.")
    note_file.save_note(ws, notes.mark_started(note, 1), None)
    sessions.save_session(ws, sessions.Session("week-1", "Week 1", date(2025, 3, 10),
                                               ("tiny", "resnet")), None)
    if request.param == "with caches":
        fake_services.add_atom({"id_list": NEW_ID}, arxiv_atom([{
            "id": f"{NEW_ID}v1", "title": "A Fresh Preprint", "summary": "Brand new.",
            "authors": ["Ada Lovelace"], "categories": ["cs.LG"],
            "published": "2025-01-02T10:00:00Z"}]))
        open_sources(ws, offline=False).arxiv.entry(NEW_ID)
        assert main(["--workspace", str(root), "pdf", "tiny"]) == 0  # fills .workbench/pdf/
    (base / "x.bib").write_text("@article{doe2020, title={A Title}, author={Doe, Jane}, "
                                "year={2020}}\n")
    bundle(base / "new.gz", [GOOD])
    for p in [root, *root.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    yield root, out, home, base, request.param
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(base)


def test_read_only_workspace_reads_work_and_writes_fail_in_one_line(readonly_ws, capsys):
    root, out, home, base, variant = readonly_ws
    ws = ["--workspace", str(root)]
    reads = {
        "graph stats": (["graph", "stats"], "citation graph: 2 papers"),
        "graph export": (["graph", "export", "json", "--out", f"{out}/g.json"], "wrote"),
        "graph export svg": (["graph", "export", "svg", "--out", f"{out}/g.svg"], "wrote"),
        "pdf": (["pdf", "tiny"], TITLE),
        "handout html": (["handout", "week-1", "--format", "html", "--out", f"{out}/h.html"],
                         "wrote"),
        "handout pdf": (["handout", "week-1", "--format", "pdf", "--out", f"{out}/h.pdf"],
                        "wrote"),
        "notes": (["notes", "tiny", "--reader", "alice"], "A small empirical paper."),
        "status": (["status", "--reader", "alice"], "cnns"),
        "cache info": (["cache", "info"],
                       "entries: 1" if variant == "with caches" else "entries: 0"),
        "cache export": (["cache", "export", f"{out}/b.gz"], "exported"),
    }
    writes = {
        "cache import": (["cache", "import", f"{base}/new.gz"],
                         "cannot write the response cache"),
        "handout into the workspace": (["handout", "week-1", "--format", "html"],
                                       "Permission denied"),
        "notes --out": (["notes", "tiny", "--reader", "alice", "--out", f"{root}/n.md"],
                        "Permission denied"),
        "bib import": (["bib", "import", f"{base}/x.bib", "--yes", "--topic", "cnns"],
                       "Permission denied"),
        "add": (["add", NEW_ID, "--offline", "--yes", "--topic", "cnns", "--no-cites"],
                "Permission denied" if variant == "with caches" else "not in the cache"),
    }
    before = tree(root)
    results = run_unprivileged([ws + argv for argv, _ in (*reads.values(), *writes.values())],
                               cwd=root, home=home)
    assert tree(root) == before  # nothing in the workspace was created or changed
    for (name, (_, expected)), res in zip(reads.items(), results[:len(reads)], strict=True):
        assert res["rc"] == 0 and expected in res["out"], (name, res)
    assert (out / "h.pdf").read_bytes().startswith(b"%PDF")
    for (name, (_, expected)), res in zip(writes.items(), results[len(reads):], strict=True):
        assert res["rc"] == 1 and expected in one_error_line(res["err"]), (name, res)


def test_a_cache_write_that_cannot_happen_is_skipped_not_raised(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    assert write_cache_bytes(blocker / "pdf" / "a.json", b"{}") is False  # ENOTDIR, even as root
    assert write_cache_bytes(tmp_path / "pdf" / "a.json", b"{}") is True
    assert (tmp_path / "pdf" / "a.json").read_bytes() == b"{}"


def test_a_response_that_cannot_be_cached_is_still_returned_with_a_notice(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    cache = ResponseCache(blocker / "sources.sqlite3")
    reply = cache.fetch("arxiv GET ?id_list=5", lambda: HttpReply(200, b"<feed/>"),
                        service="arxiv", what="id 5")
    assert reply.body == b"<feed/>"
    assert any("not kept" in n for n in cache.notices), cache.notices
    with pytest.raises(CacheError):  # while a command whose job is to write says so
        cache.import_bundle(bundle(tmp_path / "b.gz", [GOOD]))
