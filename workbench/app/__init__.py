"""The Streamlit app: `main.py` (the entrypoint), `common.py` (what every page shares), one
module per page in `views/`, and `serving.py` (who may use an app served beyond this machine).

Importing this package imports no Streamlit: `PAGES` is plain data that `main.py` turns into
`st.Page`s, and that tests read to open every page; `serving` is what the CLI's `app` command
checks before it starts Streamlit (`from workbench.app import serving`; not imported here, so
that `workbench.app.launch` starts Streamlit's server without the reading code it needs).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    file: str        # in views/
    title: str
    icon: str        # a Material icon (ships with Streamlit; emoji need a system font)
    url_path: str
    default: bool = False


PAGES = (
    PageSpec("library.py", "Library", ":material/library_books:", "library", default=True),
    PageSpec("paper.py", "Paper", ":material/description:", "paper"),
    PageSpec("read.py", "Read", ":material/menu_book:", "read"),
    PageSpec("group.py", "Group", ":material/groups:", "group"),
    PageSpec("reproduce.py", "Reproduce", ":material/science:", "reproduce"),
    PageSpec("graph.py", "Graph", ":material/hub:", "graph"),
    PageSpec("add.py", "Add paper", ":material/add_circle:", "add"),
    PageSpec("sessions.py", "Sessions", ":material/event:", "sessions"),
)


def __getattr__(name: str):
    """`serving` on first use (PEP 562): `workbench.app.launch` never loads it before the port."""
    if name == "serving":
        import importlib

        return importlib.import_module("workbench.app.serving")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PAGES", "PageSpec", "serving"]
