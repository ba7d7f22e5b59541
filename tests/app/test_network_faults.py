"""The app with arXiv and Semantic Scholar down, slow, or answering 429.

Each fault is made real by the local fake services (tests/fake_services.py): `down` points the
clients at a closed port (connection refused), `slow` answers after the client's timeout, `429`
answers Too Many Requests with a Retry-After longer than the retry budget. Under each fault:

- every page of the app renders from the entrypoint with no exception and no error box (only
  Add paper and the Paper page's PDF download ever reach the network);
- Add paper looks up a paper it has seen before, from the cache, and says why in a notice;
- Add paper on a paper it has never seen gives one clear error naming the service, and writes
  nothing;
- the Paper page's "Download arXiv" gives one clear message and leaves pdfs/ empty (down,
  429), or arrives late (slow, within the download's 20 s timeout).
"""

from __future__ import annotations

import re
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from tests import apptest_helpers
from tests.apptest_helpers import errors, page_files
from tests.fake_services import Fault, arxiv_atom, closed_port_url, s2_paper
from workbench.catalog import validate as catalog
from workbench.intake import lookup as add
from workbench.sources import open_sources

FAULTS = ("down", "slow", "429")
SEEN = "2301.00042"  # looked up once while the services answered: in the cache
UNSEEN = "2301.00043"  # never looked up
TOPIC = "cnns"


def feed(arxiv_id: str, title: str) -> str:
    return arxiv_atom([{"id": f"{arxiv_id}v1", "title": title, "summary": "We study faults.",
                        "authors": ["Grace Hopper", "Edsger Dijkstra"], "categories": ["cs.LG"],
                        "published": "2023-01-02T10:00:00Z"}])


@pytest.fixture(scope="module")
def described(tmp_path_factory):
    """The reproductions' descriptions, made once (each `describe` imports torch in a
    subprocess): the Reproduce page reads them from .workbench/reproductions/."""
    from workbench.runs import reproductions as reproduction_info
    from workbench.workspace import Workspace

    ws = Workspace.resolve(tmp_path_factory.mktemp("described"))
    reproduction_info.describe(ws, "resnet")
    return ws.cache_dir / "reproductions"


@pytest.fixture
def faulty(workspace, fake_services, monkeypatch, request, described):
    """A workspace whose cache holds SEEN (fetched while the services answered), then the
    services put in the fault `request.param`; every cached answer is due for a refresh."""
    shutil.copytree(described, workspace.cache_dir / "reproductions")
    fake = fake_services
    for arxiv_id, title in ((SEEN, "Serving Papers Through Faults"),
                            (UNSEEN, "A Paper Nobody Looked Up")):
        fake.add_atom({"id_list": arxiv_id}, feed(arxiv_id, title))
        s2_id = f"s2-{arxiv_id}"
        fake.add_json("GET", f"/graph/v1/paper/ARXIV:{arxiv_id}",
                      s2_paper(s2_id, title, 2023, ["Grace Hopper"], arxiv=arxiv_id))
        fake.add_json("GET", f"/graph/v1/paper/{s2_id}/references", {"offset": 0, "data": []})
    proposal = add.propose(workspace, SEEN, TOPIC, sources=open_sources(workspace))
    assert proposal.entry["title"] == "Serving Papers Through Faults" and not fake.unmatched
    monkeypatch.setenv("WORKBENCH_CACHE_MAX_AGE_DAYS", "0")
    kind = request.param
    if kind == "down":
        dead = closed_port_url()
        monkeypatch.setenv("WORKBENCH_ARXIV_URL", f"{dead}/api/query")
        monkeypatch.setenv("WORKBENCH_ARXIV_PDF_URL", f"{dead}/pdf")
        monkeypatch.setenv("WORKBENCH_S2_URL", dead)
    elif kind == "slow":
        monkeypatch.setenv("WORKBENCH_HTTP_TIMEOUT", "0.5")
        fake.fail_forever("/", Fault.slow(2.0))
    else:
        monkeypatch.setenv("WORKBENCH_RETRY_BUDGET", "0.5")
        fake.fail_forever("/", Fault(429, retry_after="30"))
    return workspace, kind


