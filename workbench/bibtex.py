"""BibTeX: export the catalog (or a session) with stable citation keys, import a `.bib` file.

Citation keys follow the Google Scholar / Better BibTeX habit: first author's surname + year +
first significant title word, lowercase ASCII ('Kaiming He', 2015, 'Deep Residual Learning...'
-> `he2015deep`). Keys are computed over the whole catalog, so a session's export uses the same
keys as the catalog's. Papers that would share a key are ordered by paper id: the first keeps
the bare key, the next get `a`, `b`, ... (`he2016identity`, `he2016identitya`). A key changes
only when a paper with the same surname, year and first word is added with a smaller id.

Entry types: a venue naming a conference or workshop -> `@inproceedings` (booktitle), any other
venue -> `@article` (journal), no venue or an arXiv preprint -> `@misc`; an arXiv id is written
the Better BibTeX way (`eprint`, `archiveprefix = {arXiv}`). Values keep their Unicode (biber
and Zotero read UTF-8); the LaTeX specials `& % # _ $ { } ~ ^ \\` are escaped.

Import reads Zotero / Better BibTeX exports (`@article`, `@inproceedings`, `@misc`, ... with
`eprint`/`archiveprefix`, `doi`, `journal`, `booktitle`, biblatex `date`) with bibtexparser 1.x.
Each entry becomes a catalog entry through the same duplicate rules as `workbench add` (same
arXiv id, DOI or normalised title: skipped, naming the paper it duplicates) and is written with
`catalog.append_paper`. Malformed input never raises anything but `BibtexError`: entries the
parser cannot read are listed as skipped with their line.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from workbench import catalog as catalog_mod
from workbench.errors import CatalogError, WorkbenchError
from workbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_BIB_BYTES = 10_000_000
STOPWORDS = frozenset(
    "a an the of on in for and to with via is are at by from into do does how what why when "
    "where which who towards toward using".split())
# letters NFKD does not decompose into ASCII
_TRANSLIT = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss", "Æ": "AE",
                           "æ": "ae", "Œ": "OE", "œ": "oe", "Đ": "D", "đ": "d", "Þ": "Th",
                           "þ": "th", "ı": "i"})
_CONFERENCE_RE = re.compile(
    r"\b(CVPR|ICCV|ECCV|NeurIPS|NIPS|ICLR|ICML|AAAI|IJCAI|ACL|EMNLP|NAACL|COLING|KDD|BMVC|"
    r"MICCAI|IPMI|WACV|ACCV|SIGGRAPH|MLHC|AISTATS|UAI|COLT|CoRL|RSS|ICRA|IROS|Interspeech|"
    r"ICASSP|Conference|Workshop|Symposium)\b", re.IGNORECASE)
_ARXIV_VENUE_RE = re.compile(r"^\s*arxiv\b", re.IGNORECASE)
# LaTeX specials -> escapes that `_latex_to_text` turns back (order: backslash first)
# (braces as \textbraceleft{}: BibTeX counts every brace, escaped or not, so `\{` unbalances)
_ESCAPES = (("\\", r"\textbackslash{}"), ("{", r"\textbraceleft{}"), ("}", r"\textbraceright{}"),
            ("$", r"\$"),
            ("&", r"\&"), ("%", r"\%"), ("#", r"\#"), ("_", r"\_"),
            ("~", r"\textasciitilde{}"), ("^", r"\textasciicircum{}"))
# what `_latex_to_text` shields from bibtexparser's decoder, and the text it stands for: the
# escapes above, plain ASCII the decoder would turn into ≔ ≕ „ ⁗ ŉ, and \'n, which it gets wrong
_UNESCAPE = tuple((re.compile(pattern), plain) for pattern, plain in (
    (r"\\textbackslash\{\}", "\\"), (r"\\textasciitilde\{\}", "~"),
    (r"\\textasciicircum\{\}", "^"), (r"\\textbraceleft\{\}", "{"),
    (r"\\textbraceright\{\}", "}"), (r"\\\$", "$"), (r"\\&", "&"), (r"\\%", "%"),
    (r"\\#", "#"), (r"\\_", "_"), ("''''", "''''"), (":=", ":="), ("=:", "=:"),
    (",,", ",,"), (r"\\'\{?n\}?", "ń"), (r"\\'\{?N\}?", "Ń"), (r"(?<!\\)'n", "'n")))


class BibtexError(WorkbenchError):
    """A .bib file that cannot be read or imported; the message says which and why."""


# --- citation keys ---------------------------------------------------------------------------------


def ascii_fold(text: str) -> str:
    """'Łukasz Müller' -> 'Lukasz Muller': NFKD without combining marks, plus a small table
    for letters NFKD keeps (Ł, ø, ß, ...)."""
    text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    return text.encode("ascii", "ignore").decode("ascii")


def surname(name: str) -> str:
    """The family name of 'Kaiming He', 'He, Kaiming', 'Laurens van der Maaten' ('Maaten')."""
    from bibtexparser.customization import InvalidName, splitname

    name = " ".join(name.replace("{", "").replace("}", "").split())
    if not name:
        return ""
    try:
        last = splitname(name, strict_mode=False).get("last") or []
    except InvalidName:
        last = []
    return " ".join(last) or name.split()[-1]


def first_title_word(title: str) -> str:
    """The first word of the title that is not a stopword: 'An Image is Worth...' -> 'image'."""
    words = re.findall(r"[a-z0-9]+", ascii_fold(title).lower())
    return next((w for w in words if w not in STOPWORDS), "")


def key_base(paper) -> str:
    """surname + year + first significant title word, lowercase ASCII letters and digits."""
    name = re.sub(r"[^a-z]", "", ascii_fold(surname(paper.first_author)).lower()) or "anon"
    return f"{name}{paper.year}{first_title_word(paper.title)}"


def _suffixes() -> Iterable[str]:
    """'a', 'b', ..., 'z', 'aa', 'ab', ..."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    yield from letters
    for a in letters:
        for b in letters:
            yield a + b


