"""Sessions: plan a paper-reading session (title, date, papers in order, presenters) and export
its handout (Markdown, HTML, PDF), Marp slides and BibTeX."""

import streamlit as st

from workbench import catalog as bibtex
from workbench import sessions
from workbench import sessions as handout
from workbench import sessions as handout_export
from workbench.app.common import flash, load_catalog, show_flash, workspace
from workbench.errors import WorkbenchError
from workbench.safetext import md_literal

NEW = ""  # the picker's entry for a new session
LABELS = {"pdf": "PDF handout", "html": "HTML handout", "md": "Markdown (zip)",
          "slides": "Marp slides (zip)"}


def _reload(fid: str) -> None:
    """Forget the form and the version it was opened at: the next run reads the file again."""
    form = {f"{name}:{fid}" for name in ("title", "date", "papers", "version")}
    for key in [k for k in st.session_state
                if k in form or str(k).startswith(f"presenters:{fid}:")]:
        del st.session_state[key]


def _save(ws, cat, fid: str) -> None:
    """Save the form (a button callback, so the picker can move to the saved session)."""
    state = st.session_state
    papers = state.get(f"papers:{fid}", [])
    title, when = state.get(f"title:{fid}", ""), state.get(f"date:{fid}")
    slug = fid if fid != "new" else (state.get("slug:new") or "").strip() or \
        sessions.suggest_slug(title, when)
    try:
        s = sessions.form_session(slug, title, when, papers,
                                  {p: state.get(f"presenters:{fid}:{p}", "") for p in papers}, cat)
        state[f"version:{slug}"] = sessions.save_session(ws, s, state.get(f"version:{fid}"), cat)
    except WorkbenchError as exc:
        flash("session_message", "error", str(exc))
        return
    state.pop(f"exports:{slug}", None)
    if fid == "new":
        _reload("new")
        state.pop("slug:new", None)
    state["session_pick"] = slug
    flash("session_message", "success", f"Saved sessions/{slug}.yaml")


st.title("Sessions")
cat = load_catalog()
if cat is None:
    st.stop()
ws = workspace()
slugs = sessions.list_sessions(ws)
if st.session_state.get("session_pick") not in [NEW, *slugs]:  # first run: ?session=NAME
    wanted = st.query_params.get("session")
    st.session_state["session_pick"] = wanted if wanted in slugs else NEW
    if wanted and wanted not in slugs:  # a stale link: say so, not a silent empty form
        st.warning(f"No session “{md_literal(wanted[:80])}” in sessions/ (renamed or deleted?). "
                   + ("Pick one below, or plan a new one." if slugs else "Plan a new one below."))
pick = st.selectbox("Session", [NEW, *slugs], key="session_pick",
                    format_func=lambda s: s or "➕ New session")
current, fid = None, pick or "new"
if pick:
    st.query_params["session"] = pick
    try:
        current, version = sessions.load_session(ws, pick, cat)
    except WorkbenchError as exc:
        st.error(f"{exc} Fix the file by hand, then reload.")
        st.stop()
    st.session_state.setdefault(f"version:{fid}", version)

show_flash("session_message")
ids = [p.id for p in cat.papers]
title = st.text_input("Title", value=current.title if current else "", key=f"title:{fid}")
when = st.date_input("Date", value=current.date if current else None, key=f"date:{fid}")
papers = st.multiselect(
    "Papers, in presentation order", ids, default=list(current.papers) if current else [],
    key=f"papers:{fid}", format_func=lambda i: f"{cat.by_id[i].short}: {cat.by_id[i].title}",
    help="The order you pick them in is the order of the session; remove a paper and add it "
         "again to move it to the end.")
for pid in papers:
    st.text_input(f"Presenters of {md_literal(cat.by_id[pid].short)}, "
                  f"{md_literal(cat.by_id[pid].title)}",  # a label is Markdown
                  value=", ".join(current.presenters_of(pid)) if current else "",
                  key=f"presenters:{fid}:{pid}", placeholder="Alice Martin, Bob Chen")
if not pick:
    st.text_input("File name (sessions/NAME.yaml)", key="slug:new",
                  placeholder=sessions.suggest_slug(title or "session", when))
left, right = st.columns([1, 4])
left.button("Save session", key=f"save:{fid}", type="primary", on_click=_save,
            args=(ws, cat, fid))
if current is not None:
    right.button("Reload from disk", key=f"reload:{fid}", on_click=_reload, args=(fid,),
                 help="Discard the changes here and read the file again (after a hand edit)")

if current is not None:
    st.subheader("Export")
    st.caption("Exports are made from the saved session, the group's notes, the PDFs in "
               "pdfs/ and the latest finished reproduction runs.")
    if st.button("Prepare handout and slides", key=f"prepare:{pick}"):
        with st.spinner("Extracting figures and laying out the PDF…"):
            try:
                h = handout.handout_for(ws, pick, cat)
                st.session_state[f"exports:{pick}"] = (handout_export.downloads(h),
                                                       handout.missing_lines(h))
            except WorkbenchError as exc:
                st.error(str(exc))
    files, missing = st.session_state.get(f"exports:{pick}", ({}, []))
    cols = st.columns(5)
    for col, (fmt, (name, data, mime)) in zip(cols, files.items(), strict=False):
        col.download_button(LABELS[fmt], data, file_name=name, mime=mime,
                            key=f"download_{fmt}:{pick}")
    cols[4].download_button("BibTeX", bibtex.export_bibtex(cat, current.papers),
                            file_name=f"{pick}.bib", mime="application/x-bibtex",
                            key=f"download_bib:{pick}")
    if missing:
        st.warning("The handout says what is missing:\n\n"
                   + "\n".join(f"- {line}" for line in missing))
