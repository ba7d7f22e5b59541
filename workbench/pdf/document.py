"""Paper PDFs: open them safely, extract what each reading pass needs, find a catalog paper's PDF.

`extract(path)` returns a `PaperStructure` (`workbench.pdf.structure`): title, author line,
abstract, section headings (level 1 in order, level 2 where the numbering makes it clear),
introduction and conclusion text, figures and tables with caption, page, box and a PNG crop,
the reference list as parsed entries, the page count, and per page whether its text came
from its text layer or from OCR. PyMuPDF on the text layer, no network; pages without a usable
text layer (scans, Type 3 bitmap fonts) are read by OCR, and only those (`workbench.pdf.ocr`),
each in its own worker job with OCR_DEADLINE_S. With `cache_dir` (the workspace's
`.workbench/pdf/`), results are stored by the file's sha256 as JSON plus PNG files and reused
(`workbench.pdf.structure`). The work on the opened file is `workbench.pdf.extraction`, with
the layout analysis of `pdf_layout`, `pdf_front_matter`, `pdf_figures` and `pdf_refs`.

Bad files never take the caller down: empty, garbage, truncated, encrypted, not-a-PDF (an HTML
page saved as .pdf), too many pages and too large each raise their own `PdfError` with a
one-line message, after bounded work: size and magic bytes are checked before any parsing, and
everything that parses a PDF (extraction, page and figure rendering) runs in a worker process
with a deadline and a memory limit (`run_limited`, `workbench.pdf.worker`), so a page tree
claiming a million pages, a 200-inch page or a flate bomb costs at most those limits, and every
MuPDF failure is a `PdfError`.

`pdf_for_paper` finds a catalog paper's local PDF (a `pdf:` path in papers.yaml, or
`pdfs/<arxiv-id>.pdf`); `pdf_citation_edges` links the catalog papers through their reference
lists. Downloading, uploading and finding a PDF by name are `workbench.pdf.files`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.fileio import write_cache_bytes
from workbench.pdf import ocr as pdf_ocr
from workbench.pdf import worker as pdf_worker
from workbench.pdf.extraction import DeadlinePassed, OcrNeeded, fit_dpi, structure_of
from workbench.pdf.refs import match_references
from workbench.pdf.structure import (
    PaperStructure,
    load_cached,
    load_failure,
    load_ocr_page,
    save_cached,
    save_failure,
    save_ocr_page,
)
from workbench.workspace import Workspace, validate_slug

log = logging.getLogger(__name__)

MAX_PAGES = 300                   # a 500-page file is a book or a thesis, not a paper
MAX_BYTES = 40 * 1024 * 1024      # the largest arXiv papers with many images stay below this
EXTRACT_DEADLINE_S = 60.0         # 300 pages take 6 s (BENCHMARKS.md), 25 s on a loaded machine
RENDER_DEADLINE_S = 20.0          # one page; a born-digital page renders in well under 1 s
MEMORY_MB = 1024                  # per worker job; extracting a paper takes 60 MB or less
OCR_DEADLINE_S = 300.0            # one page: 1-7 s of CPU, over 100 s seen on an overloaded machine
OCR_WORKERS = min(2, os.cpu_count() or 1)  # pages read at once (Tesseract on one core each)
PAGE_DPI = 110                    # `render_page`; figure crops are rendered at pdf_extract.FIGURE_DPI

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


class PdfMemoryExceeded(PdfError):
    pass


class PdfDownloadError(PdfError):
    pass


class ArxivOffline(PdfDownloadError):
    """arXiv could not be reached (no network, DNS failure, timeout)."""


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
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise PdfError(f"cannot read {path.name} ({exc.strerror or exc}); check its "
                       "permissions") from None
    check_pdf_bytes(head, size, path.name, max_bytes)
    return size


def open_pdf(path: str | os.PathLike, max_pages: int = MAX_PAGES, max_bytes: int = MAX_BYTES):
    """Open a PDF after every safety check; returns a `pymupdf.Document` or raises `PdfError`.

    This runs MuPDF on the file without limits: call it in a worker job (`run_limited`).
    """
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
    except BaseException as exc:
        doc.close()
        if isinstance(exc, Exception) and not isinstance(exc, PdfError):
            # MuPDF: a page tree that claims 1,000,000 pages raises RuntimeError on page_count
            raise CorruptPdf(f"{name} is damaged and cannot be read ({pdf_worker.one_line(exc)}); "
                             "download it again") from None
        raise
    return doc


# --- the worker process -----------------------------------------------------------------------


def run_limited(job: Callable, *args, name: str, what: str, deadline_s: float,
                memory_mb: int = MEMORY_MB):
    """`job(*args)` in a worker process (`workbench.pdf.worker`) with a deadline and a memory
    limit; what goes wrong there is a `PdfError` about `name` ("reading it" is `what`)."""
    try:
        return pdf_worker.run(job, *args, deadline_s=deadline_s, memory_mb=memory_mb)
    except pdf_worker.OverTime:
        raise PdfTimeout(f"{name}: {what} took over {deadline_s:g} s and was stopped; the file "
                         "is unusually complex (a compressed-data bomb?), use another copy") from None
    except pdf_worker.OverMemory:
        raise PdfMemoryExceeded(f"{name}: {what} needs more than {memory_mb} MB of memory and was "
                                "stopped; the file is unusually complex, use another copy") from None
    except pdf_worker.Failed as exc:
        raise CorruptPdf(f"{name}: {what} failed ({exc}); the file is damaged, download it "
                         "again") from None


# --- extraction ---------------------------------------------------------------------------------


def extract(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None, *,
            render: bool = True, max_pages: int = MAX_PAGES, max_bytes: int = MAX_BYTES,
            deadline_s: float = EXTRACT_DEADLINE_S, memory_mb: int = MEMORY_MB,
            progress: Callable[[int, int], None] | None = None) -> PaperStructure:
    """Extract the reading material of a paper PDF (see the module docstring).

    Pages without a usable text layer are read by OCR, one worker job of OCR_DEADLINE_S each;
    `progress(done, total)` is called before the first and after each of them (a scanned
    paper takes seconds per page), and each page's OCR text is cached with the structure.
    Without an OCR engine those pages stay unread and `notes` says how to install one; such a
    structure is not cached, so installing the engine is enough to read them next time.

    With `cache_dir`, a previous result for the same file content (sha256) is returned without
    opening the PDF, and a new result is stored there; so is a file that ran over the time or
    memory limit, which is then refused at once (until a caller allows it more).
    `render=False` skips the figure crops.
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
        failed = load_failure(cache_dir, sha, deadline_s, memory_mb)
        if failed is not None:
            error = PdfTimeout if failed[0] == "PdfTimeout" else PdfMemoryExceeded
            raise error(f"{failed[1]} (remembered from an earlier try of this file)")
    job = (_extract_job, path.absolute(), sha, render, max_pages, max_bytes, deadline_s)
    limits = dict(name=path.name, what="reading it", deadline_s=deadline_s, memory_mb=memory_mb)
    try:
        structure = run_limited(*job, None, (), **limits)
        if isinstance(structure, OcrNeeded):
            ocr, notes = _ocr_pages(path, sha, sorted(structure.pages), cache_dir, memory_mb,
                                    progress)
            structure = run_limited(*job, ocr, notes, **limits)
    except (PdfTimeout, PdfMemoryExceeded) as exc:
        if cache_dir is not None:
            save_failure(cache_dir, sha, type(exc).__name__, str(exc), deadline_s, memory_mb)
        raise
    if cache_dir is not None and not structure.unread_pages:
        save_cached(cache_dir, structure)
    return structure


