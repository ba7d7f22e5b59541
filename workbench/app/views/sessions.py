"""Sessions: plan a paper-reading session (title, date, papers in order, presenters) and export
its handout (Markdown, HTML, PDF), Marp slides and BibTeX.

Papers are found by exact text (a title, author or id containing what was typed), ordered in
place with up / down buttons, and the downloads are ready as soon as the session is saved
(made once per state of the workspace's notes, PDFs and runs, then cached)."""

import streamlit as st

from workbench import catalog as bibtex
from workbench import sessions
from workbench import sessions as handout
from workbench import sessions as handout_export
from workbench.app.common import flash, load_catalog, show_flash, workspace
from workbench.errors import WorkbenchError
from workbench.safetext import md_literal

NEW = ""  # the picker's entry for a new session
MAX_MATCHES = 8  # search results shown at once; more ask for a longer search
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
    if fid == "new":
        _reload("new")
        state.pop("slug:new", None)
    state["session_pick"] = slug
    flash("session_message", "success", f"Saved sessions/{slug}.yaml")


def _add(fid: str, pid: str) -> None:
    st.session_state[f"papers:{fid}"].append(pid)


def _move(fid: str, pid: str, step: int) -> None:
    """Move `pid` one place up (step -1) or down (+1) in the session, or remove it (0)."""
    papers = st.session_state[f"papers:{fid}"]
    i = papers.index(pid)
    if step == 0:
        del papers[i]
    elif 0 <= i + step < len(papers):
        papers[i], papers[i + step] = papers[i + step], papers[i]


def _inputs(ws, slug: str, papers) -> tuple:
    """(path, mtime, size) of each file the handout reads: the catalog, the session, the papers'
    notes, the PDFs and the runs. A change to any of them makes new downloads."""
    files = [ws.catalog_path, ws.sessions_dir / f"{slug}.yaml"]
    for folder, pattern in [(ws.notes_dir / pid, "*") for pid in papers] + \
            [(ws.pdfs_dir, "**/*"), (ws.runs_dir, "*/*")]:
        files += folder.glob(pattern) if folder.is_dir() else []
    stats = []
    for f in files:
        try:
            s = f.stat()
        except OSError:
            continue
        stats.append((str(f), s.st_mtime_ns, s.st_size))
    return tuple(sorted(stats))


@st.cache_data(show_spinner="Preparing the handout and slides…", max_entries=16)
def _exports(root: str, slug: str, inputs: tuple, _ws, _cat) -> tuple[dict, list[str]]:
    """Every download of a saved session and what its handout lacks (cached per `inputs`)."""
    h = handout.handout_for(_ws, slug, _cat)
    return handout_export.downloads(h), handout.missing_lines(h)


def _unsaved(current, title: str, when, papers: list[str], fid: str) -> bool:
    presenters = {p: st.session_state.get(f"presenters:{fid}:{p}", "") for p in papers}
    try:
        form = sessions.form_session(current.slug, title, when, papers, presenters, cat)
    except WorkbenchError:
        return True
    return (form.title, form.date, form.papers, dict(form.presenters)) != \
        (current.title, current.date, current.papers, dict(current.presenters))


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
                    format_func=lambda s: s or "+ New session")
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
papers = st.session_state.setdefault(f"papers:{fid}", list(current.papers) if current else [])
st.markdown("**Papers, in presentation order**")
if not papers:
    st.caption("No papers yet: find them below.")
for i, pid in enumerate(papers):
    paper = cat.by_id[pid]
    row = st.columns([12, 1, 1, 1], vertical_alignment="center")
    row[0].markdown(f"**{i + 1}.** {md_literal(paper.short)}: {md_literal(paper.title)}")
    for col, (name, icon, step, off) in zip(row[1:], [
            ("up", ":material/arrow_upward:", -1, i == 0),
            ("down", ":material/arrow_downward:", 1, i == len(papers) - 1),
            ("remove", ":material/close:", 0, False)], strict=True):
        col.button("", icon=icon, key=f"{name}:{fid}:{pid}", disabled=off, on_click=_move,
                   args=(fid, pid, step), help=f"{name.capitalize()}: {paper.short}",
                   type="tertiary")
    st.text_input(f"Presenters of {md_literal(paper.short)}, "
                  f"{md_literal(paper.title)}",  # a label is Markdown
                  value=", ".join(current.presenters_of(pid)) if current else "",
                  key=f"presenters:{fid}:{pid}", placeholder="Alice Martin, Bob Chen")
query = st.text_input("Add a paper: search titles, authors and ids", key=f"find:{fid}",
                      placeholder="e.g. Simonyan, residual, vit")
if query.strip():
    found = sessions.find_papers(cat, query, exclude=papers)
    if not found:
        st.caption(f"No paper outside the session has “{md_literal(' '.join(query.split())[:80])}”"
                   " in its title, authors or id.")
    for p in found[:MAX_MATCHES]:
        row = st.columns([12, 3], vertical_alignment="center")
        row[0].markdown(f"{md_literal(p.short)}: {md_literal(p.title)}")
        row[1].button("Add", icon=":material/add:", key=f"add:{fid}:{p.id}", on_click=_add,
                      args=(fid, p.id))
    if len(found) > MAX_MATCHES:
        st.caption(f"{len(found) - MAX_MATCHES} more match: type more of a title, an author "
                   "or an id.")
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
    if _unsaved(current, title, when, papers, fid):
        st.info("You have unsaved changes: the downloads are of the saved session. Save to "
                "include your changes.")
    try:
        files, missing = _exports(str(ws.root), pick, _inputs(ws, pick, current.papers),
                                  _ws=ws, _cat=cat)
    except WorkbenchError as exc:
        st.error(str(exc))
        files, missing = {}, []
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
