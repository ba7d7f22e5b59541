"""BibTeX import: a Zotero / Better BibTeX `.bib` file into the catalog.

Reads Zotero / Better BibTeX exports (`@article`, `@inproceedings`, `@misc`, ... with
`eprint`/`archiveprefix`, `doi`, `journal`, `booktitle`, biblatex `date`) with
`bibtex_parse`, which also turns the escapes `workbench.catalog.bibtex` writes back into text.
Each entry becomes a catalog entry through the same duplicate rules as `workbench add` (same
arXiv id, DOI or normalised title: skipped, naming the paper it duplicates); all of them are
written at once with `catalog_write.add_papers` (one validation and one write per import, not
per entry). Malformed input never raises anything but `BibtexError`, and an entry that cannot
be read or imported is skipped and named by its key and line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from workbench import catalog as catalog_mod
from workbench.catalog import ARXIV_VENUE_RE, BibtexError
from workbench.intake.bibtex_parse import parse_bibtex
from workbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_BIB_BYTES = 10_000_000


# --- reading --------------------------------------------------------------------------------------


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
    return decode_bib(data, path.name)


def decode_bib(data: bytes, name: str) -> str:
    """The text of a .bib file's bytes (an upload, or what `read_bib_file` read)."""
    if len(data) > MAX_BIB_BYTES:
        raise BibtexError(f"{name} is {len(data) / 1e6:.1f} MB; the limit is "
                          f"{MAX_BIB_BYTES // 1_000_000} MB")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise BibtexError(f"{name} is not UTF-8 (byte {exc.start}); export it from Zotero "
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
    from workbench.sources import base_id, parse_arxiv_ref

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
    bib_lines: tuple[int, ...]               # the line each new entry starts on
    skipped: tuple[tuple[str, str], ...]     # ('key (line N)', why), in file order
    notices: tuple[str, ...] = field(default_factory=tuple)

    def lines(self) -> list[str]:
        out = [f"{self.source}: {len(self.new)} to add, {len(self.skipped)} skipped"]
        out += [f"  + {e['id']:<28} {e['title']} ({e['year']})  [{k}]"
                for e, k in zip(self.new, self.bib_keys, strict=True)]
        out += [f"  - {where}: {why}" for where, why in self.skipped]
        out += [f"  note: {n}" for n in self.notices]
        return out


def _where(key: str, line: int) -> str:
    return f"{key} (line {line})"


class _Seen:
    """Papers an entry may duplicate, by arXiv id, DOI and normalised title: the rules of
    `add.find_duplicate`, as look-ups (4,000 entries against 20,000 papers: 24,000 normalised
    titles, not 80 million)."""

    def __init__(self, papers=()):
        self.names: dict[tuple[str, str], str] = {}
        for p in papers:
            self.add(p.id, {"arxiv": p.arxiv, "doi": p.doi, "title": p.title})

    @staticmethod
    def _keys(entry: Mapping) -> list[tuple[str, str]]:
        from workbench.catalog import normalise_title
        from workbench.sources import base_id

        keys = [("arxiv", base_id(entry["arxiv"]) if entry.get("arxiv") else ""),
                ("doi", (entry.get("doi") or "").lower()),
                ("title", normalise_title(entry["title"]))]
        return [k for k in keys if k[1]]

    def add(self, name: str, entry: Mapping) -> None:
        for key in self._keys(entry):
            self.names.setdefault(key, name)

    def find(self, entry: Mapping) -> tuple[str, str] | None:
        """(name of the paper it duplicates, what they share: 'DOI 10.1/x') or None."""
        for kind, value in self._keys(entry):
            if (kind, value) in self.names:
                same = {"arxiv": f"arXiv id {value}", "doi": f"DOI {entry.get('doi')}"}
                return self.names[kind, value], same.get(kind, "title")
        return None


_seen_memo: list = [None, None]  # [catalog, its _Seen]: plan and write often see the same one


def _seen_in(cat) -> _Seen:
    """`_Seen` of a catalog's papers, built once per catalog object (the catalog cache hands the
    same object to the plan and to the write when the file did not change)."""
    if _seen_memo[0] is not cat:
        _seen_memo[:] = [cat, _Seen(cat.papers)]
    return _seen_memo[1]


def _fresh_id(cat, entry: Mapping, taken: set[str]) -> str:
    from workbench.intake.lookup import new_id

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
    cat = catalog_mod.load(ws.catalog_path)
    topic = cat.choose_topic(topic, BibtexError, "which topic do the papers go to?")
    parsed = parse_bibtex(text, source)
    if not parsed.entries and not parsed.unreadable:
        raise BibtexError(f"{source} holds no BibTeX entries (@article{{...}}, ...)")
    skipped = [(line, key, f"unreadable entry: {why}") for key, line, why in parsed.unreadable]
    new: list[dict] = []
    keys: list[str] = []
    lines: list[int] = []
    notices: list[str] = []
    in_catalog, in_file, taken = _seen_in(cat), _Seen(), set()
    for rec, line in zip(parsed.entries, parsed.lines, strict=True):
        key = rec.get("ID") or "(no key)"
        entry, why, more = catalog_entry(rec, topic)
        notices += more
        if entry is None:
            skipped.append((line, key, why))
        elif dup := in_catalog.find(entry):
            skipped.append((line, key, f"already in the catalog as '{dup[0]}' (same {dup[1]})"))
        elif earlier := in_file.find(entry):
            skipped.append((line, key, f"same paper as '{earlier[0]}' earlier in the file (same "
                                       f"{earlier[1]})"))
        else:
            entry = {"id": _fresh_id(cat, entry, taken), **entry}
            taken.add(entry["id"])
            in_file.add(key, entry)
            new.append(entry)
            keys.append(key)
            lines.append(line)
    skipped.sort(key=lambda s: s[0])
    return ImportPlan(source, tuple(new), tuple(keys), tuple(lines),
                      tuple((_where(key, line), why) for line, key, why in skipped),
                      tuple(notices))


@dataclass(frozen=True)
class ImportResult:
    added: tuple                               # catalog Papers, in file order
    skipped: tuple[tuple[str, str], ...]       # ('key (line N)', why): the plan's, then new ones


def apply_import(ws: Workspace, plan: ImportPlan) -> ImportResult:
    """Add the plan's entries to papers.yaml in one write (`catalog_write.add_papers`). Which
    are duplicates, and the fresh ids, are decided again against the file as it is when it is
    written (it may have changed since the plan); an entry the catalog refuses is skipped."""
    from workbench.catalog import add_papers

    late: list[tuple[str, str]] = []
    where: dict[str, str] = {}

    def prepare(cat) -> list[dict]:
        late.clear()
        where.clear()
        in_catalog, out, taken = _seen_in(cat), [], set()
        for entry, key, line in zip(plan.new, plan.bib_keys, plan.bib_lines, strict=True):
            if dup := in_catalog.find(entry):
                late.append((_where(key, line), f"already in the catalog as '{dup[0]}' (same "
                                                f"{dup[1]})"))
                continue
            entry = dict(entry)
            if entry["id"] in cat or entry["id"] in taken:
                entry["id"] = _fresh_id(cat, entry, taken)
            taken.add(entry["id"])
            where[entry["id"]] = _where(key, line)
            out.append(entry)
        return out

    result = add_papers(ws.catalog_path, prepare)
    late += [(where.get(entry.get("id"), "?"), f"refused by the catalog: {why}")
             for entry, why in result.refused]
    log.info("imported %d papers from %s", len(result.added), plan.source)
    return ImportResult(tuple(result.added), plan.skipped + tuple(late))
