"""workbench.runs.folders, run_queue, run_results, overrides and reproduction_info: overrides checked
before launch, the on-disk queue, cancel without orphans, failure detection, resume, notes, the
CLI; one real `python -m reproductions` run end to end.

Most tests launch a fake child (tests/runs_helpers.py) that writes the real run-folder format
in a fraction of a second; the queue and process logic is the same for the real command.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys

import pytest

from tests.conftest import SHIPPED_CATALOG
from tests.runs_helpers import (
    cached_descriptions,
    process_gone,
    stop_everything,
    use_fake_child,
    wait_for,
)
from tests.workspaces import make_workspace
from workbench.errors import InvalidId
from workbench.runs import folders as runs
from workbench.runs import overrides
from workbench.runs import processes as run_processes
from workbench.runs import queue as run_queue
from workbench.runs import reproductions as reproduction_info
from workbench.runs import results as run_results


@pytest.fixture
def ws(tmp_path, tmp_path_factory, monkeypatch):
    workspace = make_workspace(tmp_path / "ws", None,
                               descriptions=cached_descriptions(tmp_path_factory),
                               monkeypatch=monkeypatch)
    yield workspace
    stop_everything(workspace)


@pytest.fixture
def fake(ws, tmp_path, monkeypatch):
    use_fake_child(monkeypatch, tmp_path)
    return ws


def finished(ws, run_id):
    run = runs.get_run(ws, run_id)
    return run if run.state not in runs.ACTIVE else None


def pump_until_finished(ws, run_id, max_concurrent=None):
    """Keep pumping the queue (as the app does) until `run_id` has finished."""
    def step():
        run_queue.pump(ws, max_concurrent)
        return finished(ws, run_id)
    return wait_for(step, what=f"{run_id} to finish")


# --- overrides -----------------------------------------------------------------------------------


def test_describe_reports_fields_with_types_and_preset_defaults(ws):
    repro = reproduction_info.describe(ws, "resnet")
    assert {"tiny", "mini"} <= set(repro.presets)
    steps = repro.field("steps")
    assert steps.type == "int" and steps.defaults["tiny"] < steps.defaults["mini"]
    assert repro.field("dataset").choices and repro.field("dataset").kind == "choice"
    assert repro.field("residual").kind == "bool"
    assert (ws.cache_dir / "reproductions" / "all.json").exists()


def test_the_form_shows_key_fields_first_with_types_in_words_and_paper_sections(ws):
    repro = reproduction_info.describe(ws, "resnet")
    assert [f.name for f in repro.key_fields()] == [
        "steps", "seed", "batch_size", "lr", "residual", "stride_in_3x3", "augment", "preact"]
    assert {f.name for f in repro.other_fields()} >= {"layers", "download", "data_root"}
    words = {f.name: f.words for f in repro.fields}
    assert (words["steps"], words["lr"], words["layers"], words["data_root"]) == (
        "whole number", "number", "list of whole numbers", "text, or empty for none")
    sources = {f.name: f.source for f in repro.fields}
    assert (sources["lr"], sources["layers"], sources["residual"], sources["seed"]) == (
        "Sec. 3.4 and 4.2", "Table 1", "Fig. 3; Fig. 6", "")


@pytest.mark.parametrize(("annotation", "words"), [
    ("tuple[int, int]", "2 whole numbers"), ("tuple[tuple[int, ...], ...]",
                                             "list of lists of whole numbers"),
    ("tuple[int, ...] | None", "list of whole numbers, or empty for none"),
    ("Literal['a', 'b']", "one of a, b"), ("tuple[float, float]", "2 numbers")])
def test_types_are_shown_in_words(annotation, words):
    assert reproduction_info.type_words(overrides.parse_type(annotation)) == words


FAKE_DESCRIBE = """\
import json, pathlib, time
gate = pathlib.Path(GATE)
while not gate.exists():
    time.sleep(0.05)
with open(gate.with_name("children"), "a") as fh:
    fh.write("1")
print(json.dumps({"list": [{"name": "toy", "paper": "toy", "title": "Toy", "presets": ["mini"],
                            "claims": 0}],
                  "describe": {"toy": {"name": "toy", "paper": "toy", "title": "Toy",
                                       "presets": ["mini"], "fields": [], "claim_list": []}}}))
