"""From an opened paper PDF to its `PaperStructure`: the engine behind `workbench.pdf.document.extract`.

`structure_of(doc, ...)` reads every page's rows (`workbench.pdf.layout`), finds the headings,
the front matter (`pdf_front_matter`), the captions and the page area each one describes
(`pdf_figures`), renders those areas as PNG crops, cuts each section's text and splits and
parses the reference list (`pdf_refs`). Past its deadline it raises `DeadlinePassed`, which
`extract` reports as a `PdfTimeout`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass

from workbench.pdf.figures import (
    Caption,
    content_box,
    figure_regions,
    find_captions,
    find_labels,
    inside_any,
)
from workbench.pdf.front_matter import find_abstract, find_authors, find_title
from workbench.pdf.layout import (
    CONCLUSION_RE,
    REFERENCES_RE,
    TEXT_FLAGS,
    Heading,
    Row,
    body_size,
    find_headings,
    furniture_rows,
    page_rows,
    section_text,
)
from workbench.pdf.ocr import page_text, text_layer_problem, tsv_to_dict
from workbench.pdf.refs import (
    Reference,
    headless_reference_start,
    parse_reference,
    reference_entries,
)
from workbench.pdf.structure import Figure, Label, PaperStructure, Section
from workbench.pdf.worker import out_of_memory

log = logging.getLogger(__name__)

FIGURE_DPI = 100                  # crops for the gallery; pages render at workbench.pdf.document.PAGE_DPI
MAX_FIGURES = 80
MAX_MEGAPIXELS = 16               # a page at 110 dpi is 1.1; a larger render is scaled down


def fit_dpi(rect, dpi: float) -> float:
    """`dpi`, lowered so that `rect` (points) renders within MAX_MEGAPIXELS: a 200-inch page at
    110 dpi would be a 22,000-pixel square, which MuPDF refuses ("overly large image")."""
    pixels = max(rect[2] - rect[0], 1) * max(rect[3] - rect[1], 1) * (dpi / 72) ** 2
    return dpi * min(1.0, (MAX_MEGAPIXELS * 1e6 / pixels) ** 0.5)


class DeadlinePassed(Exception):
    """Extraction ran past its deadline; the message says where it stopped."""


@dataclass(frozen=True)
class _Deadline:
    file_name: str
    started: float      # time.monotonic() when the extraction began
    seconds: float

    def check(self, what: str, detail: str = "") -> None:
        """Raise `DeadlinePassed` ('FILE: WHAT took over N s DETAIL') once time is up."""
        if time.monotonic() - self.started > self.seconds:
            raise DeadlinePassed(f"{self.file_name}: {what} took over {self.seconds:.0f} s{detail}")


@dataclass(frozen=True)
class DocLayout:
    """What the layout analysis found in the whole document that placing the figures needs;
    built once by `structure_of`."""
    rows: list[Row]
    by_page: dict[int, list[Row]]   # page index -> its rows, in document order
    page_rects: list[tuple]         # (x0, y0, x1, y1) of each page, in points
    body: float                     # the body font size
    furniture: set[int]             # row indices of running headers, footers, page numbers
    heading_rows: set[int]          # row index of each heading's first row
    captions: list[Caption]


@dataclass(frozen=True)
class OcrNeeded:
    """What `structure_of` returns instead of a structure when pages need OCR and the caller
    has not said how they were read: their 0-based indices and `text_layer_problem`'s reason."""
    pages: dict[int, str]


def _read_rows(doc, deadline: _Deadline, ocr: dict[int, str] | None):
    """Every page's rows in document order, the font-size histogram, the page boxes and the
    pages whose own text layer is unusable (0-based index -> reason).

    A page in `ocr` is read from its OCR text (Tesseract's TSV) instead of its text layer; with `ocr` given
    (the second pass), an unusable page not in it contributes no rows (its garbage would
    become nonsense headings)."""
    sizes: Counter = Counter()
    rows: list[Row] = []
    page_rects: list[tuple] = []
    unusable: dict[int, str] = {}
    block_base = 0
    for pno in range(doc.page_count):
        deadline.check("text extraction",
                       f" (stopped at page {pno + 1}); the file is unusually complex")
        try:
            page = doc.load_page(pno)
            rect = page.rect
            d = tsv_to_dict(ocr[pno], tuple(rect)) if ocr and pno in ocr else None
            if d is None:
                d = page.get_text("dict", flags=TEXT_FLAGS)
                problem = text_layer_problem(page_text(d))
                if problem is not None and (problem == "garbage" or _shows_image(page)):
                    unusable[pno] = problem
                    if ocr is not None:
                        d = {"blocks": []}
        except Exception as exc:
            if out_of_memory(exc):
                raise MemoryError from None  # the file, not the page: the worker reports it
            log.warning("%s: page %d unreadable (%s); skipped", deadline.file_name, pno + 1, exc)
            page_rects.append((0.0, 0.0, 612.0, 792.0))
            continue
        page_rects.append((rect.x0, rect.y0, rect.x1, rect.y1))
        new = page_rows(d, pno, block_base, sizes, ocr=bool(ocr) and pno in ocr)
        block_base += len(d.get("blocks", ())) + 1
        rows.extend(new)
    for i, r in enumerate(rows):
        r.index = i
    return rows, sizes, page_rects, unusable


