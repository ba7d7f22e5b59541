"""Citations the catalog lacks, found in the workspace's PDFs: each with its evidence.

The catalog's `cites` edges are written by hand; the PDF pipeline reads each paper's reference
list and matches entries to catalog papers (arXiv id, DOI, then title). `harvest` lists the
matches that are not yet a `cites` edge, with the reference entry as printed, so a person can
read each one before `workbench graph harvest --apply` writes them (through the catalog's one
guarded writer: lock, version token, comments and order kept).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workbench.errors import WorkbenchError
from workbench.pdf import extract, match_references, pdf_cache_dir, pdf_for_paper


@dataclass(frozen=True)
class FoundCitation:
    citing: str
    cited: str
    method: str      # how the entry was matched: arxiv | doi | title
    score: float     # 1.0 for an id; the title similarity otherwise
    evidence: str    # the reference entry as printed in the citing paper's PDF
    years_later: int  # how many years after the citing paper the cited one appeared (> 1: check)


def harvest(workspace, catalog, threshold: float = 0.9,
            progress: Callable[[str], None] | None = None
            ) -> tuple[list[FoundCitation], list[tuple[str, str]]]:
    """(citations found in PDFs that the catalog lacks, [(paper id, why its PDF was skipped)])."""
    found: list[FoundCitation] = []
    skipped: list[tuple[str, str]] = []
    for paper in catalog.papers:
        try:
            path = pdf_for_paper(workspace, paper)
            if path is None:
                continue
            if progress is not None:
                progress(paper.id)
            structure = extract(path, cache_dir=pdf_cache_dir(workspace), render=False)
        except WorkbenchError as exc:
            skipped.append((paper.id, str(exc)))
            continue
        seen = set(paper.cites)
        for m in match_references(structure, catalog, threshold, exclude=paper.id):
            if m.paper_id in seen:
                continue
            seen.add(m.paper_id)
            cited = catalog.by_id[m.paper_id]
            found.append(FoundCitation(paper.id, m.paper_id, m.method, round(m.score, 3),
                                       " ".join(structure.references[m.entry].raw.split()),
                                       cited.year - paper.year))
    return found, skipped
