"""PDF views for the Paper and Read pages: the page viewer (with upload and arXiv download when
there is no PDF yet) and the pass-1 / pass-2 material extracted from the PDF.

Only display code: finding, checking and extracting PDFs is `workbench.pdf.document`, fetching and
uploading them `workbench.pdf.files`, the material per pass is `workbench.notes.material`. Every failure is one `st.error` /
`st.warning` line; offline, the download button says so and the page keeps working.
"""

from __future__ import annotations

import streamlit as st

from workbench import pdf
from workbench import pdf as pdf_files
from workbench.app.common import flash, paper_page_link, show_flash
from workbench.errors import WorkbenchError
from workbench.notes import read_paper_ids, reading_material
from workbench.safetext import md_literal


def _save_upload(ws, paper_id: str) -> None:
    uploaded = st.session_state.get("pdf_upload")
    if uploaded is None:
        return
    try:
        path = pdf_files.save_upload(uploaded.getvalue(), ws, paper_id)
        flash("pdf_message", "success", f"Saved {path.name} in pdfs/.")
    except pdf.PdfError as exc:
        flash("pdf_message", "error", str(exc))


def _download(ws, arxiv_id: str) -> None:
    try:
        path = pdf_files.download_arxiv_pdf(arxiv_id, ws.pdfs_dir)
        flash("pdf_message", "success", f"Downloaded {path.name} from arXiv.")
    except pdf.ArxivOffline as exc:
        flash("pdf_message", "warning", str(exc))
    except WorkbenchError as exc:  # a refused download, or a malformed WORKBENCH_* setting
        flash("pdf_message", "error", str(exc))


def _show_message() -> None:
    show_flash("pdf_message")


def _structure(ws, path):
    """The cached extraction of `path`. A scanned paper's first extraction reads its pages by
    OCR (seconds a page): a progress bar shows it, and the structure's notes (pages read by
    OCR, or how to read pages without text) are shown above the pages."""
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        text = f"Reading {total} page(s) without a text layer by OCR: {done} of {total}"
        if bar is None:
            bar = st.progress(0.0, text=text)
        bar.progress(done / max(total, 1), text=text)

    structure = pdf.extract(path, cache_dir=pdf.pdf_cache_dir(ws), progress=progress)
    if bar is not None:
        bar.empty()
    for note in structure.notes:
        st.info(md_literal(note), icon=":material/document_scanner:")
    return structure


def page_viewer(ws, paper):
    """Rendered pages of the paper's PDF with a page selector (key="pdf_page"); without a PDF,
    an upload widget (key="pdf_upload") and, for arXiv papers, a download button. Returns the
    PDF's structure, or None without a readable PDF."""
    st.subheader("PDF")
    _show_message()
    try:
        path = pdf.pdf_for_paper(ws, paper)
        structure = _structure(ws, path) if path else None
    except pdf.PdfError as exc:
        st.error(str(exc))
        return None
    if structure is None:
        st.caption("No PDF for this paper yet. Upload it, or fetch it from arXiv.")
        st.file_uploader(f"Upload the PDF (up to {pdf.MAX_BYTES // 2**20} MB)", type=["pdf"],
                         key="pdf_upload", on_change=_save_upload, args=(ws, paper.id))
        if paper.arxiv:
            st.button(f"Download arXiv:{paper.arxiv}", key="pdf_download", on_click=_download,
                      args=(ws, paper.arxiv))
        return None
    _pages(ws, path, structure.page_count, key="pdf_page")
    return structure


def read_page_viewer(ws, paper) -> None:
    """The Read page's PDF, beside the notes: rendered pages with their own page selector
    (key="read_pdf_page", apart from the Paper page's); without a readable PDF, a link to the
    Paper page, where it is uploaded or fetched (`reading_views` says why in one line)."""
    label = "The PDF cannot be shown: replace it on the Paper page"
    try:
        path = pdf.pdf_for_paper(ws, paper)
        if path is None:
            label = "No PDF yet: add it on the Paper page to read it here"
        structure = _structure(ws, path) if path else None
    except pdf.PdfError:
        structure = None
    if structure is None:
        st.page_link("views/paper.py", label=label, icon=":material/upload_file:",
                     query_params={"paper": paper.id})
        return
    _pages(ws, path, structure.page_count, key="read_pdf_page")


