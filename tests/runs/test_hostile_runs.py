"""A workspace is untrusted input (a cloned classmate's folder): it never runs its own code, a
bad queued request.json is shown with its reason and never started, and absurd `--set` numbers
are refused by both override parsers.

The hostile workspace holds `reproductions/`, `workbench/` and `streamlit/` packages and
`torch.py`, `numpy.py`, each of which appends its name to a marker file outside the workspace
when imported. The real commands run in it (`workbench repro status`, the queue's pump, the
background supervisor, `workbench app`, `python -m reproductions list`) and the marker must
never appear. Hostile request.json files are a list below plus a Hypothesis generator
($FUZZ_EXAMPLES examples, default 150).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.runs_helpers import cached_descriptions, stop_everything, use_fake_child, wait_for
from tests.workspaces import make_workspace
from workbench.errors import WorkbenchError
from workbench.runs import folders as runs
from workbench.runs import queue as run_queue
from workbench.runs import reproductions as reproduction_info
from workbench.runs import results as run_results
from workbench.runs.reproductions import validate_overrides

WORKBENCH = Path(sys.executable).parent / "workbench"  # the console script a user types
HOSTILE_MODULES = ("reproductions/__init__.py", "reproductions/__main__.py",
                   "workbench/__init__.py", "workbench/__main__.py", "streamlit/__init__.py",
                   "streamlit/__main__.py", "torch.py", "numpy.py")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))


def plant_code(root: Path, marker: Path) -> None:
    """Modules that shadow the real ones if the workspace is ever on sys.path."""
    for rel in HOSTILE_MODULES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"with open({str(marker)!r}, 'a') as fh:\n    fh.write({rel!r} + '\\n')\n")


def queue_request(ws, request: dict | list | str, run_id: str = "20240101-000000-resnet") -> Path:
    """A run folder as a clone brings it: request.json only (a str is written as it is)."""
    folder = ws.runs_dir / run_id
    folder.mkdir(parents=True)
    text = request if isinstance(request, str) else json.dumps(request)
    (folder / "request.json").write_text(text)
    return folder


GOOD = {"name": "resnet", "preset": "tiny", "overrides": {"steps": "1"}, "checkpoint_every": None,
        "queued_ns": 1, "submitted": "2024-01-01T00:00:00Z", "attempt": 1, "resume": False,
        "history": []}


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "workspace-code-ran.txt"
    yield path
    assert not path.exists(), f"workspace code ran: {path.read_text()}"


@pytest.fixture
def ws(tmp_path, tmp_path_factory, monkeypatch):
    workspace = make_workspace(tmp_path / "classmate", descriptions=cached_descriptions(
        tmp_path_factory), monkeypatch=monkeypatch)
    yield workspace
    stop_everything(workspace)


@pytest.fixture
def hostile(ws, marker):
    plant_code(ws.root, marker)
    return ws


def started_by_the_installed_package(folder: Path) -> dict:
    """config.json, which only the real `reproductions` package writes (after its imports)."""
    def started_or_ended():
        return runs.read_json(folder / "config.json") or runs.load_run(folder).state not in (
            runs.QUEUED, runs.RUNNING)
    config = wait_for(started_or_ended, timeout=300, poll=0.2, what="the run to start")
    assert isinstance(config, dict), f"the run ended before starting: {runs.load_run(folder)}"
    return config


# --- item 3: a workspace never runs its own code -------------------------------------------------


def test_repro_status_in_a_cloned_workspace_starts_the_installed_package_only(hostile, marker):
    folder = queue_request(hostile, GOOD)
    done = subprocess.run([str(WORKBENCH), "repro", "status"], cwd=hostile.root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert folder.name in done.stdout
    assert started_by_the_installed_package(folder)["name"] == "resnet"
    assert not marker.exists()


def test_the_pump_ignores_the_working_directory_even_on_pythonpath(hostile, marker, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep + "relative/dir")  # '' is the working directory
    folder = queue_request(hostile, GOOD)
    assert run_queue.pump(hostile) == [folder.name]
    assert started_by_the_installed_package(folder)["preset"] == "tiny"
    assert not marker.exists()


def test_describing_the_reproductions_never_imports_the_workspace(hostile, marker, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep)
    shutil.rmtree(hostile.cache_dir / "reproductions")  # ask `python -m reproductions list`
    names = [r["name"] for r in reproduction_info.list_reproductions(hostile)]
    assert "resnet" in names
    assert not marker.exists()


def test_the_background_supervisor_never_imports_the_workspace(hostile, marker, monkeypatch):
    folder = queue_request(hostile, {**GOOD, "preset": "enormous"})
    with monkeypatch.context() as m:
        m.chdir(hostile.root)  # the app or CLI was started inside the clone
        run_queue.ensure_supervisor(hostile)
    run_queue.run_processes.SUPERVISORS[-1].wait(timeout=120)
    assert runs.load_run(folder).state == runs.INVALID
    assert not marker.exists(), (hostile.cache_dir / "supervisor.log").read_text()


def test_the_app_started_in_a_cloned_workspace_imports_the_installed_streamlit(hostile, marker):
    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(WORKBENCH), "app", "--port", str(port)], cwd=hostile.root,
                            env={**os.environ, "WORKBENCH_OFFLINE": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        def listening():
            family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(True)]
            return proc.poll() is not None or any(
                c.status == psutil.CONN_LISTEN and c.laddr.port == port
                for p in family for c in p.net_connections(kind="inet"))
        wait_for(listening, timeout=120, poll=0.3, what="the app to listen")
        assert proc.poll() is None, "the app exited"
    finally:
        with contextlib.suppress(ProcessLookupError):  # it exited: the assertion says so
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert not marker.exists()


@pytest.mark.slow
def test_a_cloned_workspace_without_a_cache_runs_to_done_on_the_installed_package(hostile, marker):
    """End to end: no cached descriptions, `repro status` describes, starts and the run ends."""
    shutil.rmtree(hostile.cache_dir)
    folder = queue_request(hostile, GOOD)
    done = subprocess.run([str(WORKBENCH), "repro", "status"], cwd=hostile.root,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    run = wait_for(lambda: (r := runs.load_run(folder)).state not in runs.ACTIVE and r,
                   timeout=600, poll=0.5, what="the run to end")
    assert run.state == runs.DONE, run.error
    assert not marker.exists()


# --- item 3: every field of request.json is checked before anything starts ------------------------

BAD_REQUESTS = [
    ({**GOOD, "name": "nosuch"}, "unknown reproduction 'nosuch'"),
    ({**GOOD, "name": "../resnet"}, "is not a reproduction's name"),
    ({**GOOD, "preset": "enormous"}, "resnet has no preset 'enormous'"),
    ({**GOOD, "preset": "--resume"}, "resnet has no preset '--resume'"),
    ({**GOOD, "overrides": {"stepz": "1"}}, "no config key 'stepz'"),
    ({**GOOD, "overrides": {"lr": "1e309"}}, "lr must be a finite number"),
    ({**GOOD, "overrides": {"steps": "__import__('os')"}}, "steps must be an int"),
    ({**GOOD, "overrides": {"steps": "0"}}, "steps must be >= 1"),
    ({**GOOD, "overrides": {"steps": 5}}, "overrides must map config keys to text"),
    ({**GOOD, "overrides": ["steps=1"]}, "overrides must be an object"),
    ({**GOOD, "overrides": {"steps": "1\n--resume"}}, "one line of printable text"),
    ({**GOOD, "name": 7}, "name must be text"),
    ({**GOOD, "checkpoint_every": "5"}, "checkpoint_every must be an integer or null"),
    ({**GOOD, "checkpoint_every": 0}, "checkpoint_every must be >= 1"),
    ({**GOOD, "attempt": True}, "attempt must be an integer"),
    ({**GOOD, "queued_ns": "soon"}, "queued_ns must be an integer"),
    ({**GOOD, "resume": "yes"}, "resume must be true or false"),
    ({**GOOD, "argv": ["python", "-c", "print(1)"]}, "unknown field 'argv'"),
    ({k: v for k, v in GOOD.items() if k != "preset"}, "has no 'preset'"),
    (["resnet", "tiny"], "is not a JSON object"),
    ('{"name": "resnet", "preset": "ti', "is not a JSON object"),  # torn
    ("[" * 100_000, "is not a JSON object"),  # deeper than the JSON parser's recursion limit
]


@pytest.mark.parametrize(("request_json", "reason"), BAD_REQUESTS,
                         ids=[why for _, why in BAD_REQUESTS])
def test_a_bad_request_is_shown_invalid_with_its_reason_and_never_started(ws, request_json,
                                                                          reason, tmp_path,
                                                                          monkeypatch, capsys):
    use_fake_child(monkeypatch, tmp_path)
    folder = queue_request(ws, request_json)
    assert run_queue.pump(ws) == []
    run = runs.get_run(ws, folder.name)
    assert run.state == runs.INVALID and reason in run.error and "\n" not in run.error
    assert not (folder / "launch.json").exists()
    assert run_queue.pump(ws) == []  # still refused on the next pump

    from workbench.cli.commands import main

    assert main(["repro", "status"]) == 0
    listing = capsys.readouterr().out
    assert folder.name in listing and "! invalid" in listing
    assert main(["repro", "status", folder.name]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].startswith(f"{folder.name}: invalid") and shown[1] == f"error: {run.error}"


def test_a_good_request_from_a_clone_still_starts(ws, tmp_path, monkeypatch):
    use_fake_child(monkeypatch, tmp_path)
    folder = queue_request(ws, GOOD)
    assert run_queue.pump(ws) == [folder.name]


def test_links_in_a_queued_run_are_refused_so_the_child_never_writes_through_them(ws, tmp_path,
                                                                                 monkeypatch):
    use_fake_child(monkeypatch, tmp_path)
    precious = tmp_path / "precious.txt"
    precious.write_text("my thesis\n")
    inside = queue_request(ws, GOOD, "20240101-000000-inside")
    (inside / "metrics.jsonl").symlink_to(precious)  # the child appends to metrics.jsonl
    elsewhere = tmp_path / "elsewhere"
    queue_request(ws, GOOD, "elsewhere").rename(elsewhere)
    (ws.runs_dir / "20240101-000000-linked").symlink_to(elsewhere, target_is_directory=True)
    assert run_queue.pump(ws, max_concurrent=5) == []
    states = {r.id: (r.state, r.error) for r in runs.list_runs(ws)}
    assert states["20240101-000000-inside"] == (
        runs.INVALID, "metrics.jsonl in the run folder is a link; a run writes only into its own "
        "folder")
    assert states["20240101-000000-linked"][0] == runs.INVALID
    assert precious.read_text() == "my thesis\n" and sorted(elsewhere.iterdir()) == [
        elsewhere / "request.json"]


def test_fifos_and_endless_files_in_a_run_folder_never_hang_or_crash_the_listing(ws):
    folder = queue_request(ws, GOOD)
    (folder / "launch.json").write_text(json.dumps({"pid": None, "started": "yesterday"}))
    for name in ("status.json", "console.txt"):
        os.mkfifo(folder / name)  # opening one for reading would wait for a writer forever
    (folder / "result.json").symlink_to("/dev/zero")
    (folder / "metrics.jsonl").write_bytes(b'7\n{"loss": 1}\n{"step": 1, "loss": 0.5}\n\xff\n')
    run = runs.get_run(ws, folder.name)
    assert run.state == runs.FAILED and run.started_at is None
    assert runs.read_metrics(run) == [{"step": 1, "loss": 0.5}]
    assert runs.log_tail(run) == ""
    assert run_results.history_rows([run])[0]["status"] == "× failed"


def test_odd_status_and_result_files_show_a_failed_run_instead_of_crashing(ws):
    folder = queue_request(ws, GOOD)
    (folder / "launch.json").write_text(json.dumps({"pid": None, "started": 1.0}))
    (folder / "status.json").write_text(json.dumps({"step": "x", "fraction": 7, "steps": 1e400}))
    (folder / "result.json").write_text(json.dumps({"metrics": {"main": 3}, "claims": [1]}))
    run = runs.get_run(ws, folder.name)
    assert (run.state, run.step, run.steps, run.fraction) == (runs.FAILED, 0, 0, 1.0)
    assert run.error == "result.json: metrics must map each variant to its metrics"
    assert run_results.history_rows([run]) and run_results.compare([run])


def test_a_result_shows_only_the_pngs_in_its_own_figures_folder(ws, tmp_path):
    folder = queue_request(ws, GOOD)
    (folder / "launch.json").write_text(json.dumps({"pid": None, "started": 1.0}))
    (folder / "figures").mkdir()
    png = b"\x89PNG\r\n\x1a\n"
    (folder / "figures" / "good.png").write_bytes(png)
    (tmp_path / "secret.png").write_bytes(png)
    (folder / "figures" / "link.png").symlink_to(tmp_path / "secret.png")
    (folder / "figures" / "page.html").write_text("<script>")
    named = ["figures/good.png", "../../secret.png", "figures/link.png", "figures/page.html",
             "figures/missing.png", "/etc/passwd"]
    (folder / "result.json").write_text(json.dumps({
        "metrics": {"main": {"loss": 1.0}}, "claims": [],
        "figures": [{"file": f, "caption": "c" * 1000, "paper_figure": "Fig. 1"} for f in named]
        + ["figures/good.png", {"file": 3}]}))
    run = runs.get_run(ws, folder.name)
    shown = run_results.run_figures(run)
    assert [f["path"].name for f in shown] == ["good.png"]
    assert len(shown[0]["caption"]) == 300 and shown[0]["paper_figure"] == "Fig. 1"


def test_the_reproduce_page_shows_invalid_runs_and_never_breaks(ws, tmp_path, monkeypatch):
    from tests.apptest_helpers import open_page

    use_fake_child(monkeypatch, tmp_path)
    for n, (request, _) in enumerate(BAD_REQUESTS[:6]):
        queue_request(ws, request, f"20240101-00000{n}-bad")
    at = open_page("reproduce.py", paper="resnet")  # fails if the page raised
    assert not at.exception
    at.selectbox(key="run_filter").set_value("(all)").run()  # bad requests name no reproduction
    table = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert set(table["status"]) == {"! invalid"} and len(table) == 6
    assert any("unknown reproduction 'nosuch'" in v for v in table["verdict"])
    at.selectbox(key="run_pick").set_value("20240101-000005-bad").run()
    assert not at.exception and "is invalid: no result yet" in " ".join(c.value for c in at.caption)


FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3), max_leaves=8)
override_keys = st.sampled_from(["steps", "lr", "layers", "x"])
override_texts = st.sampled_from(["1", "0.1", "1e-3", "1e309", "(1, 1)", "(3, -1)", "-1", "abc"])
well_formed = st.fixed_dictionaries(  # what `submit` writes, with good and bad values
    {"name": st.sampled_from(["resnet", "nosuch"]),
     "preset": st.sampled_from(["tiny", "mini", "resnet50-v1.5", "enormous"])},
    optional={"overrides": st.dictionaries(override_keys, override_texts, max_size=3),
              "checkpoint_every": st.none() | st.integers(1, 100),
              "queued_ns": st.integers(0, 2**63), "attempt": st.integers(1, 3),
              "resume": st.booleans(), "history": st.just([]), "submitted": st.text(max_size=5)})
anything = st.fixed_dictionaries(  # any JSON in any field, and fields submit never writes
    {"name": st.sampled_from(["resnet", "Resnet", ""]) | json_values,
     "preset": st.sampled_from(["tiny", "-x"]) | json_values},
    optional={"overrides": st.dictionaries(override_keys, override_texts | json_values,
                                           max_size=3) | json_values,
              "checkpoint_every": st.integers(-2, 5) | json_values,
              "queued_ns": st.integers() | json_values, "attempt": st.integers(-1, 3) | json_values,
              "resume": json_values, "history": json_values, "submitted": json_values,
              "extra": json_values})
requests = well_formed | anything


@FUZZ
@given(request=requests)
def test_any_request_json_is_started_only_if_the_cli_would_accept_it(ws, request):
    """The queue's verdict on a generated request.json agrees with `submit`'s checks, and the
    listing never raises. A running run holds the one slot, so nothing actually starts."""
    occupant = ws.runs_dir / "occupant"
    if not occupant.exists():
        queue_request(ws, GOOD, "occupant")
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                                   start_new_session=True)
        run_queue.run_processes.CHILDREN[sleeper.pid] = sleeper
        import psutil

        (occupant / "launch.json").write_text(json.dumps(
            {"pid": sleeper.pid, "created": psutil.Process(sleeper.pid).create_time()}))
    folder = queue_request(ws, request, "20240101-000000-fuzz")
    try:
        assert run_queue.pump(ws, max_concurrent=1) == []
        run = runs.get_run(ws, folder.name)
        accepted = runs.request_problem(request) is None
        if accepted:  # well formed: the queue agrees with what `workbench repro run` says
            try:
                run_queue.submit(ws, request["name"], request["preset"],
                                 request.get("overrides", {}))
            except WorkbenchError:
                accepted = False
        event(f"state {run.state}")  # --hypothesis-show-statistics counts both outcomes
        assert run.state == (runs.QUEUED if accepted else runs.INVALID), run.error
        assert run.error is None or "\n" not in run.error
        run_results.history_rows(runs.list_runs(ws))
    finally:
        for extra in ws.runs_dir.iterdir():
            if extra.name != "occupant":
                shutil.rmtree(extra)


# --- item 15: absurd numbers are refused in one line -------------------------------------------

ABSURD = [("lr=1e309", "lr must be a finite number, got inf"),
          ("lr=-1e309", "lr must be a finite number, got -inf"),
          ("lr=1e300", "lr must be at most 2,147,483,647 in size, got 1e+300"),
          ("lr=1" + "0" * 400, f"lr must be at most 2,147,483,647 in size, got 1{'0' * 19}..."),
          ("batch_size=11000000000000000000", "batch_size must be at most 2,147,483,647 in size, "
           "got 11000000000000000000"),
          ("batch_size=1.1e19", "batch_size must be an int, got 1.1e+19"),
          ("seed=2147483648", "seed must be at most 2,147,483,647 in size, got 2147483648"),
          ("layers=(3, -1)", "layers counts something and must be >= 0, got -1"),
          ("steps=-5", "steps counts something and must be >= 0, got -5")]


@pytest.mark.parametrize(("override", "message"), ABSURD, ids=[o[:30] for o, _ in ABSURD])
def test_cli_refuses_absurd_numbers_in_one_line_and_queues_nothing(ws, capsys, override,
                                                                  message):
    from workbench.cli.commands import main

    assert main(["repro", "run", "resnet", "--preset", "tiny", "--set", override]) == 1
    assert capsys.readouterr().err == f"error: {message}\n"
    assert runs.list_runs(ws) == []


@pytest.mark.parametrize(("override", "message"), ABSURD, ids=[o[:30] for o, _ in ABSURD])
def test_the_reproductions_refuse_absurd_numbers_as_the_workbench_does(override, message):
    from reproductions import get
    from reproductions.common.config import ConfigError, apply_overrides

    with pytest.raises(ConfigError) as err:
        apply_overrides(get("resnet").PRESETS["tiny"], [override])
    assert str(err.value) == message


def test_ordinary_numbers_still_pass_both_parsers(ws):
    from reproductions import get
    from reproductions.common.config import apply_overrides

    good = ["lr=1e-8", "weight_decay=0", "momentum=-0.5", "steps=2147483647", "seed=0",
            "layers=(0, 1)"]
    cfg = apply_overrides(get("resnet").PRESETS["tiny"], good)
    assert (cfg.lr, cfg.steps, cfg.layers) == (1e-8, 2147483647, (0, 1))
    repro = reproduction_info.describe(ws, "resnet")
    assert validate_overrides(repro, "tiny", good) == dict(g.split("=") for g in good)

