"""The front matter of a paper PDF: its title, author line and abstract, found in the rows of
`workbench.pdf.layout` before the first section heading.
"""

from __future__ import annotations

import re

from workbench.pdf.layout import ABSTRACT_RE, Row, clean_text, join_lines, letters_ratio, same_size

_AFFILIATION_RE = re.compile(
    r"@|universit|institut|college|school|department|dept\.|laborator|\blab\b|research|"
    r"\binc\b|google|microsoft|facebook|meta ai|openai|deepmind|nvidia|brain|centre|center|"
    r"faculty|academy|corporation|company|\bltd\b|gmbh|www\.|http|version of|equal|"
    r"contribution|canada|germany|france|china|usa\b|u\.s\.a|switzerland|japan|korea|"
    r"singapore|israel|united kingdom|\buk\b|netherlands|italy|spain|australia|\d{4}",
    re.IGNORECASE)
_OCR_INITIAL_RE = re.compile(r"\b([A-Z]),(?= [A-Z][a-z])")
_MARKS_RE = re.compile(r"[∗*†‡§¶♯♭]+|(?<=[a-z])(?:\d(?:,\d)*|\+)")


def find_title(rows: list[Row], body: float) -> tuple[str, list[Row]]:
    """The title: the largest rows in the top 40 % of page 1 (60 % on a scan: a journal page
    often starts with the end of the previous article), merged when adjacent."""
    first = [r for r in rows if r.page == 0 and r.y0 < (480 if r.ocr else 330)
             and len(r.text) > 2 and r.letters > 0.5]
    if not first:
        return "", []
    top = max(r.size for r in first)
    if top < body + 1:
        return "", []
    picked = [r for r in first if same_size(r.size, top, 0.5)]
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
        if r.ocr:  # a faint period read as a comma: 'David E, Rumelhart'
            parts = tuple(_OCR_INITIAL_RE.sub(r"\1.", p) for p in parts)
        for part in parts:
            part = _MARKS_RE.sub("", part).replace("&", " & ")
            names.append(re.sub(r"\s*,(?:\s*,)+", ",", " ".join(part.split())).strip(" ,"))
    return ", ".join(n for n in names if n)


def _looks_like_names(text: str) -> bool:
    words = [w for w in re.split(r"[\s,&]+", _MARKS_RE.sub("", text)) if w and w != "and"]
    if not words or len(words) > 40 or letters_ratio(text) < 0.6:
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
        if not same_size(r.size, size, 0.7) or (r.page == last.page and r.y0 - last.y1 > 4 * size):
            if parts:
                break
            continue
        parts.append(r.text)
        last = r
    return join_lines(parts), label.index


def _paragraph_blocks(rows: list[Row], skip: set[int], body: float) -> list[str]:
    blocks: dict[int, list[str]] = {}
    for r in rows:
        if r.index not in skip and same_size(r.size, body, 0.7):
            blocks.setdefault(r.block, []).append(r.text)
    return [join_lines(v) for v in blocks.values() if sum(map(len, v)) > 300]
