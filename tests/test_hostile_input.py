"""Hostile input is refused before it can do harm.

- ids (paper, reader, session, run, reproduction) with `../`, absolute paths, NUL bytes or
  hundreds of characters are refused with a typed one-line error, and the file system is left
  exactly as it was (not one file created, read or written outside the workspace);
- uploads over the size limit are refused and leave nothing in pdfs/;
- YAML that would run code (tags) or explode in size (anchors and aliases, "billion laughs") or
  recurse without end is refused by the catalog, sessions and note front matter, inside a
  process whose memory is capped, so an explosion fails the test instead of the machine;
- every `torch.load` in the code passes `weights_only=True`, and a checkpoint holding a pickled
  object that would run code is refused without running it;
- the app listens on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.workspaces import make_workspace
from workbench.catalog import validate as catalog
from workbench.cli.commands import build_parser, main
from workbench.errors import WorkbenchError
from workbench.notes import model as notes
from workbench.notes import store as note_file
from workbench.pdf import document as pdf
from workbench.pdf import files as pdf_files
from workbench.runs import folders as runs
from workbench.runs import queue as run_queue
from workbench.runs import reproductions as reproduction_info
from workbench.sessions import plan as sessions
from workbench.workspace import Workspace

HOSTILE_IDS = {
    "parent": "../escaped",
    "deep parent": "../../../../../../tmp/escaped",
    "absolute": "/tmp/escaped",
    "nul": "resnet\x00.md",
    "long": "a" * 300,
    "slash": "resnet/../../escaped",
    "backslash": "..\\escaped",
    "dot": ".",
    "empty": "",
    "upper": "ResNet",
    "newline": "resnet\n",
}


def tree(root: Path) -> dict[str, tuple]:
    """Every path under `root` with its size and mtime: a snapshot to compare."""
    out = {}
    for p in root.rglob("*"):
        st = p.lstat()
        out[str(p.relative_to(root))] = (p.is_dir(), st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    """A workspace two levels down, so `../` targets are inside tmp_path where we watch."""
    return make_workspace(tmp_path / "a" / "ws", monkeypatch=monkeypatch)


def refused(action, tmp_path: Path) -> WorkbenchError:
    """Run `action`; it must raise a one-line WorkbenchError and leave tmp_path unchanged."""
    before = tree(tmp_path)
    with pytest.raises(WorkbenchError) as info:
        action()
    assert str(info.value).strip() and "\n" not in str(info.value)
    assert tree(tmp_path) == before, "the refused call touched the file system"
    assert not Path("/tmp/escaped").exists() and not Path("/tmp/escaped.md").exists()
    return info.value


# --- ids ------------------------------------------------------------------------------------------


def id_uses(ws: Workspace, bad: str):
    """Every place an id from a user becomes part of a file name."""
    note = notes.Note("resnet", "alice")
    return {
        "note path (paper)": lambda: ws.note_path(bad, "alice"),
        "note path (reader)": lambda: ws.note_path("resnet", bad),
        "load note (paper)": lambda: note_file.load_note(ws, bad, "alice"),
        "load note (reader)": lambda: note_file.load_note(ws, "resnet", bad),
        "new note": lambda: notes.new_note(bad, "alice"),
        "save note (paper)": lambda: note_file.save_note(ws, notes.Note(bad, "alice"), None),
        "save note (reader)": lambda: note_file.save_note(
            ws, notes.Note("resnet", bad, passes=note.passes), None),
        "upload": lambda: pdf_files.save_upload(b"%PDF-1.4\n%%EOF\n", ws, bad),
        "session path": lambda: sessions.session_path(ws, bad),
        "load session": lambda: sessions.load_session(ws, bad),
        "save session": lambda: sessions.save_session(
            ws, sessions.Session(bad, "A session", papers=("resnet",)), None),
        "run": lambda: runs.get_run(ws, bad),
        "cancel run": lambda: run_queue.cancel(ws, bad),
        "resume run": lambda: run_queue.resume(ws, bad),
        "reproduction": lambda: reproduction_info.describe(ws, bad),
    }


@pytest.mark.parametrize("bad", HOSTILE_IDS.values(), ids=HOSTILE_IDS.keys())
def test_hostile_ids_are_refused_before_touching_the_file_system(ws, tmp_path, bad):
    for use, action in id_uses(ws, bad).items():
        try:
            refused(action, tmp_path)
        except AssertionError as exc:
            raise AssertionError(f"{use}: {exc}") from exc


@pytest.mark.parametrize("bad", ["../escaped", "/tmp/escaped", "a" * 300])
def test_hostile_ids_on_the_command_line_are_one_error_line(ws, tmp_path, bad, capsys):
    before = tree(tmp_path)
    for argv in (["notes", bad, "--reader", "alice"], ["notes", "resnet", "--reader", bad],
                 ["repro", "status", bad], ["repro", "cancel", bad]):
        assert main(["--workspace", str(ws.root), *argv]) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, (argv, err)
    assert tree(tmp_path) == before


def test_hostile_paper_ids_in_the_catalog_are_problems_not_paths(tmp_path):
    for bad in ("../escaped", "/etc/passwd", "a" * 300, "x\x00y"):
        text = (f"topics: [{{id: cnns, title: CNNs}}]\npapers:\n  - id: {bad!r}\n"
                "    title: T\n    authors: [A]\n    year: 2020\n    topic: cnns\n")
        cat, problems = catalog.validate_text(text.replace("'", '"') if "\x00" not in bad
                                              else text)
        assert cat is None and problems, bad


# --- uploads --------------------------------------------------------------------------------------


def test_upload_over_the_size_limit_is_refused_and_nothing_is_kept(ws, tmp_path):
    data = b"%PDF-1.7\n" + b"0" * pdf.MAX_BYTES  # one limit plus a header: too large
    err = refused(lambda: pdf_files.save_upload(data, ws, "resnet"), tmp_path)
    assert isinstance(err, pdf.PdfTooLarge)
    assert f"{pdf.MAX_BYTES // 2**20}" in str(err)  # the message names the limit


def test_upload_that_is_not_a_pdf_is_refused_and_nothing_is_kept(ws, tmp_path):
    for data in (b"<html>captcha</html>", b"MZ\x90\x00 an executable", b""):
        refused(lambda data=data: pdf_files.save_upload(data, ws, "resnet"), tmp_path)


def test_the_apps_upload_limit_is_not_above_the_librarys():
    """Streamlit's own cap (cli: --server.maxUploadSize, MB) must not be below what save_upload
    accepts, or a legal PDF would be refused by the server with a cryptic message."""
    import inspect

    from workbench.cli import commands as cli

    source = inspect.getsource(cli.cmd_app)
    megabytes = int(source.split('"--server.maxUploadSize", "')[1].split('"')[0])
    assert megabytes * 2**20 >= pdf.MAX_BYTES


# --- YAML -----------------------------------------------------------------------------------------

CODE_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/name:os.system",
]


def laughs(levels: int = 10) -> str:
    """A flow list whose last item is 9**levels strings built from `levels` short lines."""
    items = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        items.append(f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "[" + ", ".join(items) + "]"


CAPPED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1_000_000_000, 1_000_000_000))
from workbench.notes import store as note_file
from workbench.sessions import plan as sessions
from workbench.errors import WorkbenchError
LAUGHS = sys.argv[2]
CASES = {
    "session date": lambda: sessions.parse_session(
        f"title: t\\ndate: {LAUGHS}\\npapers: [resnet]", "s"),
    "session papers": lambda: sessions.parse_session(f"title: t\\npapers: {LAUGHS}", "s"),
    "session presenters": lambda: sessions.parse_session(
        f"title: t\\npapers: [resnet]\\npresenters: {{resnet: {LAUGHS}}}", "s"),
    "note references": lambda: note_file.parse(
        f"---\\nreferences_next: {LAUGHS}\\n---\\n".encode(), "resnet", "alice"),
    "note pass status": lambda: note_file.parse(
        f"---\\npass1: {{status: {LAUGHS}}}\\n---\\n".encode(), "resnet", "alice"),
}
try:
    CASES[sys.argv[1]]()
    print("accepted")
except (WorkbenchError, note_file._Unreadable) as exc:
    print("refused: " + str(exc)[:200].replace("\\n", " "))
except MemoryError:
    print("memory exploded")
"""
BILLION_LAUGHS_CASES = ["session date", "session papers", "session presenters",
                        "note references", "note pass status"]