def open_page(page: str, **query) -> AppTest:
    """The shared `open_page` with this file's longer limit: 300 s a run."""
    return apptest_helpers.open_page(page, timeout=300, **query)


def lookup(at: AppTest, query: str) -> AppTest:
    at.text_input(key="add_query").set_value(query)
    at.selectbox(key="add_topic").set_value(TOPIC)
    return at.button(key="add_lookup").click().run()


@pytest.mark.parametrize("faulty", FAULTS, indirect=True)
def test_every_page_renders_while_the_services_fail(faulty):
    for page in page_files():
        at = open_page(page, paper="resnet")
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, errors(at))


@pytest.mark.parametrize("faulty", FAULTS, indirect=True)
def test_add_paper_serves_a_seen_paper_from_the_cache_and_says_why(faulty):
    ws, kind = faulty
    at = lookup(open_page("add.py"), SEEN)
    assert not at.exception and not at.error, errors(at)
    assert "Serving Papers Through Faults" in at.code[0].value  # the preview of the entry
    notices = " ".join(w.value for w in at.warning)
    assert "served from the cache" in notices, notices
    assert "arXiv" in notices


@pytest.mark.parametrize("faulty", FAULTS, indirect=True)
def test_add_paper_on_an_unseen_paper_is_one_clear_error_and_writes_nothing(faulty):
    ws, kind = faulty
    before = ws.catalog_path.read_bytes()
    at = lookup(open_page("add.py"), UNSEEN)
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "\n" not in message and "arXiv" in message, message
    expected = {"down": "unreachable|refused|connect", "slow": "time|slow|answer",
                "429": "429|rate|too many"}[kind]
    assert re.search(expected, message, re.IGNORECASE), message
    assert ws.catalog_path.read_bytes() == before
    assert UNSEEN not in {p.arxiv for p in catalog.load(ws.catalog_path).papers}


def one_page_pdf() -> bytes:
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Deep Residual Learning for Image Recognition")
    return doc.tobytes()


@pytest.mark.parametrize("faulty", ["down", "429"], indirect=True)
def test_paper_page_pdf_download_failure_is_one_message_and_keeps_nothing(faulty,
                                                                          fake_services):
    ws, kind = faulty
    fake_services.add("GET", "/pdf/1512.03385", body=one_page_pdf(),
                      content_type="application/pdf")
    at = open_page("paper.py", paper="resnet")
    at.button(key="pdf_download").click().run()
    assert not at.exception
    boxes = [b.value for b in (*at.error, *at.warning)]
    assert len(boxes) == 1 and "\n" not in boxes[0], boxes
    assert {"down": "unreachable", "429": "429"}[kind] in boxes[0], boxes
    assert not ws.pdfs_dir.exists() or not any(ws.pdfs_dir.iterdir())
    assert at.button(key="pdf_download")  # still offered: the reader can try again later


@pytest.mark.parametrize("faulty", ["slow"], indirect=True)
def test_paper_page_pdf_download_from_a_slow_arxiv_says_so_and_leaves_no_file(faulty, fake_services):
    """A PDF download waits WORKBENCH_HTTP_TIMEOUT (0.5 s here), like the arXiv client: an
    answer 2 s late is a warning that says what to do, and no half-written file."""
    ws, _ = faulty
    fake_services.add("GET", "/pdf/1512.03385", body=one_page_pdf(),
                      content_type="application/pdf")
    at = open_page("paper.py", paper="resnet")
    at.button(key="pdf_download").click().run()
    assert not at.exception and not at.error
    assert "did not answer within 0.5 s" in at.warning[0].value
    assert not ws.pdfs_dir.exists() or list(ws.pdfs_dir.iterdir()) == []
