"""The `workbench app` process: Streamlit's command line, with the first pages' imports and
first-call work done in a background thread once the server listens.

Streamlit runs the app's script only when a browser connects; the Library's first run used to
import pandas (for its tables) and the workbench's reading code then, while the reader waited.
Here that work runs while the browser loads Streamlit's page (Chromium's own work, on another
core), so the first run finds it done. It starts only once the server listens: begun with the
server, its imports held the interpreter's lock while Streamlit started, and the port opened
~0.6 s of CPU later than a bare Streamlit's. A step that fails here is left for the page to
say.

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

# the Library first (the default page), then what the Paper and Graph pages add; PIL and
# mimetypes: the favicon of `st.set_page_config`, on every page's first run
WARM = (
    "pandas", "pyarrow", "PIL.Image", "workbench.app.common", "workbench.app.views.reading",
    "workbench.catalog", "workbench.notes",
    "workbench.app.views.code_views", "workbench.app.views.pdf_views", "workbench.runs",
    "workbench.graph", "workbench.sessions",
)


def asked_once_per_process() -> None:
    """Streamlit's first element in a process asks whether it runs in a REPL: `inspect.stack()`,
    which resolves the file of every loaded module (~2,000 once pandas is in), 0.1 s of the
    first page's CPU. Asked here first, with few modules loaded, the first page skips it."""
    from streamlit import delta_generator

    getattr(delta_generator, "_maybe_print_use_warning", lambda: None)()


def first_calls() -> None:
    """The first page run's work besides imports that this process keeps."""
    import mimetypes

    from workbench import catalog
    from workbench.app.common import workspace

    mimetypes.guess_extension("image/png")  # reads the system's MIME tables: the favicon's URL
    catalog.check(workspace().catalog_path)  # parsed (or read from the user cache) once


def warm(names: tuple[str, ...] = WARM) -> None:
    for step in (asked_once_per_process, *(lambda n=n: importlib.import_module(n)
                                           for n in names), first_calls):
        with contextlib.suppress(Exception):
            step()


def warm_once_listening() -> None:
    """Start `warm` when Streamlit's server has opened its port (at once where Streamlit's
    server class is not where this expects it)."""
    def start() -> None:
        threading.Thread(target=warm, name="warm-imports", daemon=True).start()

    try:
        from streamlit.web.server.server import Server
    except ImportError:
        start()
        return
    opened = Server.start

    async def start_then_warm(self, *args, **kwargs):
        await opened(self, *args, **kwargs)
        start()

    Server.start = start_then_warm


def main() -> int:
    from streamlit.web import cli

    warm_once_listening()
    return cli.main(prog_name="streamlit")  # as `python -m streamlit` calls it


if __name__ == "__main__":
    sys.exit(main())
