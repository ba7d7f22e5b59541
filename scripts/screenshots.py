"""Screenshots of every page of the app on the shipped catalog, for docs and issue notes.

    .venv/bin/python scripts/screenshots.py --out DIR [--source CHECKOUT] [--width 1400]

Starts `workbench app` from `--source` (a checkout of any commit, default this one: compare the
app before and after a change with `git worktree add /tmp/old REV`) on a temporary workspace
holding a copy of that checkout's papers.yaml, offline, and saves one JPEG per page (the whole
page, up to 6,000 px tall, ResNet as the paper) with Debian's Chromium.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
MAX_PX = 6000  # the tallest shot, in px
# the height of everything on the page: the scrolled block's content, whichever holds it
FULL_HEIGHT = """() => Math.max(1000, ...[...document.querySelectorAll(
    '[data-testid="stMain"], [data-testid="stAppViewContainer"], section.main')]
    .map(e => e.scrollHeight))"""
PAGES = {  # file name -> path and query string
    "1-library": "", "2-paper": "paper?paper=resnet", "3-read": "read?paper=resnet",
    "4-group": "group?paper=resnet", "5-reproduce": "reproduce?paper=resnet",
    "6-graph": "graph?paper=resnet", "7-add": "add", "8-sessions": "sessions",
}


def serve(source: Path, workspace: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "STREAMLIT_"))}
    env.update(PYTHONPATH=str(source), WORKBENCH_OFFLINE="1", WORKBENCH_READER="alice")
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "--workspace", str(workspace),
                             "app", "--port", str(port)], cwd=workspace, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url, started = f"http://127.0.0.1:{port}", time.monotonic()
    while time.monotonic() - started < 120:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the app did not start within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--source", type=Path, default=ROOT)
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        shutil.copy(args.source / "papers.yaml", Path(tmp) / "papers.yaml")
        proc, url = serve(args.source.resolve(), Path(tmp))
        try:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": args.width, "height": 1000})
            page.set_default_timeout(120_000)
            for name, path in PAGES.items():
                page.goto(f"{url}/{path}")
                page.wait_for_timeout(1500)
                page.wait_for_selector('[data-test-script-state="notRunning"]')
                if name == "5-reproduce":  # the settings are read in the background first
                    page.get_by_role("combobox", name="Preset").wait_for()
                    page.wait_for_selector('[data-test-script-state="notRunning"]')
                page.wait_for_timeout(2500)  # charts and images finish drawing
                # the page scrolls inside Streamlit's main block, not the document, so a
                # "full page" shot of the document is the window: make the window as tall
                height = page.evaluate(FULL_HEIGHT)
                page.set_viewport_size({"width": args.width, "height": min(height, MAX_PX)})
                page.wait_for_timeout(1500)  # the charts redraw at the new size
                page.screenshot(path=str(args.out / f"{name}.jpg"), type="jpeg", quality=55)
                page.set_viewport_size({"width": args.width, "height": 1000})
                print(args.out / f"{name}.jpg", flush=True)
            browser.close()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
