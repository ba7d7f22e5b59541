"""Key figures for a handout, cropped from the paper's PDF.

`key_figures` picks up to MAX_FIGURES figures that `workbench.pdf.document` found with a caption:
those the readers mention in their pass-2 notes first, then the paper's first figures. Each is
re-rendered at FIGURE_DPI from a tight clip of what is drawn in its region, with stray lines of
the surrounding text hidden, in a worker process with a deadline and a memory limit
(`workbench.pdf.document.run_limited`): a PDF that cannot be rendered costs its paper its figures, not
the handout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workbench.workspace import Workspace

MAX_FIGURES = 3
FIGURE_DPI = 150          # key figures are re-rendered from the PDF at this resolution
MIN_FIGURE_PT = 60        # a drawn region smaller than this (either side) is a logo, not a figure
RENDER_DEADLINE_S = 30.0  # for all of a paper's key figures


@dataclass(frozen=True)
class KeyFigure:
    label: str       # 'Figure 3'
    caption: str     # as printed in the paper
    page: int
    png: bytes = field(repr=False)
    width: int       # pixels at FIGURE_DPI
    height: int
    file_name: str   # 'resnet-figure-3.png' when written next to a Markdown file


_FIG_MENTION_RE = re.compile(r"\bfig(?:ure)?s?\.?\s*(\d+)", re.IGNORECASE)


def key_figures(ws: Workspace, paper, notes) -> tuple[tuple[KeyFigure, ...], str | None]:
    """(up to MAX_FIGURES figures, why there are none): figures the readers mention in their
    notes first, then the paper's first figures (appendix ones only when mentioned)."""
    from workbench import pdf

    try:
        path = pdf.pdf_for_paper(ws, paper)
    except pdf.PdfError as exc:
        return (), f"the PDF cannot be used: {exc}"
    if path is None:
        where = f"pdfs/{paper.arxiv}.pdf" if paper.arxiv else f"pdfs/{paper.id}.pdf"
        return (), (f"no PDF in the workspace, so no figures: put it at {where} or set "
                    "`pdf:` in papers.yaml")
    try:
        structure = pdf.extract(path, cache_dir=pdf.pdf_cache_dir(ws), render=False)
    except pdf.PdfError as exc:
        return (), f"the PDF could not be read, so no figures: {exc}"
    found = [f for f in structure.figures if f.kind == "figure" and f.bbox is not None]
    if not found:
        return (), "no figure with a caption was found in the PDF"
    mentioned: list[str] = []
    for n in notes:
        for text in (n.figures, n.summary, n.passes[1].notes):
            mentioned += [m for m in _FIG_MENTION_RE.findall(text or "") if m not in mentioned]

    ref_page = next((sec.page for sec in structure.sections if sec.level == 1
                     and re.match(r"(references|bibliography)\b", sec.name, re.I)), None)

    def main_body(f) -> bool:  # appendix figures (after the references) only when mentioned
        return ref_page is None or f.page <= ref_page

    def size_ok(f) -> bool:
        x0, y0, x1, y1 = f.bbox
        return x1 - x0 >= MIN_FIGURE_PT and y1 - y0 >= MIN_FIGURE_PT

    chosen = [f for num in mentioned for f in found if f.number == num]
    chosen += [f for f in found if f not in chosen and size_ok(f) and main_body(f)]
    chosen = sorted(chosen[:MAX_FIGURES], key=lambda f: found.index(f))
    try:
        rendered = pdf.run_limited(_render_job, path.absolute(),
                                   [(f.page, _apart(f, structure.figures)) for f in chosen],
                                   name=path.name, what="rendering its figures",
                                   deadline_s=RENDER_DEADLINE_S)
    except pdf.PdfError as exc:
        return (), f"the figures could not be rendered: {exc}"
    return tuple(KeyFigure(f.label, f.caption, f.page, png, width, height,
                           f"{paper.id}-figure-{f.number}.png")
                 for f, (png, width, height) in zip(chosen, rendered, strict=True)), None


