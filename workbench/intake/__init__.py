"""Adding papers: `lookup` (a paper from arXiv / Semantic Scholar by id, URL, DOI or title,
previewed then saved), `bibtex_parse` (a .bib file read entry by entry) and `bibtex_import`
(a Zotero / Better BibTeX library into the catalog in one write).
Layer 5: imports catalog, sources, pdf, notes and the base.
"""

from __future__ import annotations

from workbench.intake.bibtex_import import apply_import, decode_bib, plan_import, read_bib_file
from workbench.intake.lookup import propose, save

__all__ = [
    "apply_import",
    "decode_bib",
    "plan_import",
    "propose",
    "read_bib_file",
    "save",
]
