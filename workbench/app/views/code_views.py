"""The reproduction's code beside the paper (Paper page) or on its own (Reproduce page): the
module folded by section (blocks, Config, presets, data, step, claims), each section's paper
references ("Sec. 3.3", "Table 6", "Eq. 2") as buttons that turn the PDF viewer to their page,
and under the viewer the lines of code that cite the page shown.

Only display code: reading and locating is `workbench.runs.code`. The source is shown as text
(`st.code`), never run; without a PDF the references are plain text.
"""

from __future__ import annotations

import streamlit as st

from workbench import runs
from workbench.errors import WorkbenchError
from workbench.safetext import md_literal

SECTIONS = [  # block kind -> what the fold is called, in the order shown
    ("docstring", "Overview"), ("blocks", "Blocks (the network)"), ("Config", "Config"),
    ("presets", "Presets"), ("data", "Data"), ("step", "Training step and evaluation"),
    ("claims", "Claims"), ("other", "Other code"),
]
PDF_PAGE = "pdf_page"  # the Paper page viewer's page selector (pdf_views.page_viewer)


def load_code(ws, paper, structure) -> runs.PaperCode | None:
    """The paper's reproduction code with its references located in `structure` (None when
    the paper links to no module); a source that cannot be read is one error line."""
    try:
        return runs.paper_code(ws, paper, structure)
    except WorkbenchError as exc:
        st.error(str(exc))
        return None


def _jump(key: str, pages: dict[str, int]) -> None:
    picked = st.session_state.get(key)
    if picked in pages:
        st.session_state[PDF_PAGE] = pages[picked]


def _ref_buttons(code: runs.PaperCode, refs, key: str, navigate: bool) -> None:
    """The section's references into this paper: located ones as pills that set the viewer's
    page (on the Reproduce page: links to the Paper page at it), the others as text."""
    own = set(runs.own_refs(list(refs), code.paper.year, code.main))
    pages: dict[str, int] = {}
    missing: list[str] = []
    for ref in refs:
        if ref not in own:
            continue
        place = code.place_of(ref) if code.structure is not None else None
        if place is None:
            missing.append(f"{ref.text} (line {ref.line})")
            continue
        pages.setdefault(f"{ref.label} · p. {place.page}", place.page)
    if pages and navigate:
        for label, page in pages.items():
            st.page_link("views/paper.py", label=label, icon=":material/find_in_page:",
                         query_params={"paper": code.paper.id, "page": str(page)})
    elif pages:
        st.pills("Open in the PDF", list(pages), key=key, on_change=_jump, args=(key, pages),
                 label_visibility="collapsed")
    if missing:
        why = ("not found in the PDF" if code.structure is not None
               else "no PDF yet to locate them in")
        st.caption(md_literal(f"{why}: " + ", ".join(missing)))


def code_sections(code: runs.PaperCode, navigate: bool = False) -> None:
    """The module folded by section, each fold with its code and its paper references."""
    view = code.view
    st.caption(md_literal(f"reproductions/{view.path.name} · {len(view.lines)} lines · "
                          f"{len(runs.own_refs(view.refs, code.paper.year, code.main))} "
                          "references to this paper"))
    for kind, title in SECTIONS:
        blocks = [b for b in view.blocks if b.kind == kind]
        if not blocks:
            continue
        with st.expander(f"{title} ({len(blocks)})", expanded=kind == "blocks"):
            for n, block in enumerate(blocks):
                st.caption(md_literal(f"{block.name} · lines {block.start}–{block.end}"))
                st.code(view.text_of(block), language="python")
                _ref_buttons(code, block.refs, f"code_refs_{view.name}_{kind}_{n}", navigate)


def reproduction_code(ws, cat, name: str, paper=None) -> None:
    """The Reproduce page's Code fold for reproduction `name`: the catalog paper it serves (the
    page's paper if it is one of them), references as links to the Paper page at their page
    where the PDF was already read, else as text.

    The fold is filled only while it is open: folded, it parsed the module and drew its ~80
    code blocks and captions on every visit of the page (most of the Reproduce page's own
    time), for a reader who mostly never opens it."""
    from workbench import pdf

    served = [p for p in cat.papers if p.reproduction == name] if cat is not None else []
    if paper is None or paper not in served:
        paper = next((p for p in served if p.relation == "implements"), None) or (
            served[0] if served else None)
    if paper is None:
        return
    box = st.expander(f"Code: reproductions/{name}.py, with its references to "
                      f"{md_literal(paper.short)}", icon=":material/code:", key="repro_code",
                      on_change="rerun")
    if not box.open:
        return
    with box:
        code = load_code(ws, paper, pdf.cached_structure(ws, paper))
        if code is None:
            return
        st.page_link("views/paper.py", label="Read it beside the paper's PDF",
                     icon=":material/vertical_split:", query_params={"paper": paper.id})
        code_sections(code, navigate=True)


def what_changed(paper, cited: list) -> None:
    """For each cited paper whose reproduction this paper's module declares it changed
    (`LINEAGE`), the corresponding blocks side by side with what changed."""
    for earlier in cited:
        try:
            changes = runs.edge_changes(paper, earlier)
        except WorkbenchError as exc:
            st.error(str(exc))
            continue
        if not changes:
            continue
        with st.expander(f"What {md_literal(paper.short)} changed from "
                         f"{md_literal(earlier.short)}, in code ({len(changes)} "
                         f"block{'s' if len(changes) > 1 else ''})", icon=":material/compare:"):
            for change in changes:
                st.markdown(md_literal(change.what))
                before, after = st.columns(2)
                before.caption(md_literal(f"{earlier.reproduction}.py · {change.before.name}"))
                before.code(change.before_text, language="python")
                after.caption(md_literal(f"{paper.reproduction}.py · {change.after.name}"))
                after.code(change.after_text, language="python")


def citing_this_page(code: runs.PaperCode) -> None:
    """Under the PDF viewer: the lines of code that cite the page shown."""
    if code.structure is None:
        return
    page = int(st.session_state.get(PDF_PAGE, 1))
    here = [c for c in code.checked if c.place is not None and c.place.page == page]
    if not here:
        st.caption(f"No line of {code.view.path.name} cites page {page}.")
        return
    lines = code.view.lines
    st.markdown(f"**Code citing page {page}**")
    st.markdown("\n".join(
        f"- `{code.view.path.name}:{c.ref.line}` {md_literal(c.ref.text)} · "
        f"{md_literal(c.place.what[:60])}: {md_literal(lines[c.ref.line - 1].strip()[:90])}"
        for c in here))
