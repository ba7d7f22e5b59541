"""Helpers shared by the pages: the workspace, the cached catalog, error boxes."""

from __future__ import annotations

import os

import streamlit as st

from workbench import catalog as catalog_mod
from workbench.catalog_model import Catalog
from workbench.workspace import Workspace


def workspace() -> Workspace:
    return Workspace.resolve(os.environ.get("WORKBENCH_WORKSPACE"))


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


def paper_link(paper_id: str) -> str:
    return f"/paper?paper={paper_id}"


def selected_paper(cat: Catalog, key: str = "paper_select"):
    """The paper chosen by `?paper=` or a selectbox; keeps the URL in sync for deep links."""
    ids = [p.id for p in cat.papers]
    asked = st.query_params.get("paper")
    # the sidebar navigation drops ?paper=: fall back to the paper chosen on the last page
    wanted = asked or st.session_state.get("current_paper")
    index = ids.index(wanted) if wanted in ids else 0
    if asked and asked not in ids:
        st.warning(f"No paper with id '{asked}' in the catalog; showing the first one.")
    pid = st.selectbox(
        "Paper", ids, index=index, key=key,
        format_func=lambda i: f"{cat.by_id[i].title} ({cat.by_id[i].short})",
    )
    st.session_state["current_paper"] = pid
    if st.query_params.get("paper") != pid:
        st.query_params["paper"] = pid
    return cat.by_id[pid]