def _pages(ws, path, n: int, key: str) -> None:
    """Page `st.session_state[key]` of the PDF at `path` (`n` pages), with its selector."""
    if not 1 <= st.session_state.get(key, 1) <= n:  # kept from a longer paper
        st.session_state[key] = 1
    number = st.number_input(f"Page (1–{n})", min_value=1, max_value=n, value=1, step=1, key=key)
    try:
        png = pdf.render_page(path, int(number), cache_dir=pdf.pdf_cache_dir(ws))
    except pdf.PdfError as exc:
        st.error(str(exc))
        return
    st.image(png, caption=f"{path.name}: page {number} of {n}")


def reading_views(ws, paper, catalog, reader: str, pass_number: int) -> None:
    """The PDF material for the Read page: pass 1 the outline, introduction and conclusion;
    passes 2 and 3 the figure gallery and the reference list linked to the catalog."""
    try:
        material = reading_material(ws, paper, catalog, read_paper_ids(ws, reader))
    except pdf.PdfError as exc:
        st.error(str(exc))
        return
    if material.problem:
        st.info(material.problem)
        return
    if pass_number == 1:
        p1 = material.pass1
        with st.expander("Outline (from the PDF)", expanded=True):
            st.markdown("\n".join(f"{'    ' * (level - 1)}- {md_literal(title)}"
                                  for level, title in p1.headings)
                        or "_No headings found._")
        # PDF text is shown as typed: `![t](http://host/x)` in it must not load anything
        heading = f" ({md_literal(p1.conclusion_heading)})" if p1.conclusion_heading else ""
        with st.expander("Introduction"):
            st.markdown(md_literal(p1.introduction) if p1.introduction
                        else "_Not found in the PDF._")
        with st.expander(f"Conclusion{heading}"):
            st.markdown(md_literal(p1.conclusion) if p1.conclusion
                        else "_This paper has no conclusion section._")
        return
    p2 = material.pass2
    with st.expander(f"Figures and tables ({len(p2.figures)})", expanded=True):
        _figure_gallery(p2.figures)
    with st.expander(f"References ({len(p2.references)})", expanded=True):
        unread = [r for r in p2.read_next if r.paper_id][:5]
        if unread:
            st.markdown("**Read next:**")
            for r in unread:
                paper_page_link(catalog.by_id[r.paper_id], icon=":material/arrow_forward:")
            st.divider()
        _reference_list(p2.references)
        st.caption(":material/check_circle: read (pass 1 done) · :material/description: in the "
                   "catalog, not read yet: opens its Paper page here")


def _step_figure(step: int, count: int) -> None:
    st.session_state["read_figure"] = (st.session_state.get("read_figure", 0) + step) % count


def _figure_gallery(figures) -> None:
    """One figure or table at a time (a paper's dozen stacked make a page of 12,000 px): a
    selector (key="read_figure"), Previous and Next under it, then the crop with its caption."""
    if not figures:
        st.caption("No figure or table captions found in the PDF.")
        return
    n = len(figures)
    if st.session_state.get("read_figure", 0) not in range(n):  # kept from another paper
        st.session_state["read_figure"] = 0
    index = st.selectbox(
        "Figure", range(n), key="read_figure", label_visibility="collapsed",
        format_func=lambda i: f"{figures[i].label} ({i + 1} of {n}, page {figures[i].page})")
    back, forward = st.columns(2)
    back.button("Previous", key="read_figure_prev", icon=":material/chevron_left:",
                on_click=_step_figure, args=(-1, n), disabled=n == 1, width="stretch")
    forward.button("Next", key="read_figure_next", icon=":material/chevron_right:",
                   on_click=_step_figure, args=(1, n), disabled=n == 1, width="stretch")
    fig = figures[index]
    caption = md_literal(fig.caption[:400])  # captions are Markdown: PDF text shown as typed
    if fig.png:
        st.image(fig.png, caption=caption)
    else:
        st.caption(f"{caption} (page {fig.page}; no drawing found beside the caption)")


def _reference_list(references) -> None:
    """The PDF's references in order: those in the catalog as same-tab links to their Paper
    page, the others as text (runs of them in one Markdown block)."""
    lines: list[str] = []
    for item in references:
        ref = item.reference
        text = md_literal(ref.raw if len(ref.raw) < 300 else ref.raw[:300] + "…")
        if not item.paper_id:
            lines.append(f"- {text}")
            continue
        if lines:
            st.markdown("\n".join(lines))
            lines = []
        icon = ":material/check_circle:" if item.read else ":material/description:"
        st.page_link("views/paper.py", label=text, icon=icon,
                     query_params={"paper": item.paper_id})
    if lines:
        st.markdown("\n".join(lines))
