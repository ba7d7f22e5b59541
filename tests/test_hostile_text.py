"""Untrusted text stays text (issue 16, items 8 and 9).

Catalog entries, PDFs and colleagues' notes are other people's text. Rendered as they are, a
`javascript:` URL becomes a link that runs a script (HTML and PDF handouts), and Markdown image
syntax makes the browser fetch a remote URL when a page opens (a tracking beacon, and a page
that is not offline). Here such text goes everywhere it is rendered (generated hostile inputs:
`hostile_texts()`, `hostile_catalog()`, and `FUZZ_EXAMPLES` random token soups) and what comes
out is checked: links only to http(s), no image but our own figures, no raw HTML, and the text
itself still shown character for character.

Rendered Markdown is checked with markdown-it (CommonMark, tables, strikethrough), plus a look
for the bare-URL autolinks of GitHub's Markdown, which markdown-it does not make.
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
from datetime import date
from html.parser import HTMLParser

import pymupdf
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from tests import pdf_fixtures
from tests.apptest_helpers import open_page
from workbench.catalog import validate as catalog
from workbench.catalog.model import Catalog
from workbench.notes import model as notes
from workbench.notes import store as note_file
from workbench.notes.method import paper_links, pass_material
from workbench.safetext import md_literal, safe_markdown, safe_url
from workbench.sessions import handout
from workbench.sessions import html as handout_html
from workbench.sessions import output as handout_export
from workbench.sessions import plan as sessions
from workbench.workspace import Workspace

TRACKER = "tracker.invalid"
BEACON = f"![t](http://{TRACKER}/beacon.png)"
SCRIPT_URL = "javascript:alert(document.domain)"
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None)


def hostile_texts() -> list[str]:
    """Text that a Markdown or HTML renderer would turn into a remote load, a link or HTML."""
    t = TRACKER
    return [
        BEACON,
        f'<img src="http://{t}/img.png">',
        f"[click me]({SCRIPT_URL})",
        f"[ref]: http://{t}/ref.png\n\n![ref]",
        "> [r]: javascript:alert(1)\n\n[c][r]",
        f"<http://{t}/autolink>",
        f"bare http://{t}/bare and www.{t}",
        "[x]( <javascript:alert(1)> )",
        "[a\\\\](javascript:alert(1))",
        f"    ![indented](http://{t}/code.png)",
        f"&lt;img src=http://{t}/entity.png&gt; &#33;[e](http://{t}/e.png)",
        "# Heading\n- item\n1. one\n---\n| a | b |\n|---|---|\n$x^2$ :red[red] ~~gone~~",
        "<a href='javascript:alert(1)'>link</a><script>alert(1)</script>",
        f"![t]\n(http://{t}/split.png)",
        f"`code` ``![in](http://{t}/code2.png)`` **bold** _it_",
    ]


# --- what a renderer makes of Markdown ---------------------------------------------------------

_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _tokens(markdown: str):
    stack = list(_MD.parse(markdown))
    while stack:
        token = stack.pop(0)
        yield token
        stack[:0] = token.children or []


def rendered(markdown: str) -> list[tuple[str, str]]:
    """(kind, target) of everything in `markdown` that loads, links or is raw HTML."""
    found = []
    for token in _tokens(markdown):
        if token.type == "image":
            found.append(("image", token.attrGet("src")))
        elif token.type in ("html_inline", "html_block") and not token.content.startswith("<!--"):
            found.append(("html", token.content.strip()))  # Marp's <!-- directives --> are ok
        elif token.type == "link_open":
            found.append(("link", token.attrGet("href")))
    # GitHub's bare-URL autolinks: an unescaped '://' or 'www.' (escaped: '\://', 'www\.')
    # outside code spans
    prose = re.sub(r"(?<!\\)`[^`]*`", "", markdown)
    found += [("autolink", m) for m in re.findall(r"\S*(?<!\\)://\S*|\bwww\.\S*", prose)]
    return found


def loads_or_runs(markdown: str, own_images: str | None = None) -> list[tuple[str, str]]:
    """What in `markdown` would load a resource, run script or show raw HTML: images (but
    those under `own_images`/), HTML, and links anywhere but http(s), the app's own pages
    ('/paper?...') or an anchor. (Bare-URL autolinks are http(s) links: allowed here.)"""
    return [(kind, what) for kind, what in rendered(markdown) if kind != "autolink" and (
        (kind == "image" and not (own_images and what.startswith(f"{own_images}/")))
        or kind == "html" or kind == "link"
        and not re.match(r"(https?://|/paper\?|#)", what or "", re.IGNORECASE))]


def shown_text(markdown: str) -> str:
    """The text a reader sees, whitespace collapsed."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", _MD.render(markdown)))
    return " ".join(text.split())


