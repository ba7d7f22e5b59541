"""BibTeX import: a Zotero / Better BibTeX `.bib` file into the catalog.

Reads Zotero / Better BibTeX exports (`@article`, `@inproceedings`, `@misc`, ... with
`eprint`/`archiveprefix`, `doi`, `journal`, `booktitle`, biblatex `date`) with bibtexparser 1.x,
and turns the escapes `workbench.bibtex` writes back into text.
Each entry becomes a catalog entry through the same duplicate rules as `workbench add` (same
arXiv id, DOI or normalised title: skipped, naming the paper it duplicates) and is written with
`catalog_write.append_paper`. Malformed input never raises anything but `BibtexError`: entries the
parser cannot read are listed as skipped with their line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from workbench import catalog as catalog_mod
from workbench.bibtex import ARXIV_VENUE_RE, BibtexError
from workbench.catalog_write import append_paper
from workbench.errors import CatalogError
from workbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_BIB_BYTES = 10_000_000
# what `_latex_to_text` shields from bibtexparser's decoder, and the text it stands for: the
# escapes `bibtex.latex_escape` writes, plain ASCII the decoder would turn into ≔ ≕ „ ⁗ ŉ, and
# \'n, which it gets wrong
_UNESCAPE = tuple((re.compile(pattern), plain) for pattern, plain in (
    (r"\\textbackslash\{\}", "\\"), (r"\\textasciitilde\{\}", "~"),
    (r"\\textasciicircum\{\}", "^"), (r"\\textbraceleft\{\}", "{"),
    (r"\\textbraceright\{\}", "}"), (r"\\\$", "$"), (r"\\&", "&"), (r"\\%", "%"),
    (r"\\#", "#"), (r"\\_", "_"), ("''''", "''''"), (":=", ":="), ("=:", "=:"),
    (",,", ",,"), (r"\\'\{?n\}?", "ń"), (r"\\'\{?N\}?", "Ń"), (r"(?<!\\)'n", "'n")))


# --- parsing ------------------------------------------------------------------------------------------

_ENTRY_START_RE = re.compile(r"^[ \t]*@[ \t]*([A-Za-z]+)[ \t]*[{(][ \t]*([^,\s]*)", re.MULTILINE)
_NOT_ENTRIES = {"comment", "string", "preamble"}
_PLACEHOLDER = "\ue000{}\ue001"


def _latex_to_text(record: dict) -> dict:
    """bibtexparser's `convert_to_unicode`, keeping the escapes `bibtex.latex_escape` writes."""
    from bibtexparser.customization import convert_to_unicode

    for k, v in list(record.items()):
        if k in ("ID", "ENTRYTYPE") or not isinstance(v, str):
            continue
        for i, (pattern, _) in enumerate(_UNESCAPE):
            v = pattern.sub(_PLACEHOLDER.format(i), v)
        record[k] = v
    record = convert_to_unicode(record)
    for k, v in list(record.items()):
        if k in ("ID", "ENTRYTYPE") or not isinstance(v, str):
            continue
        for i, (_, plain) in enumerate(_UNESCAPE):
            v = v.replace(_PLACEHOLDER.format(i), plain)
        record[k] = " ".join(v.split())
    return record


@dataclass(frozen=True)
class ParsedBib:
    entries: tuple[dict, ...]                  # bibtexparser records, fields in Unicode
    unreadable: tuple[tuple[str, int], ...]   # (key as written, line) of entries not parsed


def parse_bibtex(text: str, name: str = "the .bib file") -> ParsedBib:
    """Parse BibTeX text; every entry the parser drops is reported with its line."""
    from bibtexparser.bparser import BibTexParser

    if "\x00" in text:
        raise BibtexError(f"{name} contains NUL bytes; it is not a BibTeX text file")
    parser = BibTexParser(common_strings=True, interpolate_strings=True)
    parser.ignore_nonstandard_types = False
    parser.homogenise_fields = True
    parser.customization = _latex_to_text
    try:
        db = parser.parse(text)
    except RecursionError:
        raise BibtexError(f"{name}: braces nested too deeply; is it a BibTeX file?") from None
    except Exception as exc:  # bibtexparser/pyparsing raise assorted errors on malformed input
        raise BibtexError(f"{name} cannot be parsed as BibTeX ({type(exc).__name__}); export "
                          "it again from Zotero or check the entry it stops at") from None
    parsed_keys: dict[str, int] = {}
    for e in db.entries:
        parsed_keys[e.get("ID", "")] = parsed_keys.get(e.get("ID", ""), 0) + 1
    unreadable = []
    for m in _ENTRY_START_RE.finditer(text):
        if m.group(1).lower() in _NOT_ENTRIES:
            continue
        key = m.group(2)
        if parsed_keys.get(key, 0) > 0:
            parsed_keys[key] -= 1
        else:
            unreadable.append((key or "(no key)", text.count("\n", 0, m.start()) + 1))
    return ParsedBib(tuple(db.entries), tuple(unreadable))


