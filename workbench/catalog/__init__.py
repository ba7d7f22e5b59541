"""The catalog: `papers.yaml` read, validated and written.

`validate` (load and check, every problem with its line), `yamltree` (the fast guarded YAML
reader that keeps positions), `model` (Topic, Paper, Catalog), `cache` (validated catalogs
remembered by content), `write` (the one guarded writer: lock, version token, sanity check),
`search` (filters), `bibtex` (export, citation keys), `ids` (the one title normaliser).
Layer 1: imports only the base modules.
"""

from __future__ import annotations

from workbench.catalog.bibtex import ARXIV_VENUE_RE, BibtexError, citation_keys, export_bibtex
from workbench.catalog.ids import normalise_title
from workbench.catalog.model import (
    RELATIONS,
    WORKBENCH_PAGE,
    Catalog,
    Paper,
    reproduction_file,
)
from workbench.catalog.search import filter_papers
from workbench.catalog.validate import MIN_YEAR, check, is_arxiv_id, is_doi, load
from workbench.catalog.write import add_citations, add_papers, render_entry

__all__ = [
    "normalise_title",
    "ARXIV_VENUE_RE",
    "BibtexError",
    "Catalog",
    "MIN_YEAR",
    "Paper",
    "RELATIONS",
    "WORKBENCH_PAGE",
    "reproduction_file",
    "add_citations",
    "add_papers",
    "check",
    "citation_keys",
    "export_bibtex",
    "filter_papers",
    "is_arxiv_id",
    "is_doi",
    "load",
    "render_entry",
]
