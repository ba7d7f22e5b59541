"""The `workbench app` process: Streamlit's own command line, after starting the first pages'
imports in a background thread.

Streamlit runs the app's script only when a browser connects; the Library's first run used to
import pandas (for its tables) and the workbench's reading code then, while the reader waited.
Here those imports run while the server starts and the browser loads Streamlit's page, so the
first run finds them made. An import that fails here is left for the page to say.

Streamlit itself is imported first, in this thread: it sets up plotly's theme at import, and
plotly loads its submodules lazily on attribute access, which a second thread importing plotly
at the same time can see half made. The warmed modules are plain imports, which Python's
per-module import locks make safe when the first script run asks for one still being made.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading

# the Library first (the default page), then what the Paper and Graph pages add
WARM = (
    "pandas", "pyarrow", "workbench.app.common", "workbench.app.views.reading",
    "workbench.catalog", "workbench.notes",
    "workbench.app.views.code_views", "workbench.app.views.pdf_views", "workbench.runs",
    "workbench.graph", "workbench.sessions",
)


def warm(names: tuple[str, ...] = WARM) -> None:
    for name in names:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def main() -> int:
    from streamlit.web import cli

    threading.Thread(target=warm, name="warm-imports", daemon=True).start()
    return cli.main(prog_name="streamlit")  # as `python -m streamlit` calls it


if __name__ == "__main__":
    sys.exit(main())
