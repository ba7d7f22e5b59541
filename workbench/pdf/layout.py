"""Layout analysis for `workbench.pdf.document`: from PyMuPDF text spans to rows, page furniture, section
headings and each section's text. Title, authors and abstract are `workbench.pdf.front_matter`;
captions and figure regions `workbench.pdf.figures`; the reference list `workbench.pdf.refs`.

Everything here works on *rows*: the horizontal text lines of one PyMuPDF block that share a
baseline, joined left to right. Rows fix three traps of real arXiv PDFs at once: a section number
that is its own span or line (`'1'` + `'Introduction'`), faked small caps (`'V'`@17pt +
`'ERY'`@14pt, joined without a space), and the rotated 20 pt arXiv stamp (dropped: only
left-to-right horizontal lines become rows).

Font sizes are compared with the document's body size (the most common size, weighted by
characters), never with fixed points: ACL papers set body text at 10.9 pt, LNCS at 10 pt with
9 pt references, NeurIPS at 10 pt.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

# PyMuPDF text flags: keep whitespace, clip to the media box, and do NOT preserve ligatures,
# so 'ﬁ' comes out as 'fi' (TEXTFLAGS_TEXT minus TEXT_PRESERVE_LIGATURES).
TEXT_FLAGS = 2 | 64 | 128

_SPACING_ACCENTS = {
    "\u00b4": "\u0301", "`": "\u0300", "\u00a8": "\u0308", "\u02c6": "\u0302", "^": "\u0302",
    "\u02dc": "\u0303", "~": "\u0303", "\u00b8": "\u0327", "\u02c7": "\u030c",
    "\u02da": "\u030a", "\u02d8": "\u0306", "\u00af": "\u0304", "\u02dd": "\u030b",
}
_ACCENT_RE = re.compile("([\u00b4`\u00a8\u02c6\u02dc\u00b8\u02c7\u02da\u02d8\u00af\u02dd])\\s?([A-Za-z\u0131])")
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi",
                            "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st", "\u00a0": " "})
_WS_RE = re.compile(r"\s+")
_ALNUM_RE = re.compile(r"[^\W_]")


def clean_text(text: str) -> str:
    """Expand ligatures, recompose split diacritics ('Doll´ar' -> 'Dollár'), collapse spaces.

    TeX's Type 1 fonts draw an accent as its own glyph before the letter; the text layer then
    holds the spacing accent (U+00B4) followed by the letter. It becomes letter + combining
    accent, then NFC composes the two into one code point.
    """
    text = text.translate(_LIGATURES)
    if _ACCENT_RE.search(text):
        def compose(m: re.Match) -> str:
            letter = "i" if m.group(2) == "\u0131" else m.group(2)
            return unicodedata.normalize("NFC", letter + _SPACING_ACCENTS[m.group(1)])

        text = _ACCENT_RE.sub(compose, text)
    return _WS_RE.sub(" ", text).strip()


def join_lines(parts: list[str]) -> str:
    """Join text lines into one string, removing line-break hyphenation ('net-' + 'works').

    A trailing hyphen after a lowercase letter is dropped when the next line starts with a
    lowercase letter; otherwise the hyphen is a real one and stays, without a space after it
    ('Batch-' + 'Normalized' -> 'Batch-Normalized').
    """
    out = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if not out:
            out = part
        elif len(out) >= 2 and out[-1] == "-" and out[-2].isalpha():
            out = (out[:-1] if out[-2].islower() and part[0].islower() else out) + part
        else:
            out = out + " " + part
    return out


def capitals(text: str) -> bool:
    """Whether at least 80 % of the letters are capitals ('IV. MuLTI-MODULE SYSTEMS': OCR
    reads small capitals with a slip now and then)."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def letters_ratio(text: str) -> float:
    """Letters / non-space characters (0 for an empty string)."""
    chars = len(text) - text.count(" ")
    return sum(map(str.isalpha, text)) / chars if chars > 0 else 0.0


# --- rows ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    page: int          # 0-based page index
    block: int         # block number, unique over the document
    first: bool        # first row of its block
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    size: float        # largest font size among spans holding a letter or digit
    bold: bool         # every such span is bold
    lead_small: bool   # starts with a superscript mark (footnote: '4 U-net implementation ...')
    gap: float = 0.0   # widest horizontal gap between the row's pieces (table rows have wide ones)
    pieces: tuple[str, ...] = ()  # the texts of the row's pieces when there are several
    letters: float = 0.0  # share of letters among the non-space characters
    index: int = 0     # position in document order
    ocr: bool = False  # read by OCR: sizes approximated from box heights, no bold

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def _is_bold(span: dict) -> bool:
    font = span["font"]
    return bool(span["flags"] & 16) or any(k in font for k in ("Bold", "Medi", "Semibold", "Black"))


