"""Paper PDFs: find or fetch them, and extract what each reading pass needs.

`extract(path)` returns a `PaperStructure`: title, author line, abstract, section headings
(level 1 in order, level 2 where the numbering makes it clear), introduction and conclusion
text, figures and tables with caption, page, box and a PNG crop, the reference list as parsed
entries, and the page count. Pure PyMuPDF on the text layer: no OCR, no network. With
`cache_dir` (the workspace's `.workbench/pdf/`), results are stored by the file's sha256 as
JSON plus PNG files and reused.

Bad files never take the caller down: empty, garbage, truncated, encrypted, not-a-PDF (an HTML
page saved as .pdf), too many pages and too large each raise their own `PdfError` with a
one-line message, after bounded work (size and page limits are checked before any parsing,
and extraction stops at a deadline).

Getting the file: `pdf_for_paper` (a `pdf:` path in papers.yaml, or `pdfs/<arxiv-id>.pdf`),
`download_arxiv_pdf` (atomic, content type and `%PDF` header checked) and `save_upload`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from workbench import pdf_layout as L
from workbench.errors import WorkbenchError
from workbench.fileio import atomic_write_bytes, atomic_write_text
from workbench.pdf_refs import (  # noqa: F401  (re-exported: the public surface is this module)
    Reference,
    ReferenceMatch,
    match_references,
    normalise_title,
    parse_reference,
    title_similarity,
)
from workbench.workspace import Workspace, validate_slug

log = logging.getLogger(__name__)

MAX_PAGES = 300                   # a 500-page file is a book or a thesis, not a paper
MAX_BYTES = 40 * 1024 * 1024      # the largest arXiv papers with many images stay below this
EXTRACT_DEADLINE_S = 120.0        # stop a pathological file instead of hanging the app
FIGURE_DPI = 100                  # crops for the gallery; pages render at PAGE_DPI
PAGE_DPI = 110
MAX_FIGURES = 80
EXTRACTOR_VERSION = 3             # bump when the output changes: old cache entries are ignored

# --- errors ------------------------------------------------------------------------------------


class PdfError(WorkbenchError):
    """A PDF that cannot be used; the message says which file and what to do."""


class PdfNotFound(PdfError):
    pass


class EmptyPdf(PdfError):
    pass


class NotAPdf(PdfError):
    pass


class CorruptPdf(PdfError):
    pass


class TruncatedPdf(PdfError):
    pass


class EncryptedPdf(PdfError):
    pass


class TooManyPages(PdfError):
    pass


class PdfTooLarge(PdfError):
    pass


class PdfTimeout(PdfError):
    pass


class PdfDownloadError(PdfError):
    pass


class ArxivOffline(PdfDownloadError):
    """arXiv could not be reached (no network, DNS failure, timeout)."""


# --- model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    title: str              # as printed, number included: '3 Model Architecture'
    number: str | None      # '3', '3.1', 'A', or None for 'References'
    name: str               # without the number: 'Model Architecture'
    level: int              # 1 or 2
    page: int               # 1-based
    text: str = field(default="", repr=False)  # body text up to the next heading of this level or above


@dataclass(frozen=True)
class Figure:
    kind: str               # 'figure' or 'table'
    number: str             # '3'
    caption: str            # 'Figure 3: ...' as printed
    page: int               # 1-based
    bbox: tuple[float, float, float, float] | None  # the drawn area in PDF points; None: caption only
    png: bytes = field(default=b"", repr=False, compare=False)  # the rendered crop

    @property
    def label(self) -> str:
        return f"{'Figure' if self.kind == 'figure' else 'Table'} {self.number}"


@dataclass(frozen=True)
class PaperStructure:
    sha256: str
    file_name: str
    page_count: int
    title: str
    authors: str                       # the author line as printed, footnote marks removed
    abstract: str
    sections: tuple[Section, ...]
    introduction: str
    conclusion: str
    conclusion_heading: str | None
    figures: tuple[Figure, ...]
    references: tuple[Reference, ...]

    @property
    def headings(self) -> list[str]:
        """Level-1 headings in reading order, as printed."""
        return [s.title for s in self.sections if s.level == 1]

    def to_dict(self, with_png: bool = False) -> dict:
        d = {
            "version": EXTRACTOR_VERSION, "sha256": self.sha256, "file_name": self.file_name,
            "page_count": self.page_count, "title": self.title, "authors": self.authors,
            "abstract": self.abstract,
            "sections": [dict(title=s.title, number=s.number, name=s.name, level=s.level,
                              page=s.page, text=s.text) for s in self.sections],
            "introduction": self.introduction, "conclusion": self.conclusion,
            "conclusion_heading": self.conclusion_heading,
            "figures": [dict(kind=f.kind, number=f.number, caption=f.caption, page=f.page,
                             bbox=list(f.bbox) if f.bbox else None) for f in self.figures],
            "references": [r.to_dict() for r in self.references],
        }
        if with_png:
            import base64

            for fd, fig in zip(d["figures"], self.figures, strict=True):
                fd["png_base64"] = base64.b64encode(fig.png).decode("ascii")
        return d

    @classmethod
    def from_dict(cls, d: dict, pngs: list[bytes] | None = None) -> PaperStructure:
        pngs = pngs or [b""] * len(d["figures"])
        return cls(
            sha256=d["sha256"], file_name=d["file_name"], page_count=d["page_count"],
            title=d["title"], authors=d["authors"], abstract=d["abstract"],
            sections=tuple(Section(**s) for s in d["sections"]),
            introduction=d["introduction"], conclusion=d["conclusion"],
            conclusion_heading=d["conclusion_heading"],
            figures=tuple(Figure(kind=f["kind"], number=f["number"], caption=f["caption"],
                                 page=f["page"], bbox=tuple(f["bbox"]) if f["bbox"] else None,
                                 png=png) for f, png in zip(d["figures"], pngs, strict=True)),
            references=tuple(Reference.from_dict(r) for r in d["references"]),
        )

    def summary(self) -> str:
        """A few lines for the CLI."""
        lines = [f"{self.title or '(no title found)'}",
                 f"  {self.authors or '(no author line found)'}",
                 f"  {self.page_count} pages, {len(self.headings)} sections, "
                 f"{sum(f.kind == 'figure' for f in self.figures)} figures, "
                 f"{sum(f.kind == 'table' for f in self.figures)} tables, "
                 f"{len(self.references)} references"]
        for s in self.sections:
            lines.append(f"  {'  ' * (s.level - 1)}{s.title}  (p. {s.page})")
        return "\n".join(lines)


# --- opening a file safely -------------------------------------------------------------------


def _pymupdf():
    """Import PyMuPDF without its optional ONNX layout model (`pymupdf.layout`).

    PyMuPDF 2 imports `pymupdf.layout` when installed (pymupdf4llm pulls it in), which loads
    two ONNX models: about 1.5 s and a few hundred MB per process, for a feature this module
    never uses. A `None` entry in `sys.modules` makes that optional import fail cleanly; it is
    removed right after, so pymupdf4llm can still import the layout package later.
    """
    if "pymupdf" not in sys.modules and "pymupdf.layout" not in sys.modules:
        sys.modules["pymupdf.layout"] = None  # type: ignore[assignment]
        try:
            import pymupdf  # noqa: F401
        finally:
            del sys.modules["pymupdf.layout"]
    import pymupdf

    return pymupdf



def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _looks_like_html(head: bytes) -> bool:
    probe = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return probe.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in probe[:512]


def check_pdf_bytes(head: bytes, size: int, name: str, max_bytes: int = MAX_BYTES) -> None:
    """Cheap checks before parsing: size and the `%PDF-` magic bytes in the first 1 KiB."""
    if size == 0 or not head.strip(b"\x00 \t\r\n"):
        raise EmptyPdf(f"{name} is empty (0 bytes of content); download it again")
    if size > max_bytes:
        raise PdfTooLarge(f"{name} is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB "
                          "(is it a scanned book? use the arXiv PDF instead)")
    if b"%PDF-" not in head[:1024]:
        if _looks_like_html(head):
            raise NotAPdf(f"{name} is an HTML page, not a PDF (a saved web page or an error page?); "
                          "download the PDF itself")
        raise NotAPdf(f"{name} is not a PDF (no %PDF- header); check that the file is a PDF")


def _check_file(path: Path, max_bytes: int) -> int:
    """Existence, size and magic bytes, before anything parses the file; returns the size."""
    if not path.is_file():
        raise PdfNotFound(f"no PDF at {path}; check the path (or the `pdf:` field in papers.yaml)")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(1024)
    check_pdf_bytes(head, size, path.name, max_bytes)
    return size


def open_pdf(path: str | os.PathLike, max_pages: int = MAX_PAGES, max_bytes: int = MAX_BYTES):
    """Open a PDF after every safety check; returns a `pymupdf.Document` or raises `PdfError`."""
    pymupdf = _pymupdf()

    path = Path(path)
    name = path.name
    size = _check_file(path, max_bytes)
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # pymupdf raises FileDataError, RuntimeError, ValueError ...
        raise CorruptPdf(f"{name} is damaged and cannot be read ({type(exc).__name__}); "
                         "download it again") from None
    try:
        if not doc.is_pdf:
            raise NotAPdf(f"{name} is not a PDF document; check that the file is a PDF")
        if doc.needs_pass:
            raise EncryptedPdf(f"{name} is password-protected; save an unprotected copy and retry")
        pages = doc.page_count
        if doc.is_repaired:
            with open(path, "rb") as fh:
                fh.seek(max(0, size - 2048))
                tail = fh.read()
            if b"%%EOF" not in tail:
                raise TruncatedPdf(f"{name} is truncated (the download stopped early?); "
                                   "download it again")
            log.warning("%s: damaged cross-reference table repaired by MuPDF", name)
        if pages == 0:
            raise CorruptPdf(f"{name} has no readable pages; download it again")
        if pages > max_pages:
            raise TooManyPages(f"{name} has {pages} pages; the limit is {max_pages} "
                               "(a book or thesis? extract the chapter you need)")
    except BaseException:
        doc.close()
        raise
    return doc


# --- extraction ---------------------------------------------------------------------------------


def extract(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None, *,
            render: bool = True, max_pages: int = MAX_PAGES, max_bytes: int = MAX_BYTES,
            deadline_s: float = EXTRACT_DEADLINE_S) -> PaperStructure:
    """Extract the reading material of a paper PDF (see the module docstring).

    With `cache_dir`, a previous result for the same file content (sha256) is returned without
    opening the PDF, and a new result is stored there. `render=False` skips the figure crops.
    """
    path = Path(path)
    _check_file(path, max_bytes)
    sha = file_sha256(path)
    if cache_dir is not None:
        cached = load_cached(cache_dir, sha)
        if cached is not None and (not render or all(f.png or f.bbox is None for f in cached.figures)):
            if cached.page_count > max_pages:
                raise TooManyPages(f"{path.name} has {cached.page_count} pages; the limit is {max_pages}")
            return cached  # same bytes as an earlier, successful extraction: MuPDF is not needed
    doc = open_pdf(path, max_pages=max_pages, max_bytes=max_bytes)
    try:
        structure = _extract_doc(doc, sha, path.name, render, deadline_s)
    finally:
        doc.close()
    if cache_dir is not None:
        save_cached(cache_dir, structure)
    return structure


def _read_rows(doc, file_name: str, started: float, deadline_s: float):
    """Every page's rows in document order, the font-size histogram and the page boxes."""
    sizes: Counter = Counter()
    rows: list[L.Row] = []
    page_rects: list[tuple] = []
    block_base = 0
    for pno in range(doc.page_count):
        if time.monotonic() - started > deadline_s:
            raise PdfTimeout(f"{file_name}: text extraction took over {deadline_s:.0f} s "
                             f"(stopped at page {pno + 1}); the file is unusually complex")
        try:
            page = doc.load_page(pno)
            rect = page.rect
            d = page.get_text("dict", flags=L.TEXT_FLAGS)
        except Exception as exc:
            log.warning("%s: page %d unreadable (%s); skipped", file_name, pno + 1, exc)
            page_rects.append((0.0, 0.0, 612.0, 792.0))
            continue
        page_rects.append((rect.x0, rect.y0, rect.x1, rect.y1))
        new = L.page_rows(d, pno, block_base, sizes)
        block_base += len(d.get("blocks", ())) + 1
        rows.extend(new)
    for i, r in enumerate(rows):
        r.index = i
    return rows, sizes, page_rects


