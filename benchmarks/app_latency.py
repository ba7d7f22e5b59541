"""How long a student waits in the app, in Chromium: cold start, each page, each common action.

    python benchmarks/app_latency.py [--repeats 5] [--cold-starts 3] [--json OUT]

Starts `workbench app` on a copy of the shipped papers.yaml (offline, as the browser tests do)
and drives Debian's Chromium through Playwright:

- cold start: from the process start to the Library drawn and settled in a fresh tab, the
  median of `--cold-starts` (3) starts one after another;
- each page: from a click on its sidebar link to the page settled (the server says its script
  finished), `--repeats` visits each, alternating pages so every visit is a real switch;
- actions: open a paper from the Library (click its title), save a note (Read page), switch
  pass (Read page), change the graph's hops (Graph page).

"Settled" is read from the page itself: a MutationObserver stamps every change of Streamlit's
`data-test-script-state` attribute, and a step ends at the last `notRunning` after the click.
The reference, measured in the same run with the same browser: a two-page Streamlit app that
draws a title and a line (the framework's own floor for a cold start, a page switch and a
rerun). Each figure is printed with its ratio to the matching reference figure.
Goals (issue 19, item 19): cold start <= 4 s; every page and action median <= 500 ms, worst
<= 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
TITLE = "Deep Residual Learning for Image Recognition"
GOALS = {"cold": 4000.0, "median": 500.0, "worst": 1500.0}  # milliseconds

REFERENCE_APP = '''
import streamlit as st

st.session_state["runs"] = st.session_state.get("runs", 0) + 1


def one():
    st.title("One")
    st.write(f"run {st.session_state.runs}")
    st.write("A line of text.")
    st.button("Rerun", key="rerun")

def two():
    st.title("Two")
    st.write("Another line.")

st.navigation([st.Page(one, title="One", url_path="one", default=True),
               st.Page(two, title="Two", url_path="two")]).run()
'''

# true (the page clock's time) once the server's script is idle, no element is stale and the
# step's own sign is on the page
SETTLED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  return (%s) ? performance.now() : false;
}"""


def h1_is(text: str) -> str:
    return ("Array.from(document.querySelectorAll('h1'))"
            f".some(h => h.innerText.trim() === {json.dumps(text)})")


def shows(text: str) -> str:
    return f"document.body.innerText.includes({json.dumps(text)})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv_for, cwd: Path, env: dict) -> tuple[subprocess.Popen, str, float]:
    """The server started as `argv_for(port)`, its URL and when it was started (perf_counter)."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(argv_for(port), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - started < 120:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                return proc, url, started
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{argv_for(port)} did not serve within 120 s")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


def timed(page, action, sign: str) -> float:
    """Milliseconds from just before `action()` to the page settled with `sign` (a JS
    expression) true, polled every animation frame in the page's own clock."""
    clicked_at = page.evaluate("() => performance.now()")
    action()
    done = page.wait_for_function(SETTLED % sign, polling="raf", timeout=60_000)
    return done.json_value() - clicked_at


def cold_start(browser, argv_for, cwd, env, heading: str) -> tuple[subprocess.Popen, str, float]:
    """(server, url, ms from the process start to the first page settled in a new tab)."""
    proc, url, started = start(argv_for, cwd, env)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=120_000)
    page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=120_000)
    took = (time.perf_counter() - started) * 1000
    page.close()
    return proc, url, took


def cold_starts(browser, argv_for, cwd, env, heading: str, starts: int
                ) -> tuple[subprocess.Popen, str, list[float]]:
    """`starts` cold starts, one after the other (one sample is noisy: +-0.6 s); the last
    server is left running for the pages."""
    took = []
    for n in range(starts):
        proc, url, ms = cold_start(browser, argv_for, cwd, env, heading)
        took.append(ms)
        if n < starts - 1:
            stop(proc)
            time.sleep(1)
    return proc, url, took


def sidebar(page, title: str):
    return lambda: page.get_by_test_id("stSidebarNav").get_by_role(
        "link", name=title, exact=True).click()


def summary(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), max(samples)


def measure_reference(browser, env, workdir: Path, repeats: int, starts: int
                      ) -> dict[str, list[float]]:
    script = workdir / "reference_app.py"
    script.write_text(REFERENCE_APP)
    proc, url, cold = cold_starts(browser, lambda port: [
        sys.executable, "-m", "streamlit", "run", str(script), "--server.headless=true",
        "--browser.gatherUsageStats=false", "--server.address=127.0.0.1",
        f"--server.port={port}"], workdir, env, "One", starts)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("heading", name="One").wait_for()
        switch, rerun, runs = [], [], 1
        for _ in range(repeats):
            switch.append(timed(page, sidebar(page, "Two"), h1_is("Two")))
            switch.append(timed(page, sidebar(page, "One"), h1_is("One")))
            runs += 2  # the page switch ran the script once more
            rerun.append(timed(page, lambda: page.get_by_role("button", name="Rerun").click(),
                               shows(f"run {runs + 1}")))
            runs += 1
        page.close()
    finally:
        stop(proc)
    return {"cold": cold, "page": switch, "action": rerun}


