"""Reference entries: split a paper's reference list into entries, parse one printed entry,
match entries to catalog papers.

`reference_entries(rows, ...)` splits the rows of the reference list (`workbench.pdf.layout`)
into entries: '[12] ...' labels, '12. ...' labels, or author-year lists with a hanging indent.

`parse_reference(text)` splits an entry as printed in a paper's reference list into authors,
title, year, venue, arXiv id and DOI. It handles the styles of the course's papers: NeurIPS /
CVPR ('[n] A. Author and B. Author. Title. Venue, year.'), LNCS ('n. Author, A., Author, B.:
Title. Venue (year)'), ICLR / ICML author-year ('Author, A. and Author, B. Title. Venue, year.'),
APA-like ('Author, A. (2014). Title. Venue.'), ACL ('Alan Author and Bo Author. 2018. Title.
Venue.') and quoted titles ('I. Author, “Title,” http://...'). It never raises on any string
and runs in time linear in the (capped) input length.

`match_references(refs, catalog)` links entries to catalog papers: by arXiv id, by DOI, then by
normalised-title similarity (difflib's ratio, threshold 0.9 by default).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from workbench.catalog import normalise_title
from workbench.pdf.layout import Row, clean_text, join_lines

MAX_REFERENCE_CHARS = 3000  # longer "entries" are mis-segmented text; parse only their head

# --- model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """One entry of a paper's reference list."""

    raw: str                      # as printed (hyphenation removed, ligatures expanded)
    label: str | None = None      # '12' for '[12]' or '12.'; None in author-year lists
    authors: tuple[str, ...] = ()
    title: str | None = None
    year: int | None = None
    venue: str | None = None
    arxiv_id: str | None = None   # without version: '1512.03385'
    doi: str | None = None        # lowercase: '10.1109/5.726791'
    url: str | None = None

    @property
    def first_author_surname(self) -> str | None:
        if not self.authors:
            return None
        return self.authors[0].split()[-1]

    def to_dict(self) -> dict:
        return {"raw": self.raw, "label": self.label, "authors": list(self.authors),
                "title": self.title, "year": self.year, "venue": self.venue,
                "arxiv_id": self.arxiv_id, "doi": self.doi, "url": self.url}

    @classmethod
    def from_dict(cls, d: dict) -> Reference:
        return cls(raw=d["raw"], label=d.get("label"), authors=tuple(d.get("authors") or ()),
                   title=d.get("title"), year=d.get("year"), venue=d.get("venue"),
                   arxiv_id=d.get("arxiv_id"), doi=d.get("doi"), url=d.get("url"))


# --- splitting the list into entries -----------------------------------------------------------

_BRACKET_RE = re.compile(r"^\[(\d{1,4})\]")
_DOTNUM_RE = re.compile(r"^(\d{1,4})\.\s+\S")


