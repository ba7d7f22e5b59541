"""Paper-like PDFs generated with PyMuPDF for the PDF tests (no file is shipped).

`make_paper(path)` writes a two-page paper in the usual conference layout: a bold 18 pt title,
an author line, an 'Abstract' heading, numbered 12 pt bold sections with a 10 pt bold
sub-section, 10 pt body text, a vector-drawn figure with a 'Figure 1:' caption under it, and a
numbered reference list whose entries carry an arXiv id and a DOI.
"""

from __future__ import annotations

from pathlib import Path

TITLE = "Skip Connections Make Tiny Networks Trainable"
AUTHORS = "Ada Lovelace and Alan Turing"
ABSTRACT = ("We study very small convolutional networks and show that a single skip connection "
            "makes them trainable at depths where plain networks fail. The result holds on "
            "three toy datasets and costs nothing at inference time.")
BODY = ("Deep networks are hard to train because gradients shrink as they flow backwards "
        "through many layers. Residual connections add the input of a block to its output, "
        "so the identity is easy to represent and the gradient has a short path. In this "
        "paper we measure how much of that benefit survives when the network is tiny and the "
        "data set is small, a setting that students meet in their first reproduction. ")
INTRO = "Introductions say why a problem matters. " + BODY * 2
CONCLUSION = "A single skip connection is enough to train the tiny network. " + BODY
CAPTION = "Figure 1: The tiny network: two convolutions and one skip connection."
REFERENCES = [
    "[1] A. Krizhevsky, I. Sutskever, and G. E. Hinton. ImageNet classification with deep "
    "convolutional neural networks. In NIPS, 2012.",
    "[2] K. He, X. Zhang, S. Ren, and J. Sun. Deep residual learning for image recognition. "
    "arXiv preprint arXiv:1512.03385, 2015.",
    "[3] Y. LeCun, L. Bottou, Y. Bengio, and P. Haffner. Gradient-based learning applied to "
    "document recognition. Proceedings of the IEEE, 86(11):2278-2324, 1998. "
    "doi:10.1109/5.726791",
]
HEADINGS = ["1 Introduction", "2 Method", "3 Conclusion", "References"]

LEFT, RIGHT = 72, 540
FIGURE_BOX = (160, 90, 450, 230)  # where page 2 draws the figure


def _text(page, y: float, text: str, size: float = 10, bold: bool = False,
          indent: float = 0) -> float:
    """Write wrapped text from `y` down; return the y below it."""
    import pymupdf

    font = "hebo" if bold else "helv"
    rect = pymupdf.Rect(LEFT + indent, y, RIGHT, y + 400)
    left = page.insert_textbox(rect, text, fontsize=size, fontname=font)
    used = 400 - left if left >= 0 else 400
    return y + used + size * 0.6


def make_paper(path: str | Path, numbered: bool = True) -> Path:
    """The test paper; `numbered=False` prints its headings without section numbers."""
    import pymupdf

    def h(text: str) -> str:
        return text if numbered else text.split(" ", 1)[1]

    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_text((150, 90), TITLE, fontsize=18, fontname="hebo")
    page.insert_text((220, 118), AUTHORS, fontsize=11, fontname="helv")
    page.insert_text((240, 132), "University of Nowhere", fontsize=10, fontname="helv")
    page.insert_text((280, 170), "Abstract", fontsize=12, fontname="hebo")
    y = _text(page, 180, ABSTRACT, indent=30)
    y = _text(page, y + 10, h("1 Introduction"), 12, True)
    y = _text(page, y, INTRO)
    y = _text(page, y + 8, h("2 Method"), 12, True)
    y = _text(page, y, BODY)
    y = _text(page, y + 6, h("2.1 Details"), 10, True)
    _text(page, y, BODY)
    page.insert_text((300, 760), "1", fontsize=10, fontname="helv")

    page = doc.new_page(width=612, height=792)
    x0, y0, x1, y1 = FIGURE_BOX
    page.draw_rect(pymupdf.Rect(x0, y0, x0 + 80, y1), color=(0, 0, 0), fill=(0.8, 0.8, 1))
    page.draw_rect(pymupdf.Rect(x1 - 80, y0, x1, y1), color=(0, 0, 0), fill=(1, 0.8, 0.8))
    page.draw_line((x0 + 80, (y0 + y1) / 2), (x1 - 80, (y0 + y1) / 2), color=(0, 0, 0), width=2)
    page.insert_text((x0 + 10, y0 + 20), "conv", fontsize=8, fontname="helv")
    page.insert_text((x1 - 70, y0 + 20), "conv", fontsize=8, fontname="helv")
    y = _text(page, y1 + 12, CAPTION, 9)
    y = _text(page, y + 12, BODY * 2)
    y = _text(page, y + 8, h("3 Conclusion"), 12, True)
    y = _text(page, y, CONCLUSION)
    y = _text(page, y + 8, "References", 12, True)
    for ref in REFERENCES:
        y = _text(page, y, ref, 9)
    page.insert_text((300, 760), "2", fontsize=10, fontname="helv")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    doc.close()
    return path


def make_scan(source: str | Path, dest: str | Path, dpi: int = 200) -> Path:
    """An image-only copy of `source` (a scan): each page rendered and put back as a picture."""
    import pymupdf

    src, out = pymupdf.open(source), pymupdf.open()
    for page in src:
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        new = out.new_page(width=page.rect.width, height=page.rect.height)
        new.insert_image(new.rect, pixmap=pix)
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    out.save(dest)
    return Path(dest)


def make_blank(path: str | Path, pages: int) -> Path:
    import pymupdf

    doc = pymupdf.open()
    for _ in range(pages):
        doc.new_page(width=200, height=200)
    doc.save(path)
    doc.close()
    return Path(path)


# --- the course's real PDFs (../shared/pdfs), extracted once per test run ------------------------

def _truth() -> list[dict]:
    import yaml

    from tests.conftest import SHARED_PDFS

    path = SHARED_PDFS / "ground_truth.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["papers"] if path.is_file() else []


TRUTH = _truth()
# Scanned and bitmap-font PDFs (`text_layer:` in the ground truth) are read by OCR
# (workbench.pdf.ocr, Debian's tesseract-ocr). OCR of the 46-page bitmap-font file takes minutes
# of CPU: set WORKBENCH_PDF_TEST_CACHE to a folder to keep its pages' OCR text between runs (the
# structure itself is always extracted again).
NEEDS_OCR = {p["file"] for p in TRUTH if p.get("text_layer")}


def _no_tesseract() -> bool:
    import os
    import shutil

    return not os.environ.get("WORKBENCH_PDF_TEST_CACHE") and shutil.which("tesseract") is None


def _requires_tesseract():
    import pytest

    return pytest.mark.skipif(_no_tesseract(), reason="needs Debian's tesseract-ocr "
                              "(scripts/test.sh installs it)")


requires_tesseract = _requires_tesseract()
_extracted: dict = {}


def shared_structure(file: str):
    """The structure of ../shared/pdfs/`file`, extracted once for every test that reads it."""
    import os

    from tests.conftest import SHARED_PDFS
    from workbench.pdf import document as pdf

    if file not in _extracted:
        cache = os.environ.get("WORKBENCH_PDF_TEST_CACHE") if file in NEEDS_OCR else None
        if cache:  # keep the pages' OCR, never the structure: it must come from this code
            (Path(cache) / f"{pdf.file_sha256(SHARED_PDFS / file)}.json").unlink(missing_ok=True)
        _extracted[file] = pdf.extract(SHARED_PDFS / file, cache_dir=cache, render=False)
    return _extracted[file]
