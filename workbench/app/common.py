"""Helpers shared by the pages: the workspace, the cached catalog, error boxes, and navigation
(same-tab paper links, the paper kept across pages, a clear message for an unknown URL)."""

from __future__ import annotations

import os

import streamlit as st

from workbench import catalog as catalog_mod
from workbench.app import serving
from workbench.catalog import Catalog
from workbench.errors import WorkbenchError
from workbench.safetext import md_literal
from workbench.workspace import Workspace


def workspace() -> Workspace:
    return Workspace.resolve(os.environ.get("WORKBENCH_WORKSPACE"))


# --- sign-in (`workbench app --auth`; see workbench/serving.py) -------------------------------


def sign_in_on() -> bool:
    return bool(os.environ.get(serving.AUTH_ENV))


def signed_in_reader() -> str | None:
    """The signed-in visitor's reader slug; None when sign-in is off (the reader box decides).

    Raises `WorkbenchError` when the identity gives no reader; `require_sign_in` (main.py, before
    any page) shows it and stops, so pages never see that.
    """
    if not sign_in_on():
        return None
    user = st.user.to_dict()
    if user.get("is_logged_in") is not True:
        raise WorkbenchError("not signed in")
    return serving.reader_from_identity(user)


def require_sign_in() -> None:
    """With sign-in on, a visitor who is not signed in sees the login button and nothing else."""
    if not sign_in_on():
        return
    if st.user.to_dict().get("is_logged_in") is not True:
        st.title("Paper workbench")
        st.write("Sign in with your university account to read, take notes and follow runs.")
        st.button("Log in", key="login", type="primary", on_click=st.login)
        st.stop()
    try:
        reader = signed_in_reader()
    except WorkbenchError as exc:
        st.error(f"Signed in, but {exc}")
        st.button("Log out", key="logout", on_click=st.logout)
        st.stop()
    st.sidebar.caption(f"Signed in as **{reader}**; your notes are notes/<paper>/{reader}.md")
    st.sidebar.button("Log out", key="logout", on_click=st.logout)


def may_run() -> bool:
    """Whether this visitor may launch, cancel or resume runs: anyone on a loopback app (one
    user); with sign-in, the readers in $WORKBENCH_RUNNERS (default: the workspace owner)."""
    reader = signed_in_reader()
    if reader is None:
        return True
    try:
        return reader in serving.runners()
    except WorkbenchError:  # the CLI checked the list at start; if it changed since, refuse
        return False


def run_permission_note() -> str:
    try:
        who = ", ".join(sorted(serving.runners()))
    except WorkbenchError as exc:
        who = f"nobody ({exc})"
    return f"On this server only {who} may start, cancel or resume runs; you can follow them."


@st.cache_data(show_spinner=False)
def _check_cached(path: str, mtime_ns: int, size: int):
    cat, problems = catalog_mod.check(path)
    return cat, problems


def load_catalog() -> Catalog | None:
    """The validated catalog, or None after showing every problem in an error box."""
    path = workspace().catalog_path
    try:
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = (0, 0)
    cat, problems = _check_cached(str(path), *key)
    if cat is None:
        st.error(
            f"**{path.name} has {sum(p.severity == 'error' for p in problems)} problem(s).** "
            "Fix them in the file (or run `workbench check`), then reload.\n\n"
            + "\n".join(f"- `{p}`" for p in problems if p.severity == "error")
        )
        return None
    return cat


# --- navigation --------------------------------------------------------------------------------

PAPER_PAGES = {"paper", "read", "group", "reproduce", "graph"}  # the pages that show one paper


def paper_page_link(paper, icon: str | None = None, where=st) -> None:
    """A link to `paper`'s Paper page in the same tab (a Markdown link or a LinkColumn opens a
    new tab: a new session that forgets the reader and the form): its title, shown as typed,
    with its authors and year on hover."""
    where.page_link("views/paper.py", label=md_literal(paper.title), icon=icon,
                    help=md_literal(f"{paper.short}, {paper.year}"),
                    query_params={"paper": paper.id})


LINKS_SHOWN = 8  # a list of paper links longer than this keeps the rest in a closed expander


def paper_link_list(papers, key: str, more: str, shown: int = LINKS_SHOWN) -> None:
    """Same-tab links to `papers`' Paper pages: the first `shown`, then the rest in an expander
    whose links are drawn only once it is opened (ResNet is cited by 40 catalog papers: 40
    links drawn on every visit were most of the Paper page's time in the browser)."""
    for paper in papers[:shown]:
        paper_page_link(paper)
    rest = papers[shown:]
    if rest:
        box = st.expander(f"{len(rest)} more {more}", key=key, on_change="rerun")
        if box.open:
            with box:
                for paper in rest:
                    paper_page_link(paper)


def keep_paper_in_url(url_path: str) -> None:
    """The sidebar's links carry no query string: on a page about one paper, put back the paper
    chosen on the last page (`selected_paper` keeps it), so every page opens on it."""
    current = st.session_state.get("current_paper")
    if url_path in PAPER_PAGES and current and "paper" not in st.query_params:
        st.query_params["paper"] = current