def _render_job(path, figures: list[tuple[int, tuple]]) -> list[tuple[bytes, int, int]]:
    """(PNG, width, height) of each (page, box), in a worker (`workbench.pdf.document.run_limited`)."""
    from workbench import pdf

    out = []
    doc = pdf.open_pdf(path)
    try:
        for page, bbox in figures:
            pix = _render_figure(doc.load_page(page - 1), bbox)
            out.append((pix.tobytes("png"), pix.width, pix.height))
    finally:
        doc.close()  # never saved: the redactions below only change this in-memory copy
    return out


def _apart(fig, figures) -> tuple:
    """`fig`'s box cut back where it runs into a neighbouring figure or table on its page
    (side-by-side figures found by `workbench.pdf.document` can overlap by a few points)."""
    x0, y0, x1, y1 = fig.bbox
    for other in figures:
        if other is fig or other.page != fig.page or other.bbox is None:
            continue
        a0, b0, a1, b1 = other.bbox
        if a0 >= x1 or a1 <= x0 or b0 >= y1 or b1 <= y0:
            continue  # no overlap
        if (a0 + a1) / 2 >= (x1 + x0) / 2 and a0 > x0:
            x1 = min(x1, a0)     # the other one is to the right
        elif (a0 + a1) / 2 < (x1 + x0) / 2 and a1 < x1:
            x0 = max(x0, a1)     # to the left
    return (x0, y0, x1, y1)


_DRAWN = ("fill-path", "stroke-path", "fill-image", "fill-imgmask", "fill-shade")


def _prose(text: str) -> bool:
    """A line of running text rather than a figure label: 7+ words, or a sentence's end."""
    words = text.split()
    return len(words) >= 7 or (len(words) >= 3 and text.rstrip().endswith("."))


def _tight_clip(page, bbox) -> tuple:
    """(clip, text lines to hide) for a figure region found by `workbench.pdf.document`.

    The region sometimes takes in a line of the paragraph above or the first line of the
    caption below. The clip is the union of what is drawn in the region (paths, images) and
    the text lines beside it (labels); a line above or below the drawing is dropped when it
    belongs to a text block running over the region's edge or reads as prose. Dropped lines
    that still overlap the clip are returned, to be hidden before rendering.
    """
    import pymupdf

    region = pymupdf.Rect(bbox)
    loose = region + (-1, -1, 1, 1)
    boxes = [r for kind, box in page.get_bboxlog()
             if kind in _DRAWN and not (r := pymupdf.Rect(box) & region).is_empty]
    lines = []
    for block in page.get_text("dict")["blocks"]:
        block_rect = pymupdf.Rect(block["bbox"])
        if block.get("type") == 0 and block_rect.intersects(region):
            lines += [(pymupdf.Rect(line["bbox"]), "".join(s["text"] for s in line["spans"]),
                       block_rect in loose) for line in block["lines"]]
    dropped: list = []
    for _ in range(2):  # again without the marks drawn inside dropped lines (underscores)
        drawn = pymupdf.Rect()
        for r in boxes:
            if not any(r in d + (-1, -1, 1, 1) for d in dropped):
                drawn |= r
        if drawn.is_empty:  # nothing drawn: a text-only figure, keep the region as found
            return region, []
        keep, dropped = pymupdf.Rect(drawn), []
        for rect, text, contained in lines:
            beside = drawn.y0 <= (rect.y0 + rect.y1) / 2 <= drawn.y1
            if not beside and (not contained or _prose(text)):
                dropped.append(rect)
            else:
                keep |= rect & region
    clip = (keep + (-2, -2, 2, 2)) & region
    return clip, [r for r in dropped if r.intersects(clip)]


def _render_figure(page, bbox):
    """The figure as a pixmap at FIGURE_DPI: tight clip, stray text lines removed from this
    in-memory page (text only: drawings and images under them stay)."""
    import pymupdf

    from workbench.pdf import fit_dpi

    clip, hide = _tight_clip(page, bbox)
    if hide:
        for rect in hide:
            page.add_redact_annot(rect, fill=False)
        page.apply_redactions(images=pymupdf.PDF_REDACT_IMAGE_NONE,
                              graphics=pymupdf.PDF_REDACT_LINE_ART_NONE)
    zoom = fit_dpi(clip, FIGURE_DPI) / 72
    return page.get_pixmap(clip=clip, matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
