"""Session preparation: a handout for a session (or one paper) as Markdown, HTML or PDF, and a
Marp slide deck.

`build_handout` gathers, per paper, what the group knows, into a `Handout` (plain data):

- the full citation and its BibTeX key (`workbench.bibtex`);
- the five Cs of every reader with notes on it, merged (identical answers once, with every
  reader who gave them) and attributed;
- the pass-2 summaries;
- 1-3 key figures with their captions from the PDF (`workbench.pdf`): figures the readers
  mention in their pass-2 notes first, then the paper's first figures, re-rendered at 150 dpi;
- the citation neighbourhood within the catalog (`workbench.graph`): what it builds on, what came
  after, and a reading order (its direct references, cited before citing);
- the latest finished run of its reproduction (`workbench.runs`): each claim's number in the
  paper beside the run's measurement and verdict;
- discussion points from the pass-3 notes (assumptions challenged, what we would do
  differently, future work) and every question a reader wrote in the pass notes.

Whatever is missing (no notes, no PDF, no run, an unreadable note) is recorded in
`PaperHandout.missing` and printed where the section would be: a handout never fails for lack
of material. The renderers (`to_markdown`, `to_html`, `to_pdf`, `to_slides`) only format;
`export` wraps them with file names. The PDF is made by PyMuPDF alone (`pymupdf.Story` lays
out the same HTML with a print stylesheet; page footers are added afterwards).
"""

from __future__ import annotations

import base64
import html
import io
import logging
import re
import textwrap
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.fileio import atomic_write_bytes
from workbench.method import FIVE_CS, FiveC
from workbench.workspace import Workspace

log = logging.getLogger(__name__)

FORMATS = ("md", "html", "pdf", "slides")
MIME = {"md": "text/markdown", "html": "text/html", "pdf": "application/pdf",
        "slides": "text/markdown", "zip": "application/zip"}
MAX_FIGURES = 3
FIGURE_DPI = 150          # key figures are re-rendered from the PDF at this resolution
MIN_FIGURE_PT = 60        # a drawn region smaller than this (either side) is a logo, not a figure
MAX_LISTED = 8            # papers listed per neighbourhood column
MAX_ORDER = 6             # prerequisites shown in the reading order
PAGE = (595.0, 842.0)     # A4 in points
MARGIN = (48.0, 46.0, 48.0, 58.0)  # left, top, right, bottom (the footer sits in the bottom)


class HandoutError(WorkbenchError):
    """An unknown session or paper, or an unknown format."""


# --- the data ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attributed:
    """A piece of reader text and the readers who wrote it (identical answers merged)."""

    text: str
    readers: tuple[str, ...]

    @property
    def by(self) -> str:
        return ", ".join(self.readers)


@dataclass(frozen=True)
class KeyFigure:
    label: str       # 'Figure 3'
    caption: str     # as printed in the paper
    page: int
    png: bytes = field(repr=False)
    width: int       # pixels at FIGURE_DPI
    height: int
    file_name: str   # 'resnet-figure-3.png' when written next to a Markdown file


@dataclass(frozen=True)
class PaperRef:
    id: str
    title: str
    year: int | None
    short: str       # 'He et al. 2015'


@dataclass(frozen=True)
class Neighbourhood:
    builds_on: tuple[PaperRef, ...]
    builds_on_total: int
    came_after: tuple[PaperRef, ...]
    came_after_total: int
    reading_order: tuple[PaperRef, ...]  # prerequisites, cited before citing; the paper is last
    order_total: int


@dataclass(frozen=True)
class ClaimResult:
    claim: str
    text: str
    source: str        # where the paper reports it: 'Table 3'
    paper_value: str   # the paper's number, as quoted
    measured: str      # what the run measured
    verdict: str


@dataclass(frozen=True)
class Results:
    reproduction: str
    run_id: str
    preset: str
    finished: str      # 'YYYY-MM-DD'
    claims: tuple[ClaimResult, ...]


@dataclass(frozen=True)
class QuestionGroup:
    heading: str
    items: tuple[Attributed, ...]


@dataclass(frozen=True)
class PaperHandout:
    paper: object                                  # workbench.catalog.Paper
    cite_key: str
    citation: str
    presenters: tuple[str, ...]
    readers: tuple[str, ...]
    five_cs: tuple[tuple[FiveC, tuple[Attributed, ...]], ...]
    summaries: tuple[Attributed, ...]
    figures: tuple[KeyFigure, ...]
    neighbourhood: Neighbourhood | None
    results: Results | None
    questions: tuple[QuestionGroup, ...]
    missing: Mapping[str, str]                     # section -> what is missing, and the fix
    in_session: bool = False


@dataclass(frozen=True)
class Handout:
    title: str
    papers: tuple[PaperHandout, ...]
    when: date | None = None
    session: str | None = None     # the session's slug; None for a single-paper handout
    prepared: date = field(default_factory=date.today)

    @property
    def stem(self) -> str:
        return self.session or self.papers[0].paper.id


# --- gathering -----------------------------------------------------------------------------------------

