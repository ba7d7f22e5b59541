"""The catalog's data model: `Topic`, `Paper`, `Catalog`, and `Problem` (a located message).

Plain frozen dataclasses with no YAML in sight: `workbench.catalog.validate` builds them from
`papers.yaml` after validation, and everything else only reads them. A `Catalog` pickles
(`st.cache_data` caches it) without its `by_id` index, which is rebuilt on load.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

# a year written in a venue: "CVPR 2016", "ICML 2015 Deep Learning Workshop" (not "1512.03385")
_VENUE_YEAR_RE = re.compile(r"(?<![\w.])(?:1[89]|20)\d\d(?![\w.])")
_ARXIV_YEAR_RE = re.compile(r"(?:^|/)(\d\d)\d\d")  # "1512.03385", "cs/0112017": YYMM


def venue_years(venue: str | None) -> tuple[int, ...]:
    """The years a venue string names: 'ICLR 2015' -> (2015,), 'ACM SIGCOMM CCR' -> ()."""
    return tuple(int(y) for y in _VENUE_YEAR_RE.findall(venue or ""))


@dataclass(frozen=True)
class Topic:
    id: str
    title: str


@dataclass(frozen=True)
class Paper:
    id: str
    title: str
    authors: tuple[str, ...]
    year: int
    topic: str
    venue: str | None = None
    arxiv: str | None = None
    doi: str | None = None
    tags: tuple[str, ...] = ()
    reproduction: str | None = None  # a module of reproductions/, or WORKBENCH_PAGE
    cites: tuple[str, ...] = ()
    abstract: str | None = None
    pdf: str | None = None
    url: str | None = None
    # how the reproduction relates to this paper (`reproduction: {module, preset, relation,
    # shows}` in papers.yaml): one of RELATIONS, the preset that shows it (None: the module's
    # `mini`), one line on what the run shows about this paper
    relation: str = "implements"
    repro_preset: str | None = None
    shows: str | None = None
    line: int = 0  # where the entry starts in papers.yaml (1-based), for messages

    @property
    def first_author(self) -> str:
        return self.authors[0] if self.authors else ""

    @property
    def venue_name(self) -> str | None:
        """The venue without its year ('CVPR 2016' -> 'CVPR'): `year` says when."""
        name = _VENUE_YEAR_RE.sub("", self.venue or "").replace("()", "")  # 'IEEE (1998)'
        return " ".join(name.split()).strip(" ,") or None

    @property
    def arxiv_year(self) -> int | None:
        """The year the arXiv id carries ('1512.03385' -> 2015, 'cs/9912017' -> 1999)."""
        m = _ARXIV_YEAR_RE.search(self.arxiv or "")
        if not m:
            return None
        yy = int(m.group(1))
        return (1900 if yy >= 91 else 2000) + yy  # arXiv started in 1991

    @property
    def publication(self) -> str:
        """Where and when, each year once: 'CVPR 2016 · arXiv 2015', 'ACM SIGCOMM CCR · 2007'.

        `year` is the venue's year; an arXiv preprint from an earlier year is noted after it.
        """
        if not self.venue:
            where = str(self.year)
        elif self.year in venue_years(self.venue):
            where = self.venue
        else:
            where = f"{self.venue} · {self.year}"
        preprint = self.arxiv_year
        if preprint and preprint != self.year:
            where += f" · arXiv {preprint}"
        return where

    @property
    def reproduction_line(self) -> str:
        """'Implements: lenet (preset mini-1989)', 'Dataset of: alexnet. The mini run ...'."""
        if not self.reproduction:
            return ""
        what = ("the workbench's Read page" if self.reproduction == WORKBENCH_PAGE
                else self.reproduction + (f" (preset {self.repro_preset})"
                                          if self.repro_preset else ""))
        return f"{self.relation.capitalize()}: {what}" + (f". {self.shows}" if self.shows else "")

    @property
    def arxiv_url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else None

    @property
    def doi_url(self) -> str | None:
        return f"https://doi.org/{self.doi}" if self.doi else None

    @property
    def short(self) -> str:
        """'He et al. 2015' style label."""
        if not self.authors:
            return str(self.year)
        surname = self.authors[0].split()[-1]
        etal = " et al." if len(self.authors) > 2 else (
            f" & {self.authors[1].split()[-1]}" if len(self.authors) == 2 else "")
        return f"{surname}{etal} {self.year}"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    col: int
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.col}: {prefix}{self.message}"


@dataclass(frozen=True)
class Catalog:
    topics: tuple[Topic, ...]
    papers: tuple[Paper, ...]
    path: Path | None = None
    warnings: tuple[Problem, ...] = ()
    by_id: Mapping[str, Paper] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "by_id", MappingProxyType({p.id: p for p in self.papers}))

    def __reduce__(self):
        # by_id is a read-only view rebuilt from `papers`; pickle (st.cache_data) the rest
        return (Catalog, (self.topics, self.papers, self.path, self.warnings))

    def __contains__(self, paper_id: str) -> bool:
        return paper_id in self.by_id

    def __len__(self) -> int:
        return len(self.papers)

    def get(self, paper_id: str) -> Paper | None:
        return self.by_id.get(paper_id)

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def in_topic(self, topic_id: str) -> list[Paper]:
        return [p for p in self.papers if p.topic == topic_id]

    def choose_topic(self, topic: str | None, error: type[Exception],
                     question: str = "which topic?") -> str:
        """`topic` if the catalog has it, else the only topic there is; otherwise `error` with a
        one-line message listing the topics (adding papers needs one)."""
        ids = [t.id for t in self.topics]
        if topic:
            if topic not in ids:
                raise error(f"unknown topic '{topic}'; pick one of: {', '.join(ids)}")
            return topic
        if len(ids) == 1:
            return ids[0]
        raise error(f"{question} pass --topic, one of: {', '.join(ids) or '(none defined)'}")

    def cited_by(self, paper_id: str) -> list[Paper]:
        """Catalog papers whose `cites` list `paper_id`."""
        return [p for p in self.papers if paper_id in p.cites]

    def references(self, paper_id: str) -> list[Paper]:
        paper = self.by_id.get(paper_id)
        return [self.by_id[c] for c in paper.cites if c in self.by_id] if paper else []

    @property
    def tags(self) -> list[str]:
        return sorted({t for p in self.papers for t in p.tags})


# How a paper relates to the reproduction it links to: its own module ("implements"), a module
# of the same line of work, one whose run uses the paper's method or dataset.
RELATIONS = ("implements", "variant of", "uses", "dataset of")
# `reproduction: workbench` links a paper the workbench itself implements (Keshav's three
# passes: the Read page), not a module
WORKBENCH_PAGE = "workbench"


def reproduction_file(name: str) -> Path | None:
    """The source file of reproduction module `name`, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("reproductions")
    for loc in spec.submodule_search_locations or [] if spec else []:
        if (f := Path(loc) / f"{name}.py").is_file():
            return f
    return None


def known_reproductions() -> set[str]:
    """Names of the reproduction modules (files declaring `PAPER = ...`), found without importing
    them: the catalog must stay usable without torch."""
    import importlib.util

    spec = importlib.util.find_spec("reproductions")
    if spec is None or not spec.submodule_search_locations:
        return set()
    names = set()
    paper_line = re.compile(r"^PAPER\s*(:[^=]*)?=", re.MULTILINE)
    for loc in spec.submodule_search_locations:
        for f in Path(loc).glob("*.py"):
            # a reproduction module declares the paper it reproduces: `PAPER = "resnet"`
            if not f.name.startswith("_") and paper_line.search(f.read_text("utf-8", "replace")):
                names.add(f.stem)
    return names