def reference_entries(rows: list[Row], start: int, end: int, skip: set[int], page_width: list[float]) -> list[str]:
    """Split the rows of the reference list into entries (raw text, label included).

    Three list styles: '[12] ...' labels, '12. ...' labels (LNCS), and unnumbered author-year
    lists with a hanging indent (an entry starts at the column's left edge, its continuation
    lines are indented). Labels must run in sequence, so a stray '[3]' inside an entry or a page
    number never starts an entry.
    """
    refs = [r for r in rows[start:end] if r.index not in skip]
    if not refs:
        return []
    size = Counter(round(r.size) for r in refs[:40]).most_common(1)[0][0]
    refs = [r for r in refs if abs(r.size - size) <= (2.0 if r.ocr else 1.2)]  # OCR: box heights
    footnote_blocks = {r.block for r in refs if r.first and r.lead_small}
    refs = [r for r in refs if r.block not in footnote_blocks]
    if not refs:
        return []
    bracket = _label_run(refs, _BRACKET_RE)
    dotnum = _label_run(refs, _DOTNUM_RE)
    entries: list[list[str]] = []
    if all(r.ocr for r in refs):
        entries = _ocr_entries(refs, _BRACKET_RE if bracket >= _label_run(refs, _OCR_NUM_RE)
                               else _OCR_NUM_RE)
    elif max(bracket, dotnum) >= 2:
        pattern = _BRACKET_RE if bracket >= dotnum else _DOTNUM_RE
        last = 0
        for r in refs:
            m = pattern.match(r.text)
            n = int(m.group(1)) if m else None
            if n is not None and (n == last + 1 or (last and last + 1 < n <= last + 3) or (not last and n <= 2)):
                entries.append([r.text])
                last = n
            elif entries:
                entries[-1].append(r.text)
    else:
        lefts: dict[tuple[int, int], float] = {}
        for r in refs:
            key = (r.page, int(r.x0 > page_width[r.page] / 2))
            lefts[key] = min(lefts.get(key, r.x0), r.x0)
        global_left = {}
        for (_, col), x in lefts.items():
            global_left[col] = min(global_left.get(col, x), x)
        counts = Counter((r.page, int(r.x0 > page_width[r.page] / 2)) for r in refs)
        for r in refs:
            key = (r.page, int(r.x0 > page_width[r.page] / 2))
            left = lefts[key] if counts[key] > 2 else global_left[key[1]]
            if r.x0 <= left + 3 or not entries:
                entries.append([r.text])
            else:
                entries[-1].append(r.text)
    return [clean_text(join_lines(e)) for e in entries]


_INITIALS_RE = re.compile(r"^(?:[A-Z][a-z]?\.[\s-]?){1,3}\s?[A-Z]")  # 'Y. LeCun', 'C. Y. Suen', 'J.-C. Simon'
_AUTHOR_START_RE = re.compile(r"^(?:[A-Z][a-z]?\.[\s-]?|[A-Z]\s){1,3}\s?[A-Z][\w'’-]+(?:,| and\b)")  # 'Y. LeCun,', 'I Guyon,'


def _ocr_entries(refs: list[Row], pattern: re.Pattern) -> list[list[str]]:
    """Entries of an OCR'd list. Tesseract drops many small labels ('[2]' alone in the margin
    is a speck to it), so an entry also starts where a paragraph starts with an author's
    initials, or where a row ending in a period is followed by one starting with an author
    ('Y. LeCun, ...': two entries in a paragraph Tesseract merged). Labels that are read must
    still run in sequence, counting the unlabelled entries. A paragraph of four rows or more
    after a gap of four lines that does not start an entry ends the list."""
    entries: list[list[str]] = []
    block_rows = Counter(r.block for r in refs)
    last, last_label, prev = 0, 0, None
    for r in refs:
        m = pattern.match(r.text)
        n = int(m.group(1)) if m else None
        labelled = n is not None and (last_label < n <= last + 3 or (not last and n <= 2))
        unlabelled = n is None and (
            (r.first and _INITIALS_RE.match(r.text))
            or (prev is not None and prev.text.endswith(".") and _AUTHOR_START_RE.match(r.text)))
        if (entries and not labelled and not unlabelled and prev is not None
                and prev.block != r.block and r.page == prev.page and r.y0 - prev.y1 > 4 * prev.height
                and block_rows[r.block] >= 4):
            break  # a wide gap, then a paragraph that is no entry: IEEE's author biographies
        if labelled or unlabelled or not entries:
            entries.append([r.text])
            last = n if labelled else last + 1
            last_label = n if labelled else last_label
        else:
            entries[-1].append(r.text)
        prev = r
    return entries


_OCR_NUM_RE = re.compile(r"^(\d{1,3})[.,]?\s+(?=[A-Z])")  # '1. Rosenblatt', OCR: '2 Minsky'