def read_bib_file(path: str | Path) -> str:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BIB_BYTES:
            raise BibtexError(f"{path.name} is {size / 1e6:.1f} MB; the limit is "
                              f"{MAX_BIB_BYTES // 1_000_000} MB")
        data = path.read_bytes()
    except FileNotFoundError:
        raise BibtexError(f"no file {path}") from None
    except IsADirectoryError:
        raise BibtexError(f"{path} is a folder; give the .bib file") from None
    except OSError as exc:
        raise BibtexError(f"cannot read {path} ({exc.strerror})") from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise BibtexError(f"{path.name} is not UTF-8 (byte {exc.start}); export it from Zotero "
                          "with the UTF-8 encoding") from None


# --- import: records -> catalog entries -----------------------------------------------------------


def _person(name: str) -> str:
    """'He, Kaiming' -> 'Kaiming He'; 'van der Maaten, Laurens' -> 'Laurens van der Maaten'."""
    from bibtexparser.customization import InvalidName, splitname

    name = " ".join(name.split())
    try:
        parts = splitname(name, strict_mode=False)
    except InvalidName:
        return name
    full = " ".join(parts.get("first", []) + parts.get("von", []) + parts.get("last", []))
    if parts.get("jr"):
        full += ", " + " ".join(parts["jr"])
    return full or name


def _authors(value: str) -> list[str]:
    names = re.split(r"\s+and\s+", value.strip()) if value.strip() else []
    return [_person(n) for n in names if n.strip() and n.strip().lower() != "others"]


def _year(rec: Mapping) -> int | None:
    for key in ("year", "date"):
        m = re.search(r"\b(\d{4})\b", rec.get(key, ""))
        if m:
            return int(m.group(1))
    return None


def _arxiv(rec: Mapping) -> str | None:
    from workbench.sources.arxiv import base_id, parse_arxiv_ref

    prefix = (rec.get("archiveprefix") or rec.get("eprinttype") or "").strip().lower()
    eprint = rec.get("eprint", "").strip()
    if eprint and prefix in ("", "arxiv"):
        found = parse_arxiv_ref(eprint)
        if found:
            return base_id(found)
    for key in ("journal", "url", "note", "howpublished", "volume"):
        for m in re.finditer(r"arxiv(?:\.org/(?:abs|pdf)/|:\s*)(\S+?)(?:\.pdf)?(?=[\s,;}]|$)",
                             rec.get(key, ""), re.IGNORECASE):
            found = parse_arxiv_ref(m.group(1))
            if found:
                return base_id(found)
    return None


def _doi(rec: Mapping) -> str | None:
    raw = rec.get("doi", "").strip()
    raw = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", raw, flags=re.IGNORECASE)
    return raw or None


def _venue(rec: Mapping, year: int | None) -> str | None:
    for key in ("booktitle", "journal", "howpublished", "publisher", "institution"):
        value = rec.get(key, "").strip()
        if not value or re.match(r"^(\\url|https?://)", value):
            continue
        if ARXIV_VENUE_RE.match(value):
            return f"arXiv preprint {year}" if year else "arXiv preprint"
        return value
    return None


def catalog_entry(rec: Mapping, topic: str) -> tuple[dict | None, str | None, list[str]]:
    """(catalog entry without id, why it cannot be imported, notices) for one parsed record."""
    notices: list[str] = []
    key = rec.get("ID", "?")
    title = rec.get("title", "").strip().rstrip(".")
    if not title:
        return None, "no title", notices
    authors = _authors(rec.get("author", ""))
    if not authors:
        return None, "no author", notices
    year = _year(rec)
    if year is None:
        return None, "no year (or date)", notices
    if not catalog_mod.MIN_YEAR <= year <= date.today().year + 1:
        return None, f"year {year} is out of range", notices
    arxiv = _arxiv(rec)
    if arxiv and not catalog_mod.is_arxiv_id(arxiv):
        notices.append(f"{key}: arXiv id {arxiv!r} is malformed; left out")
        arxiv = None
    doi = _doi(rec)
    if doi and not catalog_mod.is_doi(doi):
        notices.append(f"{key}: DOI {doi!r} is malformed; left out")
        doi = None
    url = rec.get("url", "").strip()
    if url and (not re.match(r"^https?://\S+$", url) or re.search(r"arxiv\.org|doi\.org", url)):
        url = ""
    keywords = rec.get("keywords") or rec.get("keyword", "")  # bibtexparser homogenises
    tags = [t.strip() for t in re.split(r"[,;]", keywords) if t.strip()]
    entry = {
        "title": title, "authors": authors, "year": year, "topic": topic,
        "venue": _venue(rec, year), "arxiv": arxiv, "doi": doi,
        "tags": list(dict.fromkeys(tags)), "abstract": rec.get("abstract", "").strip() or None,
        "url": url or None,
    }
    return {k: v for k, v in entry.items() if v not in (None, "", [])}, None, notices


