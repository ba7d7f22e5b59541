"""The four jobs end to end in ONE tab, as ONE reader, moving only by the app's own links.

A new student opens the app once (the only `goto`), names herself in the sidebar, and then
clicks: the Library's title opens ResNet, "Read this paper" takes pass 1 to done, the sidebar
goes to the citation graph and to Reproduce (the paper and the reader travel in the URL), a
tiny run starts and the page follows that run (not an older one), and the Sessions page
exports a handout with her notes. Checked on disk: her note file is
`notes/resnet/<reader>.md` (no file for the workspace's default reader), and the run the page
shows is the one she started. Runs after test_e2e.py on the same app, so an older run and
another reader's note exist and must not be what she sees.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.conftest import OUTPUT
from tests.browser.test_e2e import TITLE, choose, expect, settled, shot
from workbench.notes.method import FIVE_CS
from workbench.notes.model import DONE
from workbench.notes.store import load_note
from workbench.workspace import Workspace

pytestmark = pytest.mark.browser

PAPER = "resnet"
ME = "bea"  # typed in the sidebar; the app's default reader (WORKBENCH_READER) is alice
MINE = {c.key: f"{c.name}, as bea sees it: {c.question.lower()}" for c in FIVE_CS}


def sidebar_link(page, title: str, path: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/{path}(\?|$)"))
    settled(page)


def in_url(page, **params: str) -> None:
    for key, value in params.items():
        assert re.search(rf"[?&]{key}={re.escape(value)}(&|$)", page.url), (key, page.url)


def title_cell(page, title: str) -> tuple[float, float]:
    """Where the title's cell is in the Library table (a canvas: its accessible mirror gives
    the row, the row height gives where to click)."""
    table = page.get_by_test_id("stDataFrame").first
    rows = table.locator('[role="row"]')
    expect(rows.filter(has_text=title)).to_have_count(1)  # the grid is drawn after the rerun
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    index = next(i for i, t in enumerate(texts) if title in t)  # 0 is the header
    box = table.bounding_box()
    row_h = 35  # Streamlit's default dataframe row height (header row the same)
    return box["x"] + 60, box["y"] + row_h * index + row_h / 2


def open_from_library(page, title: str) -> None:
    """Click the title's cell in the Library table."""
    page.mouse.click(*title_cell(page, title))


def test_a_student_walks_the_four_jobs_in_one_tab(page, app_server):
    url, root = app_server
    ws = Workspace.resolve(root)
    runs_before = {p.name for p in (root / "runs").iterdir()} if (root / "runs").is_dir() else set()
    notes_before = {p.name for p in (root / "notes" / PAPER).glob("*.md")}

    # 1. find the paper in the Library and open it in this tab
    page.goto(url)
    expect(page.get_by_role("heading", name="Library", exact=True)).to_be_visible()
    search = page.get_by_label("Search title, authors, abstract")
    search.fill("residual")
    search.press("Enter")
    settled(page)
    open_from_library(page, TITLE)
    expect(page).to_have_url(re.compile(rf"/paper\?paper={PAPER}"))
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    settled(page)
    assert len(page.context.pages) == 1  # no new tab, ever

    # 2. read it: pass 1 to done as ME, named once in the sidebar
    page.get_by_role("link", name="Read this paper").click()
    expect(page).to_have_url(re.compile(r"/read\?"))
    settled(page)
    reader_box = page.get_by_role("textbox", name="Reader", exact=True)
    reader_box.fill(ME)
    reader_box.press("Enter")
    settled(page)
    in_url(page, paper=PAPER, reader=ME)
    expect(page.get_by_text(f"notes/{PAPER}/{ME}.md").first).to_be_visible()
    for box in page.get_by_role("checkbox").all():
        box.check(force=True)
        settled(page)
    for c in FIVE_CS:
        area = page.get_by_label(f"{c.name}: {c.question}")
        area.fill(MINE[c.key])
        area.press("Control+Enter")
        settled(page)
    page.get_by_role("button", name="Finish pass 1").click()
    expect(page.get_by_text(f"Saved to notes/{PAPER}/{ME}.md")).to_be_visible()
    settled(page)
    shot(page, "walk-1-read")
    note, _ = load_note(ws, PAPER, ME)
    assert note.pass_note(1).status == DONE
    assert {c.key: getattr(note, c.key) for c in FIVE_CS} == MINE
    assert {p.name for p in (root / "notes" / PAPER).glob("*.md")} == notes_before | {f"{ME}.md"}

    # 3. explore the graph: the sidebar keeps the paper and the reader
    sidebar_link(page, "Graph", "graph")
    in_url(page, paper=PAPER)
    expect(page.get_by_role("heading", name="Citation graph")).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Read first, before ResNet"))).to_be_visible()
    shot(page, "walk-2-graph")

    # 4. launch and watch a run: the page follows the run just started
    sidebar_link(page, "Reproduce", "reproduce")
    in_url(page, paper=PAPER)
    expect(page.get_by_role("combobox", name="Reproduction")).to_have_value(PAPER)
    choose(page, "Preset", "tiny")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_text(re.compile(r"· (queued|running) ·")).first).to_be_visible()
    new = {p.name for p in (root / "runs").iterdir()} - runs_before
    assert len(new) == 1, new
    (run_id,) = new
    expect(page.get_by_text(re.compile(rf"{re.escape(run_id)} · done · tiny")).first).to_be_visible(
        timeout=150_000)
    settled(page)
    picked = page.get_by_role("combobox", name="Run", exact=True)
    expect(picked).to_have_value(re.compile(rf"^{re.escape(run_id)}"))
    assert json.loads((root / "runs" / run_id / "result.json").read_text())["preset"] == "tiny"
    shot(page, "walk-3-reproduce")

    # 5. prepare a session and export it: the handout carries ME's notes, not alice's
    sidebar_link(page, "Sessions", "sessions")
    page.get_by_label("Title", exact=True).fill("Residual networks, bea")
    page.get_by_label("Title", exact=True).press("Enter")
    settled(page)
    search = page.get_by_label("Add a paper: search titles, authors and ids")
    search.fill(TITLE)
    search.press("Enter")
    settled(page)
    page.get_by_role("button", name=re.compile(r"Add$")).click()
    settled(page)
    name = page.get_by_label("File name (sessions/NAME.yaml)")
    name.fill("walk-bea")
    name.press("Enter")
    settled(page)
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_text("Saved sessions/walk-bea.yaml")).to_be_visible()
    settled(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="HTML handout").click()
    target = OUTPUT / "walk-handout.html"
    download.value.save_as(target)
    handout = target.read_text(encoding="utf-8")
    assert MINE["contributions"] in handout
    shot(page, "walk-4-session")
    assert len(page.context.pages) == 1

    # back to reading: still ME, on the same paper
    sidebar_link(page, "Read", "read")
    in_url(page, paper=PAPER, reader=ME)
    expect(page.get_by_text(f"notes/{PAPER}/{ME}.md").first).to_be_visible()
