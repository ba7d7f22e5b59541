"""The handout as a self-contained HTML page (`to_html`) and as an A4 PDF (`to_pdf`) laid out
from the same HTML.

The PDF is made by PyMuPDF alone: `pymupdf.Story` lays the HTML out with a print stylesheet,
again with page breaks where a heading or figure would be split from what follows it, and the
page footers are added afterwards. PyMuPDF is imported only when a PDF is made.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence

from workbench.notes import FIVE_CS
from workbench.safetext import safe_url
from workbench.sessions.figures import FIGURE_DPI, KeyFigure
from workbench.sessions.handout import (
    SECTION_NAMES,
    SUMMARY_HEADING,
    Attributed,
    Handout,
    PaperHandout,
)
from workbench.sessions.markdown import order_label

PAGE = (595.0, 842.0)     # A4 in points
MARGIN = (48.0, 46.0, 48.0, 58.0)  # left, top, right, bottom (the footer sits in the bottom)


# --- HTML -------------------------------------------------------------------------------------------------


def _md_html(text: str) -> str:
    """Reader text (Markdown) as HTML: raw HTML and images are not rendered (escaped/ignored)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).disable("image")
    return md.render(text.strip())


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _missing_html(text: str) -> str:
    """A 'Not available' line; `code` spans in the message become <code>."""
    shown = re.sub(r"`([^`]+)`", r"<code>\1</code>", _esc(text))
    return f'<p class="missing">Not available: {shown}.</p>'


def _links(pairs: Sequence[tuple[str | None, str]]) -> str:
    """'arXiv · DOI · link' for the (url, text) pairs whose URL is http(s); any other URL
    (`javascript:`, `data:`, a typo) is left out rather than shown as a link that runs code."""
    return " · ".join(f'<a href="{_esc(url)}">{_esc(text)}</a>'
                      for url, text in ((safe_url(u), t) for u, t in pairs) if url)


def _img_width_pt(f: KeyFigure, content_pt: float) -> float:
    """The printed width: the figure's size in the paper (pixels at FIGURE_DPI -> points),
    enlarged up to 1.5x towards 330 pt so single-column figures stay legible, and at most the
    content width and 330 pt tall."""
    w, h = f.width * 72 / FIGURE_DPI, f.height * 72 / FIGURE_DPI
    if not w or not h:
        return content_pt
    scale = min(max(1.0, min(1.5, 330 / w)), content_pt / w, 330 / h)
    return round(w * scale, 1)


def _answers_html(answers: Sequence[Attributed], first_end_id: str) -> str:
    """Reader texts with their attribution; the first attribution line carries `first_end_id`
    (the PDF layout keeps a heading on the page of its first answer)."""
    marks = [f' id="{first_end_id}"'] + [""] * max(0, len(answers) - 1)
    return "".join(f'<div class="answer">{_md_html(a.text)}<p class="by"{mark}>— '
                   f"{_esc(a.by)}</p></div>" for a, mark in zip(answers, marks, strict=False))


def _html_paper(ph: PaperHandout, n: int | None, new_page: bool) -> str:
    """One paper's section; each helper gives the HTML lines of one part, in reading order."""
    return "\n".join([*_html_head(ph, n, new_page), *_html_five_cs(ph), *_html_summary(ph),
                      *_html_figures(ph), *_html_neighbourhood(ph), *_html_results(ph),
                      *_html_questions(ph), "</section>"])


def _html_head(ph: PaperHandout, n: int | None, new_page: bool) -> list[str]:
    """The section's opening tag, title, presenters, citation key and links, and what is missing."""
    p, m = ph.paper, ph.missing
    parts = [f'<section class="paper{" newpage" if new_page else ""}" id="{_esc(p.id)}">',
             f'<h2>{f"{n}. " if n else ""}{_esc(p.title)}</h2>']
    who = (f"presented by <b>{_esc(', '.join(ph.presenters))}</b>" if ph.presenters else
           '<span class="missing">no presenter assigned yet</span>' if "presenters" in m else "")
    meta = [f"{_esc(p.short)}", who, f"cite as <code>{_esc(ph.cite_key)}</code>"]
    parts.append(f'<p class="meta">{" · ".join(x for x in meta if x)}</p>')
    links = _links(((p.arxiv_url, "arXiv"), (p.doi_url, "DOI"), (p.url, "link")))
    parts.append(f'<p class="citation">{_esc(ph.citation)}{" " + links if links else ""}</p>')
    if m:
        parts.append('<p class="gaps"><b>Not available:</b> '
                     + _esc("; ".join(SECTION_NAMES[k] for k in m)) + ".</p>")
    return parts


