"""BibTeX export: the catalog (or a session) with stable citation keys.

Citation keys follow the Google Scholar / Better BibTeX habit: first author's surname + year +
first significant title word, lowercase ASCII ('Kaiming He', 2016, 'Deep Residual Learning...'
-> `he2016deep`). Keys are computed over the whole catalog, so a session's export uses the same
keys as the catalog's. Papers that would share a key are ordered by paper id: the first keeps
the bare key, the next get `a`, `b`, ... (`he2016identity`, `he2016identitya`). A key changes
only when a paper with the same surname, year and first word is added with a smaller id.

Entry types: a venue naming a conference or workshop -> `@inproceedings` (booktitle), any other
venue -> `@article` (journal), no venue or an arXiv preprint -> `@misc`. The venue is written
without its year (`booktitle = {CVPR}`) and `year` is the catalog's, the venue's year
(`year = {2016}`, not the 2015 preprint's); an arXiv id is written the Better BibTeX way
(`eprint`, `archiveprefix = {arXiv}`). Values keep their Unicode (biber
and Zotero read UTF-8); the LaTeX specials `& % # _ $ { } ~ ^ \\` are escaped.

Reading a `.bib` file back into the catalog is `workbench.intake.bibtex_import`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from workbench.errors import WorkbenchError

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
ARXIV_VENUE_RE = re.compile(r"^\s*arxiv\b", re.IGNORECASE)
# LaTeX specials -> escapes that `bibtex_import` turns back (order: backslash first)
# (braces as \textbraceleft{}: BibTeX counts every brace, escaped or not, so `\{` unbalances)
_ESCAPES = (("\\", r"\textbackslash{}"), ("{", r"\textbraceleft{}"), ("}", r"\textbraceright{}"),
            ("$", r"\$"),
            ("&", r"\&"), ("%", r"\%"), ("#", r"\#"), ("_", r"\_"),
            ("~", r"\textasciitilde{}"), ("^", r"\textasciicircum{}"))


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
    if not venue or ARXIV_VENUE_RE.match(venue):
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
    if paper.venue_name:
        venue_key = {"inproceedings": "booktitle", "article": "journal"}.get(kind, "howpublished")
        rec[venue_key] = latex_escape(paper.venue_name)  # the year is in `year`
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
