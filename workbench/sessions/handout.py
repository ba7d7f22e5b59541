"""Session preparation: what the group knows about a session's papers (or one paper),
gathered into a `Handout` (plain data) that the renderers format.

`build_handout` gathers, per paper:

- the full citation and its BibTeX key (`workbench.catalog.bibtex`);
- the five Cs of every reader with notes on it, merged (identical answers once, with every
  reader who gave them) and attributed;
- the pass-2 summaries;
- 1-3 key figures with their captions from the PDF (`workbench.sessions.figures`);
- the citation neighbourhood within the catalog (`workbench.graph.build`): what it builds on, what came
  after, and a reading order (its direct references, cited before citing);
- the newest finished `mini` or `paper` run of its reproduction without overrides
  (`workbench.runs.evidence_run`; never a `tiny` smoke test): each claim's number in the paper
  beside the run's measurement and verdict;
- discussion points from the pass-3 fields (`workbench.notes.NOTE_FIELDS` names them: assumptions
  challenged, what I would do differently, ideas for future work) and every question a reader
  wrote in the pass notes.

Whatever is missing (no notes, no PDF, no run, an unreadable note) is recorded in
`PaperHandout.missing` and printed where the section would be: a handout never fails for lack
of material. The renderers only format: `workbench.sessions.markdown` (Markdown, Marp slides),
`workbench.sessions.html` (HTML, and the PDF laid out from it); `workbench.sessions.output` wraps
them with file names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from workbench.errors import WorkbenchError, closest
from workbench.notes import FIVE_CS, FiveC, note_field
from workbench.sessions.figures import KeyFigure, key_figures
from workbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_LISTED = 8            # papers listed per neighbourhood column
MAX_ORDER = 6             # prerequisites shown in the reading order


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
    compared_with: str = ""  # the run's controls and trivial baselines, comma-separated
    needs: str = ""    # a paper-scale number: the preset and data that would measure it


@dataclass(frozen=True)
class Results:
    reproduction: str
    run_id: str
    preset: str
    finished: str      # 'YYYY-MM-DD'
    claims: tuple[ClaimResult, ...]        # what the miniature run showed
    paper_claims: tuple[ClaimResult, ...] = ()  # paper-scale numbers, never beside a verdict


@dataclass(frozen=True)
class QuestionGroup:
    heading: str
    items: tuple[Attributed, ...]


@dataclass(frozen=True)
class PaperHandout:
    paper: object                                  # workbench.catalog.model.Paper
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

    @property
    def date_label(self) -> str:
        """'Tuesday 4 March 2025', or 'date to be set'."""
        if not self.when:
            return "date to be set"
        return self.when.strftime("%A %d %B %Y").replace(" 0", " ")


# --- gathering -----------------------------------------------------------------------------------------

_SUMMARY = note_field("summary")
SUMMARY_HEADING = f"{_SUMMARY.label} (pass {_SUMMARY.pass_number})"  # the renderers' heading
SECTION_NAMES = {"notes": "reading notes", "five_cs": "five Cs",
                 "summary": f"pass-{_SUMMARY.pass_number} {_SUMMARY.label.lower()}",
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
    def per_field(key: str) -> QuestionGroup:
        return QuestionGroup(note_field(key).label, _merge(
            [(n.reader, item) for n in notes for item in split_items(getattr(n, key) or "")]))

    asked: list[tuple[str, str]] = []
    for n in notes:
        for p in n.passes:
            for line in p.notes.split("\n"):
                line = _BULLET_RE.sub("", line).strip()
                if line.endswith("?") and len(line) > 8:
                    asked.append((n.reader, line))
    groups = [per_field("assumptions"), QuestionGroup("Open questions", _merge(asked)),
              per_field("differently"), per_field("future_work")]
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
    """The newest run reproducing `paper` that is evidence (a finished `mini` or `paper` run
    without overrides: `runs.evidence_run`), or why there is none."""
    from workbench import runs

    name = paper.reproduction
    mine = [r for r in all_runs if r.paper == paper.id or (name and r.name == name)]
    run = runs.evidence_run(mine)  # list_runs is newest first
    if run is None:
        if not name and not mine:
            return None, "this paper has no reproduction in the workbench"
        repro = name or mine[0].name
        start = (f"start one with `workbench repro run {repro} --preset "
                 f"{runs.RECOMMENDED_PRESET}` or on the Reproduce page")
        active = [r for r in mine if r.state in runs.ACTIVE and not r.overrides
                  and r.preset != runs.SMOKE_TEST_PRESET]
        if active:
            return None, (f"no finished {runs.RECOMMENDED_PRESET} or paper run of the '{repro}' "
                          f"reproduction yet; run {active[0].id} is {active[0].state}: export "
                          "again when it is done")
        done = [r for r in mine if r.state == runs.DONE]
        if done:
            return None, (f"no finished {runs.RECOMMENDED_PRESET} or paper run of the '{repro}' "
                          f"reproduction without overrides ({runs.evidence_problem(done[0])}): "
                          f"{start}")
        return None, f"no finished run of the '{repro}' reproduction yet: {start}"
    rows = [c for c in (run.result or {}).get("claims", []) if isinstance(c, dict)]
    claims = tuple(_claim_result(c) for c in rows if not runs.paper_scale(c))
    paper = tuple(_claim_result(c) for c in rows if runs.paper_scale(c))
    finished = datetime.fromtimestamp(run.ended_at).date().isoformat() if run.ended_at else ""
    if not claims and not paper:
        return None, f"the latest {run.preset} run ({run.id}) recorded no claim verdicts"
    return Results(run.name, run.id, run.preset, finished, claims, paper), ""


def _claim_result(c: Mapping) -> ClaimResult:
    compared = c.get("compared_with") or []
    return ClaimResult(str(c.get("id", "")), str(c.get("text", "")), str(c.get("source", "")),
                       str(c.get("paper", "")), str(c.get("measured", "") or ""),
                       str(c.get("verdict", "")),
                       ", ".join(map(str, compared)) if isinstance(compared, list) else "",
                       str(c.get("needs", "") or ""))


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
        missing["summary"] = f"no {SECTION_NAMES['summary']} yet"
    figures, why = key_figures(ws, paper, notes)
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
    from workbench import catalog as bibtex
    from workbench import graph as graph_mod
    from workbench import runs

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
    from workbench.sessions import plan as sessions

    catalog = catalog or catalog_mod.load(ws.catalog_path)
    if sessions.session_exists(ws, target):
        s, _ = sessions.load_session(ws, target, catalog)
        return build_handout(ws, catalog, s.papers, s.title, s.date, s.slug, s.presenters)
    if target in catalog.by_id:
        paper = catalog.by_id[target]
        return build_handout(ws, catalog, [target], paper.title)
    close = closest(target, sessions.list_sessions(ws) + list(catalog.by_id))
    hint = f"; did you mean '{close}'?" if close else ""
    raise HandoutError(f"'{target}' is neither a session in {ws.sessions_dir.name}/ nor a paper "
                       f"in {ws.catalog_path.name}{hint}")


def missing_lines(h: Handout) -> list[str]:
    """'resnet: no PDF ...' for every section a paper lacks."""
    return [f"{ph.paper.id}: no {SECTION_NAMES[k]}: {why}" for ph in h.papers
            for k, why in ph.missing.items()]
