"""What each reading pass needs from a paper's PDF (Keshav, "How to Read a Paper").

Pass 1 (the bird's-eye view): title, authors, abstract, the section and sub-section headings,
the introduction and the conclusions. Pass 2 (the content): the figures and tables with their
captions, and the reference list, with each entry linked to the catalog paper it names, ticked
off when the reader has already read that paper, and the unread ones ranked so the reader knows
which to read next.

`reading_material(workspace, paper, catalog, read_ids)` returns both, or says in one line why
there is nothing (no PDF yet, or a PDF that cannot be read). The app shows it; the library does
the work.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from workbench import pdf
from workbench.pdf import Figure, PaperStructure, Reference, match_references
from workbench.workspace import Workspace


@dataclass(frozen=True)
class Pass1Material:
    title: str
    authors: str
    abstract: str
    headings: tuple[tuple[int, str], ...]   # (level, heading as printed)
    introduction: str
    conclusion: str
    conclusion_heading: str | None


@dataclass(frozen=True)
class ReferenceItem:
    index: int                 # position in the paper's reference list (0-based)
    reference: Reference
    paper_id: str | None       # the catalog paper it names, if any
    method: str | None         # how it was matched: 'arxiv', 'doi' or 'title'
    read: bool                 # the reader has finished at least pass 1 of that paper
    mentions: int              # how often the paper's text cites it
    cited_by_catalog: int      # how many catalog papers cite the matched paper


@dataclass(frozen=True)
class Pass2Material:
    figures: tuple[Figure, ...]
    references: tuple[ReferenceItem, ...]   # in the order of the paper's list

    @property
    def read_next(self) -> list[ReferenceItem]:
        """Unread references, best first: catalog papers first, then by how often this paper
        cites them, then by how many catalog papers cite them."""
        unread = [r for r in self.references if not r.read]
        return sorted(unread, key=lambda r: (r.paper_id is None, -r.mentions,
                                             -r.cited_by_catalog, r.index))


@dataclass(frozen=True)
class ReadingMaterial:
    paper_id: str
    pdf_path: Path | None
    pass1: Pass1Material | None = None
    pass2: Pass2Material | None = None
    problem: str | None = None     # one line: why there is no material
    structure: PaperStructure | None = field(default=None, repr=False)


def pass1_material(structure: PaperStructure) -> Pass1Material:
    return Pass1Material(
        title=structure.title, authors=structure.authors, abstract=structure.abstract,
        headings=tuple((s.level, s.title) for s in structure.sections),
        introduction=structure.introduction, conclusion=structure.conclusion,
        conclusion_heading=structure.conclusion_heading)


_BRACKETS_RE = re.compile(r"\[(\d{1,3}(?:\s*[,–-]\s*\d{1,3})*)\]")


def citation_counts(structure: PaperStructure) -> list[int]:
    """How often the body text cites each reference entry.

    Numbered lists: bracket citations '[3]', '[2, 5]', '[4–7]' (ranges expanded) are counted per
    label. Author-year lists: occurrences of the first author's surname followed within 40
    characters by the entry's year ('He et al., 2016', 'He et al. (2016)').
    """
    text = "\n".join(s.text for s in structure.sections if s.level == 1)
    refs = structure.references
    counts = [0] * len(refs)
    if refs and all(r.label and r.label.isdigit() for r in refs[: min(3, len(refs))]):
        by_label = {r.label: i for i, r in enumerate(refs) if r.label}
        labels: Counter = Counter()
        for m in _BRACKETS_RE.finditer(text):
            for part in re.split(r"\s*,\s*", m.group(1)):
                bounds = re.split(r"\s*[–-]\s*", part)
                if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
                    lo, hi = int(bounds[0]), int(bounds[1])
                    for n in range(lo, min(hi, lo + 50) + 1):
                        labels[str(n)] += 1
                elif part.isdigit():
                    labels[part] += 1
        for label, n in labels.items():
            if label in by_label:
                counts[by_label[label]] = n
        return counts
    for i, r in enumerate(refs):
        surname, year = r.first_author_surname, r.year
        if surname and year and len(surname) > 1:
            pattern = re.escape(surname) + r"\b[^\n]{0,40}?\b" + str(year)
            counts[i] = len(re.findall(pattern, text))
    return counts


def pass2_material(structure: PaperStructure, catalog, read_ids=frozenset(),
                   paper_id: str | None = None) -> Pass2Material:
    matches = {m.entry: m for m in match_references(structure.references, catalog,
                                                    exclude=paper_id)}
    mentions = citation_counts(structure)
    items = []
    for i, ref in enumerate(structure.references):
        m = matches.get(i)
        pid = m.paper_id if m else None
        items.append(ReferenceItem(
            index=i, reference=ref, paper_id=pid, method=m.method if m else None,
            read=pid in read_ids if pid else False, mentions=mentions[i],
            cited_by_catalog=len(catalog.cited_by(pid)) if pid else 0))
    return Pass2Material(figures=structure.figures, references=tuple(items))


def read_paper_ids(workspace: Workspace, reader: str) -> frozenset[str]:
    """Papers whose pass 1 `reader` has finished, from the note files."""
    from workbench.notes import progress

    found = progress.load_progress(workspace)
    return frozenset(pid for pid, by_reader in found.notes.items()
                     if reader in by_reader and progress.passes_done(by_reader[reader]) >= 1)


def reading_material(workspace: Workspace, paper, catalog, read_ids=frozenset()) -> ReadingMaterial:
    """Pass-1 and pass-2 material of a catalog paper from its local PDF (cached extraction).

    Without a PDF, or with one that cannot be read, `problem` says so in one line and the
    passes are None: the caller falls back to the catalog's abstract.
    """
    try:
        path = pdf.pdf_for_paper(workspace, paper)
    except pdf.PdfError as exc:
        return ReadingMaterial(paper.id, None, problem=str(exc))
    if path is None:
        try:
            where = f"pdfs/{pdf.arxiv_file_name(paper.arxiv)}" if paper.arxiv else f"pdfs/{paper.id}.pdf"
        except pdf.PdfError:
            where = f"pdfs/{paper.id}.pdf"
        return ReadingMaterial(paper.id, None, problem=(
            f"No PDF for '{paper.id}' yet: upload it on the Paper page, put it at {where}, "
            "or set `pdf:` in papers.yaml"))
    try:
        structure = pdf.extract(path, cache_dir=pdf.pdf_cache_dir(workspace))
    except pdf.PdfError as exc:
        return ReadingMaterial(paper.id, path, problem=str(exc))
    return ReadingMaterial(paper.id, path, pass1_material(structure),
                           pass2_material(structure, catalog, read_ids, paper.id),
                           structure=structure)
