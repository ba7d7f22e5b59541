"""Layout analysis for `workbench.pdf`: from PyMuPDF text spans to title, headings, captions,
figure regions and the reference list. Internal: `workbench.pdf` is the public surface.

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
from dataclasses import dataclass, field

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

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def _is_bold(span: dict) -> bool:
    font = span["font"]
    return bool(span["flags"] & 16) or any(k in font for k in ("Bold", "Medi", "Semibold", "Black"))


def page_rows(page_dict: dict, pno: int, block_base: int, sizes: Counter) -> list[Row]:
    """Rows of one page from `page.get_text('dict', flags=TEXT_FLAGS)`, in stream order.

    Lines of a block whose vertical extents overlap by more than half the smaller height are
    one row. Lines are bucketed by their vertical middle (3 pt buckets), so grouping costs
    O(lines) even for long blocks.
    """
    rows: list[Row] = []
    for bi, block in enumerate(page_dict.get("blocks", ())):
        groups: list[list] = []  # [y0, y1, [(x0, x1, text, spans)]]
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
            group = None
            for k in (key, key - 1, key + 1):
                for g in buckets.get(k, ()):
                    if min(y1, g[1]) - max(y0, g[0]) > 0.5 * min(y1 - y0, g[1] - g[0]):
                        group = g
                        break
                if group is not None:
                    break
            if group is None:
                group = [y0, y1, []]
                groups.append(group)
                buckets.setdefault(key, []).append(group)
            else:
                group[0], group[1] = min(group[0], y0), max(group[1], y1)
            group[2].append((x0, x1, piece, spans))
        for gi, (y0, y1, pieces) in enumerate(groups):
            if len(pieces) > 1:
                pieces.sort(key=lambda p: p[0])
            text, prev_x1, gap = pieces[0][2], pieces[0][1], 0.0
            spans = list(pieces[0][3])
            for x0, x1, piece, more in pieces[1:]:
                gap = max(gap, x0 - prev_x1)
                text += (" " + piece) if x0 - prev_x1 > 0.5 and not text.endswith(" ") else piece
                prev_x1 = x1
                spans.extend(more)
            alnum = [sp for sp in spans if _ALNUM_RE.search(sp["text"])] or spans
            size = 0.0
            for sp in alnum:
                sizes[round(sp["size"] * 2) / 2] += len(sp["text"])
                size = max(size, sp["size"])
            text = clean_text(text)
            if not text:
                continue
            first_size = alnum[0]["size"]
            rows.append(Row(
                page=pno, block=block_base + bi, first=gi == 0,
                x0=pieces[0][0], y0=y0, x1=max(p[1] for p in pieces), y1=y1,
                text=text, size=round(size, 2),
                bold=all(_is_bold(sp) for sp in alnum),
                lead_small=(len(alnum) > 1 and first_size < 0.8 * size
                            and len(alnum[0]["text"].strip()) <= 3),
                gap=gap,
                pieces=tuple(clean_text(p[2]) for p in pieces) if len(pieces) > 1 else (),
                letters=_letters_ratio(text),
            ))
    return rows


def body_size(sizes: Counter) -> float:
    """The body font size: the size that holds the most characters."""
    return sizes.most_common(1)[0][0] if sizes else 10.0


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

_HEADING_NUM_RE = re.compile(r"^(?:(?P<num>\d{1,2}(?:\.\d{1,2}){0,3})|(?P<app>[A-H](?:\.\d{1,2}){0,3}))\.?\s+(?P<name>\S.*)$")
KNOWN_UNNUMBERED = re.compile(
    r"^(references|bibliography|acknowle?dge?ments?|acknowledgments?|appendix|appendices"
    r"|supplementary material)\b", re.IGNORECASE)
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


def _same_size(a: float, b: float, tol: float = 0.6) -> bool:
    return abs(a - b) <= tol


def _starts_upper(name: str) -> bool:
    first = name.lstrip("“\"'(")[:1]
    return first.isupper() or first.isdigit()


def _is_headingish(r: Row, body: float) -> bool:
    return (2 <= len(r.text) <= 130 and not r.lead_small
            and (r.size >= body + 0.8 or (r.bold and r.size >= body - 0.6)))


def _letters_ratio(text: str) -> float:
    """Letters / non-space characters (0 for an empty string)."""
    chars = len(text) - text.count(" ")
    return sum(map(str.isalpha, text)) / chars if chars > 0 else 0.0


def find_headings(rows: list[Row], body: float, skip: set[int]) -> tuple[list[Heading], int]:
    """Section headings in reading order, and the index of the row where the body starts.

    Level 1: a single number or appendix letter ('3', '3.', 'A', 'B.') in strict sequence, in
    the style (size, boldness) of the '1 ...' heading; or an unnumbered heading in that same
    style ('References', 'Attention Visualizations'); or a well-known unnumbered name
    ('Acknowledgments', 'References') in any heading style. Level 2: a two-part number whose
    first part is the current level-1 number ('3.1'). Everything before '1 ...' is front matter.
    """
    cands = [r for r in rows if r.index not in skip and _is_headingish(r, body)]
    start = next((r for r in cands if (m := _HEADING_NUM_RE.match(r.text)) and m["num"] in ("1", "1.")
                  and _starts_upper(m["name"]) and _letters_ratio(m["name"]) > 0.6), None)
    if start is None:
        found = _fallback_headings(rows, body, skip)
        return found, found[0].row if found else len(rows)
    style = (start.size, start.bold)
    headings: list[Heading] = []
    last_num, last_app = 0, ""
    consumed: set[int] = set()
    for r in cands:
        if r.index < start.index or r.index in consumed:
            continue
        m = _HEADING_NUM_RE.match(r.text)
        level1_style = _same_size(r.size, style[0]) and r.bold == style[1]
        heading = None
        if m and _starts_upper(m["name"]) and _letters_ratio(m["name"]) > 0.5:
            num, app = m["num"], m["app"]
            if num and "." not in num.rstrip("."):
                n = int(num)
                if level1_style and n == last_num + 1 and not last_app:
                    last_num = n
                    heading = Heading(r.text, num, m["name"], 1, r.index)
            elif app and "." not in app:
                if level1_style and ord(app) == (ord(last_app) + 1 if last_app else ord("A")):
                    last_app = app
                    heading = Heading(r.text, app, m["name"], 1, r.index)
            else:
                parent = (num or app).split(".")[0]
                current = last_app or str(last_num)
                if parent == current and r.size <= style[0] + 0.1:
                    heading = Heading(r.text, num or app, m["name"], 2, r.index)
        if heading is None and not (m and m["num"]):
            known = KNOWN_UNNUMBERED.match(r.text)
            if ((level1_style and _starts_upper(r.text) and r.letters > 0.7)
                    or (known and len(r.text) < 40)):
                heading = Heading(r.text, None, r.text, 1, r.index)
        if heading is None and m and m["num"] and "." not in m["num"] and KNOWN_UNNUMBERED.match(m["name"]):
            heading = Heading(r.text, m["num"], m["name"], 1, r.index)  # '6. REFERENCES'
        if heading is None:
            continue
        title, prev = heading.title, r
        for nxt in rows[r.index + 1:r.index + 4]:  # a heading that wraps onto more lines
            if (nxt.page == prev.page and -0.5 * prev.size <= nxt.y0 - prev.y1 < 0.8 * prev.size
                    and _same_size(nxt.size, r.size, 0.3) and nxt.bold == r.bold
                    and min(nxt.x1, prev.x1) - max(nxt.x0, prev.x0) > 0
                    and not _HEADING_NUM_RE.match(nxt.text) and len(nxt.text) < 100):
                title = join_lines([title, nxt.text])
                consumed.add(nxt.index)
                prev = nxt
            else:
                break
        if title != heading.title:
            name = title[len(heading.number):].lstrip(". ") if heading.number else title
            heading = Heading(title, heading.number, name, heading.level, heading.row, prev.index)
        headings.append(heading)
    return headings, start.index


def _fallback_headings(rows: list[Row], body: float, skip: set[int]) -> list[Heading]:
    """Unnumbered papers: rows clearly larger than the body text, or bold known names."""
    out = []
    for r in rows:
        if (r.index in skip or not _is_headingish(r, body) or (r.page == 0 and r.y0 < 200)
                or ABSTRACT_RE.match(r.text)):
            continue
        if (r.size >= body + 1.5 and _starts_upper(r.text)) or KNOWN_UNNUMBERED.match(r.text):
            out.append(Heading(r.text, None, r.text, 1, r.index))
    return out


# --- front matter --------------------------------------------------------------------------------------

_AFFILIATION_RE = re.compile(
    r"@|universit|institut|college|school|department|dept\.|laborator|\blab\b|research|"
    r"\binc\b|google|microsoft|facebook|meta ai|openai|deepmind|nvidia|brain|centre|center|"
    r"faculty|academy|corporation|company|\bltd\b|gmbh|www\.|http|version of|equal|"
    r"contribution|canada|germany|france|china|usa\b|u\.s\.a|switzerland|japan|korea|"
    r"singapore|israel|united kingdom|\buk\b|netherlands|italy|spain|australia|\d{4}",
    re.IGNORECASE)
_MARKS_RE = re.compile(r"[∗*†‡§¶♯♭]+|(?<=[a-z])(?:\d(?:,\d)*|\+)")


def find_title(rows: list[Row], body: float) -> tuple[str, list[Row]]:
    """The title: the largest rows in the top 40 % of page 1, merged when adjacent."""
    first = [r for r in rows if r.page == 0 and r.y0 < 330 and len(r.text) > 2
             and r.letters > 0.5]
    if not first:
        return "", []
    top = max(r.size for r in first)
    if top < body + 1:
        return "", []
    picked = [r for r in first if _same_size(r.size, top, 0.5)]
    picked.sort(key=lambda r: (r.y0, r.x0))
    group = [picked[0]]
    for r in picked[1:]:
        if r.y0 - group[-1].y1 < 1.2 * top:
            group.append(r)
        else:
            break
    return clean_text(join_lines([r.text for r in group])), group


def find_authors(rows: list[Row], title_rows: list[Row], body_start: int, abstract_row: int | None) -> str:
    """The author line: first rows of the front-matter blocks under the title that are names."""
    if not title_rows:
        return ""
    end = abstract_row if abstract_row is not None else body_start
    last_title = max(r.index for r in title_rows)
    names: list[str] = []
    seen_blocks = set()
    for r in rows[last_title + 1:end]:
        if r.page != 0:
            break
        if r.block in seen_blocks and not _looks_like_names(r.text):
            continue
        seen_blocks.add(r.block)
        if _AFFILIATION_RE.search(r.text) or not _looks_like_names(r.text):
            continue
        # names set side by side are separate pieces of one row: 'Kaiming He   Xiangyu Zhang'
        parts = r.pieces if r.pieces and r.gap > 0.8 * r.size else (r.text,)
        for part in parts:
            part = _MARKS_RE.sub("", part).replace("&", " & ")
            names.append(re.sub(r"\s*,(?:\s*,)+", ",", " ".join(part.split())).strip(" ,"))
    return ", ".join(n for n in names if n)


def _looks_like_names(text: str) -> bool:
    words = [w for w in re.split(r"[\s,&]+", _MARKS_RE.sub("", text)) if w and w != "and"]
    if not words or len(words) > 40 or _letters_ratio(text) < 0.6:
        return False
    capital = sum(1 for w in words if w[:1].isupper())
    return capital >= 0.8 * len(words) and bool(words)


def find_abstract(rows: list[Row], body_start: int, skip: set[int], body: float) -> tuple[str, int | None]:
    """Abstract text and the row index of its 'Abstract' label (a heading or a run-in)."""
    label = None
    for r in rows[:body_start]:
        if r.index in skip:
            continue
        if ABSTRACT_RE.match(r.text):
            label = r
            break
    if label is None:
        paras = _paragraph_blocks(rows[:body_start], skip, body)
        return (max(paras, key=len) if paras else ""), None
    run_in = len(label.text) > 12
    parts = [ABSTRACT_RE.sub("", label.text).strip()] if run_in else []
    size = None
    last = label
    for r in rows[label.index + 1:body_start]:
        if r.index in skip or r.lead_small:
            continue
        if re.match(r"^(keywords?|index terms)\b", r.text, re.IGNORECASE):
            break
        if size is None:
            size = r.size
        if not _same_size(r.size, size, 0.7) or (r.page == last.page and r.y0 - last.y1 > 4 * size):
            if parts:
                break
            continue
        parts.append(r.text)
        last = r
    return join_lines(parts), label.index


def _paragraph_blocks(rows: list[Row], skip: set[int], body: float) -> list[str]:
    blocks: dict[int, list[str]] = {}
    for r in rows:
        if r.index not in skip and _same_size(r.size, body, 0.7):
            blocks.setdefault(r.block, []).append(r.text)
    return [join_lines(v) for v in blocks.values() if sum(map(len, v)) > 300]


# --- captions and figure regions ----------------------------------------------------------------------

CAPTION_RE = re.compile(
    r"^(?P<kind>Figure|FIGURE|Fig\.|FIG\.|Table|TABLE)\s*(?P<num>[A-Z]?\d{1,3}|[IVX]{1,5})\s*(?P<sep>[:.|]|$)")


@dataclass(frozen=True)
class Caption:
    kind: str                  # 'figure' or 'table'
    number: str
    text: str
    page: int                  # 0-based
    bbox: tuple[float, float, float, float]
    rows: tuple[int, ...] = field(default=())


def _prose(r: Row) -> bool:
    """A line of running text: mostly letters, no table-like gaps between its pieces."""
    return r.gap < 1.5 * r.size and r.letters > 0.55


def find_captions(rows: list[Row], skip: set[int]) -> list[Caption]:
    """'Figure 3: ...', 'Fig. 2.', 'Table 1.' rows that start a block, with their continuation."""
    out: list[Caption] = []
    seen: set[tuple[str, str]] = set()
    for r in rows:
        if r.index in skip:
            continue
        m = CAPTION_RE.match(r.text)
        if not m:
            continue
        if not r.first:  # inside a block: fine after table cells, not after running text
            prev = rows[r.index - 1] if r.index else None
            if prev is not None and prev.block == r.block and _prose(prev) and len(prev.text) > 40:
                continue
        kind = "table" if m["kind"].lower().startswith("tab") else "figure"
        if (kind, m["num"]) in seen:
            continue
        if m["sep"] == "" and len(r.text) > len(m.group(0)) + 1:
            continue  # 'Figure 3 shows ...' in running text
        seen.add((kind, m["num"]))
        members = [r]
        prev = r
        for nxt in rows[r.index + 1:]:
            same_block = nxt.block == prev.block
            aligned = abs(nxt.x0 - r.x0) <= 3 or abs((nxt.x0 + nxt.x1) - (r.x0 + r.x1)) <= 6
            if (nxt.page != r.page or nxt.index in skip or CAPTION_RE.match(nxt.text)
                    or not _same_size(nxt.size, r.size, 0.5)
                    or not (-0.6 * r.size <= nxt.y0 - prev.y1 < 0.9 * r.size)
                    or min(nxt.x1, r.x1 + 5) - max(nxt.x0, r.x0 - 5) <= 0
                    or nxt.gap >= 1.5 * nxt.size
                    or not (same_block or (_prose(nxt) and aligned))):
                break
            members.append(nxt)
            prev = nxt
        out.append(Caption(
            kind=kind, number=m["num"], text=join_lines([x.text for x in members]), page=r.page,
            bbox=(min(x.x0 for x in members), min(x.y0 for x in members),
                  max(x.x1 for x in members), max(x.y1 for x in members)),
            rows=tuple(x.index for x in members)))
    return out


def figure_regions(caps: list[Caption], page_rows_: list[Row], boxes: list[tuple], page_rect: tuple,
                   content: tuple, body: float, skip: set[int], stops: set[int]) -> list[tuple | None]:
    """The figure or table area of each caption on one page (None when nothing is drawn).

    For each caption, two candidate areas: one above and one below it. A candidate spans the
    caption's column (the full text width when the caption crosses the page's middle) and runs
    to the nearest paragraph line, heading (`stops`), other caption or page margin; its extent
    is the union of the drawn paths, images and text rows inside. The assignment never gives
    one area to two captions; among those, it gives an area to as many captions as possible,
    then minimises the summed caption-to-content gaps (a caption's usual side, above for
    figures and below for tables, counts 4 pt closer). Pages with more than 7 captions are
    assigned greedily by gap.
    """
    options: list[list[tuple[float, tuple]]] = []
    for cap in caps:
        opts = []
        for direction in (-1, 1):
            area = _search_area(cap, direction, page_rows_, boxes, page_rect, content, body, skip, stops)
            if area is None:
                continue
            gap = cap.bbox[1] - area[3] if direction < 0 else area[1] - cap.bbox[3]
            preferred = (direction < 0) == (cap.kind == "figure")
            opts.append((max(gap, 0.0) + (0.0 if preferred else 4.0), area))
        options.append(opts)
    chosen = _assign(options) if len(caps) <= 7 else _assign_greedy(options)
    out: list[tuple | None] = []
    for area in chosen:
        if area is None:
            out.append(None)
            continue
        x0, y0, x1, y1 = area
        out.append((max(page_rect[0], x0 - 2), max(page_rect[1], y0 - 2),
                    min(page_rect[2], x1 + 2), min(page_rect[3], y1 + 2)))
    return out


def _assign(options: list[list[tuple[float, tuple]]]) -> list[tuple | None]:
    """Exhaustive search over each caption's options (or none): most captions, least gap."""
    best: tuple[tuple[int, float], list] = ((-1, 0.0), [])

    def walk(k: int, picked: list, n: int, cost: float) -> None:
        nonlocal best
        if k == len(options):
            if (n, -cost) > best[0]:
                best = ((n, -cost), list(picked))
            return
        for gap, area in options[k]:
            if all(p is None or _overlap(p, area) <= 0.5 for p in picked):
                picked.append(area)
                walk(k + 1, picked, n + 1, cost + gap)
                picked.pop()
        picked.append(None)
        walk(k + 1, picked, n, cost)
        picked.pop()

    walk(0, [], 0, 0.0)
    return best[1]