def test_catalog_refuses_code_tags_anchors_and_deep_nesting(tmp_path):
    marker = tmp_path / "ran"
    base = "topics: [{id: cnns, title: CNNs}]\npapers: "
    for tag in CODE_TAGS:
        cat, problems = catalog.validate_text(base + tag.format(marker=marker))
        assert cat is None and any("tag" in p.message for p in problems), tag
    cat, problems = catalog.validate_text(base + laughs())
    assert cat is None and any("anchor" in p.message or "alias" in p.message for p in problems)
    cat, problems = catalog.validate_text(base + "[" * 100_000)
    assert cat is None and any("nesting" in p.message for p in problems)
    assert not marker.exists()


def test_sessions_refuse_code_tags(ws, tmp_path):
    marker = tmp_path / "ran"
    for tag in CODE_TAGS:
        with pytest.raises(sessions.SessionInvalid):
            sessions.parse_session(f"title: x\npapers: {tag.format(marker=marker)}\n", "s")
    assert not marker.exists()


def test_note_front_matter_refuses_code_tags(ws, tmp_path):
    marker = tmp_path / "ran"
    path = ws.note_path("resnet", "alice")
    path.parent.mkdir(parents=True)
    for tag in CODE_TAGS:
        path.write_text(f"---\npass1: {tag.format(marker=marker)}\n---\n", encoding="utf-8")
        with pytest.raises(note_file.NoteUnreadable, match="resnet/alice.md"):
            note_file.load_note(ws, "resnet", "alice")
    assert not marker.exists()