def _same_text(text: str) -> str:
    return " ".join(text.split())


# --- the helpers themselves --------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("https://example.org/paper", "https://example.org/paper"),
    ("HTTP://example.org/a?b=1&c=2", "HTTP://example.org/a?b=1&c=2"),
    ("  https://example.org/x  ", "https://example.org/x"),
    ("https://en.wikipedia.org/wiki/A_(b)", "https://en.wikipedia.org/wiki/A_%28b%29"),
    ('https://example.org/"onmouseover="x', "https://example.org/%22onmouseover=%22x"),
    (SCRIPT_URL, None), ("JavaScript:alert(1)", None), ("java\tscript:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None), ("vbscript:msgbox(1)", None),
    ("file:///etc/passwd", None), ("//example.org/no-scheme", None), ("https:///no-host", None),
    ("http://exa mple.org", None), ("http://[::1", None), ("", None), (None, None), (42, None),
])
def test_safe_url_passes_http_and_https_only(value, expected):
    assert safe_url(value) == expected


@pytest.mark.parametrize("text", hostile_texts())
def test_md_literal_shows_hostile_text_as_typed(text):
    out = md_literal(text)
    assert rendered(out) == []
    assert shown_text(out) == _same_text(text)


# token soups: Markdown and HTML syntax, URLs, entities and line structure in any order
SOUP = st.lists(st.sampled_from([
    "\\", "`", "*", "_", "~", "[", "]", "(", ")", "<", ">", "!", "#", "|", "$", "@", "&", ":",
    ".", "-", "+", "=", "'", '"', " ", "  ", "\n", "\n\n", "\t", "    ", "a", "W", "1.", "2)",
    "http://", "https://x.io/p", "www.", "javascript:", "&amp;", "&#33;", "&lt;", "![", "](",
    "]:", "```", "~~~", "---", "===", "<img src=x>", "<!--", "$$", ":red[", "é", "→",
]), max_size=40).map("".join)


@FUZZ
@given(SOUP)
def test_md_literal_of_any_text_renders_as_that_text_and_nothing_else(text):
    out = md_literal(text)
    tags = set(re.findall(r"</?([a-z0-9]+)", _MD.render(out)))
    assert tags <= {"p", "br"}, (text, out, _MD.render(out))
    assert rendered(out) == []
    assert shown_text(out) == _same_text(text)


def test_safe_markdown_keeps_a_readers_formatting():
    note = "**Key** idea: see [the docs](https://example.org/docs).\n\n- one\n- `two`"
    out = _MD.render(safe_markdown(note))
    assert "<strong>Key</strong>" in out and "<li>one</li>" in out and "<code>two</code>" in out
    assert '<a href="https://example.org/docs">the docs</a>' in out


@pytest.mark.parametrize("text", hostile_texts())
def test_safe_markdown_drops_images_html_and_script_links(text):
    assert loads_or_runs(safe_markdown(text)) == []


@FUZZ
@given(SOUP)
def test_safe_markdown_of_any_text_loads_nothing_and_links_only_to_http(text):
    assert loads_or_runs(safe_markdown(text)) == []


def test_paper_links_leave_out_a_script_url(tmp_path):
    (tmp_path / "papers.yaml").write_text(yaml.safe_dump(hostile_catalog()))
    paper = dataclasses.replace(catalog.load(tmp_path / "papers.yaml").get("evil"),
                                url=SCRIPT_URL)
    assert [link for link in paper_links(paper) if "javascript" in link] == []
    assert all(loads_or_runs(part.text) == [] for part in pass_material(paper, 1))


# --- a workspace full of hostile text ------------------------------------------------------------


def hostile_catalog() -> dict:
    """Two papers whose every free-text field carries image syntax, HTML or a script link."""
    texts = hostile_texts()
    return {
        "topics": [{"id": "t", "title": f"Topic {BEACON}"}],
        "papers": [
            {"id": "evil", "title": f"Evil {BEACON}", "authors": [f"Mallory {BEACON}", "Eve"],
             "year": 2024, "venue": f"Venue <img src=http://{TRACKER}/venue.png>", "topic": "t",
             "url": "https://example.org/evil", "abstract": "\n\n".join(texts),
             "tags": ["ok", f"x`{BEACON}`"], "cites": ["good"]},
            {"id": "good", "title": f"Cited [x](javascript:alert(1)) {BEACON}",
             "authors": ["Alice Liddell"], "year": 2020, "topic": "t", "arxiv": "1706.03762",
             "doi": "10.1109/5.726791", "abstract": "A plain abstract."},
        ],
    }