def _html_five_cs(ph: PaperHandout) -> list[str]:
    p, m = ph.paper, ph.missing
    parts = [f'<h3 id="{_esc(p.id)}-fivecs">The five Cs</h3>']
    if "notes" in m:
        parts.append(_missing_html(m["notes"]))
    if "notes" in m and not ph.readers:
        return parts
    for c, answers in ph.five_cs:
        cid = f"{_esc(p.id)}-{c.key}"
        body = _answers_html(answers, f"{cid}-end") or '<p class="missing">not answered yet</p>'
        parts.append(f'<div class="c"><h4 id="{cid}">{_esc(c.name)} '
                     f'<span class="q">{_esc(c.question)}</span></h4>{body}</div>')
    parts.append(f'<p class="small">Notes by {_esc(", ".join(ph.readers))}.</p>')
    return parts


def _html_summary(ph: PaperHandout) -> list[str]:
    p, m = ph.paper, ph.missing
    return [f'<h3 id="{_esc(p.id)}-summary">{_esc(SUMMARY_HEADING)}</h3>',
            _answers_html(ph.summaries, f"{_esc(p.id)}-summary-end")
            or _missing_html(m.get("summary") or m.get("notes", "no summary"))]


def _html_figures(ph: PaperHandout) -> list[str]:
    """Each key figure embedded as a PNG at its printed width, with its caption and page."""
    p = ph.paper
    content_pt = PAGE[0] - MARGIN[0] - MARGIN[2]
    parts = [f'<h3 id="{_esc(p.id)}-figures">Key figures</h3>']
    for i, f in enumerate(ph.figures):
        b64 = base64.b64encode(f.png).decode("ascii")
        width = _img_width_pt(f, content_pt)
        fid = f"{_esc(p.id)}-fig{i}"
        parts.append(f'<div class="figure" id="{fid}"><img src="data:image/png;base64,{b64}" '
                     f'alt="{_esc(f.label)}" style="width: {width}pt"/><p class="caption" '
                     f'id="{fid}-caption">'
                     f'{_esc(f.caption)} <span class="page">(p. {f.page})</span></p></div>')
    if not ph.figures:
        parts.append(_missing_html(ph.missing["figures"]))
    return parts


def _html_neighbourhood(ph: PaperHandout) -> list[str]:
    """What the paper builds on and what came after (two columns), then the reading order."""
    p, hood = ph.paper, ph.neighbourhood
    parts = [f'<h3 id="{_esc(p.id)}-hood">Citation neighbourhood</h3>']
    if hood is None:
        return [*parts, _missing_html(ph.missing["neighbourhood"])]
    cols = []
    for label, refs, total in (("Builds on", hood.builds_on, hood.builds_on_total),
                               ("Came after", hood.came_after, hood.came_after_total)):
        more = f' <span class="q">({len(refs)} most cited of {total})</span>' \
            if total > len(refs) else ""
        items = "".join(f"<li>{_esc(r.short)}: <i>{_esc(r.title)}</i></li>" for r in refs)
        cols.append(f"<td><b>{label}</b>{more}<ul>{items}</ul></td>" if refs else
                    f'<td><b>{label}</b><p class="missing">no catalog paper</p></td>')
    parts.append(f'<table class="hood"><tr>{"".join(cols)}</tr></table>')
    order = order_label(hood, escape=_esc, strong="")
    parts.append(f'<p id="{_esc(p.id)}-hood-end"><b>Reading order</b> (cited before '
                 f"citing): {order}</p>")
    return parts