def _extract_doc(doc, sha: str, file_name: str, render: bool, deadline_s: float) -> PaperStructure:
    started = time.monotonic()
    rows, sizes, page_rects = _read_rows(doc, file_name, started, deadline_s)
    body = L.body_size(sizes)
    heights = [r[3] - r[1] for r in page_rects]
    widths = [r[2] - r[0] for r in page_rects]
    furniture = L.furniture_rows(rows, heights)

    headings, body_start = L.find_headings(rows, body, furniture)
    title, title_rows = L.find_title(rows, body)
    abstract, abstract_row = L.find_abstract(rows, body_start, furniture | {r.index for r in title_rows}, body)
    authors = L.find_authors(rows, title_rows, body_start, abstract_row)

    captions = L.find_captions(rows, furniture)[:MAX_FIGURES]
    caption_rows = {i for c in captions for i in c.rows}
    by_page: dict[int, list[L.Row]] = {}
    for r in rows:
        by_page.setdefault(r.page, []).append(r)
    heading_rows = {h.row for h in headings}
    figures, regions = _figures(doc, captions, by_page, page_rects, body, furniture, heading_rows,
                                render, started, deadline_s, file_name)
    in_figure = {r.index for r in rows if _inside_any(r, regions.get(r.page, ()))}
    footnotes = {r.block for r in rows if r.first and r.lead_small}
    text_skip = furniture | caption_rows | in_figure | {r.index for r in rows if r.block in footnotes}

    sections = []
    for k, h in enumerate(headings):
        end = next((o.row for o in headings[k + 1:] if o.level <= h.level), len(rows))
        text = _section_text(rows, h.end_row + 1, end, text_skip, body, headings)
        sections.append(Section(h.title, h.number, h.name, h.level, rows[h.row].page + 1, text))
    level1 = [s for s in sections if s.level == 1]
    intro = next((s for s in level1 if "introduction" in s.name.lower()), level1[0] if level1 else None)
    ref_idx = next((k for k, h in enumerate(headings)
                    if h.level == 1 and L.REFERENCES_RE.match(h.name.strip())), None)
    ref_row = headings[ref_idx].row if ref_idx is not None else len(rows)
    concl = None  # the last conclusion-like level-1 section before the references
    for s, h in zip(sections, headings, strict=True):
        if h.level == 1 and h.row < ref_row and L.CONCLUSION_RE.search(s.name):
            concl = s

    references: tuple[Reference, ...] = ()
    if ref_idx is not None:
        start = headings[ref_idx].end_row + 1
        end = next((h.row for h in headings[ref_idx + 1:] if h.level == 1), len(rows))
        entries = L.reference_entries(rows, start, end, furniture | caption_rows | in_figure, widths)
        references = tuple(parse_reference(e) for e in entries)

    return PaperStructure(
        sha256=sha, file_name=file_name, page_count=doc.page_count, title=title, authors=authors,
        abstract=abstract, sections=tuple(sections),
        introduction=intro.text if intro else "", conclusion=concl.text if concl else "",
        conclusion_heading=concl.title if concl else None, figures=tuple(figures),
        references=references)