def headless_reference_start(rows: list[Row], body: float, skip: set[int]) -> int | None:
    """The first row of a reference list printed without a heading, on OCR'd pages only: the
    last row labelled '1.' in small type (smaller than the body text) that rows labelled 2 and
    3 follow within the next 30 rows. None when there is none."""
    small = [r for r in rows if r.ocr and r.index not in skip and r.size < body - 0.5]
    for k in range(len(small) - 1, -1, -1):
        m = _OCR_NUM_RE.match(small[k].text)
        if m and m.group(1) == "1":
            following = [int(n.group(1)) for r in small[k + 1:k + 30]
                         if r.index - small[k].index < 60 and (n := _OCR_NUM_RE.match(r.text))]
            if 2 in following and 3 in following[following.index(2):]:
                return small[k].index
    return None


def _label_run(refs: list[Row], pattern: re.Pattern) -> int:
    """How many rows carry the labels 1, 2, 3, ... in sequence (years like '2018.' do not)."""
    expected = 1
    for r in refs:
        m = pattern.match(r.text)
        if m and int(m.group(1)) == expected:
            expected += 1
    return expected - 1


# --- identifiers -------------------------------------------------------------------------------

_ARXIV_NEW = r"(\d{2})(\d{2})\.(\d{4,5})(?:v\d{1,2})?"
_ARXIV_PATTERNS = [
    re.compile(r"arxiv\s*(?:preprint)?\s*(?:arxiv)?\s*[:.]?\s*" + _ARXIV_NEW, re.IGNORECASE),
    re.compile(r"arxiv\.org/(?:abs|pdf)/" + _ARXIV_NEW, re.IGNORECASE),
    re.compile(r"\babs/" + _ARXIV_NEW),
]
_ARXIV_OLD = re.compile(r"arxiv\s*:\s*([a-z][a-z\-]{1,15}(?:\.[A-Z]{2})?/\d{7})", re.IGNORECASE)
_DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]{1,200})")
_URL_RE = re.compile(r"(https?://[^\s\"<>]{3,300}|www\.[^\s\"<>]{3,300})")
_YEAR_RE = re.compile(r"(?<![\d.:/\-])((?:19[5-9]|20[0-4])\d)[a-z]?(?![\d/])")


def find_arxiv_id(text: str) -> str | None:
    """The first plausible arXiv id in `text` ('arXiv:1607.06450', 'CoRR, abs/1412.0623')."""
    for pattern in _ARXIV_PATTERNS:
        for m in pattern.finditer(text):
            yy, mm, num = int(m.group(1)), int(m.group(2)), m.group(3)
            if 1 <= mm <= 12 and 7 <= yy and (len(num) == 4 or (yy, mm) >= (15, 1)):
                return f"{m.group(1)}{m.group(2)}.{num}"
    m = _ARXIV_OLD.search(text)
    return m.group(1) if m else None


def find_doi(text: str) -> str | None:
    m = _DOI_RE.search(text)
    return m.group(1).rstrip(".,;:)]}").lower() if m else None


# --- parsing ---------------------------------------------------------------------------------------

_LABEL_RE = re.compile(r"^\s*(?:\[(?P<b>[^\]\s]{1,12})\]|(?P<n>\d{1,4})\.(?=\s))\s*")
_INITIAL_RE = re.compile(r"^(?:[A-Z][a-z]?\.?\s?-?)+$")
_NAME_CONT_RE = re.compile(r"^[A-Z\u00c0-\u024f][\w'\u2019\-\u00c0-\u024f]*(?:[.,]|\s+(?:and|&)\s|\s+[A-Z]\.)")
_SENT_END_RE = re.compile(r"(?<=[^\s])([.?!])\s+(?=\S)")
_NOT_BOUNDARY_WORDS = {"jr", "sr", "vs", "eds", "ed", "proc", "vol", "no", "pp", "dr", "st"}
_AND_RE = re.compile(r"^(?:and|&)\s")


def _strip_label(text: str) -> tuple[str | None, str]:
    m = _LABEL_RE.match(text)
    if not m:
        return None, text
    return (m.group("b") or m.group("n")), text[m.end():]


