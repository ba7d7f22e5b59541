"""App entrypoint: `workbench app` runs `streamlit run` on this file."""

from pathlib import Path

import streamlit as st

from workbench.app import PAGES as APP_PAGES
from workbench.app.common import (
    keep_paper_in_url,
    open_clicked_paper,
    page_asked_for,
    require_sign_in,
    unknown_page_message,
)

VIEWS = Path(__file__).parent / "views"

# shipped: a Material icon or emoji as page_icon makes the browser fetch the favicon from a
# font CDN (nothing offline); the toolbar's developer menu is off in .streamlit/config.toml
FAVICON = Path(__file__).parent / "static" / "favicon.png"
st.set_page_config(page_title="Paper workbench", page_icon=FAVICON, layout="wide")
require_sign_in()  # served to a class (`workbench app --auth`): no page before the login

PAGES = [st.Page(VIEWS / p.file, title=p.title, icon=p.icon, url_path=p.url_path,
                 default=p.default) for p in APP_PAGES]

default = next(p.url_path for p in APP_PAGES if p.default)
unknown = page_asked_for({p.url_path for p in APP_PAGES}, default)  # '/nope': said, no dialog
open_clicked_paper(PAGES[[p.default for p in APP_PAGES].index(True)], "paper")  # 1 run, not 2
page = st.navigation(PAGES)
if unknown:
    unknown_page_message(unknown)
keep_paper_in_url(page.url_path)  # the sidebar's links drop ?paper=
page.run()
