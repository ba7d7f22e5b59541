"""Opening the app in Streamlit's AppTest as a browser would: the setup the *_app tests share."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import REPO

APP = REPO / "workbench" / "app"


def page_files() -> list[str]:
    """The file name of every page the app registers (its own list, never empty)."""
    from workbench.app import PAGES

    files = [page.file for page in PAGES]
    assert files, "the app registers no pages"
    return files


def open_page(page: str | None = None, *, timeout: float = 120, **query_params: str) -> AppTest:
    """A new browser session: main.py runs with `query_params` in the URL, then switches to
    `page` (a file in workbench/app/; None stays on the default page, Library) and runs it.
    Fails if the page raised. `timeout` is each run's limit, in seconds."""
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=timeout)
    for key, value in query_params.items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(str(APP / "views" / page))
        at.run()
    assert not at.exception, (page, [e.value for e in at.exception])
    return at


def click(at: AppTest, key: str) -> None:
    """Click the button `key` and rerun; fails if the run raised."""
    at.button(key=key).click().run()
    assert not at.exception


def errors(at: AppTest) -> list[str]:
    """The text of every error box on the page."""
    return [e.value for e in at.error]
