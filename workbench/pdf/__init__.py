"""PDFs: `document` (open safely, extract in a limited worker, cache, a paper's PDF), `worker`
(the child process with time and memory limits), `extraction`, `structure`, `layout`,
`front_matter`, `figures`, `refs` (references parsed and matched to the catalog), `files`
(download, upload). Layer 3: imports catalog, sources and the base.
"""

from __future__ import annotations

from workbench.pdf.document import (
    MAX_BYTES,
    ArxivOffline,
    PdfError,
    arxiv_file_name,
    cached_structure,
    extract,
    open_pdf,
    pdf_cache_dir,
    pdf_citation_edges,
    pdf_for_paper,
    render_page,
    run_limited,
    structure_for_paper,
)
from workbench.pdf.extraction import fit_dpi
from workbench.pdf.files import download_arxiv_pdf, find_pdf, save_upload
from workbench.pdf.refs import Reference, match_references, normalise_title
from workbench.pdf.structure import Figure, PaperStructure

__all__ = [
    "pdf_citation_edges",
    "ArxivOffline",
    "Figure",
    "MAX_BYTES",
    "PaperStructure",
    "PdfError",
    "Reference",
    "arxiv_file_name",
    "cached_structure",
    "download_arxiv_pdf",
    "extract",
    "find_pdf",
    "fit_dpi",
    "match_references",
    "normalise_title",
    "open_pdf",
    "pdf_cache_dir",
    "pdf_for_paper",
    "render_page",
    "run_limited",
    "save_upload",
    "structure_for_paper",
]