_INVERTED_RE = re.compile(r"^[A-Z][\w'\-\u00c0-\u024f]+(?:\s[A-Z][\w'\-\u00c0-\u024f]+)?,\s(?:[A-Z]\.\s?-?)+")
_INITIAL_NEXT_RE = re.compile(r"^(?:[A-Z][a-z]?\.|(?:and|&)\s)")


def _sentence_ends(text: str, names: bool) -> Iterable[int]:
    """Positions just after each sentence-ending '.', '?' or '!' followed by a space.

    In an author list (`names=True`) a period after an initial ('Y.') ends the list only when
    the next word cannot continue a name ('Koren.', 'Zitnick,', 'Zeiler and' continue it). In
    the inverted style ('Zeiler, M. D. and Fergus, R. Title') initials end each name, so only
    another initial or 'and' continues the list.
    """
    inverted = names and bool(_INVERTED_RE.match(text))
    for m in _SENT_END_RE.finditer(text):
        end = m.start(1)
        word = re.search(r"([\w\u00c0-\u024f'\-]+)$", text[:end])
        token = word.group(1).lstrip("-'") if word else ""
        if m.group(1) == "." and token.lower() in _NOT_BOUNDARY_WORDS:
            continue
        if m.group(1) == "." and names and len(token) <= 2 and token[:1].isupper():
            after = text[m.end():m.end() + 60]
            if inverted:
                if _INITIAL_NEXT_RE.match(after):
                    continue
            elif _NAME_CONT_RE.match(after) or _AND_RE.match(after):
                continue
        if m.group(1) == "." and not names and len(token) == 1 and token.isupper():
            continue  # 'Part I. ...' in a title is rare; initials in a venue are common
        yield m.end()


def _split_authors(authors: str) -> tuple[str, ...]:
    """'Bell, S., Upchurch, P., and Bala, K.' -> ('S. Bell', 'P. Upchurch', 'K. Bala')."""
    authors = re.sub(r"\bet\s+al\.?", "", authors).strip(" ,;:")
    if authors.endswith(".") and not re.search(r"(?:^|[\s.\-])[A-Z]\.$", authors):
        authors = authors[:-1]  # the period that ends the list, not an initial's
    if not authors or len(authors) > 1500:
        return ()
    parts = [p.strip() for p in re.split(r",\s*(?:and\s+|&\s*)?|\s+and\s+|\s*&\s*|;\s*", authors)]
    parts = [p for p in parts if p and p.lower() not in {"and", "others"}]
    if len(parts) >= 2 and len(parts) % 2 == 0:
        surnames, given = parts[0::2], parts[1::2]
        if all(" " not in s or s.lower().startswith(("van ", "de ", "von ", "der ", "da ", "le "))
               for s in surnames) and any(_INITIAL_RE.match(g) or " " not in g for g in given):
            return tuple(f"{g} {s}" for s, g in zip(surnames, given, strict=True))
    if len(parts) == 2 and _INITIAL_RE.match(parts[1]):
        return (f"{parts[1]} {parts[0]}",)
    return tuple(parts)


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    title = title.strip(" .,;:“”\"'")
    return title or None


_VENUE_CUT = re.compile(
    r",\s*(?:\d|pages?\b|pp\.|vol\.?\b|volume\b|no\.)|\s\(\s*(?:19|20)\d\d|,\s*(?:19|20)\d\d"
    r"|\.\s*(?:19|20)\d\d|\bpp\.\s*\d|,\s*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
    r"|\s(?:19|20)\d\d\.?$|\s\d+\s*\(\d+\)",
    re.IGNORECASE)