def _html_results(ph: PaperHandout) -> list[str]:
    """The latest finished run: each claim's number in the paper beside the run's, a verdict."""
    p, r = ph.paper, ph.results
    parts = [f'<div class="block"><h3 id="{_esc(p.id)}-results">Reproduction in miniature'
             "</h3>"]
    if r is None:
        return [*parts, _missing_html(ph.missing["results"]), "</div>"]
    parts.append(f'<p class="small">Latest finished run <code>{_esc(r.run_id)}</code> of '
                 f'<code>{_esc(r.reproduction)}</code>, preset <code>{_esc(r.preset)}</code>'
                 f'{", finished " + _esc(r.finished) if r.finished else ""}: what it showed, '
                 "against controls and trivial baselines of the same run.</p>")
    if r.claims:
        rows = "".join(
            f'<tr><td>{_esc(c.text or c.claim)}</td><td>{_esc(c.compared_with) or "—"}</td>'
            f'<td>{_esc(c.measured) or "—"}</td>'
            f'<td class="{_verdict_class(c.verdict)}">{_esc(c.verdict)}</td></tr>'
            for c in r.claims)
        parts.append('<table class="results"><thead><tr><th>Claim</th><th>Compared with</th>'
                     f'<th>This run</th><th>Verdict</th></tr></thead><tbody>{rows}</tbody>'
                     "</table>")
    if r.paper_claims:
        rows = "".join(
            f'<tr><td>{_esc(c.text or c.claim)}</td><td>{_esc(c.paper_value)}<br/><span '
            f'class="q">{_esc(c.source)}</span></td><td>{_esc(c.needs) or "—"}</td></tr>'
            for c in r.paper_claims)
        parts.append('<p class="small">What the paper reports at full scale (not measured by '
                     'this run):</p><table class="results"><thead><tr><th>Claim</th>'
                     f'<th>The paper</th><th>Would need</th></tr></thead><tbody>{rows}</tbody>'
                     "</table>")
    parts.append(f'<p class="small" id="{_esc(p.id)}-results-end">{_VERDICT_LEGEND}</p>')
    return [*parts, "</div>"]


def _html_questions(ph: PaperHandout) -> list[str]:
    """The discussion points by group, numbered on across the groups, each attributed."""
    p, m = ph.paper, ph.missing
    parts = [f'<h3 id="{_esc(p.id)}-questions">Questions for discussion</h3>']
    k = 0
    for g in ph.questions:
        items = []
        gid = f"{_esc(p.id)}-q-{g.heading.split()[0].lower()}"
        for a in g.items:
            k += 1
            end = f' id="{gid}-end"' if not items else ""
            items.append(f'<li value="{k}">{_md_html(a.text)}<p class="by"{end}>— '
                         f"{_esc(a.by)}</p></li>")
        parts.append(f'<h4 id="{gid}">{_esc(g.heading)}</h4><ol start="{k - len(items) + 1}">'
                     f'{"".join(items)}</ol>')
    if not ph.questions:
        parts.append(_missing_html(m.get("questions") or m.get("notes", "no notes")))
    return parts


_VERDICT_LEGEND = ("The miniature is a CPU-minutes version of the experiment: “reproduced in "
                   "miniature” means the method beat every control and baseline it names; "
                   "“not evaluated” means the run lacked what the comparison needs.")


def _verdict_class(verdict: str) -> str:
    v = verdict.lower()
    if v.startswith("reproduced"):
        return "ok"
    if v == "not reproduced":
        return "bad"
    return "na"