def page_rows(page_dict: dict, pno: int, block_base: int, sizes: Counter, ocr: bool = False
              ) -> list[Row]:
    """Rows of one page from `page.get_text('dict', flags=TEXT_FLAGS)`, in stream order.

    Lines of a block whose vertical extents overlap by more than half the smaller height are
    one row. Lines are bucketed by their vertical middle (3 pt buckets), so grouping costs
    O(lines) even for long blocks.
    """
    rows: list[Row] = []
    for bi, block in enumerate(page_dict.get("blocks", ())):
        for gi, group in enumerate(_line_groups(block)):
            row = _group_row(group, pno, block_base + bi, gi == 0, sizes)
            if row is not None:
                row.ocr = ocr
                rows.append(row)
    return rows


def _line_groups(block: dict) -> list[list]:
    """The block's left-to-right horizontal lines grouped into rows, each
    [y0, y1, [(x0, x1, text, spans), ...]], in stream order."""
    groups: list[list] = []
    buckets: dict[int, list[list]] = {}
    for line in block.get("lines", ()):
        dx, dy = line["dir"]
        if dx < 0.99 or abs(dy) > 0.05:  # rotated stamp, vertical axis labels
            continue
        spans = line["spans"]
        piece = spans[0]["text"] if len(spans) == 1 else "".join(sp["text"] for sp in spans)
        if not piece.strip():
            continue
        x0, y0, x1, y1 = line["bbox"]
        key = int((y0 + y1) / 6)
        group = _overlapping_group(buckets, key, y0, y1)
        if group is None:
            group = [y0, y1, []]
            groups.append(group)
            buckets.setdefault(key, []).append(group)
        else:
            group[0], group[1] = min(group[0], y0), max(group[1], y1)
        group[2].append((x0, x1, piece, spans))
    return groups


def _overlapping_group(buckets: dict[int, list[list]], key: int, y0: float, y1: float
                       ) -> list | None:
    """The first group in bucket `key` or a neighbouring one whose vertical extent overlaps
    y0..y1 by more than half the smaller height."""
    for k in (key, key - 1, key + 1):
        for g in buckets.get(k, ()):
            if min(y1, g[1]) - max(y0, g[0]) > 0.5 * min(y1 - y0, g[1] - g[0]):
                return g
    return None


def _group_row(group: list, pno: int, block: int, first: bool, sizes: Counter) -> Row | None:
    """The row a group of lines makes, or None when its text cleans to nothing. Its characters
    are counted into `sizes` per font size either way."""
    y0, y1, pieces = group
    if len(pieces) > 1:
        pieces.sort(key=lambda p: p[0])
    text, gap, spans = _join_pieces(pieces)
    alnum = [sp for sp in spans if _ALNUM_RE.search(sp["text"])] or spans
    size = 0.0
    for sp in alnum:
        sizes[round(sp["size"] * 2) / 2] += len(sp["text"])
        size = max(size, sp["size"])
    text = clean_text(text)
    if not text:
        return None
    first_size = alnum[0]["size"]
    return Row(
        page=pno, block=block, first=first,
        x0=pieces[0][0], y0=y0, x1=max(p[1] for p in pieces), y1=y1,
        text=text, size=round(size, 2),
        bold=all(_is_bold(sp) for sp in alnum),
        lead_small=(len(alnum) > 1 and first_size < 0.8 * size
                    and len(alnum[0]["text"].strip()) <= 3),
        gap=gap,
        pieces=tuple(clean_text(p[2]) for p in pieces) if len(pieces) > 1 else (),
        letters=letters_ratio(text),
    )


def _join_pieces(pieces: list[tuple]) -> tuple[str, float, list]:
    """(text, widest gap, spans) of a row's pieces sorted left to right; a space goes between
    two pieces more than half a point apart."""
    text, prev_x1, gap = pieces[0][2], pieces[0][1], 0.0
    spans = list(pieces[0][3])
    for x0, x1, piece, more in pieces[1:]:
        gap = max(gap, x0 - prev_x1)
        text += (" " + piece) if x0 - prev_x1 > 0.5 and not text.endswith(" ") else piece
        prev_x1 = x1
        spans.extend(more)
    return text, gap, spans


