"""App entrypoint: `workbench app` runs `streamlit run` on this file."""

from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent

st.set_page_config(page_title="Paper workbench", page_icon="📄", layout="wide")

PAGES = [
    st.Page(HERE / "library.py", title="Library", icon="📚", url_path="library", default=True),
    st.Page(HERE / "paper.py", title="Paper", icon="📄", url_path="paper"),
    st.Page(HERE / "read.py", title="Read", icon="📖", url_path="read"),
    st.Page(HERE / "group.py", title="Group", icon="👥", url_path="group"),
    st.Page(HERE / "reproduce.py", title="Reproduce", icon="🧪", url_path="reproduce"),
    st.Page(HERE / "graph.py", title="Graph", icon="🕸️", url_path="graph"),
    st.Page(HERE / "add.py", title="Add paper", icon="➕", url_path="add"),
    st.Page(HERE / "sessions.py", title="Sessions", icon="🗓️", url_path="sessions"),
]

st.navigation(PAGES).run()