def _inside_any(r: L.Row, boxes) -> bool:
    cx, cy = (r.x0 + r.x1) / 2, (r.y0 + r.y1) / 2
    return any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes)


def _section_text(rows, start, end, skip, body, headings) -> str:
    heading_rows = {h.row for h in headings}
    blocks: list[list[str]] = []
    last_block = None
    for r in rows[start:end]:
        if r.index in skip or r.index in heading_rows or r.size < body - 0.8:
            continue
        if r.block != last_block:
            blocks.append([])
            last_block = r.block
        blocks[-1].append(r.text)
    return "\n".join(L.join_lines(b) for b in blocks if b)


def _figures(doc, captions, by_page, page_rects, body, furniture, heading_rows, render, started,
             deadline_s, file_name):
    pymupdf = _pymupdf()

    figures, regions = [], {}
    caps_by_page: dict[int, list[L.Caption]] = {}
    for cap in captions:
        caps_by_page.setdefault(cap.page, []).append(cap)
    content = _content_box([r for rs in by_page.values() for r in rs], body, furniture)
    for pno, caps in caps_by_page.items():
        if time.monotonic() - started > deadline_s:
            raise PdfTimeout(f"{file_name}: figure extraction took over {deadline_s:.0f} s")
        page = doc.load_page(pno)
        boxes = [tuple(b) for kind, b in page.get_bboxlog() if kind in _DRAWN]
        prows = by_page.get(pno, [])
        found = L.figure_regions(caps, prows, boxes, page_rects[pno], content, body, furniture,
                                 heading_rows)
        # several crops on a page share one display list (the page is interpreted once)
        source = page.get_displaylist() if render and sum(r is not None for r in found) > 1 else page
        zoom = pymupdf.Matrix(FIGURE_DPI / 72, FIGURE_DPI / 72)
        for cap, region in zip(caps, found, strict=True):
            png = b""
            if region is not None:
                regions.setdefault(pno, []).append(region)
                if render:
                    pix = source.get_pixmap(matrix=zoom, clip=pymupdf.Rect(region), alpha=False)
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


