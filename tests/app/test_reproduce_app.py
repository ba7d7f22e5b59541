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
  - id: cifar
    title: Learning Multiple Layers of Features from Tiny Images
    authors: [Alex Krizhevsky]
    year: 2009
    topic: cnns
    reproduction: {module: resnet, preset: resnet20, relation: dataset of,
                   shows: "ResNet-20's preset trains on CIFAR-10."}
  - id: keshav
    title: How to Read a Paper
    authors: [S. Keshav]
    year: 2007
    topic: cnns
    reproduction: {module: workbench, shows: The Read page walks the three passes.}
"""


@pytest.fixture
def ws(tmp_path, tmp_path_factory, monkeypatch):
    workspace = make_workspace(tmp_path / "ws", CATALOG, reader="alice",
                               descriptions=cached_descriptions(tmp_path_factory),
                               monkeypatch=monkeypatch)
    yield workspace
    stop_everything(workspace)


def open_page(page: str = "reproduce.py", paper: str = "resnet") -> AppTest:
    """The page, once its form is drawn: if a reproduction's source changed since the session's
    descriptions were cached (someone edits it), the page first waits for them in the
    background."""
    at = apptest_helpers.open_page(page, paper=paper)
    if page == "reproduce.py" and any("Reading the reproductions'" in i.value for i in at.info):
        rerun_until(at, lambda a: "ov_steps" in [w.key for w in a.text_input], "the form")
    return at


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
    assert row["preset"] == "tiny (smoke test)" and row["overrides"] == "steps=3"
    assert row["evidence"] == "no: smoke test"
    from reproductions import resnet  # every claim of the module, none evaluated by tiny

    assert row["verdict"] == f"{len(resnet.CLAIMS)} not applicable" and row["headline metric"]
    claims = next(d.value for d in at.dataframe if "verdict" in d.value.columns
                  and "claim" in d.value.columns)
    assert set(claims["verdict"]) == {"not applicable"} and "degradation" in set(claims["claim"])
    paper = next(d.value for d in at.dataframe if "needs" in d.value.columns)  # apart
    assert "imagenet-top1" in set(paper["claim"]) and "imagenet-top1" not in set(claims["claim"])
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
    rerun_until(at, lambda a: history(a)[0]["status"] == "■ cancelled", "the cancelled row")


def test_a_run_that_raises_shows_failed_with_its_error(ws):
    at = open_page()
    start(at, dataset="cifar10")  # valid for the Config, but tiny has no CIFAR-10 data
    rerun_until(at, lambda a: any("CIFAR-10 presets need" in e.value for e in a.error),
                "the failure")
    assert history(at)[0]["status"] == "× failed"
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
    assert [r["status"] for r in history(first)] == ["○ queued", "○ queued", "► running"]
    restarted = open_page()  # a new session: nothing in memory, everything from disk
    assert [r["run"] for r in history(restarted)] == ids[::-1]
    rerun_until(restarted, lambda a: all("done" in r["status"] for r in history(a)),
                "the queue to drain")
    starts = [runs.get_run(ws, i).started_at for i in ids]
    assert starts == sorted(starts)


def test_overlay_and_attach_a_finished_run_to_the_notes(ws, tmp_path, monkeypatch):
    use_fake_child(monkeypatch, tmp_path)
    ids = [run_queue.submit(ws, "resnet", "mini", [f"steps={n}"]).id for n in (2, 3)]
    at = open_page()
    rerun_until(at, lambda a: all("done" in r["status"] for r in history(a)), "both runs")
    at.multiselect(key="run_overlay").set_value(ids).run()
    charts = at.get("plotly_chart")
    assert charts  # the overlay figure (one line per run)
    at.selectbox(key="attach_pick").set_value(ids[0]).run()
    at.button(key="run_attach").click().run()
    assert not at.error and "runs consulted" in at.success[0].value
    read = open_page("read.py")
    lines = " ".join(c.value for c in read.caption)
    assert f"run `{ids[0]}` (with overrides steps=2) · degradation: **reproduced in miniature**" \
        in lines


def finish(ws, preset: str, *overrides: str, name: str = "resnet") -> str:
    run = run_queue.submit(ws, name, preset, list(overrides))
    run_queue.launch(ws, run)
    wait_for(lambda: runs.get_run(ws, run.id).state not in runs.ACTIVE, what=run.id)
    return run.id


def test_the_page_opens_on_the_selected_reproductions_newest_run(ws, tmp_path, monkeypatch):
    """/reproduce?paper=resnet used to open on a newer cancelled AlexNet run, and after a run
    the overlay and the result still showed an older one."""
    use_fake_child(monkeypatch, tmp_path)
    older, newest = finish(ws, "mini"), finish(ws, "mini", "steps=2")
    alexnet = run_queue.submit(ws, "alexnet", "mini")
    run_queue.cancel(ws, alexnet.id)
    at = open_page()
    assert at.selectbox(key="run_filter").value == "resnet"
    assert [r["run"] for r in history(at)] == [newest, older]  # no AlexNet run
    assert at.multiselect(key="run_overlay").value == [newest]
    assert at.selectbox(key="run_pick").value == newest
    at.selectbox(key="run_filter").set_value("(all)").run()
    assert [r["run"] for r in history(at)] == [alexnet.id, newest, older]
    at.selectbox(key="run_filter").set_value("resnet").run()
    start(at, "mini", steps="4")  # the run just started is what the page shows
    started = at.session_state["run_watch"]
    assert at.multiselect(key="run_overlay").value == [started]
    assert at.selectbox(key="run_pick").value == started
    rerun_until(at, lambda a: "done" in history(a)[0]["status"], "the new run")
    assert at.selectbox(key="run_pick").value == started
    assert any(d.value.columns.tolist()[:2] == ["claim", "what it shows"] for d in at.dataframe)
    images = at.get("image")  # the figure the run drew, under the paper's figure reference
    assert [c for i in images for c in i.captions] == ["the paper's Fig. 6: training error"]


def test_a_reproduction_named_with_an_underscore_starts_from_the_page(ws, tmp_path,
                                                                      monkeypatch):
    """latent_diffusion (its module's name) was refused as "not a slug" when started."""
    use_fake_child(monkeypatch, tmp_path)
    at = open_page()
    at.selectbox(key="repro_name").set_value("latent_diffusion").run()
    assert not at.exception and not at.error
    start(at)
    assert not at.error
    (row,) = rerun_until(at, lambda a: [r for r in history(a) if "done" in r["status"]],
                         "the run to finish")
    assert row["run"].endswith("-latent-diffusion") and row["reproduction"] == "latent_diffusion"


def test_the_chosen_preset_is_remembered_across_pages(ws):
    at = open_page()
    assert at.selectbox(key="repro_preset").value == "mini"
    at.selectbox(key="repro_preset").set_value("resnet20").run()
    at.switch_page(str(apptest_helpers.APP / "views" / "paper.py")).run()
    at.switch_page(str(apptest_helpers.APP / "views" / "reproduce.py")).run()
    assert not at.exception
    assert at.selectbox(key="repro_preset").value == "resnet20"
    assert at.text_input(key="ov_steps").value == "64000"  # the remembered preset's values


def test_tiny_is_labelled_a_smoke_test_and_mini_recommended(ws):
    at = open_page()
    options = at.selectbox(key="repro_preset").options
    assert "mini · recommended: the miniature experiment, about a CPU minute" in options
    assert any(o.startswith("tiny · smoke test") and "evaluates no claim" in o for o in options)
    assert not at.warning
    at.selectbox(key="repro_preset").set_value("tiny").run()
    assert "is a smoke test" in at.warning[0].value


def test_attach_defaults_to_the_newest_mini_run_without_overrides(ws, tmp_path, monkeypatch):
    use_fake_child(monkeypatch, tmp_path)
    plain = finish(ws, "mini")
    ablation = finish(ws, "mini", "steps=2")
    smoke = finish(ws, "tiny")
    at = open_page()
    attach = at.selectbox(key="attach_pick")
    assert attach.value == plain
    assert smoke not in [o.split(" · ")[0] for o in attach.options]  # never a smoke test
    assert any(o.startswith(f"{ablation} · mini") and "overrides: steps=2" in o
               for o in attach.options)
    assert "Not evidence for the paper's claims" in at.warning[0].value  # the newest: tiny
    at.button(key="run_attach").click().run()
    assert f"{plain} is in alice's notes" in at.success[0].value


def test_the_form_shows_the_key_settings_first_in_words_with_their_sections(ws):
    at = open_page()
    (more,) = [e for e in at.expander if e.label.startswith("All other settings")]
    folded = {w.key for kind in ("text_input", "checkbox", "selectbox") for w in more.get(kind)}
    assert {"ov_layers", "ov_download", "ov_dataset"} <= folded
    assert not folded & {"ov_steps", "ov_seed", "ov_batch_size", "ov_lr", "ov_residual"}
    assert at.text_input(key="ov_lr").label == "lr · Sec. 3.4 and 4.2 (number)"
    assert at.text_input(key="ov_layers").label == "layers · Table 1 (list of whole numbers)"
    assert at.checkbox(key="ov_residual").label == "residual · Fig. 3; Fig. 6"
    labels = [w.label for w in at.text_input]
    assert not [x for x in labels if "tuple[" in x or "| None" in x or "str" in x]


def test_a_cold_first_load_does_not_wait_for_the_reproductions_child(ws, tmp_path,
                                                                      monkeypatch):
    """The first load took 11.8 s: it waited for children importing torch. Now the page
    renders at once and fills in the form when the (one, background) child has answered."""
    from workbench.runs import reproductions as reproduction_info

    gate = tmp_path / "gate"
    real = reproduction_info._CHILD
    monkeypatch.setattr(reproduction_info, "_CHILD", "import pathlib, time\n"
                        f"while not pathlib.Path({str(gate)!r}).exists(): time.sleep(0.05)\n"
                        + real)
    (ws.cache_dir / "reproductions" / "all.json").unlink()
    at = apptest_helpers.open_page("reproduce.py", paper="resnet")
    assert "Reading the reproductions' settings" in at.info[0].value
    assert "ov_steps" not in [w.key for w in at.text_input]
    gate.touch()
    rerun_until(at, lambda a: "ov_steps" in [w.key for w in a.text_input], "the form")
    assert at.selectbox(key="repro_name").value == "resnet"


def test_paper_page_links_to_its_reproduction(ws):
    at = open_page("paper.py")
    links = [(link.proto.label, link.proto.page, link.proto.query_string)
             for link in at.get("page_link")]
    assert ("Reproduce this paper", "reproduce", "paper=resnet") in links
    vgg_links = [link.proto.label for link in open_page("paper.py", paper="vgg").get("page_link")]
    assert vgg_links and "Reproduce this paper" not in vgg_links


def test_a_paper_linked_with_a_relation_says_so_and_opens_the_preset_that_shows_it(ws):
    at = open_page("paper.py", paper="cifar")
    assert any("Dataset of: resnet (preset resnet20). ResNet-20's preset trains on CIFAR-10."
               in c.value for c in at.caption)
    at = open_page("reproduce.py", paper="cifar")
    assert at.selectbox(key="repro_name").value == "resnet"
    assert at.selectbox(key="repro_preset").value == "resnet20"
    assert any("Dataset of: resnet" in c.value for c in at.caption)


def test_the_paper_the_workbench_implements_links_to_the_read_page(ws):
    at = open_page("paper.py", paper="keshav")
    links = [(link.proto.label, link.proto.page) for link in at.get("page_link")]
    assert ("Its method: the Read page", "read") in links
    assert "Reproduce this paper" not in [label for label, _ in links]
    at = open_page("reproduce.py", paper="keshav")
    assert "the workbench itself" in at.info[0].value and not errors(at)


def test_the_code_fold_is_drawn_only_once_opened(ws):
    """Folded, the module's ~80 code blocks and captions were drawn (and the module parsed) on
    every visit; now only when the reader opens the fold."""
    at = open_page()
    (fold,) = [e for e in at.expander if e.label.startswith("Code: reproductions/resnet.py")]
    assert not [c for c in at.code if "class BasicBlock" in c.value]
    at.session_state["repro_code"] = True  # the reader opens it
    at.run()
    assert not at.exception
    assert any("class BasicBlock" in c.value for c in at.code)
    assert ("Read it beside the paper's PDF", "paper", "paper=resnet") in [
        (link.proto.label, link.proto.page, link.proto.query_string)
        for link in at.get("page_link")]
