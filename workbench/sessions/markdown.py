"""The handout as Markdown: a document (`to_markdown`) and a Marp slide deck (`to_slides`).

Both refer to the key figures as PNG files in `asset_dir` (`workbench.sessions.output` writes
them next to the Markdown file or zips them with it). Text from the catalog, the PDFs and the
session goes in as literal text (`md_literal`); the readers' notes keep their Markdown but lose
raw HTML, images and non-http(s) links (`safe_markdown`), so opening the handout in a Markdown
viewer loads nothing remote and runs nothing.
"""

from __future__ import annotations

import textwrap

from workbench.safetext import md_literal, safe_markdown
from workbench.sessions.handout import (
    SECTION_NAMES,
    SUMMARY_HEADING,
    Handout,
    Neighbourhood,
    PaperHandout,
    split_items,
)

# --- Markdown --------------------------------------------------------------------------------------------


def order_label(hood: Neighbourhood, escape=md_literal, strong: str = "**") -> str:
    """The reading order as Markdown, the paper itself in bold; the HTML passes its own
    `escape` and no `strong`."""
    *before, target = hood.reading_order
    shown = " → ".join(escape(r.short) for r in before)
    more = f" (the {len(before)} most cited of its {hood.order_total} references)" \
        if hood.order_total > len(before) else ""
    return (f"{shown} → {strong}{escape(target.short)}{strong}{more}" if before
            else "it cites no catalog paper: read it first")


def _md_missing(text: str) -> str:
    return f"_Not available: {text}._"


def _md_indent(text: str) -> str:
    """A reader's answer as a list item's Markdown (continuation lines indented)."""
    return textwrap.indent(safe_markdown(text.strip()), "  ").lstrip()


def _names(names) -> str:
    return md_literal(", ".join(names))


def _md_paper(ph: PaperHandout, n: int | None, asset_dir: str) -> list[str]:
    """One paper's part; each helper gives the Markdown lines of one section, in reading order."""
    return [*_md_head(ph, n), *_md_five_cs(ph), *_md_summary(ph), *_md_figures(ph, asset_dir),
            *_md_neighbourhood(ph), *_md_results(ph), *_md_questions(ph)]


def _md_head(ph: PaperHandout, n: int | None) -> list[str]:
    """Title, presenters, citation key, the full citation, what is missing and who wrote notes."""
    p, m = ph.paper, ph.missing
    out = [f"## {f'{n}. ' if n else ''}{md_literal(p.title)}", ""]
    line = f"*{md_literal(p.short)}*"
    if ph.presenters:
        line += f" · presented by {_names(ph.presenters)}"
    elif "presenters" in m:
        line += " · _no presenter assigned yet_"
    out += [line + f" · cite as `{ph.cite_key}`", "", f"> {md_literal(ph.citation)}", ""]
    if m:
        out += ["**Not available:** " + "; ".join(SECTION_NAMES[k] for k in m) + ".", ""]
    if ph.readers:
        out += [f"Notes by {_names(ph.readers)}.", ""]
    return out


def _md_five_cs(ph: PaperHandout) -> list[str]:
    out = ["### The five Cs", ""]
    if "notes" in ph.missing and not ph.readers:
        return [*out, _md_missing(ph.missing["notes"]), ""]
    for c, answers in ph.five_cs:
        out += [f"**{c.name}**: _{c.question}_", ""]
        out += [f"- {_md_indent(a.text)} — *{md_literal(a.by)}*" for a in answers] or \
            ["- _not answered yet_"]
        out.append("")
    return out


def _md_summary(ph: PaperHandout) -> list[str]:
    m = ph.missing
    return [f"### {SUMMARY_HEADING}", "",
            *([f"{safe_markdown(a.text.strip())}\n\n— *{md_literal(a.by)}*\n"
               for a in ph.summaries]
              or [_md_missing(m.get("summary") or m.get("notes", "no summary")), ""])]


def _md_figures(ph: PaperHandout, asset_dir: str) -> list[str]:
    out = ["### Key figures", ""]
    for f in ph.figures:
        out += [f"![{md_literal(f.label)}]({asset_dir}/{f.file_name})", "",
                f"*{md_literal(f.caption)}* (p. {f.page})", ""]
    if not ph.figures:
        out += [_md_missing(ph.missing["figures"]), ""]
    return out


def _md_neighbourhood(ph: PaperHandout) -> list[str]:
    out = ["### Citation neighbourhood", ""]
    hood = ph.neighbourhood
    if hood is None:
        return [*out, _md_missing(ph.missing["neighbourhood"]), ""]
    for label, refs, total in (("Builds on", hood.builds_on, hood.builds_on_total),
                               ("Came after", hood.came_after, hood.came_after_total)):
        more = f" (the {len(refs)} most cited of {total})" if total > len(refs) else ""
        out += [f"**{label}**{more}: " + ("; ".join(f"{md_literal(r.short)}, "
                                                     f"*{md_literal(r.title)}*" for r in refs)
                                           or "no catalog paper"), ""]
    return [*out, f"**Reading order**: {order_label(hood)}", ""]