def _content_box(rows, body, furniture) -> tuple:
    """The text area of the document: where running text goes, without headers and footers."""
    text = [r for r in rows if r.index not in furniture and r.size >= body - 1.5]
    if not text:
        return (0.0, 0.0, 612.0, 792.0)
    return (min(r.x0 for r in text), min(r.y0 for r in text),
            max(r.x1 for r in text), max(r.y1 for r in text))


# --- cache -----------------------------------------------------------------------------------------


def pdf_cache_dir(workspace: Workspace) -> Path:
    return workspace.cache_dir / "pdf"


def load_cached(cache_dir: str | os.PathLike, sha: str) -> PaperStructure | None:
    """The cached structure for a file's sha256, or None (missing, stale version, unreadable)."""
    cache_dir = Path(cache_dir)
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        return None
    try:
        d = json.loads((cache_dir / f"{sha}.json").read_text(encoding="utf-8"))
        if d.get("version") != EXTRACTOR_VERSION:
            return None
        pngs = []
        for f in d["figures"]:
            png_path = cache_dir / sha / f.get("png") if f.get("png") else None
            pngs.append(png_path.read_bytes() if png_path and png_path.is_file() else b"")
        return PaperStructure.from_dict(d, pngs)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("PDF cache entry %s unusable (%s); extracting again", sha[:12], exc)
        return None


