"""The PDF views in the app (Paper page viewer, Read page material) driven with AppTest."""

from __future__ import annotations

import pytest

from tests.apptest_helpers import errors, open_page
from tests.fake_services import closed_port_url
from tests.pdf_fixtures import CAPTION, make_paper
from tests.workspaces import make_workspace
from workbench.pdf import document as pdf
from workbench.workspace import Workspace

CATALOG = """\
topics:
  - id: cnns
    title: Convolutional networks
papers:
  - id: resnet
    title: Deep Residual Learning for Image Recognition
    authors: [Kaiming He]
    year: 2015
    arxiv: "1512.03385"
    topic: cnns
  - id: alexnet
    title: ImageNet Classification with Deep Convolutional Neural Networks
    authors: [Alex Krizhevsky]
    year: 2012
    topic: cnns
  - id: tiny
    title: Skip Connections Make Tiny Networks Trainable
    authors: [Ada Lovelace]
    year: 2024
    topic: cnns
"""


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    return make_workspace(tmp_path / "ws", CATALOG, monkeypatch=monkeypatch, reader="alice")


def test_paper_page_shows_rendered_pages_with_a_page_selector(ws):
    make_paper(ws.pdfs_dir / "tiny.pdf")
    at = open_page("paper.py", paper="tiny")
    selector = at.number_input(key="pdf_page")
    assert selector.value == 1 and selector.max == 2
    assert len(at.get("image")) == 1
    selector.set_value(2).run()
    assert not at.exception
    assert list(pdf.pdf_cache_dir(ws).glob("*/page-2-*.png"))  # page 2 was rendered


def test_paper_page_without_pdf_offers_upload_and_download(ws):
    at = open_page("paper.py", paper="resnet")
    assert at.get("file_uploader")  # key="pdf_upload"
    assert at.button(key="pdf_download").label == "Download arXiv:1512.03385"
    assert not at.number_input  # no page viewer without a PDF


def test_download_while_offline_says_so_and_the_page_keeps_working(ws, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ARXIV_PDF_URL", closed_port_url())
    at = open_page("paper.py", paper="resnet")
    at.button(key="pdf_download").click().run()
    assert not at.exception
    assert any("offline" in w.value for w in at.warning)
    assert at.title[0].value == "Deep Residual Learning for Image Recognition"
    assert not (ws.pdfs_dir / "1512.03385.pdf").exists()


def test_broken_pdf_is_one_error_box_not_a_crash(ws):
    ws.pdfs_dir.mkdir()
    (ws.pdfs_dir / "tiny.pdf").write_text("<!doctype html><html>sign in</html>")
    at = open_page("paper.py", paper="tiny")
    assert errors(at) == [
        "tiny.pdf is an HTML page, not a PDF (a saved web page or an error page?); "
        "download the PDF itself"]


def test_read_page_shows_outline_in_pass1_and_figures_and_references_in_pass2(ws):
    make_paper(ws.pdfs_dir / "tiny.pdf")
    at = open_page("read.py", paper="tiny")
    text = " ".join(m.value for m in at.markdown)
    assert "1 Introduction" in text and "2.1 Details" in text
    at.radio(key="read_pass").set_value(2).run()
    assert not at.exception
    assert any(img for img in at.get("image"))  # the figure crop
    linked = [(link.proto.query_string, link.proto.icon) for link in at.page_link
              if link.proto.page == "paper"]  # same-tab links: the reader stays
    # reference [1] linked to its catalog paper (unread): under "Read next" and in the list
    assert ("paper=alexnet", ":material/arrow_forward:") in linked
    assert ("paper=alexnet", ":material/description:") in linked
    assert not any("](/paper" in m.value for m in at.markdown)  # no link opening a new tab
    assert CAPTION.split(":")[0] in str(at.get("image")[0].proto)


def test_read_page_without_pdf_says_where_to_put_it(ws):
    at = open_page("read.py", paper="resnet")
    assert any("pdfs/1512.03385.pdf" in i.value for i in at.info)
