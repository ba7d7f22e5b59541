"""Adding a paper: `<arXiv id | arXiv URL | DOI | title>` -> a new entry in papers.yaml.

Two steps, so the CLI and the app can show the entry before anything is written:
- `propose(ws, query, topic)` looks the paper up (cached, offline-first; see `sources`) and
  returns a `Proposal`: the exact entry to write, with a fresh slug id and `cites` edges to
  catalog papers found among its Semantic Scholar references. Nothing is written.
- `save(ws, proposal, pdf=...)` re-checks duplicates against the file as it is now, downloads
  the arXiv PDF if asked, and appends the entry with `catalog_write.append_paper` (every other
  byte of papers.yaml is kept). Any failure leaves papers.yaml untouched.

Resolution: an arXiv id or URL -> arXiv metadata (+ S2 for venue and references); a DOI -> the
S2 paper (+ arXiv metadata when S2 knows its arXiv id); a title -> the S2 title match, else an
arXiv title search with the same normalised title. A duplicate (same arXiv id, DOI or
normalised title) is refused, naming the id it already has.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field

from workbench import catalog as catalog_mod
from workbench.catalog import Catalog, Paper, add_papers, normalise_title, render_entry
from workbench.errors import CatalogError, WorkbenchError
from workbench.sources import (
    NotFound,
    S2Paper,
    SourceError,
    Sources,
    base_id,
    open_sources,
    parse_arxiv_ref,
)
from workbench.workspace import Workspace, slugify, validate_slug

log = logging.getLogger(__name__)

_DOI_RE = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?(10\.\d{4,9}/\S+)$", re.I)
_STOPWORDS = {"a", "an", "the", "of", "on", "in", "for", "and", "to", "with", "via", "is", "are"}


class AddError(WorkbenchError):
    """The paper cannot be added as asked."""


class DuplicatePaper(AddError):
    """The catalog already has this paper."""


@dataclass(frozen=True)
class Query:
    kind: str  # 'arxiv', 'doi' or 'title'
    value: str


@dataclass(frozen=True)
class Proposal:
    """What `save` will write, and what to show the user first."""

    entry: dict
    query: Query
    pdf_url: str | None = None
    categories: tuple[str, ...] = ()
    references_seen: int = 0  # S2 references examined for `cites`
    notices: tuple[str, ...] = field(default_factory=tuple)

    @property
    def id(self) -> str:
        return self.entry["id"]

    def yaml(self) -> str:
        """The YAML text `save` inserts into papers.yaml."""
        return render_entry(self.entry)

    def summary_lines(self) -> list[str]:
        e = self.entry
        authors = ", ".join(e["authors"][:3]) + (" et al." if len(e["authors"]) > 3 else "")
        ids = [f"arXiv {e['arxiv']}" if e.get("arxiv") else "", f"DOI {e['doi']}"
               if e.get("doi") else "", e.get("venue") or ""]
        cites = e.get("cites") or []
        return [
            e["title"],
            f"  {authors} · {e['year']}" + "".join(f" · {x}" for x in ids if x),
            f"  id: {e['id']}   topic: {e['topic']}"
            + (f"   categories: {', '.join(self.categories)}" if self.categories else ""),
            f"  cites in the catalog: {', '.join(cites) if cites else 'none'}"
            f" (of {self.references_seen} references on Semantic Scholar)",
        ]


# --- pure helpers --------------------------------------------------------------------------------


def classify(text: str) -> Query:
    """What kind of reference the user typed: arXiv id/URL, DOI (or doi.org URL), or a title."""
    text = " ".join(str(text).split())
    if not text:
        raise AddError("nothing to add: give an arXiv id, an arXiv URL, a DOI or a title")
    arxiv_id = parse_arxiv_ref(text)
    if arxiv_id:
        return Query("arxiv", arxiv_id)
    doi = _DOI_RE.match(text)
    if doi:
        return Query("doi", doi.group(1).rstrip(".,;"))
    if re.match(r"^[a-z]+://", text, re.I) or text.lower().startswith("www."):
        raise AddError(f"{text[:80]} is neither an arXiv abs/pdf URL nor a DOI link; give an "
                       "arXiv id, a DOI or the paper's title")
    if len(text) > 400:
        raise AddError("that is too long for a title (over 400 characters)")
    return Query("title", text)


def find_duplicate(cat: Catalog, *, arxiv: str | None = None,
                   doi: str | None = None, title: str | None = None) -> tuple[str, str] | None:
    """(existing id, what matched) for a paper already in the catalog, else None."""
    for p in cat.papers:
        if arxiv and p.arxiv and base_id(p.arxiv) == base_id(arxiv):
            return p.id, f"arXiv id {base_id(arxiv)}"
        if doi and p.doi and p.doi.lower() == doi.lower():
            return p.id, f"DOI {doi}"
    wanted = normalise_title(title) if title else ""
    for p in cat.papers:
        if wanted and normalise_title(p.title) == wanted:
            return p.id, "title"
    return None


def refuse_duplicate(cat: Catalog, **ids) -> None:
    dup = find_duplicate(cat, **ids)
    if dup:
        raise DuplicatePaper(f"already in the catalog as '{dup[0]}' (same {dup[1]}); nothing "
                             "added")


def _surname(name: str) -> str:
    parts = [p for p in name.replace(",", " ").split() if p.lower().strip(".") not in
             {"jr", "sr", "ii", "iii", "iv"}]
    if "," in name:  # 'He, Kaiming'
        return name.split(",")[0].strip()
    return parts[-1] if parts else ""


def new_id(cat: Catalog, authors: list[str], year: int, title: str) -> str:
    """A fresh slug: first author's surname + year ('vaswani-2017'); if taken, + the first
    title word that says something ('vaswani-2017-attention'); then -2, -3, ..."""
    surname = _surname(authors[0]) if authors else ""
    folded = unicodedata.normalize("NFKD", surname).encode("ascii", "ignore").decode()
    base = slugify(f"{folded} {year}") if folded.strip() else slugify(f"{title} {year}")
    words = [w for w in normalise_title(title).split() if w not in _STOPWORDS]
    candidates = [base] + ([slugify(f"{base} {words[0]}")] if words else [])
    for cand in candidates:
        if cand not in cat:
            return validate_slug(cand)
    n = 2
    while f"{candidates[-1]}-{n}" in cat:
        n += 1
    return validate_slug(f"{candidates[-1]}-{n}")


def catalog_cites(cat: Catalog, links, exclude: str | None = None) -> list[str]:
    """Catalog ids among S2 references, in reference order: by arXiv id, DOI, normalised title."""
    by_arxiv = {base_id(p.arxiv): p.id for p in cat.papers if p.arxiv}
    by_doi = {p.doi.lower(): p.id for p in cat.papers if p.doi}
    by_title = {normalise_title(p.title): p.id for p in cat.papers}
    out: list[str] = []
    for link in links:
        ref = link.paper
        pid = ((ref.arxiv and by_arxiv.get(base_id(ref.arxiv)))
               or (ref.doi and by_doi.get(ref.doi.lower()))
               or (ref.title and by_title.get(normalise_title(ref.title))))
        if pid and pid != exclude and pid not in out:
            out.append(pid)
    return out


# --- propose and save ---------------------------------------------------------------------------


def _lookup(q: Query, src: Sources, with_cites: bool) -> tuple[dict | None, S2Paper | None]:
    """(arXiv entry or None, S2 paper or None) for a query."""
    arx = s2 = None
    if q.kind == "arxiv":
        arx = src.arxiv.entry(q.value)
        if with_cites:
            try:
                s2 = src.s2.paper(f"ARXIV:{arx['arxiv']}")
            except NotFound:
                src.cache.notice(f"s2 {arx['arxiv']}", f"Semantic Scholar does not know "
                                  f"arXiv {arx['arxiv']} yet: no cites edges")
            except SourceError as exc:
                raise type(exc)(f"{exc} (or add it without cites edges: --no-cites)") from None
    elif q.kind == "doi":
        s2 = src.s2.paper(q.value)
    else:
        try:
            s2 = src.s2.match_title(q.value)
        except NotFound:
            arx = src.arxiv.find_title(q.value)
            if arx is None:
                raise NotFound(f"no paper titled {q.value!r} on Semantic Scholar or arXiv; "
                               "try its arXiv id or DOI") from None
    if arx is None and s2 is not None and s2.arxiv:
        arx = src.arxiv.entry(s2.arxiv)
    return arx, s2


def propose(ws: Workspace, query: str, topic: str | None = None, *,
            sources: Sources | None = None, with_cites: bool = True) -> Proposal:
    """Look the paper up and build the entry `save` would write; writes nothing."""
    cat = catalog_mod.load(ws.catalog_path)
    topic = cat.choose_topic(topic, AddError)
    q = classify(query)
    if q.kind == "arxiv":  # refuse before any request: works offline too
        refuse_duplicate(cat, arxiv=q.value)
    elif q.kind == "doi":
        refuse_duplicate(cat, doi=q.value)
    src = sources or open_sources(ws)
    arx, s2 = _lookup(q, src, with_cites)
    meta = arx or {}
    title = meta.get("title") or (s2.title if s2 else None)
    authors = list(meta.get("authors") or (s2.authors if s2 else []))
    year = meta.get("year") or (s2.year if s2 else None)
    doi = (q.value if q.kind == "doi" else None) or meta.get("doi") or (s2.doi if s2 else None)
    arxiv_id = meta.get("arxiv") or (base_id(s2.arxiv) if s2 and s2.arxiv else None)
    if not title or not authors or not year:
        missing = [k for k, v in (("title", title), ("authors", authors), ("year", year)) if not v]
        raise AddError(f"the services give no {' or '.join(missing)} for {query.strip()!r}; add "
                       "it to papers.yaml by hand")
    refuse_duplicate(cat, arxiv=arxiv_id, doi=doi, title=title)
    cites: list[str] = []
    seen = 0
    if with_cites and s2 is not None and s2.paper_id:
        links = src.s2.references(s2.paper_id)
        seen = len(links)
        cites = catalog_cites(cat, links)
    entry = {
        "id": new_id(cat, authors, year, title),
        "title": title,
        "authors": authors,
        "year": year,
        "topic": topic,
        "venue": (s2.venue if s2 else None) or meta.get("journal_ref"),
        "arxiv": arxiv_id,
        "doi": doi,
        "abstract": meta.get("abstract") or (s2.abstract if s2 else None),
        "cites": cites,
    }
    return Proposal({k: v for k, v in entry.items() if v not in (None, "", [])}, q,
                    meta.get("pdf_url"), tuple(meta.get("categories") or ()), seen,
                    tuple(src.notices))


def save(ws: Workspace, proposal: Proposal, *, pdf: bool = False,
         sources: Sources | None = None) -> Paper:
    """Append the proposed entry (and download its arXiv PDF first if `pdf`); on any failure
    papers.yaml is untouched and no new PDF is left behind. Duplicates and the id are checked
    again under the catalog's lock, against the file as it is then (it may have changed since
    the preview)."""
    entry = dict(proposal.entry)
    cat = catalog_mod.load(ws.catalog_path)
    refuse_duplicate(cat, arxiv=entry.get("arxiv"), doi=entry.get("doi"), title=entry["title"])
    new_pdf = None
    if pdf:
        new_pdf = _download_pdf(ws, entry, sources or open_sources(ws))

    def prepare(cat: Catalog) -> list[dict]:
        refuse_duplicate(cat, arxiv=entry.get("arxiv"), doi=entry.get("doi"),
                         title=entry["title"])
        if entry["id"] in cat:
            raise AddError(f"the id '{entry['id']}' was taken meanwhile; look the paper up again")
        if entry.get("cites"):  # a cited paper may have been removed since the preview
            entry["cites"] = [c for c in entry["cites"] if c in cat]
        return [entry]

    try:
        result = add_papers(ws.catalog_path, prepare)
    except BaseException:
        if new_pdf is not None:
            new_pdf.unlink(missing_ok=True)
        raise
    if result.refused:
        if new_pdf is not None:
            new_pdf.unlink(missing_ok=True)
        raise CatalogError([result.refused[0][1]])
    return result.added[0]


def _download_pdf(ws: Workspace, entry: dict, src: Sources):
    """The arXiv PDF into pdfs/ (where `pdf.pdf_for_paper` finds it); the path if it is new."""
    from workbench.pdf import arxiv_file_name, download_arxiv_pdf
    from workbench.sources import throttle

    if not entry.get("arxiv"):
        raise AddError(f"'{entry['id']}' has no arXiv id, so there is no PDF to fetch; add it "
                       f"without --pdf and put the PDF at pdfs/{entry['id']}.pdf")
    if src.offline:
        raise AddError("offline: the PDF cannot be downloaded; add it without --pdf, or go "
                       "online")
    dest = ws.pdfs_dir / arxiv_file_name(entry["arxiv"])
    existed = dest.exists()
    throttle("arxiv", src.settings.arxiv_delay_s)
    path = download_arxiv_pdf(entry["arxiv"], ws.pdfs_dir, base_url=src.settings.arxiv_pdf_url,
                              timeout=src.settings.timeout_s)
    return None if existed else path