def save_cached(cache_dir: str | os.PathLike, structure: PaperStructure) -> Path:
    cache_dir = Path(cache_dir)
    d = structure.to_dict()
    for k, (fd, fig) in enumerate(zip(d["figures"], structure.figures, strict=True)):
        if fig.png:
            name = f"{fig.kind}-{k:02d}.png"
            atomic_write_bytes(cache_dir / structure.sha256 / name, fig.png)
            fd["png"] = name
    path = cache_dir / f"{structure.sha256}.json"
    atomic_write_text(path, json.dumps(d, ensure_ascii=False, indent=1))
    return path


def render_page(path: str | os.PathLike, page: int, dpi: int = PAGE_DPI,
                cache_dir: str | os.PathLike | None = None) -> bytes:
    """PNG of one page (1-based), cached as `<cache_dir>/<sha256>/page-<n>-<dpi>.png`."""
    pymupdf = _pymupdf()

    doc = open_pdf(path)
    try:
        if not 1 <= page <= doc.page_count:
            raise PdfError(f"{Path(path).name} has {doc.page_count} pages; page {page} does not exist")
        target = None
        if cache_dir is not None:
            target = Path(cache_dir) / file_sha256(path) / f"page-{page}-{dpi}.png"
            if target.is_file():
                return target.read_bytes()
        png = doc.load_page(page - 1).get_pixmap(dpi=dpi, alpha=False).tobytes("png")
        if target is not None:
            atomic_write_bytes(target, png)
        return png
    except pymupdf.FileDataError as exc:
        raise CorruptPdf(f"{Path(path).name}: page {page} cannot be rendered ({exc})") from None
    finally:
        doc.close()


# --- finding, downloading and uploading PDFs -------------------------------------------------------


