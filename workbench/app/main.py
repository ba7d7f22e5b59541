"""App entrypoint: `workbench app` runs `streamlit run` on this file."""

from pathlib import Path

import streamlit as st

from workbench.app.common import require_sign_in

HERE = Path(__file__).parent

# Material icons ship with Streamlit; emoji need a system font that headless machines lack.
st.set_page_config(page_title="Paper workbench", page_icon=":material/menu_book:", layout="wide")
require_sign_in()  # served to a class (`workbench app --auth`): no page before the login

PAGES = [
    st.Page(HERE / "library.py", title="Library", icon=":material/library_books:", url_path="library", default=True),
    st.Page(HERE / "paper.py", title="Paper", icon=":material/description:", url_path="paper"),
    st.Page(HERE / "read.py", title="Read", icon=":material/menu_book:", url_path="read"),
    st.Page(HERE / "group.py", title="Group", icon=":material/groups:", url_path="group"),
    st.Page(HERE / "reproduce.py", title="Reproduce", icon=":material/science:", url_path="reproduce"),
    st.Page(HERE / "graph.py", title="Graph", icon=":material/hub:", url_path="graph"),
    st.Page(HERE / "add.py", title="Add paper", icon=":material/add_circle:", url_path="add"),
    st.Page(HERE / "sessions.py", title="Sessions", icon=":material/event:", url_path="sessions"),
]

st.navigation(PAGES).run()
