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

from workbench.pdf.figures import Caption, content_box, figure_regions, find_captions, inside_any
from workbench.pdf.front_matter import find_abstract, find_authors, find_title
from workbench.pdf.layout import (
    CONCLUSION_RE,
    REFERENCES_RE,
    TEXT_FLAGS,
    Row,
    body_size,
    find_headings,
    furniture_rows,
    page_rows,
    section_text,
)
from workbench.pdf.refs import Reference, parse_reference, reference_entries
from workbench.pdf.structure import Figure, PaperStructure, Section
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


def _read_rows(doc, file_name: str, started: float, deadline_s: float):
    """Every page's rows in document order, the font-size histogram and the page boxes."""
    sizes: Counter = Counter()
    rows: list[Row] = []
    page_rects: list[tuple] = []
    block_base = 0
    for pno in range(doc.page_count):
        if time.monotonic() - started > deadline_s:
            raise DeadlinePassed(f"{file_name}: text extraction took over {deadline_s:.0f} s "
                                 f"(stopped at page {pno + 1}); the file is unusually complex")
        try:
            page = doc.load_page(pno)
            rect = page.rect
            d = page.get_text("dict", flags=TEXT_FLAGS)
        except Exception as exc:
            if out_of_memory(exc):
                raise MemoryError from None  # the file, not the page: the worker reports it
            log.warning("%s: page %d unreadable (%s); skipped", file_name, pno + 1, exc)
            page_rects.append((0.0, 0.0, 612.0, 792.0))
            continue
        page_rects.append((rect.x0, rect.y0, rect.x1, rect.y1))
        new = page_rows(d, pno, block_base, sizes)
        block_base += len(d.get("blocks", ())) + 1
        rows.extend(new)
    for i, r in enumerate(rows):
        r.index = i
    return rows, sizes, page_rects


def structure_of(doc, sha: str, file_name: str, render: bool, deadline_s: float) -> PaperStructure:
    """The structure of an opened `pymupdf.Document`; `sha` and `file_name` are recorded in it."""
    started = time.monotonic()
    rows, sizes, page_rects = _read_rows(doc, file_name, started, deadline_s)
    body = body_size(sizes)
    heights = [r[3] - r[1] for r in page_rects]
    widths = [r[2] - r[0] for r in page_rects]
    furniture = furniture_rows(rows, heights)

    headings, body_start = find_headings(rows, body, furniture)
    title, title_rows = find_title(rows, body)
    abstract, abstract_row = find_abstract(rows, body_start, furniture | {r.index for r in title_rows}, body)
    authors = find_authors(rows, title_rows, body_start, abstract_row)

    captions = find_captions(rows, furniture)[:MAX_FIGURES]
    caption_rows = {i for c in captions for i in c.rows}
    by_page: dict[int, list[Row]] = {}
    for r in rows:
        by_page.setdefault(r.page, []).append(r)
    heading_rows = {h.row for h in headings}
    figures, regions = _figures(doc, captions, by_page, page_rects, body, furniture, heading_rows,
                                render, started, deadline_s, file_name)
    in_figure = {r.index for r in rows if inside_any(r, regions.get(r.page, ()))}
    footnotes = {r.block for r in rows if r.first and r.lead_small}
    text_skip = furniture | caption_rows | in_figure | {r.index for r in rows if r.block in footnotes}

    sections = []
    for k, h in enumerate(headings):
        end = next((o.row for o in headings[k + 1:] if o.level <= h.level), len(rows))
        text = section_text(rows, h.end_row + 1, end, text_skip, body, headings)
        sections.append(Section(h.title, h.number, h.name, h.level, rows[h.row].page + 1, text))
    level1 = [s for s in sections if s.level == 1]
    intro = next((s for s in level1 if "introduction" in s.name.lower()), level1[0] if level1 else None)
    ref_idx = next((k for k, h in enumerate(headings)
                    if h.level == 1 and REFERENCES_RE.match(h.name.strip())), None)
    ref_row = headings[ref_idx].row if ref_idx is not None else len(rows)
    concl = None  # the last conclusion-like level-1 section before the references
    for s, h in zip(sections, headings, strict=True):
        if h.level == 1 and h.row < ref_row and CONCLUSION_RE.search(s.name):
            concl = s

    references: tuple[Reference, ...] = ()
    if ref_idx is not None:
        start = headings[ref_idx].end_row + 1
        end = next((h.row for h in headings[ref_idx + 1:] if h.level == 1), len(rows))
        entries = reference_entries(rows, start, end, furniture | caption_rows | in_figure, widths)
        references = tuple(parse_reference(e) for e in entries)

    return PaperStructure(
        sha256=sha, file_name=file_name, page_count=doc.page_count, title=title, authors=authors,
        abstract=abstract, sections=tuple(sections),
        introduction=intro.text if intro else "", conclusion=concl.text if concl else "",
        conclusion_heading=concl.title if concl else None, figures=tuple(figures),
        references=references)



def _figures(doc, captions, by_page, page_rects, body, furniture, heading_rows, render, started,
             deadline_s, file_name):
    import pymupdf  # already imported, without its layout model: `doc` was opened by open_pdf

    figures, regions = [], {}
    caps_by_page: dict[int, list[Caption]] = {}
    for cap in captions:
        caps_by_page.setdefault(cap.page, []).append(cap)
    content = content_box([r for rs in by_page.values() for r in rs], body, furniture)
    for pno, caps in caps_by_page.items():
        if time.monotonic() - started > deadline_s:
            raise DeadlinePassed(f"{file_name}: figure extraction took over {deadline_s:.0f} s")
        page = doc.load_page(pno)
        boxes = [tuple(b) for kind, b in page.get_bboxlog() if kind in _DRAWN]
        prows = by_page.get(pno, [])
        found = figure_regions(caps, prows, boxes, page_rects[pno], content, body, furniture,
                               heading_rows)
        # several crops on a page share one display list (the page is interpreted once)
        source = page.get_displaylist() if render and sum(r is not None for r in found) > 1 else page
        for cap, region in zip(caps, found, strict=True):
            png = b""
            if region is not None:
                regions.setdefault(pno, []).append(region)
                if render:
                    zoom = fit_dpi(region, FIGURE_DPI) / 72  # a huge page: a smaller crop
                    pix = source.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom),
                                            clip=pymupdf.Rect(region), alpha=False)
                    png = pix.tobytes("png")
            figures.append(Figure(cap.kind, cap.number, cap.text, cap.page + 1,
                                  tuple(round(v, 1) for v in region) if region else None, png))
    figures.sort(key=lambda f: (f.kind != "figure", _num_key(f.number), f.page))
    return figures, regions


def _num_key(number: str):
    return (0, int(number)) if number.isdigit() else (1, number)


# what the page draws: paths, images, shadings, and text (rotated labels are not rows)
_DRAWN = ("fill-path", "stroke-path", "fill-image", "fill-imgmask", "fill-shade", "fill-text",
          "stroke-text")