SECTION_NAMES = {"notes": "reading notes", "five_cs": "five Cs", "summary": "pass-2 summary",
                 "figures": "figures", "neighbourhood": "citation neighbourhood",
                 "results": "reproduction results", "questions": "discussion questions",
                 "presenters": "presenter"}


def citation(paper) -> str:
    """'A, B and C. Title. Venue, Year. arXiv:id. doi:x.' (every author)."""
    authors = list(paper.authors)
    names = (", ".join(authors[:-1]) + " and " + authors[-1]) if len(authors) > 1 else \
        (authors[0] if authors else "Anonymous")
    venue = paper.venue or "unpublished"
    if str(paper.year) not in venue:
        venue = f"{venue}, {paper.year}"
    ids = [f"arXiv:{paper.arxiv}" if paper.arxiv else "", f"doi:{paper.doi}" if paper.doi else ""]
    return f"{names}. {paper.title.rstrip('.')}. {venue}." + "".join(f" {i}." for i in ids if i)


def _merge(pairs: Sequence[tuple[str, str]]) -> tuple[Attributed, ...]:
    """[(reader, text)] -> texts in first-seen order, identical texts (ignoring case and
    whitespace) merged with all their readers."""
    order: list[str] = []
    texts: dict[str, str] = {}
    readers: dict[str, list[str]] = {}
    for reader, text in pairs:
        text = text.strip()
        if not text:
            continue
        k = " ".join(text.lower().split())
        if k not in texts:
            order.append(k)
            texts[k], readers[k] = text, []
        if reader not in readers[k]:
            readers[k].append(reader)
    return tuple(Attributed(texts[k], tuple(readers[k])) for k in order)


_BULLET_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def split_items(text: str) -> list[str]:
    """Reader text as separate points: list items, else paragraphs."""
    lines = text.strip().split("\n")
    if any(_BULLET_RE.match(ln) for ln in lines):
        items: list[str] = []
        for ln in lines:
            if _BULLET_RE.match(ln):
                items.append(_BULLET_RE.sub("", ln).strip())
            elif ln.strip() and items:
                items[-1] += " " + ln.strip()
            elif ln.strip():
                items.append(ln.strip())
        return [i for i in items if i]
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]


def _questions(notes) -> tuple[QuestionGroup, ...]:
    """Discussion points from the pass-3 fields and every question ('...?') in the pass notes."""
    def per_field(attr):
        return _merge([(n.reader, item) for n in notes
                       for item in split_items(getattr(n, attr) or "")])

    asked: list[tuple[str, str]] = []
    for n in notes:
        for p in n.passes:
            for line in p.notes.split("\n"):
                line = _BULLET_RE.sub("", line).strip()
                if line.endswith("?") and len(line) > 8:
                    asked.append((n.reader, line))
    groups = [QuestionGroup("Assumptions challenged", per_field("assumptions")),
              QuestionGroup("Open questions", _merge(asked)),
              QuestionGroup("What we would do differently", per_field("differently")),
              QuestionGroup("Future work", per_field("future_work"))]
    return tuple(g for g in groups if g.items)


def _read_notes(ws: Workspace, paper_id: str) -> tuple[list, list[str]]:
    """(notes of every reader on the paper, problems with unreadable ones)."""
    from workbench.notes import NoteUnreadable, iter_note_files, load_note

    notes, problems = [], []
    for pid, reader, _ in iter_note_files(ws):
        if pid != paper_id:
            continue
        try:
            notes.append(load_note(ws, pid, reader)[0])
        except NoteUnreadable as exc:
            problems.append(f"{reader}'s note could not be read ({exc})")
    return notes, problems


_FIG_MENTION_RE = re.compile(r"\bfig(?:ure)?s?\.?\s*(\d+)", re.IGNORECASE)


def _key_figures(ws: Workspace, paper, notes) -> tuple[tuple[KeyFigure, ...], str | None]:
    """(up to MAX_FIGURES figures, why there are none)."""
    from workbench import pdf

    try:
        path = pdf.pdf_for_paper(ws, paper)
    except pdf.PdfError as exc:
        return (), f"the PDF cannot be used: {exc}"
    if path is None:
        where = f"pdfs/{paper.arxiv}.pdf" if paper.arxiv else f"pdfs/{paper.id}.pdf"
        return (), (f"no PDF in the workspace, so no figures: put it at {where} or set "
                    "`pdf:` in papers.yaml")
    try:
        structure = pdf.extract(path, cache_dir=pdf.pdf_cache_dir(ws), render=False)
    except pdf.PdfError as exc:
        return (), f"the PDF could not be read, so no figures: {exc}"
    found = [f for f in structure.figures if f.kind == "figure" and f.bbox is not None]
    if not found:
        return (), "no figure with a caption was found in the PDF"
    mentioned: list[str] = []
    for n in notes:
        for text in (n.figures, n.summary, n.passes[1].notes):
            mentioned += [m for m in _FIG_MENTION_RE.findall(text or "") if m not in mentioned]

    ref_page = next((sec.page for sec in structure.sections if sec.level == 1
                     and re.match(r"(references|bibliography)\b", sec.name, re.I)), None)

    def main_body(f) -> bool:  # appendix figures (after the references) only when mentioned
        return ref_page is None or f.page <= ref_page

    def size_ok(f) -> bool:
        x0, y0, x1, y1 = f.bbox
        return x1 - x0 >= MIN_FIGURE_PT and y1 - y0 >= MIN_FIGURE_PT

    chosen = [f for num in mentioned for f in found if f.number == num]
    chosen += [f for f in found if f not in chosen and size_ok(f) and main_body(f)]
    chosen = sorted(chosen[:MAX_FIGURES], key=lambda f: found.index(f))
    out = []
    doc = pdf.open_pdf(path)
    try:
        for f in chosen:
            pix = _render_figure(doc.load_page(f.page - 1), _apart(f, structure.figures))
            out.append(KeyFigure(f.label, f.caption, f.page, pix.tobytes("png"), pix.width,
                                 pix.height, f"{paper.id}-figure-{f.number}.png"))
    finally:
        doc.close()  # never saved: the redactions below only change this in-memory copy
    return tuple(out), None


