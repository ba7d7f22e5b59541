"""A student's first session in the real app, in a real browser.

The steps run in order in one tab (as a student would): find a paper in the Library, open it,
take pass 1 to done with the five Cs, reload and find the notes again, look at its citation
graph, run the tiny reproduction to the end, and export a session handout. Each step saves a
screenshot in test-output/browser/ and its wall time in test-output/browser/timings.json.

Selectors are what a person sees: roles with their accessible names (a Streamlit widget's
label), headings and visible text; every wait is on something appearing, never a sleep.
"""

from __future__ import annotations

import re
import time

import pytest
import yaml

from tests.browser.conftest import OUTPUT, READER
from workbench.catalog import validate as catalog
from workbench.catalog.search import filter_papers
from workbench.notes.method import FIVE_CS
from workbench.notes.model import DONE
from workbench.notes.store import load_note
from workbench.workspace import Workspace

pytestmark = pytest.mark.browser

PAPER = "resnet"
TITLE = "Deep Residual Learning for Image Recognition"
ANSWERS = {  # the five Cs, as a student would type them
    "category": "A new architecture, measured on ImageNet and CIFAR-10.",
    "context": "Builds on VGG and highway networks; identity shortcuts instead of gates.",
    "correctness": "Plausible: the degradation problem is shown on plain nets of 18 and 34 layers.",
    "contributions": "Residual blocks let 152-layer nets train; first place in ILSVRC 2015.",
    "clarity": "Clear, with one figure that carries the whole idea.",
}


@pytest.fixture(autouse=True)
def _timed(request, timings, page):
    """Record the step's wall time; on a failure, keep a screenshot of what the page showed."""
    started = time.monotonic()
    yield
    timings[request.node.name] = round(time.monotonic() - started, 1)
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot(page, f"FAILED-{request.node.name}")


def expect(target):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(target)


def shot(page, name: str) -> None:
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def settled(page) -> None:
    """Wait until the app has finished the rerun the last input asked for.

    The frontend marks a requested rerun at once (`rerunRequested`) and says `notRunning` only
    when the server reports the run finished; the 'Running...' widget is no guide, as it
    appears only after a delay. (Streamlit's own browser tests wait the same way.)
    """
    page.wait_for_timeout(150)  # let the input's event reach the frontend's widget manager
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state",
                                                           "notRunning")


def choose(page, label: str, option: str) -> None:
    """Pick the option containing `option` in the select box (or multiselect) labelled `label`,
    typing it first: long lists only draw the options in view."""
    page.get_by_role("combobox", name=label).click()
    page.keyboard.type(option)
    page.get_by_role("option", name=re.compile(re.escape(option))).first.click()
    settled(page)