def arxiv_file_name(arxiv_id: str) -> str:
    """'1512.03385v2' -> '1512.03385.pdf'; old ids 'cs/0101001' -> 'cs_0101001.pdf'."""
    arxiv_id = re.sub(r"v\d+$", "", arxiv_id.strip())
    if not re.fullmatch(r"\d{4}\.\d{4,5}|[a-z][a-z\-]*(\.[A-Z]{2})?/\d{7}", arxiv_id):
        raise PdfError(f"{arxiv_id!r} is not an arXiv id (expected e.g. 1512.03385)")
    return arxiv_id.replace("/", "_") + ".pdf"


def pdf_for_paper(workspace: Workspace, paper) -> Path | None:
    """The local PDF of a catalog paper: its `pdf:` path (relative to the workspace), else
    `pdfs/<arxiv-id>.pdf`, else `pdfs/<paper-id>.pdf`; None when there is none yet."""
    root = workspace.root.resolve()
    if getattr(paper, "pdf", None):
        candidate = (root / paper.pdf).resolve()
        if not candidate.is_relative_to(root):
            raise PdfError(f"paper '{paper.id}': pdf path {paper.pdf!r} points outside the workspace")
        if candidate.is_file():
            return candidate
        log.info("paper %s: pdf %s not found", paper.id, paper.pdf)
    if getattr(paper, "arxiv", None):
        try:
            candidate = workspace.pdfs_dir / arxiv_file_name(paper.arxiv)
        except PdfError:
            candidate = None
        if candidate is not None and candidate.is_file():
            return candidate
    candidate = workspace.pdfs_dir / f"{validate_slug(paper.id, 'paper id')}.pdf"
    return candidate if candidate.is_file() else None


def download_arxiv_pdf(arxiv_id: str, dest_dir: str | os.PathLike, base_url: str | None = None,
                       timeout: float | None = None, max_bytes: int = MAX_BYTES) -> Path:
    """Download `<base_url>/<id>` into `dest_dir/<id>.pdf` (atomically) and return the path.

    The same settings as the arXiv client (`workbench.sources.Settings`): `base_url` defaults to
    `$WORKBENCH_ARXIV_PDF_URL`, else https://arxiv.org/pdf; `timeout` to `$WORKBENCH_HTTP_TIMEOUT`
    (20 s); with `WORKBENCH_OFFLINE=1` nothing is requested. The response must have a PDF
    content type and start with `%PDF-`; anything else (an HTML captcha page, a 404) raises a
    `PdfError` and leaves no file. No network, or offline mode, raises `ArxivOffline`. An
    existing file is returned as is.
    """
    import requests

    from workbench.sources import Settings

    settings = Settings.from_env()  # a malformed WORKBENCH_* raises SourceConfigError (one line)
    base_url = base_url or settings.arxiv_pdf_url
    timeout = settings.timeout_s if timeout is None else timeout
    dest = Path(dest_dir) / arxiv_file_name(arxiv_id)
    if dest.is_file():
        return dest
    clean_id = re.sub(r"v\d+$", "", arxiv_id.strip())
    if settings.offline:
        raise ArxivOffline(f"offline (WORKBENCH_OFFLINE=1): the PDF of {clean_id} is not "
                           f"downloaded; put it in {Path(dest_dir)} or upload it")
    url = f"{base_url.rstrip('/')}/{clean_id}"
    try:
        with requests.get(url, timeout=timeout, stream=True,
                          headers={"User-Agent": "paper-workbench (course tool)"}) as resp:
            if resp.status_code == 404:
                raise PdfDownloadError(f"arXiv has no PDF for {clean_id} (HTTP 404); check the id")
            if resp.status_code != 200:
                raise PdfDownloadError(f"arXiv answered HTTP {resp.status_code} for {clean_id}; "
                                       "try again later")
            ctype = resp.headers.get("Content-Type", "")
            if "pdf" not in ctype.lower():
                raise PdfDownloadError(f"arXiv sent {ctype or 'no content type'} instead of a PDF for "
                                       f"{clean_id}; open {url} in a browser and save the PDF")
            chunks, total = [], 0
            for chunk in resp.iter_content(1 << 16):
                total += len(chunk)
                if total > max_bytes:
                    raise PdfTooLarge(f"the PDF of {clean_id} is over {max_bytes / 2**20:.0f} MB")
                chunks.append(chunk)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ArxivOffline(f"arXiv is unreachable ({type(exc).__name__}); you seem to be offline: "
                           f"put the PDF in {Path(dest_dir)} or upload it") from None
    except requests.RequestException as exc:
        raise PdfDownloadError(f"download of {clean_id} failed: {type(exc).__name__}") from None
    data = b"".join(chunks)
    check_pdf_bytes(data[:1024], len(data), f"the download of {clean_id}", max_bytes)
    atomic_write_bytes(dest, data)
    log.info("downloaded %s (%d bytes) to %s", clean_id, len(data), dest)
    return dest


