"""App entrypoint: `workbench app` runs `streamlit run` on this file."""

from pathlib import Path

import streamlit as st

from workbench.app import PAGES as APP_PAGES
from workbench.app.common import require_sign_in

VIEWS = Path(__file__).parent / "views"

# Material icons ship with Streamlit; emoji need a system font that headless machines lack.
st.set_page_config(page_title="Paper workbench", page_icon=":material/menu_book:", layout="wide")
require_sign_in()  # served to a class (`workbench app --auth`): no page before the login

PAGES = [st.Page(VIEWS / p.file, title=p.title, icon=p.icon, url_path=p.url_path,
                 default=p.default) for p in APP_PAGES]

st.navigation(PAGES).run()
