"""What `workbench.pdf.document.extract` returns, and its on-disk cache.

`PaperStructure` holds a paper's title, author line, abstract, sections (with their body text),
figures and tables (caption, page, box and a PNG crop), numbered equations and algorithms
(`Label`) and parsed references. `save_cached`
stores one as `<sha256>.json` plus a folder of PNG crops; `load_cached` reads it back, and
ignores an entry written by another `EXTRACTOR_VERSION` or one it cannot read. A file whose
extraction ran over its time or memory limit is remembered too (`save_failure`,
`<sha256>.failed.json`), so that it costs those limits once, not on every page view. Pages read
by OCR (`workbench.pdf.ocr`) are marked in `text_layer`, and their OCR text is kept beside the
JSON (Tesseract's TSV, `<sha256>/ocr-<page>.tsv`, `save_ocr_page`), so a file is read by OCR once.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from workbench.fileio import write_cache_bytes
from workbench.pdf.refs import Reference

log = logging.getLogger(__name__)

EXTRACTOR_VERSION = 5             # bump when the output changes: old cache entries are ignored

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
class Label:
    kind: str               # 'equation' or 'algorithm'
    number: str             # '3', 'A.1'
    page: int               # 1-based


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
    # per page: 'text' (its own text layer), 'ocr' (no usable text layer, read by OCR) or
    # 'unread' (no usable text layer and no OCR engine, or OCR failed); () in old results
    text_layer: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()        # one-line messages for the reader: OCR'd or unread pages
    labels: tuple[Label, ...] = ()     # numbered equations and algorithms, where printed

    @property
    def ocr_pages(self) -> list[int]:
        """1-based numbers of the pages read by OCR."""
        return [k + 1 for k, kind in enumerate(self.text_layer) if kind == "ocr"]

    @property
    def unread_pages(self) -> list[int]:
        """1-based numbers of the pages without usable text that OCR did not read."""
        return [k + 1 for k, kind in enumerate(self.text_layer) if kind == "unread"]

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
            "text_layer": list(self.text_layer), "notes": list(self.notes),
            "labels": [dict(kind=x.kind, number=x.number, page=x.page) for x in self.labels],
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
            text_layer=tuple(d.get("text_layer", ())), notes=tuple(d.get("notes", ())),
            labels=tuple(Label(**x) for x in d.get("labels", ())),
        )

    def summary(self) -> str:
        """A few lines for the CLI."""
        lines = [f"{self.title or '(no title found)'}",
                 f"  {self.authors or '(no author line found)'}",
                 f"  {self.page_count} pages, {len(self.headings)} sections, "
                 f"{sum(f.kind == 'figure' for f in self.figures)} figures, "
                 f"{sum(f.kind == 'table' for f in self.figures)} tables, "
                 f"{len(self.references)} references"]
        lines.extend(f"  note: {note}" for note in self.notes)
        for s in self.sections:
            lines.append(f"  {'  ' * (s.level - 1)}{s.title}  (p. {s.page})")
        return "\n".join(lines)


# --- cache -----------------------------------------------------------------------------------------


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


def save_cached(cache_dir: str | os.PathLike, structure: PaperStructure) -> Path | None:
    """Store `structure` for `load_cached`; None when the cache cannot be written (a read-only
    workspace): the extraction is simply not kept."""
    cache_dir = Path(cache_dir)
    d = structure.to_dict()
    for k, (fd, fig) in enumerate(zip(d["figures"], structure.figures, strict=True)):
        if fig.png:
            name = f"{fig.kind}-{k:02d}.png"
            if not write_cache_bytes(cache_dir / structure.sha256 / name, fig.png):
                return None
            fd["png"] = name
    path = cache_dir / f"{structure.sha256}.json"
    data = json.dumps(d, ensure_ascii=False, indent=1).encode("utf-8")
    return path if write_cache_bytes(path, data) else None


def load_ocr_page(cache_dir: str | os.PathLike, sha: str, page: int) -> str | None:
    """The cached OCR text (Tesseract's TSV) of one page (0-based), or None."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        return None
    try:
        tsv = (Path(cache_dir) / sha / f"ocr-{page + 1}.tsv").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    return tsv if tsv.startswith("level\t") else None


def save_ocr_page(cache_dir: str | os.PathLike, sha: str, page: int, tsv: str) -> None:
    """Keep one page's OCR text for `load_ocr_page` (best effort: a read-only cache is fine)."""
    write_cache_bytes(Path(cache_dir) / sha / f"ocr-{page + 1}.tsv", tsv.encode("utf-8"))


def save_failure(cache_dir: str | os.PathLike, sha: str, error: str, message: str,
                 deadline_s: float, memory_mb: int) -> None:
    """Remember that extracting these bytes ran over a limit (`error` names which)."""
    d = {"version": EXTRACTOR_VERSION, "error": error, "message": message,
         "deadline_s": deadline_s, "memory_mb": memory_mb}
    write_cache_bytes(Path(cache_dir) / f"{sha}.failed.json", json.dumps(d).encode("utf-8"))


def load_failure(cache_dir: str | os.PathLike, sha: str, deadline_s: float,
                 memory_mb: int) -> tuple[str, str] | None:
    """(error, message) of an earlier run over the limits, if it was allowed at least as much
    time and memory as this one; None otherwise."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        return None
    try:
        d = json.loads((Path(cache_dir) / f"{sha}.failed.json").read_text(encoding="utf-8"))
        if (d["version"] == EXTRACTOR_VERSION and deadline_s <= d["deadline_s"]
                and memory_mb <= d["memory_mb"]):
            return str(d["error"]), str(d["message"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None
