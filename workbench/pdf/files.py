"""Getting a paper's PDF file: download it from arXiv, store an upload, find one by name.

`download_arxiv_pdf` writes atomically after checking the content type and the `%PDF` header;
`save_upload` keeps an upload as `pdfs/<paper-id>.pdf` only when it extracts (within the
worker's limits), and otherwise leaves `pdfs/` as it was; `find_pdf`
resolves what a user types (a path or a catalog paper id) to a file. Every refusal is a
`workbench.pdf.document.PdfError`.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

from workbench.fileio import atomic_write_bytes
from workbench.pdf.document import (
    MAX_BYTES,
    ArxivOffline,
    PdfDownloadError,
    PdfNotFound,
    PdfTooLarge,
    arxiv_file_name,
    check_pdf_bytes,
    extract,
    pdf_cache_dir,
    pdf_for_paper,
)
from workbench.workspace import Workspace, validate_slug

log = logging.getLogger(__name__)


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
    except requests.ReadTimeout:
        raise ArxivOffline(f"arXiv did not answer within {timeout:g} s (WORKBENCH_HTTP_TIMEOUT); "
                           f"try again later, or put the PDF in {Path(dest_dir)} or upload "
                           "it") from None
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
    """Store uploaded bytes as `pdfs/<paper-id>.pdf` once they pass the size and magic-bytes
    checks and extract; a refused upload leaves `pdfs/` untouched (an earlier PDF included).

    The extraction is the one every page needs anyway: it is cached, so it is not paid twice.
    """
    validate_slug(paper_id, "paper id")
    check_pdf_bytes(data[:1024], len(data), "the uploaded file", max_bytes)
    with tempfile.TemporaryDirectory(prefix="workbench-upload-") as tmp:
        candidate = Path(tmp) / f"{paper_id}.pdf"  # the name the error messages give
        candidate.write_bytes(data)
        extract(candidate, cache_dir=pdf_cache_dir(workspace), max_bytes=max_bytes)
    dest = workspace.pdfs_dir / f"{paper_id}.pdf"
    atomic_write_bytes(dest, data)
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