def _shows_image(page) -> bool:
    """Whether the page draws an image (a scan) rather than nothing (a blank page)."""
    return any(kind in ("fill-image", "fill-imgmask") for kind, _ in page.get_bboxlog())


def structure_of(doc, sha: str, file_name: str, render: bool, deadline_s: float,
                 ocr: dict[int, str] | None = None, notes: tuple[str, ...] = ()
                 ) -> PaperStructure | OcrNeeded:
    """The structure of an opened `pymupdf.Document`; `sha` and `file_name` are recorded in it.

    First pass (`ocr` None): when pages have no usable text layer, `OcrNeeded` naming them,
    at the cost of reading the text once. Second pass: `ocr` holds the OCR dicts of the pages
    that were read (0-based index -> `workbench.pdf.ocr.ocr_page`'s TSV); `notes` are the
    caller's lines about them (which pages, or why they stay unread).
    """
    deadline = _Deadline(file_name, time.monotonic(), deadline_s)
    rows, sizes, page_rects, unusable = _read_rows(doc, deadline, ocr)
    if unusable and ocr is None:
        return OcrNeeded(unusable)
    text_layer = tuple("ocr" if ocr and p in ocr else "unread" if p in unusable else "text"
                       for p in range(doc.page_count))
    body = body_size(sizes)
    furniture = furniture_rows(rows, [r[3] - r[1] for r in page_rects])

    # a scanned letter's reference list can have no heading ('1. Rosenblatt, F. ...' in small
    # type at the end, Nature): its rows are no section headings
    headless = headless_reference_start(rows, body, furniture)
    after = set(range(headless, len(rows))) if headless is not None else set()
    headings, body_start = find_headings(rows, body, furniture | after)
    title, title_rows = find_title(rows, body)
    abstract, abstract_row = find_abstract(rows, body_start, furniture | {r.index for r in title_rows}, body)
    authors = find_authors(rows, title_rows, body_start, abstract_row)

    layout = _doc_layout(rows, page_rects, body, furniture, headings)
    figures, regions = _figures(doc, layout, render, deadline)
    caption_rows = {i for c in layout.captions for i in c.rows}
    in_figure = {r.index for r in rows if inside_any(r, regions.get(r.page, ()))}
    footnotes = {r.block for r in rows if r.first and r.lead_small}
    text_skip = furniture | caption_rows | in_figure | {r.index for r in rows if r.block in footnotes}

    sections = _sections(rows, headings, text_skip, body)
    level1 = [s for s in sections if s.level == 1]
    intro = next((s for s in level1 if "introduction" in s.name.lower()), level1[0] if level1 else None)
    ref_idx = next((k for k, h in enumerate(headings)
                    if h.level == 1 and REFERENCES_RE.match(h.name.strip())), None)
    concl = _conclusion(sections, headings, headings[ref_idx].row if ref_idx is not None else len(rows))
    widths = [r[2] - r[0] for r in page_rects]
    references = () if ref_idx is None else _references(
        rows, headings, ref_idx, furniture | caption_rows | in_figure, widths)
    if ref_idx is None and headless is not None:
        references = tuple(parse_reference(e) for e in reference_entries(
            rows, headless, len(rows), furniture | caption_rows | in_figure, widths))
    return PaperStructure(
        sha256=sha, file_name=file_name, page_count=doc.page_count, title=title, authors=authors,
        abstract=abstract, sections=tuple(sections),
        introduction=intro.text if intro else "", conclusion=concl.text if concl else "",
        conclusion_heading=concl.title if concl else None, figures=tuple(figures),
        references=references, text_layer=text_layer, notes=tuple(notes),
        labels=tuple(Label(x.kind, x.number, x.page + 1)
                     for x in find_labels(rows, furniture | caption_rows | after)))


