"""OCR of pages without a usable text layer (workbench.pdf.ocr): the rule that decides which
pages need it, the note without an engine, OCR of a generated scan, its cache and progress.
The real scanned and bitmap-font papers are in test_pdf_real.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pdf_fixtures import HEADINGS, TITLE, make_paper, make_scan
from workbench.pdf import document as pdf
from workbench.pdf import ocr as pdf_ocr
from workbench.pdf.ocr import text_layer_problem

ENGLISH = ("Residual networks ease the training of networks that are substantially deeper "
           "than those used previously; we reformulate the layers as learning residual functions.")

requires_tesseract = pytest.mark.skipif(pdf_ocr.find_tesseract() is None,
                                        reason="needs Debian's tesseract-ocr (scripts/test.sh installs it)")


@pytest.fixture(scope="module")
def scanned_pdf(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scan")
    return make_scan(make_paper(folder / "paper.pdf"), folder / "scanned.pdf")


# --- which pages need OCR ---------------------------------------------------------------------------


def test_text_layer_rule_accepts_prose_tables_and_formulas():
    assert text_layer_problem(ENGLISH) is None
    assert text_layer_problem("Table 2: top-1 err. 21.3 20.7 19.4 ResNet-152 " * 5) is None


def test_page_with_almost_no_text_has_no_text_layer():
    assert text_layer_problem("") == "none"
    assert text_layer_problem("  12 \n Fig. 3 \n") == "none"


def test_bitmap_font_control_characters_are_garbage_even_with_some_real_words():
    type3 = "\x00\x02\x01\x04\x03\x06\x05 \x07\x08\x05\x0b \x0e\x10\x0f" * 20
    assert text_layer_problem(type3) == "garbage"
    # a figure's genuine labels among the garbage do not make the page readable
    assert text_layer_problem(type3 + " TRAINABLE CLASSIFIER MODULE Feature vector") == "garbage"


def test_non_words_without_control_characters_are_garbage():
    assert text_layer_problem("#$%& ()*+ ,-./ 0123 4567 89:; <=>? @ABC DEFG " * 10) == "garbage"


def test_page_lists_read_as_a_person_writes_them():
    assert pdf_ocr.page_list([3]) == "page 3"
    assert pdf_ocr.page_list([1, 2, 3, 4]) == "pages 1-4"
    assert pdf_ocr.page_list([1, 3, 5, 6, 7]) == "pages 1, 3 and 5-7"


# --- born-digital files are not touched -----------------------------------------------------------


def test_born_digital_pdf_never_runs_ocr(tmp_path, monkeypatch):
    def no_ocr(*args, **kwargs):
        raise AssertionError("OCR ran on a born-digital PDF")

    monkeypatch.setattr(pdf, "_ocr_pages", no_ocr)
    s = pdf.extract(make_paper(tmp_path / "paper.pdf"))
    assert s.text_layer == ("text", "text") and s.notes == () and s.ocr_pages == []


def test_blank_page_is_not_sent_to_ocr(tmp_path, monkeypatch):
    import pymupdf

    doc = pymupdf.open(make_paper(tmp_path / "paper.pdf"))
    doc.new_page()  # an empty last page: no text, no image
    doc.save(tmp_path / "blank_end.pdf")
    monkeypatch.setattr(pdf, "_ocr_pages", lambda *a, **k: pytest.fail("OCR of a blank page"))
    assert pdf.extract(tmp_path / "blank_end.pdf").text_layer == ("text",) * 3


# --- no engine ------------------------------------------------------------------------------------


def test_without_an_engine_the_structure_says_which_pages_are_unread(scanned_pdf, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setattr(pdf_ocr, "find_tesseract", lambda: None)
    s = pdf.extract(scanned_pdf, cache_dir=tmp_path)
    assert s.notes == ("pages 1-2 have no text layer; install Debian's tesseract-ocr to read them",)
    assert s.text_layer == ("unread", "unread") and s.unread_pages == [1, 2]
    assert "note: pages 1-2 have no text layer; install Debian's tesseract-ocr" in s.summary()
    assert not list(tmp_path.glob("*.json"))  # not cached: installing the engine is enough


def test_failing_engine_leaves_the_page_unread_with_the_reason(scanned_pdf, monkeypatch):
    monkeypatch.setattr(pdf_ocr, "find_tesseract", lambda: ("/bin/false", "/nonexistent"))
    s = pdf.extract(scanned_pdf)
    assert s.text_layer == ("unread", "unread")
    assert len(s.notes) == 2 and all("OCR failed" in n and "tesseract" in n for n in s.notes)


# --- OCR ------------------------------------------------------------------------------------------


@requires_tesseract
def test_scanned_paper_is_read_by_ocr_with_progress_and_cached(scanned_pdf, tmp_path, monkeypatch):
    calls = []
    s = pdf.extract(scanned_pdf, cache_dir=tmp_path, render=False,
                    progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 2), (1, 2), (2, 2)]
    assert s.text_layer == ("ocr", "ocr") and s.ocr_pages == [1, 2]
    assert s.notes == ("pages 1-2 read by OCR (no usable text layer); expect misread words",)
    assert s.title == TITLE
    assert s.headings == HEADINGS
    assert len(s.references) == 3
    assert len(list((tmp_path / s.sha256).glob("ocr-*.tsv"))) == 2

    monkeypatch.setattr(pdf_ocr, "find_tesseract", lambda: pytest.fail("OCR ran again"))
    assert pdf.extract(scanned_pdf, cache_dir=tmp_path, render=False) == s
    (tmp_path / f"{s.sha256}.json").unlink()  # the structure is gone, the pages' OCR is not
    assert pdf.extract(scanned_pdf, cache_dir=tmp_path, render=False).title == TITLE


@requires_tesseract
def test_cli_counts_the_ocr_pages_on_stderr_and_notes_them_in_the_summary(scanned_pdf, tmp_path):
    import subprocess
    import sys

    (tmp_path / "papers.yaml").write_text("topics: []\npapers: []\n")
    out = subprocess.run([sys.executable, "-m", "workbench", "--workspace", str(tmp_path), "pdf",
                          str(scanned_pdf)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stderr.endswith("OCR of 2 page(s) without a text layer: 2 of 2\n")
    assert "note: pages 1-2 read by OCR (no usable text layer)" in out.stdout
    assert TITLE in out.stdout
