"""Serving a class, in a real browser: sign-in through a local OpenID Connect provider.

The provider is oidc-provider-mock on 127.0.0.1 (in this process, on a thread) with two users,
`alice` (a student) and `ta`; the app is the real `workbench app --address 0.0.0.0 --auth FILE`
started by the TA (`WORKBENCH_READER=ta`, no `WORKBENCH_RUNNERS`: the TA alone may run). In
Chromium: a visitor who is not signed in gets only the login; alice signs in at the provider,
her Read page writes notes/<paper>/alice.md and nothing else, and she cannot start a run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from tests.browser.conftest import (
    OUTPUT,
    STEP_TIMEOUT_MS,
    _free_port,
    _stop,
    _wait_until_serving,
)
from tests.conftest import SHIPPED_CATALOG
from tests.fake_services import closed_port_url
from workbench.notes.method import FIVE_CS
from workbench.notes.store import load_note
from workbench.workspace import Workspace

pytestmark = [pytest.mark.browser,
              # the mock provider runs in this process on Authlib APIs Authlib now deprecates
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]

PAPER = "resnet"
STUDENT = "alice"
OWNER = "ta"


@pytest.fixture(scope="module")
def provider():
    """Base URL of a local OpenID Connect provider that signs in `alice` or `ta` in one click."""
    import werkzeug.serving
    from oidc_provider_mock import User, app

    users = [User(sub=name, claims={"email": f"{name}@uni.example", "email_verified": True})
             for name in (STUDENT, OWNER)]
    server = werkzeug.serving.make_server("127.0.0.1", 0, app(user_claims=users), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture(scope="module")
def served_app(tmp_path_factory, provider, output_dir):
    """(URL, workspace root) of `workbench app` served to a class, with sign-in."""
    root = tmp_path_factory.mktemp("class-ws")
    shutil.copy(SHIPPED_CATALOG, root / "papers.yaml")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    auth = tmp_path_factory.mktemp("ta-config") / "auth.toml"  # outside the workspace
    auth.write_text(f'[auth]\nredirect_uri = "{url}/oauth2callback"\n'
                    f'cookie_secret = "{os.urandom(24).hex()}"\n'
                    'client_id = "workbench"\nclient_secret = "class-secret"\n'
                    f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n')
    dead = closed_port_url()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WORKBENCH_", "STREAMLIT_")) and k != "SEMANTIC_SCHOLAR_API_KEY"}
    env.update(WORKBENCH_OFFLINE="1", WORKBENCH_READER=OWNER,
               WORKBENCH_ARXIV_URL=f"{dead}/api/query", WORKBENCH_ARXIV_PDF_URL=f"{dead}/pdf",
               WORKBENCH_S2_URL=dead, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    log = output_dir / "auth-app.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench", "--workspace", str(root), "app",
             "--address", "0.0.0.0", "--port", str(port), "--auth", str(auth)],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    try:
        _wait_until_serving(url, proc, log)
        yield url, root
    finally:
        _stop(proc)


@pytest.fixture
def tab(browser):
    """A fresh browser profile: no sign-in cookie from an earlier test."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def expect(target):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(target)


def settled(page) -> None:
    """Wait for the rerun the last input asked for (see test_e2e.settled)."""
    page.wait_for_timeout(150)
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state",
                                                           "notRunning")


def shot(page, name: str) -> None:
    page.screenshot(path=str(OUTPUT / f"auth-{name}.png"), full_page=True)


def test_a_visitor_who_is_not_signed_in_sees_only_the_login(tab, served_app):
    url, root = served_app
    for path in ("", f"/read?paper={PAPER}", "/reproduce", "/group"):
        tab.goto(url + path)
        expect(tab.get_by_role("button", name="Log in")).to_be_visible()
        settled(tab)
        expect(tab.get_by_role("heading", name="Paper workbench")).to_be_visible()
        expect(tab.get_by_role("link", name="Read", exact=True)).to_have_count(0)
        expect(tab.get_by_role("textbox")).to_have_count(0)
        expect(tab.get_by_test_id("stMain").get_by_role("button")).to_have_count(1)  # Log in
        expect(tab.get_by_test_id("stSidebar")).to_have_count(0)  # no pages, no reader box
    shot(tab, "01-login-only")
    assert not (root / "notes").exists()


def test_a_signed_in_student_writes_only_her_notes_and_cannot_start_a_run(tab, served_app):
    url, root = served_app
    started = time.monotonic()
    tab.goto(url)
    tab.get_by_role("button", name="Log in").click()
    # the provider's page: one click signs in a predefined user
    tab.get_by_role("button", name=STUDENT, exact=True).click()
    expect(tab.get_by_text(f"Signed in as {STUDENT}")).to_be_visible()
    settled(tab)
    shot(tab, "02-signed-in")

    tab.goto(f"{url}/read?paper={PAPER}")
    expect(tab.get_by_role("heading", name="Read", exact=True)).to_be_visible()
    settled(tab)
    expect(tab.get_by_label("Reader")).to_have_count(0)  # the identity is the reader
    category = next(c for c in FIVE_CS if c.key == "category")
    area = tab.get_by_label(f"{category.name}: {category.question}")
    area.fill("A new architecture, measured on ImageNet.")
    area.press("Control+Enter")
    settled(tab)
    tab.get_by_role("button", name="Save").click()
    expect(tab.get_by_text(f"Saved to notes/{PAPER}/{STUDENT}.md")).to_be_visible()
    shot(tab, "03-read-saved")
    notes = sorted(p.relative_to(root).as_posix() for p in (root / "notes").rglob("*"))
    assert notes == [f"notes/{PAPER}", f"notes/{PAPER}/{STUDENT}.md"]
    note, _ = load_note(Workspace.resolve(root), PAPER, STUDENT)
    assert note.category == "A new architecture, measured on ImageNet."

    tab.goto(f"{url}/reproduce?paper={PAPER}")
    expect(tab.get_by_role("heading", name="Reproduce", exact=True)).to_be_visible()
    settled(tab)
    expect(tab.get_by_text(f"only {OWNER} may start, cancel or resume runs")).to_be_visible()
    expect(tab.get_by_role("button", name="Start")).to_be_disabled()
    shot(tab, "04-reproduce-not-a-runner")
    assert not (root / "runs").exists()
    print(f"sign-in journey: {time.monotonic() - started:.1f} s")