def _md_results(ph: PaperHandout) -> list[str]:
    out = ["### Reproduction", ""]
    r = ph.results
    if r is None:
        return [*out, _md_missing(ph.missing["results"]), ""]
    out += [f"Run `{r.run_id}` of `{r.reproduction}` (preset `{r.preset}`, finished "
            f"{md_literal(r.finished or 'n/a')}): what the miniature showed, against controls "
            "and trivial baselines of the same run.", ""]
    if r.claims:
        out += ["| Claim | Compared with | This run | Verdict |", "|---|---|---|---|"]
        out += [f"| {_cell(c.text or c.claim)} | {_cell(c.compared_with) or '—'} | "
                f"{_cell(c.measured) or '—'} | {_cell(c.verdict)} |" for c in r.claims]
        out.append("")
    if r.paper_claims:
        out += ["What the paper reports at full scale (not measured by this run):", "",
                "| Claim | The paper | Would need |", "|---|---|---|"]
        out += [f"| {_cell(c.text or c.claim)} | {_cell(c.paper_value)} ({_cell(c.source)}) | "
                f"{_cell(c.needs) or '—'} |" for c in r.paper_claims]
    return [*out, ""]


def _md_questions(ph: PaperHandout) -> list[str]:
    """The discussion points by group, numbered on across the groups, each attributed."""
    out = ["### Questions for discussion", ""]
    k = 0
    for g in ph.questions:
        out += [f"**{g.heading}**", ""]
        for a in g.items:
            k += 1
            out.append(f"{k}. {_md_indent(a.text)} — *{md_literal(a.by)}*")
        out.append("")
    if not ph.questions:
        m = ph.missing
        out += [_md_missing(m.get("questions") or m.get("notes", "no notes")), ""]
    return out


def _cell(text: str) -> str:
    """Text in a table cell: one line, literal (`md_literal` escapes its '|')."""
    return md_literal(" ".join(str(text).split()))


def to_markdown(h: Handout, asset_dir: str = "figures") -> str:
    """The handout as Markdown; figures are referenced as `<asset_dir>/<file_name>`."""
    out: list[str] = []
    if h.session:
        out += [f"# {md_literal(h.title)}", "", "Paper-reading session · "
                f"{md_literal(h.date_label)} · prepared {h.prepared.isoformat()}", "",
                "| # | Paper | Presenters |", "|---|---|---|"]
        out += [f"| {i} | {_cell(ph.paper.title)} ({_cell(ph.paper.short)}) | "
                f"{_cell(', '.join(ph.presenters)) or '_to be assigned_'} |"
                for i, ph in enumerate(h.papers, 1)]
        out.append("")
    for i, ph in enumerate(h.papers, 1):
        out += ["---", ""] if h.session or i > 1 else []
        out += _md_paper(ph, i if h.session else None, asset_dir)
    return "\n".join(out).rstrip() + "\n"
# --- slides (Marp) ---------------------------------------------------------------------------------------

_FIG_BOX = (1080, 430)     # room for a figure below the slide title, above its caption
_SLIDE_CHARS = 900         # text per five-Cs slide (19 px type) before it continues


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


def _slide_paper(ph: PaperHandout, asset_dir: str) -> list[str]:
    p, m = ph.paper, ph.missing
    slides = []
    who = f"Presented by {_names(ph.presenters)}" if ph.presenters else \
        ("_No presenter assigned yet_" if "presenters" in m else "")
    slides.append("\n".join(["<!-- _class: lead -->", "", f"# {md_literal(p.title)}", "",
                             f"{md_literal(p.short)} · {md_literal(p.venue or 'unpublished')} · "
                             f"`{ph.cite_key}`", "",
                             who]).rstrip())
    # five Cs, split over slides when long
    blocks: list[str] = []
    if ph.readers:
        for c, answers in ph.five_cs:
            said = " · ".join(f"{safe_markdown(_clip('; '.join(split_items(a.text)), 170))} "
                              f"_({md_literal(a.by)})_"
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
        slides.append("\n".join(["<!-- _class: figure -->", "", f"## {md_literal(f.label)}",
                                 "",
                                 f"![w:{int(f.width * scale)}]({asset_dir}/{f.file_name})", "",
                                 md_literal(_clip(f.caption, 260))]))
    if not ph.figures:
        slides.append(f"## Key figures\n\n_Not available: {m['figures']}._")
    if ph.results is None:
        slides.append(f"## Reproduction\n\n_Not available: {m['results']}._")
    else:
        r = ph.results
        rows = [f"| {_cell(_clip(c.text or c.claim, 90))} | {_cell(_clip(c.compared_with, 50))} | "
                f"{_cell(_clip(c.measured, 60)) or '—'} | {_cell(c.verdict)} |"
                for c in r.claims[:6]]
        slides.append("\n".join([f"## Reproduction in miniature: run `{r.run_id}` ({r.preset})",
                                 "", "| Claim | Compared with | This run | Verdict |",
                                 "|---|---|---|---|", *rows]))
    items = [(g.heading, a) for g in ph.questions for a in g.items]
    if items:
        lines = [f"{i}. {safe_markdown(_clip(a.text, 150))} _({md_literal(a.by)})_"
                 for i, (_, a) in
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
        rows = [f"{i}. **{md_literal(ph.paper.title)}** ({md_literal(ph.paper.short)})"
                + (f" · {_names(ph.presenters)}" if ph.presenters else "")
                for i, ph in enumerate(h.papers, 1)]
        slides.append("\n".join(["<!-- _class: lead -->", "", f"# {md_literal(h.title)}", "",
                                 md_literal(h.date_label), "", *rows]))
    for ph in h.papers:
        slides += _slide_paper(ph, asset_dir)
    return "\n".join(front) + "\n\n---\n\n".join(slides) + "\n"


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
