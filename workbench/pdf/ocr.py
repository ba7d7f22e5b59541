"""OCR for pages without a usable text layer: scans and Type 3 bitmap fonts.

Many classics circulate as scans (an image per page, no text at all) or as PostScript
distilled with Type 3 bitmap fonts and no ToUnicode map, whose text layer is control
characters and non-words (p1 of LeCun et al. 1998 starts '\\x00\\x02\\x01\\x04...').
`text_layer_problem(text)` decides per page, from the text PyMuPDF extracts, whether that text
is usable; `workbench.pdf.extraction` asks it of every page (a pass over the characters it read
anyway, so born-digital files pay nothing measurable) and `workbench.pdf.document.extract` has
only the unusable pages read by OCR (`ocr_page`, one worker job per page), then runs the layout
rules on the OCR text as on any other page.

The engine is Debian's `tesseract` program (`find_tesseract`: the program and its language
data, passed explicitly), run on the page rendered by PyMuPDF at OCR_DPI, with its TSV output
(`tsv_to_dict`). PyMuPDF's own OCR (`page.get_textpage_ocr`, the Tesseract built into MuPDF)
was tried first and dropped: on LeCun et al. 1998 it lost the 17 pt title line of p1, MuPDF
re-grouped its words into blocks that cross both columns, and it took twice the CPU (6 s
against 2.9 s for p1 of the Nature scan at 300 dpi). Tesseract's own blocks, paragraphs and
lines follow the columns. Without the program the pages stay unread and the structure says so
(`missing_engine_note`), never silently empty.

OCR text has no font sizes or bold; `tsv_to_dict` gives each line the height of its box as its
size, which keeps the size rules of `workbench.pdf.layout` meaningful (a title line is taller
than a body line), and `Row.ocr` marks such rows where a rule must not rely on boldness.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

OCR_DPI = 300                 # Tesseract's accuracy drops below ~20 px per x-height (8 pt at 300 dpi: 15 px)
OCR_LANGUAGE = "eng"
SAMPLE_CHARS = 1500            # the shares are measured on the page's first characters (cost: ~0.15 ms a page)
MIN_TEXT_CHARS = 25           # a page with fewer non-space characters has no text layer
MAX_CONTROL_SHARE = 0.05      # born-digital pages of the course's PDFs: 0.00; Type 3 bitmap pages: 0.07-0.34
MIN_WORD_CONF = 20           # Tesseract's confidence (0-100) below which a "word" is a speck
MIN_WORD_SHARE = 0.10         # born-digital pages: 0.18 and up (a table page); Type 3 pages: 0.00-0.18

_WORD_RE = re.compile(r"(?<!\S)[(\[“\"'‘]*[A-Za-z][a-z]+(?:-[a-z]+)*[)\]”\"'’,.;:?!]*(?!\S)")
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")


# --- is the text layer usable? ------------------------------------------------------------------


def text_layer_problem(text: str) -> str | None:
    """Why a page's extracted text is unusable, or None when it is fine.

    'none': fewer than MIN_TEXT_CHARS non-space characters (a scan, or an empty page: the
    caller checks that the page shows an image before OCR). 'garbage': at least
    MAX_CONTROL_SHARE of the characters are control characters (U+0000-U+001F, U+007F-U+009F,
    U+FFFD: glyphs with no Unicode), or fewer than MIN_WORD_SHARE of them are in words (a
    whitespace-separated token of two or more letters, lowercase after the first, with
    surrounding punctuation). Both are measured on the first SAMPLE_CHARS characters. The
    thresholds sit between the worst born-digital page of the course's 15 PDFs and the best
    Type 3 page of the bitmap-font one (tests/pdf/test_pdf_real.py checks every page of both).
    """
    text = text[:SAMPLE_CHARS]
    chars = len("".join(text.split()))
    if chars < MIN_TEXT_CHARS:
        return "none"
    if len(_CONTROL_RE.findall(text)) >= MAX_CONTROL_SHARE * chars:
        return "garbage"
    words = sum(len(m.group()) for m in _WORD_RE.finditer(text))
    return "garbage" if words < MIN_WORD_SHARE * chars else None


def page_text(page_dict: dict) -> str:
    """The text of `page.get_text('dict')`, spans joined, lines separated by newlines."""
    return "\n".join("".join(span["text"] for span in line["spans"])
                     for block in page_dict.get("blocks", ()) for line in block.get("lines", ()))


# --- the engine ---------------------------------------------------------------------------------


def find_tesseract() -> tuple[str, str] | None:
    """(the `tesseract` program, its language-data folder holding OCR_LANGUAGE), or None when
    either is missing (no engine).

    The data folder: `$TESSDATA_PREFIX` first (Tesseract's own variable), then where
    Debian/Ubuntu (`/usr/share/tesseract-ocr/<version>/tessdata`), Fedora and Homebrew put it.
    """
    program = shutil.which("tesseract")
    if program is None:
        return None
    candidates = [os.environ.get("TESSDATA_PREFIX", "")]
    candidates += sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"), reverse=True)
    candidates += ["/usr/share/tessdata", "/usr/local/share/tessdata",
                   "/opt/homebrew/share/tessdata"]
    for folder in candidates:
        if folder and (Path(folder) / f"{OCR_LANGUAGE}.traineddata").is_file():
            return program, folder
    return None


def page_list(pages: list[int]) -> str:
    """'page 3', 'pages 1-4', 'pages 1, 3 and 5-7' (1-based page numbers)."""
    runs: list[list[int]] = []
    for p in sorted(pages):
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs]
    if len(pages) == 1:
        return f"page {parts[0]}"
    return "pages " + (parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1])


def missing_engine_note(pages: list[int]) -> str:
    """The one line a reader sees when pages need OCR and there is no engine."""
    many = len(pages) > 1
    return (f"{page_list(pages)} {'have' if many else 'has'} no text layer; install Debian's "
            f"tesseract-ocr to read {'them' if many else 'it'}")


def ocr_note(pages: list[int]) -> str:
    return f"{page_list(pages)} read by OCR (no usable text layer); expect misread words"


class OcrFailed(Exception):
    """Tesseract failed on a page (bad language data, killed, unreadable output)."""


# --- reading a page -----------------------------------------------------------------------------


def scan_dpi(page) -> float | None:
    """The resolution of the image that covers the page (a scan), or None."""
    area = abs(page.rect)
    for img in page.get_images(full=True):
        for rect in page.get_image_rects(img[0]):
            if abs(rect) > 0.8 * area and rect.width > 0:
                return img[2] / rect.width * 72
    return None


def ocr_page(page, engine: tuple[str, str], timeout_s: float = 100.0) -> str:
    """Tesseract's TSV of the page rendered in grey (`tsv_to_dict` makes it a page dict).

    A scan is rendered at its own resolution (within 150-400 dpi): upsampling a 200-dpi 1-bit
    scan to 300 dpi made Tesseract misread its 6 pt reference list ('Neurodynamics' came out
    'N dy ics'); anything else at OCR_DPI. The TSV, not the dict, is what the cache keeps, so
    a better `tsv_to_dict` applies to pages read before it."""
    import pymupdf

    native = scan_dpi(page)
    dpi = round(min(400.0, max(150.0, native))) if native else OCR_DPI
    png = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False).tobytes("png")
    program, tessdata = engine
    try:
        done = subprocess.run(
            [program, "stdin", "stdout", "--dpi", str(dpi), "-l", OCR_LANGUAGE,
             "--tessdata-dir", tessdata, "tsv"],
            input=png, capture_output=True, timeout=timeout_s,
            env=dict(os.environ, OMP_THREAD_LIMIT="1"))  # one core per page: pages run in parallel
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OcrFailed(f"tesseract did not finish ({type(exc).__name__})") from None
    if done.returncode != 0:
        err = " ".join(done.stderr.decode("utf-8", "replace").split())[-200:]
        raise OcrFailed(f"tesseract exit code {done.returncode}: {err}")
    return done.stdout.decode("utf-8", "replace")


def tsv_to_dict(tsv: str, rect) -> dict:
    """Tesseract's TSV (one row per page, block, paragraph, line and word, in pixels of the
    image its page row gives the size of) as a `page.get_text('dict')` in the page's
    coordinates (points; `rect` is the page's box):
    a block per paragraph, a line per line, one span per line.

    Tesseract gives no font size: a line's size is its box height (ascender to descender,
    close to the em of a mixed-case line; an all-capitals line comes out ~0.7 em), rounded to
    half a point. No span is bold. Words Tesseract gives a confidence below MIN_WORD_CONF are
    specks and pen marks, and dropped; so are lines with no letter or digit left."""
    scale = 72 / OCR_DPI
    lines: dict[tuple, dict] = {}
    for row in tsv.splitlines()[1:]:
        f = row.split("\t")
        if len(f) < 12 or not f[0].isdigit():
            continue
        level, key = int(f[0]), (int(f[2]), int(f[3]), int(f[4]))
        if level == 1 and float(f[8]) > 0:
            scale = (rect[2] - rect[0]) / float(f[8])
        left, top, width, height = (float(v) * scale for v in f[6:10])
        left, top = left + rect[0], top + rect[1]
        if level == 4:
            lines[key] = {"box": (left, top, left + width, top + height), "words": []}
        elif level == 5 and key in lines and f[11].strip() and float(f[10]) >= MIN_WORD_CONF:
            lines[key]["words"].append(f[11].strip())
    _attach_labels(lines)
    blocks: dict[tuple, dict] = {}
    for (block, par, _), line in lines.items():
        text = " ".join(line["words"])
        if not any(c.isalnum() for c in text):
            continue
        x0, y0, x1, y1 = line["box"]
        size = round((y1 - y0) * 2) / 2
        span = {"size": size, "flags": 0, "font": "OCR", "color": 0, "text": text,
                "origin": (x0, y1), "bbox": (x0, y0, x1, y1)}
        b = blocks.setdefault((block, par), {"type": 0, "bbox": [x0, y0, x1, y1], "lines": []})
        b["bbox"] = [min(b["bbox"][0], x0), min(b["bbox"][1], y0), max(b["bbox"][2], x1),
                     max(b["bbox"][3], y1)]
        b["lines"].append({"wmode": 0, "dir": (1.0, 0.0), "bbox": (x0, y0, x1, y1),
                           "spans": [span]})
    return {"width": rect[2] - rect[0], "height": rect[3] - rect[1],
            "blocks": list(blocks.values())}


_LABEL_RE = re.compile(r"\[\d{1,4}\]|\d{1,4}\.")


def _attach_labels(lines: dict[tuple, dict]) -> None:
    """Put each reference label that Tesseract read as a block of its own ('[35]' in a column
    of labels left of the entries) back at the start of the line it labels: the nearest line
    starting less than 30 pt to its right whose box overlaps the label's vertically."""
    labels = [k for k, ln in lines.items() if len(ln["words"]) == 1
              and _LABEL_RE.fullmatch(ln["words"][0])]
    for key in labels:
        lx0, ly0, lx1, ly1 = lines[key]["box"]
        best = None
        for other, ln in lines.items():
            x0, y0, x1, y1 = ln["box"]
            if (other != key and ln["words"] and 0 <= x0 - lx1 < 30
                    and min(y1, ly1) - max(y0, ly0) > 0.5 * min(y1 - y0, ly1 - ly0)
                    and (best is None or x0 < lines[best]["box"][0])):
                best = other
        if best is not None:
            target = lines[best]
            target["words"].insert(0, lines[key]["words"][0])
            x0, y0, x1, y1 = target["box"]
            target["box"] = (lx0, y0, x1, y1)
            lines[key]["words"] = []