# One stylesheet for the browser and print, one MuPDF-friendly one for the PDF (pymupdf.Story
# implements a subset of CSS: no flexbox or max-width, but tables, borders and page breaks).
_COMMON_CSS = """
h1 { font-size: 20pt; color: #1f3a5f; margin: 0 0 4pt 0; }
h2 { font-size: 15pt; color: #1f3a5f; margin: 0 0 3pt 0; }
h3 { font-size: 11pt; color: #1f3a5f; margin: 11pt 0 4pt 0; padding-bottom: 1pt;
     border-bottom: 0.6pt solid #b8c4d6; }
p { margin: 0 0 4pt 0; }
.meta { color: #444; }
.citation { font-size: 9pt; color: #333; margin: 3pt 0 5pt 0; }
.gaps { font-size: 9pt; color: #8a5a00; }
.missing { color: #8a5a00; font-style: italic; }
.small, .q, .page { font-size: 8.5pt; color: #555; }
.by { font-size: 8.5pt; color: #555; font-style: italic; margin: 0 0 3pt 0; }
.answer p { margin: 0 0 2pt 0; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 0.6pt solid #c9d1dc; padding: 3pt 5pt; vertical-align: top; text-align: left; }
.c { margin: 0 0 5pt 0; }
h4 { font-size: 9.5pt; margin: 5pt 0 2pt 0; }
h4 .q { font-weight: normal; }
.c .answer { margin-left: 12pt; }
table.hood td { width: 50%; border: none; padding: 0 6pt 0 0; }
th { border-bottom: 1pt solid #8a9bb3; }
td.ok { color: #1b6e2e; } td.bad { color: #a61b1b; } td.na { color: #666; }
.figure { text-align: center; margin: 4pt 0 8pt 0; }
.caption { font-size: 8.5pt; color: #333; text-align: left; margin-top: 2pt; }
ul, ol { margin-top: 1pt; margin-bottom: 3pt; }
li { margin-bottom: 2pt; }
li p { margin: 0; }
code { font-family: monospace; font-size: 8.5pt; }
a { color: #1f4f8f; }
.cover td, .cover th { padding: 4pt 6pt; }
"""
_HTML_CSS = _COMMON_CSS + """
body { font-family: "Helvetica Neue", Arial, sans-serif; font-size: 10.5pt; line-height: 1.35;
       color: #111; max-width: 52em; margin: 2em auto; padding: 0 1em; }
.figure img { max-width: 100%; height: auto; }
section.paper { margin-top: 2.5em; }
@page { size: A4; margin: 16mm 17mm 18mm 17mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  section.newpage { break-before: page; margin-top: 0; }
  .figure, tr, .answer, .block, table.hood { break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""
_PDF_CSS = _COMMON_CSS + """
body { font-family: sans-serif; font-size: 9.5pt; line-height: 1.3; color: #111; }
section.newpage { page-break-before: always; }
.cover-end { margin-bottom: 16pt; }
"""


def _html_body(h: Handout) -> str:
    parts = []
    if h.session:
        unassigned = '<i class="missing">to be assigned</i>'
        rows = "".join(
            f'<tr><td>{i}</td><td><b>{_esc(ph.paper.title)}</b><br/><span class="q">'
            f"{_esc(ph.paper.short)} · cite as <code>{_esc(ph.cite_key)}</code></span></td>"
            f"<td>{_esc(', '.join(ph.presenters)) or unassigned}</td></tr>"
            for i, ph in enumerate(h.papers, 1))
        readers = sorted({r for ph in h.papers for r in ph.readers})
        parts += [f"<h1>{_esc(h.title)}</h1>",
                  f'<p class="meta">Paper-reading session · {_esc(h.date_label)}</p>',
                  '<table class="cover"><tr><th>#</th><th>Paper</th><th>Presenters</th></tr>'
                  f"{rows}</table>",
                  f'<p class="small" style="margin-top: 6pt">Reading notes by '
                  f'{_esc(", ".join(readers)) or "nobody yet"}. Prepared '
                  f'{h.prepared.isoformat()} with the paper workbench; citation keys match '
                  f"<code>workbench bib export --session {_esc(h.session)}</code>.</p>",
                  '<div class="cover-end"></div>']
    for i, ph in enumerate(h.papers, 1):  # the first paper follows the session's overview
        parts.append(_html_paper(ph, i if h.session else None, new_page=i > 1))
    return "\n".join(parts)


def to_html(h: Handout) -> str:
    """A self-contained HTML page (figures embedded as base64 PNG) that prints cleanly."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
            f"<title>{_esc(h.title)}</title><style>{_HTML_CSS}</style></head>\n<body>\n"
            f"{_html_body(h)}\n</body></html>\n")


# --- PDF ---------------------------------------------------------------------------------------------------


# points a heading needs below it, where `_keep_together` names no first element to keep with it
KEEP_WITH_NEXT = {2: 160.0, 3: 60.0}
MAX_RELAYOUTS = 16


def _layout(body: str):
    """Lay `body` out on A4 pages; (document, {id: (page, rect)} of the first placement)."""
    import pymupdf

    story = pymupdf.Story(html=body, user_css=_PDF_CSS)
    mediabox = pymupdf.Rect(0, 0, *PAGE)
    where = pymupdf.Rect(MARGIN[0], MARGIN[1], PAGE[0] - MARGIN[2], PAGE[1] - MARGIN[3])
    placed: dict[str, tuple[int, object, int]] = {}

    def rectfn(rect_num, filled):
        return mediabox, where, None

    def positionfn(pos):
        if pos.id and pos.id not in placed:
            placed[pos.id] = (pos.rect_num, pymupdf.Rect(pos.rect), pos.heading)

    return story.write_with_links(rectfn, positionfn), placed