LIBRARY_TABLE, LIBRARY_IDS = "library_table", "library_ids"  # the Library's table, its rows


def clicked_in_library() -> str | None:
    """The paper whose title cell in the Library's table was just clicked (the rows the last
    Library run showed), if any. A cell click, not a LinkColumn: a link opens a new tab (a new
    session, the reader forgotten)."""
    state = st.session_state.get(LIBRARY_TABLE)
    cells = state["selection"]["cells"] if state and "selection" in state else []
    shown = st.session_state.get(LIBRARY_IDS, [])
    return next((shown[row] for row, column in cells
                 if column == "title" and 0 <= row < len(shown)), None)


def open_clicked_paper(library, paper_url_path: str) -> bool:
    """Whether this run, the Library's rerun for a click on a title, was made the clicked
    paper's Paper page (`paper_url_path`) before `st.navigation` resolves the page.

    A click reruns the script for the Library; `st.switch_page` from there took two script
    runs (the Library's, stopped, then the Paper page's) and the browser two new sessions:
    about 0.3 s more than a link to the page. Reads and sets Streamlit's page request, as
    `page_asked_for` does; where that is not there, the Library switches page itself."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    opened = clicked_in_library()
    manager = getattr(get_script_run_ctx(), "pages_manager", None)
    if opened is None or not hasattr(manager, "set_script_intent"):
        return False
    asked = getattr(manager, "intended_page_script_hash", None)
    if asked and asked != getattr(library, "_script_hash", asked):
        return False  # another page was asked for since (a sidebar link): that one opens
    del st.session_state[LIBRARY_TABLE]  # back on the Library, the click is not made again
    st.query_params.from_dict({"paper": opened})  # what switch_page(query_params=) leaves
    manager.set_script_intent("", paper_url_path)
    return True


def page_asked_for(known: set[str], default: str) -> str | None:
    """The page name in the URL when it names no page ('/nope'), else None; and '/<default>'
    (the Library is served at '/', so Streamlit knows no '/library') is made to open it.

    Streamlit answers an unknown name with a "Page not found" dialog over the default page. This
    clears the request before `st.navigation` resolves it, so the default page opens without
    the dialog and the page says in words what happened. Reads Streamlit's page request (no public
    API gives it); when that is not there, Streamlit's own dialog is shown as before."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    manager = getattr(get_script_run_ctx(), "pages_manager", None)
    name = getattr(manager, "intended_page_name", None)
    if not name or name in known - {default} or not hasattr(manager, "set_script_intent"):
        return None
    manager.set_script_intent("", "")  # "": the default page
    return None if name == default else name


def unknown_page_message(name: str) -> None:
    st.warning(f"There is no page “/{md_literal(name[:80])}” in the workbench, so this is the "
               "Library. The pages are listed in the sidebar.")


def selected_paper(cat: Catalog, key: str = "paper_select"):
    """The paper chosen by `?paper=` or a selectbox; keeps the URL in sync for deep links."""
    ids = [p.id for p in cat.papers]
    asked = st.query_params.get("paper")
    if asked and asked not in ids:
        st.warning(f"No paper with id '{md_literal(asked[:80])}' in the catalog; showing the "
                   "first one.")
    # the box keeps its value while this page is shown, so a link from this page to another
    # paper (a new ?paper=) must move it; the sidebar's links drop ?paper=, so the paper chosen
    # on the last page is the fallback
    wanted = asked or st.session_state.get("current_paper")
    moved = asked in ids and asked != st.session_state.get("paper_in_url")
    if moved or st.session_state.get(key) not in ids:
        st.session_state[key] = wanted if wanted in ids else ids[0]
    pid = st.selectbox(
        "Paper", ids, key=key,
        format_func=lambda i: f"{cat.by_id[i].title} ({cat.by_id[i].short})",
    )
    st.session_state["current_paper"] = st.session_state["paper_in_url"] = pid
    if moved or st.query_params.get("paper") != pid:  # after a link, the browser's address
        st.query_params["paper"] = pid                # bar needs telling too
    return cat.by_id[pid]


def flash(key: str, kind: str, text: str) -> None:
    """Keep a message (`kind`: success / warning / error / info / toast) to show once, on the
    next run, where `show_flash(key)` is called: actions run in callbacks, before the page is
    drawn."""
    st.session_state[key] = (kind, text)


def show_flash(key: str) -> None:
    """The message `flash` kept under `key`, once. Shown as literal text: messages quote file
    names and catalog values, which must not render as Markdown or links. A "toast" pops up
    where the reader is looking (a box at the top of a long page is off-screen)."""
    kind, text = st.session_state.pop(key, (None, None))
    if kind == "toast":
        st.toast(md_literal(text), icon=":material/check_circle:")
    elif kind in ("success", "warning", "error", "info"):
        getattr(st, kind)(md_literal(text))