@pytest.fixture
def hostile_ws(tmp_path, monkeypatch) -> Workspace:
    """The hostile catalog, a PDF for 'evil' whose introduction and conclusion carry image
    syntax, alice's notes full of hostile Markdown, and a session of both papers."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "papers.yaml").write_text(yaml.safe_dump(hostile_catalog()), encoding="utf-8")
    monkeypatch.setattr(pdf_fixtures, "INTRO", f"Introductions matter {beacon('intro')} "
                        + pdf_fixtures.BODY)
    monkeypatch.setattr(pdf_fixtures, "CONCLUSION", f"We conclude {beacon('conclusion')} "
                        + pdf_fixtures.BODY)
    pdf_fixtures.make_paper(root / "pdfs" / "evil.pdf")
    ws = Workspace.resolve(root)
    texts = hostile_texts()
    note = notes.new_note("evil", "alice")
    note = dataclasses.replace(note, category=texts[0], context=texts[1], correctness=texts[2],
                               contributions=texts[3], clarity=texts[4], summary=texts[5],
                               assumptions=texts[12])
    note = note.with_pass(2, notes="\n\n".join(texts[6:]))
    note_file.save_note(ws, notes.mark_started(note, 1), None)
    sessions.save_session(ws, sessions.Session("week-1", f"Week 1 {BEACON}", date(2025, 3, 10),
                                               ("evil", "good"), {"evil": ("Mallory",)}), None)
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(root))
    monkeypatch.setenv("WORKBENCH_READER", "alice")
    return ws


def beacon(name: str) -> str:
    return f"![{name}](http://{TRACKER}/{name}.png)"


def with_script_url(ws: Workspace) -> Catalog:
    """The catalog with 'evil' carrying `url: javascript:...` (which `workbench check` now
    refuses, so it is set here, as a catalog from an older workbench would have it)."""
    cat = catalog.load(ws.catalog_path)
    papers = tuple(dataclasses.replace(p, url=SCRIPT_URL) if p.id == "evil" else p
                   for p in cat.papers)
    return Catalog(cat.topics, papers, cat.path)


class _Attributes(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.found += [(tag, name, value or "") for name, value in attrs]


# --- item 8: handouts ------------------------------------------------------------------------------


def test_html_handout_links_only_to_http_and_loads_only_its_own_figures(hostile_ws):
    h = handout.handout_for(hostile_ws, "week-1", catalog=with_script_url(hostile_ws))
    page = handout_html.to_html(h)
    parser = _Attributes()
    parser.feed(page)
    hrefs = [v for tag, name, v in parser.found if name == "href"]
    srcs = [v for tag, name, v in parser.found if name == "src"]
    assert hrefs and all(re.match(r"https?://", v) for v in hrefs), hrefs
    assert all(v.startswith("data:image/png;base64,") for v in srcs), srcs
    assert not [a for a in parser.found if a[1].startswith("on") or "javascript" in a[2].lower()]
    assert "<script" not in page and "<img src=\"http" not in page
    assert html.escape(f"Evil {BEACON}") in page  # the title, as typed


def test_pdf_handout_has_no_link_but_http(hostile_ws):
    h = handout.handout_for(hostile_ws, "week-1", catalog=with_script_url(hostile_ws))
    doc = pymupdf.open(stream=handout_html.to_pdf(h), filetype="pdf")
    links = [link for page in doc for link in page.get_links()]
    text = "".join(page.get_text() for page in doc)
    doc.close()
    assert links  # arXiv and DOI links are still there
    assert all(re.match(r"https?://", link.get("uri") or "") for link in links), links
    assert f"Evil {BEACON}" in " ".join(text.split())


@pytest.mark.parametrize("fmt", ["md", "slides"])
def test_markdown_handout_and_slides_load_nothing_and_show_titles_as_typed(hostile_ws, fmt):
    h = handout.handout_for(hostile_ws, "week-1", catalog=with_script_url(hostile_ws))
    out = handout_export.export(h, fmt)
    text = out.data.decode("utf-8")
    if fmt == "slides":  # Marp's front matter is YAML (the deck's metadata), not Markdown
        text = text.split("\n---\n", 1)[1]
    assert loads_or_runs(text, own_images=f"{out.name.rsplit('.', 1)[0]}_figures") == []
    assert f"Evil {BEACON}" in shown_text(text)  # catalog text shown, not rendered
    assert fmt == "slides" or f"Mallory {BEACON}" in shown_text(text)  # the citation


# --- item 9: the app's pages --------------------------------------------------------------------


def page_markdown(at) -> list[str]:
    """Every string on the page that Streamlit renders as Markdown: bodies, headings, captions,
    alerts, metric labels and values, expander and widget labels, image captions."""
    out = [e.value for kind in ("markdown", "caption", "title", "header", "subheader", "info",
                                "warning", "error", "success") for e in getattr(at, kind)]
    out += [x for m in at.metric for x in (m.label, m.value)]
    out += [e.label for e in at.expander]
    out += [w.label for kind in ("checkbox", "toggle", "text_input", "text_area", "radio",
                                 "selectbox", "multiselect", "button") for w in getattr(at, kind)]
    out += [c for img in at.get("image") for c in re.findall(r'caption: "((?:[^"\\]|\\.)*)"',
                                                             str(img.proto))]
    return [s for s in out if s]


@pytest.mark.parametrize("page, params, expected", [
    ("paper.py", {"paper": "evil"}, [f"Evil {BEACON}", BEACON, f"Mallory {BEACON}"]),
    ("read.py", {"paper": "evil"}, [BEACON, beacon("intro"), beacon("conclusion")]),
    ("group.py", {"paper": "evil"}, [f"Evil {BEACON}"]),
    ("graph.py", {"paper": "evil"}, [f"Evil {BEACON}"]),
    ("sessions.py", {"session": "week-1"}, [f"Evil {BEACON}"]),
])
def test_pages_show_hostile_text_without_loading_or_linking_anything(hostile_ws, page, params,
                                                                      expected):
    at = open_page(page, **params)
    sources = page_markdown(at)
    assert [(s, loads_or_runs(s)) for s in sources if loads_or_runs(s)] == []
    assert not [s for s in sources for kind, what in rendered(s) if TRACKER in (what or "")
                and page != "group.py"]  # only a reader's own http link may point there
    shown = " ".join(shown_text(s) for s in sources)
    for text in expected:  # the text is still there, as typed
        assert _same_text(text) in shown, text


# --- in a real browser: nothing leaves the machine ---------------------------------------------


@pytest.mark.browser
def test_in_a_browser_the_pages_request_nothing_but_the_app(hostile_ws, tmp_path):
    """The app in headless Chromium on the hostile workspace: the Paper, Read (pass 1, both
    PDF expanders open) and Group pages make no request to any host but the app's own."""
    import concurrent.futures
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from playwright.sync_api import expect, sync_playwright

    chromium = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():  # as the browser suite: a silent skip would prove nothing
        pytest.fail(f"no {chromium}; `-m 'not browser'` leaves this test out")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    log = open(tmp_path / "app.log", "wb")  # noqa: SIM115 - closed below
    app = subprocess.Popen([sys.executable, "-m", "workbench", "--workspace", str(hostile_ws.root),
                            "app", "--port", str(port)], env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    outside: list[str] = []
    not_shown = []  # pages where the beacon's text is not on the page as text
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).close()
                break
            except OSError:
                assert app.poll() is None and time.monotonic() < deadline, "the app did not start"
                time.sleep(0.3)

        def drive():  # in a thread of its own: the browser suite's Playwright loop may run here
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(chromium), headless=True,
                                            args=["--no-sandbox", "--disable-gpu"])
                context = browser.new_context()
                context.set_default_timeout(90_000)

                def guard(route):
                    if route.request.url.startswith((base, "data:", "blob:")):
                        route.continue_()
                    else:
                        outside.append(route.request.url)
                        route.abort()

                context.route("**/*", guard)
                tab = context.new_page()
                for path, wait_for in (("paper?paper=evil", "Abstract"), ("read?paper=evil", "Outline"),
                                       ("group?paper=evil", "Category")):
                    tab.goto(f"{base}/{path}")
                    expect(tab.get_by_text(wait_for).first).to_be_visible()
                    if path.startswith("read"):
                        for name in ("Introduction", "Conclusion"):
                            tab.locator("summary", has_text=name).first.click()
                    expect(tab.get_by_test_id("stApp")).to_have_attribute("data-test-script-state",
                                                                          "notRunning")
                    tab.wait_for_load_state("networkidle")
                    names = ("beacon", "intro", "conclusion") if path.startswith("read") \
                        else ("beacon",)
                    not_shown.extend([(path, name) for name in names if tab.get_by_text(
                        f"/{TRACKER}/{name}.png", exact=False).count() == 0])
                browser.close()

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(drive).result()
    finally:
        os.killpg(app.pid, 15)
        app.wait(timeout=20)
        log.close()
    # the favicon is shipped (workbench/app/static): nothing at all leaves this machine
    assert outside == []
    assert not_shown == []