def citation_keys(papers: Iterable) -> dict[str, str]:
    """paper id -> citation key, unique over `papers` (pass the whole catalog for stability).

    Within a group sharing a base key, papers are ordered by id; the first keeps the base key,
    the others take the next free suffix `a`, `b`, ...
    """
    groups: dict[str, list] = {}
    for p in papers:
        groups.setdefault(key_base(p), []).append(p)
    keys: dict[str, str] = {}
    used = set(groups)  # a bare base is never reused as a suffixed key
    for base, members in sorted(groups.items()):
        members.sort(key=lambda p: p.id)
        keys[members[0].id] = base
        suffixes = _suffixes()
        for p in members[1:]:
            key = base + next(suffixes)
            while key in used:
                key = base + next(suffixes)
            used.add(key)
            keys[p.id] = key
    return keys


# --- export -------------------------------------------------------------------------------------------


def latex_escape(text: str) -> str:
    """Escape the LaTeX specials so that BibTeX prints the text as written."""
    out = []
    for ch in text:
        out.append(next((esc for c, esc in _ESCAPES if c == ch), ch))
    return "".join(out)


def entry_type(paper) -> str:
    venue = paper.venue or ""
    if not venue or _ARXIV_VENUE_RE.match(venue):
        return "misc"
    return "inproceedings" if _CONFERENCE_RE.search(venue) else "article"


def bib_fields(paper, key: str) -> dict[str, str]:
    """The bibtexparser record (`ID`, `ENTRYTYPE`, fields) for one catalog paper."""
    kind = entry_type(paper)
    rec = {"ID": key, "ENTRYTYPE": kind,
           "author": " and ".join(latex_escape(a) for a in paper.authors),
           # the extra braces keep the title's capitals (BibTeX styles lowercase titles)
           "title": "{" + latex_escape(paper.title) + "}",
           "year": str(paper.year)}
    if paper.venue:
        venue_key = {"inproceedings": "booktitle", "article": "journal"}.get(kind, "howpublished")
        rec[venue_key] = latex_escape(paper.venue)
    if paper.doi:
        rec["doi"] = latex_escape(paper.doi)
    if paper.arxiv:
        rec["eprint"] = paper.arxiv
        rec["archiveprefix"] = "arXiv"
    if paper.url:
        rec["url"] = latex_escape(paper.url)
    if paper.tags:
        rec["keywords"] = latex_escape(", ".join(paper.tags))
    if paper.abstract:
        rec["abstract"] = latex_escape(" ".join(paper.abstract.split()))
    return rec


_FIELD_ORDER = ["author", "title", "booktitle", "journal", "howpublished", "year", "doi",
                "eprint", "archiveprefix", "url", "keywords", "abstract"]


def export_bibtex(catalog, paper_ids: Sequence[str] | None = None) -> str:
    """BibTeX text for `paper_ids` (in that order; default: the whole catalog, in file order)."""
    from bibtexparser.bibdatabase import BibDatabase
    from bibtexparser.bwriter import BibTexWriter

    keys = citation_keys(catalog.papers)
    ids = list(paper_ids) if paper_ids is not None else [p.id for p in catalog.papers]
    missing = [i for i in ids if i not in catalog.by_id]
    if missing:
        raise BibtexError(f"not in the catalog: {', '.join(missing)}")
    db = BibDatabase()
    db.entries = [bib_fields(catalog.by_id[i], keys[i]) for i in ids]
    writer = BibTexWriter()
    writer.indent = "  "
    writer.order_entries_by = None
    writer.display_order = _FIELD_ORDER
    writer.add_trailing_comma = True
    return writer.write(db)


# --- parsing ------------------------------------------------------------------------------------------

_ENTRY_START_RE = re.compile(r"^[ \t]*@[ \t]*([A-Za-z]+)[ \t]*[{(][ \t]*([^,\s]*)", re.MULTILINE)
_NOT_ENTRIES = {"comment", "string", "preamble"}
_PLACEHOLDER = "\ue000{}\ue001"


def _latex_to_text(record: dict) -> dict:
    """bibtexparser's `convert_to_unicode`, keeping the escapes this module writes."""
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
        if _ARXIV_VENUE_RE.match(value):
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


def _topic(cat, topic: str | None) -> str:
    ids = [t.id for t in cat.topics]
    if topic:
        if topic not in ids:
            raise BibtexError(f"unknown topic '{topic}'; pick one of: {', '.join(ids)}")
        return topic
    if len(ids) == 1:
        return ids[0]
    raise BibtexError(f"which topic do the papers go to? pass --topic, one of: "
                      f"{', '.join(ids) or '(none defined)'}")


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
    topic = _topic(cat, topic)
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
            added.append(catalog_mod.append_paper(ws.catalog_path, entry))
        except CatalogError as exc:
            skipped.append((key, f"refused by the catalog: {exc}"))
    log.info("imported %d papers from %s", len(added), plan.source)
    return ImportResult(tuple(added), tuple(skipped))


def import_bib_file(ws: Workspace, path: str | Path, topic: str | None = None) -> ImportResult:
    """`plan_import` + `apply_import` for a file, without a confirmation step."""
    path = Path(path)
    return apply_import(ws, plan_import(ws, read_bib_file(path), topic, path.name))
