"""Figures and tables in a paper PDF: their captions ('Figure 3: ...', 'Table 1.') and the area
of the page each caption describes, from the rows of `workbench.pdf.layout` and the boxes of
what the page draws. `workbench.pdf.document` renders the crops.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from workbench.pdf.layout import Row, join_lines, same_size

# --- captions ---------------------------------------------------------------------------------------

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
                    or not same_size(nxt.size, r.size, 0.5)
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


# --- numbered equations and algorithms ----------------------------------------------------------

# '(3)' or '(A.1)' ending a displayed formula's row, apart from it, or alone on its row
EQUATION_LABEL_RE = re.compile(r"(?:^|\s)\((\d{1,3}|[A-Z]\.\d{1,2})\)$")
ALGORITHM_RE = re.compile(r"^Algorithm\s+(\d{1,2})\b")


@dataclass(frozen=True)
class Label:
    """A numbered place that is not a figure or table: an equation's '(3)' or 'Algorithm 1'."""
    kind: str                  # 'equation' or 'algorithm'
    number: str
    page: int                  # 0-based


def find_labels(rows: list[Row], skip: set[int]) -> list[Label]:
    """Equation numbers printed at the right of a displayed formula (the label apart from the
    formula by a wide gap, or alone on its row) and algorithm headings, first of each number."""
    out: list[Label] = []
    seen: set[tuple[str, str]] = set()
    for r in rows:
        if r.index in skip:
            continue
        m = EQUATION_LABEL_RE.search(r.text)
        kind = "equation"
        if m is None or not (r.text.strip() == m.group(0).strip() or r.gap > 1.5 * r.size):
            m, kind = ALGORITHM_RE.match(r.text), "algorithm"
        if m is None or (kind, m.group(1)) in seen:
            continue
        seen.add((kind, m.group(1)))
        out.append(Label(kind, m.group(1), r.page))
    return out


# --- figure regions ---------------------------------------------------------------------------------


def content_box(rows: list[Row], body: float, furniture: set[int]) -> tuple:
    """The text area of the document: where running text goes, without headers and footers."""
    text = [r for r in rows if r.index not in furniture and r.size >= body - 1.5]
    if not text:
        return (0.0, 0.0, 612.0, 792.0)
    return (min(r.x0 for r in text), min(r.y0 for r in text),
            max(r.x1 for r in text), max(r.y1 for r in text))


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
        return (same_size(r.size, body, 0.6) and len(r.text.split()) >= 8
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


def inside_any(r: Row, boxes) -> bool:
    """Whether the middle of row `r` lies in one of `boxes` (x0, y0, x1, y1)."""
    cx, cy = (r.x0 + r.x1) / 2, (r.y0 + r.y1) / 2
    return any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes)