def _keep_together(h: Handout) -> dict[str, str]:
    """Element ids that must share a page: start -> end (`_html_paper` sets the ids)."""
    groups = {}
    for ph in h.papers:
        pid = _esc(ph.paper.id)
        for i, _ in enumerate(ph.figures):
            groups[f"{pid}-fig{i}"] = f"{pid}-fig{i}-caption"
        if ph.figures:
            groups[f"{pid}-figures"] = f"{pid}-fig0-caption"
        if ph.results is not None:
            groups[f"{pid}-results"] = f"{pid}-results-end"
        if ph.neighbourhood is not None:
            groups[f"{pid}-hood"] = f"{pid}-hood-end"
        heads = [f"{pid}-q-{g.heading.split()[0].lower()}" for g in ph.questions]
        if heads:
            groups[f"{pid}-questions"] = heads[0]
        groups.update({h: f"{h}-end" for h in heads})
        if ph.readers:
            groups[f"{pid}-fivecs"] = f"{pid}-{FIVE_CS[0].key}"
        groups.update({f"{pid}-{c.key}": f"{pid}-{c.key}-end" for c, a in ph.five_cs if a})
        if ph.summaries:
            groups[f"{pid}-summary"] = f"{pid}-summary-end"
    return groups


def _first_bad_break(placed: Mapping, breaks: set[str], groups: Mapping[str, str]
                     ) -> str | None:
    """The first element, in reading order, before which a page break is needed: a heading
    within KEEP_WITH_NEXT of the page's bottom, or the start of a group (`groups`: a heading and
    what follows it, a figure and its caption) split over two pages that fits on one."""
    top, bottom = MARGIN[1], PAGE[1] - MARGIN[3]
    bad = []
    for eid, (page, rect, level) in placed.items():
        if eid in breaks or rect.y0 <= top + 4:
            continue
        if level in KEEP_WITH_NEXT and rect.y1 > bottom - KEEP_WITH_NEXT[level]:
            bad.append((page, rect.y0, eid))
            continue
        end = placed.get(groups.get(eid, ""))
        if end and end[0] != page and (bottom - rect.y0) + (end[1].y1 - top) < bottom - top:
            bad.append((page, rect.y0, eid))
    return min(bad)[2] if bad else None


def to_pdf(h: Handout) -> bytes:
    """The handout as an A4 PDF laid out by `pymupdf.Story`, with a footer on every page.

    MuPDF has no `break-after: avoid` or `break-inside: avoid`, so the layout is repeated,
    each time with a page break before the first element that needs one
    (`_first_bad_break`), until none does (at most MAX_RELAYOUTS rounds).
    """
    import pymupdf

    html_body = f"<body>{_html_body(h)}</body>"
    groups = _keep_together(h)
    breaks: set[str] = set()
    for _ in range(MAX_RELAYOUTS):
        body = html_body
        for eid in breaks:
            body = body.replace(f'id="{eid}"', f'id="{eid}" style="page-break-before: always"', 1)
        doc, placed = _layout(body)
        eid = _first_bad_break(placed, breaks, groups)
        if eid is None:
            break
        doc.close()
        breaks.add(eid)
    else:
        doc, _ = _layout(body)
    footer_left = h.title if h.session is None else f"{h.title} · {h.date_label}"
    style = "font-family: sans-serif; font-size: 7.5pt; color: #777;"
    n = doc.page_count
    for i, page in enumerate(doc, 1):
        rect = pymupdf.Rect(MARGIN[0], PAGE[1] - 34, PAGE[0] - MARGIN[2], PAGE[1] - 20)
        page.draw_line(rect.tl + (0, -4), rect.tr + (0, -4), color=(0.8, 0.8, 0.8), width=0.5)
        page.insert_htmlbox(rect, f'<p style="{style}">{_esc(footer_left)}</p>')
        page.insert_htmlbox(rect, f'<p style="{style} text-align: right">page {i} of {n}</p>')
    doc.set_metadata({"title": h.title, "creator": "paper workbench (PyMuPDF Story)",
                      "subject": "paper-reading session handout"})
    data = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data