def _assign_greedy(options: list[list[tuple[float, tuple]]]) -> list[tuple | None]:
    flat = sorted((gap, k, area) for k, opts in enumerate(options) for gap, area in opts)
    out: list[tuple | None] = [None] * len(options)
    for _, k, area in flat:
        if out[k] is None and all(o is None or _overlap(o, area) <= 0.5 for o in out):
            out[k] = area
    return out


def _overlap(a: tuple, b: tuple) -> float:
    """Intersection area over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / max(smaller, 1e-6)


def _search_area(cap: Caption, direction: int, page_rows_: list[Row], boxes: list[tuple],
                 page_rect: tuple, content: tuple, body: float, skip: set[int],
                 stops: set[int]) -> tuple | None:
    cx0, cy0, cx1, cy1 = cap.bbox
    left, top, right, bottom = content
    mid = (page_rect[0] + page_rect[2]) / 2
    if cx0 < mid - 10 and cx1 > mid + 10:
        hx0, hx1 = left, right
    elif cx1 <= mid + 10:
        hx0, hx1 = left, mid
    else:
        hx0, hx1 = mid, right
    own = set(cap.rows)
    half = hx1 - hx0 < 0.75 * (right - left)

    def paragraph_line(r: Row) -> bool:
        return (_same_size(r.size, body, 0.6) and len(r.text.split()) >= 8
                and r.width >= 0.7 * (hx1 - hx0) and r.letters > 0.7 and _prose(r))

    paragraphs = Counter(r.block for r in page_rows_ if paragraph_line(r))

    def barrier(r: Row) -> bool:
        if r.index in own:
            return False
        if r.index in skip or r.index in stops:
            return True  # running header / footer bounds the page; headings bound a float
        if CAPTION_RE.match(r.text) and r.first:
            return True
        if half and (r.x0 < mid - 15 < r.x1 - 15 or r.x0 + 15 < mid + 15 < r.x1):
            return True  # a full-width row (the title) cannot sit inside a one-column float
        return paragraph_line(r) and paragraphs[r.block] >= 2

    inside = [r for r in page_rows_ if min(r.x1, hx1) - max(r.x0, hx0) > 0.5 * min(r.width, hx1 - hx0)]
    if direction < 0:
        lim = top
        for r in inside:
            if r.y1 <= cy0 + 1 and barrier(r):
                lim = max(lim, r.y1)
        y_lo, y_hi = lim, cy0
    else:
        lim = bottom
        for r in inside:
            if r.y0 >= cy1 - 1 and barrier(r):
                lim = min(lim, r.y0)
        y_lo, y_hi = cy1, lim
    if y_hi - y_lo < 12:
        return None
    area = None
    page_w, page_h = page_rect[2] - page_rect[0], page_rect[3] - page_rect[1]
    for b in boxes:
        x0, y0, x1, y1 = b
        if x1 - x0 > 0.98 * page_w and y1 - y0 > 0.98 * page_h:
            continue  # page background
        if y0 >= y_lo - 2 and y1 <= y_hi + 2 and x0 >= hx0 - 15 and x1 <= hx1 + 15:
            area = _union(area, b)
    for r in inside:
        if r.index not in own and r.y0 >= y_lo - 1 and r.y1 <= y_hi + 1 and r.index not in skip:
            area = _union(area, (r.x0, r.y0, r.x1, r.y1))
    if area is None or area[3] - area[1] < 8:
        return None
    return area


def _union(a: tuple | None, b: tuple) -> tuple:
    if a is None:
        return tuple(b)
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


# --- references ----------------------------------------------------------------------------------------

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
    refs = [r for r in refs if abs(r.size - size) <= 1.2]
    footnote_blocks = {r.block for r in refs if r.first and r.lead_small}
    refs = [r for r in refs if r.block not in footnote_blocks]
    if not refs:
        return []
    bracket = _label_run(refs, _BRACKET_RE)
    dotnum = _label_run(refs, _DOTNUM_RE)
    entries: list[list[str]] = []
    if max(bracket, dotnum) >= 2:
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


def _label_run(refs: list[Row], pattern: re.Pattern) -> int:
    """How many rows carry the labels 1, 2, 3, ... in sequence (years like '2018.' do not)."""
    expected = 1
    for r in refs:
        m = pattern.match(r.text)
        if m and int(m.group(1)) == expected:
            expected += 1
    return expected - 1