def save_upload(data: bytes, workspace: Workspace, paper_id: str,
                max_bytes: int = MAX_BYTES) -> Path:
    """Store uploaded bytes as `pdfs/<paper-id>.pdf` after the size and magic-bytes checks."""
    validate_slug(paper_id, "paper id")
    check_pdf_bytes(data[:1024], len(data), "the uploaded file", max_bytes)
    dest = workspace.pdfs_dir / f"{paper_id}.pdf"
    atomic_write_bytes(dest, data)
    try:  # refuse a file with a PDF header that is not a readable PDF, and do not keep it
        open_pdf(dest, max_bytes=max_bytes).close()
    except PdfError:
        dest.unlink(missing_ok=True)
        raise
    return dest


def find_pdf(workspace: Workspace, paper_or_path: str, download: bool = False) -> Path:
    """The PDF a user names: an existing file, else a catalog paper's PDF (`pdf_for_paper`),
    downloaded from arXiv first when `download` is set and the paper has an arXiv id."""
    candidate = Path(paper_or_path).expanduser()
    if candidate.suffix.lower() == ".pdf" or candidate.is_file():
        if not candidate.is_file():
            raise PdfNotFound(f"no file {candidate}; check the path")
        return candidate
    from workbench import catalog as catalog_mod

    validate_slug(paper_or_path, "paper id")
    cat = catalog_mod.load(workspace.catalog_path)
    paper = cat.get(paper_or_path)
    if paper is None:
        raise PdfNotFound(f"'{paper_or_path}' is neither a file nor a paper id in "
                          f"{workspace.catalog_path.name}")
    path = pdf_for_paper(workspace, paper)
    if path is None and download and paper.arxiv:
        path = download_arxiv_pdf(paper.arxiv, workspace.pdfs_dir)
    if path is None:
        hint = " or pass --download" if paper.arxiv else ""
        raise PdfNotFound(f"no PDF for '{paper.id}' yet: put it in {workspace.pdfs_dir}/, set "
                          f"`pdf:` in papers.yaml{hint}")
    return path


def structure_for_paper(workspace: Workspace, paper, render: bool = True) -> PaperStructure | None:
    """The extracted structure of a catalog paper's local PDF (cached), or None without a PDF."""
    path = pdf_for_paper(workspace, paper)
    if path is None:
        return None
    return extract(path, cache_dir=pdf_cache_dir(workspace), render=render)


# --- citation edges -------------------------------------------------------------------------------


def pdf_citation_edges(workspace: Workspace, catalog, threshold: float = 0.9,
                       ) -> Iterator[tuple[str, str, dict]]:
    """Citation edges found in the catalog papers' PDFs: (citing_id, cited_id, attributes).

    The attributes are `{'source': 'pdf', 'method': 'arxiv'|'doi'|'title', 'score': float}`, so
    `graph.add_edges_from(pdf_citation_edges(ws, cat))` works directly. Papers without a local
    PDF are skipped; an unreadable PDF is logged and skipped.
    """
    for paper in catalog.papers:
        try:
            structure = structure_for_paper(workspace, paper, render=False)
        except PdfError as exc:
            log.warning("paper %s: %s", paper.id, exc)
            continue
        if structure is None:
            continue
        seen = set()
        for m in match_references(structure.references, catalog, threshold, exclude=paper.id):
            if m.paper_id not in seen:
                seen.add(m.paper_id)
                yield paper.id, m.paper_id, {"source": "pdf", "method": m.method, "score": m.score}
