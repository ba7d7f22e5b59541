"""App entrypoint: `workbench app` runs `streamlit run` on this file."""

from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent

st.set_page_config(page_title="Paper workbench", page_icon="📄", layout="wide")

PAGES = [
    st.Page(HERE / "library.py", title="Library", icon="📚", url_path="library", default=True),
    st.Page(HERE / "paper.py", title="Paper", icon="📄", url_path="paper"),
]

st.navigation(PAGES).run()