def _apart(fig, figures) -> tuple:
    """`fig`'s box cut back where it runs into a neighbouring figure or table on its page
    (side-by-side figures found by `workbench.pdf` can overlap by a few points)."""
    x0, y0, x1, y1 = fig.bbox
    for other in figures:
        if other is fig or other.page != fig.page or other.bbox is None:
            continue
        a0, b0, a1, b1 = other.bbox
        if a0 >= x1 or a1 <= x0 or b0 >= y1 or b1 <= y0:
            continue  # no overlap
        if (a0 + a1) / 2 >= (x1 + x0) / 2 and a0 > x0:
            x1 = min(x1, a0)     # the other one is to the right
        elif (a0 + a1) / 2 < (x1 + x0) / 2 and a1 < x1:
            x0 = max(x0, a1)     # to the left
    return (x0, y0, x1, y1)


_DRAWN = ("fill-path", "stroke-path", "fill-image", "fill-imgmask", "fill-shade")


def _prose(text: str) -> bool:
    """A line of running text rather than a figure label: 7+ words, or a sentence's end."""
    words = text.split()
    return len(words) >= 7 or (len(words) >= 3 and text.rstrip().endswith("."))


def _tight_clip(page, bbox) -> tuple:
    """(clip, text lines to hide) for a figure region found by `workbench.pdf`.

    The region sometimes takes in a line of the paragraph above or the first line of the
    caption below. The clip is the union of what is drawn in the region (paths, images) and
    the text lines beside it (labels); a line above or below the drawing is dropped when it
    belongs to a text block running over the region's edge or reads as prose. Dropped lines
    that still overlap the clip are returned, to be hidden before rendering.
    """
    import pymupdf

    region = pymupdf.Rect(bbox)
    loose = region + (-1, -1, 1, 1)
    boxes = [r for kind, box in page.get_bboxlog()
             if kind in _DRAWN and not (r := pymupdf.Rect(box) & region).is_empty]
    lines = []
    for block in page.get_text("dict")["blocks"]:
        block_rect = pymupdf.Rect(block["bbox"])
        if block.get("type") == 0 and block_rect.intersects(region):
            lines += [(pymupdf.Rect(line["bbox"]), "".join(s["text"] for s in line["spans"]),
                       block_rect in loose) for line in block["lines"]]
    dropped: list = []
    for _ in range(2):  # again without the marks drawn inside dropped lines (underscores)
        drawn = pymupdf.Rect()
        for r in boxes:
            if not any(r in d + (-1, -1, 1, 1) for d in dropped):
                drawn |= r
        if drawn.is_empty:  # nothing drawn: a text-only figure, keep the region as found
            return region, []
        keep, dropped = pymupdf.Rect(drawn), []
        for rect, text, contained in lines:
            beside = drawn.y0 <= (rect.y0 + rect.y1) / 2 <= drawn.y1
            if not beside and (not contained or _prose(text)):
                dropped.append(rect)
            else:
                keep |= rect & region
    clip = (keep + (-2, -2, 2, 2)) & region
    return clip, [r for r in dropped if r.intersects(clip)]


def _render_figure(page, bbox):
    """The figure as a pixmap at FIGURE_DPI: tight clip, stray text lines removed from this
    in-memory page (text only: drawings and images under them stay)."""
    import pymupdf

    clip, hide = _tight_clip(page, bbox)
    if hide:
        for rect in hide:
            page.add_redact_annot(rect, fill=False)
        page.apply_redactions(images=pymupdf.PDF_REDACT_IMAGE_NONE,
                              graphics=pymupdf.PDF_REDACT_LINE_ART_NONE)
    return page.get_pixmap(clip=clip, dpi=FIGURE_DPI, alpha=False)


