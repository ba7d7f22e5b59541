"""The app as a student meets it: `workbench app` in a real process, driven in headless Chromium.

One app serves the whole browser suite (session scope): a temporary workspace holding a copy of
the shipped papers.yaml, `python -m workbench --workspace TMP app --port PORT` on 127.0.0.1,
offline (WORKBENCH_OFFLINE=1) with every source URL at a closed local port, so nothing can
reach arXiv or Semantic Scholar. The browser is Debian's /usr/bin/chromium (scripts/test.sh
installs it); Playwright never downloads one. Screenshots of each step and the app's log go to
test-output/browser/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, SHIPPED_CATALOG
from tests.fake_services import closed_port_url

CHROMIUM = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT = REPO / "test-output" / "browser"
READER = "alice"
START_TIMEOUT_S = 90   # streamlit start-up on a busy 2-core machine
STEP_TIMEOUT_MS = int(os.environ.get("BROWSER_STEP_TIMEOUT_MS", "90000"))  # the slowest wait: the first Reproduce page imports torch twice


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so a fixture can see that the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the app did not serve within {START_TIMEOUT_S} s:\n"
                       f"{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the app's process group (`workbench app` and its streamlit child), then KILL."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    return OUTPUT


@pytest.fixture(scope="session")
def timings(output_dir):
    """Seconds per step, written to test-output/browser/timings.json for RELIABILITY.md."""
    record: dict[str, float] = {}
    started = time.monotonic()
    yield record
    record["suite"] = round(time.monotonic() - started, 1)
    (output_dir / "timings.json").write_text(json.dumps(record, indent=2) + "\n")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, output_dir, timings):
    """(base URL, workspace root) of a running app; the process group is killed at the end."""
    root = tmp_path_factory.mktemp("browser-ws")
    shutil.copy(SHIPPED_CATALOG, root / "papers.yaml")
    port = _free_port()
    dead = closed_port_url()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WORKBENCH_", "STREAMLIT_")) and k != "SEMANTIC_SCHOLAR_API_KEY"}
    env.update(WORKBENCH_OFFLINE="1", WORKBENCH_READER=READER,
               WORKBENCH_ARXIV_URL=f"{dead}/api/query", WORKBENCH_ARXIV_PDF_URL=f"{dead}/pdf",
               WORKBENCH_S2_URL=dead, WORKBENCH_ARXIV_DELAY="0", WORKBENCH_S2_DELAY="0",
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    log = output_dir / "app.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench", "--workspace", str(root), "app", "--port",
             str(port)], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, proc, log)
        timings["app start"] = round(time.monotonic() - started, 1)
        yield url, root
    finally:
        _stop(proc)
        _cancel_runs(root)


def _cancel_runs(root: Path) -> None:
    """Runs live in their own process groups (they outlive the app): stop any left running."""
    from workbench.runs import folders as runs
    from workbench.runs import queue as run_queue
    from workbench.workspace import Workspace

    ws = Workspace.resolve(root)
    for run in runs.list_runs(ws):
        if run.state in runs.ACTIVE:
            run_queue.cancel(ws, run.id, grace_s=2)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():  # fail loudly: a skipped browser suite in CI would prove nothing
        pytest.fail(f"no {CHROMIUM}: `scripts/test.sh` installs Debian's chromium (or run "
                    "`apt-get install chromium`); `-m 'not browser'` leaves these tests out")

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def page(browser, app_server):
    """One tab for the whole journey, like a student's: session state carries between steps."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  accept_downloads=True)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()