def body_size(sizes: Counter) -> float:
    """The body font size: the size that holds the most characters."""
    return sizes.most_common(1)[0][0] if sizes else 10.0


def same_size(a: float, b: float, tol: float = 0.6) -> bool:
    return abs(a - b) <= tol


# --- page furniture ---------------------------------------------------------------------------------


def furniture_rows(rows: list[Row], page_heights: list[float]) -> set[int]:
    """Indices of running headers, footers and page numbers.

    A row counts when it sits in the top or bottom 9 % of its page and either is a bare number
    or its text with digits masked ('# / Liu et al.') recurs on at least 3 pages (and a third of
    them in longer papers).
    """
    n_pages = len(page_heights)
    keyed: dict[str, set[int]] = {}
    margin_rows = []
    for r in rows:
        h = page_heights[r.page]
        if r.y1 < 0.09 * h or r.y0 > 0.91 * h:
            key = re.sub(r"\d+", "#", r.text.lower())
            keyed.setdefault(key, set()).add(r.page)
            margin_rows.append((r, key))
    need = max(3, n_pages // 3)
    out = set()
    for r, key in margin_rows:
        if re.fullmatch(r"[#ivxl\s.\-–/]*", key) or len(keyed[key]) >= need:
            out.add(r.index)
    return out


# --- headings ---------------------------------------------------------------------------------------

_HEADING_NUM_RE = re.compile(r"^(?:(?P<num>\d{1,2}(?:\.\d{1,2}){0,3})|(?P<app>[A-H](?:\.\d{1,2}){0,3})"
                             r"|(?P<rom>[IVX]{1,5})(?=\.))\.?\s+(?P<name>\S.*)$")
_ROMAN = {r: k for k, r in enumerate(["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X",
                                       "XI", "XII", "XIII", "XIV", "XV"], 1)}
KNOWN_UNNUMBERED = re.compile(
    r"^(references|bibliography|acknowle?dge?ments?|acknowledgments?|appendix|appendices"
    r"|supplementary material|nomenclature)\b", re.IGNORECASE)
FRONT_SECTION_RE = re.compile(r"^(nomenclature|notation|abbreviations)$", re.IGNORECASE)
REFERENCES_RE = re.compile(r"^(references|bibliography|literature cited)$", re.IGNORECASE)
CONCLUSION_RE = re.compile(r"conclu|discussion|summary|closing remarks", re.IGNORECASE)
ABSTRACT_RE = re.compile(r"^abstract\b[.:—–-]?", re.IGNORECASE)


@dataclass(frozen=True)
class Heading:
    title: str           # as printed, number included ('3 Model Architecture')
    number: str | None   # '3', '3.1', 'A', or None
    name: str            # the title without its number
    level: int
    row: int             # index of the first row of the heading
    last_row: int = -1   # index of its last row (a heading can wrap); -1: same as `row`

    @property
    def end_row(self) -> int:
        return max(self.row, self.last_row)



def _starts_upper(name: str) -> bool:
    first = name.lstrip("“\"'(")[:1]
    return first.isupper() or first.isdigit()


def _is_headingish(r: Row, body: float, alone: set[int]) -> bool:
    """Set like a heading: larger than the body text, or bold; an OCR row (no bold, sizes
    from box heights: an all-capitals heading is shorter than a body line) when it is a
    paragraph of its own or clearly taller than the body text."""
    if not 2 <= len(r.text) <= 130 or r.lead_small:
        return False
    if r.ocr:
        return (r.index in alone or r.size >= body + 1.5) and not r.text.endswith((",", ";", "-"))
    return r.size >= body + 0.8 or (r.bold and r.size >= body - 0.6)


def _alone(rows: list[Row]) -> set[int]:
    """Indices of the rows that stand alone: the only row of their block (paragraph), or its
    first row set off from the next by more than 0.8 of its height (OCR can put a heading
    into the paragraph below it), or the first row of a paragraph of up to three rows all in
    capitals."""
    by_block: dict[int, list[Row]] = {}
    for r in rows:
        by_block.setdefault(r.block, []).append(r)
    out = set()
    for members in by_block.values():
        first = members[0]
        if (len(members) == 1 or (members[1].y0 - first.y1 > 0.8 * first.height
                                  and members[1].page == first.page)
                or (len(members) <= 3 and all(capitals(r.text) for r in members))):
            out.add(first.index)  # the last: a heading in capitals wrapped onto more lines
    return out


def find_headings(rows: list[Row], body: float, skip: set[int]) -> tuple[list[Heading], int]:
    """Section headings in reading order, and the index of the row where the body starts.

    Level 1: a single number, appendix letter or Roman numeral ('3', '3.', 'A', 'B.', 'IV.')
    in strict sequence, in the style (size, boldness) of the '1 ...' (or 'I. ...') heading; or
    an unnumbered heading in that same style ('References', 'Attention Visualizations'); or a
    well-known unnumbered name ('Acknowledgments', 'References') in any heading style. Level 2:
    a two-part number whose first part is the current level-1 number ('3.1'), or under Roman
    numerals a letter ('A. Database', IEEE style). Everything before '1 ...' is front matter.

    OCR rows have no style to compare: a numbered one is a heading when it is a paragraph of
    its own, and an unnumbered one only when it is a well-known name.
    """
    alone = _alone(rows)
    cands = [r for r in rows if r.index not in skip and _is_headingish(r, body, alone)]
    start = next((r for r in cands if (m := _HEADING_NUM_RE.match(r.text))
                  and (m["num"] in ("1", "1.") or m["rom"] == "I")
                  and _starts_upper(m["name"]) and letters_ratio(m["name"]) > 0.6), None)
    if start is None:
        found = _fallback_headings(rows, body, skip, alone)
        return found, found[0].row if found else len(rows)
    numbering = _Numbering(start.size, start.bold, roman=bool(_HEADING_NUM_RE.match(start.text)["rom"]))
    # a list of symbols can precede '1 Introduction' (IEEE: NOMENCLATURE in the left column)
    headings: list[Heading] = [Heading(r.text, None, r.text, 1, r.index) for r in cands
                               if r.index < start.index and r.page == start.page
                               and FRONT_SECTION_RE.match(r.text)]
    consumed: set[int] = set()  # rows a wrapped heading took
    for r in cands:
        if r.index < start.index or r.index in consumed:
            continue
        heading = numbering.heading(r)
        if heading is not None:
            headings.append(_wrapped(heading, r, rows, consumed))
    return headings, start.index


@dataclass
class _Numbering:
    """The level-1 style (that of the '1 ...' heading) and the last level-1 number or appendix
    letter seen, which decide whether the next row is a heading."""
    size: float
    bold: bool
    roman: bool = False  # level 1 is 'I.', 'II.', ...; letters are then level 2
    last_num: int = 0
    last_app: str = ""
    caps: bool = False   # OCR: the level-1 headings are set in capitals ('I. INTRODUCTION')

    def heading(self, r: Row) -> Heading | None:
        """`r` as a heading (moving the numbering on), or None."""
        m = _HEADING_NUM_RE.match(r.text)
        # OCR rows reach here only as paragraphs of their own (`_is_headingish`)
        level1_style = r.ocr or (same_size(r.size, self.size) and r.bold == self.bold)
        numbered = m and (m["num"] or m["rom"])
        heading = None
        if m and _starts_upper(m["name"]) and letters_ratio(m["name"]) > 0.5:
            heading = self._numbered(r, m, level1_style)
        if heading is None and not numbered:
            known = KNOWN_UNNUMBERED.match(r.text)
            if r.ocr:
                if known and len(r.text) < 40 and capitals(r.text) == self.caps:
                    heading = Heading(r.text, None, r.text, 1, r.index)
            elif ((level1_style and _starts_upper(r.text) and r.letters > 0.7)
                    or (known and len(r.text) < 40)):
                heading = Heading(r.text, None, r.text, 1, r.index)
        if heading is None and m and m["num"] and "." not in m["num"] and KNOWN_UNNUMBERED.match(m["name"]):
            heading = Heading(r.text, m["num"], m["name"], 1, r.index)  # '6. REFERENCES'
        return heading

    def _numbered(self, r: Row, m: re.Match, level1_style: bool) -> Heading | None:
        """A numbered heading: the next level-1 number or letter, or a level-2 number under the
        current one."""
        num, app, rom = m["num"], m["app"], m["rom"]
        if rom and self.roman:
            if level1_style and _ROMAN.get(rom) == self.last_num + 1:
                self.last_num = _ROMAN[rom]
                if self.last_num == 1:
                    self.caps = capitals(m["name"])
                return Heading(r.text, rom, m["name"], 1, r.index)
        elif rom or (num and self.roman):
            return None  # under Roman numerals, '3 Output' is a figure's label
        elif app and "." not in app and self.roman:
            if self.last_num and r.size <= self.size + 1.5:
                return Heading(r.text, app, m["name"], 2, r.index)
        elif num and "." not in num.rstrip("."):
            if level1_style and int(num) == self.last_num + 1 and not self.last_app:
                self.last_num = int(num)
                return Heading(r.text, num, m["name"], 1, r.index)
        elif app and "." not in app:
            if level1_style and ord(app) == (ord(self.last_app) + 1 if self.last_app else ord("A")):
                self.last_app = app
                return Heading(r.text, app, m["name"], 1, r.index)
        else:
            parent = (num or app).split(".")[0]
            current = self.last_app or str(self.last_num)
            if parent == current and r.size <= self.size + 0.1:
                return Heading(r.text, num or app, m["name"], 2, r.index)
        return None


def _wrapped(heading: Heading, r: Row, rows: list[Row], consumed: set[int]) -> Heading:
    """`heading` (found on row `r`) with up to three following rows that continue it: a
    heading that wraps onto more lines. Those rows go into `consumed`."""
    title, prev = heading.title, r
    for nxt in rows[r.index + 1:r.index + 4]:
        if not _continues_heading(nxt, prev, r):
            break
        title = join_lines([title, nxt.text])
        consumed.add(nxt.index)
        prev = nxt
    if title == heading.title:
        return heading
    name = title[len(heading.number):].lstrip(". ") if heading.number else title
    return Heading(title, heading.number, name, heading.level, heading.row, prev.index)


def _continues_heading(nxt: Row, prev: Row, first: Row) -> bool:
    """`nxt` sits right below `prev`, overlapping it, in the style of the heading's first row
    (OCR: in capitals if it is)."""
    if first.ocr:
        return (nxt.page == prev.page and -0.5 * prev.height <= nxt.y0 - prev.y1 < 0.8 * prev.height
                and capitals(nxt.text) == capitals(first.text)
                and min(nxt.x1, prev.x1) - max(nxt.x0, prev.x0) > 0
                and len(nxt.text) < 100 and not _HEADING_NUM_RE.match(nxt.text))
    return (nxt.page == prev.page and -0.5 * prev.size <= nxt.y0 - prev.y1 < 0.8 * prev.size
            and same_size(nxt.size, first.size, 0.3) and nxt.bold == first.bold
            and min(nxt.x1, prev.x1) - max(nxt.x0, prev.x0) > 0
            and not _HEADING_NUM_RE.match(nxt.text) and len(nxt.text) < 100)


def _fallback_headings(rows: list[Row], body: float, skip: set[int], alone: set[int]
                       ) -> list[Heading]:
    """Unnumbered papers: rows clearly larger than the body text, or bold known names; on OCR
    pages only known names ('References'), in a paragraph of their own."""
    out = []
    for r in rows:
        if (r.index in skip or not _is_headingish(r, body, alone) or (r.page == 0 and r.y0 < 200)
                or ABSTRACT_RE.match(r.text)):
            continue
        if r.ocr and not KNOWN_UNNUMBERED.match(r.text):
            continue  # without fonts, a short tall line is as likely a figure's label
        if (r.size >= body + 1.5 and _starts_upper(r.text)) or KNOWN_UNNUMBERED.match(r.text):
            out.append(Heading(r.text, None, r.text, 1, r.index))
    return out


# --- section text --------------------------------------------------------------------------------


def section_text(rows: list[Row], start: int, end: int, skip: set[int], body: float,
                 headings: list[Heading]) -> str:
    """The text of rows[start:end], one line per block, without the `skip` rows, the headings
    and rows set smaller than the body text."""
    heading_rows = {h.row for h in headings}
    blocks: list[list[str]] = []
    last_block = None
    for r in rows[start:end]:
        if r.index in skip or r.index in heading_rows or r.size < body - 0.8:
            continue
        if r.block != last_block:
            blocks.append([])
            last_block = r.block
        blocks[-1].append(r.text)
    return "\n".join(join_lines(b) for b in blocks if b)