def measure_workbench(browser, env, workdir: Path, repeats: int, starts: int
                      ) -> dict[str, list[float]]:
    from workbench.app import PAGES

    ws = workdir / "ws"
    ws.mkdir()
    shutil.copy(ROOT / "papers.yaml", ws / "papers.yaml")
    proc, url, cold = cold_starts(browser, lambda port: [
        sys.executable, "-m", "workbench", "--workspace", str(ws), "app", "--port", str(port)],
        ws, env, "Library", starts)
    out: dict[str, list[float]] = {"cold": cold}
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(f"{url}/paper?paper=resnet")
        page.get_by_role("heading", name=TITLE).wait_for()
        headings = {}
        for p in PAGES:  # a first visit of each page (imports, caches): not counted
            sidebar(page, p.title)()
            page.wait_for_timeout(300)
            page.wait_for_function(SETTLED % "true", polling="raf", timeout=120_000)
            page.wait_for_timeout(1000)
            headings[p.title] = page.locator("h1").first.inner_text().strip()
        for _ in range(repeats):
            for p in PAGES:
                out.setdefault(f"page {p.title}", []).append(
                    timed(page, sidebar(page, p.title), h1_is(headings[p.title])))
        actions(page, out, repeats)
        page.close()
    finally:
        stop(proc)
    return out


def actions(page, out: dict[str, list[float]], repeats: int) -> None:
    from tests.browser.test_walk import title_cell
    from workbench.notes.method import FIVE_CS

    first = FIVE_CS[0]
    for _ in range(repeats):
        timed(page, sidebar(page, "Library"), h1_is("Library"))
        search = page.get_by_label("Search title, authors, abstract")
        search.fill("residual")  # the table draws only the rows in view
        search.press("Enter")
        page.get_by_text("papers", exact=False).first.wait_for()
        page.wait_for_timeout(500)
        page.wait_for_function(SETTLED % "true", polling="raf")
        x, y = title_cell(page, TITLE)  # found before the clock starts: ~10 browser calls
        out.setdefault("open a paper from the Library", []).append(
            timed(page, lambda x=x, y=y: page.mouse.click(x, y), h1_is(TITLE)))
    timed(page, sidebar(page, "Read"), h1_is("Read"))
    for i in range(repeats):
        area = page.get_by_label(f"{first.name}: {first.question}")  # a pass-1 note field
        area.fill(f"edit {i}")
        area.press("Control+Enter")  # the text is committed (a rerun, not timed)
        page.wait_for_timeout(500)
        page.wait_for_function(SETTLED % "true", polling="raf")
        out.setdefault("save a note", []).append(
            timed(page, lambda: page.get_by_role("button", name="Save").click(),
                  shows("Saved to notes/resnet/bench.md")))
        page.wait_for_timeout(500)
        for n in (2, 1):
            out.setdefault("switch pass", []).append(timed(
                page, lambda n=n: page.get_by_text(f"Pass {n}:", exact=False).first.click(),
                f"/(Finish|Reopen) pass {n}/.test(document.body.innerText)"))
    timed(page, sidebar(page, "Graph"), h1_is("Citation graph"))
    slider = page.get_by_role("slider", name="Hops from the paper")
    sizes = {}
    for key, hops in (("ArrowRight", 2), ("ArrowLeft", 1)):  # each view's size, not timed
        slider.focus()
        slider.press(key)
        page.wait_for_timeout(500)
        page.wait_for_function(SETTLED % "true", polling="raf")
        page.wait_for_timeout(1000)
        sizes[hops] = page.get_by_role("heading", name="Papers in this view").inner_text()
    for _ in range(repeats):
        for key, hops in (("ArrowRight", 2), ("ArrowLeft", 1)):
            slider.focus()
            out.setdefault("change graph hops", []).append(
                timed(page, lambda key=key: slider.press(key), shows(sizes[hops])))


def report(ours: dict[str, list[float]], ref: dict[str, list[float]]) -> list[dict]:
    rows = []
    ref_page, ref_action = summary(ref["page"]), summary(ref["action"])
    for name, samples in ours.items():
        median, worst = summary(samples)
        if name == "cold":
            base, goal_ok = statistics.median(ref["cold"]), median <= GOALS["cold"]
            rows.append({"what": "cold start", "median_ms": median, "worst_ms": worst,
                         "reference_ms": base, "ratio": median / base, "goal": goal_ok})
            continue
        base = (ref_page if name.startswith("page ") else ref_action)[0]
        rows.append({"what": name, "median_ms": median, "worst_ms": worst, "reference_ms": base,
                     "ratio": median / base,
                     "goal": median <= GOALS["median"] and worst <= GOALS["worst"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cold-starts", type=int, default=3,
                        help="cold starts of each app; the median is reported")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"no {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    from tests.fake_services import closed_port_url

    dead = closed_port_url()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "STREAMLIT_"))}
    env.update(WORKBENCH_OFFLINE="1", WORKBENCH_READER="bench", OMP_NUM_THREADS="1",
               WORKBENCH_ARXIV_URL=f"{dead}/api/query", WORKBENCH_ARXIV_PDF_URL=f"{dead}/pdf",
               WORKBENCH_S2_URL=dead)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu",
                                           "--disable-background-networking"])
        ref = measure_reference(browser, env, Path(tmp), args.repeats, args.cold_starts)
        ours = measure_workbench(browser, env, Path(tmp), args.repeats, args.cold_starts)
        browser.close()
    rows = report(ours, ref)
    print(f"{'':<34}{'median':>9}{'worst':>9}{'reference':>11}{'ratio':>8}  goal")
    for r in rows:
        print(f"{r['what']:<34}{r['median_ms']:>7.0f}ms{r['worst_ms']:>7.0f}ms"
              f"{r['reference_ms']:>9.0f}ms{r['ratio']:>7.1f}x  {'met' if r['goal'] else 'MISSED'}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