def _venue(rest: str) -> str | None:
    rest = re.sub(r"^[\s.,]*\(?\s*(?:19|20)\d\d[a-z]?\s*\)?[.,]?\s*", "", rest).strip(" .,")
    rest = re.sub(r"^in\s*:?\s+", "", rest, flags=re.IGNORECASE)
    rest = re.sub(r"^.{0,300}?\b(?:editors?|eds?\.)\s*,\s*", "", rest)  # 'A. Editor, editors, Venue'
    if not rest:
        return None
    if re.match(r"arxiv\b", rest, re.IGNORECASE) or re.match(r"corr\b", rest, re.IGNORECASE):
        return "arXiv" if rest.lower().startswith("arxiv") else "CoRR"
    m = _VENUE_CUT.search(rest)
    venue = rest[:m.start()] if m else rest
    venue = venue.strip(" .,;:(")
    if not venue or re.fullmatch(r"[\d\s,.\-–]+", venue) or venue.lower().startswith(("http", "www")):
        return None
    return venue[:150]


def parse_reference(text: str) -> Reference:
    """Parse one printed reference entry. Never raises; unknown parts are None / empty."""
    if not isinstance(text, str):
        text = str(text)
    text = unicodedata.normalize("NFC", text.replace("\x00", " "))
    raw = clean_text(text)
    head = raw[:MAX_REFERENCE_CHARS]
    label, body = _strip_label(head)
    arxiv_id = find_arxiv_id(body)
    doi = find_doi(body)
    url_m = _URL_RE.search(body)
    url = url_m.group(1).rstrip(".,;)") if url_m else None

    authors_s: str | None = None
    title: str | None = None
    rest = ""
    year: int | None = None

    quoted = re.search(r"[“\"]([^”\"]{3,400}?)[,.]?[”\"]", body)
    paren_year = re.search(r"\(\s*((?:19|20)\d\d)[a-z]?\s*\)\.?", body[:600])
    acl = re.match(r"^(.{3,800}?[^\s.])\.\s+((?:19|20)\d\d)[a-z]?\.\s+(.*)$", body)
    lncs = re.match(r"^([^:]{2,800}?)\s*:\s+(.*)$", body)
    lncs_ok = bool(lncs) and (re.search(r"\b[A-Z]\.$", lncs.group(1)) is not None
                              or lncs.group(1).endswith("et al.") or lncs.group(1).isupper())
    if quoted and quoted.start() < 300:
        authors_s, title, rest = body[:quoted.start()], quoted.group(1), body[quoted.end():]
    elif lncs_ok and (not paren_year or paren_year.start() > lncs.end(1)):
        authors_s = lncs.group(1)
        title, rest = _first_sentence(lncs.group(2))
    elif paren_year and paren_year.start() > 2 and re.search(r"[A-Za-z]", body[:paren_year.start()]):
        authors_s, after = body[:paren_year.start()], body[paren_year.end():]
        year = int(paren_year.group(1))
        title, rest = _first_sentence(after)
    elif acl and len(acl.group(1)) < 600:
        authors_s, year = acl.group(1), int(acl.group(2))
        title, rest = _first_sentence(acl.group(3))
    else:
        ends = _sentence_ends(body, names=True)
        first_end = next(iter(ends), None)
        if first_end is None:
            title, rest = _first_sentence(body)
        else:
            authors_s = body[:first_end]
            title, rest = _first_sentence(body[first_end:])

    if year is None:
        years = [int(m.group(1)) for m in _YEAR_RE.finditer(body)
                 if not (arxiv_id and m.group(1) in body[max(0, m.start() - 12):m.start()])]
        year = years[-1] if years else None
        if years and rest:
            in_rest = [int(m.group(1)) for m in _YEAR_RE.finditer(rest)]
            year = in_rest[-1] if in_rest else year
    authors = _split_authors(authors_s) if authors_s else ()
    if title and len(title) > 400:
        title = title[:400]
    return Reference(raw=raw, label=label, authors=authors, title=_clean_title(title), year=year,
                     venue=_venue(rest), arxiv_id=arxiv_id, doi=doi, url=url)


_TITLE_TAIL_RE = re.compile(r"(?:\s\(\s*(?:19|20)\d\d[a-z]?\s*\)|,\s*(?:19|20)\d\d[a-z]?\.?$|,\s*arxiv\b)",
                            re.IGNORECASE)