def _ocr_pages(path: Path, sha: str, pages: list[int], cache_dir, memory_mb: int,
               progress: Callable[[int, int], None] | None) -> tuple[dict[int, str], tuple[str, ...]]:
    """The OCR text of `pages` (0-based; cached ones from `cache_dir`) and the notes about them.

    Pages are read OCR_WORKERS at a time, each by Tesseract on one core in its own worker job.
    A page whose OCR fails or runs over OCR_DEADLINE_S stays unread and gets its own note; no
    engine leaves the pages not in the cache unread, with one note."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    ocr: dict[int, str] = {}
    failed: dict[int, str] = {}
    todo = []
    for pno in pages:
        tsv = load_ocr_page(cache_dir, sha, pno) if cache_dir is not None else None
        if tsv is None:
            todo.append(pno)
        else:
            ocr[pno] = tsv
    engine = pdf_ocr.find_tesseract() if todo else None
    if todo and engine is None:
        note = pdf_ocr.missing_engine_note([p + 1 for p in todo])
        log.warning("%s: %s", path.name, note)
        return ocr, ((pdf_ocr.ocr_note([p + 1 for p in ocr]),) if ocr else ()) + (note,)
    done = len(ocr)
    if progress is not None:
        progress(done, len(pages))

    def read(pno: int) -> str:
        return run_limited(_ocr_job, path.absolute(), pno, engine, name=path.name,
                           what=f"OCR of page {pno + 1}", deadline_s=OCR_DEADLINE_S,
                           memory_mb=memory_mb)

    with ThreadPoolExecutor(max_workers=OCR_WORKERS) as pool:
        futures = {pool.submit(read, pno): pno for pno in todo}
        for future in as_completed(futures):
            pno = futures[future]
            try:
                ocr[pno] = future.result()
            except PdfError as exc:
                log.warning("%s", exc)
                failed[pno] = f"page {pno + 1} has no usable text layer and OCR failed: {exc}"
            else:
                if cache_dir is not None:
                    save_ocr_page(cache_dir, sha, pno, ocr[pno])
            done += 1
            log.info("%s: OCR of page %d done (%d of %d)", path.name, pno + 1, done, len(pages))
            if progress is not None:
                progress(done, len(pages))
    notes = [pdf_ocr.ocr_note([p + 1 for p in ocr])] if ocr else []
    notes += [failed[p] for p in sorted(failed)]
    return dict(sorted(ocr.items())), tuple(notes)


def _ocr_job(path: Path, pno: int, engine: tuple[str, str]) -> str:
    """One page's OCR text (`workbench.pdf.ocr.ocr_page`), in a worker (`run_limited`)."""
    doc = open_pdf(path)
    try:
        return pdf_ocr.ocr_page(doc.load_page(pno), engine, timeout_s=OCR_DEADLINE_S - 5)
    except pdf_ocr.OcrFailed as exc:
        raise PdfError(f"{exc}; check the tesseract-ocr installation") from None
    finally:
        doc.close()