def go_to(page, link: str, path: str) -> None:
    """Follow a page link in the sidebar and wait for the page to be drawn."""
    page.get_by_role("link", name=link, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/{path}(\?|$)"))
    settled(page)


# --- the journey ----------------------------------------------------------------------------------


def test_library_filters_the_catalog_and_opens_a_paper(page, app_server):
    url, root = app_server
    cat = catalog.load(root / "papers.yaml")
    total, found = len(cat), filter_papers(cat, text="residual")
    page.goto(url)
    expect(page.get_by_role("heading", name="Library", exact=True)).to_be_visible()
    expect(page.get_by_text(f"{total} of {total} papers")).to_be_visible()
    search = page.get_by_label("Search title, authors, abstract")
    search.fill("residual")
    search.press("Enter")
    expect(page.get_by_text(f"{len(found)} of {total} papers")).to_be_visible()
    # the table is a canvas; its cells are mirrored in an accessible grid for screen readers
    rows = page.get_by_test_id("stDataFrame").first.locator('[role="row"]')
    expect(rows.filter(has_text=TITLE)).to_have_count(1)
    expect(rows).to_have_count(len(found) + 1)  # + the header row
    shot(page, "01-library-filtered")

    go_to(page, "Paper", "paper")  # it opens on the first paper of the catalog
    choose(page, "Paper", TITLE)
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/paper\?paper={PAPER}$"))
    citing = cat.cited_by(PAPER)[0]
    expect(page.get_by_role("link", name=citing.title, exact=True)).to_be_visible()
    shot(page, "02-paper")


def test_pass_one_is_finished_with_the_five_cs_and_the_notes_survive_a_reload(page, app_server):
    url, root = app_server
    page.goto(f"{url}/read?paper={PAPER}")
    expect(page.get_by_role("heading", name="Read", exact=True)).to_be_visible()
    expect(page.get_by_role("combobox", name="Paper")).to_have_value(re.compile(TITLE))
    settled(page)
    for box in page.get_by_role("checkbox").all():
        box.check(force=True)  # Streamlit draws its own box over the (hidden) input
        settled(page)
    for c in FIVE_CS:
        area = page.get_by_label(f"{c.name}: {c.question}")
        area.fill(ANSWERS[c.key])
        area.press("Control+Enter")  # commit the text, as clicking elsewhere would
        settled(page)
    shot(page, "03-read-pass1-filled")
    page.get_by_role("button", name="Finish pass 1").click()
    expect(page.get_by_text(f"Saved to notes/{PAPER}/{READER}.md")).to_be_visible()
    settled(page)
    shot(page, "04-read-pass1-done")

    note, _ = load_note(Workspace.resolve(root), PAPER, READER)
    assert note.pass_note(1).status == DONE
    assert {c.key: getattr(note, c.key) for c in FIVE_CS} == ANSWERS

    page.reload()
    expect(page.get_by_role("heading", name="Read", exact=True)).to_be_visible()
    settled(page)
    page.get_by_text(re.compile(r"^Pass 1:")).click()  # the reload opens the next pass
    settled(page)
    expect(page.get_by_text("Status: done")).to_be_visible()
    for c in FIVE_CS:
        expect(page.get_by_label(f"{c.name}: {c.question}")).to_have_value(ANSWERS[c.key])
    shot(page, "05-read-after-reload")


def test_graph_shows_the_papers_citation_neighbourhood(page, app_server):
    url, root = app_server
    cat = catalog.load(root / "papers.yaml")
    page.goto(f"{url}/graph?paper={PAPER}")
    expect(page.get_by_role("heading", name="Citation graph")).to_be_visible()
    settled(page)
    expect(page.get_by_test_id("stPlotlyChart")).to_be_visible()
    expect(page.get_by_role("tab", name="Reading plan")).to_be_visible()
    # the plan: the few papers that matter most before ResNet, each a same-tab link
    plan = page.get_by_role("tabpanel")
    expect(plan.get_by_text(re.compile(r"Read first, before ResNet \(2016\)"))).to_be_visible()
    first = plan.get_by_role("link", name=re.compile(r"^1\. "))
    expect(first).to_be_visible()
    assert first.get_attribute("target") in (None, "", "_self")  # not a new tab
    linked = re.search(r"[?&]paper=([\w-]+)", first.get_attribute("href") or "")
    assert linked and linked.group(1) in cat.by_id and linked.group(1) != PAPER
    shot(page, "06-graph")


def test_a_tiny_reproduction_runs_to_done(page, app_server):
    url, root = app_server
    page.goto(f"{url}/reproduce?paper={PAPER}")
    expect(page.get_by_role("heading", name="Reproduce", exact=True)).to_be_visible()
    expect(page.get_by_role("combobox", name="Reproduction")).to_have_value(PAPER)
    settled(page)
    choose(page, "Preset", "tiny")
    expect(page.get_by_role("combobox", name="Preset")).to_have_value(re.compile(r"^tiny"))
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_text(re.compile(r"· (queued|running) ·"))).to_be_visible()
    shot(page, "07-reproduce-running")
    done = page.get_by_text(re.compile(rf"-{PAPER} · done · tiny"))
    expect(done).to_be_visible(timeout=150_000)
    settled(page)
    expect(page.get_by_role("heading", name="What the run showed")).to_be_visible()
    shot(page, "08-reproduce-done")
    runs = sorted((root / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "result.json").is_file()


def test_a_session_handout_is_exported(page, app_server):
    url, root = app_server
    ws = Workspace.resolve(root)
    if load_note(ws, PAPER, READER)[1] is None:  # this test run alone: the Read step's notes
        from workbench.notes.model import apply_form, new_note
        from workbench.notes.store import save_note

        save_note(ws, apply_form(new_note(PAPER, READER, TITLE),
                                 {f"c_{k}": v for k, v in ANSWERS.items()}), None)
    page.goto(f"{url}/sessions")
    expect(page.get_by_role("heading", name="Sessions", exact=True)).to_be_visible()
    settled(page)
    page.get_by_label("Title", exact=True).fill("Residual networks")
    page.get_by_label("Title", exact=True).press("Enter")
    settled(page)
    search = page.get_by_label("Add a paper: search titles, authors and ids")
    search.fill(TITLE)  # exact text: one match, no fuzzy neighbours
    search.press("Enter")
    settled(page)
    page.get_by_role("button", name=re.compile(r"Add$")).click()
    settled(page)
    presenters = page.get_by_label(re.compile(r"^Presenters of He et al\. 2016"))
    presenters.fill("Alice Martin")
    presenters.press("Enter")
    settled(page)
    name = page.get_by_label("File name (sessions/NAME.yaml)")
    name.fill("residual-networks")
    name.press("Enter")
    settled(page)
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_text("Saved sessions/residual-networks.yaml")).to_be_visible()
    saved = yaml.safe_load((root / "sessions" / "residual-networks.yaml").read_text())
    assert saved["papers"] == [PAPER] and saved["presenters"] == {PAPER: ["Alice Martin"]}

    settled(page)  # downloads are ready once the session is saved: no Prepare click
    html_button = page.get_by_role("button", name="HTML handout")
    expect(html_button).to_be_visible()
    shot(page, "09-session-exports")
    with page.expect_download() as download:
        html_button.click()
    target = OUTPUT / "handout.html"
    download.value.save_as(target)
    handout = target.read_text(encoding="utf-8")
    assert "Residual networks" in handout and TITLE in handout
    assert "Alice Martin" in handout
    assert ANSWERS["contributions"] in handout  # the five Cs from the Read step
