"""The Reproduce page: launch, watch, cancel, fail, restart, bad overrides; the links to it from
the Paper page and the verdicts on the Read page.

The first three tests launch the real `python -m reproductions run resnet --preset tiny`; the
others use the fake child of tests/runs_helpers.py (same arguments, same run-folder format).
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests import apptest_helpers
from tests.apptest_helpers import errors
from tests.runs_helpers import (
    cached_descriptions,
    process_gone,
    stop_everything,
    use_fake_child,
    wait_for,
)
from tests.workspaces import make_workspace
from workbench.runs import folders as runs
from workbench.runs import queue as run_queue

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
    reproduction: resnet
  - id: vgg
    title: Very Deep Convolutional Networks for Large-Scale Image Recognition
    authors: [Karen Simonyan, Andrew Zisserman]
    year: 2014
    topic: cnns
"""


@pytest.fixture
def ws(tmp_path, tmp_path_factory, monkeypatch):
    workspace = make_workspace(tmp_path / "ws", CATALOG, reader="alice",
                               descriptions=cached_descriptions(tmp_path_factory),
                               monkeypatch=monkeypatch)
    yield workspace
    stop_everything(workspace)


def open_page(page: str = "reproduce.py", paper: str = "resnet") -> AppTest:
    return apptest_helpers.open_page(page, paper=paper)


def start(at: AppTest, preset: str = "tiny", **overrides) -> None:
    at.selectbox(key="repro_preset").set_value(preset).run()
    for name, value in overrides.items():
        widget = at.selectbox(key=f"ov_{name}") if name == "dataset" else at.text_input(
            key=f"ov_{name}")
        widget.set_value(value)
    at.button(key="run_start").click().run()
    assert not at.exception


def history(at: AppTest) -> list[dict]:
    table = next(d.value for d in at.dataframe if "status" in d.value.columns)
    return table.to_dict("records")


def rerun_until(at: AppTest, predicate, what: str, timeout: float = 300):
    """Rerun the app (as the 1 s fragment would) until `predicate(at)` holds."""
    def step():
        at.run()
        assert not at.exception
        return predicate(at)
    return wait_for(step, timeout=timeout, poll=0.5, what=what)


def test_tiny_run_launched_from_the_app_finishes_with_its_verdicts(ws):
    at = open_page()
    assert at.selectbox(key="repro_name").value == "resnet"  # arrived from ?paper=resnet
    start(at, steps="3")
    assert not at.error
    (row,) = rerun_until(at, lambda a: [r for r in history(a) if "done" in r["status"]],
                         "the tiny run to finish")
    assert row["preset"] == "tiny" and row["overrides"] == "steps=3"
    assert row["verdict"] == "4 not applicable" and row["headline metric"]
    claims = next(d.value for d in at.dataframe if "verdict" in d.value.columns
                  and "claim" in d.value.columns)
    assert set(claims["verdict"]) == {"not applicable"} and len(claims) == 4
    env = " ".join(c.value for c in at.caption)
    assert "**device** cpu" in env and "**torch**" in env and "**seed** 0" in env


def test_cancel_stops_a_long_run_and_leaves_no_process(ws):
    at = open_page()
    start(at, steps="100000")
    run = wait_for(lambda: [r for r in runs.list_runs(ws) if r.step > 0], timeout=300,
                   poll=0.5, what="training to start")[0]
    at.run()
    at.button(key="run_cancel").click().run()
    assert not at.exception
    assert runs.get_run(ws, run.id).state == runs.CANCELLED
    assert process_gone(run.pid)
    rerun_until(at, lambda a: history(a)[0]["status"] == "⏹ cancelled", "the cancelled row")


def test_a_run_that_raises_shows_failed_with_its_error(ws):
    at = open_page()
    start(at, dataset="cifar10")  # valid for the Config, but tiny has no CIFAR-10 data
    rerun_until(at, lambda a: any("CIFAR-10 presets need" in e.value for e in a.error),
                "the failure")
    assert history(at)[0]["status"] == "❌ failed"
    assert "CIFAR-10 presets need --set data_root" in history(at)[0]["verdict"]


def test_bad_overrides_are_refused_before_launch(ws):
    at = open_page()
    start(at, steps="abc")
    assert errors(at) == ["Not started: steps must be an int, got 'abc'"]
    start(at, steps="4", lr="-1")
    assert errors(at) == ["Not started: lr must be > 0, got -1.0"]
    start(at, lr="0.1", layers="(1, 'x')")
    assert at.error and at.error[0].value.startswith("Not started: layers must be")
    assert runs.list_runs(ws) == []


def test_an_app_restart_shows_the_same_runs_and_resumes_the_queue(ws, tmp_path, monkeypatch):
    use_fake_child(monkeypatch, tmp_path)
    monkeypatch.setenv("FAKE_STEP_S", "0.1")
    ids = [run_queue.submit(ws, "resnet", "tiny", [f"steps={n}"]).id for n in (20, 2, 2)]
    first = open_page()
    assert [r["run"] for r in history(first)] == ids[::-1]
    assert [r["status"] for r in history(first)] == ["⏳ queued", "⏳ queued", "🏃 running"]
    restarted = open_page()  # a new session: nothing in memory, everything from disk
    assert [r["run"] for r in history(restarted)] == ids[::-1]
    rerun_until(restarted, lambda a: all("done" in r["status"] for r in history(a)),
                "the queue to drain")
    starts = [runs.get_run(ws, i).started_at for i in ids]
    assert starts == sorted(starts)


def test_overlay_and_attach_a_finished_run_to_the_notes(ws, tmp_path, monkeypatch):
    use_fake_child(monkeypatch, tmp_path)
    ids = [run_queue.submit(ws, "resnet", "tiny", [f"steps={n}"]).id for n in (2, 3)]
    at = open_page()
    rerun_until(at, lambda a: all("done" in r["status"] for r in history(a)), "both runs")
    at.multiselect(key="run_overlay").set_value(ids).run()
    charts = at.get("plotly_chart")
    assert charts  # the overlay figure (one line per run)
    at.selectbox(key="run_pick").set_value(ids[0]).run()
    at.button(key="run_attach").click().run()
    assert not at.error and "runs consulted" in at.success[0].value
    read = open_page("read.py")
    lines = " ".join(c.value for c in read.caption)
    assert f"run `{ids[0]}` · degradation: **reproduced in miniature**" in lines


def test_paper_page_links_to_its_reproduction(ws):
    at = open_page("paper.py")
    links = [(link.proto.label, link.proto.page, link.proto.query_string)
             for link in at.get("page_link")]
    assert ("Reproduce this paper", "reproduce", "paper=resnet") in links
    vgg_links = [link.proto.label for link in open_page("paper.py", paper="vgg").get("page_link")]
    assert vgg_links and "Reproduce this paper" not in vgg_links