@dataclass(frozen=True)
class ImportPlan:
    """What `apply_import` will add, and what it skips with the reason."""

    source: str
    new: tuple[dict, ...]                    # catalog entries, each with its `id`
    bib_keys: tuple[str, ...]                # the .bib key of each new entry
    skipped: tuple[tuple[str, str], ...]     # (.bib key, why)
    notices: tuple[str, ...] = field(default_factory=tuple)

    def lines(self) -> list[str]:
        out = [f"{self.source}: {len(self.new)} to add, {len(self.skipped)} skipped"]
        out += [f"  + {e['id']:<28} {e['title']} ({e['year']})  [{k}]"
                for e, k in zip(self.new, self.bib_keys, strict=True)]
        out += [f"  - {k}: {why}" for k, why in self.skipped]
        out += [f"  note: {n}" for n in self.notices]
        return out


def _same_paper(a: Mapping, b: Mapping) -> str | None:
    from workbench.pdf_refs import normalise_title

    if a.get("arxiv") and a.get("arxiv") == b.get("arxiv"):
        return f"arXiv id {a['arxiv']}"
    if a.get("doi") and b.get("doi") and a["doi"].lower() == b["doi"].lower():
        return f"DOI {a['doi']}"
    if normalise_title(a["title"]) == normalise_title(b["title"]):
        return "title"
    return None


def _fresh_id(cat, entry: Mapping, taken: set[str]) -> str:
    from workbench.add import new_id

    pid = new_id(cat, entry["authors"], entry["year"], entry["title"])
    if pid in taken:
        n = 2
        while f"{pid}-{n}" in taken or f"{pid}-{n}" in cat:
            n += 1
        pid = f"{pid}-{n}"
    return pid


def plan_import(ws: Workspace, text: str, topic: str | None = None,
                source: str = "the .bib file") -> ImportPlan:
    """Map every entry of `text` to a catalog entry or a reason to skip it; writes nothing."""
    from workbench.add import find_duplicate

    cat = catalog_mod.load(ws.catalog_path)
    topic = cat.choose_topic(topic, BibtexError, "which topic do the papers go to?")
    parsed = parse_bibtex(text, source)
    if not parsed.entries and not parsed.unreadable:
        raise BibtexError(f"{source} holds no BibTeX entries (@article{{...}}, ...)")
    new: list[dict] = []
    keys: list[str] = []
    skipped: list[tuple[str, str]] = [(k, f"unreadable entry (line {line}): check its braces "
                                          "and commas") for k, line in parsed.unreadable]
    notices: list[str] = []
    for rec in parsed.entries:
        key = rec.get("ID") or "(no key)"
        entry, why, more = catalog_entry(rec, topic)
        notices += more
        if entry is None:
            skipped.append((key, why))
            continue
        dup = find_duplicate(cat, arxiv=entry.get("arxiv"), doi=entry.get("doi"),
                             title=entry["title"])
        if dup:
            skipped.append((key, f"already in the catalog as '{dup[0]}' (same {dup[1]})"))
            continue
        earlier = next(((k, m) for e, k in zip(new, keys, strict=True)
                        if (m := _same_paper(entry, e))), None)
        if earlier:
            skipped.append((key, f"same paper as '{earlier[0]}' earlier in the file (same "
                                 f"{earlier[1]})"))
            continue
        entry = {"id": _fresh_id(cat, entry, {e["id"] for e in new}), **entry}
        new.append(entry)
        keys.append(key)
    return ImportPlan(source, tuple(new), tuple(keys), tuple(skipped), tuple(notices))


@dataclass(frozen=True)
class ImportResult:
    added: tuple                               # catalog Papers, in file order
    skipped: tuple[tuple[str, str], ...]


def apply_import(ws: Workspace, plan: ImportPlan) -> ImportResult:
    """Append the plan's entries to papers.yaml, re-checking duplicates against the file as it
    is now (it may have changed since the plan); an entry the catalog refuses is skipped."""
    from workbench.add import find_duplicate

    added = []
    skipped = list(plan.skipped)
    for entry, key in zip(plan.new, plan.bib_keys, strict=True):
        cat = catalog_mod.load(ws.catalog_path)
        entry = dict(entry)
        dup = find_duplicate(cat, arxiv=entry.get("arxiv"), doi=entry.get("doi"),
                             title=entry["title"])
        if dup:
            skipped.append((key, f"already in the catalog as '{dup[0]}' (same {dup[1]})"))
            continue
        if entry["id"] in cat:
            entry["id"] = _fresh_id(cat, entry, set())
        try:
            added.append(append_paper(ws.catalog_path, entry))
        except CatalogError as exc:
            skipped.append((key, f"refused by the catalog: {exc}"))
    log.info("imported %d papers from %s", len(added), plan.source)
    return ImportResult(tuple(added), tuple(skipped))


def import_bib_file(ws: Workspace, path: str | Path, topic: str | None = None) -> ImportResult:
    """`plan_import` + `apply_import` for a file, without a confirmation step."""
    path = Path(path)
    return apply_import(ws, plan_import(ws, read_bib_file(path), topic, path.name))