def _doc_layout(rows: list[Row], page_rects: list[tuple], body: float, furniture: set[int],
                headings: list[Heading]) -> DocLayout:
    by_page: dict[int, list[Row]] = {}
    for r in rows:
        by_page.setdefault(r.page, []).append(r)
    return DocLayout(rows, by_page, page_rects, body, furniture, {h.row for h in headings},
                     find_captions(rows, furniture)[:MAX_FIGURES])


def _sections(rows: list[Row], headings: list[Heading], skip: set[int], body: float
              ) -> list[Section]:
    """Each heading's section: its text runs to the next heading of the same or a higher level."""
    sections = []
    for k, h in enumerate(headings):
        end = next((o.row for o in headings[k + 1:] if o.level <= h.level), len(rows))
        text = section_text(rows, h.end_row + 1, end, skip, body, headings)
        sections.append(Section(h.title, h.number, h.name, h.level, rows[h.row].page + 1, text))
    return sections


def _conclusion(sections: list[Section], headings: list[Heading], ref_row: int) -> Section | None:
    """The last conclusion-like level-1 section before the references (at row `ref_row`)."""
    concl = None
    for s, h in zip(sections, headings, strict=True):
        if h.level == 1 and h.row < ref_row and CONCLUSION_RE.search(s.name):
            concl = s
    return concl


def _references(rows: list[Row], headings: list[Heading], ref_idx: int, skip: set[int],
                widths: list[float]) -> tuple[Reference, ...]:
    """The parsed entries under headings[ref_idx], up to the next level-1 heading."""
    start = headings[ref_idx].end_row + 1
    end = next((h.row for h in headings[ref_idx + 1:] if h.level == 1), len(rows))
    entries = reference_entries(rows, start, end, skip, widths)
    return tuple(parse_reference(e) for e in entries)


def _figures(doc, layout: DocLayout, render: bool, deadline: _Deadline
             ) -> tuple[list[Figure], dict[int, list[tuple]]]:
    """Every caption's figure (with a PNG crop when `render`), sorted, and the regions found,
    by page."""
    figures, regions = [], {}
    caps_by_page: dict[int, list[Caption]] = {}
    for cap in layout.captions:
        caps_by_page.setdefault(cap.page, []).append(cap)
    content = content_box(layout.rows, layout.body, layout.furniture)
    for pno, caps in caps_by_page.items():
        deadline.check("figure extraction")
        page = doc.load_page(pno)
        boxes = [tuple(b) for kind, b in page.get_bboxlog() if kind in _DRAWN]
        found = figure_regions(caps, layout.by_page.get(pno, []), boxes, layout.page_rects[pno],
                               content, layout.body, layout.furniture, layout.heading_rows)
        for region in found:
            if region is not None:
                regions.setdefault(pno, []).append(region)
        pngs = _crops(page, found) if render else [b""] * len(found)
        figures.extend(Figure(cap.kind, cap.number, cap.text, cap.page + 1,
                              tuple(round(v, 1) for v in region) if region else None, png)
                       for cap, region, png in zip(caps, found, pngs, strict=True))
    figures.sort(key=lambda f: (f.kind != "figure", _num_key(f.number), f.page))
    return figures, regions


def _crops(page, regions: list[tuple | None]) -> list[bytes]:
    """A PNG of each region of `page` (b"" for None), at FIGURE_DPI or less on a huge page."""
    import pymupdf  # already imported, without its layout model: `doc` was opened by open_pdf

    # several crops on a page share one display list (the page is interpreted once)
    source = page.get_displaylist() if sum(r is not None for r in regions) > 1 else page
    pngs = []
    for region in regions:
        png = b""
        if region is not None:
            zoom = fit_dpi(region, FIGURE_DPI) / 72
            pix = source.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=pymupdf.Rect(region),
                                    alpha=False)
            png = pix.tobytes("png")
        pngs.append(png)
    return pngs


def _num_key(number: str):
    return (0, int(number)) if number.isdigit() else (1, number)


# what the page draws: paths, images, shadings, and text (rotated labels are not rows)
_DRAWN = ("fill-path", "stroke-path", "fill-image", "fill-imgmask", "fill-shade", "fill-text",
          "stroke-text")