@pytest.mark.parametrize("where", BILLION_LAUGHS_CASES)
def test_billion_laughs_is_refused_by_sessions_and_notes(where):
    """Ten short lines that expand to 9**10 strings: refused, in a process capped at 1 GB."""
    out = subprocess.run([sys.executable, "-c", CAPPED, where, laughs()], capture_output=True,
                         text=True, timeout=300, cwd=REPO)
    result = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-500:]
    assert result.startswith("refused: "), f"{where}: {result}"
    assert len(result) < 300, "the message repeats the exploded value"


@pytest.mark.parametrize("what", ["session", "note"])
def test_deeply_nested_yaml_is_refused_with_a_typed_error(what):
    deep = "[" * 5000
    with pytest.raises(Exception) as info:
        if what == "session":
            sessions.parse_session(f"title: {deep}", "s")
        else:
            note_file.parse(f"---\nx: {deep}\n---\n".encode(), "resnet", "alice")
    assert isinstance(info.value, WorkbenchError | note_file._Unreadable), repr(info.value)


# --- checkpoints ----------------------------------------------------------------------------------


def torch_load_calls(root: Path):
    """(file, line, keywords) of every `torch.load(...)` call in the project's Python files."""
    paths = [p for d in ("workbench", "reproductions", "benchmarks", "scripts", "tests")
             for p in (root / d).rglob("*.py")]
    for path in sorted(paths):
        tree_ = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree_):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "load" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "torch"):
                yield path.relative_to(root), node.lineno, {
                    k.arg: k.value for k in node.keywords}


def test_every_torch_load_passes_weights_only_true():
    calls = list(torch_load_calls(REPO))
    assert any(str(f).startswith("reproductions") for f, _, _ in calls), "found no torch.load"
    for file, line, keywords in calls:
        value = keywords.get("weights_only")
        assert isinstance(value, ast.Constant) and value.value is True, \
            f"{file}:{line}: torch.load without weights_only=True"


class RunsCode:
    """Unpickling this calls `open(marker, 'w')`: the code a hostile checkpoint would run."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_holding_a_pickled_object_is_refused_without_running_it(tmp_path):
    import pickle

    import torch

    from reproductions import resnet
    from reproductions.common.trainer import load_checkpoint

    marker = tmp_path / "ran"
    path = tmp_path / "main.pt"
    torch.save({"config": {}, "model": {}, "step": 1, "payload": RunsCode(marker)}, path)
    with pytest.raises(pickle.UnpicklingError, match="[Ww]eights only"):
        load_checkpoint(path, resnet)
    assert not marker.exists()


# --- the app's address ----------------------------------------------------------------------------


def test_app_listens_on_localhost_by_default():
    args = build_parser().parse_args(["app"])
    assert args.address == "127.0.0.1"


def _lan_address() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def test_a_started_app_accepts_connections_only_on_localhost(tmp_path):
    import psutil

    from tests.fake_services import closed_port_url

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    make_workspace(tmp_path)
    dead = closed_port_url()
    env = {**os.environ, "WORKBENCH_OFFLINE": "1", "WORKBENCH_S2_URL": dead,
           "WORKBENCH_ARXIV_URL": f"{dead}/api/query"}
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "--workspace", str(tmp_path),
                             "app", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        listening = []
        deadline = time.monotonic() + 90
        while not listening and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            family = psutil.Process(proc.pid).children(recursive=True) + [psutil.Process(proc.pid)]
            listening = [c.laddr for p in family for c in p.net_connections(kind="inet")
                         if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
        assert listening, "the app did not start listening"
        assert {addr.ip for addr in listening} == {"127.0.0.1"}
        lan = _lan_address()
        if lan is not None:  # the same port on the machine's network address: refused
            with socket.socket() as s, pytest.raises(OSError):
                s.settimeout(2)
                s.connect((lan, port))
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