def _neighbourhood(graph, catalog, paper) -> Neighbourhood:
    """Catalog papers it cites / that cite it (the MAX_LISTED most cited in the graph, shown
    by year) and its reading order over its direct references (`graph.reading_order`)."""
    from workbench import graph as graph_mod

    def refs(ids) -> list[PaperRef]:
        return [PaperRef(i, catalog.by_id[i].title, catalog.by_id[i].year,
                         catalog.by_id[i].short) for i in ids]

    def top(ids: list[str], limit: int) -> list[str]:
        ranked = sorted(ids, key=lambda i: (-graph.in_degree(i), i))[:limit]
        return sorted(ranked, key=lambda i: (catalog.by_id[i].year, i))

    pid = paper.id
    cited = [v for v in graph.successors(pid) if v in catalog.by_id]
    citing = [u for u in graph.predecessors(pid) if u in catalog.by_id]
    order = [i.id for i in graph_mod.reading_order(graph, pid, depth=1).items
             if not i.is_target and i.id in catalog.by_id]
    keep = set(sorted(order, key=lambda i: (-graph.in_degree(i), i))[:MAX_ORDER])
    return Neighbourhood(
        tuple(refs(top(cited, MAX_LISTED))), len(cited),
        tuple(refs(top(citing, MAX_LISTED))), len(citing),
        tuple(refs([i for i in order if i in keep] + [pid])), len(order))


def _latest_results(ws: Workspace, paper, all_runs) -> tuple[Results | None, str]:
    """The latest finished run reproducing `paper`, or why there is none."""
    from workbench import runs

    name = paper.reproduction
    mine = [r for r in all_runs if r.paper == paper.id or (name and r.name == name)]
    done = [r for r in mine if r.state == runs.DONE]  # list_runs is newest first
    if not done:
        if not name and not mine:
            return None, "this paper has no reproduction in the workbench"
        repro = name or mine[0].name
        active = [r for r in mine if r.state in runs.ACTIVE]
        if active:
            return None, (f"no finished run of the '{repro}' reproduction yet; run "
                          f"{active[0].id} is {active[0].state}: export again when it is done")
        return None, (f"no finished run of the '{repro}' reproduction yet: start one with "
                      f"`workbench repro run {repro}` or on the Reproduce page")
    run = done[0]
    claims = tuple(ClaimResult(str(c.get("id", "")), str(c.get("text", "")),
                               str(c.get("source", "")), str(c.get("paper", "")),
                               str(c.get("measured", "") or ""), str(c.get("verdict", "")))
                   for c in (run.result or {}).get("claims", []))
    finished = datetime.fromtimestamp(run.ended_at).date().isoformat() if run.ended_at else ""
    if not claims:
        return None, f"the latest finished run ({run.id}) recorded no claim verdicts"
    return Results(run.name, run.id, run.preset, finished, claims), ""


def paper_handout(ws: Workspace, catalog, paper_id: str, graph, all_runs, keys: Mapping,
                  presenters: Sequence[str] = (), in_session: bool = False) -> PaperHandout:
    """Everything the group knows about one paper (see the module docstring)."""
    paper = catalog.by_id[paper_id]
    notes, problems = _read_notes(ws, paper_id)
    missing: dict[str, str] = {}
    readers = tuple(n.reader for n in notes)
    if not notes:
        missing["notes"] = ("no reading notes yet: nobody in the group has started this paper "
                            "(open it on the Read page)")
    if problems:
        missing["notes"] = "; ".join(problems)
    five = tuple((c, _merge([(n.reader, getattr(n, c.key)) for n in notes])) for c in FIVE_CS)
    if notes and not any(answers for _, answers in five):
        missing["five_cs"] = "no reader has answered the five Cs yet (pass 1)"
    summaries = _merge([(n.reader, n.summary) for n in notes])
    if notes and not summaries:
        missing["summary"] = "no pass-2 summary yet"
    figures, why = _key_figures(ws, paper, notes)
    if why:
        missing["figures"] = why
    hood = _neighbourhood(graph, catalog, paper) if graph is not None else None
    if hood is None:
        missing["neighbourhood"] = "the citation graph could not be built"
    elif not hood.builds_on_total and not hood.came_after_total:
        missing["neighbourhood"] = "no other catalog paper cites it or is cited by it"
    results, why = _latest_results(ws, paper, all_runs)
    if results is None:
        missing["results"] = why
    questions = _questions(notes)
    if notes and not questions:
        missing["questions"] = ("no pass-3 notes or questions yet: nothing challenged or asked "
                                "to discuss")
    if in_session and not presenters:
        missing["presenters"] = "no presenter assigned yet"
    return PaperHandout(paper, keys.get(paper_id, ""), citation(paper), tuple(presenters),
                        readers, five, summaries, figures, hood, results, questions,
                        dict(missing), in_session)