def _first_sentence(text: str) -> tuple[str | None, str]:
    """The title (the first sentence) and the rest; a year or arXiv id glued on ('..., 2008.',
    '... (2014), arXiv:1409.1556') goes to the rest."""
    text = text.strip()
    if not text:
        return None, ""
    end = next(iter(_sentence_ends(text, names=False)), None)
    title, rest = (text, "") if end is None else (text[:end].strip(), text[end:])
    tail = _TITLE_TAIL_RE.search(title)
    if tail and tail.start() > 0:
        title, rest = title[:tail.start()], title[tail.start():] + " " + rest
    return title, rest


# --- matching -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceMatch:
    entry: int        # index into the reference list
    paper_id: str     # catalog id
    method: str       # 'arxiv', 'doi' or 'title'
    score: float      # 1.0 for identifiers; the title similarity otherwise


def _strip_version(arxiv_id: str) -> str:
    return re.sub(r"v\d+$", "", arxiv_id.strip().lower())


def title_similarity(a: str, b: str) -> float:
    """difflib ratio 2*M/T of the two normalised titles (M matching chars, T total chars)."""
    na, nb = normalise_title(a), normalise_title(b)
    if not na or not nb:
        return 0.0
    return difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio()


def match_references(refs, catalog, threshold: float = 0.9,
                     exclude: str | None = None) -> list[ReferenceMatch]:
    """Link reference entries to catalog papers: arXiv id, then DOI, then title similarity.

    `refs` is a sequence of `Reference` or anything with a `references` attribute (a
    `PaperStructure`). Title matching compares the parsed title with each catalog title
    (difflib ratio, see `title_similarity`) and also accepts a catalog title of at least three
    words that occurs verbatim (normalised) in the entry, which covers entries whose title could
    not be split off (when the parsed title contains the catalog title, the ratio alone
    decides: 'Network in network in network' is not 'Network in network'). Years that differ by
    more than one rule a title match out. `exclude` is the citing paper's own id. Each entry
    gets at most one match: the best one.
    """
    refs: Sequence[Reference] = getattr(refs, "references", refs)
    papers = [p for p in catalog.papers if p.id != exclude]
    by_arxiv = {_strip_version(p.arxiv): p.id for p in papers if p.arxiv}
    by_doi = {p.doi.lower(): p.id for p in papers if p.doi}
    titles = [(p, normalise_title(p.title)) for p in papers]
    out: list[ReferenceMatch] = []
    for i, ref in enumerate(refs):
        if ref.arxiv_id and _strip_version(ref.arxiv_id) in by_arxiv:
            out.append(ReferenceMatch(i, by_arxiv[_strip_version(ref.arxiv_id)], "arxiv", 1.0))
            continue
        if ref.doi and ref.doi.lower() in by_doi:
            out.append(ReferenceMatch(i, by_doi[ref.doi.lower()], "doi", 1.0))
            continue
        ref_title = normalise_title(ref.title) if ref.title else ""
        raw_norm = " " + normalise_title(ref.raw) + " "
        best: tuple[float, str] | None = None
        for paper, cat_title in titles:
            if not cat_title:
                continue
            if ref.year and paper.year and abs(ref.year - paper.year) > 1:
                continue
            score = 0.0
            if ref_title:
                matcher = difflib.SequenceMatcher(None, ref_title, cat_title, autojunk=False)
                if matcher.real_quick_ratio() >= threshold and matcher.quick_ratio() >= threshold:
                    score = matcher.ratio()
            if (score < threshold and len(cat_title.split()) >= 3 and f" {cat_title} " in raw_norm
                    and f" {cat_title} " not in f" {ref_title} "):
                score = threshold  # the title is in the entry, but the parser split it off wrongly
            if score >= threshold and (best is None or score > best[0]):
                best = (score, paper.id)
        if best:
            out.append(ReferenceMatch(i, best[1], "title", round(best[0], 3)))
    return out