"""


def test_app_start_describes_into_the_cache_at_low_priority(tmp_path, monkeypatch):
    """`workbench app` describes the reproductions while Streamlit starts: the answer must reach
    the workspace cache (the app is another process; it used to be lost with the launcher's
    child) and the child must not compete with the first page for the CPU (nice 10)."""
    from workbench.workspace import Workspace

    gate = tmp_path / "gate"
    niceness = tmp_path / "niceness"
    child = FAKE_DESCRIBE.replace("GATE", repr(str(gate))).replace(
        "import json, pathlib, time\n",
        f"import json, os, pathlib, time\npathlib.Path({str(niceness)!r}).write_text("
        "str(os.nice(0)))\n", 1)
    monkeypatch.setattr(reproduction_info, "_CHILD", child)
    ws = Workspace.resolve(tmp_path / "ws")
    thread = reproduction_info.describe_in_background(ws)
    assert thread.daemon and thread.is_alive()  # the launcher goes on to start Streamlit
    gate.touch()
    thread.join(timeout=60)
    assert not thread.is_alive()
    cached = json.loads((ws.cache_dir / "reproductions" / "all.json").read_text())
    assert [r["name"] for r in cached["data"]["list"]] == ["toy"]
    assert int(niceness.read_text()) >= os.nice(0) + 10 or int(niceness.read_text()) == 19


def test_the_cached_descriptions_are_read_once_but_a_rewritten_cache_is_read_again(ws):
    """A Reproduce run asks for the descriptions three times: the 443 KB cache is parsed once
    while it is unchanged, and again as soon as another process rewrites it."""
    cache = ws.cache_dir / "reproductions" / "all.json"
    first = reproduction_info.list_reproductions(ws)
    assert reproduction_info.list_reproductions(ws) is first  # not parsed a second time
    doc = json.loads(cache.read_text())
    doc["data"]["describe"]["resnet"]["title"] = "Retitled by another process"
    cache.write_text(json.dumps(doc) + "\n")
    assert reproduction_info.describe(ws, "resnet").title == "Retitled by another process"


def test_one_background_child_describes_every_reproduction_once_for_every_session(
        tmp_path, monkeypatch):
    """The Reproduce page's first load took 11.8 s: a `list` child and a `describe` child,
    each importing torch, then one more per reproduction picked. Now one child answers all,
    in the background, and its answer on disk serves every later session and process."""
    from workbench.workspace import Workspace

    gate = tmp_path / "gate"
    monkeypatch.setattr(reproduction_info, "_CHILD", FAKE_DESCRIBE.replace("GATE", repr(str(gate))))
    ws = Workspace.resolve(tmp_path / "ws")
    assert reproduction_info.descriptions_ready(ws) is False  # returns at once: child waits
    assert reproduction_info.descriptions_ready(ws) is False  # the same child, not a second
    gate.touch()
    assert [r["name"] for r in reproduction_info.list_reproductions(ws)] == ["toy"]
    assert reproduction_info.describe(ws, "toy").title == "Toy"
    assert reproduction_info.descriptions_ready(ws) is True
    assert (tmp_path / "children").read_text() == "1"
    gate.unlink()  # a child started now would wait forever: none is
    assert reproduction_info.describe(ws, "toy").presets == ("mini",)
    with pytest.raises(reproduction_info.ReproductionUnavailable, match="available: toy"):
        reproduction_info.describe(ws, "resnet")


@pytest.mark.parametrize(("override", "message"), [
    ("stepz=3", "no config key 'stepz'; did you mean 'steps'?"),
    ("steps=abc", "steps must be an int, got 'abc'"),
    ("steps=2.5", "steps must be an int"),
    ("steps=0", "steps must be >= 1"),
    ("lr=-0.1", "lr must be > 0"),
    ("dataset=mnist", "dataset must be one of"),
    ("layers=(1, 'a')", "layers must be"),
    ("steps", "--set expects key=value"),
])
def test_bad_overrides_are_refused_before_anything_is_queued(ws, override, message):
    pattern = message.replace("(", r"\(").replace("?", r"\?")
    with pytest.raises(overrides.ConfigError, match=pattern):
        run_queue.submit(ws, "resnet", "tiny", [override])
    assert runs.list_runs(ws) == []


def test_unknown_preset_and_unknown_reproduction_are_refused(ws):
    with pytest.raises(overrides.ConfigError, match="no preset 'huge'"):
        run_queue.submit(ws, "resnet", "huge")
    with pytest.raises(reproduction_info.ReproductionUnavailable,
                       match="unknown reproduction 'nope'"):
        run_queue.submit(ws, "nope", "tiny")
    assert runs.list_runs(ws) == []


ConfigError = overrides.ConfigError
CASES = [
    ("int", "3", 3), ("int", "3.0", "k must be an int, got 3.0"),
    ("int", "True", "k must be an int, got True"), ("int", "x", "k must be an int, got 'x'"),
    ("float", "1e-3", 0.001), ("float", "2", 2.0), ("float", "'a'", "k must be a float"),
    ("bool", "true", True), ("bool", "1", "k must be True or False, got 1"),
    ("str", "digits", "digits"), ("str", "2024", "2024"), ("str | None", "none", None),
    ("str | None", "/data", "/data"), ("tuple[int, ...]", "[1, 2]", (1, 2)),
    ("tuple[int, ...]", "(1, 'a')", "k must be an int, got 'a'"),
    ("tuple[int, int]", "(1, 2, 3)", "k must have 2 items, got 3"),
    ("list[float]", "[1, 2.5]", [1.0, 2.5]), ("Literal['A', 'B']", "A", "A"),
    ("Literal['A', 'B']", "C", "k must be one of 'A', 'B', got 'C'"),
    ("int | None", "None", None), ("Optional[int]", "4", 4),
    ("float", "1e309", "k must be a finite number"), ("int", "-2", "k counts something"),
]


@pytest.mark.parametrize(("annotation", "text", "expected"), CASES)
def test_one_override_grammar_parses_each_annotation(annotation, text, expected):
    tp = overrides.parse_type(annotation)
    if isinstance(expected, str) and expected.startswith("k "):
        with pytest.raises(ConfigError, match=re.escape(expected)):
            overrides.parse_value(text, tp, "k")
    else:
        got = overrides.parse_value(text, tp, "k")
        assert got == expected and type(got) is type(expected)


def test_the_child_applies_the_same_grammar_to_the_real_dataclass():
    """`reproductions.common.config` has no parser of its own: the same checks, the same lines."""
    import dataclasses

    from reproductions.common import config

    @dataclasses.dataclass(frozen=True)
    class Cfg:
        steps: int = 3
        width: int | None = None
        sizes: tuple[int, ...] = (1,)

    cfg = config.apply_overrides(Cfg(), ["width=8", "sizes=[2, 3]"])
    assert (cfg.width, cfg.sizes) == (8, (2, 3))
    assert config.apply_overrides(Cfg(), {"width": "none"}).width is None
    assert config.parse_value is overrides.parse_value and config.ConfigError is ConfigError
    with pytest.raises(ConfigError, match="width must be int | None, got 'x'"):
        config.apply_overrides(Cfg(), ["width=x"])
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        config.apply_overrides(Cfg(), ["step=2"])


def test_form_values_become_overrides_only_where_they_differ_from_the_preset(ws):
    repro = reproduction_info.describe(ws, "resnet")
    form = {f.name: (f.defaults["tiny"] if f.kind != "text" else reproduction_info.default_text(f, "tiny"))
            for f in repro.fields}
    assert reproduction_info.overrides_from_form(repro, "tiny", form) == {}
    changed = {**form, "steps": "6", "layers": "(2, 2, 2)", "dataset": "cifar10",
               "residual": False, "data_root": ""}
    assert reproduction_info.overrides_from_form(repro, "tiny", changed) == {
        "steps": "6", "layers": "(2, 2, 2)", "dataset": "cifar10", "residual": "False"}
    with pytest.raises(overrides.ConfigError, match="steps is empty"):
        reproduction_info.overrides_from_form(repro, "tiny", {**form, "steps": " "})


# --- the queue and the processes (fake child) ----------------------------------------------------


def test_queued_runs_start_in_order_one_at_a_time(fake, monkeypatch):
    # the first run must still be alive when the queue is pumped again (checking the queued
    # runs' overrides can take seconds on a loaded machine; the fake child's default 0.1 s not)
    monkeypatch.setenv("FAKE_STEP_S", "0.6")
    ids = [run_queue.submit(fake, "resnet", "tiny", [f"steps={n}"]).id for n in (5, 3, 4)]
    assert len(set(ids)) == 3 and all((fake.runs_dir / i).is_dir() for i in ids)
    assert [r.id for r in runs.queued_runs(fake)] == ids
    assert run_queue.pump(fake, max_concurrent=1) == ids[:1]
    assert run_queue.pump(fake, max_concurrent=1) == []  # the slot is taken
    assert [r.state for r in map(lambda i: runs.get_run(fake, i), ids)] == [
        runs.RUNNING, runs.QUEUED, runs.QUEUED]
    for i in ids:
        pump_until_finished(fake, i, 1)
    done = [runs.get_run(fake, i) for i in ids]
    assert [r.state for r in done] == [runs.DONE] * 3
    starts = [json.loads((r.folder / "launch.json").read_text())["started"] for r in done]
    assert starts == sorted(starts)
    assert done[0].headline() == "test_accuracy=0.5"
    assert done[0].verdict_summary() == "1 reproduced in miniature, 1 not applicable"


def test_max_concurrent_runs_start_together(fake, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_RUNS", "2")
    monkeypatch.setenv("FAKE_STEP_S", "0.5")
    ids = [run_queue.submit(fake, "resnet", "tiny", ["steps=20"]).id for _ in range(3)]
    assert run_queue.pump(fake) == ids[:2]
    assert runs.get_run(fake, ids[2]).state == runs.QUEUED


def test_run_folders_are_never_reused(fake):
    a = run_queue.submit(fake, "resnet", "tiny")
    clash = fake.runs_dir / f"{a.id.rsplit('-resnet', 1)[0]}-resnet-2"
    clash.mkdir()
    (clash / "mine.txt").write_text("a user's file")
    b = run_queue.submit(fake, "resnet", "tiny")
    assert b.id not in (a.id, clash.name) and (clash / "mine.txt").read_text() == "a user's file"


def test_cancel_kills_the_whole_process_group_and_marks_the_run_cancelled(fake, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "grandchild")
    monkeypatch.setenv("FAKE_STEP_S", "1")
    run = run_queue.submit(fake, "resnet", "tiny", ["steps=600"])
    run_queue.pump(fake)
    kid = wait_for(lambda: (run.folder / "grandchild.pid").exists(), what="the grandchild")
    assert kid
    pids = [runs.get_run(fake, run.id).pid, int((run.folder / "grandchild.pid").read_text())]
    assert runs.get_run(fake, run.id).state == runs.RUNNING
    assert run_queue.cancel(fake, run.id, grace_s=2).state == runs.CANCELLED
    assert all(process_gone(p) for p in pids)
    with pytest.raises(runs.RunError, match="is cancelled; only queued or running"):
        run_queue.cancel(fake, run.id)


def test_cancel_escalates_to_sigkill_when_sigterm_is_ignored(fake, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "ignore_term")
    monkeypatch.setenv("FAKE_STEP_S", "1")
    run = run_queue.submit(fake, "resnet", "tiny", ["steps=600"])
    run_queue.pump(fake)
    wait_for(lambda: (run.folder / "status.json").exists(), what="the child to start")
    pid = runs.get_run(fake, run.id).pid
    assert run_queue.cancel(fake, run.id, grace_s=0.5).state == runs.CANCELLED
    assert process_gone(pid)


def test_a_queued_run_can_be_cancelled_and_never_starts(fake):
    first = run_queue.submit(fake, "resnet", "tiny", ["steps=3"])
    second = run_queue.submit(fake, "resnet", "tiny", ["steps=3"])
    assert run_queue.cancel(fake, second.id).state == runs.CANCELLED
    run_queue.pump(fake)
    pump_until_finished(fake, first.id)
    assert runs.get_run(fake, second.id).state == runs.CANCELLED
    assert not (second.folder / "launch.json").exists()


def test_a_run_that_fails_shows_failed_with_its_error(fake, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "crash")
    run = run_queue.submit(fake, "resnet", "tiny", ["steps=5"])
    run_queue.pump(fake)
    failed = wait_for(lambda: finished(fake, run.id), what="the crash")
    assert failed.state == runs.FAILED
    assert failed.error == "RuntimeError: shapes (2, 3) and (4, 5) differ"


def test_a_process_that_died_without_a_result_is_failed_with_its_console(fake, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "die")
    run = run_queue.submit(fake, "resnet", "tiny")
    run_queue.pump(fake)
    dead = wait_for(lambda: finished(fake, run.id), what="the child to die")
    assert dead.state == runs.FAILED and dead.error == "fake child: boom, out of memory"
    assert "boom" in runs.log_tail(dead)


def test_a_recycled_pid_is_not_taken_for_a_live_run(fake):
    run = run_queue.submit(fake, "resnet", "tiny")
    # this test process is alive, but it started long after the recorded start time
    (run.folder / "launch.json").write_text(json.dumps(
        {"pid": os.getpid(), "created": 1_000_000.0, "started": 1_000_000.0}))
    assert runs.get_run(fake, run.id).state == runs.FAILED
    assert run_queue.pump(fake) == []  # nothing queued, and no slot is held by a ghost


def test_resume_requeues_a_cancelled_run_to_continue_from_its_checkpoint(fake, monkeypatch):
    monkeypatch.setenv("FAKE_STEP_S", "0.3")
    run = run_queue.submit(fake, "resnet", "tiny", ["steps=200"])
    run_queue.pump(fake)
    wait_for(lambda: runs.get_run(fake, run.id).checkpoints, what="a checkpoint")
    run_queue.cancel(fake, run.id, grace_s=2)
    monkeypatch.setenv("FAKE_STEP_S", "0.001")
    queued = run_queue.resume(fake, run.id)
    assert queued.state == runs.QUEUED and queued.attempt == 2 and queued.resume
    run_queue.pump(fake)
    done = wait_for(lambda: finished(fake, run.id), what="the resumed run")
    assert done.state == runs.DONE
    launch = json.loads((run.folder / "launch.json").read_text())
    assert launch["argv"][-1] == "--resume" and launch["attempt"] == 2
    history = json.loads((run.folder / "request.json").read_text())["history"]
    assert history[0]["state"] == runs.CANCELLED
    assert (run.folder / "log.txt").read_text().splitlines() == [
        "start resume=False", "start resume=True"]
    with pytest.raises(runs.RunError, match="is done; only a failed or cancelled run"):
        run_queue.resume(fake, run.id)


def test_resume_without_a_checkpoint_is_refused(fake, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "die")
    run = run_queue.submit(fake, "resnet", "tiny")
    run_queue.pump(fake)
    wait_for(lambda: finished(fake, run.id), what="the child to die")
    with pytest.raises(runs.RunError, match="no checkpoint to resume from"):
        run_queue.resume(fake, run.id)


def test_supervisor_starts_queued_runs_until_the_queue_is_empty(fake):
    ids = [run_queue.submit(fake, "resnet", "tiny", ["steps=2"]).id for _ in range(2)]
    assert run_queue.supervise(fake, poll_s=0.05) is True
    assert [runs.get_run(fake, i).state for i in ids] == [runs.DONE, runs.DONE]


def test_only_one_supervisor_runs_per_workspace_and_it_never_blocks_the_pumps(fake):
    from workbench.fileio import locked

    run = run_queue.submit(fake, "resnet", "tiny")
    (fake.cache_dir / "runs-supervisor").mkdir()
    with locked(fake.cache_dir / "runs-supervisor") as held:  # another supervisor at work
        assert held
        assert run_queue.supervise(fake, poll_s=0.05) is False
        assert runs.queued_runs(fake)  # the refused supervisor started nothing
        assert run_queue.pump(fake) == [run.id]  # the pumps' lock is another one
    pump_until_finished(fake, run.id)


def test_the_app_and_the_cli_launch_a_run_behind_another_with_a_supervisor(fake, monkeypatch):
    """Both go through `runs.launch`: a run that starts at once needs no supervisor; one queued
    behind another gets one, so it starts even when the tab or the terminal is closed."""
    from tests.apptest_helpers import open_page
    from workbench import runs as public

    shutil.copy(SHIPPED_CATALOG, fake.catalog_path)  # the app's pages need a catalog
    launched, supervisors = [], []
    real_launch = public.launch
    monkeypatch.setattr(public, "launch", lambda ws, run: launched.append(run.id) or
                        real_launch(ws, run))
    monkeypatch.setattr(run_queue, "ensure_supervisor", lambda ws: supervisors.append(ws.root))
    monkeypatch.setenv("FAKE_STEP_S", "0.5")
    assert cli("run", "resnet", "--preset", "tiny", "--set", "steps=600", "--detach") == 0
    (first,) = runs.list_runs(fake)
    assert (launched, supervisors) == ([first.id], []) and first.state == runs.RUNNING

    at = open_page("reproduce.py", paper="resnet")
    at.selectbox(key="repro_preset").set_value("tiny").run()
    at.button(key="run_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    from_app = runs.list_runs(fake)[0]
    assert from_app.state == runs.QUEUED
    assert (launched, supervisors) == ([first.id, from_app.id], [fake.root])

    assert cli("run", "resnet", "--preset", "tiny", "--detach") == 0
    from_cli = runs.list_runs(fake)[0]
    assert from_cli.state == runs.QUEUED and launched[-1] == from_cli.id
    assert supervisors == [fake.root, fake.root]


def test_unknown_and_unsafe_run_ids_are_refused(fake):
    with pytest.raises(runs.RunError, match="no run 'nope'"):
        runs.get_run(fake, "nope")
    with pytest.raises(InvalidId, match="not a slug"):
        runs.get_run(fake, "../etc")


# --- results, comparison, notes ------------------------------------------------------------------


def two_done_runs(ws, preset="tiny"):
    ids = [run_queue.submit(ws, "resnet", preset, [f"steps={n}"]).id for n in (2, 4)]
    for i in ids:
        pump_until_finished(ws, i)
    return [runs.get_run(ws, i) for i in ids]


def test_compare_puts_runs_side_by_side(fake):
    a, b = two_done_runs(fake)
    tables = run_results.compare([a, b])
    assert {"": "steps", a.id: 2, b.id: 4} in tables["config"]
    assert {"": "train_loss (main)", a.id: 0.5, b.id: 0.25} in tables["metrics"]
    assert {"": "degradation", a.id: "reproduced in miniature",
            b.id: "reproduced in miniature"} in tables["claims"]
    fig = run_results.curves_figure({a.id: runs.read_metrics(a), b.id: runs.read_metrics(b)})
    assert [t.name for t in fig.data if t.showlegend] == [a.id, b.id]
    assert {t.xaxis for t in fig.data} == {"x", "x2"}  # loss and accuracy panels


def test_attach_run_to_notes_adds_it_once_and_feeds_the_correctness_verdicts(fake):
    from workbench.notes import store as note_file

    a, _ = two_done_runs(fake, "mini")
    run_results.attach_run_to_notes(fake, "resnet", "alice", a.id)
    note = run_results.attach_run_to_notes(fake, "resnet", "alice", a.id)
    assert note.runs_consulted == (a.id,)
    assert note_file.load_note(fake, "resnet", "alice")[0].runs_consulted == (a.id,)
    assert run_results.correctness_lines(fake, [a.id, "20000101-000000-gone"]) == [
        f"run `{a.id}` (with overrides steps=2) · degradation: **reproduced in miniature** "
        "(measured plain-56 1.2 vs residual-56 0.1; paper: plain-56 > plain-20)",
        f"run `{a.id}`: not measured at this scale: imagenet-top1",
        "run `20000101-000000-gone`: no run '20000101-000000-gone' in "
        f"{fake.runs_dir}; `workbench repro status` lists them"]
    with pytest.raises(runs.RunError, match="reproduces 'resnet', not 'alexnet'"):
        run_results.attach_run_to_notes(fake, "alexnet", "alice", a.id)


def test_a_tiny_smoke_test_is_never_attached_as_evidence(fake):
    a, _ = two_done_runs(fake, "tiny")
    with pytest.raises(runs.RunError, match="is a smoke test .preset tiny. and evaluates no claim"):
        run_results.attach_run_to_notes(fake, "resnet", "alice", a.id)
    assert run_results.correctness_lines(fake, [a.id]) == [
        f"run `{a.id}`: a smoke test (preset tiny); it evaluates no claim"]


def test_the_evidence_is_the_newest_mini_or_paper_run_without_overrides(fake):
    plain = run_queue.submit(fake, "resnet", "mini")
    pump_until_finished(fake, plain.id)
    ablation, smoke = two_done_runs(fake, "mini")[0], two_done_runs(fake, "tiny")[1]
    newest_first = runs.list_runs(fake)
    assert newest_first[-1].id == plain.id
    assert run_results.evidence_run(newest_first).id == plain.id
    assert "changed the preset (steps=2)" in run_results.evidence_problem(ablation)
    rows = {r["run"]: r for r in run_results.history_rows(newest_first)}
    assert (rows[plain.id]["evidence"], rows[ablation.id]["evidence"],
            rows[smoke.id]["evidence"], rows[smoke.id]["preset"]) == (
        "yes", "no: overrides", "no: smoke test", "tiny (smoke test)")
    assert "smoke test" in run_results.preset_label("tiny")
    assert run_results.preset_label("mini") == (
        "mini · recommended: the miniature experiment, about a CPU minute")
    assert "recommended" in run_results.preset_label("mini", newest_first)
    assert "your last one took" in run_results.preset_label("mini", newest_first)


def test_attach_refuses_a_run_that_has_not_finished(fake):
    run = run_queue.submit(fake, "resnet", "tiny")
    with pytest.raises(runs.RunError, match="is queued; only a finished run"):
        run_results.attach_run_to_notes(fake, "resnet", "alice", run.id)


# --- the CLI -------------------------------------------------------------------------------------


def cli(*args):
    from workbench.cli.commands import main

    return main(["repro", *args])


def test_cli_refuses_bad_overrides_in_one_line(ws, capsys):
    assert cli("run", "resnet", "--preset", "tiny", "--set", "stepz=1") == 1
    err = capsys.readouterr().err
    assert err == "error: resnet has no config key 'stepz'; did you mean 'steps'?\n"
    assert runs.list_runs(ws) == []


def test_cli_foreground_run_prints_verdicts_and_status_lists_it(fake, capsys):
    assert cli("run", "resnet", "--preset", "tiny", "--set", "steps=3") == 0
    out, err = capsys.readouterr()
    assert "reproduced in miniature" in out and "device: cpu" in out
    assert "100%" in err  # the tqdm bar
    (run,) = runs.list_runs(fake)
    assert cli("status") == 0
    assert run.id in capsys.readouterr().out
    assert cli("cancel", run.id) == 1
    assert "only queued or running runs can be cancelled" in capsys.readouterr().err


def test_cli_detach_queues_and_status_and_compare_report(fake, capsys, monkeypatch):
    monkeypatch.setattr(run_queue, "ensure_supervisor", lambda ws: None)  # the app/CLI pump here
    assert cli("run", "resnet", "--preset", "tiny", "--set", "steps=2", "--detach") == 0
    assert cli("run", "resnet", "--preset", "tiny", "--set", "steps=4", "--detach") == 0
    out = capsys.readouterr().out
    assert "running" in out and "queued" in out
    ids = [r.id for r in runs.list_runs(fake)][::-1]
    for i in ids:
        pump_until_finished(fake, i)
    assert cli("compare", *ids) == 0
    out = capsys.readouterr().out
    assert "steps" in out and "train_loss (main)" in out and "degradation" in out


# --- optional TensorBoard event files ------------------------------------------------------------


def write_run_folder(path):
    from reproductions.common.runfolder import RunFolder

    folder = RunFolder(path)
    folder.start(["python", "-m", "reproductions"], {"name": "resnet", "preset": "tiny"})
    folder.log_metrics({"variant": "main", "step": 1, "loss": 2.0, "lr": 0.1, "time": 0.1})
    folder.log_metrics({"variant": "main", "step": 2, "loss": 1.5, "lr": 0.1, "time": 0.2})
    folder.log_metrics({"variant": "main", "step": 2, "eval": True, "test_accuracy": 0.75})
    folder.finish({"claims": []})


def test_run_folder_writes_tensorboard_events_when_tensorboard_is_installed(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    write_run_folder(tmp_path / "run")
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("main/loss")] == [(1, 2.0), (2, 1.5)]
    assert [(e.step, e.value) for e in events.Scalars("main/eval/test_accuracy")] == [(2, 0.75)]


def test_run_folder_needs_no_tensorboard(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    write_run_folder(tmp_path / "run")
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 3
    assert not (tmp_path / "run" / "tensorboard").exists()


# --- the real command ----------------------------------------------------------------------------


def test_real_tiny_run_writes_its_result_and_verdicts(ws):
    run = run_queue.submit(ws, "resnet", "tiny", ["steps=3"])
    assert run_queue.pump(ws) == [run.id]
    done = wait_for(lambda: finished(ws, run.id), timeout=300, poll=0.5, what="resnet/tiny")
    assert done.state == runs.DONE, runs.log_tail(done)
    assert done.result["paper"] == "resnet" and done.result["claims"]
    assert {c["verdict"] for c in done.result["claims"]} <= {
        "reproduced in miniature", "not reproduced", "not reproduced in miniature",
        "not applicable"}
    env = run_results.environment(done)
    assert env["device"] and env["torch"] and env["seed"] == 0
    assert done.config["config"]["steps"] == 3
    assert [m["step"] for m in runs.read_metrics(done) if not m.get("eval")][-1] == 3
    if importlib.util.find_spec("tensorboard"):  # optional: the dev extra installs it
        assert list((done.folder / "tensorboard").glob("events.out.tfevents.*"))


def test_a_detached_run_is_started_and_followed_by_a_background_supervisor(ws):
    run = run_queue.submit(ws, "resnet", "tiny", ["steps=2"])
    run_queue.ensure_supervisor(ws)  # `workbench repro pump --wait` in its own session
    supervisor = run_processes.SUPERVISORS[-1]
    done = wait_for(lambda: finished(ws, run.id), timeout=300, poll=0.5, what="the run")
    assert done.state == runs.DONE, runs.log_tail(done)
    assert json.loads((done.folder / "launch.json").read_text())["by_pid"] == supervisor.pid
    assert supervisor.wait(timeout=60) == 0  # it leaves once the queue is empty


def test_every_registered_reproduction_has_a_form_that_round_trips_its_presets(ws):
    for entry in reproduction_info.list_reproductions(ws):
        repro = reproduction_info.describe(ws, entry["name"])
        for preset in repro.presets:
            form = {f.name: f.defaults[preset] if f.kind != "text" else
                    reproduction_info.default_text(f, preset) for f in repro.fields}
            assert reproduction_info.overrides_from_form(repro, preset, form) == {}, (entry["name"], preset)


def test_every_registered_reproduction_can_be_run_from_the_workbench(fake):
    """A reproduction is named as its module: depth_anything, latent_diffusion, mask_rcnn and
    captions_pretrain (four catalog papers' links) were refused by the workbench as "not a
    slug", from the CLI and the Reproduce page alike. Each is queued with a valid request and
    a slug run id; one runs to done."""
    names = [e["name"] for e in reproduction_info.list_reproductions(fake)]
    assert {"depth_anything", "latent_diffusion", "resnet"} <= set(names)
    for name in names:
        run = run_queue.submit(fake, name)
        assert run.id.endswith(name.replace("_", "-")) and runs.get_run(fake, run.id).name == name
        assert runs.get_run(fake, run.id).state == runs.QUEUED, name  # not INVALID
        run_queue.cancel(fake, run.id)
    run = run_queue.submit(fake, "latent_diffusion", "tiny")
    run_queue.launch(fake, run)
    done = wait_for(lambda: finished(fake, run.id), what="the run")
    assert done.state == runs.DONE and done.name == "latent_diffusion"
    with pytest.raises(InvalidId, match="'_'"):  # still a name, not a path
        reproduction_info.describe(fake, "../latent_diffusion")


def test_miniature_verdicts_and_paper_scale_numbers_are_shown_apart(tmp_path):
    """A handout or the Reproduce page never puts "reproduced in miniature" in the same row as
    an ImageNet number: claims with `needs` (or, in results written before it existed, not
    applicable and unmeasured) go to the paper table."""
    mini = {"id": "degradation", "text": "t", "paper": "plain-56 worse", "source": "Fig. 1",
            "measured": "plain-56 1.5", "verdict": "reproduced in miniature", "expected": True,
            "compared_with": ["plain-20", "1-NN pixels"], "margin": 0.25, "needs": ""}
    scale = {"id": "imagenet-top1", "text": "t", "paper": "20.74%", "source": "Table 3",
             "measured": "", "verdict": "not applicable", "expected": True, "compared_with": [],
             "margin": None, "needs": "preset paper, ImageNet-1k"}
    old = {"id": "cifar-params", "text": "t", "paper": "0.27M", "source": "Table 6",
           "measured": "", "verdict": "not applicable", "expected": True}
    run = runs.Run("r1", tmp_path, "resnet", "mini", {}, runs.DONE,
                   result={"claims": [mini, scale, old]})
    rows = run_results.claim_rows(run)
    assert [(r["claim"], r["compared with"], r["margin"]) for r in rows] == [
        ("degradation", "plain-20, 1-NN pixels", "+0.25")]
    assert all("paper" not in key for key in rows[0])
    assert [(r["claim"], r["the paper reports"], r["needs"])
            for r in run_results.paper_rows(run)] == [
        ("imagenet-top1", "20.74%", "preset paper, ImageNet-1k"), ("cifar-params", "0.27M", "")]


def test_a_checkpoint_evaluated_against_the_papers_table_shows_its_figure_and_verdict(tmp_path):
    """`python -m reproductions evaluate` writes the paper's figure, the checkpoint's and the
    verdict per metric: the paper table shows them (a run of a miniature shows `needs`)."""
    row = {"id": "imagenet-top1", "text": "t", "paper": "22.85% / 6.71%", "source": "Table 3",
           "needs": "preset paper, ImageNet-1k", "metric": "top1_error", "paper_value": 22.85,
           "ours": 23.4, "protocol": "ten-crop", "note": "", "measured": "top1_error 23.40",
           "verdict": "reproduced at paper scale", "margin": 0.45, "expected": True}
    run = runs.Run("r1", tmp_path, "resnet", "paper", {}, runs.DONE, result={"claims": [row]})
    rows = run_results.paper_rows(run)
    assert [(r["metric"], r["the paper reports"], r["this checkpoint"], r["verdict"])
            for r in rows] == [("top1_error", 22.85, 23.4, "reproduced at paper scale")]
    assert run_results.claim_rows(run) == []  # never beside a miniature's verdicts
    assert run_results.measured_at_scale(rows)
    scale = {**row, "verdict": "not applicable"}
    for key in ("paper_value", "ours", "metric"):
        scale.pop(key)
    plain = runs.Run("r2", tmp_path, "resnet", "mini", {}, runs.DONE, result={"claims": [scale]})
    assert not run_results.measured_at_scale(run_results.paper_rows(plain))