def build_handout(ws: Workspace, catalog, paper_ids: Sequence[str], title: str,
                  when: date | None = None, session: str | None = None,
                  presenters: Mapping[str, Sequence[str]] | None = None) -> Handout:
    """The handout for `paper_ids` in order (a session's papers, or one paper)."""
    from workbench import bibtex, runs
    from workbench import graph as graph_mod

    unknown = [p for p in paper_ids if p not in catalog.by_id]
    if unknown:
        raise HandoutError(f"not in the catalog: {', '.join(unknown)}")
    try:
        graph = graph_mod.load_workspace_graph(ws, catalog)
    except WorkbenchError as exc:
        log.warning("no citation graph for the handout: %s", exc)
        graph = None
    all_runs = runs.list_runs(ws)
    keys = bibtex.citation_keys(catalog.papers)
    presenters = presenters or {}
    papers = tuple(paper_handout(ws, catalog, pid, graph, all_runs, keys,
                                 tuple(presenters.get(pid, ())), in_session=session is not None)
                   for pid in paper_ids)
    return Handout(title, papers, when, session)


def handout_for(ws: Workspace, target: str, catalog=None) -> Handout:
    """`target` is a session (sessions/<target>.yaml) or, failing that, a paper id."""
    from workbench import catalog as catalog_mod
    from workbench import sessions

    catalog = catalog or catalog_mod.load(ws.catalog_path)
    if sessions.session_exists(ws, target):
        s, _ = sessions.load_session(ws, target, catalog)
        return build_handout(ws, catalog, s.papers, s.title, s.date, s.slug, s.presenters)
    if target in catalog.by_id:
        paper = catalog.by_id[target]
        return build_handout(ws, catalog, [target], paper.title)
    import difflib

    options = sessions.list_sessions(ws) + list(catalog.by_id)
    close = difflib.get_close_matches(target, options, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise HandoutError(f"'{target}' is neither a session in {ws.sessions_dir.name}/ nor a paper "
                       f"in {ws.catalog_path.name}{hint}")


# --- Markdown --------------------------------------------------------------------------------------------


def _date_label(h: Handout) -> str:
    return h.when.strftime("%A %d %B %Y").replace(" 0", " ") if h.when else "date to be set"


def _order_label(hood: Neighbourhood) -> str:
    *before, target = hood.reading_order
    shown = " → ".join(r.short for r in before)
    more = f" (the {len(before)} most cited of its {hood.order_total} references)" \
        if hood.order_total > len(before) else ""
    return (f"{shown} → **{target.short}**{more}" if before
            else "it cites no catalog paper: read it first")


def _md_missing(text: str) -> str:
    return f"_Not available: {text}._"


def _md_indent(text: str) -> str:
    return textwrap.indent(text.strip(), "  ").lstrip()


def _md_paper(ph: PaperHandout, n: int | None, asset_dir: str) -> list[str]:
    p, m = ph.paper, ph.missing
    out = [f"## {f'{n}. ' if n else ''}{p.title}", ""]
    line = f"*{p.short}*"
    if ph.presenters:
        line += f" · presented by {', '.join(ph.presenters)}"
    elif "presenters" in m:
        line += " · _no presenter assigned yet_"
    out += [line + f" · cite as `{ph.cite_key}`", "", f"> {ph.citation}", ""]
    if m:
        out += ["**Not available:** " + "; ".join(SECTION_NAMES[k] for k in m) + ".", ""]
    if ph.readers:
        out += [f"Notes by {', '.join(ph.readers)}.", ""]

    out += ["### The five Cs", ""]
    if "notes" in m and not ph.readers:
        out += [_md_missing(m["notes"]), ""]
    else:
        for c, answers in ph.five_cs:
            out += [f"**{c.name}**: _{c.question}_", ""]
            out += [f"- {_md_indent(a.text)} — *{a.by}*" for a in answers] or \
                ["- _not answered yet_"]
            out.append("")
    out += ["### Summary (pass 2)", ""]
    out += ([f"{a.text.strip()}\n\n— *{a.by}*\n" for a in ph.summaries]
            or [_md_missing(m.get("summary") or m.get("notes", "no summary")), ""])
    out += ["### Key figures", ""]
    for f in ph.figures:
        out += [f"![{f.label}]({asset_dir}/{f.file_name})", "", f"*{f.caption}* (p. {f.page})",
                ""]
    if not ph.figures:
        out += [_md_missing(m["figures"]), ""]
    out += ["### Citation neighbourhood", ""]
    hood = ph.neighbourhood
    if hood is None:
        out += [_md_missing(m["neighbourhood"]), ""]
    else:
        for label, refs, total in (("Builds on", hood.builds_on, hood.builds_on_total),
                                   ("Came after", hood.came_after, hood.came_after_total)):
            more = f" (the {len(refs)} most cited of {total})" if total > len(refs) else ""
            out += [f"**{label}**{more}: " + ("; ".join(f"{r.short}, *{r.title}*" for r in refs)
                                               or "no catalog paper"), ""]
        out += [f"**Reading order**: {_order_label(hood)}", ""]
    out += ["### Reproduction", ""]
    if ph.results is None:
        out += [_md_missing(m["results"]), ""]
    else:
        r = ph.results
        out += [f"Run `{r.run_id}` of `{r.reproduction}` (preset `{r.preset}`, finished "
                f"{r.finished or 'n/a'}):", "", "| Claim | The paper | This run | Verdict |",
                "|---|---|---|---|"]
        out += [f"| {_cell(c.text or c.claim)} | {_cell(c.paper_value)} ({_cell(c.source)}) | "
                f"{_cell(c.measured) or '—'} | {_cell(c.verdict)} |" for c in r.claims]
        out.append("")
    out += ["### Questions for discussion", ""]
    k = 0
    for g in ph.questions:
        out += [f"**{g.heading}**", ""]
        for a in g.items:
            k += 1
            out.append(f"{k}. {_md_indent(a.text)} — *{a.by}*")
        out.append("")
    if not ph.questions:
        out += [_md_missing(m.get("questions") or m.get("notes", "no notes")), ""]
    return out


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def to_markdown(h: Handout, asset_dir: str = "figures") -> str:
    """The handout as Markdown; figures are referenced as `<asset_dir>/<file_name>`."""
    out: list[str] = []
    if h.session:
        out += [f"# {h.title}", "", f"Paper-reading session · {_date_label(h)} · prepared "
                f"{h.prepared.isoformat()}", "", "| # | Paper | Presenters |", "|---|---|---|"]
        out += [f"| {i} | {_cell(ph.paper.title)} ({ph.paper.short}) | "
                f"{_cell(', '.join(ph.presenters)) or '_to be assigned_'} |"
                for i, ph in enumerate(h.papers, 1)]
        out.append("")
    for i, ph in enumerate(h.papers, 1):
        out += ["---", ""] if h.session or i > 1 else []
        out += _md_paper(ph, i if h.session else None, asset_dir)
    return "\n".join(out).rstrip() + "\n"


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


def _link(url: str | None, text: str) -> str:
    return f'<a href="{_esc(url)}">{_esc(text)}</a>' if url else _esc(text)


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
    p, m = ph.paper, ph.missing
    content_pt = PAGE[0] - MARGIN[0] - MARGIN[2]
    parts = [f'<section class="paper{" newpage" if new_page else ""}" id="{_esc(p.id)}">',
             f'<h2>{f"{n}. " if n else ""}{_esc(p.title)}</h2>']
    who = (f"presented by <b>{_esc(', '.join(ph.presenters))}</b>" if ph.presenters else
           '<span class="missing">no presenter assigned yet</span>' if "presenters" in m else "")
    meta = [f"{_esc(p.short)}", who, f"cite as <code>{_esc(ph.cite_key)}</code>"]
    parts.append(f'<p class="meta">{" · ".join(x for x in meta if x)}</p>')
    links = " · ".join(x for x in (_link(p.arxiv_url, "arXiv") if p.arxiv else "",
                                   _link(p.doi_url, "DOI") if p.doi else "",
                                   _link(p.url, "link") if p.url else "") if x)
    parts.append(f'<p class="citation">{_esc(ph.citation)}{" " + links if links else ""}</p>')
    if m:
        parts.append('<p class="gaps"><b>Not available:</b> '
                     + _esc("; ".join(SECTION_NAMES[k] for k in m)) + ".</p>")

    parts.append(f'<h3 id="{_esc(p.id)}-fivecs">The five Cs</h3>')
    if "notes" in m and not ph.readers:
        parts.append(_missing_html(m["notes"]))
    else:
        if "notes" in m:
            parts.append(_missing_html(m["notes"]))
        for c, answers in ph.five_cs:
            cid = f"{_esc(p.id)}-{c.key}"
            body = _answers_html(answers, f"{cid}-end") or \
                '<p class="missing">not answered yet</p>'
            parts.append(f'<div class="c"><h4 id="{cid}">{_esc(c.name)} '
                         f'<span class="q">{_esc(c.question)}</span></h4>{body}</div>')
        parts.append(f'<p class="small">Notes by {_esc(", ".join(ph.readers))}.</p>')

    parts.append(f'<h3 id="{_esc(p.id)}-summary">Summary (pass 2)</h3>')
    parts.append(_answers_html(ph.summaries, f"{_esc(p.id)}-summary-end")
                 or _missing_html(m.get("summary") or m.get("notes", "no summary")))

    parts.append(f'<h3 id="{_esc(p.id)}-figures">Key figures</h3>')
    for i, f in enumerate(ph.figures):
        b64 = base64.b64encode(f.png).decode("ascii")
        width = _img_width_pt(f, content_pt)
        fid = f"{_esc(p.id)}-fig{i}"
        parts.append(f'<div class="figure" id="{fid}"><img src="data:image/png;base64,{b64}" '
                     f'alt="{_esc(f.label)}" style="width: {width}pt"/><p class="caption" '
                     f'id="{fid}-caption">'
                     f'{_esc(f.caption)} <span class="page">(p. {f.page})</span></p></div>')
    if not ph.figures:
        parts.append(_missing_html(m["figures"]))

    parts.append(f'<h3 id="{_esc(p.id)}-hood">Citation neighbourhood</h3>')
    hood = ph.neighbourhood
    if hood is None:
        parts.append(_missing_html(m["neighbourhood"]))
    else:
        cols = []
        for label, refs, total in (("Builds on", hood.builds_on, hood.builds_on_total),
                                   ("Came after", hood.came_after, hood.came_after_total)):
            more = f' <span class="q">({len(refs)} most cited of {total})</span>' \
                if total > len(refs) else ""
            items = "".join(f"<li>{_esc(r.short)}: <i>{_esc(r.title)}</i></li>" for r in refs)
            cols.append(f"<td><b>{label}</b>{more}<ul>{items}</ul></td>" if refs else
                        f'<td><b>{label}</b><p class="missing">no catalog paper</p></td>')
        parts.append(f'<table class="hood"><tr>{"".join(cols)}</tr></table>')
        order = _esc(_order_label(hood)).replace("**", "")
        parts.append(f'<p id="{_esc(p.id)}-hood-end"><b>Reading order</b> (cited before '
                     f"citing): {order}</p>")

    parts.append(f'<div class="block"><h3 id="{_esc(p.id)}-results">Reproduction: the '
                 "paper's numbers beside ours</h3>")
    if ph.results is None:
        parts.append(_missing_html(m["results"]))
    else:
        r = ph.results
        parts.append(f'<p class="small">Latest finished run <code>{_esc(r.run_id)}</code> of '
                     f'<code>{_esc(r.reproduction)}</code>, preset <code>{_esc(r.preset)}</code>'
                     f'{", finished " + _esc(r.finished) if r.finished else ""}.</p>')
        rows = "".join(
            f'<tr><td>{_esc(c.text or c.claim)}</td><td>{_esc(c.paper_value)}<br/><span '
            f'class="q">{_esc(c.source)}</span></td><td>{_esc(c.measured) or "—"}</td>'
            f'<td class="{_verdict_class(c.verdict)}">{_esc(c.verdict)}</td></tr>'
            for c in r.claims)
        parts.append('<table class="results"><thead><tr><th>Claim</th><th>The paper</th>'
                     f'<th>This run</th><th>Verdict</th></tr></thead><tbody>{rows}</tbody>'
                     "</table>")
        parts.append(f'<p class="small" id="{_esc(p.id)}-results-end">{_VERDICT_LEGEND}</p>')
    parts.append("</div>")

    parts.append(f'<h3 id="{_esc(p.id)}-questions">Questions for discussion</h3>')
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
    parts.append("</section>")
    return "\n".join(parts)


_VERDICT_LEGEND = ("The miniature is a CPU-minutes version of the experiment: “reproduced in "
                   "miniature” means its check held; “not applicable” marks a paper-scale "
                   "number it cannot measure.")


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
                  f'<p class="meta">Paper-reading session · {_esc(_date_label(h))}</p>',
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
    footer_left = h.title if h.session is None else f"{h.title} · {_date_label(h)}"
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


# --- slides (Marp) ---------------------------------------------------------------------------------------

_FIG_BOX = (1080, 430)     # room for a figure below the slide title, above its caption
_SLIDE_CHARS = 900         # text per five-Cs slide (19 px type) before it continues


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


def _slide_paper(ph: PaperHandout, asset_dir: str) -> list[str]:
    p, m = ph.paper, ph.missing
    slides = []
    who = f"Presented by {', '.join(ph.presenters)}" if ph.presenters else \
        ("_No presenter assigned yet_" if "presenters" in m else "")
    slides.append("\n".join(["<!-- _class: lead -->", "", f"# {p.title}", "",
                             f"{p.short} · {p.venue or 'unpublished'} · `{ph.cite_key}`", "",
                             who]).rstrip())
    # five Cs, split over slides when long
    blocks: list[str] = []
    if ph.readers:
        for c, answers in ph.five_cs:
            said = " · ".join(f"{_clip('; '.join(split_items(a.text)), 170)} _({a.by})_"
                              for a in answers)
            blocks.append(f"- **{c.name}**: {said or '_not answered yet_'}")
    else:
        blocks.append(f"_{m.get('notes', 'no notes')}_")
    pages: list[list[str]] = [[]]
    size = 0
    for b in blocks:
        if pages[-1] and size + len(b) > _SLIDE_CHARS:
            pages.append([])
            size = 0
        pages[-1].append(b)
        size += len(b)
    for i, chunk in enumerate(pages):
        cont = " (continued)" if i else ""
        slides.append("\n".join(["<!-- _class: dense -->", "", f"## The five Cs{cont}", "",
                                 *chunk]))
    for f in ph.figures:
        scale = min(_FIG_BOX[0] / f.width, _FIG_BOX[1] / f.height)
        slides.append("\n".join(["<!-- _class: figure -->", "", f"## {f.label}", "",
                                 f"![w:{int(f.width * scale)}]({asset_dir}/{f.file_name})", "",
                                 _clip(f.caption, 260)]))
    if not ph.figures:
        slides.append(f"## Key figures\n\n_Not available: {m['figures']}._")
    if ph.results is None:
        slides.append(f"## Reproduction\n\n_Not available: {m['results']}._")
    else:
        r = ph.results
        rows = [f"| {_cell(_clip(c.text or c.claim, 90))} | {_cell(_clip(c.paper_value, 50))} | "
                f"{_cell(_clip(c.measured, 60)) or '—'} | {_cell(c.verdict)} |"
                for c in r.claims[:6]]
        slides.append("\n".join([f"## Reproduction: run `{r.run_id}` ({r.preset})", "",
                                 "| Claim | Paper | This run | Verdict |", "|---|---|---|---|",
                                 *rows]))
    items = [(g.heading, a) for g in ph.questions for a in g.items]
    if items:
        lines = [f"{i}. {_clip(a.text, 150)} _({a.by})_" for i, (_, a) in
                 enumerate(items[:6], 1)]
        more = ["", f"_…and {len(items) - 6} more in the handout_"] if len(items) > 6 else []
        slides.append("\n".join(["## Questions for discussion", "", *lines, *more]))
    else:
        why = m.get("questions") or m.get("notes", "no notes")
        slides.append(f"## Questions for discussion\n\n_Not available: {why}._")
    return slides


def to_slides(h: Handout, asset_dir: str = "figures") -> str:
    """A Marp deck (`marp: true`): a title slide, then per paper its title, the five Cs, each
    key figure, the reproduction results and the discussion questions."""
    front = ["---", "marp: true", "theme: default", "paginate: true", "size: 16:9",
             f"title: {_yaml_str(h.title)}", "style: |",
             "  section { font-size: 24px; }", "  section.lead h1 { font-size: 46px; }",
             "  section.dense { font-size: 19px; }", "  table { font-size: 18px; }",
             "  section.figure p { font-size: 17px; color: #444; text-align: center; }",
             "---", ""]
    slides = []
    if h.session:
        rows = [f"{i}. **{ph.paper.title}** ({ph.paper.short})"
                + (f" · {', '.join(ph.presenters)}" if ph.presenters else "")
                for i, ph in enumerate(h.papers, 1)]
        slides.append("\n".join(["<!-- _class: lead -->", "", f"# {h.title}", "",
                                 _date_label(h), "", *rows]))
    for ph in h.papers:
        slides += _slide_paper(ph, asset_dir)
    return "\n".join(front) + "\n\n---\n\n".join(slides) + "\n"


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- export -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """One exported handout: the main file and the figure files it refers to (Markdown, slides)."""

    name: str
    data: bytes = field(repr=False)
    mime: str
    assets: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def write(self, out: str | Path) -> list[Path]:
        """Write the file to `out` and the assets relative to its folder; the paths written."""
        out = Path(out)
        written = []
        try:
            for rel, data in self.assets.items():
                atomic_write_bytes(out.parent / rel, data)
                written.append(out.parent / rel)
            atomic_write_bytes(out, self.data)
        except OSError as exc:
            raise HandoutError(f"cannot write {exc.filename or out}: {exc.strerror}") from None
        return [out, *written]

    def download(self) -> tuple[str, bytes, str]:
        """(file name, bytes, mime) for one download: a zip when there are figure files."""
        if not self.assets:
            return self.name, self.data, self.mime
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(self.name, self.data)
            for rel, data in self.assets.items():
                z.writestr(rel, data)
        return Path(self.name).stem + ".zip", buf.getvalue(), MIME["zip"]


def default_name(h: Handout, fmt: str) -> str:
    return {"md": f"{h.stem}-handout.md", "html": f"{h.stem}-handout.html",
            "pdf": f"{h.stem}-handout.pdf", "slides": f"{h.stem}-slides.md"}[fmt]


def export(h: Handout, fmt: str, name: str | None = None) -> Export:
    """The handout in `fmt` (md | html | pdf | slides) as an `Export` named `name`."""
    if fmt not in FORMATS:
        raise HandoutError(f"unknown format '{fmt}'; use one of: {', '.join(FORMATS)}")
    name = Path(name).name if name else default_name(h, fmt)
    if fmt in ("md", "slides"):
        asset_dir = f"{Path(name).stem}_figures"
        text = to_markdown(h, asset_dir) if fmt == "md" else to_slides(h, asset_dir)
        assets = {f"{asset_dir}/{f.file_name}": f.png for ph in h.papers for f in ph.figures}
        return Export(name, text.encode("utf-8"), MIME[fmt], assets)
    if fmt == "html":
        return Export(name, to_html(h).encode("utf-8"), MIME["html"])
    return Export(name, to_pdf(h), MIME["pdf"])


def downloads(h: Handout) -> dict[str, tuple[str, bytes, str]]:
    """Every format as (file name, bytes, mime) for a download button; Markdown and slides
    come as a zip holding the figure files."""
    return {fmt: export(h, fmt).download() for fmt in FORMATS}


def missing_lines(h: Handout) -> list[str]:
    """'resnet: no PDF ...' for every section a paper lacks."""
    return [f"{ph.paper.id}: no {SECTION_NAMES[k]}: {why}" for ph in h.papers
            for k, why in ph.missing.items()]