def _extract_job(path: Path, sha: str, render: bool, max_pages: int, max_bytes: int,
                 deadline_s: float, ocr: dict[int, str] | None, notes: tuple[str, ...]
                 ) -> PaperStructure | OcrNeeded:
    """`extract` without the cache, in a worker (`run_limited`); `structure_of`'s two passes."""
    doc = open_pdf(path, max_pages=max_pages, max_bytes=max_bytes)
    try:
        return structure_of(doc, sha, path.name, render, deadline_s, ocr, notes)
    except DeadlinePassed as exc:
        raise PdfTimeout(str(exc)) from None
    finally:
        doc.close()


# --- cache folder and page images -------------------------------------------------------------------


def pdf_cache_dir(workspace: Workspace) -> Path:
    return workspace.cache_dir / "pdf"


def render_page(path: str | os.PathLike, page: int, dpi: int = PAGE_DPI,
                cache_dir: str | os.PathLike | None = None, *,
                deadline_s: float = RENDER_DEADLINE_S, memory_mb: int = MEMORY_MB) -> bytes:
    """PNG of one page (1-based), cached as `<cache_dir>/<sha256>/page-<n>-<dpi>.png`.

    Rendered in a worker (`run_limited`); a page too large for `dpi` (a 200-inch poster) is
    rendered at the resolution that keeps it within `pdf_extract.MAX_MEGAPIXELS`.
    """
    path = Path(path)
    _check_file(path, MAX_BYTES)
    target = None
    if cache_dir is not None:
        target = Path(cache_dir) / file_sha256(path) / f"page-{page}-{dpi}.png"
        if target.is_file():
            return target.read_bytes()
    png = run_limited(_render_job, path.absolute(), page, dpi, name=path.name,
                      what=f"rendering page {page}", deadline_s=deadline_s, memory_mb=memory_mb)
    if target is not None:
        write_cache_bytes(target, png)  # best effort: a read-only workspace still renders
    return png


def _render_job(path: Path, page: int, dpi: int) -> bytes:
    pymupdf = _pymupdf()
    doc = open_pdf(path)
    try:
        if not 1 <= page <= doc.page_count:
            raise PdfError(f"{path.name} has {doc.page_count} pages; page {page} does not exist")
        p = doc.load_page(page - 1)
        zoom = fit_dpi(p.rect, dpi) / 72  # a 200-inch page comes out smaller, not refused
        return p.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False).tobytes("png")
    finally:
        doc.close()


# --- catalog papers' PDFs -------------------------------------------------------------------------


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


def structure_for_paper(workspace: Workspace, paper, render: bool = True) -> PaperStructure | None:
    """The extracted structure of a catalog paper's local PDF (cached), or None without a PDF."""
    path = pdf_for_paper(workspace, paper)
    if path is None:
        return None
    return extract(path, cache_dir=pdf_cache_dir(workspace), render=render)


def cached_structure(workspace: Workspace, paper) -> PaperStructure | None:
    """The structure of a paper's PDF if it was extracted already (never extracts: a page that
    only shows it must not wait for an extraction or OCR); None otherwise."""
    try:
        path = pdf_for_paper(workspace, paper)
        return load_cached(pdf_cache_dir(workspace), file_sha256(path)) if path else None
    except (OSError, PdfError):
        return None


# --- citation edges -------------------------------------------------------------------------------


def pdf_citation_edges(workspace: Workspace, catalog, threshold: float = 0.9,
                       ) -> Iterator[tuple[str, str, dict]]:
    """Citation edges found in the catalog papers' PDFs: (citing_id, cited_id, attributes).

    The attributes are `{'source': 'pdf', 'method': 'arxiv'|'doi'|'title', 'score': float}`, so
    `graph.add_edges_from(pdf_citation_edges(ws, cat))` works directly. Papers without a local
    PDF are skipped; an unusable PDF is logged for its paper and skipped, the others still count.
    """
    for paper in catalog.papers:
        try:
            structure = structure_for_paper(workspace, paper, render=False)
        except WorkbenchError as exc:
            log.warning("paper %s: %s", paper.id, exc)
            continue
        if structure is None:
            continue
        seen = set()
        for m in match_references(structure.references, catalog, threshold, exclude=paper.id):
            if m.paper_id not in seen:
                seen.add(m.paper_id)
                yield paper.id, m.paper_id, {"source": "pdf", "method": m.method, "score": m.score}
