"""The PDF views in the app (Paper page viewer, Read page material) driven with AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1.element_tree import Column

from tests.apptest_helpers import errors, open_page
from tests.fake_services import closed_port_url
from tests.pdf_fixtures import BODY, CAPTION, FIGURE_BOX, make_paper, make_scan
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


SECOND_CAPTION = "Figure 2: Training loss of the plain and the residual network."


def make_paper_with_two_figures(path):
    """The test paper plus a third page drawing a second figure under its own caption."""
    import pymupdf

    make_paper(path)
    doc = pymupdf.open(path)
    page = doc.new_page(width=612, height=792)
    x0, y0, x1, y1 = FIGURE_BOX
    page.draw_rect(pymupdf.Rect(x0, y0, x0 + 80, y1), color=(0, 0, 0), fill=(0.8, 1, 0.8))
    page.draw_rect(pymupdf.Rect(x1 - 80, y0, x1, y1), color=(0, 0, 0), fill=(1, 0.8, 0.8))
    page.draw_line((x0 + 80, (y0 + y1) / 2), (x1 - 80, (y0 + y1) / 2), color=(0, 0, 0), width=2)
    page.insert_textbox(pymupdf.Rect(72, y1 + 12, 540, y1 + 40), SECOND_CAPTION, fontsize=9,
                        fontname="helv")
    page.insert_textbox(pymupdf.Rect(72, y1 + 40, 540, 700), BODY * 2, fontsize=10,
                        fontname="helv")
    doc.saveIncr()
    doc.close()


def image_captions(at) -> list[str]:
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


def figure_captions(at) -> list[str]:
    """Captions of the figure crops shown (the page viewer's image is captioned '<file>: page')."""
    return [c for c in image_captions(at) if c.startswith(("Figure", "Table"))]


def side_by_side(block, left_key: str, right_key: str) -> bool:
    """Whether some row of columns under `block` holds widget `left_key` in one column and
    widget `right_key` in a later one (at any depth inside each column)."""
    def keys(node) -> list[str]:
        found = [node.key] if getattr(node, "key", None) else []
        for child in getattr(node, "children", {}).values():
            found += keys(child)
        return found

    children = list(getattr(block, "children", {}).values())
    if children and all(isinstance(c, Column) for c in children):
        held = [keys(c) for c in children]
        left = [i for i, k in enumerate(held) if left_key in k]
        right = [i for i, k in enumerate(held) if right_key in k]
        if left and right and left[0] < right[0]:
            return True
    return any(side_by_side(c, left_key, right_key) for c in children)


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


def test_a_scanned_pdf_says_which_pages_need_ocr_or_were_read_by_it(ws, tmp_path, monkeypatch):
    from workbench.pdf import ocr as pdf_ocr

    make_scan(make_paper(tmp_path / "paper.pdf"), ws.pdfs_dir / "tiny.pdf")
    found = pdf_ocr.find_tesseract()
    monkeypatch.setattr(pdf_ocr, "find_tesseract", lambda: None)  # no engine installed
    at = open_page("paper.py", paper="tiny")
    assert [i.value for i in at.info] == [
        "pages 1-2 have no text layer; install Debian's tesseract-ocr to read them"]
    assert at.number_input(key="pdf_page").max == 2  # the pages are still shown
    if found is None:
        return
    monkeypatch.setattr(pdf_ocr, "find_tesseract", lambda: found)  # installed: read them
    at = open_page("paper.py", paper="tiny")
    assert [i.value for i in at.info] == [
        "pages 1-2 read by OCR (no usable text layer); expect misread words"]


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
    assert figure_captions(at) == [CAPTION]


def test_read_page_shows_the_page_viewer_beside_the_note_form(ws):
    make_paper(ws.pdfs_dir / "tiny.pdf")
    at = open_page("read.py", paper="tiny")
    assert side_by_side(at.main, "p1_notes", "read_pdf_page")  # notes left, the page right
    assert image_captions(at) == ["tiny.pdf: page 1 of 2"]
    at.number_input(key="read_pdf_page").set_value(2).run()
    assert not at.exception
    assert image_captions(at) == ["tiny.pdf: page 2 of 2"]
    assert at.text_area(key="p1_notes")  # the notes stay beside it


def test_figure_gallery_shows_one_figure_at_a_time_and_moves_to_the_next(ws):
    make_paper_with_two_figures(ws.pdfs_dir / "tiny.pdf")
    at = open_page("read.py", paper="tiny")
    at.radio(key="read_pass").set_value(2).run()
    assert "Figures and tables (2)" in [e.label for e in at.expander]
    assert figure_captions(at) == [CAPTION]  # one figure, not all of them stacked
    at.button(key="read_figure_next").click().run()
    assert not at.exception
    assert figure_captions(at) == [SECOND_CAPTION]
    assert at.selectbox(key="read_figure").value == 1
    at.button(key="read_figure_next").click().run()  # past the last: back to the first
    assert figure_captions(at) == [CAPTION]
    at.selectbox(key="read_figure").set_value(1).run()
    assert figure_captions(at) == [SECOND_CAPTION]


def test_read_page_without_pdf_says_where_to_put_it(ws):
    at = open_page("read.py", paper="resnet")
    assert any("pdfs/1512.03385.pdf" in i.value for i in at.info)
    assert not at.number_input  # no page viewer without a PDF
    links = [link.proto for link in at.page_link if link.proto.page == "paper"]
    assert [(link.label, link.query_string) for link in links] == [
        ("No PDF yet: add it on the Paper page to read it here", "paper=resnet")]
